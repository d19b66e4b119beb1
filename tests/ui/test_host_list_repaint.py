"""What a tick repaints in the host list: only the cells that changed, also when the
changed hosts lie apart, and the picture it leaves is the one a full repaint draws
(the selected line included)."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

import pytest
from PySide6.QtCore import QCoreApplication
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QStyledItemDelegate

from hvconsole.monitoring.rows import HostRow
from hvconsole.ui.hosts.host_model import COL_BUILD, COL_POLL, HostListModel
from hvconsole.ui.hosts.host_panel import HostPanel

pytestmark = pytest.mark.usefixtures("qapp")


class CountingDelegate(QStyledItemDelegate):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.cells: Counter[int] = Counter()

    def paint(self, painter, option, index):
        self.cells[index.column()] += 1
        super().paint(painter, option, index)


def hosts(n: int) -> list[HostRow]:
    return [HostRow(name=f"HV{i:02d}", address=f"hv{i:02d}", reachable=True, os_build=20348,
                    os_ubr=3692, poll_ms=100.0 + i, vm_total=10, vm_running=9) for i in range(n)]


def grab(panel: HostPanel) -> QImage:
    return panel.screen().grabWindow(panel.winId()).toImage().convertToFormat(QImage.Format.Format_RGB32)


def tick(model: HostListModel, rows: list[HostRow], changed: list[int], **fields) -> None:
    for i in changed:
        rows[i] = replace(rows[i], **{name: value(rows[i]) for name, value in fields.items()})
    model.apply(rows[i] for i in changed)
    QCoreApplication.sendPostedEvents()
    QCoreApplication.processEvents()


def shown_panel(qtbot, count: int = 20):
    """A host list of ``count`` hosts on screen, its cells counted as they are painted."""
    rows = hosts(count)
    model = HostListModel([(r.name, r.address) for r in rows])
    model.apply(rows)
    panel = HostPanel(model)
    qtbot.addWidget(panel)
    delegate = CountingDelegate(panel.view)
    panel.view.setItemDelegate(delegate)
    panel.resize(700, 900)
    panel.show()
    qtbot.waitExposed(panel)
    QCoreApplication.processEvents()
    return rows, model, panel, delegate


def test_hosts_apart_repaint_only_their_changed_cells_and_the_same_picture_as_a_full_repaint(qtbot):
    rows, model, panel, delegate = shown_panel(qtbot)

    delegate.cells.clear()
    tick(model, rows, [1, 5, 9, 13], poll_ms=lambda r: r.poll_ms + 1)
    assert delegate.cells == {COL_POLL: 4}       # not the four lines' other seven cells

    panel.view.setFocus()
    panel.view.setCurrentIndex(model.index(5, 0))   # selected: its highlight spans the line
    QCoreApplication.processEvents()
    tick(model, rows, [1, 5, 9], poll_ms=lambda r: r.poll_ms + 1, os_ubr=lambda r: r.os_ubr + 1)
    incremental = grab(panel)
    panel.view.viewport().repaint()
    assert grab(panel) == incremental
    assert model.index(5, COL_BUILD).data() == "20348.3693"


def test_a_run_of_adjacent_hosts_repaints_only_its_cells_and_the_same_picture(qtbot):
    """Qt's QTreeView makes the area of a range of several lines far too large (every
    cell right of and below the run); the view passes such a range on line by line."""
    rows, model, panel, delegate = shown_panel(qtbot)

    delegate.cells.clear()
    tick(model, rows, list(range(3, 10)), poll_ms=lambda r: r.poll_ms + 1)
    assert delegate.cells == {COL_POLL: 7}
    delegate.cells.clear()
    tick(model, rows, list(range(3, 10)), poll_ms=lambda r: r.poll_ms + 1, os_ubr=lambda r: r.os_ubr + 1)
    assert delegate.cells == {COL_POLL: 7, COL_BUILD: 7}
    incremental = grab(panel)
    panel.view.viewport().repaint()
    assert grab(panel) == incremental


def test_changed_cells_are_announced_by_runs_within_a_column():
    rows = hosts(6)
    model = HostListModel([(r.name, r.address) for r in rows])
    model.apply(rows)
    announced: list[tuple[int, int, int, int]] = []
    model.dataChanged.connect(lambda a, b, *_: announced.append((a.row(), a.column(), b.row(), b.column())))
    for i in (0, 1, 2, 4):
        rows[i] = replace(rows[i], poll_ms=rows[i].poll_ms + 1)
    rows[4] = replace(rows[4], os_ubr=3700)
    model.apply(rows)
    assert sorted(announced) == [(0, COL_POLL, 2, COL_POLL), (4, COL_BUILD, 4, COL_BUILD), (4, COL_POLL, 4, COL_POLL)]
