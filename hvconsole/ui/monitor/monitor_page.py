"""The monitoring page: hosts on the left (list + graphs of the selected host), the VM
tile grid in the middle with its filter bar and the critical-finding banner, findings and
events below. Wiring only: the models and their updates live in :mod:`.monitor`.

With a health service (:meth:`MonitorPage.set_health`) the host list gets its Health
column and every VM detail window a "Health (n)" tab with that VM's problems.

Recover… (issue 15) is asked for from a finding (the findings panel), a tile's context
menu, or a VM detail window; the page only says which VM (``recover_requested``): the
window opens the recovery, which needs the site.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QItemSelectionModel, QPoint, QRect, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QDialogButtonBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QMenu,
    QPushButton,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from hvconsole.monitoring.finding_words import kind_words

from ..findings.events_panel import EventsPanel
from ..findings.findings_model import finding_key
from ..findings.findings_panel import RECOVER_TIP, FindingsPanel, recoverable
from ..hosts.host_model import host_health
from ..hosts.host_panel import HostPanel
from ..vm.detail_windows import VmDetailWindows
from .filter_bar import FilterBar
from .monitor import Monitor, TickStats
from .tile_filter import TileFilter
from .tile_model import TileRole
from .tile_view import TileView

log = logging.getLogger(__name__)

TAB_FINDINGS, TAB_EVENTS = 0, 1
# How long after a tick the graphed host's news is drawn: just over one 60 Hz frame.
GRAPHS_DELAY_MS = 20
GRAPH_WINDOW_S = 300


class CriticalBanner(QFrame):
    """A red bar over the tiles while a critical finding is active and unacknowledged."""

    show_clicked = Signal()
    ack_clicked = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("criticalBanner")
        self.label = QLabel(self)
        self.label.setObjectName("criticalBannerText")
        self.label.setTextFormat(Qt.TextFormat.PlainText)
        show = QPushButton("Show problems", self)
        show.clicked.connect(self.show_clicked)
        ack = QPushButton("Acknowledge", self)
        ack.setToolTip("Mark these critical findings as seen (their tiles keep the badge)")
        ack.clicked.connect(self.ack_clicked)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(10, 6, 6, 6)
        layout.addWidget(self.label, 1)
        layout.addWidget(show)
        layout.addWidget(ack)
        self.hide()

    def set_findings(self, findings: list[Any]) -> None:
        if not findings:
            self.hide()
            return
        first = findings[0]
        who = f"VM {first.vm_name or first.vm_id} on {first.host}" if first.vm_id else f"host {first.host}"
        text = f"⚠  Critical: {who} — {kind_words(first.kind)}"
        if len(findings) > 1:
            text += f"   (+{len(findings) - 1} more critical)"
        self.label.setText(text)
        self.show()


class MonitorPage(QWidget):
    """See the module docstring."""

    health_requested = Signal(str)      # a host's Health cell was double-clicked
    recover_requested = Signal(str, str, object)   # host, vm_id, the finding (or None)
    raise_interval_requested = Signal(str, int)    # host, seconds: "Raise to 9 s" under its graphs

    def __init__(self, monitor: Monitor, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("monitorPage")
        self.monitor = monitor
        self.host_panel = HostPanel(monitor.hosts, self)
        self.filter_bar = FilterBar(self)
        self.filter_bar.set_hosts(monitor.host_names())
        self.banner = CriticalBanner(self)
        self.tile_view = TileView(self)
        self.tile_view.setModel(monitor.tile_proxy)
        self.findings_panel = FindingsPanel(monitor.findings, self)
        self.events_panel = EventsPanel(monitor.events, self)
        self.events_panel.set_hosts(monitor.host_names())
        self.tabs = QTabWidget(self)
        self.tabs.setObjectName("bottomTabs")
        self.tabs.addTab(self.findings_panel, "Findings")
        self.tabs.addTab(self.events_panel, "Events")

        # The host graphs (pyqtgraph, ~0.5 s to import and build) are made when the app says
        # (build_graphs, once the first answers are shown) or when asked for (graphs): the
        # tiles need not wait for them. Until then the graphed host is only remembered.
        self._graphs: Any = None
        self._graph_host: str | None = None
        self._graphs_due = False
        # The graphed host's news is drawn a frame after the tick (see _applied).
        self._graphs_timer = QTimer(self)
        self._graphs_timer.setSingleShot(True)
        self._graphs_timer.setInterval(GRAPHS_DELAY_MS)
        self._graphs_timer.timeout.connect(self._refresh_graphs)
        # The graphs start on the first host; once the admin clears the host selection
        # they show no host (not the last one, which would look selected) until one is picked.
        self._graphs_auto = True
        self._host_filter: tuple[str, ...] = ()

        centre = QWidget(self)
        centre_layout = QVBoxLayout(centre)
        centre_layout.setContentsMargins(0, 0, 0, 0)
        centre_layout.setSpacing(6)
        centre_layout.addWidget(self.banner)
        centre_layout.addWidget(self.filter_bar)
        centre_layout.addWidget(self.tile_view, 1)

        self.right = QSplitter(Qt.Orientation.Vertical, self)
        self.right.addWidget(centre)
        self.right.addWidget(self.tabs)
        self.right.setStretchFactor(0, 3)
        self.right.setStretchFactor(1, 1)
        self.right.setChildrenCollapsible(False)
        self.main = QSplitter(Qt.Orientation.Horizontal, self)
        self.main.addWidget(self.host_panel)
        self.main.addWidget(self.right)
        self.main.setStretchFactor(0, 0)
        self.main.setStretchFactor(1, 1)
        self.main.setChildrenCollapsible(False)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.main)

        self.filter_bar.filter_changed.connect(self._filter_changed)
        self.host_panel.host_selected.connect(self._host_selected)
        self.findings_panel.show_vm.connect(self.reveal_vm)
        self.details = VmDetailWindows(monitor, self,
                                       window_s=lambda: self.graphs.window_s if self._graphs else GRAPH_WINDOW_S)
        self.health: Any = None
        self._health_tabs: dict[Any, Any] = {}     # open VM detail dialog -> its Health panel
        self._vm_dialogs: dict[Any, None] = {}     # VM detail dialogs open now (in order)
        self.tile_view.tile_activated.connect(lambda row: self.open_vm(row.host, row.vm.id))
        self.host_panel.health_requested.connect(self.health_requested)
        self.host_panel.raise_interval_requested.connect(self.raise_interval_requested)
        self.findings_panel.recover.connect(lambda f: self.recover_requested.emit(f.host, f.vm_id, f))
        # The tile grid has no menu of its own: Details… and Recover… on a right-click.
        self.tile_view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.tile_view.customContextMenuRequested.connect(self._tile_menu)
        # (host, vm_id) of every VM with an active finding, replaced as a whole each tick so
        # that a recovery's worker thread may read it without a lock (finding_open).
        self._open_findings: frozenset[tuple[str, str]] = frozenset()
        self.tile_menu: QMenu | None = None
        self.banner.show_clicked.connect(self.show_problems)
        self.banner.ack_clicked.connect(self.acknowledge_critical)
        monitor.applied.connect(self._applied)
        # A tick's share of the GUI thread is counted in tiles this grid repaints.
        monitor.shown_rows = self._shown_tile_rows
        self._shown_key: tuple[int, int, int, int] | None = None
        self._shown: range | None = None
        # The answer above stands until the tiles on screen may be others (a scroll, a
        # resize, the view shown or hidden, tiles added, removed, filtered or reordered):
        # a tick then asks nothing of the view. A late word would only divide a tick
        # into turns otherwise, never change what is drawn.
        self._shown_fresh = False
        self.tile_view.verticalScrollBar().valueChanged.connect(self._shown_stale)
        self.tile_view.tiles_moved.connect(self._shown_stale)
        for moved in (monitor.tile_proxy.rowsInserted, monitor.tile_proxy.rowsRemoved,
                      monitor.tile_proxy.modelReset, monitor.tile_proxy.layoutChanged):
            moved.connect(self._shown_stale)
        monitor.findings.counts_changed.connect(self._findings_changed)
        monitor.maintenance_changed.connect(self._findings_changed)
        monitor.last_known_changed.connect(self._findings_changed)
        # Last known host lines are shown outside a tick: the alerts look at every line.
        monitor.last_known_changed.connect(self._last_known_changed)
        monitor.tile_proxy.rowsInserted.connect(self._update_count)
        monitor.tile_proxy.rowsRemoved.connect(self._update_count)
        monitor.tile_proxy.modelReset.connect(self._update_count)
        monitor.tile_proxy.layoutChanged.connect(self._update_count)
        self._update_count()
        self._findings_changed()

    def set_default_sizes(self, width: int, height: int) -> None:
        # Wide enough for every host column (Status and Compliance say whole sentences).
        host_w = max(480, min(max(540, self.host_panel.minimumSizeHint().width() + 8), int(width * 0.45)))
        self.main.setSizes([host_w, width - host_w])
        bottom = max(170, height // 4)
        self.right.setSizes([height - bottom, bottom])
        self.host_panel.splitter.setSizes([height * 2 // 5, height * 3 // 5])

    # -- reactions -----------------------------------------------------------------------

    def _filter_changed(self, tile_filter: TileFilter) -> None:
        self.monitor.tile_proxy.set_tile_filter(tile_filter)
        hosts = tuple(sorted(tile_filter.hosts))
        self.host_panel.select_host(hosts[0] if len(hosts) == 1 else None)
        if len(hosts) == 1:
            self._show_graphs(hosts[0])
        elif self._host_filter and not hosts:
            self.clear_graphs()          # back to all hosts
        self._host_filter = hosts
        self._update_count()

    def _host_selected(self, host: str | None) -> None:
        self.filter_bar.select_host(host)   # emits filter_changed → narrows the tiles
        if host is None:
            self.clear_graphs()
        elif host != self._graph_host:      # filter_changed may have drawn it
            self._show_graphs(host)

    def _applied(self, stats: TickStats) -> None:
        self.host_panel.update_alerts(stats.hosts)
        self.host_panel.show_cost(self._graph_host)
        if self._graphs_due:
            return
        if self._graph_host is None and self._graphs_auto and self.monitor.host_names():
            if self.monitor.results_waiting():
                return                  # the last share of the first results starts them
            self._graph_host = self.monitor.host_names()[0]
            self._graphs_due = True
            # A frame later, like every graph refresh: not in the tiles' paint's turn.
            QTimer.singleShot(GRAPHS_DELAY_MS, self._show_first_graphs)
        elif self._graph_host in stats.hosts:
            # Only when the graphed host has news, and a frame later: the tiles' repaint
            # (this turn) and the graphs' refresh and repaint (~5-10 ms with pyqtgraph)
            # each fit in a frame, but not both. A zero timeout would be a posted call,
            # run in the same sweep of posted events as the tiles' repaint: one pause.
            self._graphs_due = True
            self._graphs_timer.start()

    def _last_known_changed(self) -> None:
        self.host_panel.update_alerts()

    def _findings_changed(self) -> None:
        self._open_findings = frozenset((f.host.casefold(), f.vm_id.lower())
                                        for f in self.monitor.findings.active() if f.vm_id is not None)
        # Hosts being patched raise no alert: their VMs stop and restart on purpose.
        critical = self.monitor.alerting(self.monitor.findings.unacknowledged_critical())
        self.banner.set_findings(critical)
        active = len(self.monitor.findings.active())
        if active:
            title = f"Findings ({active})"
        elif self.monitor.last_known_hosts():
            # "No active findings" below would read as all clear: nothing was judged yet.
            title = "Findings (connecting…)"
        else:
            title = "Findings"
        # QTabBar re-lays its tabs on every setTabText, even to the same text (~0.8 ms).
        if self.tabs.tabText(TAB_FINDINGS) != title:
            self.tabs.setTabText(TAB_FINDINGS, title)

    def _shown_tile_rows(self) -> range | None:
        """The tile model's rows on screen now (``Monitor.shown_rows``); None when unsure
        (the grid shows a subset in another order, or is not laid out yet)."""
        if self._shown_fresh:
            return self._shown
        view, proxy = self.tile_view, self.monitor.tile_proxy
        count = proxy.rowCount()
        if count != self.monitor.tiles.rowCount() or proxy.sortColumn() >= 0:
            return None             # a filter: its rows are not the model's
        if count == 0 or not view.isVisible():
            return range(0)
        # Equal tiles in rows order: where they are depends on these alone (asked per tick).
        viewport = view.viewport()
        height = viewport.height()
        key = (count, view.verticalScrollBar().value(), viewport.width(), height)
        if key == self._shown_key:
            self._shown_fresh = True    # marked stale by a change that moved nothing
            return self._shown
        shown = self._tile_rows_within(count, height)
        if shown is not None:           # laid out: kept until one of those changes
            self._shown_key, self._shown = key, shown
            self._shown_fresh = True
        return shown

    def _shown_stale(self, *args: object) -> None:
        self._shown_fresh = False

    def _tile_rows_within(self, count: int, height: int) -> range | None:
        view, proxy = self.tile_view, self.monitor.tile_proxy

        def first_row(below: Callable[[QRect], bool]) -> int | None:
            # Tiles are laid out in rows order, left to right and top down.
            low, high = 0, count
            while low < high:
                middle = (low + high) // 2
                rect = view.visualRect(proxy.index(middle, 0))
                if rect.isNull():
                    return None     # not laid out yet
                if below(rect):
                    high = middle
                else:
                    low = middle + 1
            return low

        first = first_row(lambda rect: rect.bottom() >= 0)
        end = first_row(lambda rect: rect.top() >= height)
        return None if first is None or end is None else range(first, end)

    def _update_count(self, *args: object) -> None:
        self.filter_bar.set_count(self.monitor.tile_proxy.rowCount(), self.monitor.tiles.rowCount())

    # -- graphs --------------------------------------------------------------------------

    @property
    def graphs(self) -> Any:
        """The selected host's graphs (``ui.hosts.host_graphs.HostGraphs``), made on first use."""
        if self._graphs is None:
            self.build_graphs()
        return self._graphs

    def graphs_built(self) -> bool:
        return self._graphs is not None

    def build_graphs(self) -> None:
        """Make the graphs now, if not yet (the app calls this once the tiles are up)."""
        if self._graphs is not None:
            return
        from ..hosts.host_graphs import HostGraphs
        graphs = self._graphs = HostGraphs(self.host_panel.graphs_frame)
        # Above the monitoring-cost line, which is the frame's last widget.
        layout_ = self.host_panel.graphs_layout
        layout_.insertWidget(layout_.indexOf(self.host_panel.cost_row), graphs, 1)
        self.host_panel.graphs_title.hide()  # the graphs carry the host's name
        # A new host rescales three or four plots at once: one plot per event-loop turn.
        graphs.staged = True
        # Five minutes show movement from the first minute on; the toggle offers 1 h.
        graphs.set_window(GRAPH_WINDOW_S)
        if self._graph_host is not None:
            self._draw_graphs(new_host=True)

    @property
    def graph_host(self) -> str | None:
        """The host whose graphs are shown (None: none)."""
        return self._graph_host

    def clear_graphs(self) -> None:
        """No host selected: the graphs say so instead of staying on the last host."""
        self._graphs_auto = False
        self._graphs_due = False
        self._graphs_timer.stop()
        self._graph_host = None
        self.host_panel.show_cost(None)
        if self._graphs is None:
            self.host_panel.graphs_title.setText("No host selected")
            return
        try:
            self._graphs.set_history(None)
        except Exception:  # a graph bug must not stop the tiles from updating
            log.exception("host graphs failed")

    def _show_graphs(self, host: str) -> None:
        """Point the graphs at ``host`` (they redraw at once)."""
        self._graphs_due = False
        self._graphs_timer.stop()
        self._graph_host = host
        self.host_panel.graphs_title.setText(host)
        self.host_panel.show_cost(host)
        self._draw_graphs(new_host=True)

    def _show_first_graphs(self) -> None:
        if self._graphs_due and self._graph_host is not None:   # not cleared meanwhile
            self._show_graphs(self._graph_host)

    def _refresh_graphs(self) -> None:
        self._graphs_due = False
        self._draw_graphs(new_host=False)

    def _draw_graphs(self, new_host: bool) -> None:
        host = self._graph_host
        if host is None or self._graphs is None:
            return                      # none yet: build_graphs draws the graphed host
        try:
            # The history belongs to the host's poll worker: read it under its lock.
            with self.monitor.host_history(host) as history:
                if history is None:
                    return
                if new_host:
                    self._graphs.set_history(history, lock=self.monitor.history_lock(host))   # redraws
                else:
                    self._graphs.refresh()
        except Exception:  # a graph bug must not stop the tiles from updating
            log.exception("host graphs failed")

    # -- the health check ----------------------------------------------------------------

    def set_health(self, service: Any) -> None:
        """Show ``service``'s verdicts (a ``ui.health.HealthService``; None: none)."""
        old, self.health = self.health, service
        if old is not None:
            with contextlib.suppress(RuntimeError, TypeError):     # already gone or never connected
                old.updated.disconnect(self._health_updated)
        for dialog in list(self._health_tabs):
            self._drop_health_tab(dialog)
        for host in self.monitor.host_names():
            self.monitor.hosts.set_health(host, None if service is None else host_health(service, host))
        if service is not None:
            service.updated.connect(self._health_updated)
            for dialog in self._vm_dialogs:
                self._add_health_tab(dialog)

    def _health_updated(self, host: str) -> None:
        if self.health is None:
            return
        self.monitor.hosts.set_health(host, host_health(self.health, host))
        for dialog, panel in self._health_tabs.items():
            self._title_health_tab(dialog, panel)

    def open_vm(self, host: str, vm_id: str) -> Any:
        """The VM detail window, with the VM's health problems when there is a health check."""
        dialog = self.details.open(host, vm_id)
        if dialog is None or dialog in self._vm_dialogs:
            return dialog
        self._vm_dialogs[dialog] = None
        dialog.finished.connect(lambda _r, d=dialog: self._vm_dialog_closed(d))
        self._add_recover_button(dialog)
        if self.health is not None:
            self._add_health_tab(dialog)
        return dialog

    def _vm_dialog_closed(self, dialog: Any) -> None:
        self._vm_dialogs.pop(dialog, None)
        self._drop_health_tab(dialog)

    def _add_health_tab(self, dialog: Any) -> None:
        from ..health import VmProblemsPanel
        panel = VmProblemsPanel(self.health, dialog.vm_id, dialog)
        # Appended: the dialog names its own tabs by position.
        dialog.tabs.addTab(panel, "Health")
        self._health_tabs[dialog] = panel
        self._title_health_tab(dialog, panel)

    def _drop_health_tab(self, dialog: Any) -> None:
        panel = self._health_tabs.pop(dialog, None)
        if panel is None:
            return
        try:
            dialog.tabs.removeTab(dialog.tabs.indexOf(panel))
            # Hidden, not deleted: its connection to the service is a lambda that would
            # outlive it (the service goes away with the site, and so does the dialog).
            panel.hide()
        except RuntimeError:        # the dialog is already gone
            pass

    @staticmethod
    def _title_health_tab(dialog: Any, panel: Any) -> None:
        with contextlib.suppress(RuntimeError):     # the dialog is already gone
            dialog.tabs.setTabText(dialog.tabs.indexOf(panel), f"Health ({panel.count})")

    # -- recovery ------------------------------------------------------------------------

    def finding_open(self, host: str, vm_id: str) -> bool:
        """Whether the detector has an active finding for the VM now (any thread)."""
        return (host.casefold(), vm_id.lower()) in self._open_findings

    def recover_finding(self, host: str, vm_id: str) -> Any:
        """The VM's worst active finding the recovery can act on (the record starts at it)."""
        found = [f for f in self.monitor.findings.active()
                 if f.host == host and f.vm_id is not None and f.vm_id.lower() == vm_id.lower()
                 and recoverable(f)]
        return found[0] if found else None

    def _add_recover_button(self, dialog: Any) -> None:
        box = dialog.findChild(QDialogButtonBox)
        if box is None:
            return
        button = box.addButton("Recover…", QDialogButtonBox.ButtonRole.ActionRole)
        button.setObjectName("recoverButton")
        button.setToolTip(RECOVER_TIP)
        button.clicked.connect(lambda: self.recover_requested.emit(
            dialog.host, dialog.vm_id, self.recover_finding(dialog.host, dialog.vm_id)))

    def _tile_menu(self, pos: QPoint) -> None:
        index = self.tile_view.indexAt(pos)
        row = index.data(TileRole) if index.isValid() else None
        if row is None:
            return
        menu = QMenu(self.tile_view)
        menu.addAction("&Details…", lambda: self.open_vm(row.host, row.vm_id))
        recover = menu.addAction("&Recover…", lambda: self.recover_requested.emit(
            row.host, row.vm_id, self.recover_finding(row.host, row.vm_id)))
        # Offered for a VM the console sees a problem with (a finding, or it cannot see it):
        # the recovery's own rules decide which step may run.
        recover.setEnabled(row.is_problem)
        recover.setToolTip(RECOVER_TIP)
        self.tile_menu = menu           # tests reach the menu shown last
        menu.popup(self.tile_view.viewport().mapToGlobal(pos))

    # -- actions -------------------------------------------------------------------------

    def show_problems(self) -> None:
        self.filter_bar.problems.setChecked(True)
        self.tabs.setCurrentIndex(TAB_FINDINGS)

    def acknowledge_critical(self) -> None:
        self.monitor.findings.acknowledge(
            finding_key(f) for f in self.monitor.alerting(self.monitor.findings.unacknowledged_critical()))

    def reveal_vm(self, host: str, vm_id: str | None) -> bool:
        """Select and scroll to a VM's tile, widening the filter if it hides the tile."""
        if vm_id is None:
            self.host_panel.select_host(host)
            self._host_selected(host)
            return True
        pos = self.monitor.tiles.position(host, vm_id)
        if pos is None:
            return False
        proxy = self.monitor.tile_proxy
        index = proxy.mapFromSource(self.monitor.tiles.index(pos))
        if not index.isValid():
            self.filter_bar.search.clear()
            self.filter_bar.select_host(None)
            self.filter_bar.state.setCurrentIndex(0)
            self.filter_bar.problems.setChecked(False)
            self._filter_changed(self.filter_bar.current_filter())
            index = proxy.mapFromSource(self.monitor.tiles.index(pos))
        if not index.isValid():
            return False
        self.tile_view.selectionModel().setCurrentIndex(
            index, QItemSelectionModel.SelectionFlag.ClearAndSelect)
        self.tile_view.scrollTo(index)
        return True
