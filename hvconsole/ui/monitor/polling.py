"""The polling service: one thread per host that keeps its own schedule, results coalesced
into one batch per tick.

Each host gets its own single-thread pool (so its Collector and WinRM session stay on one
thread for the life of the window) and its own schedule: every ``interval_s`` while it
answers, with capped exponential backoff while it does not. The host's thread waits out
that interval itself (a condition with a timeout), polls, and waits again; the GUI thread
only moves the deadline (:meth:`PollingService.poll_now`, :meth:`~PollingService.set_interval`,
:meth:`~PollingService.shutdown`) and wakes it. At most one poll per host is in flight, so
a hung host ties up only its own thread; the others keep updating.

Why the GUI thread keeps no timer per host and receives no call per poll: with 50 hosts
every 5 s that was ten timer events and ten queued results a second, each a call from Qt
into Python that waits for the interpreter lock in a process of 50 busy threads (about a
third of the GUI thread's steady-state CPU). Now a host's thread appends its result to a
locked list, and only the result that finds no tick asked for posts one queued call; the
GUI thread starts the tick and hands the list on as one ``batch_ready(list[PollResult])``,
so the models update (and the views repaint) once per tick however many hosts answered.
No lock a host's thread holds during a poll is ever taken on the GUI thread, and no host's
poll waits for another's. The GUI thread never calls the network.

A runner without a thread pool (:class:`~hvconsole.ui.background.InlineTaskRunner`, for
tests) polls on the GUI thread instead, from a timer per host, on the same schedule.
"""

from __future__ import annotations

import atexit
import logging
import math
import random
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, QThreadPool, QTimer, Signal, Slot

from hvconsole.monitoring.schedule import BACKOFF_CAP_S, DEFAULT_INTERVAL_S, JITTER, next_delay_s, own_interval
from hvconsole.remote.target import CancelToken

from ..background import TaskRunner, park

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
# The very first answer of all is handed on at the next event-loop turn: an empty window
# has nothing else to show, and waiting the 16 ms for company only put its tiles off.
FIRST_OF_ALL_TICK_MS = 0
# How long closing the window may wait for hosts that are in the middle of a poll.
DEFAULT_SHUTDOWN_WAIT_S = 1.0
DEFAULT_JITTER = JITTER


def host_thread_runner(name: str) -> TaskRunner:
    """A runner whose pool has exactly one thread that never expires: the host's loop runs
    on it for the life of the service, so that thread owns the host's session."""
    pool = QThreadPool()
    pool.setObjectName(f"poll-{name}")
    pool.setMaxThreadCount(1)
    pool.setExpiryTimeout(-1)
    return TaskRunner(pool)


@dataclass(eq=False)
class _HostSlot:
    """One host's schedule. Its fields change under ``wake``'s lock, which is held only
    while they change (never during a poll), by the host's thread and the GUI thread."""

    worker: HostWorker
    runner: Any                        # TaskRunner (its pool runs the loop) or InlineTaskRunner
    interval_s: float
    failures: int = 0
    cancel: CancelToken | None = None  # the poll in flight, if any
    answered: bool = False             # a result of this host was handed on already
    due: float | None = None           # time.monotonic() of the next poll; None: none scheduled
    stopped: bool = False
    looping: bool = False              # the host's loop was started on its pool
    timer: QTimer | None = None        # runners without a pool: polls from the GUI thread
    close_on_stop: bool = True         # the loop closes the session as it ends (not at exit)
    wake: threading.Condition = field(default_factory=threading.Condition)


class _TickRelay(QObject):
    """What a host's thread emits on to ask for a tick, instead of the service itself.
    PySide6 lets the interpreter lock go during an emit, so a service deleted on the GUI
    thread (its parent gone without a shutdown, or after a shutdown that stopped waiting)
    could be torn down while a host's thread was inside an emit on it: a crash (seen
    under stress). A flag closed under a lock by the service's ``destroyed`` does not
    help: that runs when the service is half torn down already. The relay has no parent
    and lives as long as anything (a host's loop among them) holds the service's Python
    object, so it is never deleted during an emit; when the service goes, Qt drops the
    queued connection under its own lock, and a tick asked for then goes nowhere. (It
    may be let go on a host's thread: it only sends, so no event of it is lost.)"""

    # It carries nothing: queued signals that carry Python objects between threads are
    # where PySide6 6.8+ has crashed (see background.TaskRunner); the results wait in a list.
    tick_wanted = Signal()


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
        self._running = False
        # Results not handed on yet (oldest first), and the tick already asked for since
        # the last batch (ms; None: none). Both under this lock, held only to read or
        # append: a host's thread never holds it during a poll.
        self._pending_lock = threading.Lock()
        self._pending: list[PollResult] = []
        self._asked_ms: int | None = None
        self._any_answered = False         # a first answer was queued (FIRST_OF_ALL_TICK_MS)
        self._tick = QTimer(self)
        self._tick.setSingleShot(True)
        self._tick_ms = tick_ms
        self._tick.timeout.connect(self.flush)
        self._relay = _TickRelay()
        self._relay.tick_wanted.connect(self._arm_tick)
        # A service deleted without shutdown (its parent went) must not leave host threads
        # waiting out their intervals: destroying a pool waits for its thread. The hook
        # holds the slots, not the service, which is gone by then.
        self.destroyed.connect(lambda *_, slots=self._slots: _forsake(slots.values()))
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
            slot = _HostSlot(worker=worker, runner=self._runner_factory(worker.name),
                             interval_s=(intervals or {}).get(worker.name) or own_interval(worker) or interval_s)
            if not isinstance(getattr(slot.runner, "pool", None), QThreadPool):
                slot.timer = QTimer(self)
                slot.timer.setSingleShot(True)
                slot.timer.timeout.connect(lambda slot=slot: self._poll_here(slot))
            self._slots[worker.name] = slot
            _LIVE.add(slot)
            if self._running:
                self._poll_soon(slot)

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
            self._poll_soon(slot)

    def poll_now(self, host: str | None = None) -> None:
        """Poll one host (or all) now, unless a poll of it is already in flight."""
        if not self._running:
            return
        for slot in self._slots.values() if host is None else [self._slots[host]]:
            self._poll_soon(slot)

    def in_flight(self, host: str) -> bool:
        return self._slots[host].cancel is not None

    def failures(self, host: str) -> int:
        """Failed polls in a row (drives the backoff)."""
        return self._slots[host].failures

    def due_in_ms(self, host: str) -> int:
        """Milliseconds until the host's next scheduled poll (-1: none scheduled)."""
        due = self._slots[host].due
        return -1 if due is None else max(0, math.ceil((due - time.monotonic()) * 1000))

    def interval(self, host: str) -> float:
        """Seconds between two polls of ``host`` while it answers."""
        return self._slots[host].interval_s

    def set_interval(self, host: str, interval_s: float) -> None:
        """Poll ``host`` every ``interval_s`` from now on. Only that host's slot changes:
        the other hosts' workers (their history, detector state and session) and
        schedules are untouched, and so is this host's worker. A poll in flight finishes
        and schedules the next one with the new interval; a waiting host is woken and
        waits the new delay from now, so that a shorter interval is not held up by the
        old, longer wait."""
        if not (interval_s > 0 and interval_s < float("inf")):
            raise ValueError("the poll interval must be a positive number of seconds")
        slot = self._slots[host]
        old = slot.interval_s
        with slot.wake:
            slot.interval_s = float(interval_s)
            now = time.monotonic()
            # A due time already reached is a poll asked for now (poll_now, start, a host
            # added) that the host's thread has not begun yet: it stays due.
            if self._running and slot.cancel is None and slot.due is not None and slot.due > now:
                slot.due = now + self._delay_s(slot)
                slot.wake.notify()
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
        self._rearm(slot)

    def next_delay(self, host: str) -> float:
        slot = self._slots[host]
        return next_delay_s(slot.interval_s, slot.failures, self._backoff_cap_s)

    def shutdown(self, wait_s: float = DEFAULT_SHUTDOWN_WAIT_S) -> bool:
        """Cancel polls in flight, close each host's session on its own thread, and wait
        at most ``wait_s`` in total. True when every worker thread finished in time;
        a worker stuck in a hung host's network read is left to finish on its own."""
        self._running = False
        self._tick.stop()
        with self._pending_lock:
            self._pending.clear()
            self._asked_ms = None
        _stop(self._slots.values())
        for slot in self._slots.values():
            if slot.timer is not None:
                slot.timer.stop()
            if not slot.looping:    # a running loop closes the session itself when it ends
                slot.runner.run_last(slot.worker.close)
        deadline = time.monotonic() + wait_s
        clean = True
        for slot in self._slots.values():
            clean = slot.runner.shutdown(deadline) and clean
        if not clean:
            log.warning("closed while some hosts were still answering a poll; not waiting for them")
        return clean

    def flush(self) -> None:
        """Hand every result received since the last tick on, as one batch."""
        self._tick.stop()
        with self._pending_lock:
            batch, self._pending = self._pending, []
            self._asked_ms = None
        if batch:
            self.batch_ready.emit(batch)

    # -- scheduling (the host's thread, or the GUI thread for a runner without a pool) --

    def _delay_s(self, slot: _HostSlot) -> float:
        # Under the slot's lock (its failures and interval).
        delay = next_delay_s(slot.interval_s, slot.failures, self._backoff_cap_s)
        if self._jitter:
            delay *= self._random.uniform(1 - self._jitter, 1 + self._jitter)
        return delay

    def _begin(self, slot: _HostSlot) -> CancelToken | None:
        """The token of a poll starting now; None when the host is stopped or busy.
        Under the slot's lock."""
        if slot.stopped or slot.cancel is not None:
            return None
        slot.cancel, slot.due = CancelToken(), None
        return slot.cancel

    def _finished(self, slot: _HostSlot, token: CancelToken, result: PollResult | None,
                  error: BaseException | None) -> None:
        """A poll ended: count it, schedule the next one, and queue its result."""
        if error is not None:
            # poll_once does not raise by design; if it does, keep the host on its schedule.
            log.error("poll of %s failed inside the console", slot.worker.name, exc_info=error)
        with slot.wake:
            if slot.cancel is token:
                slot.cancel = None
            if slot.stopped:
                return
            if result is None:
                slot.failures += 1
            else:
                slot.failures = 0 if result.snapshot.reachable else slot.failures + 1
            slot.due = time.monotonic() + self._delay_s(slot)
            first = result is not None and not slot.answered
            if result is not None:
                slot.answered = True
        if result is not None:
            self._queue(result, first)

    def _queue(self, result: PollResult, first: bool) -> None:
        wanted = min(FIRST_ANSWER_TICK_MS, self._tick_ms) if first else self._tick_ms
        with self._pending_lock:
            if not self._running:
                return
            if first and not self._any_answered:
                self._any_answered = True
                wanted = min(FIRST_OF_ALL_TICK_MS, wanted)
            self._pending.append(result)
            post = self._asked_ms is None or wanted < self._asked_ms
            if post:
                self._asked_ms = wanted
        if post:
            self._relay.tick_wanted.emit()

    @Slot()
    def _arm_tick(self) -> None:
        # On the GUI thread, once per tick (and once more for a host's first answer).
        with self._pending_lock:
            wanted = self._asked_ms if self._pending and self._running else None
        if wanted is not None and (not self._tick.isActive() or self._tick.remainingTime() > wanted):
            self._tick.start(wanted)

    # -- a host's own thread -------------------------------------------------------------

    def _loop(self, slot: _HostSlot) -> None:
        """Wait for the host's next poll, poll, repeat; close its session when stopped."""
        try:
            while True:
                with slot.wake:
                    while not slot.stopped:
                        wait_s = None if slot.due is None else slot.due - time.monotonic()
                        if wait_s is not None and wait_s <= 0:
                            break
                        slot.wake.wait(wait_s)
                    token = self._begin(slot)
                if token is None:
                    return
                try:
                    result, error = slot.worker.poll_once(token), None
                except Exception as exc:
                    result, error = None, exc
                self._finished(slot, token, result, error)
                del result, error   # not kept alive (its rows, its snapshot) while the host waits
        finally:
            try:
                if slot.close_on_stop:
                    slot.worker.close()
            except Exception:   # best effort: polling is over
                log.debug("closing %s's session failed", slot.worker.name, exc_info=True)

    # -- the GUI thread ------------------------------------------------------------------

    def _poll_soon(self, slot: _HostSlot) -> None:
        """Poll ``slot``'s host now, unless a poll of it is in flight."""
        with slot.wake:
            if slot.stopped or slot.cancel is not None:
                return
            slot.due = time.monotonic()
            slot.wake.notify()
        if slot.timer is not None:
            slot.timer.stop()
            self._poll_here(slot)
        elif not slot.looping:
            slot.looping = True
            slot.runner.pool.start(lambda slot=slot: self._loop(slot))

    def _rearm(self, slot: _HostSlot) -> None:
        """Runners without a pool: start the host's timer for its next poll."""
        if slot.timer is None:
            return
        due = slot.due
        if due is None or slot.stopped or slot.cancel is not None:
            slot.timer.stop()
        else:
            slot.timer.start(max(0, math.ceil((due - time.monotonic()) * 1000)))

    def _poll_here(self, slot: _HostSlot) -> None:
        if not self._running:
            return
        with slot.wake:
            token = self._begin(slot)
        if token is None:
            return
        worker = slot.worker

        def done(result: PollResult | None, error: BaseException | None) -> None:
            self._finished(slot, token, result, error)
            self._rearm(slot)
        slot.runner.submit(lambda: worker.poll_once(token), lambda result: done(result, None),
                           lambda exc: done(None, exc))


def _forsake(slots: Iterable[_HostSlot]) -> None:
    """The service was deleted without shutdown: stop its hosts, and park their pools.
    Once nothing on the GUI side holds the service, the host loops' runnables do, and
    the last loop to end lets it go on its own pool thread, pools and all: that thread
    would destroy its own pool, which waits for its threads, itself among them, for good.
    Parked, each pool is let go on the GUI thread once its thread is idle."""
    slots = list(slots)
    _stop(slots)
    for slot in slots:
        if slot.looping:
            park(slot.runner.pool)


# Every host slot not collected yet, for _stop_at_exit.
_LIVE: weakref.WeakSet[_HostSlot] = weakref.WeakSet()


def _stop(slots: Iterable[_HostSlot], *, close: bool = True) -> None:
    """Stop the hosts' schedules: cancel polls in flight and wake waiting threads, which
    end their loops (closing their sessions unless ``close`` is false) instead of polling
    again."""
    for slot in slots:
        with slot.wake:
            if not slot.stopped:
                slot.close_on_stop = close
            slot.stopped, slot.due = True, None
            if slot.cancel is not None:
                slot.cancel.cancel()
            slot.wake.notify()


@atexit.register
def _stop_at_exit() -> None:
    # A process ending without shutdown (a script, a test that failed half-way, a window
    # whose shutdown raised) destroys the pools, and destroying a pool waits for its
    # thread: a host's loop waiting out its interval would hold the exit for good. Wake
    # them to end now, without a last network call to close each session (a session left
    # open expires on the host, as it did before the loops).
    _stop(list(_LIVE), close=False)
