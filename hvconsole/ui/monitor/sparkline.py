"""Sparklines painted straight into a cell (after virt-manager): no widget, no plot object.

The geometry comes precomputed in a unit square (:mod:`.spark_geometry`); painting is a
copy into a ``QPolygonF`` and one transform per tile size. Percentages use a fixed 0–100 scale, so
tiles compare at a glance. The area is filled with an opaque colour without
anti-aliasing (a translucent anti-aliased fill costs ~190 µs a tile), the line is a
cosmetic pen (its width does not scale with the transform).
"""

from __future__ import annotations

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPen, QPolygonF, QTransform
from shiboken6 import VoidPtr


def polygon(packed: bytes) -> QPolygonF:
    """A QPolygonF from packed float64 (x, y) pairs, copied into its memory in one go."""
    poly = QPolygonF()
    poly.resize(len(packed) // 16)
    memoryview(VoidPtr(poly.data(), len(packed), True))[:] = packed
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


def paint_sparklines(painter: QPainter,
                     sparks: list[tuple[QTransform, tuple[tuple[bytes, bytes], ...], QPen, QColor | None]]) -> None:
    """Several sparklines that do not overlap, each (transform onto its place, runs, line
    pen, fill or None) as :func:`paint_sparkline` draws it: every fill first, then every
    line, so that the painter's anti-aliasing, pen and brush change once for all (each
    sparkline's line still lands after its own fill: the same pixels). Each transform
    replaces the painter's: the caller restores its own afterwards."""
    lines: list[tuple[QTransform, QPolygonF, QPen]] = []
    brush: QColor | None = None
    for transform, runs, line, fill in sparks:
        if fill is None:
            lines.extend((transform, polygon(line_points), line) for line_points, _ in runs)
            continue
        if brush is None:
            painter.setRenderHint(_ANTIALIAS, False)
            painter.setPen(_NO_PEN)
        if fill is not brush:
            painter.setBrush(fill)
            brush = fill
        painter.setWorldTransform(transform)
        for _, fill_points in runs:
            area = polygon(fill_points)
            painter.drawPolygon(area)
            # The line is the fill without its first and last point (see paint_sparkline).
            area.removeFirst()
            area.removeLast()
            lines.append((transform, area, line))
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
        painter.drawPolyline(points)


def unit_transform(rect: QRectF) -> QTransform:
    """The unit square (y up) onto ``rect``: what ``translate(left, bottom)`` and
    ``scale(width, -height)`` make, as one transform."""
    return QTransform(rect.width(), 0.0, 0.0, -rect.height(), rect.left(), rect.bottom())
