"""A tick whose tiles keep their base (same VM state, name, host, status, findings: the
usual case) repaints only their live part, from ``LIVE_TOP`` down to ``UPTIME_TOP`` (to the
bottom when the uptime line changes); the rest is left on screen. The picture is the one a
full repaint draws: everything a poll changes without changing the base lies inside that
part, a tile painted there over the old one is the new tile, and a tile whose base changed
is painted whole."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from PySide6.QtCore import QCoreApplication, QItemSelectionModel
from PySide6.QtGui import QColor, QImage, QPainter
from ui_support import make_vm

from hvconsole.monitoring.rows import TileFinding, TileRow
from hvconsole.ui.monitor.tile_delegate import LIVE_TOP, TILE_SIZE, UPTIME_TOP, TileDelegate, same_base
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


def paint(delegate: TileDelegate, target: QImage, tile: TileRow, dpr: float, selected: bool = False,
          rows: tuple[int, int] = (0, TILE_SIZE.height())) -> None:
    """``tile`` painted at 5, 5; only its ``rows`` (tile-local) get through, as the view's
    paint region lets them."""
    painter = QPainter(target)
    width, height = TILE_SIZE.width(), TILE_SIZE.height()
    painter.setClipRect(5, 5 + rows[0], width, rows[1] - rows[0])
    delegate.paint_rows(painter, [(tile, 5, 5, width, height, selected, False, *rows)], dpr)
    painter.end()


def pixels(target: QImage) -> np.ndarray:
    return np.frombuffer(target.constBits(), np.uint8).reshape(target.height(), target.bytesPerLine()).copy()


def test_what_a_poll_changes_without_the_base_lies_in_the_live_part():
    delegate = TileDelegate()
    width, height = TILE_SIZE.width(), TILE_SIZE.height()
    assert delegate._live_layout(width, height, 1.0).uptime_band[1] == UPTIME_TOP
    old = row()
    for new in (row(cpu=99.0, shift=3), row(cpu=4.0, shift=5, uptime=3 * 86400 + 7200),
                row(heartbeat="LostCommunication", shift=1), row(cpu=100.0, shift=2)):
        assert same_base(old, new)
        bottom = delegate.live_bottom(old, new, width, height, 1.0)
        assert bottom == (UPTIME_TOP if new.texts.uptime == old.texts.uptime else height)
        a = pixels(delegate.render_tile(old, TILE_SIZE, "plain", 1.0).toImage())
        b = pixels(delegate.render_tile(new, TILE_SIZE, "plain", 1.0).toImage())
        assert np.array_equal(a[:LIVE_TOP], b[:LIVE_TOP])
        assert np.array_equal(a[bottom:], b[bottom:])
        assert not np.array_equal(a, b)       # the live part did change


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
@pytest.mark.parametrize("uptime", [86400, 5 * 86400])
def test_the_live_part_painted_over_the_old_tile_is_the_new_tile(dpr, selected, sight, uptime):
    delegate = TileDelegate()
    old, new = row(cpu=12.0), row(cpu=64.0, shift=7, heartbeat="LostCommunication", uptime=uptime)
    if sight != "first":
        # Lines seen before are chips (made on their second sight); a row painted twice is
        # blitted from its own rendered pixmap.
        seen = row(cpu=64.0, heartbeat="LostCommunication", uptime=uptime)
        for _ in range(2):
            paint(delegate, image(dpr), seen, dpr, selected)
    if sight == "cached":
        paint(delegate, image(dpr), new, dpr, selected)
    bottom = delegate.live_bottom(old, new, TILE_SIZE.width(), TILE_SIZE.height(), dpr)
    assert bottom == (UPTIME_TOP if uptime == 86400 else TILE_SIZE.height())
    partial = image(dpr)
    paint(delegate, partial, old, dpr, selected)
    paint(delegate, partial, new, dpr, selected, (LIVE_TOP, bottom))
    whole = image(dpr)
    paint(delegate, whole, new, dpr, selected)
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
    bottoms: dict[str, int] = {}
    original = view.tile_delegate.paint_rows

    def recorded(painter, tiles, dpr):
        parts.update({t[0].vm.name: t[7] for t in tiles})
        bottoms.update({t[0].vm.name: t[8] for t in tiles})
        original(painter, tiles, dpr)

    view.tile_delegate.paint_rows = recorded    # type: ignore[method-assign]
    ratio = view.viewport().devicePixelRatioF()
    whole_ratio = ratio == int(ratio)
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
        # One VM's uptime moves to the next hour: its live part is repainted to the bottom.
        new["HV03"][0] = TileRow(host="HV03", vm=make_vm("HV03", 0, cpu=50.0, uptime_s=86400 + 3600 * tick),
                                 cpu_history=history(tick))
        model.apply(new)
        QCoreApplication.sendPostedEvents()
        QCoreApplication.processEvents()
        assert parts, "the tick repainted nothing"
        if not whole_ratio:
            # A part's top would fall between device pixels: whole tiles (QT_SCALE_FACTOR=1.5).
            assert set(parts.values()) == {0} and set(bottoms.values()) == {TILE_SIZE.height()}
        else:
            assert (parts["HV03-VM000"], bottoms["HV03-VM000"]) == (LIVE_TOP, TILE_SIZE.height())
            assert parts.get(changed.vm.name) == 0 and parts.get("HV01-VM001") == 0
            assert sum(1 for part in parts.values() if part == LIVE_TOP) >= 10
            # The uptime lines stay (all over a day, the same hour) but the one that changes.
            assert sum(1 for name, bottom in bottoms.items()
                       if parts[name] == LIVE_TOP and bottom == UPTIME_TOP) >= 9
        incremental = grab(view)
        view.viewport().repaint()               # every tile whole
        assert grab(view) == incremental, f"tick {tick}"
    # A tick that also moves a tile (a finding puts it first): the live parts were worked
    # out at the old places, so the view is repainted whole, never a tile's live part
    # under another one's top.
    parts.clear()
    moved = rows("HV03", 5, 77.0, 9)
    moved[4] = replace(moved[4], findings=FROZEN)
    model.apply({"HV03": moved})              # one host: its lines of tiles, not the whole grid
    QCoreApplication.sendPostedEvents()
    assert parts and set(parts.values()) == {0}
    assert any(name.startswith("HV03") for name in parts)
    QCoreApplication.processEvents()
    qtbot.wait(20)                              # the delayed layout and its repaint
    incremental = grab(view)
    view.viewport().repaint()
    assert grab(view) == incremental


def test_a_line_whose_ink_may_reach_the_uptime_line_has_the_live_part_repainted_to_the_bottom(monkeypatch):
    """A text whose ink reaches below its band (none of the console's own wordings; a
    heartbeat the host reports in words the console does not know is shown as it comes)
    may touch the uptime line's band: that band is repainted too."""
    width, height = TILE_SIZE.width(), TILE_SIZE.height()
    old, new = row(heartbeat="Odd"), row(heartbeat="Deep", cpu=80.0)
    assert TileDelegate().live_bottom(old, new, width, height, 1.0) == UPTIME_TOP
    delegate = TileDelegate()
    small = delegate._small
    measured = small.ink_bottom
    monkeypatch.setattr(small, "ink_bottom", lambda text: 40 if "Deep" in text else measured(text))
    assert delegate.live_bottom(old, new, width, height, 1.0) == height
    assert delegate.live_bottom(new, old, width, height, 1.0) == height      # the old line's ink too
