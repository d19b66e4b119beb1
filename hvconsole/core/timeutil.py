"""Times as the contract writes them: ISO-8601 UTC with a ``Z``.

Windows PowerShell 5.1 serialises DateTime as ``"\\/Date(ms)\\/"`` (sometimes with a zone
offset suffix, ``\\/Date(ms+0100)\\/``); the parser accepts that form too.

The console's own clock. ``polled_at`` is the console's wall clock when the poll was made
(:func:`utcnow`): it is what the window shows and what the history file stores. That clock
can be stepped either way while the console runs (NTP after a resume from sleep, a VM's
clock corrected, an admin fixing the time), so nothing that orders or spaces polls trusts
it blindly. The rule, kept where each part lives:

* when to poll next, timeouts and "how long did this take" use ``time.monotonic()``
  (the schedulers' timers, the poll deadline, ``poll_ms``);
* a host's polls reach each consumer in the order they were made (one worker per host),
  so a poll stamped *earlier* than the previous one of the same host by more than
  :data:`CLOCK_STEP_BACK_S` means the console's clock went back: the in-memory history
  moves what it holds back by the step and carries on (core.history), the freeze detector
  counts the step as one ordinary poll spacing (core.detector.poll_clock). A poll earlier
  by less is out of order and dropped (counted): a freeze of at most that long;
* a forward step looks like a silence. The host's own clock (``host_time``) tells the two
  apart: when it says only an ordinary spacing passed, the console's clock jumped, and the
  in-memory history moves its rows forward to meet the new poll (no gap of hours nobody
  was away for), while the detector counts that spacing, not the jump (no time was watched,
  so it is no evidence of a frozen guest or a silent host). When both clocks agree (the
  console slept, or polls really stopped), the graphs draw a gap. A spacing longer than
  :data:`WATCHED_SPACING_S` that no clock confirms counts as the previous one;
* a time set as the console's clock now plus a length (a maintenance window's end) is not
  compared with a later ``polled_at`` as it is: the detector measures the window on each
  host's poll clock (core.detector.window_clock), and a window reopened after a restart
  is a whole one from then (patch.runner).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

_MS_DATE = re.compile(r"^/Date\((-?\d+)([+-]\d{4})?\)/$")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# .NET's DateTime.MaxValue in epoch ms has 15 digits; anything much longer is not a time
# (and int() of a 4,300-digit string would raise an error of its own).
_MAX_MS_DIGITS = 18

# See the module docstring. Below this a poll stamped earlier than its predecessor is
# dropped as out of order; above it the console's clock was stepped back.
CLOCK_STEP_BACK_S = 30.0
# The longest spacing of two polls of one host that the console really watched: the poll
# interval backed off to its 60 s cap, plus the poll deadline and scheduling slack.
WATCHED_SPACING_S = 180.0


def parse_time(text: object) -> datetime:
    """Return an aware UTC datetime, or raise ValueError with a readable reason (also for a
    well-formed time outside what a datetime can hold, e.g. year 1 with a positive offset,
    which would otherwise raise OverflowError or the platform's OSError)."""
    if not isinstance(text, str):
        raise ValueError(f"expected a time string, got {type(text).__name__}")
    s = text.strip()
    m = _MS_DATE.match(s)
    if m:
        # The offset suffix only says how the sender displayed it; ms are UTC epoch ms.
        # Epoch + timedelta, not fromtimestamp: the C library's range differs by platform.
        digits = m.group(1)
        if len(digits.lstrip("-")) > _MAX_MS_DIGITS:
            raise ValueError(f"time out of range: {text[:40]!r}")
        try:
            return _EPOCH + timedelta(milliseconds=int(digits))
        except OverflowError:
            raise ValueError(f"time out of range: {text[:40]!r}") from None
    if not s:
        raise ValueError("empty time string")
    if s.endswith(("Z", "z")):
        s = s[:-1] + "+00:00"
    # fromisoformat (3.11) accepts up to microseconds; .NET writes 7 fractional digits.
    s = re.sub(r"(\.\d{6})\d+", r"\1", s)
    try:
        dt = datetime.fromisoformat(s)
    except ValueError:
        raise ValueError(f"not an ISO-8601 time: {text[:40]!r}") from None
    if dt.tzinfo is None:
        # A time without a zone from a host is taken as UTC: the collector writes UTC.
        dt = dt.replace(tzinfo=UTC)
    try:
        return dt.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00:00+01:00 is before datetime.min in UTC
        raise ValueError(f"time out of range: {text[:40]!r}") from None


def format_time(dt: datetime) -> str:
    """ISO-8601 UTC with millisecond precision and a ``Z``."""
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    dt = dt.astimezone(UTC)
    # Not strftime("%Y"): glibc writes year 1 as "1", not "0001", and the result would not
    # parse back. Year 1 is real input: PowerShell's DateTime.MinValue, /Date(-62135596800000)/.
    return (f"{dt.year:04d}-{dt.month:02d}-{dt.day:02d}T{dt.hour:02d}:{dt.minute:02d}:{dt.second:02d}."
            f"{dt.microsecond // 1000:03d}Z")


def utcnow() -> datetime:
    return datetime.now(UTC)
