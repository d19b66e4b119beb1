"""One curve of the host graphs: its data, pen and optional shade down to zero, and the
polylines it draws in a plot's pixels.

The graph canvas (graph_canvas.py) paints each plot's curves itself, so a curve is not a
scene item: a new poll costs one ``setData`` (the arrays are kept, nothing is computed)
and, at the next paint, the points mapped to pixels with one NumPy expression and drawn
as one ``drawPolyline`` per run of finite points (NaN, an unanswered poll, breaks the
line as pyqtgraph's ``connect="finite"`` does), 1-px cosmetic pens, no antialiasing.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QBrush, QPainter, QPen, QPolygonF
from shiboken6 import VoidPtr

EMPTY = np.empty(0)
# shiboken's view of raw memory. PySide's stubs type QPolygonF.data() as a QPointF; it is
# the address of the first point.
_memory: Any = VoidPtr
# (ax, bx, ay, by): a data point (x, y) is drawn at (ax·x + bx, ay·y + by) pixels.
PixelMap = tuple[float, float, float, float]
# A run of one finite point (a host's first poll, or one answer between two it missed) has
# no segment to draw, and the newest point sits on the view's right edge, which the clip
# leaves out: a short dash centred on it shows its value where the line will start.
LONE_POINT_HALF_PX = 4.0


def _polygon(px: np.ndarray, py: np.ndarray) -> QPolygonF:
    """The points written straight into a QPolygonF's memory (as pyqtgraph does), not one
    QPointF each."""
    line = QPolygonF()
    line.resize(px.size)
    xy = np.frombuffer(_memory(line.data(), px.size * 16, True), dtype=np.float64).reshape((-1, 2))
    xy[:, 0], xy[:, 1] = px, py
    return line


class Series:
    """One curve. ``changed`` is called after each :meth:`setData` (its plot repaints)."""

    def __init__(self, pen: QPen, brush: QBrush | None = None, changed: Any = None):
        self.pen = QPen(pen)
        self.pen.setCosmetic(True)
        self.brush = brush
        self.changed = changed
        self.x: np.ndarray = EMPTY
        self.y: np.ndarray = EMPTY
        self._runs: list[tuple[int, int]] = []
        self._drawn: tuple[PixelMap, list[QPolygonF], list[QPolygonF]] | None = None

    def setData(self, x: Any, y: Any) -> None:
        self.x = np.asarray(x, dtype=float)
        self.y = np.asarray(y, dtype=float)
        if self.x.shape != self.y.shape:
            raise ValueError("x and y differ in length")
        finite = np.isfinite(self.x) & np.isfinite(self.y)
        if finite.all():
            self._runs = [(0, self.x.size)] if self.x.size else []
        else:
            edges = np.flatnonzero(np.diff(np.concatenate(([0], finite.view(np.int8), [0]))))
            self._runs = [(int(a), int(b)) for a, b in zip(edges[::2], edges[1::2], strict=True)]
        self._drawn = None
        if self.changed is not None:
            self.changed()

    def getData(self) -> tuple[np.ndarray, np.ndarray]:
        return self.x, self.y

    def runs(self) -> list[tuple[int, int]]:
        """[start, end) of each run of finite points."""
        return list(self._runs)

    def polylines(self, pixels: PixelMap) -> tuple[list[QPolygonF], list[QPolygonF]]:
        """(lines, shades) in pixels: a polyline per run of finite points and, with a
        brush, the polygon from it down to zero."""
        if self._drawn is not None and self._drawn[0] == pixels:
            return self._drawn[1], self._drawn[2]
        ax, bx, ay, by = pixels
        px, py = ax * self.x + bx, ay * self.y + by
        lines, shades = [], []
        for start, end in self._runs:
            lines.append(_polygon(px[start:end], py[start:end]))
            if self.brush is not None and end - start >= 2:
                xs = np.concatenate((px[start:end], px[[end - 1, start]]))
                ys = np.concatenate((py[start:end], (by, by)))
                shades.append(_polygon(xs, ys))
        self._drawn = (pixels, lines, shades)
        return lines, shades

    def paint(self, painter: QPainter, pixels: PixelMap) -> None:
        if not self._runs:
            return
        lines, shades = self.polylines(pixels)
        if shades:
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(self.brush)
            for shade in shades:
                painter.drawPolygon(shade)
            painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.setPen(self.pen)
        for line in lines:
            if line.size() == 1:
                p = line.at(0)
                painter.drawLine(QPointF(p.x() - LONE_POINT_HALF_PX, p.y()), QPointF(p.x() + LONE_POINT_HALF_PX, p.y()))
            else:
                painter.drawPolyline(line)
