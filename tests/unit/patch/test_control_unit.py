"""patch.control on its own: which request fits which run state, what a halt nobody
carries out does, and the OS lock that keeps a run to one process. No host, no runner:
the journal is the whole mailbox, so each rule is checked in milliseconds."""

from __future__ import annotations

import os
import subprocess
import sys
import threading

import pytest

from hvconsole.core.patch.journal import JournalError
from hvconsole.core.patch.vocabulary import Decision, RunState, Step, StepOutcome
from hvconsole.patch.control import ControlError, RunControl, RunLock, end_halted, executing_pid, request
from tests.unit.patch.test_engine_fakes import new_run, plan_for


@pytest.fixture
def journal_run(tmp_path):
    return new_run(tmp_path, plan_for(("HV01",), ("HV02",)))


def at(journal, run_id, state: RunState):
    assert journal.set_run_state(run_id, state)
    return journal, run_id


# (state the run is in, request) -> state written, or the words of the refusal
CASES = [
    (RunState.PLANNED, "pause", RunState.PAUSED),
    (RunState.RUNNING, "pause", RunState.PAUSED),
    (RunState.PAUSED, "continue", RunState.RUNNING),
    (RunState.RUNNING, "continue", RunState.RUNNING),
    (RunState.RUNNING, "cancel", RunState.CANCELLING),
    (RunState.PAUSED, "cancel", RunState.CANCELLING),
    (RunState.AWAITING_PROMOTION, "cancel", RunState.CANCELLING),
    (RunState.CANCELLING, "continue", RunState.CANCELLING),             # a cancel stays asked for
    (RunState.AWAITING_PROMOTION, "continue", RunState.AWAITING_PROMOTION),  # needs its own answer
    (RunState.AWAITING_PROMOTION, "promote", RunState.RUNNING),
    (RunState.AWAITING_PROMOTION, "halt", RunState.CANCELLING),
    (RunState.CANCELLING, "pause", "being cancelled"),
    (RunState.AWAITING_PROMOTION, "pause", "waiting for your decision"),
    (RunState.RUNNING, "promote", "not waiting for promotion"),
    (RunState.PAUSED, "halt", "not waiting for promotion"),
    (RunState.DONE, "cancel", "already done"),
    (RunState.FAILED, "continue", "already failed"),
    (RunState.CANCELLED, "pause", "already cancelled"),
]


@pytest.mark.parametrize("state, action, expected", CASES, ids=[f"{s}-{a}" for s, a, _ in CASES])
def test_a_request_fits_the_run_state_or_says_why(journal_run, state, action, expected):
    journal, run_id = at(*journal_run, state)
    if isinstance(expected, RunState):
        assert request(journal, run_id, action) == expected
        assert journal.run(run_id).state == expected
    else:
        with pytest.raises(ControlError, match=expected):
            request(journal, run_id, action)
        assert journal.run(run_id).state == state          # a refusal writes nothing


def test_promote_and_halt_record_the_answer(journal_run):
    journal, run_id = at(*journal_run, RunState.AWAITING_PROMOTION)
    request(journal, run_id, "halt")
    assert journal.run(run_id).decision == Decision.HALT
    with pytest.raises(ControlError, match=r"already answered \(halt\)"):
        request(journal, run_id, "promote")


def test_an_unknown_request_names_the_known_ones(journal_run):
    journal, run_id = journal_run
    with pytest.raises(ControlError, match="unknown request 'restart': use one of pause, continue, cancel"):
        request(journal, run_id, "restart")


def test_the_runner_sees_a_cancel_and_its_own_stop(journal_run):
    journal, run_id = at(*journal_run, RunState.RUNNING)
    stop = threading.Event()
    control = RunControl(journal, run_id, stop)
    assert not control.cancel_requested()
    request(journal, run_id, "cancel")
    assert control.cancel_requested() and control.state() == RunState.CANCELLING
    other = RunControl(journal, run_id)
    request(journal, run_id, "continue")                    # stays cancelling
    stop.set()
    assert control.cancel_requested() and other.cancel_requested()


def test_a_paused_run_waits_until_continued(journal_run):
    journal, run_id = at(*journal_run, RunState.PAUSED)
    control = RunControl(journal, run_id)
    told = []

    def on_pause():
        told.append(1)
        if len(told) == 2:
            request(journal, run_id, "continue")

    assert control.wait_while_paused(poll_s=0.01, on_pause=on_pause, every_s=0.0) == RunState.RUNNING
    assert len(told) == 2


def test_a_stopping_process_leaves_a_paused_run_paused(journal_run):
    journal, run_id = at(*journal_run, RunState.PAUSED)
    stop = threading.Event()
    stop.set()
    assert RunControl(journal, run_id, stop).wait_while_paused(poll_s=0.01) == RunState.PAUSED


def test_a_halt_ends_the_run_only_when_no_host_is_part_way(journal_run):
    journal, run_id = at(*journal_run, RunState.AWAITING_PROMOTION)
    assert not end_halted(journal, run_id)                  # no halt asked for
    request(journal, run_id, "halt")
    step = journal.begin_step(run_id, "HV02", Step.PREFLIGHT, {})
    journal.finish_step(step, StepOutcome.OK, {"summary": "ok"})
    assert not end_halted(journal, run_id)                  # HV02 started its steps: the engine puts it back
    assert journal.run(run_id).state == RunState.CANCELLING


def test_a_halt_with_only_finished_or_untouched_hosts_ends_cancelled(journal_run):
    journal, run_id = at(*journal_run, RunState.AWAITING_PROMOTION)
    request(journal, run_id, "halt")
    assert end_halted(journal, run_id)
    assert journal.run(run_id).state == RunState.CANCELLED


def test_the_run_lock_keeps_a_run_to_one_holder(journal_run):
    journal, run_id = journal_run
    assert executing_pid(journal, run_id) is None           # never executed: no lock file at all
    first = RunLock(journal.path, run_id)
    assert first.acquire()
    try:
        assert executing_pid(journal, run_id) == os.getpid()
        assert not RunLock(journal.path, run_id).acquire(wait_s=0.1)
        with pytest.raises(JournalError, match=f"pid {os.getpid()}"), RunLock(journal.path, run_id):
            pass
        assert RunLock(journal.path, run_id + 1).acquire()  # another run is another lock
    finally:
        first.release()
    assert executing_pid(journal, run_id) is None
    with RunLock(journal.path, run_id):
        assert executing_pid(journal, run_id) == os.getpid()


def test_another_process_sees_the_holder(journal_run):
    journal, run_id = journal_run
    with RunLock(journal.path, run_id):
        code = ("import sys; from pathlib import Path; from hvconsole.patch.control import RunLock; "
                f"lock = RunLock(Path({str(journal.path)!r}), {run_id}); "
                "print(lock.acquire(), lock.probe())")
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                             check=True).stdout.split()
    assert out == ["False", str(os.getpid())]
