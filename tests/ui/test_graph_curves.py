"""The host graphs' curves: drawn where their data are, broken where a value is NaN (an
unanswered poll), shaded down to zero where asked, in their pen's exact colour."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush, QColor, QImage, QPainter

from hvconsole.ui.hosts.live_curve import Series

pytestmark = pytest.mark.usefixtures("qapp")

T0 = 1.795e9      # Unix times, as the graphs' data
BLUE, PURPLE = "#1f77b4", "#9467bd"


def render(series: Series) -> QImage:
    image = QImage(300, 110, QImage.Format.Format_RGB32)
    image.fill(0xFFFFFFFF)
    painter = QPainter(image)
    # 300 s onto 300 px (the newest point at the right edge), 0..100 onto 105..5 px.
    series.paint(painter, (1.0, -(T0 + 300.0) + 299.0, -1.0, 105.0))
    painter.end()
    return image


def columns_with(image: QImage, colour: str) -> set[int]:
    rgb = QColor(colour).rgb()
    return {x for x in range(image.width()) for y in range(image.height()) if image.pixel(x, y) == rgb}


def test_a_line_spans_its_points_and_breaks_at_nan():
    x = T0 + np.arange(61) * 5.0
    y = np.full(61, 50.0)
    y[20:24] = np.nan
    series = Series(pg.mkPen(BLUE, width=1))
    series.setData(x, y)
    assert series.runs() == [(0, 20), (24, 61)]
    drawn = columns_with(render(series), BLUE)
    # Points at 5 s steps from 0 to 300 s: x = 5k - 1 px.
    assert 0 in drawn and 298 in drawn
    assert not drawn & set(range(5 * 19, 5 * 24 - 1))     # the gap between tick 19 and 24


def test_a_lone_point_between_gaps_is_still_drawn():
    x = T0 + np.arange(5) * 5.0 + 250.0
    series = Series(pg.mkPen(BLUE, width=1))
    series.setData(x, np.array([np.nan, np.nan, 40.0, np.nan, np.nan]))
    assert series.runs() == [(2, 3)]
    assert columns_with(render(series), BLUE)


def test_a_shade_reaches_down_to_zero():
    shade = QColor(PURPLE)
    shade.setAlpha(60)
    series = Series(pg.mkPen(PURPLE, width=1, style=Qt.PenStyle.DashLine), QBrush(shade))
    series.setData(T0 + np.arange(61) * 5.0, np.full(61, 50.0))
    image = render(series)
    # Under the line (y = 55 px) down to zero (105 px): shaded; above it: white.
    assert QColor(image.pixel(150, 80)) != QColor("white")
    assert QColor(image.pixel(150, 30)) == QColor("white")


def test_set_data_asks_for_a_repaint_and_rejects_mismatched_arrays():
    calls = []
    series = Series(pg.mkPen(BLUE), changed=lambda: calls.append(1))
    series.setData([1.0, 2.0], [3.0, 4.0])
    assert calls == [1]
    with pytest.raises(ValueError):
        series.setData([1.0], [1.0, 2.0])
