"""The window's side of patching, driven through the window with scripted hosts and a stand-in
for the wizard's ``PatchSession`` (the agreed seam: its five methods and two signals):
the Patch menu and toolbar, the banner area, a close that asks the session first, hosts in
a patch run's maintenance window (no alerts, "patching: <step>" on rows and tiles), the
certificate-off badge, the runs list from a real patch journal, and the VM detail window
opening on the main graphs' range."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import pytest
from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import QLabel
from ui_support import T0, ScriptedCollector, StubDetector, make_snapshot, make_vm, settle

from hvconsole.core.patch.journal import Journal
from hvconsole.monitoring.host_worker import HostWorker, certificate_check_off
from hvconsole.monitoring.maintenance_feed import MaintenanceFeed
from hvconsole.ui import patch_entry, theme
from hvconsole.ui.background import InlineTaskRunner
from hvconsole.ui.hosts.host_model import CERT_OFF_TEXT, COL_STATUS, HostRowRole
from hvconsole.ui.main_window import NO_SITE_TEXT, NO_WIZARD_TEXT, MainWindow
from hvconsole.ui.monitor.monitor import Monitor
from hvconsole.ui.monitor.polling import PollingService
from hvconsole.ui.monitor.tile_model import TileRole

HOSTS = ("HV01", "HV02")


class FakeSession(QObject):
    """Stands in for ``hvconsole.ui.patch.session.PatchSession``."""

    maintenance_changed = Signal(object)
    runs_changed = Signal()

    def __init__(self, may_close: bool = True):
        super().__init__()
        self.may_close = may_close
        self.opened: list = []
        self.shown: list[int] = []
        self.asked = 0
        self.shut = 0

    def open_wizard(self, kb=None, hosts=None):
        self.opened.append((kb, hosts))

    def show_run(self, run_id):
        self.shown.append(run_id)

    def confirm_close(self):
        self.asked += 1
        return self.may_close

    def shutdown(self, wait_s):
        self.shut += 1
        return True


@dataclass(frozen=True)
class Active:       # hvconsole.patch.watch.ActiveMaintenance as the window reads it
    run_id: int
    host: str
    step: str


class Site:
    def __init__(self):
        self.frozen: set[str] = set()

    def script(self, host):
        def answer(n):
            at = T0 + timedelta(seconds=5 * n)
            vms = tuple(make_vm(host, i, heartbeat="LostCommunication" if host in self.frozen and i == 0
                                else "OkApplicationsHealthy") for i in range(3))
            return make_snapshot(host, vms, at)
        return answer


@pytest.fixture
def site():
    return Site()


@pytest.fixture
def window(qtbot, site):
    feed = MaintenanceFeed()
    workers = [HostWorker(h, f"{h.lower()}.example.test",
                          collector_factory=lambda h=h: ScriptedCollector(site.script(h)),
                          detector_factory=StubDetector, maintenance=feed,
                          cert_check_off=(h == "HV02")) for h in HOSTS]
    polling = PollingService(workers, runner_factory=lambda name: InlineTaskRunner(), interval_s=3600)
    monitor = Monitor(workers, polling=polling)
    win = MainWindow()
    qtbot.addWidget(win)
    win.resize(1280, 800)
    win.attach(monitor, "Test site")
    win.show()
    monitor.start()
    polling.flush()
    settle(win)
    yield win
    win.close()


def poll(win):
    win.monitor.polling.poll_now()
    win.monitor.polling.flush()
    settle(win)


def tiles(win, host):
    proxy = win.monitor.tile_proxy
    return [t for t in (proxy.index(r, 0).data(TileRole) for r in range(proxy.rowCount())) if t.host == host]


def host_cell(win, host, col, role=Qt.ItemDataRole.DisplayRole):
    model = win.monitor.hosts
    r = next(i for i in range(model.rowCount()) if model.index(i, 0).data(HostRowRole).name == host)
    return model.index(r, col).data(role)


# -- menu, toolbar, banners, close ----------------------------------------------------------------

def test_the_patch_menu_waits_for_a_session_and_says_why(window, tmp_path):
    assert not window.wizard_action.isEnabled() and not window.runs_action.isEnabled()
    expected = NO_SITE_TEXT if patch_entry.wizard_available() else NO_WIZARD_TEXT
    assert window.wizard_action.toolTip() == expected
    menus = [a.text() for a in window.menuBar().actions()]
    assert menus == ["&File", "&View", "&Patch"]
    assert window.wizard_action in window.toolbar.actions()

    session = FakeSession()
    window.set_patch_session(session, tmp_path / "journal.sqlite")
    assert window.wizard_action.isEnabled() and window.runs_action.isEnabled()
    window.wizard_action.trigger()
    assert session.opened == [(None, None)]


def test_banners_stack_above_the_page_and_go_away(window, qtbot):
    assert not window.banner_area.isVisible()
    first, second = QLabel("Run 3 was interrupted"), QLabel("Fix available")
    window.add_banner(first)
    window.add_banner(second)
    assert window.banners() == [first, second] and window.banner_area.isVisible()
    assert first.geometry().bottom() < second.geometry().top()        # one under the other
    first.deleteLater()
    qtbot.waitUntil(lambda: window.banners() == [second])
    window.remove_banner(second)
    qtbot.waitUntil(lambda: not window.banner_area.isVisible())
    window.add_banner(QLabel("one"))
    window.add_banner(QLabel("two"))
    window.clear_banners()                      # the site changed
    qtbot.waitUntil(lambda: window.banners() == [] and not window.banner_area.isVisible())


def test_closing_asks_the_session_and_stays_open_when_it_says_no(window, tmp_path):
    session = FakeSession(may_close=False)
    window.set_patch_session(session, tmp_path / "journal.sqlite")
    assert window.close() is False
    assert session.asked == 1 and window.isVisible() and window.monitor.polling.is_running()
    session.may_close = True
    assert window.close() is True
    assert session.asked == 2 and session.shut == 1
    assert not window.monitor.polling.is_running()


# -- maintenance windows from the journal ------------------------------------------------------------

def test_a_host_being_patched_says_so_and_raises_no_alerts(window, site, qtbot):
    session = FakeSession()
    window.set_patch_session(session, None)
    notified = []
    window.notifier.notified.connect(lambda title, body: notified.append(body))

    session.maintenance_changed.emit([Active(4, "hv01", "install")])   # the journal's spelling
    window.monitor.polling.flush()                  # the host was polled at once
    settle(window)
    assert host_cell(window, "HV01", COL_STATUS) == "patching: install"
    assert all(t.texts.status == "patching: install · Running" for t in tiles(window, "HV01"))
    assert host_cell(window, "HV02", COL_STATUS) == "OK"
    assert "Being patched now (patching: install)" in host_cell(window, "HV01", 0, Qt.ItemDataRole.ToolTipRole)

    site.frozen.add("HV01")     # the freeze a drain or a reboot looks like
    poll(window)
    assert window.monitor.findings.active()          # the table still shows what was seen
    assert notified == [] and not window.page.banner.isVisible()

    session.maintenance_changed.emit([])             # the run left maintenance
    window.monitor.polling.flush()
    settle(window)
    assert host_cell(window, "HV01", COL_STATUS) == "OK"
    assert all(t.texts.status == "Running" for t in tiles(window, "HV01"))
    assert window.page.banner.isVisible()            # a freeze after patching is news

    site.frozen.add("HV02")                          # other hosts alert as always
    poll(window)
    assert len(notified) == 1 and "on HV02" in notified[0]


# -- certificate checking off ----------------------------------------------------------------------

def test_a_host_without_certificate_checking_carries_a_badge(window):
    decoration = host_cell(window, "HV02", COL_STATUS, Qt.ItemDataRole.DecorationRole)
    assert decoration is not None and decoration.cacheKey() == theme.icon("cert-off").cacheKey()
    assert host_cell(window, "HV01", COL_STATUS, Qt.ItemDataRole.DecorationRole) is None
    tip = " ".join(host_cell(window, "HV02", 0, Qt.ItemDataRole.ToolTipRole).split())   # wrapped
    assert CERT_OFF_TEXT in tip


def test_which_targets_have_certificate_checking_off():
    from hvconsole.remote.target import Target
    off = Target("HV01", "https://hv01.corp.example:5986/wsman", "u", "p", transport="ntlm",
                 server_cert_validation="ignore")
    on = Target("HV01", "https://hv01.corp.example:5986/wsman", "u", "p", transport="ntlm")
    assert certificate_check_off(off) and not certificate_check_off(on)


# -- the runs list and the VM detail window -----------------------------------------------------------

def test_patch_runs_lists_the_journal_and_opens_a_run(window, tmp_path, qtbot):
    path = tmp_path / "patch-journal.sqlite"
    with Journal(path) as journal:
        first = journal.create_run("KB5061906", {"kb": "KB5061906", "waves": [
            {"name": "pilot", "hosts": ["HV01"]}, {"name": "production", "hosts": ["HV02", "<b>HV03</b>"]}]})
        second = journal.create_run("KB5064489", {"kb": "KB5064489", "waves": []})
    session = FakeSession()
    window.set_patch_session(session, path)
    dialog = window.show_runs()
    qtbot.addWidget(dialog)
    qtbot.waitUntil(lambda: len(dialog.lines) == 2, timeout=10_000)
    rows = [[dialog.view.topLevelItem(i).text(c) for c in range(5)] for i in range(2)]
    assert [r[:3] for r in rows] == [[str(second), "KB5064489", "planned"], [str(first), "KB5061906", "planned"]]
    assert rows[1][4] == "HV01, HV02, <b>HV03</b>"          # shown as typed
    dialog.view.setCurrentItem(dialog.view.topLevelItem(1))
    assert dialog.show_button.isEnabled()
    qtbot.mouseClick(dialog.show_button, Qt.MouseButton.LeftButton)
    assert session.shown == [first]
    dialog.close()


def test_no_journal_yet_is_no_runs(tmp_path, qtbot):
    from hvconsole.ui.patch.runs_dialog import PatchRunsDialog
    dialog = PatchRunsDialog(tmp_path / "none.sqlite", None)
    qtbot.addWidget(dialog)
    qtbot.waitUntil(lambda: "No patch runs yet" in dialog.status.text(), timeout=10_000)
    assert not (tmp_path / "none.sqlite").exists()


def test_the_vm_detail_window_opens_on_the_main_graphs_range(window):
    tile = tiles(window, "HV01")[0]
    assert window.page.graphs.window_s == 300
    dialog = window.page.details.open("HV01", tile.vm.id)
    assert dialog.window_s == 300
    dialog.close()


def test_maintenance_read_from_a_real_journal_marks_the_host(window, tmp_path):
    """The shape the patch session hands over is ``watch.open_maintenance``'s: a run in
    another process that put HV01 in maintenance and is installing there now."""
    from hvconsole.patch.watch import open_maintenance
    with Journal(tmp_path / "patch-journal.sqlite") as journal:
        run = journal.create_run("KB5061906", {"kb": "KB5061906", "waves": [{"name": "pilot", "hosts": ["HV01"]}]})
        journal.set_run_state(run, "running")
        on = journal.begin_step(run, "HV01", "maintenance-on", {})
        journal.finish_step(on, "ok", {})
        journal.begin_step(run, "HV01", "install", {})      # in flight
        active = open_maintenance(journal)
    assert [(a.host, str(a.step)) for a in active] == [("HV01", "install")]
    session = FakeSession()
    window.set_patch_session(session, tmp_path / "patch-journal.sqlite")
    session.maintenance_changed.emit(active)
    window.monitor.polling.flush()
    settle(window)
    assert host_cell(window, "HV01", COL_STATUS) == "patching: install"
    assert window.monitor.under_maintenance("HV01") and not window.monitor.under_maintenance("HV02")


def test_clearing_the_host_selection_clears_the_graphs(window, qtbot):
    """Issue 10 #15: the graphs stayed on a host after the selection was cleared."""
    page = window.page
    qtbot.waitUntil(lambda: page.graphs.title.text() == "HV01")      # the first host, to start
    page.host_panel.select_host("HV02")
    page._host_selected("HV02")
    assert page.graphs.title.text() == "HV02" and window.selected_host() == "HV02"
    page.filter_bar.select_host(None)                                # "All hosts"
    assert page.graphs.title.text() == "No host selected" and window.selected_host() is None
    poll(window)                                                     # and it stays cleared
    qtbot.wait(50)
    assert page.graphs.title.text() == "No host selected"
    page._host_selected("HV01")
    assert page.graphs.title.text() == "HV01"
    page._host_selected(None)                                        # a second click on it
    assert page.graphs.title.text() == "No host selected"


def test_the_site_is_not_replaced_while_a_run_executes_here(qtbot):
    """Editing a host reloads the site, which would stop a run executing in this window."""
    from types import SimpleNamespace

    from hvconsole.app import GuiSession
    win = MainWindow()
    qtbot.addWidget(win)
    session = GuiSession(win)
    session.patch_session = SimpleNamespace(executing=True)     # PatchSession.executing
    session.site = SimpleNamespace(kind="configured")
    session.open_configured()
    assert "when the patch run executing here has ended" in win.statusBar().currentMessage()
    assert session._starter.pending == 0            # nothing was read
    session.open_demo()
    assert not session._starting and session._starter.pending == 0
    session.patch_session = None
    session.site = None
    win.close()
    assert session.stop()
