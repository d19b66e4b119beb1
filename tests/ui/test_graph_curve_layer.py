"""The host graphs' curve layer draws what pyqtgraph's PlotCurveItem draws for the same
data and style: lines, dashed lines, fills down to zero, gaps where a value is NaN."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
import pytest
from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QImage, QPainter
from PySide6.QtWidgets import QGraphicsScene

from hvconsole.ui.hosts.live_curve import CurveLayer

pytestmark = pytest.mark.usefixtures("qapp")

T0 = 1.795e9      # Unix times, as the graphs' data


def render(items, offset: float) -> QImage:
    scene = QGraphicsScene()
    for item in items:
        scene.addItem(item)
    image = QImage(700, 110, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(0xFFFFFFFF)
    painter = QPainter(image)
    # 300 s × 0..100 onto the image, y up, as a plot's view does.
    scene.render(painter, QRectF(0, 0, 700, 110), QRectF(offset - 303, -2, 303, 104),
                 Qt.AspectRatioMode.IgnoreAspectRatio)
    painter.end()
    return image


@pytest.mark.parametrize("gap", [False, True])
@pytest.mark.parametrize("dashed, fill", [(False, False), (True, False), (False, True)])
def test_the_layer_paints_what_plot_curve_items_paint(gap, dashed, fill):
    rng = np.random.default_rng(7)
    x = T0 + np.arange(61) * 5.0
    y = rng.random(61) * 90
    if gap:
        y[20:24] = np.nan
    pen = pg.mkPen("#1f77b4", width=1, style=Qt.PenStyle.DashLine if dashed else Qt.PenStyle.SolidLine)
    shade = QColor("#9467bd")
    shade.setAlpha(60)

    reference = pg.PlotCurveItem(pen=pen, antialias=False, connect="finite")
    if fill:
        reference.setFillLevel(0.0)
        reference.setBrush(shade)
    reference.setData(x, y)

    layer = CurveLayer()
    series = layer.add(pen, QBrush(shade) if fill else None)
    series.setData(x, y)
    layer.set_frame(-1e10, 1e10, -1e3, 1e3)
    layer.set_offset(0.0)

    expected = render([reference], offset=x[-1])
    assert render([layer], offset=x[-1]) == expected
    assert expected != render([], offset=x[-1])      # something was drawn
