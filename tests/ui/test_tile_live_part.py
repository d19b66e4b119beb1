"""A tick whose tiles keep their base (same VM state, name, host, status, findings: the
usual case) repaints only their live part, from ``LIVE_TOP`` down; what is above it is
left on screen. The picture is the one a full repaint draws: everything a poll changes
without changing the base lies below ``LIVE_TOP``, a tile painted from there down over the
old one is the new tile, and a tile whose base changed is painted whole."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from PySide6.QtCore import QCoreApplication, QItemSelectionModel
from PySide6.QtGui import QColor, QImage, QPainter
from ui_support import make_vm

from hvconsole.monitoring.rows import TileFinding, TileRow
from hvconsole.ui.monitor.tile_delegate import LIVE_TOP, TILE_SIZE, TileDelegate, same_base
from hvconsole.ui.monitor.tile_model import TileModel
from hvconsole.ui.monitor.tile_view import TileView

pytestmark = pytest.mark.usefixtures("qapp")

FROZEN = (TileFinding("frozen", "critical", None, ("no heartbeat",)),)


def history(shift: int) -> tuple[float, ...]:
    return tuple(float((k * 17 + shift * 29) % 100) if k % 13 != 7 else float("nan") for k in range(30))


def row(i: int = 1, *, cpu: float = 37.0, shift: int = 0, uptime: int = 86400, heartbeat: str = "OkApplicationsHealthy",
        state: str = "Running", findings: tuple = (), stale: str | None = None, name: str | None = None) -> TileRow:
    return TileRow(host="HV01", vm=make_vm("HV01", i, cpu=cpu, uptime_s=uptime, heartbeat=heartbeat, state=state,
                                           name=name),
                   cpu_history=history(shift), findings=findings, stale_reason=stale)


def image(dpr: float) -> QImage:
    out = QImage(round((TILE_SIZE.width() + 10) * dpr), round((TILE_SIZE.height() + 10) * dpr),
                 QImage.Format.Format_RGB32)
    out.setDevicePixelRatio(dpr)
    out.fill(QColor("#e9ebef"))
    return out


def paint(delegate: TileDelegate, target: QImage, tile: TileRow, part: int, dpr: float,
          selected: bool = False) -> None:
    painter = QPainter(target)
    delegate.paint_rows(painter, [(tile, 5, 5, TILE_SIZE.width(), TILE_SIZE.height(), selected, False, part)], dpr)
    painter.end()


def pixels(target: QImage) -> np.ndarray:
    return np.frombuffer(target.constBits(), np.uint8).reshape(target.height(), target.bytesPerLine()).copy()


def test_what_a_poll_changes_without_the_base_lies_below_the_live_top():
    delegate = TileDelegate()
    old = row()
    for new in (row(cpu=99.0, shift=3), row(cpu=4.0, shift=5, uptime=3 * 86400 + 7200),
                row(heartbeat="LostCommunication", shift=1), row(cpu=100.0, shift=2)):
        assert same_base(old, new)
        size = TILE_SIZE
        a = delegate.render_tile(old, size, "plain", 1.0).toImage()
        b = delegate.render_tile(new, size, "plain", 1.0).toImage()
        top_a, top_b = pixels(a)[:LIVE_TOP], pixels(b)[:LIVE_TOP]
        assert np.array_equal(top_a, top_b)
        assert not np.array_equal(pixels(a), pixels(b))       # the live part did change


def test_rows_whose_base_differs_are_told_apart():
    old = row()
    assert same_base(old, row(cpu=80.0, shift=4))
    assert not same_base(old, row(state="Off"))
    assert not same_base(old, row(findings=FROZEN))
    assert not same_base(old, row(stale="Host not answering"))
    assert not same_base(old, row(name="renamed"))
    assert not same_base(old, replace(old, host="HV02"))


@pytest.mark.parametrize("dpr", [1.0, 2.0])
@pytest.mark.parametrize("selected", [False, True])
@pytest.mark.parametrize("sight", ["first", "chips", "cached"])
def test_the_live_part_painted_over_the_old_tile_is_the_new_tile(dpr, selected, sight):
    delegate = TileDelegate()
    old, new = row(cpu=12.0), row(cpu=64.0, shift=7, heartbeat="LostCommunication", uptime=5 * 86400)
    if sight != "first":
        # Lines seen before are chips (made on their second sight); a row painted twice is
        # blitted from its own rendered pixmap.
        seen = row(cpu=64.0, heartbeat="LostCommunication", uptime=5 * 86400)
        for _ in range(2):
            paint(delegate, image(dpr), seen, 0, dpr, selected)
    if sight == "cached":
        paint(delegate, image(dpr), new, 0, dpr, selected)
    partial = image(dpr)
    paint(delegate, partial, old, 0, dpr, selected)
    paint(delegate, partial, new, LIVE_TOP, dpr, selected)
    whole = image(dpr)
    paint(delegate, whole, new, 0, dpr, selected)
    assert np.array_equal(pixels(partial), pixels(whole))


def grab(view: TileView) -> QImage:
    # What the window shows (its backing store), not a fresh render.
    return view.screen().grabWindow(view.window().winId()).toImage().convertToFormat(QImage.Format.Format_RGB32)


def rows(host: str, n: int, cpu: float, shift: int) -> list[TileRow]:
    return [TileRow(host=host, vm=make_vm(host, i, cpu=cpu + i, state="Off" if i % 7 == 3 else "Running"),
                    cpu_history=history(shift + i), findings=FROZEN if i % 11 == 5 else (),
                    stale_reason="Host not answering" if i % 9 == 2 else None) for i in range(n)]


def test_a_tick_repaints_the_live_parts_and_leaves_the_full_repaints_picture(qtbot):
    model = TileModel()
    hosts = ("HV01", "HV02", "HV03")
    model.apply({h: rows(h, 5, 10.0, 0) for h in hosts})   # all on screen
    view = TileView()
    qtbot.addWidget(view)
    view.setModel(model)
    view.resize(1100, 500)
    view.show()
    qtbot.waitExposed(view)
    qtbot.wait(100)                             # the delayed layout and its full repaint
    view.viewport().repaint()
    view.selectionModel().select(model.index(4), QItemSelectionModel.SelectionFlag.Select)
    QCoreApplication.processEvents()
    parts: dict[str, int] = {}
    original = view.tile_delegate.paint_rows

    def recorded(painter, tiles, dpr):
        parts.update({t[0].vm.name: t[7] for t in tiles})
        original(painter, tiles, dpr)

    view.tile_delegate.paint_rows = recorded    # type: ignore[method-assign]
    for tick in range(1, 4):
        parts.clear()
        new = {h: rows(h, 5, 10.0 + 13 * tick, tick) for h in hosts}
        # Two VMs' bases change in each tick, in place (a change of order would lay the
        # grid out again and repaint it whole): a host's patch run shown in the status,
        # a state.
        at = (0, 1, 4)[tick - 1]
        changed = new["HV02"][at] = replace(new["HV02"][at], patching="patching: install")
        new["HV01"][1] = TileRow(host="HV01", vm=make_vm("HV01", 1, cpu=5.0, state="Saved" if tick % 2 else "Running"),
                                 cpu_history=history(tick))
        model.apply(new)
        QCoreApplication.sendPostedEvents()
        QCoreApplication.processEvents()
        assert parts, "the tick repainted nothing"
        assert parts.get(changed.vm.name) == 0 and parts.get("HV01-VM001") == 0
        assert sum(1 for part in parts.values() if part == LIVE_TOP) >= 10
        incremental = grab(view)
        view.viewport().repaint()               # every tile whole
        assert grab(view) == incremental, f"tick {tick}"
    # A tick that also moves a tile (a finding puts it first): the live parts were worked
    # out at the old places, so the view is repainted whole, never a tile's live part
    # under another one's top.
    parts.clear()
    new = {h: rows(h, 5, 77.0, 9) for h in hosts}
    new["HV03"][4] = replace(new["HV03"][4], findings=FROZEN)
    model.apply(new)
    QCoreApplication.sendPostedEvents()
    assert parts and set(parts.values()) == {0}
    QCoreApplication.processEvents()
    qtbot.wait(20)                              # the delayed layout and its repaint
    incremental = grab(view)
    view.viewport().repaint()
    assert grab(view) == incremental
