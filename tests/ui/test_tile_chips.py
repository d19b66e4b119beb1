"""Live text lines blitted as chips: a line seen before is a pre-rendered copy of the tile
under it with the texts drawn on, and lands on exactly the pixels of the line drawn
directly (first sight), whatever the tile's look, colour or pixel ratio."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from PySide6.QtCore import QRect
from PySide6.QtGui import QColor, QFont, QImage, QPainter, QPixmap
from PySide6.QtWidgets import QStyle, QStyleOptionViewItem
from ui_support import make_vm

from hvconsole.monitoring.rows import TileFinding, TileRow
from hvconsole.ui.monitor.paint_cache import TextCache, TextChips
from hvconsole.ui.monitor.tile_delegate import TILE_SIZE, VIEW_BACKGROUND, TileDelegate
from hvconsole.ui.monitor.tile_model import TileModel

pytestmark = pytest.mark.usefixtures("qapp")

AT = datetime(2026, 1, 1, tzinfo=UTC)


def rows() -> list[TileRow]:
    history = tuple(float((k * 13) % 100) for k in range(36))
    frozen = (TileFinding("frozen", "critical", AT, ("no heartbeat",)),)
    return [
        TileRow(host="HV01", vm=make_vm("HV01", 0, cpu=41.0, uptime_s=7260), cpu_history=history),
        TileRow(host="HV01", vm=make_vm("HV01", 1, heartbeat="LostCommunication"), cpu_history=history),
        TileRow(host="HV01", vm=make_vm("HV01", 2), cpu_history=history, findings=frozen),
        TileRow(host="HV01", vm=make_vm("HV01", 3), cpu_history=history, stale_reason="Host not answering"),
        TileRow(host="HV01", vm=make_vm("HV01", 4, state="Off"), cpu_history=()),
    ]


def paint(delegate: TileDelegate, row: TileRow, state: QStyle.StateFlag, dpr: float) -> QImage:
    image = QImage(math.ceil(TILE_SIZE.width() * dpr), math.ceil(TILE_SIZE.height() * dpr),
                   QImage.Format.Format_RGB32)
    image.setDevicePixelRatio(dpr)
    image.fill(QColor(VIEW_BACKGROUND))
    model = TileModel()
    model.apply({row.host: [row]})
    option = QStyleOptionViewItem()
    option.rect = QRect(0, 0, TILE_SIZE.width(), TILE_SIZE.height())
    option.state = state
    painter = QPainter(image)
    delegate.paint(painter, option, model.index(0))
    painter.end()
    return image


@pytest.mark.parametrize("dpr", [1.0, 2.0])
@pytest.mark.parametrize("state", [QStyle.StateFlag.State_None, QStyle.StateFlag.State_Selected])
def test_a_line_seen_before_is_blitted_onto_the_same_pixels(dpr, state):
    delegate = TileDelegate()
    for row in rows():
        # A new row object with the same values each time: never the whole-tile cache.
        first, second, third = (paint(delegate, replace(row), state, dpr) for _ in range(3))
        assert second == first       # the chip made on the second sight
        assert third == first        # and blitted on the third
    assert len(delegate._chips) > 0


def test_a_fractional_pixel_ratio_draws_lines_directly():
    # A chip there would sit between device pixels and be resampled.
    delegate = TileDelegate()
    for _ in range(3):
        paint(delegate, replace(rows()[0]), QStyle.StateFlag.State_None, 1.5)
    assert delegate._chips.nbytes == 0


def test_chips_stay_within_their_budget():
    delegate = TileDelegate()
    delegate._chips.budget_bytes = 40_000
    for cpu in range(30):
        row = TileRow(host="HV01", vm=make_vm("HV01", 0, cpu=float(cpu)), cpu_history=())
        for _ in range(2):
            paint(delegate, replace(row), QStyle.StateFlag.State_None, 1.0)
    assert delegate._chips.nbytes <= 40_000


def test_the_chips_shown_last_are_kept_when_the_budget_is_full():
    text = TextCache(QFont())
    base = QPixmap(200, 40)
    base.fill(QColor("white"))
    chips = TextChips(budget_bytes=10**9)
    ink = QColor("black")

    def show(word: str) -> object:
        chip = chips.get(word)
        if chip is None:
            chip = chips.make(word, [(text, ink, 10, word, False)], 10.0, (0, 0, 200, 40), base, 1.0)
        return chip

    for word in ("a", "b", "c"):
        assert show(word) is False       # first sight: drawn directly
        assert show(word) is not False   # second: a chip
    chips.budget_bytes = chips.nbytes    # full
    assert show("a") is not False        # shown again: now the most recent
    show("d"), show("d")                 # a new chip: the least recently shown goes
    assert chips.get("a") not in (None, False)
    assert chips.get("b") is None        # dropped (seen before: made again when shown)
    assert chips.nbytes <= chips.budget_bytes


def test_a_paint_makes_only_the_chips_it_is_allowed_and_the_rest_later():
    delegate = TileDelegate()
    row = rows()[0]
    delegate.chip_allowance(1)
    first = paint(delegate, replace(row), QStyle.StateFlag.State_None, 1.0)   # three lines seen
    second = paint(delegate, replace(row), QStyle.StateFlag.State_None, 1.0)
    assert len(delegate._chips) == 1            # one made, two drawn directly again
    delegate.chip_allowance(5)
    third = paint(delegate, replace(row), QStyle.StateFlag.State_None, 1.0)
    assert len(delegate._chips) == 3
    assert first == second == third
