"""The polling service: one worker per host, results coalesced into one batch per tick.

Each host gets its own single-thread pool (so its Collector and WinRM session stay on one
thread for the life of the window) and its own schedule: every ``interval_s`` while it
answers, with capped exponential backoff while it does not. At most one poll per host is
in flight, so a hung host ties up only its own thread; the others keep updating.

Results arrive on the GUI thread one by one; they are collected and handed on as one
``batch_ready(list[PollResult])`` per tick, so the models update (and the views repaint)
once per tick however many hosts answered. The GUI thread never calls the network.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, QThreadPool, QTimer, Signal

from hvconsole.monitoring.schedule import BACKOFF_CAP_S, DEFAULT_INTERVAL_S, JITTER, next_delay_s, own_interval
from hvconsole.remote.target import CancelToken

from ..background import TaskRunner

if TYPE_CHECKING:   # the workers (and numpy with them) load with the site, not with the window
    from hvconsole.monitoring.host_worker import HostWorker, PollResult

log = logging.getLogger(__name__)

DEFAULT_BACKOFF_CAP_S = BACKOFF_CAP_S
# Results that arrive within this window are applied together: at most four model
# updates and repaints a second, however many hosts answer, and no later than a quarter
# of a second after the answer.
DEFAULT_TICK_MS = 250
# A host's first answer waits at most this long for others to share its tick: a window
# that has just opened shows each host's tiles as its first poll answers, not a quarter
# of a second later (the monitor spreads new tiles over turns itself).
FIRST_ANSWER_TICK_MS = 16
# How long closing the window may wait for hosts that are in the middle of a poll.
DEFAULT_SHUTDOWN_WAIT_S = 1.0
DEFAULT_JITTER = JITTER


def host_thread_runner(name: str) -> TaskRunner:
    """A runner whose pool has exactly one thread that never expires: every poll of the
    host runs on the same thread, which therefore owns the host's session."""
    pool = QThreadPool()
    pool.setObjectName(f"poll-{name}")
    pool.setMaxThreadCount(1)
    pool.setExpiryTimeout(-1)
    return TaskRunner(pool)


@dataclass(eq=False)
class _HostSlot:
    worker: HostWorker
    runner: Any                        # TaskRunner or InlineTaskRunner
    timer: QTimer
    interval_s: float
    failures: int = 0
    cancel: CancelToken | None = None  # the poll in flight, if any
    answered: bool = False             # a result of this host was handed on already


class PollingService(QObject):
    """Schedules polls of every host and emits their results in batches."""

    batch_ready = Signal(object)        # list[PollResult], oldest first

    def __init__(self, workers: Sequence[HostWorker], *,
                 runner_factory: Callable[[str], Any] = host_thread_runner,
                 interval_s: float = DEFAULT_INTERVAL_S,
                 intervals: dict[str, float] | None = None,
                 backoff_cap_s: float = DEFAULT_BACKOFF_CAP_S,
                 tick_ms: int = DEFAULT_TICK_MS,
                 jitter: float = DEFAULT_JITTER,
                 parent: QObject | None = None):
        super().__init__(parent)
        self._slots: dict[str, _HostSlot] = {}
        self._backoff_cap_s = backoff_cap_s
        self._jitter = jitter
        self._random = random.Random()
        self._pending: list[PollResult] = []
        self._running = False
        self._tick = QTimer(self)
        self._tick.setSingleShot(True)
        self._tick.setInterval(tick_ms)
        self._tick_ms = tick_ms
        self._tick.timeout.connect(self.flush)
        self._runner_factory = runner_factory
        self.add_workers(workers, interval_s=interval_s, intervals=intervals)

    def add_workers(self, workers: Sequence[HostWorker], *, interval_s: float = DEFAULT_INTERVAL_S,
                    intervals: dict[str, float] | None = None) -> None:
        """Poll these hosts too (a window that showed its hosts' last known tiles gets its
        workers once the site is open); they are polled at :meth:`start`, or at once when
        polling has started."""
        for worker in workers:
            if worker.name in self._slots:
                raise ValueError(f"{worker.name} is polled already")
            timer = QTimer(self)
            timer.setSingleShot(True)
            slot = _HostSlot(worker=worker, runner=self._runner_factory(worker.name), timer=timer,
                             interval_s=(intervals or {}).get(worker.name) or own_interval(worker) or interval_s)
            timer.timeout.connect(lambda slot=slot: self._poll(slot))
            self._slots[worker.name] = slot
            if self._running:
                self._poll(slot)

    # -- control -------------------------------------------------------------------------

    @property
    def hosts(self) -> list[str]:
        return list(self._slots)

    def worker(self, host: str) -> HostWorker:
        return self._slots[host].worker

    def is_running(self) -> bool:
        return self._running

    def start(self) -> None:
        """Poll every host now, then on each host's own schedule."""
        self._running = True
        for slot in self._slots.values():
            self._poll(slot)

    def poll_now(self, host: str | None = None) -> None:
        """Poll one host (or all) now, unless a poll of it is already in flight."""
        if not self._running:
            return
        for slot in self._slots.values() if host is None else [self._slots[host]]:
            if slot.cancel is None:
                slot.timer.stop()
                self._poll(slot)

    def in_flight(self, host: str) -> bool:
        return self._slots[host].cancel is not None

    def failures(self, host: str) -> int:
        """Failed polls in a row (drives the backoff)."""
        return self._slots[host].failures

    def due_in_ms(self, host: str) -> int:
        """Milliseconds until the host's next scheduled poll (-1: none scheduled)."""
        return self._slots[host].timer.remainingTime()

    def interval(self, host: str) -> float:
        """Seconds between two polls of ``host`` while it answers."""
        return self._slots[host].interval_s

    def set_interval(self, host: str, interval_s: float) -> None:
        """Poll ``host`` every ``interval_s`` from now on. Only that host's slot changes:
        the other hosts' workers (their history, detector state and session) and
        schedules are untouched, and so is this host's worker. A poll in flight finishes
        and schedules the next one with the new interval; a waiting timer is restarted
        so that a shorter interval is not held up by the old, longer wait."""
        if not (interval_s > 0 and interval_s < float("inf")):
            raise ValueError("the poll interval must be a positive number of seconds")
        slot = self._slots[host]
        old, slot.interval_s = slot.interval_s, float(interval_s)
        # The worker's own interval (its monitoring cost and history spacing) follows in
        # proportion: the demo's worker counts in simulated seconds, N × the real ones.
        worker = slot.worker
        if old > 0 and getattr(worker, "poll_interval_s", None):
            worker.poll_interval_s = worker.poll_interval_s * slot.interval_s / old
        if hasattr(worker, "scheduled_interval_s"):
            worker.scheduled_interval_s = slot.interval_s
        history, lock = getattr(worker, "history", None), getattr(worker, "history_lock", None)
        if history is not None and lock is not None and getattr(worker, "poll_interval_s", None):
            with lock:              # the graphs read it under this lock
                history.set_poll_interval(worker.poll_interval_s)
        if self._running and slot.cancel is None and slot.timer.isActive():
            self._schedule(slot)

    def next_delay(self, host: str) -> float:
        slot = self._slots[host]
        return next_delay_s(slot.interval_s, slot.failures, self._backoff_cap_s)

    def shutdown(self, wait_s: float = DEFAULT_SHUTDOWN_WAIT_S) -> bool:
        """Cancel polls in flight, close each host's session on its own thread, and wait
        at most ``wait_s`` in total. True when every worker thread finished in time;
        a worker stuck in a hung host's network read is left to finish on its own."""
        self._running = False
        self._tick.stop()
        self._pending.clear()
        for slot in self._slots.values():
            slot.timer.stop()
            if slot.cancel is not None:
                slot.cancel.cancel()
            slot.runner.run_last(slot.worker.close)
        deadline = time.monotonic() + wait_s
        clean = True
        for slot in self._slots.values():
            clean = slot.runner.shutdown(deadline) and clean
        if not clean:
            log.warning("closed while some hosts were still answering a poll; not waiting for them")
        return clean

    # -- internals -----------------------------------------------------------------------

    def _poll(self, slot: _HostSlot) -> None:
        if not self._running or slot.cancel is not None:
            return
        token = CancelToken()
        slot.cancel = token
        worker = slot.worker
        slot.runner.submit(lambda: worker.poll_once(token),
                           lambda result: self._on_result(slot, token, result),
                           lambda exc: self._on_error(slot, token, exc))

    def _on_result(self, slot: _HostSlot, token: CancelToken, result: PollResult) -> None:
        if slot.cancel is token:
            slot.cancel = None
        if not self._running:
            return
        slot.failures = 0 if result.snapshot.reachable else slot.failures + 1
        self._pending.append(result)
        first, slot.answered = not slot.answered, True
        if first and (not self._tick.isActive() or self._tick.remainingTime() > FIRST_ANSWER_TICK_MS):
            self._tick.start(min(FIRST_ANSWER_TICK_MS, self._tick_ms))
        elif not self._tick.isActive():
            self._tick.start(self._tick_ms)
        self._schedule(slot)

    def _on_error(self, slot: _HostSlot, token: CancelToken, exc: BaseException) -> None:
        # poll_once does not raise by design; if it does, keep the host on its schedule.
        log.error("poll of %s failed inside the console", slot.worker.name, exc_info=exc)
        if slot.cancel is token:
            slot.cancel = None
        if self._running:
            slot.failures += 1
            self._schedule(slot)

    def _schedule(self, slot: _HostSlot) -> None:
        delay = next_delay_s(slot.interval_s, slot.failures, self._backoff_cap_s)
        if self._jitter:
            delay *= self._random.uniform(1 - self._jitter, 1 + self._jitter)
        slot.timer.start(int(delay * 1000))

    def flush(self) -> None:
        """Hand every result received since the last tick on, as one batch."""
        self._tick.stop()
        if not self._pending:
            return
        batch, self._pending = self._pending, []
        self.batch_ready.emit(batch)
