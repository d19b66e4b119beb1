"""A cancel after a kill inside the install or the reboot step: the host may already be
installing or restarting, so the step is settled (what the killed attempt began is taken
to its end and recorded), never called "cancelled before this step" and never started
again. Only a restart that did not come, or an install task that does not exist, is
recorded as cancelled, with the pending reboot named."""

from __future__ import annotations

import threading

from hvconsole.core.maintenance import MaintenanceRegistry
from hvconsole.core.patch.journal import Journal, StepRecord
from hvconsole.core.patch.vocabulary import RunState, Step, StepOutcome
from hvconsole.patch.control import request
from hvconsole.patch.engine import execute_with
from hvconsole.patch.host_api import PatchHost
from hvconsole.patch.waiting import StopRequested
from tests.unit.patch.test_engine_fakes import OPTIONS, FakeHost, fake_site, new_run, plan_for, run

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


UNDER_WAY = "cancelled while this step was under way"


def test_a_drain_left_in_flight_is_not_called_cancelled_before_it_and_is_put_back(tmp_path):
    journal, run_id, host = _killed_in(tmp_path, "patch_drain")
    assert any(v.state != "Running" for v in host.vms.values() if v.name != "HV01-OFF")   # the drain acted

    result = _cancel(journal, run_id, host)

    assert result.state == RunState.CANCELLED
    drain = _rows(journal, run_id, Step.DRAIN)[-1]
    assert drain.outcome == StepOutcome.CANCELLED
    assert UNDER_WAY in _summary(drain) and BEFORE_THIS_STEP not in _summary(drain)
    assert _rows(journal, run_id, Step.RESTORE)[-1].outcome == StepOutcome.OK
    assert {v.name: v.state for v in host.vms.values()} == PRIOR_STATES
    assert host.calls["patch_install_start"] == 0 and host.calls["patch_reboot"] == 0


class _StoppingRegistry(MaintenanceRegistry):
    """Holds the alerts, then the console is stopped before it can record so (a kill
    between the action and its journal row)."""

    def __init__(self, stopped: threading.Event) -> None:
        super().__init__()
        self.stopped = stopped

    def begin(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        super().begin(*args, **kwargs)
        self.stopped.set()
        raise StopRequested()


def test_a_maintenance_window_left_in_flight_is_closed_by_the_cancel(tmp_path):
    hosts = fake_site("HV01")
    journal, run_id = new_run(tmp_path, plan_for(("HV01",)))
    stopped = threading.Event()
    registry = _StoppingRegistry(stopped)
    factory = lambda name: PatchHost(name, hosts[name], hosts[name])  # noqa: E731
    first = execute_with(journal, run_id, factory, options=OPTIONS, stop=stopped, maintenance=registry)
    assert first.state == RunState.RUNNING
    on = _rows(journal, run_id, Step.MAINTENANCE_ON)
    assert on and on[-1].outcome is None                               # left in flight
    assert registry.windows()                                          # the alerts are held
    request(journal, run_id, "cancel")

    plain = MaintenanceRegistry.__new__(MaintenanceRegistry)            # the same registry, no stop
    plain.__dict__ = registry.__dict__
    result = execute_with(journal, run_id, factory, options=OPTIONS, maintenance=plain)

    assert result.state == RunState.CANCELLED
    assert UNDER_WAY in _summary(_rows(journal, run_id, Step.MAINTENANCE_ON)[-1])
    off = _rows(journal, run_id, Step.MAINTENANCE_OFF)[-1]
    assert off.outcome == StepOutcome.OK, _summary(off)
    assert not registry.windows()                                      # alerts on again
    assert host_calls_changing(hosts["HV01"]) == 0


def host_calls_changing(host: FakeHost) -> int:
    return sum(host.calls[s] for s in ("patch_drain", "patch_install_start", "patch_reboot"))
