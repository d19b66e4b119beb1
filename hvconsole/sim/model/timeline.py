"""The timeline a simulated site runs on: its clock, and the actions that move it forward.

Time inside the model is a float ``t``: simulated seconds since the site's start. Every
change (a VM finishing its boot, a scripted freeze, a host coming back from a reboot) is
an action on one timeline, run in (time, order) sequence when somebody looks at the site
(:meth:`Timeline.advance`). Between looks nothing is computed: load curves are pure
functions of time (``load``). So a 50-host site idles for free, and the same seed
gives the same history whether it was polled every 2 s or once an hour.

Hosts and VMs know the timeline they run on (this class), not the site that lists them
(:class:`~.site.SimSite`, a timeline with an inventory), so the model imports in one direction.
"""

from __future__ import annotations

import heapq
import itertools
import random
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import ParamSpec

from .clock import SimClock
from .load import mix64, text_key

# What an action returns is ignored: a VM or host method that reports its own result
# (a bool, the seconds a migration takes) can be scheduled as it is.
Action = Callable[[float], object]

_P = ParamSpec("_P")


def action_calling(fn: Callable[_P, object], /, *args: _P.args, **kwargs: _P.kwargs) -> Action:
    """An action that calls ``fn(*args, **kwargs)`` when its time comes, the time unused.

    The arguments are bound now, so a loop can schedule one action per item (a closure
    would see the loop variable's last value)."""
    return lambda _t: fn(*args, **kwargs)


class Timeline:
    """A clock plus the actions scheduled on it. All reads and changes hold :attr:`lock` (an RLock)."""

    def __init__(self, clock: SimClock | None = None, *, seed: int = 1, utc_offset_h: float = 1.0):
        self.clock = clock if clock is not None else SimClock()
        self.seed = seed
        self.start: datetime = _whole_ms(self.clock.now())
        self.utc_offset_h = utc_offset_h     # the site's local time drives the workday curve
        self.lock = threading.RLock()
        self._t = 0.0
        self._queue: list[tuple[float, int, Action]] = []
        self._order = itertools.count()
        self._running_action = False

    # -- time ---------------------------------------------------------------------------

    @property
    def t(self) -> float:
        """Simulated seconds since start up to which the timeline has been run."""
        return self._t

    def t_of(self, when: datetime) -> float:
        return (when - self.start).total_seconds()

    def time_of(self, t: float) -> datetime:
        return self.start + timedelta(seconds=t)

    def hour_local(self, t: float) -> float:
        dt = self.time_of(t) + timedelta(hours=self.utc_offset_h)
        return dt.hour + dt.minute / 60.0 + dt.second / 3600.0

    def now(self) -> datetime:
        """The clock's time after running the timeline up to it."""
        return self.time_of(self.advance())

    def advance(self) -> float:
        """Run every action due up to the clock's current time; return that time."""
        return self.advance_to(self.t_of(self.clock.now()))

    def advance_to(self, t: float) -> float:
        with self.lock:
            if self._running_action:
                # Called from inside an action (a VM method touching the site): the
                # timeline is already being run, and must not jump ahead of that action.
                return self._t
            self._running_action = True
            try:
                while self._queue and self._queue[0][0] <= t:
                    when, _, action = heapq.heappop(self._queue)
                    self._t = max(self._t, when)
                    action(self._t)
                self._t = max(self._t, t)
            finally:
                self._running_action = False
            return self._t

    @contextmanager
    def acting(self) -> Iterator[float]:
        """Hold the lock with the timeline run up to now; yields the current ``t``."""
        with self.lock:
            yield self.advance()

    # -- the timeline -------------------------------------------------------------------

    def at(self, t: float, action: Action) -> None:
        """Run ``action(t)`` at simulated second ``t`` (never in the past)."""
        with self.lock:
            heapq.heappush(self._queue, (max(t, self._t), next(self._order), action))

    def after(self, delay_s: float, action: Action) -> None:
        self.at(self._t + max(0.0, delay_s), action)

    # -- randomness ---------------------------------------------------------------------

    def rng(self, *keys: int | str) -> random.Random:
        """A private RNG for one purpose: draws for one VM never shift another's."""
        h = mix64(self.seed)
        for k in keys:
            h = mix64(h ^ (k if isinstance(k, int) else text_key(k)))
        return random.Random(h)


def _whole_ms(dt: datetime) -> datetime:
    """Times on the wire have millisecond precision; so does the site's origin, so that an
    event at a whole-millisecond ``t`` round-trips through an ISO bookmark exactly."""
    return dt.replace(microsecond=dt.microsecond // 1000 * 1000)
