"""Pause and cancel, asked for through the journal, and the lock that says who runs a run.

The run's state column is the mailbox: ``hvconsole patch pause RUN`` (any process) sets
``paused``, ``cancel`` sets ``cancelling``, ``resume`` sets ``running`` again. The runner
reads it **between steps** only: a step is never interrupted half-way (an install runs as
a scheduled task on the host whatever we do, a reboot cannot be taken back).

:class:`RunLock` is an OS file lock next to the journal, held by the process executing a
run. The OS drops it when that process dies (also on SIGKILL), so ``resume`` can tell a
live runner (only flip the state) from a dead one (take over and continue).
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

from hvconsole.core.patch.journal import Journal, JournalError

ACTIVE_STATES = frozenset({"planned", "running", "paused", "cancelling"})
FINAL_STATES = frozenset({"done", "failed", "cancelled"})


class ControlError(RuntimeError):
    """A request that does not fit the run's state (the message says why)."""


class RunControl:
    """The runner's view of the mailbox."""

    def __init__(self, journal: Journal, run_id: int, stop: threading.Event | None = None):
        self.journal = journal
        self.run_id = run_id
        self.stop = stop or threading.Event()      # set when the process itself must stop

    def state(self) -> str:
        return self.journal.run(self.run_id).state

    def cancel_requested(self) -> bool:
        return self.stop.is_set() or self.state() == "cancelling"

    def wait_while_paused(self, poll_s: float = 0.5, on_pause=None) -> str:
        """Block while the run is paused; return the state that ended the pause."""
        state = self.state()
        announced = False
        while state == "paused" and not self.stop.is_set():
            if not announced and on_pause is not None:
                on_pause()
                announced = True
            self.stop.wait(poll_s)
            state = self.state()
        return state


def request(journal: Journal, run_id: int, action: str) -> str:
    """Ask for ``pause``, ``cancel`` or ``continue``; returns the state written."""
    state = journal.run(run_id).state
    if state in FINAL_STATES:
        raise ControlError(f"run {run_id} is already {state}")
    wanted = {"pause": "paused", "cancel": "cancelling", "continue": "running"}[action]
    if action == "pause" and state == "cancelling":
        raise ControlError(f"run {run_id} is being cancelled; it cannot be paused")
    if action == "continue" and state == "cancelling":
        return state            # a cancel that was asked for stays asked for
    journal.set_run_state(run_id, wanted)
    return wanted


class RunLock:
    """An exclusive, non-blocking OS lock on ``<journal>.run-<id>.lock``."""

    def __init__(self, journal_path: Path, run_id: int):
        self.path = journal_path.with_name(f"{journal_path.name}.run-{run_id}.lock")
        self._fd: int | None = None

    def acquire(self) -> bool:
        """True when this process now holds the lock; False when another process does."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            _lock(fd)
        except OSError:
            os.close(fd)
            return False
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode("ascii"))
        self._fd = fd
        return True

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

    def __enter__(self) -> "RunLock":
        if not self.acquire():
            pid = self.holder_pid()
            raise JournalError(f"run is being executed by another process{f' (pid {pid})' if pid else ''}")
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


if os.name == "nt":  # pragma: no cover - exercised on Windows only
    import msvcrt

    def _lock(fd: int) -> None:
        msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)

    def _unlock(fd: int) -> None:
        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
else:
    import fcntl

    def _lock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)

    def _unlock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)
