"""Pause, cancel, promote and halt, asked for through the journal, and the lock that says
who runs a run.

The run's state column is the mailbox: ``hvconsole patch pause RUN`` (any process, or the
window) sets ``paused``, ``cancel`` sets ``cancelling``, ``resume`` sets ``running`` again.
After a pilot that passed its soak, a plan with ``confirm_promotion`` waits in
``awaiting-promotion``; ``promote`` records the admin's decision and lets production start,
``halt`` records it and the run ends ``cancelled`` ("halted by the admin after the
pilot") without touching a production host. The runner reads the mailbox **between
steps** only: a step is never interrupted half-way (an install runs as a scheduled task on
the host whatever we do, a reboot cannot be taken back).

:class:`RunLock` is an OS file lock next to the journal, held by the process executing a
run. The OS drops it when that process dies (also on SIGKILL), so ``resume`` can tell a
live runner (only flip the state) from a dead one (take over and continue).
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from hvconsole.core.patch.journal import Journal, JournalError
from hvconsole.core.patch.vocabulary import (
    FINISHED_STATES,
    HALTED_REASON,
    UNFINISHED_STATES,
    ControlAction,
    Decision,
    RunEvent,
    RunState,
    StepOutcome,
)

ACTIVE_STATES = UNFINISHED_STATES
FINAL_STATES = FINISHED_STATES


class ControlError(RuntimeError):
    """A request that does not fit the run's state (the message says why)."""


class RunControl:
    """The runner's view of the mailbox."""

    def __init__(self, journal: Journal, run_id: int, stop: threading.Event | None = None):
        self.journal = journal
        self.run_id = run_id
        self.stop = stop or threading.Event()      # set when the process itself must stop

    def state(self) -> RunState:
        return RunState(self.journal.run(self.run_id).state)

    def decision(self) -> Decision | None:
        d = self.journal.run(self.run_id).decision
        return Decision(d) if d else None

    def cancel_requested(self) -> bool:
        return self.stop.is_set() or self.state() == RunState.CANCELLING

    def wait_while_paused(self, poll_s: float = 0.5, on_pause: Callable[[], object] | None = None,
                          every_s: float = 30.0) -> RunState:
        """Block while the run is paused; return the state that ended the pause.
        ``on_pause`` is called at once and then every ``every_s`` real seconds, so a paused
        run is never silent for long."""
        state = self.state()
        next_say = 0.0
        while state == RunState.PAUSED and not self.stop.is_set():
            if on_pause is not None and time.monotonic() >= next_say:
                on_pause()
                next_say = time.monotonic() + every_s
            self.stop.wait(poll_s)
            state = self.state()
        return state


def request(journal: Journal, run_id: int, action: str) -> RunState:
    """Ask for ``pause``, ``continue``, ``cancel``, ``promote`` or ``halt``; returns the
    state written (or kept). A request that does not fit the run's state is a
    :class:`ControlError` saying why."""
    try:
        action = ControlAction(action)
    except ValueError:
        raise ControlError(f"unknown request {action!r}: use one of {', '.join(ControlAction)}") from None
    record = journal.run(run_id)
    state = RunState(record.state)
    if state in FINISHED_STATES:
        raise ControlError(f"run {run_id} is already {state}")
    if action in (ControlAction.PROMOTE, ControlAction.HALT):
        if state != RunState.AWAITING_PROMOTION:
            if record.decision:
                raise ControlError(f"run {run_id} was already answered ({record.decision}); it is {state}")
            raise ControlError(f"run {run_id} is not waiting for promotion (it is {state}); "
                               "promote and halt answer a run whose test ring passed its soak")
        if action == ControlAction.PROMOTE:
            journal.set_decision(run_id, Decision.PROMOTE, RunState.RUNNING)
            return RunState.RUNNING
        journal.set_decision(run_id, Decision.HALT, RunState.CANCELLING, HALTED_REASON)
        return RunState.CANCELLING
    if action == ControlAction.PAUSE:
        if state == RunState.CANCELLING:
            raise ControlError(f"run {run_id} is being cancelled; it cannot be paused")
        if state == RunState.AWAITING_PROMOTION:
            raise ControlError(f"run {run_id} is waiting for your decision after the pilot: nothing runs until "
                               f"you promote or halt it")
    if action == ControlAction.CONTINUE and state in (RunState.CANCELLING, RunState.AWAITING_PROMOTION):
        return state            # a cancel stays asked for; a promotion needs its own answer
    wanted = {ControlAction.PAUSE: RunState.PAUSED, ControlAction.CANCEL: RunState.CANCELLING,
              ControlAction.CONTINUE: RunState.RUNNING}[action]
    # Written only over an unfinished state: the runner may have just ended the run.
    if not journal.set_run_state(run_id, wanted, only_from=UNFINISHED_STATES):
        raise ControlError(f"run {run_id} is already {journal.run(run_id).state}")
    return wanted


def end_halted(journal: Journal, run_id: int) -> bool:
    """A halt that no process is there to carry out: when the run was halted between the
    pilot and production and no host is part-way (every host finished or not started),
    end it ``cancelled`` here, since there is nothing to put back. True when it ended."""
    from hvconsole.core.patch.steps import next_step
    record = journal.run(run_id)
    if record.decision != Decision.HALT or record.state != RunState.CANCELLING:
        return False
    if executing_pid(journal, run_id) is not None:
        return False
    hosts = [h for w in record.plan.get("waves") or [] for h in w.get("hosts") or []]
    for host in hosts:
        records = [r for r in journal.steps(run_id, host) if r.step != RunEvent.SOAK]
        ended = any(r.outcome in (StepOutcome.FAILED, StepOutcome.CANCELLED) for r in records)
        if records and not ended and next_step(records) is not None:
            return False          # part-way: `cancel` puts it back through the engine
    return journal.set_run_state(run_id, RunState.CANCELLED, HALTED_REASON,
                                 only_from=frozenset({RunState.CANCELLING}))


def executing_pid(journal: Journal, run_id: int) -> int | None:
    """The pid of the process executing ``run_id`` (-1 when it cannot be read), or None
    when nobody is. Probing takes a shared lock for a moment and writes nothing: a runner
    starting at that instant retries (``RunLock.acquire(wait_s=...)``)."""
    return RunLock(journal.path, run_id).probe()


class RunLock:
    """An exclusive, non-blocking OS lock on ``<journal>.run-<id>.lock``."""

    def __init__(self, journal_path: Path, run_id: int):
        self.path = journal_path.with_name(f"{journal_path.name}.run-{run_id}.lock")
        self._fd: int | None = None

    def acquire(self, wait_s: float = 0.0) -> bool:
        """True when this process now holds the lock; False when another process does
        (after trying for ``wait_s`` seconds: a viewer probing the lock holds it briefly)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        deadline = time.monotonic() + wait_s
        while True:
            try:
                _lock(fd)
                break
            except OSError:
                if time.monotonic() >= deadline:
                    os.close(fd)
                    return False
                time.sleep(0.05)
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode("ascii"))
        self._fd = fd
        return True

    def probe(self) -> int | None:
        """Who holds the lock (its pid, -1 if unreadable), or None when nobody does. Never
        creates the file: a run never executed has none."""
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except FileNotFoundError:
            return None
        try:
            try:
                _lock_shared(fd)
            except OSError:
                return self.holder_pid() or -1
            _unlock(fd)
            return None
        finally:
            os.close(fd)

    def holder_pid(self) -> int | None:
        try:
            text = self.path.read_text(encoding="ascii").strip()
        except OSError:
            return None
        return int(text) if text.isdigit() else None

    def release(self) -> None:
        if self._fd is not None:
            try:
                _unlock(self._fd)
            finally:
                os.close(self._fd)
                self._fd = None

    def __enter__(self) -> RunLock:
        if not self.acquire():
            pid = self.holder_pid()
            raise JournalError(f"run is being executed by another process{f' (pid {pid})' if pid else ''}")
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
    import msvcrt

    def _lock(fd: int) -> None:
        msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)

    def _lock_shared(fd: int) -> None:
        msvcrt.locking(fd, msvcrt.LK_NBRLCK, 1)

    def _unlock(fd: int) -> None:
        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
else:
    import fcntl

    def _lock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)

    def _lock_shared(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)

    def _unlock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)
