"""The tile grid as the admin uses it: mouse, keyboard, wheel, filters, hosts coming and
going, a resize. After each step what is on screen (the window's backing store, painted
by the view's own grid paint as the events made it repaint) is what ``QListView``'s own
paint of the same view shows: the same tiles selected, the same one hovered."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest
from PySide6.QtCore import QCoreApplication, QEvent, QPoint, QPointF, QRect, Qt
from PySide6.QtGui import QCursor, QImage, QMouseEvent, QWheelEvent
from ui_support import make_vm

from hvconsole.monitoring.rows import TileFinding, TileRow
from hvconsole.ui.monitor.tile_filter import TileFilter, TileFilterProxy
from hvconsole.ui.monitor.tile_model import TileModel
from hvconsole.ui.monitor.tile_view import TileView

# The offscreen platform says it cannot raise a window when a synthetic click activates one.
pytestmark = [pytest.mark.usefixtures("qapp"), pytest.mark.qt_log_ignore("This plugin does not support raise")]

AT = datetime(2026, 1, 1, tzinfo=UTC)
HOSTS = ("HV01", "HV02", "HV03")
WAIT_MS = 5_000


def rows(host: str, n: int = 40, cpu: float = 10.0) -> list[TileRow]:
    history = tuple(float((k * 17) % 100) for k in range(30))
    frozen = (TileFinding("frozen", "critical", AT, ("no heartbeat",)),)
    return [TileRow(host=host, vm=make_vm(host, i, cpu=cpu + i, state="Off" if i % 7 == 3 else "Running"),
                    cpu_history=history, findings=frozen if i % 11 == 5 else (),
                    stale_reason="Host not answering" if i % 5 == 2 else None) for i in range(n)]


@pytest.fixture
def tiles(qtbot):
    model = TileModel()
    proxy = TileFilterProxy(model)
    model.apply({h: rows(h) for h in HOSTS})
    view = TileView()
    qtbot.addWidget(view)
    view.setModel(proxy)
    view.resize(1100, 520)
    view.move(0, 0)
    # The mouse starts outside the view: an earlier test in this process may have left the
    # cursor where this view's tiles are, which would light one up before the test moves it.
    QCursor.setPos(view.screen().geometry().bottomRight())
    view.show()
    qtbot.waitExposed(view)
    qtbot.wait(100)                             # the delayed layout and its full repaint
    return model, proxy, view


def settle(qtbot) -> None:
    QCoreApplication.sendPostedEvents()
    qtbot.wait(30)


def on_screen(view: TileView) -> QImage:
    """The viewport as the window shows it now (its backing store, not a fresh paint)."""
    image = view.screen().grabWindow(view.winId()).toImage()
    dpr = image.devicePixelRatio()
    x, y, width, height = view.viewport().geometry().getRect()
    return image.copy(round(x * dpr), round(y * dpr), round(width * dpr),
                      round(height * dpr)).convertToFormat(QImage.Format.Format_RGB32)


def list_views_paint(view: TileView) -> QImage:
    """The viewport repainted whole by QListView's own paint."""
    view._grid = lambda: None                   # type: ignore[method-assign]
    try:
        view.viewport().repaint()
        return on_screen(view)
    finally:
        del view._grid
        view.viewport().update()


def pixels(image: QImage) -> np.ndarray:
    return np.frombuffer(image.constBits(), np.uint8).reshape(image.height(), image.bytesPerLine())


def settled_screen(qtbot, view: TileView) -> QImage:
    """The viewport once the repaints the last events asked for are done: two grabs a
    little apart show the same picture (on a loaded machine a scroll's repaint can come
    later than one short wait)."""
    settle(qtbot)
    shown = on_screen(view)
    for _ in range(40):
        settle(qtbot)
        again = on_screen(view)
        if again == shown:
            break
        shown = again
    return shown


def assert_as_list_view(qtbot, view: TileView) -> None:
    """What is on screen is QListView's picture of the same view. A tile drawn straight
    onto the view and the same tile rendered into a pixmap may differ by a step of
    anti-aliasing where the view's edge cuts a sparkline: one step is allowed; a hover or
    selection edge is a different colour altogether."""
    ours = settled_screen(qtbot, view)
    assert view._grid() is not None, "the grid paint is not what is being checked"
    theirs = list_views_paint(view)
    difference = np.abs(pixels(ours).astype(np.int16) - pixels(theirs))
    assert int(difference.max()) <= 1
    settle(qtbot)


def centre(view: TileView, row: int) -> QPoint:
    return view.visualRect(view.model().index(row, 0)).center()


def changed_area(before: QImage, after: QImage) -> QRect:
    """The bounding rectangle of the pixels that differ (empty if none)."""
    changed = np.argwhere(pixels(before) != pixels(after))     # (line, byte) pairs
    if not len(changed):
        return QRect()
    top, left = (int(v) for v in changed.min(axis=0))
    bottom, right = (int(v) for v in changed.max(axis=0))
    dpr = before.devicePixelRatio()      # in the view's (logical) pixels, as visualRect
    return QRect(QPoint(int(left // 4 / dpr), int(top / dpr)),        # 4 bytes a pixel
                 QPoint(int(right // 4 / dpr), int(bottom / dpr)))


def move_to(viewport, at: QPoint) -> None:
    """The mouse move the viewport gets from the window system, delivered to it directly
    (the window system's path passes through process-wide state earlier tests can leave
    behind: a mouse grab, a popup)."""
    QCoreApplication.sendEvent(viewport, QMouseEvent(
        QEvent.Type.MouseMove, QPointF(at), QPointF(viewport.mapToGlobal(at)), Qt.MouseButton.NoButton,
        Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier))


def test_hover_follows_the_mouse_and_clears_when_it_leaves(qtbot, tiles):
    _model, _proxy, view = tiles
    viewport = view.viewport()
    plain = settled_screen(qtbot, view)
    move_to(viewport, centre(view, 13))
    # (the move reaches the view through the window system: on a loaded machine later
    # than one short wait)
    qtbot.waitUntil(lambda: not changed_area(plain, on_screen(view)).isEmpty(), timeout=WAIT_MS)
    lit = settled_screen(qtbot, view)
    tile = view.visualRect(view.model().index(13, 0))
    assert not changed_area(plain, lit).isEmpty(), "no tile lit up under the mouse"
    assert tile.contains(changed_area(plain, lit))
    assert_as_list_view(qtbot, view)
    move_to(viewport, centre(view, 18))
    there = view.visualRect(view.model().index(18, 0))
    qtbot.waitUntil(lambda: there.contains(changed_area(plain, on_screen(view))), timeout=WAIT_MS)
    moved = settled_screen(qtbot, view)
    assert there.contains(changed_area(plain, moved))
    assert_as_list_view(qtbot, view)
    QCoreApplication.sendEvent(viewport, QEvent(QEvent.Type.Leave))
    assert settled_screen(qtbot, view) == plain
    assert_as_list_view(qtbot, view)


def test_a_scroll_under_a_still_mouse_moves_the_hover(qtbot, tiles):
    _model, _proxy, view = tiles
    viewport = view.viewport()
    at = centre(view, 14)
    qtbot.mouseMove(viewport, at)
    settle(qtbot)
    wheel = QWheelEvent(QPointF(at), QPointF(viewport.mapToGlobal(at)), QPoint(), QPoint(0, -120),
                        Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase,
                        False)
    QCoreApplication.sendEvent(viewport, wheel)
    assert view.verticalScrollBar().value() > 0
    assert_as_list_view(qtbot, view)
    view.verticalScrollBar().setValue(300)      # the scroll bar dragged
    assert_as_list_view(qtbot, view)


def test_clicks_keys_and_activation(qtbot, tiles):
    model, _proxy, view = tiles
    viewport = view.viewport()
    qtbot.mouseMove(viewport, centre(view, 3))
    qtbot.mouseClick(viewport, Qt.MouseButton.LeftButton, pos=centre(view, 3))
    qtbot.mouseClick(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.ControlModifier, centre(view, 8))
    qtbot.mouseClick(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.ShiftModifier, centre(view, 12))
    assert sorted(i.row() for i in view.selectionModel().selectedIndexes()) == [3, 8, 9, 10, 11, 12]
    assert_as_list_view(qtbot, view)
    view.setFocus()
    for key in (Qt.Key.Key_Right, Qt.Key.Key_Down, Qt.Key.Key_PageDown, Qt.Key.Key_End, Qt.Key.Key_Home):
        qtbot.keyClick(view, key)
        assert_as_list_view(qtbot, view)
    assert view.currentIndex().row() == 0
    opened: list[TileRow] = []
    view.tile_activated.connect(opened.append)
    qtbot.keyClick(view, Qt.Key.Key_Return)
    # A double click as the window system sends it: a click, then the second press.
    qtbot.mouseClick(viewport, Qt.MouseButton.LeftButton, pos=centre(view, 4))
    qtbot.mouseDClick(viewport, Qt.MouseButton.LeftButton, pos=centre(view, 4))
    assert [r.vm.name for r in opened] == [model.row(0).vm.name, model.row(4).vm.name]


def test_filters_hosts_and_resizes_while_scrolled(qtbot, tiles):
    model, proxy, view = tiles
    qtbot.mouseMove(view.viewport(), centre(view, 5))
    proxy.set_tile_filter(TileFilter(hosts=frozenset({"HV02"})))
    settle(qtbot)
    assert view._row_at() is None               # QListView paints a filtered view
    proxy.set_tile_filter(TileFilter())
    assert_as_list_view(qtbot, view)
    view.verticalScrollBar().setValue(400)
    model.apply({h: rows(h, cpu=30.0) for h in (*HOSTS, "HV04")})   # a host appears
    assert_as_list_view(qtbot, view)
    model.apply({h: rows(h, cpu=50.0) for h in HOSTS[1:]})          # and one goes
    assert_as_list_view(qtbot, view)
    moved = rows("HV03", cpu=60.0)                # a VM's finding moves its tile to the front
    moved[30] = TileRow(host="HV03", vm=moved[30].vm, cpu_history=moved[30].cpu_history,
                        findings=(TileFinding("frozen", "critical", AT, ("no heartbeat",)),))
    model.apply({"HV02": rows("HV02", cpu=60.0), "HV03": moved})
    assert "HV03-VM030" in [model.row(i).vm.name for i in range(12)]   # among the problems
    assert_as_list_view(qtbot, view)
    view.resize(800, 520)                       # fewer columns
    qtbot.wait(50)
    assert_as_list_view(qtbot, view)


def test_the_current_tile_has_a_ring_while_the_view_has_the_focus(qtbot, tiles):
    _model, _proxy, view = tiles
    view.clearFocus()
    plain = settled_screen(qtbot, view)
    view.setFocus()
    ctrl = Qt.KeyboardModifier.ControlModifier
    for key in (Qt.Key.Key_Right, Qt.Key.Key_Right, Qt.Key.Key_Down):  # moves without selecting
        qtbot.keyClick(view, key, ctrl)
    shown = settled_screen(qtbot, view)
    current = view.currentIndex()
    assert current.isValid() and not view.selectionModel().hasSelection()
    ringed = changed_area(plain, shown)
    assert not ringed.isEmpty(), "nothing shows which tile the keyboard is on"
    assert view.visualRect(current).contains(ringed)
    assert_as_list_view(qtbot, view)
    view.clearFocus()
    assert settled_screen(qtbot, view) == plain
