"""The health check (issue 14) and the monitoring cost (issue 17) in the window, the way an
admin meets them: the demo site opened from the welcome page (the app's own session, the
real WinRM client, the real audits), then the Health column, View ▸ Health check…, a
double-click on a host's Health cell, a VM's Health tab, and the cost line under the graphs.

One demo site is opened for the module (starting it and auditing five hosts is the slow
part); each test looks at one hookup.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from PySide6.QtCore import QItemSelectionModel, Qt
from PySide6.QtWidgets import QApplication

from hvconsole.app import GuiSession
from hvconsole.sim.serve import LATENCY_SCALE_ENV
from hvconsole.ui.background import wait_parked
from hvconsole.ui.hosts.host_model import COL_HEALTH, COL_POLL, HostRowRole, host_health
from hvconsole.ui.main_window import MainWindow
from hvconsole.ui.monitor.tile_model import TileRole

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300),
              # The offscreen platform says these (a reopened view is raised); not ours to fix.
              pytest.mark.qt_log_ignore(r"This plugin does not support propagateSizeHints",
                                        r"This plugin does not support raise")]

WAIT_MS = 180_000       # five audits and the first polls on a loaded 2-core machine: generous
# Set to a folder to keep the pictures these tests take (to look at them).
SHOTS = os.environ.get("HVC_INTEGRATION_SHOTS")


def wait_until(predicate, timeout_ms: int = WAIT_MS) -> None:
    import time

    from PySide6.QtTest import QTest
    deadline = time.monotonic() + timeout_ms / 1000
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        QTest.qWait(50)


def shot(widget, name: str) -> None:
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        assert widget.grab().save(str(Path(SHOTS) / name))


@pytest.fixture(scope="module")
def demo(qapp):
    """The window with the demo site open and every host audited once."""
    window = MainWindow()
    window.resize(1600, 1000)
    session = GuiSession(window)
    window.show_welcome()
    window.show()
    assert not window.health_action.isEnabled()          # no site, no health check yet
    # The demo hosts' latencies (powershell.exe start-up, the audit's queries) at a fifth:
    # these tests check what the audits found and where the window shows it, not timings.
    # The demo site reads it when it starts.
    with pytest.MonkeyPatch.context() as env:
        env.setenv(LATENCY_SCALE_ENV, "0.2")
        window.welcome.demo_button.click()
        wait_until(lambda: session.health is not None and window.page is not None)
    health = session.health
    wait_until(lambda: len(health.audits()) == len(health.hosts) and not health.running)
    yield window, session, health
    window.close()
    assert session.stop()
    assert session.health is None
    assert wait_parked(10)


def host_cell(window: MainWindow, host: str, col: int):
    model = window.monitor.hosts
    row = next(r for r in range(model.rowCount()) if model.index(r, 0).data(HostRowRole).name == host)
    return model.index(row, col)


def test_every_host_is_audited_with_what_polling_saw_and_counted_in_the_host_list(demo):
    window, session, health = demo
    assert window.health is health and health.hosts == window.monitor.host_names()
    assert all(a.reachable for a in health.audits()), [a.error_message for a in health.audits()]
    # The demo is misconfigured on purpose: several kinds of problems.
    assert len({p.rule for p in health.problems()}) >= 5
    # The audit ran after the first poll round, with the host's snapshot: HV01 runs a build
    # below the catalog's target, which only the poller's snapshot tells the health check.
    compliance = window.monitor.hosts.row_for("HV01").compliance.text
    assert compliance.startswith("needs update")
    assert any(p.rule == "host-below-target" for p in health.problems("HV01"))
    for host in health.hosts:
        index = host_cell(window, host, COL_HEALTH)
        count = health.problem_count(host)
        assert index.data() == (str(count) if count else "—")
        assert index.data() == host_health(health, host).text
        tip = index.data(Qt.ItemDataRole.ToolTipRole)
        assert tip.startswith(f"Health check of {host}: ") and "Double-click" in tip
    worst_hosts = [h for h in health.hosts if any(p.severity == "critical" for p in health.problems(h))]
    assert worst_hosts
    icon = host_cell(window, worst_hosts[0], COL_HEALTH).data(Qt.ItemDataRole.DecorationRole)
    assert icon is not None and not icon.isNull()
    shot(window, "window-health-column.png")


def test_view_health_check_opens_the_view_and_a_double_click_narrows_it_to_the_host(demo, qtbot):
    window, session, health = demo
    assert window.health_action.isEnabled()
    assert window.health_action in window.toolbar.actions()
    window.health_action.trigger()
    dialog = window.health_dialog
    assert dialog is not None and dialog.isVisible() and dialog.parent() is window
    view = dialog.view
    shown = sum(view.tree.topLevelItem(i).childCount() for i in range(view.tree.topLevelItemCount()))
    assert shown == len(view.visible_problems()) > 0
    dialog.close()

    # Double-clicking HV02's Health cell opens the same view on HV02 only.
    index = host_cell(window, "HV02", COL_HEALTH)
    host_view = window.page.host_panel.view
    rect = host_view.visualRect(index)
    # An item view sees a double click as press, release, then the double-click event.
    qtbot.mouseClick(host_view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    qtbot.mouseDClick(host_view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    qtbot.waitUntil(lambda: window.health_dialog is not None and window.health_dialog.isVisible())
    assert window.health_dialog is dialog                     # one view per site, reused
    assert view.host_filter.currentData() == "HV02"
    assert {p.host for p in view.visible_problems()} == {"HV02"}
    assert view.tree.topLevelItemCount() == 1
    # ... and the double-click left HV02 selected (its graphs shown), not toggled off.
    assert window.page.host_panel.selected_host() == "HV02"
    view.select_first("warning")
    shot(dialog, "health-view-hv02.png")
    dialog.close()


def test_a_vm_detail_window_has_the_vms_health_problems(demo, qtbot):
    window, session, health = demo
    page = window.page
    problem = next(p for p in health.problems() if p.vm_id is not None)
    count = len(health.problems_for_vm(problem.vm_id))
    # Through the tile, as an admin opens it: show the VM's tile, double-click it.
    assert page.reveal_vm(problem.host, problem.vm_id)
    index = page.tile_view.currentIndex()
    assert index.data(TileRole).vm_id == problem.vm_id
    page.tile_view.scrollTo(index)
    rect = page.tile_view.visualRect(index)
    qtbot.mouseClick(page.tile_view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    qtbot.mouseDClick(page.tile_view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    qtbot.waitUntil(lambda: problem.vm_id in page.details._open)
    dialog = page.details._open[problem.vm_id]
    titles = [dialog.tabs.tabText(i) for i in range(dialog.tabs.count())]
    assert titles[-1] == f"Health ({count})" and count > 0
    panel = dialog.tabs.widget(dialog.tabs.count() - 1)
    text = panel.text.toPlainText()
    assert problem.title in text and problem.fix[:40] in text
    # The dialog's own tabs keep their names (it titles them by position).
    assert titles[0].startswith("Findings") and titles[1].startswith("Events")
    dialog.tabs.setCurrentIndex(dialog.tabs.count() - 1)
    shot(dialog, "vm-detail-health-tab.png")
    # A new audit retitles the tab.
    health.updated.emit(problem.host)
    assert dialog.tabs.tabText(dialog.tabs.count() - 1) == f"Health ({count})"
    dialog.close()
    qtbot.waitUntil(lambda: problem.vm_id not in page.details._open)
    assert dialog not in page._health_tabs


def test_each_host_shows_what_monitoring_costs_it(demo, qtbot):
    window, session, health = demo
    page = window.page
    # The simulated collect.ps1 reports its own CPU time like the real one.
    qtbot.waitUntil(lambda: all(r.monitoring_cost for r in window.monitor.hosts.rows()), timeout=WAIT_MS)
    row = window.monitor.hosts.row_for("HV03")
    assert row.monitoring_cost.startswith("monitoring costs ") and "of CPU per poll" in row.monitoring_cost
    assert "of one core at 5 s" in row.monitoring_cost
    tip = host_cell(window, "HV03", COL_POLL).data(Qt.ItemDataRole.ToolTipRole)
    assert "Monitoring costs " in tip and "as this console measured it" in tip
    # Under the graphs: the line of the host whose graphs are shown.
    page.host_panel.view.selectionModel().select(
        host_cell(window, "HV03", 0), QItemSelectionModel.SelectionFlag.ClearAndSelect
        | QItemSelectionModel.SelectionFlag.Rows)
    qtbot.waitUntil(lambda: page.host_panel.cost_line.text().startswith("HV03: monitoring costs"))
    assert page.host_panel.cost_line.isVisible()
    if row.cost_suggestion:
        assert "raise the poll interval" in page.host_panel.cost_line.text()
    page.host_panel.view.clearSelection()
    qtbot.waitUntil(lambda: not page.host_panel.cost_line.isVisible())
    QApplication.processEvents()


def test_replacing_the_site_stops_its_health_check(demo, qtbot):
    """Last in the module: the session's site goes (as when the host list is reloaded)."""
    window, session, health = demo
    stopped = []
    health.destroyed.connect(lambda *_: stopped.append(True))
    window.open_health()
    session._drop_site()
    window.detach()
    assert session.health is None and window.health is None
    assert window.health_dialog is None
    assert not window.health_action.isEnabled()
    qtbot.waitUntil(lambda: bool(stopped))           # deleted (its audits were cancelled)
