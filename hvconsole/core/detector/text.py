"""Small formatters for evidence sentences: clock times, durations, value ranges, and
host-provided text made safe to print.

Evidence is plain text read in a terminal, a table cell or a report; VM names and event
messages come from hosts, so control characters (a terminal escape sequence in a VM name)
are removed and long messages are cut. Rendering to HTML is the UI's job (escape there).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]+")
_SPACES = re.compile(r"\s+")
MESSAGE_MAX = 160


def clean(text: str | None, limit: int = MESSAGE_MAX) -> str:
    """One line of printable text: control and bidi characters become spaces, runs of
    whitespace collapse, and anything past ``limit`` characters is cut with an ellipsis."""
    if not text:
        return ""
    s = _SPACES.sub(" ", _CONTROL.sub(" ", text)).strip()
    if len(s) > limit:
        s = s[: limit - 1].rstrip() + "…"
    return s


def to_datetime(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, tz=UTC)


def clock(ts: float, ref: float | None = None) -> str:
    """``09:01:05Z``; with the date in front when ``ts`` is not on the same UTC day as
    ``ref`` (the poll being evaluated), so old times are never mistaken for today's."""
    dt = to_datetime(ts)
    if ref is not None and to_datetime(ref).date() != dt.date():
        return dt.strftime("%Y-%m-%d %H:%M:%SZ")
    return dt.strftime("%H:%M:%SZ")


def duration(seconds: float) -> str:
    """``45 s``, ``5 min 20 s``, ``2 h 05 min``: what a person reads at a glance."""
    s = round(max(0.0, seconds))
    if s < 120:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60} s" if s % 60 else f"{s // 60} min"
    return f"{s // 3600} h {(s % 3600) // 60:02d} min"


def polls(n: int) -> str:
    return "1 poll" if n == 1 else f"{n} polls"


def pct_range(values: Iterable[float]) -> str:
    vals = list(values)
    lo, hi = min(vals), max(vals)
    return f"{lo:.1f} %" if lo == hi else f"{lo:.1f}-{hi:.1f} %"


def names(items: Iterable[str], limit: int = 8) -> str:
    """``A, B, C`` or ``A, B, C and 5 more`` (sorted, cleaned)."""
    all_names = sorted(clean(n, 60) for n in items)
    shown = ", ".join(all_names[:limit])
    rest = len(all_names) - limit
    return f"{shown} and {rest} more" if rest > 0 else shown
