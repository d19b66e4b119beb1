"""The main window: a welcome page, a "starting" page, or the monitoring page; a banner
area above the page (several banners at once: a fix is available, a run was interrupted,
...); the Patch menu and toolbar button; View ▸ Health check… (and its toolbar button);
the status line; the tray notifier; and a close that never waits long on a hung host (and
asks first while a patch run executes here).

The patch wizard (``hvconsole.ui.patch``) is reached only through its session object
(:meth:`MainWindow.set_patch_session`): the window knows its five methods and two
signals, nothing of its pages. The health check (``hvconsole.ui.health``) is reached through
its service (:meth:`MainWindow.set_health`), made by the app for each site; Recover…
(``hvconsole.ui.recovery``) needs the site itself (:meth:`MainWindow.set_site`).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QByteArray, QSize, Qt, Signal, SignalInstance
from PySide6.QtGui import QAction, QCloseEvent, QIcon, QKeySequence, QPixmap
from PySide6.QtWidgets import QLabel, QMainWindow, QStackedWidget, QToolBar, QVBoxLayout, QWidget

from ..monitoring.formatting import format_clock
from . import theme
from .findings.notify import Notifier
from .monitor.polling import DEFAULT_SHUTDOWN_WAIT_S
from .welcome import WelcomePage

if TYPE_CHECKING:   # the monitoring page loads with the first site (or its last known tiles)
    from .monitor.monitor import Monitor, TickStats
    from .monitor.monitor_page import MonitorPage

log = logging.getLogger(__name__)

APP_TITLE = "hvconsole"
MIN_WIDTH, MIN_HEIGHT = 960, 600
NO_WIZARD_TEXT = "The patch wizard is not part of this build of hvconsole"
NO_SITE_TEXT = "Open a site first: the patch wizard works on the hosts shown here"
HEALTH_TIP = ("How the hosts and VMs are set up: over-allocation, dynamic memory, checkpoints, "
              "backups, start/stop actions… each problem with its evidence and the fix")
NO_HEALTH_TEXT = "Open a site first: the health check reads the hosts shown here"
# A clipboard with a check mark, in the palette of the other toolbar icon (patch.svg).
HEALTH_ICON_SVG = b"""<svg xmlns="http://www.w3.org/2000/svg" width="24" height="24" viewBox="0 0 24 24">
<rect x="4" y="3.5" width="16" height="19" rx="2" fill="#1e6fd9" stroke="#174ea6"/>
<rect x="8.5" y="1.8" width="7" height="4" rx="1" fill="#eef1f5" stroke="#174ea6"/>
<path d="M8 13.5l3 3 5.5-6" fill="none" stroke="#ffffff" stroke-width="2.2"
      stroke-linecap="round" stroke-linejoin="round"/>
</svg>"""


def health_icon() -> QIcon:
    pixmap = QPixmap()
    pixmap.loadFromData(QByteArray(HEALTH_ICON_SVG), "SVG")
    return QIcon(pixmap) if not pixmap.isNull() else QIcon()


class StatusTextBox(QWidget):
    """Holds the status bar's text where the label stood. The text changes with every
    tick ("updated 10:02:35"), and a label's new text asks its parent's layout for a new
    layout: the status bar's, and through it the whole window's (~0.3 ms of the GUI
    thread a tick). In this box, which has no layout, the label's request ends here; the
    box asks the status bar for the room the label asked for (its size hints) and gives
    the label all of it, so it sits and paints where it did."""

    def __init__(self, label: QLabel, parent: QWidget | None = None):
        super().__init__(parent)
        self.label = label
        label.setParent(self)

    def sizeHint(self) -> QSize:
        return self.label.sizeHint()

    def minimumSizeHint(self) -> QSize:
        return self.label.minimumSizeHint()

    def resizeEvent(self, event: Any) -> None:
        self.label.setGeometry(self.rect())
        super().resizeEvent(event)


class MainWindow(QMainWindow):
    """See the module docstring. ``closing`` is emitted once, before shutting down."""

    closing = Signal()
    edit_host = Signal(str)      # the host to edit (the one whose graphs are shown)
    remove_host = Signal(str)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("mainWindow")
        self.setWindowTitle(APP_TITLE)
        self.stack = QStackedWidget(self)
        self.welcome = WelcomePage(self.stack)
        self.starting = QLabel(self.stack)
        self.starting.setObjectName("startingLabel")
        self.starting.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.starting.setTextFormat(Qt.TextFormat.PlainText)
        self.stack.addWidget(self.welcome)
        self.stack.addWidget(self.starting)
        # Banners stack above the page, newest last; each removes itself by being deleted.
        central = QWidget(self)
        central.setObjectName("centralArea")
        self.banner_area = QWidget(central)
        self.banner_area.setObjectName("bannerArea")
        self._banner_layout = QVBoxLayout(self.banner_area)
        self._banner_layout.setContentsMargins(6, 6, 6, 0)
        self._banner_layout.setSpacing(4)
        self.banner_area.hide()
        outer = QVBoxLayout(central)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.setSpacing(0)
        outer.addWidget(self.banner_area)
        outer.addWidget(self.stack, 1)
        self.setCentralWidget(central)
        self.patch_session: Any = None
        self.health: Any = None             # the open site's HealthService (ui.health)
        self.health_dialog: Any = None      # its view, kept while the site is open
        self.site: Any = None               # the open hvconsole.site.Site (Recover… acts on it)
        self.recoveries: dict[str, Any] = {}   # vm_id -> its open Recover… dialog
        self.fix_offers: Any = None
        self.journal_path: Path | None = None
        self.page: MonitorPage | None = None
        self.monitor: Monitor | None = None
        # Per host, whether its line says it does not answer (the status text; None: count anew).
        self._down: dict[str, bool] | None = None
        self.site_label = QLabel(self)
        self.site_label.setObjectName("siteLabel")
        self.site_label.setTextFormat(Qt.TextFormat.PlainText)
        self.status_text = QLabel(self)
        self.status_text.setTextFormat(Qt.TextFormat.PlainText)
        self.statusBar().addWidget(StatusTextBox(self.status_text, self), 1)
        self.statusBar().addPermanentWidget(self.site_label)
        self.notifier = Notifier(theme.icon("hvconsole"), self)
        self.notifier.activated.connect(self.bring_to_front)
        self._closed = False
        self._problems_link: object = None
        self._build_menus()
        # An explicit minimum, set before the window exists, stops the layout from pushing
        # its own minimum to the window on every content change (a size-hint round trip
        # to the window system each time; the offscreen platform warns about each one).
        self.setMinimumSize(MIN_WIDTH, MIN_HEIGHT)

    def _build_menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        self.demo_action = QAction("Open &demo site", self)
        self.demo_action.triggered.connect(self.welcome.open_demo)
        file_menu.addAction(self.demo_action)
        file_menu.addSeparator()
        self.add_host_action = QAction("&Add host…", self)
        self.add_host_action.triggered.connect(self.welcome.add_host)
        self.edit_host_action = QAction("&Edit selected host…", self)
        self.edit_host_action.triggered.connect(lambda: self._with_selected_host(self.edit_host))
        self.remove_host_action = QAction("&Remove selected host…", self)
        self.remove_host_action.triggered.connect(lambda: self._with_selected_host(self.remove_host))
        for action in (self.add_host_action, self.edit_host_action, self.remove_host_action):
            file_menu.addAction(action)
        self.set_host_actions(False)
        file_menu.addSeparator()
        quit_action = QAction("&Quit", self)
        quit_action.setShortcut(QKeySequence.StandardKey.Quit)
        quit_action.triggered.connect(self.close)
        file_menu.addAction(quit_action)
        view_menu = self.menuBar().addMenu("&View")
        self.refresh_action = QAction("&Refresh now", self)
        self.refresh_action.setShortcut(QKeySequence.StandardKey.Refresh)
        self.refresh_action.setEnabled(False)
        self.refresh_action.triggered.connect(self._refresh)
        view_menu.addAction(self.refresh_action)
        self.problems_action = QAction("&Problems only", self)
        self.problems_action.setCheckable(True)
        self.problems_action.setShortcut(QKeySequence("Ctrl+P"))
        self.problems_action.setEnabled(False)
        view_menu.addAction(self.problems_action)
        self.search_action = QAction("&Find VM…", self)
        self.search_action.setShortcut(QKeySequence.StandardKey.Find)
        self.search_action.setEnabled(False)
        self.search_action.triggered.connect(self._focus_search)
        view_menu.addAction(self.search_action)
        view_menu.addSeparator()
        self.health_action = QAction(health_icon(), "&Health check…", self)
        self.health_action.setShortcut(QKeySequence("Ctrl+Shift+H"))
        self.health_action.setIconText("Health check")
        self.health_action.triggered.connect(lambda: self.open_health())
        view_menu.addAction(self.health_action)
        self._sync_health_action()

        patch_menu = self.menuBar().addMenu("&Patch")
        self.wizard_action = QAction(theme.icon("patch"), "Open patch &wizard…", self)
        self.wizard_action.setShortcut(QKeySequence("Ctrl+Shift+P"))
        self.wizard_action.setIconText("Patch")
        self.wizard_action.triggered.connect(lambda: self.open_wizard())
        self.runs_action = QAction("Patch &runs…", self)
        self.runs_action.triggered.connect(self.show_runs)
        patch_menu.addAction(self.wizard_action)
        patch_menu.addAction(self.runs_action)
        self._sync_patch_actions()

        self.toolbar = QToolBar("Main", self)
        self.toolbar.setObjectName("mainToolbar")
        self.toolbar.setMovable(False)
        self.toolbar.setIconSize(QSize(20, 20))
        self.toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.toolbar.addAction(self.wizard_action)
        self.toolbar.addAction(self.health_action)
        self.addToolBar(Qt.ToolBarArea.TopToolBarArea, self.toolbar)

    def set_host_actions(self, enabled: bool, *, can_edit: bool = False) -> None:
        """Host editing is for the configured site (not the demo); edit/remove need a host."""
        self.add_host_action.setEnabled(enabled)
        self.edit_host_action.setEnabled(enabled and can_edit)
        self.remove_host_action.setEnabled(enabled and can_edit)

    def selected_host(self) -> str | None:
        """The host whose graphs are shown (the one picked in the host list)."""
        return None if self.page is None else self.page.graph_host

    def _with_selected_host(self, signal: SignalInstance) -> None:
        host = self.selected_host()
        if host is not None:
            signal.emit(host)

    # -- banners -------------------------------------------------------------------------

    def add_banner(self, widget: QWidget) -> None:
        """Show ``widget`` in the banner area above the page (under the ones already there).
        A banner goes away by being deleted (``deleteLater()``) or by
        :meth:`remove_banner`; the area hides itself when the last one is gone."""
        widget.setParent(self.banner_area)
        self._banner_layout.addWidget(widget)
        widget.destroyed.connect(self._banner_gone)
        widget.show()
        self.banner_area.show()

    def remove_banner(self, widget: QWidget) -> None:
        self._banner_layout.removeWidget(widget)
        widget.hide()
        widget.deleteLater()
        self._banner_gone()

    def banners(self) -> list[QWidget]:
        found = []
        for i in range(self._banner_layout.count()):
            item = self._banner_layout.itemAt(i)
            w = item.widget() if item is not None else None
            if w is not None and not w.isHidden():
                found.append(w)
        return found

    def clear_banners(self) -> None:
        """Remove every banner (the site they spoke about is gone)."""
        for widget in self.banners():
            self.remove_banner(widget)

    def _banner_gone(self, *args: object) -> None:
        # destroyed() arrives while the layout still counts the widget: look again later.
        from PySide6.QtCore import QTimer
        QTimer.singleShot(0, lambda: self.banner_area.setVisible(bool(self.banners())))

    # -- patching --------------------------------------------------------------------------

    def set_patch_session(self, session: Any, journal_path: Path | None = None) -> None:
        """The patch session of the open site (None: no site, or no wizard in this build).
        Its maintenance windows reach the monitor; its wizard is behind the Patch menu."""
        old = self.patch_session
        if old is not None and old is not session:
            with contextlib.suppress(RuntimeError, TypeError):     # already gone or never connected
                old.maintenance_changed.disconnect(self._maintenance_changed)
        self.patch_session = session
        self.journal_path = journal_path
        if session is not None and session is not old:
            session.maintenance_changed.connect(self._maintenance_changed)
        if self.fix_offers is not None:
            self.fix_offers.set_wizard(self._wizard_starter())
        self._sync_patch_actions()

    # -- the health check ----------------------------------------------------------------

    def set_health(self, service: Any) -> None:
        """The open site's health service (None: no site). Its counts go to the host list
        and the VM detail windows; View ▸ Health check… shows its view."""
        if service is self.health:
            return
        if self.health_dialog is not None:
            # The view reads the old service: it goes with it.
            self.health_dialog.close()
            self.health_dialog.deleteLater()
            self.health_dialog = None
        self.health = service
        if self.page is not None:
            self.page.set_health(service)
        self._sync_health_action()

    def _sync_health_action(self) -> None:
        has = self.health is not None
        self.health_action.setEnabled(has)
        tip = HEALTH_TIP if has else NO_HEALTH_TEXT
        self.health_action.setToolTip(tip)
        self.health_action.setStatusTip(tip)

    def open_health(self, host: str | None = None) -> Any:
        """Show the Health check view (one per site, raised if open), narrowed to ``host``
        when one is given (a double-click on its Health cell)."""
        if self.health is None:
            return None
        if self.health_dialog is None:
            from .health import HealthDialog
            # Not deleted on close: reopening shows the same filters, and the view's
            # connections to the service end only when the service does (set_health).
            self.health_dialog = HealthDialog(self.health, self)
        view = self.health_dialog.view
        if host is not None:
            index = view.host_filter.findData(host)
            if index >= 0:
                view.host_filter.setCurrentIndex(index)
        self.health_dialog.show()
        self.health_dialog.raise_()
        self.health_dialog.activateWindow()
        return self.health_dialog

    # -- recovery --------------------------------------------------------------------------

    def set_site(self, site: Any) -> None:
        """The site the shown hosts belong to (None: none); Recover… acts on its hosts."""
        if site is not self.site:
            for dialog in list(self.recoveries.values()):
                dialog.close()          # cancels a step in flight, never waits for a host
            self.recoveries.clear()
        self.site = site

    def open_recovery(self, host: str, vm_id: str, finding: Any = None) -> Any:
        """The Recover… dialog of one VM (raised if already open for it)."""
        if self.site is None or self.monitor is None or self.page is None:
            return None
        dialog = self.recoveries.get(vm_id)
        if dialog is not None and dialog.isVisible():
            dialog.raise_()
            dialog.activateWindow()
            return dialog
        from .recovery import open_recovery
        pos = self.monitor.tiles.position(host, vm_id)
        name = None if pos is None else self.monitor.tiles.row(pos).vm.name
        page = self.page
        dialog = open_recovery(
            self, self.site, host, vm_id, finding, vm_name=name,
            # The pollers' detectors read this registry: a step in progress silences them
            # for that VM only (its host, for a VMMS restart).
            maintenance=self.monitor.maintenance.registry,
            finding_open=lambda: page.finding_open(host, vm_id))
        self.recoveries[vm_id] = dialog
        dialog.finished.connect(lambda _r, v=vm_id, d=dialog: self._recovery_closed(v, d))
        return dialog

    def _recovery_closed(self, vm_id: str, dialog: Any) -> None:
        # Not deleted: a step cancelled by the close may still report from its thread.
        if self.recoveries.get(vm_id) is dialog:
            del self.recoveries[vm_id]

    def _wizard_starter(self) -> Callable[[str, list[str]], Any] | None:
        if self.patch_session is None:
            return None
        return lambda kb, hosts: self.open_wizard(kb, hosts)

    def _sync_patch_actions(self, wizard_missing: bool | None = None) -> None:
        from . import patch_entry
        missing = (not patch_entry.wizard_available()) if wizard_missing is None else wizard_missing
        has = self.patch_session is not None
        self.wizard_action.setEnabled(has)
        self.runs_action.setEnabled(self.journal_path is not None)
        tip = ("Test, roll out and verify an update on the hosts, one ring at a time" if has
               else NO_WIZARD_TEXT if missing else NO_SITE_TEXT)
        self.wizard_action.setToolTip(tip)
        self.wizard_action.setStatusTip(tip)

    def open_wizard(self, kb: str | None = None, hosts: list[str] | None = None) -> Any:
        if self.patch_session is None:
            return None
        return self.patch_session.open_wizard(kb, hosts)

    def show_runs(self) -> Any:
        if self.journal_path is None:
            return None
        from .patch.runs_dialog import PatchRunsDialog
        session = self.patch_session
        dialog = PatchRunsDialog(self.journal_path, None if session is None else session.show_run, self)
        if session is not None:
            session.runs_changed.connect(dialog.refresh)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.show()
        return dialog

    def _maintenance_changed(self, active: Any) -> None:
        if self.monitor is not None:
            self.monitor.set_maintenance(list(active or ()))

    # -- pages ---------------------------------------------------------------------------

    def show_welcome(self) -> None:
        self.stack.setCurrentWidget(self.welcome)
        self.status_text.setText("No hosts configured")

    def show_starting(self, message: str) -> None:
        self.starting.setText(message)
        self.stack.setCurrentWidget(self.starting)
        self.status_text.setText(message)

    def show_error(self, message: str) -> None:
        """A start-up failure (e.g. the demo site could not start), said plainly."""
        self.welcome.set_busy(None)
        self.stack.setCurrentWidget(self.welcome)
        self.status_text.setText(message)

    def detach(self, wait_s: float = DEFAULT_SHUTDOWN_WAIT_S) -> bool:
        """Stop the current monitor and drop its page (the host list changed)."""
        clean = True
        if self.fix_offers is not None:
            self.fix_offers.close()
            self.fix_offers.deleteLater()
            self.fix_offers = None
        if self.page is not None:
            # Unhook the Problems action from this page's checkbox while both live: once the
            # page is deleted, disconnecting its bound method fails the next page's attach.
            if self._problems_link is not None:
                self.problems_action.toggled.disconnect(self._problems_link)
                self._problems_link = None
            self.page.details.close_all()
            self.stack.removeWidget(self.page)
            self.page.deleteLater()
            self.page = None
        if self.monitor is not None:
            clean = self.monitor.shutdown(wait_s)
            self.monitor.deleteLater()
            self.monitor = None
        self.refresh_action.setEnabled(False)
        self.search_action.setEnabled(False)
        self.problems_action.setEnabled(False)
        return clean

    def attach(self, monitor: Monitor, site_label: str) -> MonitorPage:
        """Show ``monitor``'s models; the caller starts polling."""
        from .monitor.monitor_page import MonitorPage
        self.monitor = monitor
        self.page = MonitorPage(monitor, self.stack)
        self.stack.addWidget(self.page)
        self.stack.setCurrentWidget(self.page)
        self.page.set_default_sizes(self.width(), self.height())
        self.page.health_requested.connect(self.open_health)
        self.page.recover_requested.connect(self.open_recovery)
        if self.health is not None:
            self.page.set_health(self.health)
        self.set_site_label(site_label)
        self._down = None
        monitor.applied.connect(self._applied)
        # Last known host lines come outside a tick: the next tick counts every line again.
        monitor.last_known_changed.connect(self._recount_down)
        monitor.new_critical.connect(self.notifier.critical_findings)
        self.problems_action.setEnabled(True)
        if self._problems_link is not None:              # the previous page's
            self.problems_action.toggled.disconnect(self._problems_link)
        self._problems_link = self.page.filter_bar.problems.setChecked
        self.problems_action.toggled.connect(self._problems_link)
        self.page.filter_bar.problems.toggled.connect(self.problems_action.setChecked)
        self.refresh_action.setEnabled(True)
        self.search_action.setEnabled(True)
        self.demo_action.setEnabled(False)
        from .findings.fix_banner import FixOffers
        self.fix_offers = FixOffers(monitor, self.add_banner, self._wizard_starter(), self)
        self.status_text.setText(f"Connecting to {len(monitor.host_names())} hosts…")
        return self.page

    def show_last_known(self) -> None:
        """Say plainly that the tiles shown are not live yet (the monitor shows its last
        known tiles, dimmed and stamped, while it connects)."""
        monitor = self.monitor
        if monitor is None or not monitor.last_known_hosts():
            return
        self.status_text.setText(f"Last known at {format_clock(monitor.last_known_at)} "
                                 f"— connecting to the hosts…")

    def set_site_label(self, site_label: str) -> None:
        self.site_label.setText(site_label)
        self.setWindowTitle(f"{APP_TITLE} — {site_label}")

    def _recount_down(self) -> None:
        self._down = None

    def _applied(self, stats: TickStats) -> None:
        monitor = self.monitor
        if monitor is None:
            return
        # Which hosts do not answer, by host: a tick looks at its own hosts' lines, not at
        # every host's (cold in the caches by then); all of them once, and after last
        # known lines were shown.
        hosts = monitor.hosts
        down = self._down
        if down is None or len(down) != hosts.rowCount():
            self._down = down = {r.name: r.reachable is False for r in hosts.rows()}
        else:
            row_for = hosts.row_for
            for host in stats.hosts:
                row = row_for(host)
                down[host] = row is not None and row.reachable is False
        not_answering = sum(down.values())
        parts = [f"{len(down)} hosts"]
        if not_answering:
            parts.append(f"{not_answering} not answering")
        parts.append(f"{monitor.tiles.rowCount()} VMs")
        stale = monitor.last_known_hosts()
        if stale:
            parts.append(f"{len(stale)} {'host' if len(stale) == 1 else 'hosts'} still as last known")
        # In the hosts' clock, like every other time in the window (a demo's runs faster):
        # the tick's own reading of it (the maintenance windows were renewed against it).
        now = monitor.tick_clock if monitor.tick_clock is not None else monitor.clock()
        parts.append(f"updated {format_clock(now)}")
        self.status_text.setText(" · ".join(parts))

    def _focus_search(self) -> None:
        if self.page is not None:
            self.page.filter_bar.search.setFocus()
            self.page.filter_bar.search.selectAll()

    def _refresh(self) -> None:
        if self.monitor is not None:
            self.monitor.polling.poll_now()

    def bring_to_front(self) -> None:
        self.showNormal()
        self.raise_()
        self.activateWindow()

    # -- closing -------------------------------------------------------------------------

    def shutdown(self, wait_s: float = DEFAULT_SHUTDOWN_WAIT_S) -> bool:
        """Stop polling (and the patch session's threads); waits at most ``wait_s`` for
        hosts in the middle of a poll."""
        if self._closed:
            return True
        self._closed = True
        self.closing.emit()
        self.notifier.close()
        clean = True
        if self.patch_session is not None:
            try:
                clean = bool(self.patch_session.shutdown(wait_s))
            except Exception:    # the window must close whatever the session does
                log.exception("the patch session did not shut down cleanly")
                clean = False
        if self.page is not None:
            self.page.details.close_all()
        if self.monitor is None:
            return clean
        return self.monitor.shutdown(wait_s) and clean

    def closeEvent(self, event: QCloseEvent) -> None:
        # A run executing in this window asks first: keep it paused for later, or cancel
        # it safely (the session's question); "no" keeps the window open.
        if not self._closed and self.patch_session is not None:
            try:
                may_close = bool(self.patch_session.confirm_close())
            except Exception:
                log.exception("the patch session could not answer whether to close")
                may_close = True
            if not may_close:
                event.ignore()
                return
        self.hide()  # the window goes away at once, whatever the hosts are doing
        self.shutdown()
        event.accept()
