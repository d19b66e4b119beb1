"""Sparklines painted straight into a cell (after virt-manager): no widget, no plot object.

The geometry comes precomputed in a unit square (:mod:`.spark_geometry`); painting is a
copy into a ``QPolygonF`` and one transform per tile size. Percentages use a fixed 0–100 scale, so
tiles compare at a glance. The area is filled with an opaque colour without
anti-aliasing (a translucent anti-aliased fill costs ~190 µs a tile), the line is a
cosmetic pen (its width does not scale with the transform).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPen, QPolygonF, QTransform
from shiboken6 import VoidPtr

if TYPE_CHECKING:
    from collections.abc import Callable

    from typing_extensions import Buffer

# The memory behind a wrapped Qt object, writable: VoidPtr(object, size, True). shiboken6's
# stub lists only VoidPtr(int) and no buffer; the real one takes the object (here the
# QPointF that QPolygonF.data() wraps around the first point), a size and a writable flag,
# and memoryview reads and writes through it. Named once, so no call pays for the cast.
_memory = cast("Callable[[object, int, bool], Buffer]", VoidPtr)


def polygon(packed: bytes) -> QPolygonF:
    """A QPolygonF from packed float64 (x, y) pairs, copied into its memory in one go."""
    poly = QPolygonF()
    poly.resize(len(packed) // 16)
    memoryview(_memory(poly.data(), len(packed), True))[:] = packed
    return poly


# Looked up once: reading a Qt enum member through PySide costs about a microsecond,
# a noticeable share of a sparkline drawn thirty times per repaint.
_ANTIALIAS = QPainter.RenderHint.Antialiasing
# A QPen object, not the enum: PySide converts the enum into a pen on every call.
_NO_PEN = QPen(Qt.PenStyle.NoPen)


def paint_sparkline(painter: QPainter, transform: QTransform, runs: tuple[tuple[bytes, bytes], ...],
                    line: QPen, fill: QColor | None = None) -> None:
    """Draw precomputed runs through ``transform`` (the unit square onto the line's area,
    see :func:`unit_transform`; combined with the painter's own), ``line`` cosmetic: every
    run's fill first, then every run's line (runs never overlap, so this is the same
    picture as run by run, with one set of pen and brush changes).

    Drawn last on a tile, so the painter's transform, pen, brush and anti-aliasing are
    left as they are for the caller's ``restore()`` or ``end()``: saving and restoring
    the painter's state here cost as much as drawing the line. The fill's brush is left
    set too: a polyline is never filled."""
    if not runs:
        return
    painter.setWorldTransform(transform, True)
    if fill is not None:
        painter.setRenderHint(_ANTIALIAS, False)
        painter.setPen(_NO_PEN)
        painter.setBrush(fill)
        lines = []
        for _, fill_points in runs:
            area = polygon(fill_points)
            painter.drawPolygon(area)
            # The fill is the line closed down to 0 (see spark_geometry): the same
            # polygon without its first and last point is the line, no second copy.
            area.removeFirst()
            area.removeLast()
            lines.append(area)
    else:
        lines = [polygon(line_points) for line_points, _ in runs]
    painter.setRenderHint(_ANTIALIAS, True)
    painter.setPen(line)
    for points in lines:
        painter.drawPolyline(points)


class PolygonPool:
    """``QPolygonF`` objects kept from one paint to the next, by point count, each with a
    writable view of its points: a sparkline's points are copied into one (one copy from
    Python) instead of a new polygon being made, sized and addressed (four calls into
    Qt each, twice per tile). A polygon taken in a paint is not taken again in that paint
    (the lines are drawn after every fill); :meth:`new_paint` starts the count over."""

    def __init__(self, limit: int = 4096):
        self._kept: dict[int, list[tuple[QPolygonF, memoryview]]] = {}
        self._taken: dict[int, int] = {}
        self._count = 0
        self._limit = limit

    def new_paint(self) -> None:
        self._taken.clear()
        if self._count > self._limit:   # a paint of unusual lengths: start over
            self._kept.clear()
            self._count = 0

    def take(self, packed: bytes) -> QPolygonF:
        """A polygon holding the packed float64 (x, y) pairs ``packed``."""
        size = len(packed) // 16
        kept = self._kept.setdefault(size, [])
        taken = self._taken.get(size, 0)
        if taken < len(kept):
            poly, points = kept[taken]
        else:
            poly = QPolygonF()
            poly.resize(size)
            points = memoryview(_memory(poly.data(), len(packed), True))
            kept.append((poly, points))
            self._count += 1
        points[:] = packed
        self._taken[size] = taken + 1
        return poly


def paint_sparklines(painter: QPainter,
                     sparks: list[tuple[QTransform, tuple[tuple[bytes, bytes], ...], QPen, QColor | None]],
                     pool: PolygonPool) -> None:
    """Several sparklines that do not overlap, each (transform onto its place, runs, line
    pen, fill or None) as :func:`paint_sparkline` draws it: every fill first, then every
    line, so that the painter's anti-aliasing, pen and brush change once for all (each
    sparkline's line still lands after its own fill: the same pixels). The polygons come
    from ``pool``. Each transform replaces the painter's: the caller restores its own
    afterwards."""
    pool.new_paint()
    take = pool.take
    lines: list[tuple[QTransform, bytes, QPen]] = []
    brush: QColor | None = None
    for transform, runs, line, fill in sparks:
        if fill is None:
            lines.extend((transform, line_points, line) for line_points, _ in runs)
            continue
        if brush is None:
            painter.setRenderHint(_ANTIALIAS, False)
            painter.setPen(_NO_PEN)
        if fill is not brush:
            painter.setBrush(fill)
            brush = fill
        painter.setWorldTransform(transform)
        for line_points, fill_points in runs:
            painter.drawPolygon(take(fill_points))
            lines.append((transform, line_points, line))
    painter.setRenderHint(_ANTIALIAS, True)
    pen: QPen | None = None
    placed: QTransform | None = None
    for transform, points, line in lines:
        if line is not pen:
            painter.setPen(line)
            pen = line
        if transform is not placed:
            painter.setWorldTransform(transform)
            placed = transform
        painter.drawPolyline(take(points))


def unit_transform(rect: QRectF) -> QTransform:
    """The unit square (y up) onto ``rect``: what ``translate(left, bottom)`` and
    ``scale(width, -height)`` make, as one transform."""
    return QTransform(rect.width(), 0.0, 0.0, -rect.height(), rect.left(), rect.bottom())
