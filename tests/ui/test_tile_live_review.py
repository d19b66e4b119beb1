"""The live part of a tile repainted alone (see test_tile_live_part.py) as the admin
meets it: ticks applied through the filter proxy the monitor page shows, mixed with
what else happens in the window between them. After each step what the window shows
equals a full repaint of the same state."""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import timedelta

import pytest
from PySide6.QtCore import QCoreApplication, QItemSelectionModel, QPoint
from PySide6.QtGui import QFont, QImage
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication
from ui_support import T0, down, make_snapshot, make_vm, settle

from hvconsole.monitoring.rows import TileFinding, TileRow
from hvconsole.ui.background import InlineTaskRunner
from hvconsole.ui.main_window import MainWindow
from hvconsole.ui.monitor.filter_bar import FilterBar
from hvconsole.ui.monitor.monitor import Monitor
from hvconsole.ui.monitor.polling import PollingService
from hvconsole.ui.monitor.tile_delegate import LIVE_TOP
from hvconsole.ui.monitor.tile_filter import TileFilterProxy
from hvconsole.ui.monitor.tile_model import TileModel
from hvconsole.ui.monitor.tile_view import TileView

pytestmark = pytest.mark.usefixtures("qapp")

FROZEN = (TileFinding("frozen", "critical", None, ("no heartbeat",)),)


def history(shift: int) -> tuple[float, ...]:
    return tuple(float((k * 17 + shift * 29) % 100) for k in range(30))


def tiles(cpu: float, shift: int, heartbeat: str = "OkApplicationsHealthy") -> list[TileRow]:
    return [TileRow(host="HV01", vm=make_vm("HV01", i, cpu=cpu + i, heartbeat=heartbeat),
                    cpu_history=history(shift + i)) for i in range(6)]


def shown_on_screen(view: TileView) -> QImage:
    """The viewport's part of what the window shows (its backing store, not a fresh
    render): the device pixels wholly inside it (at a fractional ratio its edge pixels
    are shared with the view's frame, which a repaint of the viewport does not draw)."""
    window = view.window()
    whole = view.screen().grabWindow(window.winId()).toImage().convertToFormat(QImage.Format.Format_RGB32)
    viewport = view.viewport()
    ratio = whole.devicePixelRatio()
    at = viewport.mapTo(window, QPoint(0, 0))
    left, top = math.ceil(at.x() * ratio), math.ceil(at.y() * ratio)
    right = math.floor((at.x() + viewport.width()) * ratio)
    bottom = math.floor((at.y() + viewport.height()) * ratio)
    return whole.copy(left, top, right - left, bottom - top)


@pytest.fixture
def app_font() -> Iterator[QFont]:
    """The application's font, put back after the test (the view's tiles take it)."""
    app = QApplication.instance()
    assert isinstance(app, QApplication)
    kept = QFont(app.font())
    yield kept
    app.setFont(kept)


@pytest.mark.parametrize("points", [9, 26])
def test_a_font_so_large_that_the_cpu_line_reaches_above_the_live_part_repaints_whole_tiles(qtbot, app_font, points):
    """The admin's font decides how tall the texts are: from ~17 pt the CPU line, centred
    in its band, starts above LIVE_TOP (its ink from ~25 pt), and a live part from there
    down left the top of the old figures on screen."""
    if points > 9 and QApplication.primaryScreen().devicePixelRatio() != 1:
        # Texts that tall overflow their bands, and at other ratios a whole tile's repaint
        # differs from its first paint already (without live parts): not this test's case.
        pytest.skip("a font this large is compared at ratio 1 only")
    font = QFont(app_font)
    font.setPointSize(points)
    QApplication.setFont(font)
    model = TileModel()
    model.apply({"HV01": tiles(7.0, 0)})
    view = TileView()
    qtbot.addWidget(view)
    view.setModel(TileFilterProxy(model))
    view.resize(900, 400)
    view.show()
    qtbot.waitExposed(view)
    ratio = view.viewport().devicePixelRatioF()
    qtbot.wait(50)                               # the delayed layout and its full repaint
    parts: list[int] = []
    original = view.tile_delegate.paint_rows

    def recorded(painter, placed, dpr):
        parts.extend(t[7] for t in placed)
        original(painter, placed, dpr)

    view.tile_delegate.paint_rows = recorded    # type: ignore[method-assign]
    for tick, (cpu, heartbeat) in enumerate([(90.0, "OkApplicationsHealthy"), (3.0, "OkApplicationsHealthy"),
                                             (55.0, "LostCommunication")], start=1):
        parts.clear()
        model.apply({"HV01": tiles(cpu, tick, heartbeat)})
        QCoreApplication.sendPostedEvents()
        QCoreApplication.processEvents()
        assert parts, "the tick repainted nothing"
        if points == 9 and ratio == int(ratio):
            assert set(parts) == {LIVE_TOP}      # the usual font: live parts alone
        incremental = shown_on_screen(view)
        view.viewport().repaint()
        assert shown_on_screen(view) == incremental, f"tick {tick}"


HOSTS = ("HV01", "HV02", "HV03")


class Site:
    """Three scripted hosts of 30 VMs (more than the window shows: it scrolls); a test
    flips ``frozen`` / ``down`` between polls."""

    def __init__(self) -> None:
        self.frozen: set[tuple[str, int]] = set()
        self.down: set[str] = set()

    def script(self, host: str):
        def answer(n: int):
            at = T0 + timedelta(seconds=5 * n)
            if host in self.down:
                return down(host, at, "timeout", "no answer from hv.example.test in 10 s")
            vms = tuple(make_vm(host, i, cpu=float((n * 11 + i * 7) % 101), uptime_s=86400 + 1800 * n + 600 * i,
                                heartbeat="LostCommunication" if (host, i) in self.frozen else "OkApplicationsHealthy")
                        for i in range(30))
            return make_snapshot(host, vms, at)
        return answer


@pytest.mark.qt_log_ignore("does not support raise")  # the frozen VM's notification: offscreen cannot raise it
def test_the_window_after_each_poll_shows_what_a_full_repaint_shows(qtbot, scripted_workers):
    """Through the window's own path (workers, polling, the monitor's turns, the filter
    proxy): polls that change only the live figures, mixed with a scroll, a selection, the
    mouse over a tile and the keyboard focus, a VM that freezes (a badge, a new order), a
    host that stops answering (its tiles stale) and comes back, a filter on and off."""
    site = Site()
    workers, _ = scripted_workers({h: site.script(h) for h in HOSTS})
    polling = PollingService(workers, runner_factory=lambda name: InlineTaskRunner(), interval_s=3600)
    monitor = Monitor(workers, polling=polling)
    win = MainWindow()
    qtbot.addWidget(win)
    win.resize(1280, 800)
    win.attach(monitor, "Test site")
    win.show()
    qtbot.waitExposed(win)
    monitor.start()
    polling.flush()
    settle(win)
    view = win.findChild(TileView)
    assert view is not None
    qtbot.wait(50)
    parts: list[int] = []
    original = view.tile_delegate.paint_rows

    def recorded(painter, placed, dpr):
        parts.extend(t[7] for t in placed)
        original(painter, placed, dpr)

    view.tile_delegate.paint_rows = recorded    # type: ignore[method-assign]

    def poll(step: str) -> None:
        parts.clear()
        polling.poll_now()
        polling.flush()
        settle(win)
        qtbot.wait(20)                           # a layout's repaint, if any
        incremental = shown_on_screen(view)
        view.viewport().repaint()
        assert shown_on_screen(view) == incremental, step

    poll("live figures")
    ratio = view.viewport().devicePixelRatioF()
    if ratio == int(ratio):
        assert LIVE_TOP in parts                 # the path under review was taken
    poll("live figures again")
    view.verticalScrollBar().setValue(view.verticalScrollBar().value() + 57)   # tiles cut by the top edge
    poll("scrolled")
    proxy = view.model()
    view.selectionModel().select(proxy.index(9, 0), QItemSelectionModel.SelectionFlag.ClearAndSelect)
    view.setFocus()
    view.selectionModel().setCurrentIndex(proxy.index(10, 0), QItemSelectionModel.SelectionFlag.NoUpdate)
    QTest.mouseMove(view.viewport(), view.visualRect(proxy.index(11, 0)).center())
    poll("selected, current, hovered")
    site.frozen.add(("HV02", 4))
    poll("a VM freezes")
    site.down.add("HV03")
    poll("a host stops answering")
    site.down.discard("HV03")
    poll("the host is back")
    win.findChild(FilterBar).search.setText("VM01")
    qtbot.wait(200)                              # the search box's pause
    poll("filtered")
    win.findChild(FilterBar).search.setText("")
    qtbot.wait(200)
    poll("filter off")
    view.verticalScrollBar().setValue(0)
    poll("scrolled back")
    win.close()                                  # stops the polling


def test_a_new_order_before_its_layout_repaints_the_asked_lines_to_their_bottom(qtbot):
    """A tick announces its changed rows, then their new order; QListView lays the grid
    out (and repaints it) only a turn later. A paint in between repaints the lines whose
    live parts were asked for whole: to the bottom of their tiles, where the uptime line
    of the VM that moved into a place is not the one of the VM that was there."""
    model = TileModel()

    def ticked(shift: int, frozen: int | None = None) -> list[TileRow]:
        return [TileRow(host="HV01", vm=make_vm("HV01", i, cpu=10.0 + shift + i, uptime_s=86400 + 7200 * i),
                        cpu_history=history(shift + i), findings=FROZEN if i == frozen else ())
                for i in range(8)]

    model.apply({"HV01": ticked(0, frozen=7)})   # first: problems come first
    view = TileView()
    qtbot.addWidget(view)
    view.setModel(TileFilterProxy(model))
    view.resize(900, 400)                      # three lines of tiles
    view.show()
    qtbot.waitExposed(view)
    qtbot.wait(50)
    model.apply({"HV01": ticked(1, frozen=7)})  # live parts to the uptime line, painted
    QCoreApplication.processEvents()
    # The frozen VM recovers: its whole tile is asked for at the front, the others' live
    # parts down to their uptime lines; it goes back to the last place, the others one
    # place forward.
    model.apply({"HV01": ticked(2)})
    QCoreApplication.sendPostedEvents()         # the paint before the layout
    incremental = shown_on_screen(view)
    view.viewport().repaint()
    assert shown_on_screen(view) == incremental


@pytest.mark.parametrize("recovers", [None, 5])
def test_a_vm_removed_before_the_layout_repaints_the_asked_lines_whole(qtbot, recovers):
    """As a new order: a tick announces its changed rows, then removes a VM that is gone
    (the tiles after it move one place forward), and QListView lays the grid out a turn
    later. A paint in between must not show a VM's live part under another VM's top,
    nor when the same tick also brings a new order (a frozen VM recovers: it goes back
    from the front to its place by name, the tiles before it one place back)."""
    model = TileModel()

    def ticked(shift: int, gone: int | None = None, frozen: int | None = None) -> list[TileRow]:
        return [TileRow(host="HV01", vm=make_vm("HV01", i, cpu=10.0 + shift + i, uptime_s=86400 + 7200 * i),
                        cpu_history=history(shift + i), findings=FROZEN if i == frozen else ())
                for i in range(8) if i != gone]

    model.apply({"HV01": ticked(0, frozen=recovers)})
    view = TileView()
    qtbot.addWidget(view)
    view.setModel(TileFilterProxy(model))
    view.resize(900, 400)                      # three lines of tiles
    view.show()
    qtbot.waitExposed(view)
    qtbot.wait(50)
    model.apply({"HV01": ticked(1, frozen=recovers)})   # live parts, painted
    QCoreApplication.processEvents()
    model.apply({"HV01": ticked(2, gone=2 if recovers is None else 7)})
    QCoreApplication.sendPostedEvents()         # the paint before the layout
    incremental = shown_on_screen(view)
    view.viewport().repaint()
    assert shown_on_screen(view) == incremental
