"""Pure pieces of the engine: judging a preflight answer, the run mailbox (pause, cancel,
continue) and the run lock."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from hvconsole.assets import asset_path
from hvconsole.core.catalog import load_catalog
from hvconsole.core.patch.journal import Journal
from hvconsole.patch.control import ControlError, RunLock, request
from hvconsole.patch.preflight import judge

NOW = datetime(2026, 11, 26, 22, 0, tzinfo=timezone.utc)
UPDATE = load_catalog(asset_path("catalog", "updates.json")).get("KB5061906")


def answer(**changes):
    doc = {"is_admin": True, "build": 20348, "ubr": 3692, "pending_reboot": False, "services": {"vmms": "Running"},
           "system_drive_free_mb": 50_000, "staging_drive_free_mb": 50_000, "cluster": None,
           "vms": [{"id": "1", "name": "SQL", "state": "Running", "merging": False,
                    "last_backup": "2026-11-26T20:00:00.000Z"}]}
    doc.update(changes)
    return doc


def verdict(doc, package_mb=None):
    return judge(doc, UPDATE, required_free_mb=10_240, package_mb=package_mb, backup_max_age_h=48, host_now=NOW)


def test_a_healthy_host_needs_the_update():
    v = verdict(answer())
    assert (v.problems, v.warnings, v.target, v.compliant) == ([], [], "20348.3695", False)


def test_every_problem_is_named():
    v = verdict(answer(
        vms=[{"id": "1", "name": "SQL", "state": "Running", "merging": True, "last_backup": None}],
        cluster={"name": "C", "node_state": "Up", "other_nodes": [{"name": "HV09", "state": "Paused"}]},
        staging_drive_free_mb=500), package_mb=400)
    assert any("merge" in p and "SQL" in p for p in v.problems)
    assert any("HV09 is Paused" in p for p in v.problems)
    assert any("500 MB free for the package" in p for p in v.problems)
    assert any("without a backup" in w and "SQL" in w for w in v.warnings)


def test_warnings_do_not_stop_the_host():
    old = (NOW - timedelta(days=5)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    v = verdict(answer(pending_reboot=True, pending_reboot_reasons=["CBS"],
                       vms=[{"id": "1", "name": "WEB", "state": "Running", "last_backup": old},
                            {"id": "2", "name": "OFF", "state": "Off", "last_backup": None}]))
    assert v.problems == []
    assert any("pending (CBS)" in w for w in v.warnings)
    assert any("1 running VM(s)" in w and "WEB" in w and "OFF" not in w for w in v.warnings)


def test_compliance_and_applicability_come_from_the_catalog():
    assert verdict(answer(ubr=3695)).compliant is True
    assert verdict(answer(ubr=3695, pending_reboot=True)).compliant is False
    not_for_us = verdict(answer(build=26100, ubr=4652))
    assert not_for_us.target is None and "not applicable" in not_for_us.problems[0]
    assert "did not report its build" in verdict(answer(ubr=None)).problems[0]


def test_mailbox_transitions(tmp_path):
    with Journal(tmp_path / "j.sqlite") as j:
        run = j.create_run("KB5061906", {})
        j.set_run_state(run, "running")
        assert request(j, run, "pause") == "paused"
        assert request(j, run, "continue") == "running"
        assert request(j, run, "cancel") == "cancelling"
        assert request(j, run, "continue") == "cancelling"      # a cancel stays asked for
        with pytest.raises(ControlError):
            request(j, run, "pause")
        j.set_run_state(run, "cancelled")
        with pytest.raises(ControlError, match="already cancelled"):
            request(j, run, "continue")


def test_run_lock_is_exclusive_and_released(tmp_path):
    first, second = RunLock(tmp_path / "j.sqlite", 1), RunLock(tmp_path / "j.sqlite", 1)
    assert first.acquire()
    assert not second.acquire()
    assert second.holder_pid() is not None
    other = RunLock(tmp_path / "j.sqlite", 2)                    # another run is another lock
    assert other.acquire()
    other.release()
    first.release()
    assert second.acquire()
    second.release()
