"""The simulated site's clock: real time × speed for demos, or moved only by hand in tests.

Everything in the simulated site reads time from one :class:`SimClock`, so a test can run
an hour of a host's life in milliseconds (manual clock) and a demo can run faster than
real time (``speed``). ``now()`` never goes backwards: the running clock is anchored on
``time.monotonic`` rather than the wall clock, which an NTP step could move.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta


class SimClock:
    """A thread-safe source of simulated aware-UTC time.

    ``SimClock(start, speed)`` runs at real time × ``speed`` from ``start`` (default: the
    current UTC time). ``SimClock.manual(start)`` stands still until :meth:`advance` moves
    it. ``advance`` also works on a running clock: it jumps ahead (a demo's fast-forward).
    """

    def __init__(self, start: datetime | None = None, speed: float = 1.0):
        if speed < 0:
            raise ValueError("speed must not be negative")
        self._start = _aware(start) if start is not None else datetime.now(UTC)
        self._speed = float(speed)
        self._anchor = time.monotonic()
        self._offset_s = 0.0          # advance() jumps, added on top of the running time
        self._manual = False
        self._lock = threading.Lock()

    @classmethod
    def manual(cls, start: datetime | None = None) -> SimClock:
        """A clock that only moves through :meth:`advance`: deterministic tests."""
        clock = cls(start, speed=0.0)
        clock._manual = True
        return clock

    @property
    def is_manual(self) -> bool:
        return self._manual

    @property
    def speed(self) -> float:
        return self._speed

    @property
    def start(self) -> datetime:
        return self._start

    def elapsed(self) -> float:
        """Simulated seconds since ``start``."""
        with self._lock:
            return self._elapsed_locked()

    def now(self) -> datetime:
        """The current simulated time (aware UTC)."""
        return self._start + timedelta(seconds=self.elapsed())

    def advance(self, seconds: float) -> datetime:
        """Move the clock forward by ``seconds`` and return the new time."""
        if seconds < 0:
            raise ValueError("a clock never goes backwards")
        with self._lock:
            self._offset_s += float(seconds)
            return self._start + timedelta(seconds=self._elapsed_locked())

    def _elapsed_locked(self) -> float:
        running = 0.0 if self._manual else (time.monotonic() - self._anchor) * self._speed
        return running + self._offset_s

    def __repr__(self) -> str:
        mode = "manual" if self._manual else f"speed={self._speed:g}"
        return f"SimClock({mode}, now={self.now().isoformat()})"


def _aware(dt: datetime) -> datetime:
    """Naive datetimes are taken as UTC, as everywhere in the project."""
    if dt.tzinfo is None:
        return dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC)
