"""End to end against the simulated site: a pilot and a production wave run to a report
in which every host is verified and every VM is back in its prior state; the monitoring
stays quiet about the hosts under maintenance; and the simulated hosts themselves recorded
exactly one install and one restart each."""

from __future__ import annotations

import time

import pytest

from hvconsole.core.maintenance import MaintenanceRegistry
from hvconsole.core.patch.report import build_report
from test_patch_support import QuietWatch, ground_truth, run_plan, scenario_plan, scenario_site, snapshot, story, vm_states

pytestmark = pytest.mark.slow   # a whole patch run: run first (tests/conftest.py)


def test_pilot_and_production_end_verified_with_vms_as_before(tmp_path):
    with scenario_site("patch-ok") as site:
        before = {h: snapshot(site.directory, h) for h in ("HV01", "HV02")}
        registry = MaintenanceRegistry()
        started = time.monotonic()
        with QuietWatch(site.directory, "HV01", registry) as watch:
            journal, run_id, result = run_plan(site, scenario_plan(site.scenario, ("HV01",), ("HV02",)),
                                               tmp_path / "journal.sqlite", maintenance=registry)
        took = time.monotonic() - started
        assert result.state == "done", story(journal, run_id)
        report = build_report(journal, run_id)
        assert report["summary"] == {"hosts": 2, "verified": 2, "failed": 0}
        for expect in site.scenario.expect:
            host = next(h for h in report["hosts"] if h["host"] == expect.host)
            assert host["status"] == "verified"
            assert (host["build_after"], host["install_exit_code"]) == (expect.build_after, expect.exit_code)
            after = snapshot(site.directory, expect.host)
            assert vm_states(after) == vm_states(before[expect.host])
            assert {v["id"]: v["state"] for v in host["vms_after"]} == vm_states(before[expect.host])
            assert ground_truth(site, expect.host) == {"boots": expect.reboots, "restarts": expect.reboots,
                                                       "installs": 1}
        # The pilot was watched for the whole run: its reboot never raised an alert.
        assert watch.polls > 10
        assert not [f for f in watch.findings if f.host == "HV01" and f.kind == "host-unreachable"]
        soak = [r for r in journal.steps(run_id, "HV01") if r.step == "soak"]
        assert [r.outcome for r in soak] == ["ok"]
        print(f"\npatch-ok at {site.directory.speed:g}x: {took:.1f} s real for 2 hosts")
