"""The headless poller: the window's poll workers, without the window.

Each host gets a :class:`hvconsole.monitoring.host_worker.HostWorker` (the very class the window
uses: collector, freeze detector, compliance, maintenance feed; the module is Qt-free,
which a test checks) and one thread of its own that polls it every ``interval_s`` (or the
host's own interval from the inventory, carried by its worker) while it answers and backs
off exponentially, capped, while it does not (the window's schedule). The newest
:class:`~hvconsole.monitoring.host_worker.PollResult` of every host is kept for the metrics
endpoint; a :class:`~hvconsole.core.historydb.HistoryWriter`, when given, gets every
snapshot and the findings that changed.

Stopping cancels the polls in flight (every remote call has a deadline and honours the
cancel token), closes each host's session on its own thread and waits a bounded time.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from hvconsole.monitoring.schedule import DEFAULT_INTERVAL_S, JITTER, next_delay_s, own_interval
from hvconsole.remote.target import CancelToken

log = logging.getLogger(__name__)



@dataclass
class HostState:
    """What the agent knows of one host between scrapes."""

    name: str
    result: Any = None              # newest PollResult (None before the first poll ends)
    finished_at: float | None = None  # wall-clock epoch seconds of that poll's end
    polls: int = 0
    failures_total: int = 0
    failures_in_row: int = 0


class AgentRunner:
    """Polls every worker on its own thread. ``workers`` are HostWorker-like objects
    (``name``, ``poll_once(cancel)``, ``close()``)."""

    def __init__(self, workers: Sequence[Any], *, interval_s: float = DEFAULT_INTERVAL_S,
                 history: Any = None, on_result: Callable[[Any], None] | None = None,
                 wall_clock: Callable[[], float] = time.time):
        self.interval_s = interval_s
        self._workers = list(workers)
        self._history = history
        self._on_result = on_result
        self._wall_clock = wall_clock
        self._lock = threading.Lock()
        self._states = {w.name: HostState(w.name) for w in self._workers}
        self._stop = threading.Event()
        self._tokens: dict[str, CancelToken] = {}
        self._threads: list[threading.Thread] = []
        self._random = random.Random()

    @property
    def hosts(self) -> list[str]:
        return [w.name for w in self._workers]

    def states(self) -> list[HostState]:
        """A consistent copy of every host's state (for one scrape)."""
        with self._lock:
            return [HostState(s.name, s.result, s.finished_at, s.polls, s.failures_total,
                              s.failures_in_row) for s in self._states.values()]

    def start(self) -> None:
        for worker in self._workers:
            t = threading.Thread(target=self._loop, args=(worker,), name=f"agent-poll-{worker.name}",
                                 daemon=True)
            self._threads.append(t)
            t.start()

    def stop(self, wait_s: float = 5.0) -> bool:
        """Cancel, close sessions, wait at most ``wait_s``. True when every thread ended."""
        self._stop.set()
        with self._lock:
            for token in self._tokens.values():
                token.cancel()
        deadline = time.monotonic() + wait_s
        for t in self._threads:
            t.join(max(0.0, deadline - time.monotonic()))
        return not any(t.is_alive() for t in self._threads)

    def interval_for(self, worker: Any) -> float:
        """The host's own interval (the inventory's, on the worker) or the agent's."""
        return own_interval(worker) or self.interval_s

    def poll_all_once(self) -> None:
        """One poll of every host, in this thread (tests and ``--once``)."""
        for worker in self._workers:
            self._poll(worker)

    # -- per host thread ----------------------------------------------------------------

    def _loop(self, worker: Any) -> None:
        try:
            while not self._stop.is_set():
                self._poll(worker)
                with self._lock:
                    failures = self._states[worker.name].failures_in_row
                delay = next_delay_s(self.interval_for(worker), failures)
                delay *= self._random.uniform(1 - JITTER, 1 + JITTER)
                if self._stop.wait(delay):
                    break
        finally:
            try:
                worker.close()
            except Exception:
                log.debug("%s: closing the session failed", worker.name, exc_info=True)

    def _poll(self, worker: Any) -> None:
        token = CancelToken()
        with self._lock:
            self._tokens[worker.name] = token
        try:
            result = worker.poll_once(token)
        except Exception:   # poll_once does not raise by design; keep the schedule if it does
            log.exception("%s: poll failed inside the agent", worker.name)
            with self._lock:
                st = self._states[worker.name]
                st.failures_total += 1
                st.failures_in_row += 1
            return
        finally:
            with self._lock:
                self._tokens.pop(worker.name, None)
        reachable = bool(result.snapshot.reachable)
        with self._lock:
            st = self._states[worker.name]
            st.result = result
            st.finished_at = self._wall_clock()
            st.polls += 1
            if reachable:
                st.failures_in_row = 0
            else:
                st.failures_total += 1
                st.failures_in_row += 1
        if self._history is not None:
            self._history.add(result.snapshot, result.changed_findings)
        if self._on_result is not None:
            self._on_result(result)

