"""The tile view paints its grid itself (the tiles in each changed area, their rows
straight from the model, every sparkline after every tile's texts): the picture is the one
``QListView``'s own paint through the delegate makes tile by tile, selected, hovered,
stale and problem tiles included, scrolled or not; and where the layout is not a plain
grid the view leaves the paint to ``QListView``."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from PySide6.QtCore import QCoreApplication, QEvent, QItemSelectionModel, QPointF, Qt
from PySide6.QtGui import QHoverEvent, QImage
from ui_support import make_vm

from hvconsole.monitoring.rows import TileFinding, TileRow
from hvconsole.ui.monitor.tile_filter import TileFilter, TileFilterProxy
from hvconsole.ui.monitor.tile_model import TileModel
from hvconsole.ui.monitor.tile_view import TileView

pytestmark = pytest.mark.usefixtures("qapp")

AT = datetime(2026, 1, 1, tzinfo=UTC)


def rows(host: str, n: int, cpu: float = 10.0) -> list[TileRow]:
    history = tuple(float((k * 17) % 100) for k in range(30))
    frozen = (TileFinding("frozen", "critical", AT, ("no heartbeat",)),)
    out = []
    for i in range(n):
        state = "Off" if i % 7 == 3 else "Running"
        out.append(TileRow(host=host, vm=make_vm(host, i, cpu=cpu + i, state=state), cpu_history=history,
                           findings=frozen if i % 11 == 5 else (),
                           stale_reason="Host not answering" if i % 5 == 2 else None))
    return out


def shown(qtbot, model, size=(1100, 520)) -> TileView:
    view = TileView()
    qtbot.addWidget(view)
    view.setModel(model)
    view.resize(*size)
    view.show()
    qtbot.waitExposed(view)
    qtbot.wait(100)                             # the delayed layout and its full repaint
    return view


def painted_by(view: TileView, *, grid: bool) -> QImage:
    """The viewport repainted whole, by the view's grid paint or by QListView's."""
    if grid:
        assert view._grid() is not None
    else:
        view._grid = lambda: None               # type: ignore[method-assign]
    try:
        view.viewport().repaint()
        return view.viewport().grab().toImage().convertToFormat(QImage.Format.Format_RGB32)
    finally:
        if not grid:
            del view._grid


def hover(view: TileView, row: int) -> None:
    at = QPointF(view.visualRect(view.model().index(row, 0)).center())
    event = QHoverEvent(QEvent.Type.HoverMove, at, view.viewport().mapToGlobal(at), QPointF(-1, -1),
                        Qt.KeyboardModifier.NoModifier)
    QCoreApplication.sendEvent(view.viewport(), event)


@pytest.mark.parametrize("scrolled", [0, 130])
def test_the_grid_paint_is_the_list_views_paint(qtbot, scrolled):
    model = TileModel()
    model.apply({h: rows(h, 14) for h in ("HV01", "HV02", "HV03")})
    view = shown(qtbot, model)
    view.verticalScrollBar().setValue(scrolled)
    selection = view.selectionModel()
    for row in (1, 6, 7):
        selection.select(model.index(row), QItemSelectionModel.SelectionFlag.Select)
    hover(view, 9)
    hover(view, 4)
    QCoreApplication.processEvents()
    assert view._hover.row() == 4
    for _ in range(2):                          # first sight (drawn directly), then cached
        view.tile_delegate._rendered.clear()
        ours = painted_by(view, grid=True)
        view.tile_delegate._rendered.clear()
        theirs = painted_by(view, grid=False)
        assert ours == theirs
    # A tick: new rows, painted by the grid over what was there.
    model.apply({h: rows(h, 14, cpu=40.0) for h in ("HV01", "HV02", "HV03")})
    QCoreApplication.sendPostedEvents()
    QCoreApplication.processEvents()
    incremental = view.viewport().grab().toImage().convertToFormat(QImage.Format.Format_RGB32)
    assert painted_by(view, grid=False) == incremental


def test_a_filtered_view_and_an_empty_one_are_left_to_the_list_view(qtbot):
    model = TileModel()
    proxy = TileFilterProxy(model)
    view = shown(qtbot, proxy)
    assert view._grid() is None                 # nothing to paint
    model.apply({h: rows(h, 6) for h in ("HV01", "HV02")})
    QCoreApplication.processEvents()
    qtbot.wait(50)
    assert view._row_at() is not None and view._grid() is not None
    proxy.set_tile_filter(TileFilter(hosts=frozenset({"HV02"})))
    assert view._row_at() is None                # the proxy's rows are not the model's
