"""Sparklines painted together (every fill, then every line, polygons kept from paint to
paint) land on the pixels each tile's own sparkline lands on, with gaps, stale lines
without fill, and polygons reused by a later paint with other points."""

from __future__ import annotations

import math

import pytest
from PySide6.QtCore import QRectF
from PySide6.QtGui import QColor, QImage, QPainter, QPen, QTransform

from hvconsole.monitoring.spark_geometry import spark_runs
from hvconsole.ui.monitor.sparkline import PolygonPool, paint_sparkline, paint_sparklines, unit_transform

pytestmark = pytest.mark.usefixtures("qapp")

LINE = QPen(QColor("#2f6db5"), 0)
STALE = QPen(QColor("#9aa0a6"), 0)
FILL = QColor("#dce7f5")
SPARK = unit_transform(QRectF(90, 48, 150, 17))
PLACES = [(3, 3), (266, 3), (529, 3), (3, 110), (266, 110), (529, 110)]


def series(seed: int) -> list[float | None]:
    values: list[float | None] = [float((k * (7 + seed) + seed * 13) % 101) for k in range(36)]
    if seed % 3 == 1:
        values[10:13] = [None, None, None]        # a gap: two runs
    if seed % 3 == 2:
        values[:20] = [math.nan] * 20             # known only lately
    return values


def canvas() -> QImage:
    image = QImage(800, 220, QImage.Format.Format_RGB32)
    image.fill(QColor("#ffffff"))
    return image


def one_by_one(sparks: list) -> QImage:
    image = canvas()
    painter = QPainter(image)
    for (x, y), runs, stale in sparks:
        painter.save()
        painter.translate(x, y)
        paint_sparkline(painter, SPARK, runs, STALE if stale else LINE, None if stale else FILL)
        painter.restore()
    painter.end()
    return image


def together(sparks: list, pool: PolygonPool) -> QImage:
    image = canvas()
    painter = QPainter(image)
    paint_sparklines(painter, [(SPARK * QTransform.fromTranslate(x, y), runs, STALE if stale else LINE,
                                None if stale else FILL) for (x, y), runs, stale in sparks], pool)
    painter.end()
    return image


def test_sparklines_painted_together_are_the_ones_painted_one_by_one():
    pool = PolygonPool()
    for paint in range(3):                       # the pool's polygons refilled by later paints
        sparks = [(place, spark_runs(series(paint * 7 + i), 36), i % 4 == 3) for i, place in enumerate(PLACES)]
        assert any(len(runs) > 1 for _, runs, _ in sparks)
        assert together(sparks, pool) == one_by_one(sparks)
