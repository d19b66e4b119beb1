"""A curve of the host graphs whose bounding rectangle its owner gives: the plot's frame.

pyqtgraph's ``PlotCurveItem`` works out its bounding rectangle from its data after every
``setData`` (NaN-aware minimum and maximum of both axes, the pen's width in pixels from
the device transform), and Qt asks for it twice per curve and refresh to mark what to
repaint: about half a millisecond a refresh for the host graphs' ten curves, to learn
what is known beforehand. A live curve always spans its plot's shown time range, its
values stay under the plot's y ceiling, and the plot's view clips what it draws, so the
shown range and y range (padded by a pen's width) bound it.
"""

from __future__ import annotations

from typing import Any

import pyqtgraph as pg
from PySide6.QtCore import QRectF


class LiveCurve(pg.PlotCurveItem):
    """A ``PlotCurveItem`` bounded by :meth:`set_frame`, not by its data."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._frame = QRectF()

    def set_frame(self, left: float, right: float, bottom: float, top: float) -> None:
        """The rectangle (in the curve's own x, i.e. Unix time, and y) that holds all it
        can show: the plot's time range and y range, with room for the pen."""
        pad_x = (right - left) * 0.01
        pad_y = (top - bottom) * 0.01
        frame = QRectF(left - pad_x, bottom - pad_y, right - left + 2 * pad_x, top - bottom + 2 * pad_y)
        if frame != self._frame:
            self.prepareGeometryChange()
            self._frame = frame

    def boundingRect(self) -> QRectF:
        return self._frame
