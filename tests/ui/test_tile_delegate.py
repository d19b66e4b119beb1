"""The tile painter: state colour, badge colour by severity, plain-text names, and the
view that widens tiles to fill its rows."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QRect, Qt
from PySide6.QtGui import QColor, QImage, QPainter
from PySide6.QtWidgets import QStyleOptionViewItem
from ui_support import T0, make_vm

from hvconsole.monitoring import vmstate
from hvconsole.monitoring.rows import TileFinding, TileRow
from hvconsole.ui.monitor.tile_delegate import TILE_MAX_WIDTH, TILE_SIZE, TileDelegate
from hvconsole.ui.monitor.tile_model import TileModel
from hvconsole.ui.monitor.tile_view import TileView

pytestmark = pytest.mark.usefixtures("qapp")  # fonts and painting need the application


def render(row: TileRow, delegate: TileDelegate | None = None) -> tuple[QImage, TileDelegate, QRect]:
    delegate = delegate or TileDelegate()
    model = TileModel()
    model.apply({row.host: [row]})
    image = QImage(TILE_SIZE, QImage.Format.Format_ARGB32)
    image.fill(QColor("#e9ebef"))
    option = QStyleOptionViewItem()
    option.rect = QRect(0, 0, TILE_SIZE.width(), TILE_SIZE.height())
    painter = QPainter(image)
    delegate.paint(painter, option, model.index(0))
    painter.end()
    return image, delegate, QRect(option.rect)  # a copy: the option owns its rect


def colours_in(image: QImage, rect: QRect) -> set[str]:
    return {image.pixelColor(x, y).name() for x in range(rect.left(), rect.right() + 1)
            for y in range(rect.top(), rect.bottom() + 1)}


def stripe_rect(rect: QRect) -> QRect:
    return QRect(rect.left() + 4, rect.top() + 20, 3, 40)


@pytest.mark.parametrize("state", ["Running", "Off", "Saved", "Paused", "Starting", "RunningCritical"])
def test_state_stripe_has_the_state_colour(state):
    row = TileRow(host="HV01", vm=make_vm("HV01", 0, state=state), cpu_history=())
    image, _, rect = render(row)
    assert vmstate.state_colour(state) in colours_in(image, stripe_rect(rect))


def test_state_colours_follow_windows_conventions():
    assert vmstate.state_colour("Running") == vmstate.COLOUR_RUNNING
    assert vmstate.state_colour("Off") == vmstate.COLOUR_OFF
    assert vmstate.state_colour("Saved") == vmstate.COLOUR_SAVED
    assert vmstate.state_colour("Paused") == vmstate.COLOUR_PAUSED
    assert vmstate.state_colour("PausedCritical") == vmstate.COLOUR_CRITICAL_STATE
    assert vmstate.state_group("FastSaved") == vmstate.GROUP_SAVED
    assert vmstate.state_group("Stopping") == vmstate.GROUP_CHANGING
    assert vmstate.state_group("RunningCritical") == vmstate.GROUP_RUNNING


@pytest.mark.parametrize("severity", ["critical", "warning"])
def test_badge_is_coloured_by_severity(severity):
    finding = TileFinding("heartbeat-lost", severity, T0, ("evidence",))
    row = TileRow(host="HV01", vm=make_vm("HV01", 0), cpu_history=(), findings=(finding,))
    image, delegate, rect = render(row)
    badge = delegate.badge_rect(rect, row)
    assert not badge.isEmpty()
    inner = badge.adjusted(2, 6, -2, -6)
    assert vmstate.SEVERITY_COLOUR[severity] in colours_in(image, QRect(inner.left(), inner.top(), 3, 3))


def test_no_badge_without_a_finding():
    row = TileRow(host="HV01", vm=make_vm("HV01", 0), cpu_history=())
    image, delegate, rect = render(row)
    assert delegate.badge_rect(rect, row).isEmpty()
    assert not ({vmstate.SEVERITY_COLOUR["critical"]} & colours_in(image, rect))


def _ink_width(image: QImage, area: QRect) -> int:
    """How far right dark text pixels reach in ``area``."""
    right = area.left()
    for x in range(area.left(), area.right() + 1):
        for y in range(area.top(), area.bottom() + 1):
            if image.pixelColor(x, y).lightness() < 100:
                right = x
                break
    return right - area.left()


def test_names_are_painted_as_plain_text():
    plain = TileRow(host="HV01", vm=make_vm("HV01", 0, name="DC01"), cpu_history=())
    tagged = TileRow(host="HV01", vm=make_vm("HV01", 0, name="<b>DC01</b>"), cpu_history=())
    img_plain, delegate, rect = render(plain)
    img_tagged, _, _ = render(tagged)
    lay = delegate.layout(rect.size(), None)
    name_area = QRect(lay.left, lay.top, lay.name_width, 18)
    # "<b>" and "</b>" are drawn as characters, so the tagged name is much wider.
    assert _ink_width(img_tagged, name_area) > _ink_width(img_plain, name_area) + 30


def test_stale_tile_is_greyed_with_a_hatched_stripe():
    row = TileRow(host="HV01", vm=make_vm("HV01", 0), cpu_history=(5.0, 6.0),
                  stale_reason="host unreachable (timeout)")
    image, _, rect = render(row)
    stripe = colours_in(image, stripe_rect(rect))
    assert vmstate.COLOUR_RUNNING in stripe and len(stripe) > 1  # pattern, not solid


def test_view_widens_tiles_to_fill_each_row(qtbot):
    model = TileModel()
    model.apply({"HV01": [TileRow(host="HV01", vm=make_vm("HV01", i), cpu_history=()) for i in range(12)]})
    view = TileView()
    qtbot.addWidget(view)
    view.setModel(model)
    view.resize(900, 500)
    view.show()
    qtbot.waitExposed(view)
    width = view.tile_delegate.tile_size.width()
    assert TILE_SIZE.width() <= width <= TILE_MAX_WIDTH
    columns = len({view.visualRect(model.index(i)).left() for i in range(model.rowCount())})
    assert columns >= 3
    slack = view.viewport().width() - columns * (width + 2 * view.spacing())
    assert 0 <= slack < width / 2  # no ragged empty band on the right
    assert view.itemDelegate().sizeHint(QStyleOptionViewItem(), model.index(0)).width() == width
    assert Qt.ScrollBarPolicy.ScrollBarAlwaysOn == view.verticalScrollBarPolicy()


def test_view_repaints_only_visible_changed_tiles(qtbot):
    # The tick's single dataChanged spans the whole list; Qt (6.12) repaints only the
    # changed tiles that are on screen. This keeps that assumption checked.
    def rows(cpu):
        return [TileRow(host="HV01", vm=make_vm("HV01", i, cpu=cpu), cpu_history=()) for i in range(200)]
    model = TileModel()
    model.apply({"HV01": rows(1.0)})
    view = TileView()
    qtbot.addWidget(view)
    view.setModel(model)
    view.resize(900, 500)
    view.show()
    qtbot.waitExposed(view)
    painted = []
    original = view.tile_delegate.paint_rows
    view.tile_delegate.paint_rows = lambda p, tiles, dpr: (
        painted.extend(model.position(t[0].host, t[0].vm_id) for t in tiles), original(p, tiles, dpr))
    qtbot.wait(50)
    painted.clear()
    # Only the last 50 tiles (far below the visible ones) change.
    model.apply({"HV01": [model.row(i) if i < 150 else r for i, r in enumerate(rows(2.0))]})
    qtbot.wait(50)
    assert painted == []  # nothing on screen changed: nothing repainted
    model.apply({"HV01": rows(3.0)})  # every tile changes
    qtbot.waitUntil(lambda: len(painted) > 0, timeout=5000)
    assert set(painted) <= set(range(0, 40))  # only what is on screen
