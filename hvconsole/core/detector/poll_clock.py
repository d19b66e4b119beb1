"""The detector's time for one host's polls: ``polled_at``, minus the console's clock steps.

The rules measure runs ("heartbeat lost for 2 min", "unreachable for 30 s", "uptime not
advancing for 25 s") by the spacing of a host's polls. ``polled_at`` is the console's wall
clock, which can be stepped while it runs (core.timeutil says the rule). Taken as it is, a
step back would stop the detector until the clock caught up (every poll "not newer"), and a
step forward of an hour would turn a heartbeat lost for two polls into one lost for an
hour. So each host's polls get a time of their own that advances by the spacing the
console really watched:

* a plausible spacing counts as it is: up to ``WATCHED_SPACING_S`` (the poll interval
  backed off to its cap, plus the deadline), up to ``SPACING_GROWTH`` times the previous
  one, or any the host's own clock (``host_time``) agrees with (a host the inventory polls
  once an hour; the first spacing, with nothing to compare it to, too);
* a longer one, or a step back by more than ``CLOCK_STEP_BACK_S``, counts as the spacing
  the host's clock measured between the two polls when that one is plausible, else as the
  previous counted spacing: a jump of the console's clock alone is no time watched, and a
  real problem is still found once it has lasted the rule's time after it;
* a poll stamped no later than the previous one, and not earlier by more than
  ``CLOCK_STEP_BACK_S``, is a duplicate or out of order and is ignored.

The detector's time equals ``polled_at`` until the first step; after one it runs apart from
the wall clock by the steps' sum, so the clock times in a finding's evidence lines are on
the clock as it was before the step, while first/last seen stay the poll's own ``polled_at``.
A time written on the console's clock (a maintenance window's end) is taken onto the
detector's time by :meth:`PollClock.offset`.
"""

from __future__ import annotations

from ..timeutil import CLOCK_STEP_BACK_S, WATCHED_SPACING_S

# A spacing counted when nothing better is known yet (a jump before any spacing was seen).
DEFAULT_SPACING_S = 5.0
# Backing off doubles the spacing; three times the previous one is still the same watch.
SPACING_GROWTH = 3.0
# The console's and the host's clock measure a spacing alike within this (as the uptime
# rule's clock-jump check, vm_track.CLOCK_JUMP_S): then real time passed, as long as it was.
CLOCKS_AGREE_S = 15.0


class PollClock:
    __slots__ = ("t", "wall", "host", "spacing", "steps", "before")

    def __init__(self) -> None:
        self.t = float("-inf")          # detector time of the newest poll taken
        self.wall: float | None = None  # its polled_at
        self.host: float | None = None  # its host_time, when the poll carried one
        self.spacing: float | None = None   # the previous counted spacing
        self.steps = 0                  # polls at which the console's clock had jumped
        self.before: float | None = None    # wall - t before the newest poll's jump, if it had one

    def advance(self, wall: float, host: float | None) -> float | None:
        """The detector time of a poll stamped ``wall`` (host clock ``host``), or None when
        the poll is to be ignored (see the module docstring)."""
        last = self.wall
        self.before = None
        if last is None:
            self.t = wall
        else:
            dt = wall - last
            if -CLOCK_STEP_BACK_S <= dt <= 0:
                return None
            prev = self.spacing
            h = None if host is None or self.host is None else host - self.host
            limit = WATCHED_SPACING_S if prev is None else max(WATCHED_SPACING_S, SPACING_GROWTH * prev)
            agree = h is not None and abs(dt - h) <= CLOCKS_AGREE_S
            if dt > 0 and (dt <= limit or agree or (prev is None and h is None)):
                step = dt
            else:
                # The console's clock jumped: the host's clock says how long it really was.
                self.steps += 1
                self.before = last - self.t
                fallback = DEFAULT_SPACING_S if prev is None else prev
                step = h if h is not None and 0 < h <= limit else fallback
            self.spacing = step
            self.t += step
        self.wall, self.host = wall, host
        return self.t

    def offset(self, written: float | None) -> float:
        """``polled_at - t`` for a time the console's clock gave at ``written`` (None: not
        known, taken as now). That is the offset of the newest poll, except for a time
        written between the previous poll and this one when the console's clock jumped in
        that gap: written on the clock before the jump, it is on the offset before it. The
        clock before the jump would read ``t + before`` now; a time written after the
        previous poll lies below that on the old clock and near ``wall`` on the new one."""
        assert self.wall is not None, "no poll taken yet"
        now = self.wall - self.t
        before = self.before
        if before is None or written is None:
            return now
        old_wall = self.t + before
        # Stepped forward: the old clock's times are the lower ones (nearer old_wall than
        # wall); stepped back: the new clock's are no later than wall.
        on_old = written < (self.wall + old_wall) / 2 if self.wall > old_wall else written > self.wall
        return before if on_old else now
