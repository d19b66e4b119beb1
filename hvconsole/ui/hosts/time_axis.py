"""The host graphs' time axis: seconds before the newest poll for the live windows, the
admin's clock and calendar for the stored ones. Plain functions: where the ticks go and
what they say; the graph canvas (graph_canvas.py) draws them.

Live windows (5 min, 1 h) read the Windows way, as Task Manager and Windows Admin Center
draw their live charts: the newest poll is "now" at the right edge, and the scale
("−4 min", "−3 min", ...) holds still while the curves move under it. That is what makes
a refresh cheap: the axes, grid and labels are drawn once and kept as a picture, and a
poll repaints only the curves (docs/performance.md, "Host graphs"). The clock time of the
newest poll is in the graphs' status line ("Last poll 10:02:35").

Stored windows (1 day, 7 days, 90 days) keep dates and clock times: there the admin looks
for *when* something happened, and they are read again at most once a minute.
"""

from __future__ import annotations

import math
from datetime import datetime

MINUS = "\u2212"   # a real minus sign: a hyphen reads as a dash between labels

# Label spacings for a relative window, in seconds: the first that gives at most
# MAX_LABELS intervals across the window is used.
STEPS_S = (10, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 21600, 43200, 86400)
MAX_LABELS = 5
# Clock label spacings for the stored windows (local time), in seconds.
CLOCK_STEPS_S = (600, 1800, 3600, 3 * 3600, 6 * 3600, 12 * 3600, 86400, 2 * 86400, 7 * 86400,
                 14 * 86400, 28 * 86400)
DAY_S = 86400
# How many pixels a clock label needs, with room between two, when the caller does not
# measure its font (the canvas does: the widest label and CLOCK_LABEL_GAP_PX).
CLOCK_LABEL_PX = 90
CLOCK_LABEL_GAP_PX = 20
# The widest of these is measured (a time, and dates with wide letters).
CLOCK_LABEL_SAMPLES = ("18:00", "30 Sep", "28 May", "30 Mar")
# How far an edge label ("−5 min", "now") may reach past the plot's edge, in pixels:
# into the empty corners below the left and right axes.
EDGE_LABEL_PX = 24

Tick = tuple[float, str]


def relative_step(span_s: float) -> int:
    """Seconds between labels for a window of ``span_s``: 60 for 5 min, 900 for 1 h."""
    for step in STEPS_S:
        if span_s / step <= MAX_LABELS + 1e-6:   # a range may be a hair wider
            return step
    return STEPS_S[-1]


def relative_label(seconds: float) -> str:
    """``0`` → "now", ``-240`` → "−4 min", ``-3600`` → "−1 h", ``-30`` → "−30 s"."""
    s = round(-seconds)
    if s <= 0:
        return "now"
    if s % 3600 == 0:
        return f"{MINUS}{s // 3600} h"
    if s % 60 == 0:
        return f"{MINUS}{s // 60} min"
    return f"{MINUS}{s} s"


def relative_ticks(left: float, right: float) -> list[Tick]:
    """Ticks of a live window (x = seconds before the newest poll, ≤ 0), from edge to edge:
    (−300, 0) → "−5 min", "−4 min", ..., "now"."""
    step = relative_step(right - left)
    first = -(int(-left) // step) * step        # the label step at or right of left
    return [(float(v), relative_label(v)) for v in range(first, 1, step)
            if left - 1e-6 <= v <= right + 1e-6]


def _utc_offset(t: float) -> float:
    # An aware time (astimezone) always has an offset; utcoffset() is typed for naive ones too.
    return datetime.fromtimestamp(t).astimezone().utcoffset().total_seconds()  # type: ignore[union-attr]


def clock_ticks(left: float, right: float, width_px: float, label_px: float = CLOCK_LABEL_PX) -> list[Tick]:
    """Ticks of a stored window (x = Unix time) on the admin's clock: whole hours or days
    in local time, as many as fit in ``width_px``; "14:00" within a day, the date
    ("25 Nov") at midnight and for steps of a day or more."""
    span = right - left
    if span <= 0:
        return []
    most = max(2, int(width_px // max(1.0, label_px)))
    step = next((s for s in CLOCK_STEPS_S if span / s <= most), CLOCK_STEPS_S[-1])
    # Local midnights and whole hours, counted in local seconds since the epoch, each
    # turned back into Unix time at its own UTC offset: a week or 90 days across a
    # daylight-saving change keep their day lines on midnight (one offset for the whole
    # range put them an hour off, and a day's label on the evening before).
    local_left = left + _utc_offset(left)
    ticks = []
    k = math.ceil(local_left / step)
    while True:
        t = _unix(k * step)
        if t > right + 1e-6:
            break
        k += 1
        if t < left - 1e-6:
            continue
        local = datetime.fromtimestamp(t)
        if step >= DAY_S or (local.hour, local.minute) == (0, 0):
            ticks.append((t, local.strftime("%d %b").lstrip("0")))
        else:
            ticks.append((t, local.strftime("%H:%M")))
    return ticks


def _unix(local: float) -> float:
    """Unix time of a local wall-clock time (seconds since the epoch in local time)."""
    t = local - _utc_offset(local)
    return local - _utc_offset(t)


def time_ticks(left: float, right: float, *, relative: bool, width_px: float,
               label_px: float = CLOCK_LABEL_PX) -> list[Tick]:
    return relative_ticks(left, right) if relative else clock_ticks(left, right, width_px, label_px)
