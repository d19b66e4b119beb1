"""Run a callable off the GUI thread and get its result back on the GUI thread.

:class:`TaskRunner` (after MusicBrainz Picard's ``run_task``) starts work on a
``QThreadPool`` and delivers ``on_result(value)`` or ``on_error(exc)`` through a queued
signal, so callbacks always run on the thread that created the runner. Work functions
never touch widgets or models. :class:`InlineTaskRunner` has the same interface and runs
everything at once on the calling thread: unit tests use it to drive code that normally
runs in the background, deterministically and without threads.

A pool thread blocked in a network read cannot be interrupted; :meth:`TaskRunner.shutdown`
therefore waits only up to a bound and then lets go (see :func:`park`).
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QThreadPool, QTimer, Signal, Slot

log = logging.getLogger(__name__)

ResultCallback = Callable[[Any], None]
ErrorCallback = Callable[[BaseException], None]

# Pools whose threads were still busy (a hung host) when their owner shut down. They are
# kept referenced until idle: destroying a QThreadPool waits for its threads without limit.
_PARKED: list[QThreadPool] = []


class TaskRunner(QObject):
    """Runs callables on ``pool`` (default: a private pool). Create it on the GUI thread."""

    # Only the task id crosses threads. The result and the exception wait in ``_outcomes``
    # (under a lock) for the GUI thread: queued signals that carry Python objects from a
    # pool thread are where PySide6 6.8+ has crashed (PYSIDE-3124; seen here as a worker
    # aborting while a pool thread was inside this emit), and an int needs no Python
    # reference handed between threads. The receiving method is a declared @Slot, as
    # PySide recommends for cross-thread connections.
    _finished = Signal(int)

    def __init__(self, pool: QThreadPool | None = None, parent: QObject | None = None):
        super().__init__(parent)
        self._pool = pool if pool is not None else QThreadPool()
        self._ids = itertools.count(1)
        self._callbacks: dict[int, tuple[ResultCallback, ErrorCallback | None]] = {}
        self._outcomes: dict[int, tuple[Any, BaseException | None]] = {}
        self._outcomes_lock = threading.Lock()
        self._accepting = True
        # Emitted from pool threads, received here: Qt queues it to this object's thread.
        self._finished.connect(self._deliver)

    @property
    def pool(self) -> QThreadPool:
        return self._pool

    def submit(self, fn: Callable[[], Any], on_result: ResultCallback,
               on_error: ErrorCallback | None = None) -> int:
        """Start ``fn()`` in the background; returns a task id."""
        if not self._accepting:
            raise RuntimeError("this runner has been shut down")
        task_id = next(self._ids)
        self._callbacks[task_id] = (on_result, on_error)
        self._pool.start(lambda: self._run(task_id, fn))
        return task_id

    def _run(self, task_id: int, fn: Callable[[], Any]) -> None:
        # On a pool thread.
        try:
            result, error = fn(), None
        except Exception as exc:  # delivered to on_error, never lost
            result, error = None, exc
        with self._outcomes_lock:
            self._outcomes[task_id] = (result, error)
        del result, error       # the GUI thread holds the only references from here on
        with contextlib.suppress(RuntimeError):  # the runner was deleted while this task ran: nobody is listening
            self._finished.emit(task_id)

    @Slot(int)
    def _deliver(self, task_id: int) -> None:
        with self._outcomes_lock:
            outcome = self._outcomes.pop(task_id, None)
        callbacks = self._callbacks.pop(task_id, None)
        if callbacks is None or outcome is None:
            return  # discarded by shutdown()
        result, error = outcome
        on_result, on_error = callbacks
        if error is None:
            on_result(result)
        elif on_error is not None:
            on_error(error)
        else:
            log.error("background task failed", exc_info=error)

    @property
    def pending(self) -> int:
        """Tasks submitted whose callbacks have not run yet."""
        return len(self._callbacks)

    def run_last(self, fn: Callable[[], Any]) -> None:
        """Queue a final job (e.g. closing a session) whose result nobody waits for."""
        self._pool.start(fn)

    def shutdown(self, deadline: float) -> bool:
        """Stop accepting work, drop undelivered callbacks, and wait for running tasks
        until ``deadline`` (a ``time.monotonic()`` value). True when the pool is idle; else
        the pool is parked and its threads finish on their own."""
        self._accepting = False
        self._callbacks.clear()
        with self._outcomes_lock:
            self._outcomes.clear()
        remaining_ms = max(0, int((deadline - time.monotonic()) * 1000))
        if self._pool.waitForDone(remaining_ms):
            return True
        park(self._pool)
        return False


class InlineTaskRunner:
    """The synchronous stand-in for :class:`TaskRunner` used by unit tests."""

    def __init__(self) -> None:
        self.submitted = 0
        self._accepting = True

    def submit(self, fn: Callable[[], Any], on_result: ResultCallback,
               on_error: ErrorCallback | None = None) -> int:
        if not self._accepting:
            raise RuntimeError("this runner has been shut down")
        self.submitted += 1
        try:
            result = fn()
        except Exception as exc:
            if on_error is None:
                raise
            on_error(exc)
        else:
            on_result(result)
        return self.submitted

    @property
    def pending(self) -> int:
        return 0

    def run_last(self, fn: Callable[[], Any]) -> None:
        fn()

    def shutdown(self, deadline: float) -> bool:
        self._accepting = False
        return True


def park(pool: QThreadPool) -> None:
    """Keep a busy pool alive until its threads finish, then release it. Work already
    queued (such as closing a session after the poll in flight) still runs."""
    _PARKED.append(pool)
    _schedule_reap()


def parked_pools() -> int:
    return len(_PARKED)


def wait_parked(timeout_s: float) -> bool:
    """Wait (blocking) for parked pools to finish; for tests and process exit."""
    deadline = time.monotonic() + timeout_s
    for pool in list(_PARKED):
        remaining_ms = max(0, int((deadline - time.monotonic()) * 1000))
        if not pool.waitForDone(remaining_ms):
            return False
        _PARKED.remove(pool)
    return True


def _schedule_reap() -> None:
    QTimer.singleShot(1000, _reap)


def _reap() -> None:
    for pool in list(_PARKED):
        if pool.activeThreadCount() == 0:
            _PARKED.remove(pool)
    if _PARKED:
        _schedule_reap()
