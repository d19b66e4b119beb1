"""The patch scenarios played to their end by a minimal patch run (the engine's order):
each host ends as its scenario's ``expect`` says, and what the console would read back
(running build, pending reboot, KB listed, VMs in their prior state) proves it."""

from __future__ import annotations

import pytest
from patch_support import patch_run

from hvconsole.sim import cli
from hvconsole.sim.scenarios.freeze import SCENARIOS
from hvconsole.sim.scenarios.patch import PACKAGE_PATH, PATCH_SCENARIOS

STOP_AT = {"install-failed": "install", "not-applicable": "install", "no-return": "reboot", "hash-mismatch": "stage"}


@pytest.mark.parametrize("name", sorted(PATCH_SCENARIOS))
def test_each_scenario_ends_as_expected(name: str) -> None:
    scenario = PATCH_SCENARIOS[name]
    site = scenario.build()
    assert [h.name for h in scenario.hosts] == list(site.hosts)
    for expect in scenario.expect:
        host = site.host(expect.host)
        if expect.outcome == "untouched":
            continue
        run = patch_run(site, expect.host, sha256=scenario.sha256, package_path=scenario.package_path)
        exit_code = None if run.install is None else run.install["exit_code"]
        assert exit_code == expect.exit_code, f"{name} {expect.host}"
        assert run.reboots == expect.reboots
        if expect.outcome == "fixed":
            assert run.stopped_at is None and run.final is not None
            assert f"{run.final['build']}.{run.final['ubr']}" == expect.build_after
            assert run.final["pending_reboot"] is False and "KB5061906" in host.hotfixes
            assert run.restore is not None and all(r["ok"] for r in run.restore["vms"])
            # Every VM that ran before runs again (on this host or, clustered, on its node).
            for vm_id, state in run.prior.items():
                if state == "Running":
                    assert any(v.id == vm_id and v.state == "Running" for h in site.hosts.values() for v in h.vms)
        else:
            assert run.stopped_at == STOP_AT[expect.outcome]
            assert host.ubr == 3692 or host.build != 20348
    untouched = [e.host for e in scenario.expect if e.outcome == "untouched"]
    for host_name in untouched:
        host = site.host(host_name)
        assert not host.patch.tasks and host.reboots == 0 and host.ubr == 3692


def test_hash_mismatch_scenario_stages_a_damaged_copy_on_the_pilot_only() -> None:
    scenario = PATCH_SCENARIOS["patch-hash-mismatch"]
    site = scenario.build()
    assert site.host("HV01").patch.drive.sha256(PACKAGE_PATH) != scenario.sha256
    assert site.host("HV02").patch.drive.sha256(PACKAGE_PATH) == scenario.sha256
    assert len(scenario.package()) == site.host("HV01").patch.drive.size(PACKAGE_PATH)


def test_already_installed_scenario_starts_pending() -> None:
    site = PATCH_SCENARIOS["patch-already-installed"].build()
    host = site.host("HV01")
    assert host.pending_reboot and "KB5061906" in host.hotfixes and host.ubr == 3692


def test_patch_scenarios_are_apart_from_the_detector_set_and_served_by_name() -> None:
    assert not set(PATCH_SCENARIOS) & set(SCENARIOS)
    site = cli.make_site("patch-cluster", 1, None)
    assert [h.cluster.name for h in site.hosts.values() if h.cluster] == ["HVCL-PATCH", "HVCL-PATCH"]
    assert cli.make_site("demo-patch", 1, None).name == "demo-patch"


def test_patch_scenarios_are_listed(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["scenarios", "--patch"]) == 0
    assert [line.split()[0] for line in capsys.readouterr().out.splitlines()] == list(PATCH_SCENARIOS)
