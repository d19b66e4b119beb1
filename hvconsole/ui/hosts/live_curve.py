"""The host graphs' curves: one light item per plot that draws all of that plot's curves,
bounded by the plot's frame.

pyqtgraph's ``PlotCurveItem`` is one scene item per curve, and each refresh of the ten
host curves paid per curve for its ``setData`` (bookkeeping, signals, bounds), for Qt's
visit of one more item (its bounding rectangle asked from Python, the painter's state
saved and restored) and for its ``paint`` (option checks, fill and path caches): about
0.15 ms a curve, most of the graphs' turn at 2,000 VMs (docs/performance.md). Here a plot's
curves are plain :class:`Series` objects drawn by one :class:`CurveLayer` with the very
painter calls ``PlotCurveItem`` makes for a 1-px, non-antialiased curve connected where
finite (``fillPath`` of the same chunked fill paths, then ``drawPath`` of the same path,
or ``drawPolyline`` of its points where all are finite: the same pixels, tested), so the
pixels are the same.

A layer is bounded by its plot's frame, not by its data: a live curve spans its plot's
shown time range, stays under the plot's y ceiling and is clipped by its view, so the
shown range and y range (padded by a pen's width) hold all it can draw. The curves keep
their Unix times and the layer draws them shifted by an offset (the newest poll, in a live
window): its frame, in the view's coordinates, then holds still from poll to poll, and Qt
neither moves an item nor re-indexes one; only the plot area is drawn again.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from pyqtgraph import functions as fn
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QPainter, QPainterPath, QPen, QPolygonF
from PySide6.QtWidgets import QGraphicsItem

# pyqtgraph fills a curve in chunks of this many points on a raster device; the same
# chunks give the same pixels where two chunks meet.
FILL_CHUNK = 50
EMPTY = np.empty(0)


class Series:
    """One curve: its data, pen and optional fill down to zero, drawn by its layer.

    Offers the part of ``PlotCurveItem``'s interface the graphs and their tests use:
    ``setData(x, y)``, ``getData()`` and ``mapToItem``."""

    def __init__(self, layer: CurveLayer, pen: QPen, brush: QBrush | None = None):
        self.layer = layer
        self.pen = QPen(pen)
        self.brush = brush
        self.x: np.ndarray = EMPTY
        self.y: np.ndarray = EMPTY
        self._path: QPainterPath | QPolygonF | None = None
        self._fill: list[QPainterPath] | None = None

    def setData(self, x: Any, y: Any) -> None:
        self.x = np.asarray(x, dtype=float)
        self.y = np.asarray(y, dtype=float)
        if self.x.shape != self.y.shape:
            raise ValueError("x and y differ in length")
        self._path = self._fill = None      # built again at the next paint
        self.layer.update()

    def getData(self) -> tuple[np.ndarray, np.ndarray]:
        return self.x, self.y

    def mapToItem(self, item: QGraphicsItem, point: QPointF) -> QPointF:
        """Where a point of the data (Unix time, value) is in ``item``'s coordinates."""
        return self.layer.mapToItem(item, QPointF(point.x() - self.layer.offset, point.y()))

    def path(self) -> QPainterPath | QPolygonF:
        """The line: a polyline when every point is finite (the usual case; drawn with
        the same pixels as the path, without building one), else the path broken at NaN."""
        if self._path is None:
            if np.isfinite(self.x).all() and np.isfinite(self.y).all():
                line = fn.create_qpolygonf(self.x.size)
                xy = fn.ndarray_from_qpolygonf(line)
                xy[:, 0], xy[:, 1] = self.x, self.y
                self._path = line
            else:
                self._path = fn.arrayToQPath(self.x, self.y, connect="finite")
        return self._path

    def fill_paths(self) -> list[QPainterPath]:
        """Down to zero, one run of finite points at a time, in pyqtgraph's chunks."""
        if self._fill is None:
            x, y = self.x, self.y
            breaks = np.concatenate(([-1], np.nonzero(~(np.isfinite(x) & np.isfinite(y)))[0], [x.size]))
            paths = []
            for start, end in zip(breaks[:-1] + 1, breaks[1:], strict=True):
                if end - start >= 2:
                    paths += _chunked_fill(x[start:end], y[start:end])
            self._fill = paths
        return self._fill


def _chunked_fill(x: np.ndarray, y: np.ndarray) -> list[QPainterPath]:
    paths = []
    offset = 0
    buf = np.empty((FILL_CHUNK + 3, 2))
    while offset < len(x) - 1:
        sub_x, sub_y = x[offset:offset + FILL_CHUNK], y[offset:offset + FILL_CHUNK]
        size = len(sub_x)
        xy = buf[:size + 3]
        xy[:-3, 0], xy[:-3, 1] = sub_x, sub_y
        xy[-3:, 0] = sub_x[[-1, 0, 0]]
        xy[-3:, 1] = (0.0, 0.0, sub_y[0])
        offset += size - 1          # the chunk's last point starts the next one
        paths.append(fn.arrayToQPath(xy[:, 0], xy[:, 1], connect="all", finiteCheck=False))
    return paths


class CurveLayer(QGraphicsItem):
    """Draws its :class:`Series` in the order they were added, bounded by its frame."""

    def __init__(self, parent: QGraphicsItem | None = None):
        super().__init__(parent)
        self.series: list[Series] = []
        self._frame = QRectF()
        self.offset = 0.0       # subtracted from the curves' x when drawn

    def add(self, pen: QPen, brush: QBrush | None = None) -> Series:
        series = Series(self, pen, brush)
        self.series.append(series)
        return series

    def set_offset(self, offset: float) -> None:
        """Draw the curves with ``offset`` subtracted from their x (their data unchanged)."""
        if offset != self.offset:
            self.offset = offset
            self.update()

    def set_frame(self, left: float, right: float, bottom: float, top: float) -> None:
        """The rectangle (in the view's x and y) that holds all the curves can show: the
        plot's shown x range and y range, with room for the pen."""
        pad_x = (right - left) * 0.01
        pad_y = (top - bottom) * 0.01
        frame = QRectF(left - pad_x, bottom - pad_y, right - left + 2 * pad_x, top - bottom + 2 * pad_y)
        if frame != self._frame:
            self.prepareGeometryChange()
            self._frame = frame

    def boundingRect(self) -> QRectF:
        return self._frame

    def paint(self, painter: QPainter, *args: Any) -> None:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        if self.offset:
            painter.translate(-self.offset, 0.0)
        for series in self.series:
            if series.x.size == 0:
                continue
            if series.brush is not None:
                for path in series.fill_paths():
                    painter.fillPath(path, series.brush)
            painter.setPen(series.pen)
            line = series.path()
            if isinstance(line, QPolygonF):
                painter.drawPolyline(line)
            else:
                painter.drawPath(line)
