"""Failure paths against the simulated site: install fails, a host that never comes back,
an update that is not applicable, a damaged package. Each time the failed host is put back
(VMs as they were, alerts on), the report says why, and production is never touched."""

from __future__ import annotations

import pytest

from hvconsole.core.patch.report import build_report, render_html
from test_patch_support import FAST, ground_truth, run_plan, scenario_plan, scenario_site, snapshot, story, vm_states

pytestmark = pytest.mark.slow   # a whole patch run each: run first (tests/conftest.py)

UNTOUCHED = {"boots": 0, "restarts": 0, "installs": 0}


def steps(journal, run_id, host):
    return {r.step: (r.outcome, (r.evidence or {}).get("summary", "")) for r in journal.steps(run_id, host)}


def run_scenario(name, tmp_path, **plan_kw):
    site_cm = scenario_site(name, FAST)
    site = site_cm.__enter__()
    try:
        before = {h: vm_states(snapshot(site.directory, h)) for h in ("HV01", "HV02")}
        plan = scenario_plan(site.scenario, ("HV01",), ("HV02",), **plan_kw)
        journal, run_id, result = run_plan(site, plan, tmp_path / "journal.sqlite")
        after = {h: snapshot(site.directory, h) for h in ("HV01", "HV02")}
        truth = {h: ground_truth(site, h) for h in ("HV01", "HV02")}
    finally:
        site_cm.__exit__(None, None, None)
    assert result.state == "failed" and "test ring failed on HV01" in result.reason, result.reason
    assert journal.steps(run_id, "HV02") == [] and truth["HV02"] == UNTOUCHED
    report = build_report(journal, run_id)
    assert [h["status"] for h in report["hosts"]] == ["failed", "not started"]
    assert "failed" in render_html(report)
    return journal, run_id, before, after, truth


def test_install_fails_host_restored_wave_stops(tmp_path):
    journal, run_id, before, after, truth = run_scenario("patch-install-fails", tmp_path)
    s = steps(journal, run_id, "HV01")
    assert s["install"][0] == "failed" and "0x800F0922" in s["install"][1]
    assert "reboot" not in s and s["restore"][0] == "ok" and s["maintenance-off"][0] == "ok"
    assert vm_states(after["HV01"]) == before["HV01"]
    assert truth["HV01"] == {"boots": 0, "restarts": 0, "installs": 1}
    assert build_report(journal, run_id)["hosts"][0]["install_exit_code"] == 0x800F0922


def test_host_that_does_not_return_stops_the_wave_with_a_clear_state(tmp_path):
    journal, run_id, before, after, truth = run_scenario("patch-no-return", tmp_path, reboot_timeout_s=900)
    s = steps(journal, run_id, "HV01")
    assert s["reboot"][0] == "failed" and "did not come back within 900 s" in s["reboot"][1]
    assert s["restore"][0] == "failed" and "not answering" in s["restore"][1]
    restore = next(r for r in journal.steps(run_id, "HV01") if r.step == "restore")
    running_before = {"APP-01", "SQL-01", "WEB-01", "LB-APPLIANCE-01"}
    assert set(restore.evidence["not_restored"]) == running_before      # named, to bring back by hand
    assert s["maintenance-off"][0] == "ok"                            # monitoring shows it down now
    assert not after["HV01"].reachable
    assert truth["HV01"] == {"boots": 0, "restarts": 1, "installs": 1}


def test_update_not_applicable_is_caught_before_any_vm_is_touched(tmp_path):
    journal, run_id, before, after, truth = run_scenario("patch-not-applicable", tmp_path)
    s = steps(journal, run_id, "HV01")
    assert set(s) == {"preflight"} and s["preflight"][0] == "failed"
    assert "not applicable" in s["preflight"][1] and "26100.4656" in s["preflight"][1]
    assert vm_states(after["HV01"]) == before["HV01"] and truth["HV01"] == UNTOUCHED


def test_damaged_package_is_refused_and_never_installed(tmp_path):
    journal, run_id, before, after, truth = run_scenario("patch-hash-mismatch", tmp_path)
    s = steps(journal, run_id, "HV01")
    assert s["stage"][0] == "failed" and "refusing to install" in s["stage"][1]
    assert set(s) == {"preflight", "stage"}
    assert vm_states(after["HV01"]) == before["HV01"] and truth["HV01"] == UNTOUCHED


# Pilot only where the second host adds nothing; the freeze scenario needs the soak between waves.
SPECIAL = {"patch-two-reboots": ("HV01",), "patch-already-installed": ("HV01",), "patch-cluster": ("HV01",),
           "patch-pilot-freeze": ("HV01", "HV02")}


@pytest.mark.parametrize("name", list(SPECIAL))
def test_special_flows_end_verified(tmp_path, name):
    hosts = SPECIAL[name]
    with scenario_site(name, FAST) as site:
        before = {h: snapshot(site.directory, h) for h in ("HV01", "HV02")}
        plan = scenario_plan(site.scenario, *[(h,) for h in hosts])
        journal, run_id, result = run_plan(site, plan, tmp_path / "journal.sqlite")
        assert result.state == "done", story(journal, run_id)
        report = {h["host"]: h for h in build_report(journal, run_id)["hosts"]}
        everywhere = {}
        for h in ("HV01", "HV02"):
            everywhere.update(vm_states(snapshot(site.directory, h)))
        for expect in [e for e in site.scenario.expect if e.host in hosts]:
            assert report[expect.host]["status"] == "verified"
            assert report[expect.host]["build_after"] == expect.build_after
            assert report[expect.host]["install_exit_code"] == expect.exit_code
            assert ground_truth(site, expect.host)["boots"] == expect.reboots
            # Every VM in its prior state, wherever a cluster drain or failback put it.
            assert {i: everywhere.get(i) for i in vm_states(before[expect.host])} == vm_states(before[expect.host])
        if name == "patch-cluster":
            drain = journal.last_ok(run_id, "HV01", "drain")
            assert drain.intent["cluster_drain"] is True and drain.evidence["cluster"]["drain_status"] == "Completed"
            restore = journal.last_ok(run_id, "HV01", "restore")
            assert restore.intent["cluster_resume"] is True
        if name == "patch-pilot-freeze":
            soak = next(r for r in journal.steps(run_id, "HV01") if r.step == "soak")
            assert soak.outcome == "ok" and soak.evidence["polls"] >= 2
