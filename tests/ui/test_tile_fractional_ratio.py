"""At a fractional device pixel ratio (Windows at 125 %, 150 %, 175 %) a tile looks the
same whether it was drawn straight onto the view (its first sight) or blitted from the
pixmap made when it was painted again: its text lines and sparkline do not move by a
device pixel between two paints of the same row. Painted on an image of that ratio: a
test process's screens have one ratio."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtGui import QColor, QImage, QPainter
from ui_support import make_vm

from hvconsole.monitoring.rows import TileRow
from hvconsole.ui.monitor.tile_delegate import TILE_SIZE, TileDelegate

pytestmark = pytest.mark.usefixtures("qapp")


def painted(delegate: TileDelegate, row: TileRow, dpr: float, x: int, y: int, origin: int) -> np.ndarray:
    """``row``'s tile painted at ``x``, ``y`` on a view-like surface at ratio ``dpr`` whose
    logical 0 is ``origin`` logical pixels into the image (a viewport inside its window's
    frame)."""
    width, height = TILE_SIZE.width() + 20, TILE_SIZE.height() + 20
    image = QImage(round(width * dpr), round(height * dpr), QImage.Format.Format_RGB32)
    image.setDevicePixelRatio(dpr)
    image.fill(QColor("#e9ebef"))
    painter = QPainter(image)
    painter.translate(origin, origin)
    width, height = TILE_SIZE.width(), TILE_SIZE.height()
    delegate.paint_rows(painter, [(row, x, y, width, height, False, False, 0, height)], dpr)
    painter.end()
    return np.frombuffer(image.constBits(), np.uint8).reshape(image.height(), image.bytesPerLine()).copy()


@pytest.mark.parametrize("dpr", [1.25, 1.5, 1.75, 2.0])
@pytest.mark.parametrize("at", [(3, 3), (5, 9), (4, 14)])
@pytest.mark.parametrize("texts_seen", [False, True])
@pytest.mark.parametrize("origin", [0, 1])
def test_a_tile_drawn_straight_looks_as_its_cached_pixmap(dpr, at, texts_seen, origin):
    history = tuple(float((k * 17) % 100) for k in range(30))
    row, same = (TileRow(host="HV01", vm=make_vm("HV01", 1, cpu=37.0), cpu_history=history) for _ in range(2))
    delegate = TileDelegate()
    if texts_seen:
        # Another row object with the same texts first, as on a screen of tiles: a text's
        # first draw is a plain drawText, later ones a prepared static text.
        painted(delegate, same, dpr, *at, origin)
    first = painted(delegate, row, dpr, *at, origin)        # first sight: drawn straight
    cached = painted(delegate, row, dpr, *at, origin)       # painted again: rendered, then blitted
    look = (TILE_SIZE.width(), TILE_SIZE.height(), "plain", dpr)
    assert delegate._rendered.lookup(row, look) not in (None, True, False)
    difference = np.abs(first.astype(np.int16) - cached)
    # A step or two of anti-aliasing where the sparkline crosses pixels differently.
    assert int((difference > 8).sum()) == 0
