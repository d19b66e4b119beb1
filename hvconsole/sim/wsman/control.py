"""Fault injection and request counters for one simulated WS-Management endpoint.

Tests and scenarios flip a host into a failure mode (refused, hung, slow, 401, a SOAP fault)
while clients are talking to it; every switch takes effect on the next request or connection.
Both classes are used from many handler threads at once and guard their state with a lock.
"""

from __future__ import annotations

import threading
from collections import Counter, deque
from collections.abc import Callable

MODES = ("none", "refuse", "hang", "slow", "unauthorized")
# Kinds accepted by fault_next; faults.py builds the reply for each.
FAULT_KINDS = frozenset({
    "quota", "invalid_selectors", "access_denied", "encryption_required",
    "operation_timeout", "invalid_parameter",
})


class FaultControl:
    """The failure mode of one endpoint. Thread-safe."""

    def __init__(self, on_listening_change: Callable[[bool], None] | None = None) -> None:
        self._cond = threading.Condition()
        # Serialises mode switches so that closing and reopening the listener happen in the
        # order the switches were made; never held by request handlers.
        self._switch = threading.Lock()
        self._mode = "none"
        self._slow_s = 0.0
        self._queued: deque[str] = deque()
        self._closed = False
        self._on_listening_change = on_listening_change

    @property
    def mode(self) -> str:
        with self._cond:
            return self._mode

    @property
    def slow_seconds(self) -> float:
        with self._cond:
            return self._slow_s

    def clear(self) -> None:
        """Back to normal: reopen the listener, release hung requests, forget queued faults."""
        with self._cond:
            self._queued.clear()
        self._set_mode("none")

    def refuse(self) -> None:
        """Close the listener: connections are refused (ECONNREFUSED) until clear()."""
        self._set_mode("refuse")

    def hang(self) -> None:
        """Accept and read requests but never answer them, until clear() or stop()."""
        self._set_mode("hang")

    def slow(self, seconds: float) -> None:
        """Delay every reply by ``seconds``."""
        if seconds < 0:
            raise ValueError("a delay cannot be negative")
        with self._cond:
            self._slow_s = float(seconds)
        self._set_mode("slow")

    def unauthorized(self) -> None:
        """Answer every request with HTTP 401, as after a password change."""
        self._set_mode("unauthorized")

    def fault_next(self, kind: str, count: int = 1) -> None:
        """The next ``count`` WS-Man requests get the SOAP fault ``kind``."""
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; known: {', '.join(sorted(FAULT_KINDS))}")
        if count < 1:
            raise ValueError("count must be at least 1")
        with self._cond:
            self._queued.extend([kind] * count)

    # -- used by the endpoint ------------------------------------------------------------

    def take_fault(self) -> str | None:
        """Consume one queued fault, if any."""
        with self._cond:
            return self._queued.popleft() if self._queued else None

    def wait_while_hung(self) -> bool:
        """Block while the mode is ``hang``; False if the endpoint is closing meanwhile."""
        with self._cond:
            self._cond.wait_for(lambda: self._closed or self._mode != "hang")
            return not self._closed

    def delay_reply(self) -> bool:
        """Sleep the configured delay while ``slow``; False if the endpoint is closing."""
        with self._cond:
            if self._mode != "slow":
                return not self._closed
            # Waiting on the condition, not sleeping, so that clear() and stop() cut it short.
            self._cond.wait_for(lambda: self._closed or self._mode != "slow", timeout=self._slow_s)
            return not self._closed

    def close(self) -> None:
        """The endpoint is stopping: wake every waiting handler."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def _set_mode(self, mode: str) -> None:
        with self._switch:
            with self._cond:
                previous = self._mode
            if self._on_listening_change is not None and (previous == "refuse") != (mode == "refuse"):
                # Open or close the listener first: if reopening fails (port taken), the mode
                # stays "refuse" and a later clear() tries again, instead of claiming "none"
                # with nothing listening.
                self._on_listening_change(mode != "refuse")
            with self._cond:
                self._mode = mode
                self._cond.notify_all()


class EndpointStats:
    """Counters of what an endpoint received. Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()

    def count(self, name: str) -> None:
        with self._lock:
            self._counts[name] += 1

    def get(self, name: str) -> int:
        with self._lock:
            return self._counts[name]

    @property
    def requests_total(self) -> int:
        """HTTP requests received, authentication round trips included."""
        return self.get("requests_total")

    @property
    def per_action(self) -> dict[str, int]:
        """WS-Man requests by action: Create, Command, Send, Receive, Signal, Delete, Other."""
        with self._lock:
            return {k[7:]: v for k, v in self._counts.items() if k.startswith("action:")}

    def count_action(self, action_name: str) -> None:
        self.count("action:" + action_name)

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)

    def reset(self) -> None:
        with self._lock:
            self._counts.clear()
