"""Resume: the runner stops right after a script took effect (the journal then looks as a
kill leaves it: intent written, no outcome), and a new runner finishes from the truth,
never applying a step twice."""

from __future__ import annotations

import threading

import pytest

from hvconsole.core.patch.journal import iter_in_flight
from hvconsole.core.patch.report import build_report
from test_engine_fakes import fake_site, new_run, plan_for, run

# (script, nth call) after which the first runner stops: one point inside every step
# that changes something, plus a poll during the reboot wait.
# that changes something, plus a poll during the reboot wait; and the step left in flight
# (None: the script only read, before the step wrote its intent).
STOP_POINTS = [
    ("patch_preflight", 1, "preflight"),
    ("patch_stage_check", 1, None),
    ("patch_drain", 1, "drain"),
    ("patch_install_status", 1, None),      # install reads the task before its intent
    ("patch_install_start", 1, "install"),
    ("patch_install_status", 3, "install"),  # the task is running
    ("patch_reboot", 1, "reboot"),          # scheduled, host not down yet
    ("patch_restore", 1, "restore"),
]


@pytest.mark.parametrize("script,nth,in_flight", STOP_POINTS, ids=[f"{s}-{n}" for s, n, _ in STOP_POINTS])
def test_stopped_after_a_script_then_resumed(tmp_path, script, nth, in_flight):
    hosts = fake_site("HV01", "HV02")
    host = hosts["HV01"]
    before = {v.id: v.state for v in host.vms.values()}
    stopped = threading.Event()
    host.stop_after[(script, nth)] = stopped
    journal, run_id = new_run(tmp_path, plan_for(("HV01",), ("HV02",)))
    first = run(journal, run_id, hosts, stop=stopped)
    assert first.state == "running" and stopped.is_set()
    assert journal.run(run_id).state == "running"
    assert [r.step for r in iter_in_flight(journal, run_id)] == ([in_flight] if in_flight else [])
    host.stop_after.clear()
    second = run(journal, run_id, hosts)
    assert second.state == "done", second.reason
    assert host.install_starts == 1 and host.boots == 1
    assert hosts["HV02"].install_starts == 1
    assert {v.id: v.state for v in host.vms.values()} == before
    assert build_report(journal, run_id)["summary"]["verified"] == 2


def test_resumed_during_the_reboot_wait_does_not_reboot_again(tmp_path):
    hosts = fake_site("HV01")
    host = hosts["HV01"]
    host.down_polls = 6
    stopped = threading.Event()
    original_poll = host.poll

    def poll_then_stop(cancel=None):
        snap = original_poll(cancel)
        if not snap.reachable:
            stopped.set()          # the runner dies while the host is down
        return snap
    host.poll = poll_then_stop
    journal, run_id = new_run(tmp_path, plan_for(("HV01",)))
    assert run(journal, run_id, hosts, stop=stopped).state == "running"
    assert [r.step for r in iter_in_flight(journal, run_id)] == ["reboot"]
    host.poll = original_poll
    assert run(journal, run_id, hosts).state == "done"
    assert host.calls["patch_reboot"] == 1 and host.boots == 1
    attempts = [r for r in journal.steps(run_id, "HV01") if r.step == "reboot"]
    assert len(attempts) == 2 and attempts[1].evidence["scheduled_by_this_attempt"] is False


def test_resume_of_a_finished_run_changes_nothing(tmp_path):
    hosts = fake_site("HV01")
    journal, run_id = new_run(tmp_path, plan_for(("HV01",)))
    assert run(journal, run_id, hosts).state == "done"
    rows = len(journal.steps(run_id))
    again = run(journal, run_id, hosts)
    assert again.state == "done" and "already done" in again.reason
    assert len(journal.steps(run_id)) == rows and hosts["HV01"].install_starts == 1
