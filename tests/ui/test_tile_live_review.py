"""The live part of a tile repainted alone (see test_tile_live_part.py) as the admin
meets it: ticks applied through the filter proxy the monitor page shows, mixed with
what else happens in the window between them. After each step what the window shows
equals a full repaint of the same state."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from PySide6.QtCore import QCoreApplication
from PySide6.QtGui import QFont, QImage
from PySide6.QtWidgets import QApplication
from ui_support import make_vm

from hvconsole.monitoring.rows import TileRow
from hvconsole.ui.monitor.tile_delegate import LIVE_TOP
from hvconsole.ui.monitor.tile_filter import TileFilterProxy
from hvconsole.ui.monitor.tile_model import TileModel
from hvconsole.ui.monitor.tile_view import TileView

pytestmark = pytest.mark.usefixtures("qapp")


def history(shift: int) -> tuple[float, ...]:
    return tuple(float((k * 17 + shift * 29) % 100) for k in range(30))


def tiles(cpu: float, shift: int, heartbeat: str = "OkApplicationsHealthy") -> list[TileRow]:
    return [TileRow(host="HV01", vm=make_vm("HV01", i, cpu=cpu + i, heartbeat=heartbeat),
                    cpu_history=history(shift + i)) for i in range(6)]


def grab(view: TileView) -> QImage:
    # What the window shows (its backing store), not a fresh render.
    return view.screen().grabWindow(view.window().winId()).toImage().convertToFormat(QImage.Format.Format_RGB32)


@pytest.fixture
def app_font() -> Iterator[QFont]:
    """The application's font, put back after the test (the view's tiles take it)."""
    app = QApplication.instance()
    assert isinstance(app, QApplication)
    kept = QFont(app.font())
    yield kept
    app.setFont(kept)


@pytest.mark.parametrize("points", [9, 30])
def test_a_font_so_large_that_the_cpu_line_reaches_above_the_live_part_repaints_whole_tiles(qtbot, app_font, points):
    """The admin's font decides how tall the texts are: the CPU line, centred in its band,
    then starts above LIVE_TOP, and a live part from there down left the top of the old
    figures on screen."""
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
        if points == 9:
            assert set(parts) == {LIVE_TOP}      # the usual font: live parts alone
        incremental = grab(view)
        view.viewport().repaint()
        assert grab(view) == incremental, f"tick {tick}"
