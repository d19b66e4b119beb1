"""A cancel after a kill inside the install or the reboot step: the host may already be
installing or restarting, so the step is settled (what the killed attempt began is taken
to its end and recorded), never called "cancelled before this step" and never started
again. Only a restart that did not come, or an install task that does not exist, is
recorded as cancelled, with the pending reboot named."""

from __future__ import annotations

import threading

from hvconsole.core.patch.journal import Journal, StepRecord
from hvconsole.core.patch.vocabulary import RunState, Step, StepOutcome
from hvconsole.patch.control import request
from tests.unit.patch.test_engine_fakes import FakeHost, fake_site, new_run, plan_for, run

BEFORE_THIS_STEP = "cancelled before this step"
PRIOR_STATES = {"HV01-VM0": "Running", "HV01-VM1": "Running", "HV01-VM2": "Running", "HV01-OFF": "Off"}


def _killed_in(tmp_path, script: str) -> tuple[Journal, int, FakeHost]:
    """A run stopped right after ``script`` took effect (intent written, no outcome), then
    cancelled with nobody executing it."""
    hosts = fake_site("HV01")
    host = hosts["HV01"]
    stopped = threading.Event()
    host.stop_after[(script, 1)] = stopped
    journal, run_id = new_run(tmp_path, plan_for(("HV01",)))
    first = run(journal, run_id, hosts, stop=stopped)
    assert first.state == RunState.RUNNING
    assert journal.steps(run_id, "HV01")[-1].outcome is None       # left in flight
    request(journal, run_id, "cancel")
    return journal, run_id, host


def _cancel(journal: Journal, run_id: int, host: FakeHost):
    return run(journal, run_id, {"HV01": host})


def _rows(journal: Journal, run_id: int, step: str) -> list[StepRecord]:
    return [r for r in journal.steps(run_id, "HV01") if r.step == step]


def _summary(record: StepRecord) -> str:
    return str((record.evidence or {}).get("summary"))


def _settle_host(host: FakeHost, polls: int = 20) -> None:
    """Let the fake's clock run on: a restart still scheduled would happen now."""
    for _ in range(polls):
        host.poll()


def test_a_reboot_under_way_is_waited_for_and_the_vms_restored_after_it(tmp_path):
    journal, run_id, host = _killed_in(tmp_path, "patch_reboot")

    result = _cancel(journal, run_id, host)

    assert result.state == RunState.CANCELLED
    assert "HV01 past the reboot and finished" in result.reason
    reboot = _rows(journal, run_id, Step.REBOOT)[-1]
    assert reboot.outcome == StepOutcome.OK, _summary(reboot)
    assert BEFORE_THIS_STEP not in _summary(reboot)
    assert host.calls["patch_reboot"] == 1          # no second restart asked for
    assert host.boots == 1
    assert result.pending_reboot == {}
    # The restore came after the boot, so the VMs keep the states they had before.
    restore = _rows(journal, run_id, Step.RESTORE)[-1]
    assert restore.outcome == StepOutcome.OK and restore.id > reboot.id
    _settle_host(host)
    assert host.boots == 1
    assert {v.name: v.state for v in host.vms.values()} == PRIOR_STATES
    assert _rows(journal, run_id, Step.MAINTENANCE_OFF)[-1].outcome == StepOutcome.OK


def test_a_host_already_rebooted_is_recorded_as_rebooted(tmp_path):
    journal, run_id, host = _killed_in(tmp_path, "patch_reboot")
    _settle_host(host)                                # it restarted while nobody watched
    assert host.boots == 1

    result = _cancel(journal, run_id, host)

    assert _rows(journal, run_id, Step.REBOOT)[-1].outcome == StepOutcome.OK
    assert host.calls["patch_reboot"] == 1 and host.boots == 1
    assert result.pending_reboot == {}
    assert {v.name: v.state for v in host.vms.values()} == PRIOR_STATES


def test_a_restart_that_never_came_is_cancelled_and_its_reboot_named_pending(tmp_path):
    journal, run_id, host = _killed_in(tmp_path, "patch_reboot")
    host._reboot.clear()                             # the scheduled restart was lost

    result = _cancel(journal, run_id, host)

    assert result.state == RunState.CANCELLED
    reboots = _rows(journal, run_id, Step.REBOOT)
    assert all(r.outcome == StepOutcome.CANCELLED for r in reboots), [r.outcome for r in reboots]
    assert "never came" in _summary(reboots[-1])
    assert host.calls["patch_reboot"] == 1 and host.boots == 0
    assert set(result.pending_reboot) == {"HV01"}
    assert _rows(journal, run_id, Step.RESTORE)[-1].outcome == StepOutcome.OK
    assert {v.name: v.state for v in host.vms.values()} == PRIOR_STATES


def test_an_install_task_left_running_is_waited_for_not_abandoned(tmp_path):
    journal, run_id, host = _killed_in(tmp_path, "patch_install_start")

    result = _cancel(journal, run_id, host)

    assert result.state == RunState.CANCELLED
    install = _rows(journal, run_id, Step.INSTALL)[-1]
    assert install.outcome == StepOutcome.OK, _summary(install)
    assert (install.evidence or {}).get("action", "").startswith("found")
    assert host.install_starts == 1
    # The reboot itself was never asked for: that one is cancelled, and named pending.
    assert _rows(journal, run_id, Step.REBOOT)[-1].outcome == StepOutcome.CANCELLED
    assert host.calls["patch_reboot"] == 0
    assert set(result.pending_reboot) == {"HV01"}
    assert _rows(journal, run_id, Step.RESTORE)[-1].outcome == StepOutcome.OK
    assert {v.name: v.state for v in host.vms.values()} == PRIOR_STATES


def test_an_install_task_that_does_not_exist_is_not_started_by_the_cancel(tmp_path):
    journal, run_id, host = _killed_in(tmp_path, "patch_install_start")
    host._tasks.clear()                              # the start never reached the host

    result = _cancel(journal, run_id, host)

    install = _rows(journal, run_id, Step.INSTALL)[-1]
    assert install.outcome == StepOutcome.CANCELLED
    assert host.install_starts == 1 and host.calls["patch_install_start"] == 1
    assert result.pending_reboot == {}
    assert _rows(journal, run_id, Step.RESTORE)[-1].outcome == StepOutcome.OK
