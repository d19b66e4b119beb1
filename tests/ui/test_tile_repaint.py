"""What a tick repaints: one dataChanged per run of changed tiles (not one span over the
grid), the view paints only the tiles in the changed areas, and the picture it leaves is
the one a full repaint draws."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QCoreApplication
from PySide6.QtGui import QImage
from ui_support import make_vm

from hvconsole.monitoring.rows import TileRow
from hvconsole.ui.monitor.tile_delegate import VIEW_BACKGROUND
from hvconsole.ui.monitor.tile_filter import TileFilter, TileFilterProxy
from hvconsole.ui.monitor.tile_model import MAX_RUN_SIGNALS, TileModel
from hvconsole.ui.monitor.tile_view import TileView

pytestmark = pytest.mark.usefixtures("qapp")


def tiles(host: str, n: int, cpu: float = 10.0) -> list[TileRow]:
    return [TileRow(host=host, vm=make_vm(host, i, cpu=cpu), cpu_history=()) for i in range(n)]


def spans(model: TileModel) -> list[tuple[int, int]]:
    seen: list[tuple[int, int]] = []
    model.dataChanged.connect(lambda a, b, roles: seen.append((a.row(), b.row())))
    return seen


def test_changed_tiles_apart_are_announced_run_by_run():
    model = TileModel()
    model.apply({h: tiles(h, 10) for h in ("HV01", "HV02", "HV03")})
    seen = spans(model)
    model.apply({"HV01": tiles("HV01", 10, cpu=50.0), "HV03": tiles("HV03", 10, cpu=50.0)})
    assert seen == [(0, 9), (20, 29)]          # HV02's tiles between them are left alone


def test_many_runs_are_announced_as_one_span():
    model = TileModel()
    hosts = [f"HV{i:02d}" for i in range(2 * MAX_RUN_SIGNALS + 2)]
    model.apply({h: tiles(h, 1) for h in hosts})
    seen = spans(model)
    every_other = [model.row(i).host for i in range(0, model.rowCount(), 2)]
    model.apply({h: tiles(h, 1, cpu=50.0) for h in every_other})     # more runs than the limit
    assert seen == [(0, 2 * MAX_RUN_SIGNALS)]


def grab(view: TileView) -> QImage:
    # What the view has painted so far (the window's backing store), not a fresh render.
    window = view.window()
    return view.screen().grabWindow(window.winId()).toImage().convertToFormat(QImage.Format.Format_RGB32)


def test_a_tick_paints_only_the_changed_tiles_and_the_same_picture_as_a_full_repaint(qtbot):
    model = TileModel()
    model.apply({h: tiles(h, 8) for h in ("HV01", "HV02", "HV03")})
    view = TileView()
    qtbot.addWidget(view)
    view.setModel(model)
    view.resize(1100, 500)
    view.show()
    qtbot.waitExposed(view)
    qtbot.wait(100)                             # the delayed layout and its full repaint
    view.viewport().repaint()
    QCoreApplication.processEvents()
    painted: list[object] = []
    original = view.tile_delegate._draw_lines
    view.tile_delegate._draw_lines = lambda p, row, *size: painted.append(row) or original(p, row, *size)
    area = view.viewport().rect()
    shown = sum(1 for i in range(model.rowCount()) if area.intersects(view.visualRect(model.index(i))))
    assert shown > 16                           # all three hosts' first tiles are on screen

    model.apply({"HV01": tiles("HV01", 8, cpu=50.0), "HV03": tiles("HV03", 8, cpu=50.0)})
    QCoreApplication.sendPostedEvents()
    QCoreApplication.processEvents()
    fresh = {id(r) for r in model.rows() if r.host in ("HV01", "HV03")}
    assert painted and all(id(r) in fresh for r in painted)    # HV02's tiles were not painted
    incremental = grab(view)
    view.viewport().repaint()
    assert grab(view) == incremental


def test_the_space_the_tiles_leave_is_background(qtbot):
    """The viewport does not fill itself before painting: the gaps between tiles and the
    space after the last one are painted by the view, also when tiles go away."""
    model = TileModel()
    model.apply({"HV01": tiles("HV01", 24)})
    view = TileView()
    qtbot.addWidget(view)
    view.setModel(model)
    view.resize(1100, 500)
    view.show()
    qtbot.waitExposed(view)
    qtbot.wait(100)
    first = view.visualRect(model.index(0))
    model.apply({"HV01": tiles("HV01", 1)})        # 23 tiles gone
    QCoreApplication.sendPostedEvents()
    QCoreApplication.processEvents()
    qtbot.wait(50)
    image = view.viewport().grab().toImage()
    shot = view.screen().grabWindow(view.winId()).toImage()
    offset = view.viewport().mapTo(view.window(), first.topLeft()) - first.topLeft()
    background = VIEW_BACKGROUND.rgb()
    for y in range(0, view.viewport().height(), 7):
        for x in range(0, view.viewport().width(), 11):
            if not first.adjusted(-1, -1, 1, 1).contains(x, y):
                assert image.pixel(x, y) == background, (x, y)
                assert shot.pixel(x + offset.x(), y + offset.y()) == background, (x, y)


@pytest.mark.parametrize("hosts", [frozenset(), frozenset({"HV02"})])
def test_the_view_paints_its_proxys_rows_filtered_or_not(qtbot, hosts):
    """Unfiltered, the view hands the delegate the model's rows directly; filtered, the
    delegate asks each index (the proxy's row is then another row of the model)."""
    model = TileModel()
    model.apply({h: tiles(h, 4) for h in ("HV01", "HV02", "HV03")})
    proxy = TileFilterProxy(model)
    proxy.set_tile_filter(TileFilter(hosts=hosts))
    view = TileView()
    qtbot.addWidget(view)
    view.setModel(proxy)
    view.resize(1100, 500)
    view.show()
    qtbot.waitExposed(view)
    qtbot.wait(100)
    painted: list[TileRow] = []
    original = view.tile_delegate._draw_lines
    view.tile_delegate._draw_lines = lambda p, row, *size: painted.append(row) or original(p, row, *size)
    view.tile_delegate._rendered.clear()       # every tile painted afresh
    view.viewport().repaint()
    expected = [model.row(i) for i in range(model.rowCount()) if not hosts or model.row(i).host in hosts]
    assert {id(r) for r in painted} == {id(r) for r in expected}   # in the view's own order
