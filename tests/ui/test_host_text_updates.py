"""A host line whose text alone changed (the usual poll: a new Poll figure) is announced
with the display role only, and the host list repaints those cells without Qt's work for
a change of look; the picture is the one a full repaint draws, the first line and a run
of lines included, and a change of look still takes Qt's whole path."""

from __future__ import annotations

from dataclasses import replace

import pytest
from PySide6.QtCore import QCoreApplication, Qt
from PySide6.QtGui import QImage

from hvconsole.monitoring.rows import HostRow
from hvconsole.ui.hosts.host_model import COL_POLL, COL_STATUS, HostListModel
from hvconsole.ui.hosts.host_panel import HostPanel

pytestmark = pytest.mark.usefixtures("qapp")

DISPLAY = int(Qt.ItemDataRole.DisplayRole)


def hosts(n: int) -> list[HostRow]:
    return [HostRow(name=f"HV{i:02d}", address=f"hv{i:02d}", reachable=True, os_build=20348,
                    os_ubr=3692, poll_ms=100.0 + i, vm_total=10, vm_running=9) for i in range(n)]


def grab(panel: HostPanel) -> QImage:
    return panel.screen().grabWindow(panel.winId()).toImage().convertToFormat(QImage.Format.Format_RGB32)


def announced_by(model: HostListModel) -> list[tuple[int, int, int, list[int]]]:
    seen: list[tuple[int, int, int, list[int]]] = []
    model.dataChanged.connect(lambda a, b, roles=(): seen.append((a.row(), b.row(), a.column(), list(roles))))
    return seen


def test_a_new_text_is_announced_with_the_display_role_and_a_new_look_without_roles():
    rows = hosts(4)
    model = HostListModel([(r.name, r.address) for r in rows])
    model.apply(rows)
    seen = announced_by(model)
    model.apply([replace(rows[0], poll_ms=250.0), replace(rows[1], poll_ms=260.0),
                 replace(rows[3], reachable=False, error_kind="timeout")])
    text_only = [s for s in seen if s[3] == [DISPLAY]]
    assert text_only == [(0, 1, COL_POLL, [DISPLAY])]
    look = [s for s in seen if s[3] != [DISPLAY]]
    assert look and all(s[0] == 3 and s[3] == [] for s in look)
    assert (3, 3, COL_STATUS, []) in look


@pytest.mark.parametrize("changed", [[0], [0, 1, 2, 3, 4], [6, 11], [2, 3, 4, 9]])
def test_text_updates_repaint_the_picture_a_full_repaint_draws(qtbot, changed):
    rows = hosts(14)
    model = HostListModel([(r.name, r.address) for r in rows])
    model.apply(rows)
    panel = HostPanel(model)
    qtbot.addWidget(panel)
    panel.resize(700, 700)
    panel.show()
    qtbot.waitExposed(panel)
    panel.view.setFocus()
    panel.view.setCurrentIndex(model.index(3, 0))     # a highlighted line among them
    QCoreApplication.processEvents()
    seen = announced_by(model)
    for i in changed:
        rows[i] = replace(rows[i], poll_ms=rows[i].poll_ms + 1000)
    model.apply(rows[i] for i in changed)
    QCoreApplication.sendPostedEvents()
    QCoreApplication.processEvents()
    assert seen and all(s[3] == [DISPLAY] for s in seen)
    incremental = grab(panel)
    panel.view.viewport().repaint()
    assert grab(panel) == incremental
    assert model.index(changed[0], COL_POLL).data() == f"{rows[changed[0]].poll_ms:.0f} ms"
