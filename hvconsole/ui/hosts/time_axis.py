"""The host graphs' time axis: seconds before the newest poll for the live windows, the
admin's clock and calendar for the stored ones.

Live windows (5 min, 1 h) read the Windows way, as Task Manager and Windows Admin Center
draw their live charts: the newest poll is "now" at the right edge, and the scale
("−4 min", "−3 min", ...) holds still while the curves move under it. That is what makes
a refresh cheap: with a fixed x range pyqtgraph never regenerates the ticks and grid of
the four axes, nor re-transforms the views (docs/performance.md, "Host graphs"). The
clock time of the newest poll is in the graphs' status line ("Last poll 10:02:35").

Stored windows (1 day, 7 days, 90 days) keep dates and clock times: there the admin looks
for *when* something happened, and they are drawn again at most once a minute.
"""

from __future__ import annotations

from typing import Any

import pyqtgraph as pg
from PySide6.QtWidgets import QGraphicsItem

MINUS = "\u2212"   # a real minus sign: a hyphen reads as a dash between labels

# Label spacings for a relative window, in seconds: the first that gives at most
# MAX_LABELS intervals across the window is used.
STEPS_S = (10, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 21600, 43200, 86400)
MAX_LABELS = 5
# How far an edge label ("−5 min", "now") may reach past the plot's edge, in pixels:
# into the empty corners below the left and right axes.
EDGE_LABEL_PX = 24


def relative_step(span_s: float) -> int:
    """Seconds between labels for a window of ``span_s``: 60 for 5 min, 900 for 1 h."""
    for step in STEPS_S:
        if span_s / step <= MAX_LABELS + 1e-6:   # the view's range is a hair wider
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


class TimeAxis(pg.DateAxisItem):
    """A bottom axis that is either relative (x = seconds before the newest poll, ≤ 0)
    or a local-clock date axis (x = Unix time), switched with :meth:`set_relative`."""

    def __init__(self, orientation: str = "bottom", **kwargs: Any):
        super().__init__(orientation=orientation, **kwargs)
        self.relative = False

    def set_relative(self, relative: bool) -> None:
        if relative != self.relative:
            self.prepareGeometryChange()   # the bounding rectangle changes with the labels
            self.relative = relative
            self.picture = None      # ticks and labels are drawn again
            # A relative axis never changes: Qt keeps it as a pixmap, so repainting the
            # curves over its grid lines is a copy, not a replay of its drawing. A clock
            # axis changes with every move of the range: a pixmap would be drawn for nothing.
            self.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache if relative
                              else QGraphicsItem.CacheMode.NoCache)
            self.update()

    def boundingRect(self) -> Any:
        rect = super().boundingRect()
        if self.relative and self.orientation == "bottom" and self.style["showValues"]:
            # pyqtgraph drops a label that leaves this rectangle, and the two that say
            # what the scale is sit on the edges: the window's length and "now".
            rect = rect.adjusted(-EDGE_LABEL_PX, 0, EDGE_LABEL_PX, 0)
        return rect

    def tickValues(self, minVal: float, maxVal: float, size: float) -> Any:
        if not self.relative:
            return super().tickValues(minVal, maxVal, size)
        step = relative_step(maxVal - minVal)
        first = -(int(-minVal) // step) * step        # the label step at or right of minVal
        values = [float(v) for v in range(first, 1, step) if minVal - 1e-6 <= v <= maxVal + 1e-6]
        return [(float(step), values)]

    def tickStrings(self, values: list[float], scale: float, spacing: float) -> list[str]:
        if not self.relative:
            return super().tickStrings(values, scale, spacing)
        return [relative_label(v) for v in values]

    def generateDrawSpecs(self, p: Any) -> Any:
        if not self.relative:
            return super().generateDrawSpecs(p)
        # The date axis picks a zoom level for its clock labels here; ours are fixed.
        return pg.AxisItem.generateDrawSpecs(self, p)
