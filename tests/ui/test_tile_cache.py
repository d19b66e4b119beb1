"""The tile rendering cache: a tile is rendered once per immutable row object and look,
a new row object (a VM that changed) is rendered again, selection and hover repaint with
their own look, and the memory line names which figure is which."""

from __future__ import annotations

from dataclasses import replace

import pytest
from PySide6.QtCore import QItemSelectionModel, QRect
from PySide6.QtGui import QColor, QImage, QPainter
from PySide6.QtWidgets import QStyle, QStyleOptionViewItem
from ui_support import make_vm

from hvconsole.monitoring.formatting import format_mem_tile, mem_tile_variants
from hvconsole.monitoring.rows import TileRow
from hvconsole.ui.monitor.paint_cache import PixmapLru, RenderedTiles
from hvconsole.ui.monitor.tile_delegate import TILE_SIZE, TileDelegate
from hvconsole.ui.monitor.tile_model import TileModel
from hvconsole.ui.monitor.tile_view import TileView

pytestmark = pytest.mark.usefixtures("qapp")


def paint(delegate: TileDelegate, model: TileModel, row: int = 0,
          state: QStyle.StateFlag = QStyle.StateFlag.State_None) -> QImage:
    image = QImage(TILE_SIZE, QImage.Format.Format_RGB32)
    image.fill(QColor("#e9ebef"))
    option = QStyleOptionViewItem()
    option.rect = QRect(0, 0, TILE_SIZE.width(), TILE_SIZE.height())
    option.state = state
    painter = QPainter(image)
    delegate.paint(painter, option, model.index(row))
    painter.end()
    return image


def tile(cpu: float = 12.0, **changes) -> TileRow:
    vm = make_vm("HV01", 0, cpu=cpu)
    if changes:
        vm = replace(vm, **changes)
    return TileRow(host="HV01", vm=vm, cpu_history=(cpu,))


def test_an_unchanged_row_is_rendered_once_then_blitted():
    delegate, model = TileDelegate(), TileModel()
    row = tile()
    model.apply({"HV01": [row]})
    first = paint(delegate, model)             # drawn straight onto the device
    renders = []
    original = delegate.render_tile
    delegate.render_tile = lambda *a: renders.append(a) or original(*a)
    second = paint(delegate, model)            # painted again: rendered into the cache
    third = paint(delegate, model)             # and from then on blitted
    fourth = paint(delegate, model)
    assert len(renders) == 1
    assert first == second == third == fourth  # the cache shows exactly what drawing does


def test_a_changed_row_is_rendered_again():
    delegate, model = TileDelegate(), TileModel()
    model.apply({"HV01": [tile(cpu=12.0)]})
    for _ in range(3):
        before = paint(delegate, model)
    model.apply({"HV01": [tile(cpu=87.0)]})    # a new row object: the VM changed
    after = paint(delegate, model)
    assert after != before
    # The new figure is what is shown, identical to a fresh delegate's drawing.
    fresh = TileDelegate()
    assert after == paint(fresh, model)


def test_selection_and_hover_have_their_own_rendering():
    delegate, model = TileDelegate(), TileModel()
    model.apply({"HV01": [tile()]})
    plain = [paint(delegate, model) for _ in range(3)][-1]
    selected = [paint(delegate, model, state=QStyle.StateFlag.State_Selected) for _ in range(3)][-1]
    hovered = [paint(delegate, model, state=QStyle.StateFlag.State_MouseOver) for _ in range(3)][-1]
    assert plain != selected and plain != hovered and selected != hovered
    # The selection border is the selection blue, on the tile's edge.
    assert selected.pixelColor(TILE_SIZE.width() // 2, 2).name() == "#1e6fd9"
    assert paint(delegate, model) == plain     # unselected again: the plain tile


def test_the_view_repaints_a_tile_when_it_is_selected(qtbot):
    model = TileModel()
    model.apply({"HV01": [TileRow(host="HV01", vm=make_vm("HV01", i), cpu_history=()) for i in range(6)]})
    view = TileView()
    qtbot.addWidget(view)
    view.setModel(model)
    view.resize(900, 400)
    view.show()
    qtbot.waitExposed(view)
    rect = view.visualRect(model.index(1))
    before = view.viewport().grab(rect).toImage()
    view.selectionModel().select(model.index(1), QItemSelectionModel.SelectionFlag.ClearAndSelect)
    qtbot.waitUntil(lambda: view.viewport().grab(rect).toImage() != before, timeout=5000)
    view.selectionModel().clearSelection()
    qtbot.waitUntil(lambda: view.viewport().grab(rect).toImage() == before, timeout=5000)


def test_memory_line_names_assigned_and_demand():
    assert format_mem_tile(16384.0, 9113.6) == "Mem 16.0 GB · demand 8.9 GB"
    assert format_mem_tile(512.0, 300.0) == "Mem 512 MB · demand 300 MB"
    assert format_mem_tile(4096.0, None) == "Mem 4.0 GB"     # no demand reported
    assert format_mem_tile(0.0, 0.0) == "Mem 0 MB"           # a VM that is off
    assert format_mem_tile(None, None) == "Mem —"
    # Shorter wordings for a narrow tile still name both figures, numbers whole.
    assert mem_tile_variants(16384.0, 13107.2) == (
        "Mem 16.0 GB · demand 12.8 GB", "Mem 16.0 · demand 12.8 GB", "Mem 16.0 · dem. 12.8 GB")
    assert mem_tile_variants(2048.0, 700.0)[-1] == "Mem 2.0 GB · dem. 700 MB"


def test_a_narrow_tile_shortens_the_memory_wording_instead_of_cutting_the_number():
    delegate, model = TileDelegate(), TileModel()
    vm = replace(make_vm("HV01", 0), memory_assigned_mb=16384.0, memory_demand_mb=13107.2,
                 heartbeat="NoContact")
    model.apply({"HV01": [TileRow(host="HV01", vm=vm, cpu_history=())]})
    drawn: list[str] = []
    original = delegate._small.put
    delegate._small.put = lambda p, x, y, text: drawn.append(text) or original(p, x, y, text)
    # 260 px: the full wording does not fit beside "No contact", a shorter one does.
    image = QImage(260, TILE_SIZE.height(), QImage.Format.Format_RGB32)
    option = QStyleOptionViewItem()
    option.rect = QRect(0, 0, 260, TILE_SIZE.height())
    painter = QPainter(image)
    delegate.paint(painter, option, model.index(0))
    painter.end()
    memory = next(t for t in drawn if t.startswith("Mem"))
    assert memory in mem_tile_variants(16384.0, 13107.2)[1:] and "12.8 GB" in memory


def test_pixmap_lru_stays_within_its_budget():
    from PySide6.QtGui import QPixmap
    one = QPixmap(100, 100).width() * 100 * 4
    lru = PixmapLru(budget_bytes=3 * one)
    for k in range(5):
        lru.put(k, QPixmap(100, 100))
    assert len(lru) == 3 and lru.nbytes == 3 * one
    assert lru.get(0) is None and lru.get(4) is not None


def test_rendered_tiles_never_confuse_two_rows():
    from PySide6.QtGui import QPixmap
    cache = RenderedTiles(budget_bytes=10 * 2**20)
    a, b = tile(cpu=1.0), tile(cpu=2.0)
    look = (300, 104, "plain", 1.0)
    cache.put(a, look, QPixmap(10, 10))
    assert cache.get(a, look) is not None
    assert cache.get(b, look) is None                       # equal key fields, other object
    assert cache.get(a, (300, 104, "selected", 1.0)) is None  # other look
    assert cache.get(a, (300, 104, "plain", 2.0)) is None     # other device pixel ratio
