"""Recording a trace: every host polled on its own thread with its own Collector, every
snapshot written as one JSON line, in ``polled_at`` order, flushed as it goes.

Pollers finish in any order, so the writer holds each snapshot for a short reorder window
before writing it: a snapshot stamped at time t reaches the queue a moment after t (the
collector stamps ``polled_at`` as it returns), so once the clock has passed t + window
nothing stamped earlier can still arrive. A snapshot that arrives later than that anyway
(a stalled machine) is still written, and counted in ``late``; per-host order always
holds, because one host's polls are sequential.
"""

from __future__ import annotations

import heapq
import itertools
import math
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import IO, Protocol

from hvconsole.core.snapshot import Snapshot
from hvconsole.core.timeutil import utcnow
from hvconsole.core.trace import write_snapshot

from .target import CancelToken, Target

REORDER_WINDOW_S = 1.0


@dataclass
class RecordStats:
    polls: dict[str, int] = field(default_factory=dict)        # per host
    unreachable: dict[str, int] = field(default_factory=dict)  # per host
    lines: int = 0
    late: int = 0     # written after a snapshot stamped later (outside the reorder window)


class Pollable(Protocol):
    """What the recorder asks of a collector (``remote.collector.Collector`` is one; the CLI
    wraps it to count polls for its progress line)."""

    @property
    def target(self) -> Target: ...

    @property
    def timeout_s(self) -> float: ...

    def poll(self, cancel: CancelToken | None = None) -> Snapshot: ...


class TraceRecorder:
    """Polls ``collectors`` every ``interval_s`` for ``duration_s`` and writes the trace."""

    def __init__(self, collectors: Sequence[Pollable], out: IO[str], *, interval_s: float,
                 reorder_window_s: float = REORDER_WINDOW_S,
                 clock: Callable[[], datetime] = utcnow):
        if interval_s <= 0:
            raise ValueError("the interval must be positive")
        self._collectors = list(collectors)
        self._out = out
        self._interval_s = interval_s
        self._window = timedelta(seconds=reorder_window_s)
        self._clock = clock
        self._queue: queue.Queue[Snapshot | None] = queue.Queue()
        self._heap: list[tuple[datetime, int, Snapshot]] = []
        self._seq = itertools.count()
        self._last_written: datetime | None = None
        self.stats = RecordStats()

    def run(self, duration_s: float, cancel: CancelToken | None = None) -> RecordStats:
        """Record until ``duration_s`` has passed (polls started before then complete) or
        ``cancel`` is set (in-flight polls stop at their next request)."""
        cancel = cancel or CancelToken()
        start = time.monotonic()
        end = start + duration_s
        threads = [threading.Thread(target=self._poll_loop, args=(c, start, end, cancel),
                                    name=f"hvc-record-{c.target.name}", daemon=True)
                   for c in self._collectors]
        for t in threads:
            t.start()
        running = len(threads)
        try:
            while running:
                try:
                    item = self._queue.get(timeout=0.2)
                except queue.Empty:
                    pass   # nothing new; held snapshots may still have become due
                else:
                    if item is None:
                        running -= 1
                    else:
                        self._hold(item)
                self._write_ready(final=False)
        except BaseException:
            cancel.cancel()   # Ctrl+C: stop the pollers, keep what was recorded
            raise
        finally:
            self._join(threads)
            self._drain_queue()
            self._write_ready(final=True)
        return self.stats

    # -- pollers ------------------------------------------------------------------------

    def _poll_loop(self, collector: Pollable, start: float, end: float, cancel: CancelToken) -> None:
        try:
            k = 0
            while True:
                due = start + k * self._interval_s
                if due >= end or cancel.cancelled:
                    break
                if cancel.wait(due - time.monotonic()):
                    break
                snap = collector.poll(cancel)
                self._queue.put(snap)
                # Slots missed while a host hung are skipped, not made up in a burst of
                # back-to-back polls of a host that has just come back.
                k = max(k + 1, math.ceil((time.monotonic() - start) / self._interval_s))
        finally:
            self._queue.put(None)   # this host is done

    def _join(self, threads: list[threading.Thread]) -> None:
        limit = max((c.timeout_s for c in self._collectors), default=0.0) + 10.0
        deadline = time.monotonic() + limit
        for t in threads:
            t.join(max(0.0, deadline - time.monotonic()))

    # -- writer -------------------------------------------------------------------------

    def _hold(self, snap: Snapshot) -> None:
        heapq.heappush(self._heap, (snap.polled_at, next(self._seq), snap))
        self.stats.polls[snap.host] = self.stats.polls.get(snap.host, 0) + 1
        if not snap.reachable:
            self.stats.unreachable[snap.host] = self.stats.unreachable.get(snap.host, 0) + 1

    def _drain_queue(self) -> None:
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return
            if isinstance(item, Snapshot):
                self._hold(item)

    def _write_ready(self, *, final: bool) -> None:
        horizon = self._clock() - self._window
        wrote = False
        while self._heap and (final or self._heap[0][0] <= horizon):
            polled_at, _, snap = heapq.heappop(self._heap)
            if self._last_written is not None and polled_at < self._last_written:
                self.stats.late += 1
            else:
                self._last_written = polled_at
            write_snapshot(self._out, snap)
            self.stats.lines += 1
            wrote = True
        if wrote:
            self._out.flush()
