"""The main window: a welcome page, a "starting" page, or the monitoring page; the status
line; the tray notifier; and a close that never waits long on a hung host.
"""

from __future__ import annotations

import logging
from datetime import datetime, timezone

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence
from PySide6.QtWidgets import QLabel, QMainWindow, QStackedWidget, QWidget

from . import theme
from .formatting import format_clock
from .monitor import Monitor, TickStats
from .monitor_page import MonitorPage
from .notify import Notifier
from .polling import DEFAULT_SHUTDOWN_WAIT_S
from .welcome import WelcomePage

log = logging.getLogger(__name__)

APP_TITLE = "hvconsole"
MIN_WIDTH, MIN_HEIGHT = 960, 600


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
        self.setCentralWidget(self.stack)
        self.page: MonitorPage | None = None
        self.monitor: Monitor | None = None
        self.site_label = QLabel(self)
        self.site_label.setObjectName("siteLabel")
        self.site_label.setTextFormat(Qt.TextFormat.PlainText)
        self.status_text = QLabel(self)
        self.status_text.setTextFormat(Qt.TextFormat.PlainText)
        self.statusBar().addWidget(self.status_text, 1)
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

    def set_host_actions(self, enabled: bool, *, can_edit: bool = False) -> None:
        """Host editing is for the configured site (not the demo); edit/remove need a host."""
        self.add_host_action.setEnabled(enabled)
        self.edit_host_action.setEnabled(enabled and can_edit)
        self.remove_host_action.setEnabled(enabled and can_edit)

    def selected_host(self) -> str | None:
        """The host whose graphs are shown (the one picked in the host list)."""
        return None if self.page is None else self.page._graph_host

    def _with_selected_host(self, signal: Signal) -> None:
        host = self.selected_host()
        if host is not None:
            signal.emit(host)

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
        if self.page is not None:
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
        self.monitor = monitor
        self.page = MonitorPage(monitor, self.stack)
        self.stack.addWidget(self.page)
        self.stack.setCurrentWidget(self.page)
        self.page.set_default_sizes(self.width(), self.height())
        self.site_label.setText(site_label)
        self.setWindowTitle(f"{APP_TITLE} — {site_label}")
        monitor.applied.connect(self._applied)
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
        self.status_text.setText(f"Connecting to {len(monitor.host_names())} hosts…")
        return self.page

    def _applied(self, stats: TickStats) -> None:
        rows = self.monitor.hosts.rows() if self.monitor is not None else []
        down = sum(1 for r in rows if r.reachable is False)
        vms = self.monitor.tiles.rowCount() if self.monitor is not None else 0
        parts = [f"{len(rows)} hosts"]
        if down:
            parts.append(f"{down} not answering")
        parts.append(f"{vms} VMs")
        parts.append(f"updated {format_clock(datetime.now(timezone.utc))}")
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
        """Stop polling; waits at most ``wait_s`` for hosts in the middle of a poll."""
        if self._closed:
            return True
        self._closed = True
        self.closing.emit()
        self.notifier.close()
        if self.page is not None:
            self.page.details.close_all()
        if self.monitor is None:
            return True
        return self.monitor.shutdown(wait_s)

    def closeEvent(self, event: QCloseEvent) -> None:
        self.hide()  # the window goes away at once, whatever the hosts are doing
        self.shutdown()
        event.accept()
