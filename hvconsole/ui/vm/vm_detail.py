"""The VM detail dialog (opened by double-clicking a tile): what the VM is, its CPU and
memory over the last 5 minutes or hour, or 1 day / 7 days / 90 days from the history
file with findings and patch events as markers (it opens on the range the main graphs
show), its state changes, recent events, and the
detector's findings about it with their evidence.

Everything shown comes from data the main window already holds (the
:class:`~hvconsole.core.history.SiteHistory`, the recent events, the current findings);
the dialog asks no host anything. VM names, event messages and evidence are host data:
every widget that shows them is plain text (labels with ``Qt.PlainText``, item views,
plain-text tooltips), never rich text.
"""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import nullcontext
from typing import Any

import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QGridLayout,
    QLabel,
    QLayout,
    QSizePolicy,
    QTabWidget,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from hvconsole.core.detector.findings import Finding
from hvconsole.core.history import SiteHistory, VmHistory
from hvconsole.core.snapshot import HostEvent, VmSample
from hvconsole.monitoring import vmstate
from hvconsole.monitoring.finding_words import evidence_words, kind_words
from hvconsole.monitoring.formatting import format_clock, format_duration, format_mem_pair, one_line, plain_tooltip
from hvconsole.ui.hosts import stored_history
from hvconsole.ui.hosts.host_graphs import (
    BLUE,
    DEFAULT_WINDOW_S,
    MB_PER_GB,
    ORANGE,
    PURPLE,
    RED,
    fmt_gb,
    fmt_pct,
    legend_html,
    local_hms,
    make_curve,
    make_time_plot,
    palette_colors,
    rate_ceiling,
    title_and_toggle,
)
from hvconsole.ui.hosts.stored_history import MarkerLayer, RangeLoader, StoredRange, is_long

MAX_EVENTS_SHOWN = 200
ALARMING_HEARTBEATS = frozenset({"LostCommunication", "Error"})
SEVERITY_ORDER = {"critical": 0, "warning": 1}



# Header rows: (key, caption). Two columns of caption/value pairs.
HEADER_FIELDS: tuple[tuple[str, str], ...] = (
    ("host", "Host"), ("state", "State"),
    ("heartbeat", "Heartbeat"), ("health", "Health"),
    ("uptime", "Uptime"), ("vcpus", "vCPUs"),
    ("memory", "Memory (assigned / demand)"), ("generation", "Generation"),
    ("start_action", "Automatic start"), ("stop_action", "Automatic stop"),
    ("last_backup", "Last backup"), ("operational", "Operational status"),
)


def plain_label(text: str = "", parent: QWidget | None = None) -> QLabel:
    label = QLabel(text, parent)
    label.setTextFormat(Qt.TextFormat.PlainText)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    return label


class VmDetailDialog(QDialog):
    """Details of one VM. Non-modal friendly: the main window may keep it open and call
    :meth:`update_from` on every tick."""

    def __init__(self, vm_id: str, host: str, site_history: SiteHistory,
                 events: Iterable[HostEvent], findings: Iterable[Finding],
                 parent: QWidget | None = None, lock: Any = None, window_s: int | None = None):
        """``lock`` guards ``site_history`` against the worker writing it: the caller holds
        it while constructing and calling :meth:`update_from`; the window toggle takes it.
        ``window_s``: the time range to open on (the main window passes its graphs')."""
        super().__init__(parent)
        self._lock = lock if lock is not None else nullcontext()
        self.vm_id = vm_id.lower()
        self.host = host
        self._window_s = int(window_s) if window_s and window_s > 0 else DEFAULT_WINDOW_S
        self._site: SiteHistory = site_history
        self._events_key: tuple = ()
        self._findings_key: tuple = ()
        self._transitions_key: tuple = ()
        self.resize(760, 720)

        self.name_label = plain_label("", self)
        big = QFont(self.name_label.font())
        big.setPointSizeF(big.pointSizeF() * 1.3)
        big.setBold(True)
        self.name_label.setFont(big)
        self.notice = plain_label("", self)  # vanished / host unreachable
        self.notice.setStyleSheet(f"color: {RED}; font-weight: bold;")
        self.notice.setWordWrap(True)
        self.values: dict[str, QLabel] = {}
        grid = QGridLayout()
        grid.setHorizontalSpacing(12)
        for i, (key, caption) in enumerate(HEADER_FIELDS):
            row, col = divmod(i, 2)
            grid.addWidget(QLabel(caption + ":", self), row, col * 2)
            value = plain_label("—", self)
            self.values[key] = value
            grid.addWidget(value, row, col * 2 + 1)
        grid.setColumnStretch(1, 1)
        grid.setColumnStretch(3, 1)

        top, self.toggle = title_and_toggle(self, self.name_label, self._window_s, self.set_window)

        self._build_plots()
        # 1 day / 7 days / 90 days come from the history file, read off the GUI thread.
        self._loader = RangeLoader(self)
        self.markers = MarkerLayer((self.cpu_plot, self.mem_plot))
        self._build_tabs()
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.reject)

        box = QVBoxLayout(self)
        box.addLayout(top)
        box.addWidget(self.notice)
        box.addLayout(grid)
        box.addWidget(self.graphics, 3)
        box.addWidget(self.tabs, 2)
        box.addWidget(buttons)
        # A fixed minimum instead of one the layout recomputes whenever a label's text
        # changes: changing a shown window's size hints on every tick is wasted work
        # (and Qt's offscreen platform, used by the tests, warns about each one).
        box.setSizeConstraint(QLayout.SizeConstraint.SetNoConstraint)
        self.setMinimumSize(600, 560)
        self.update_from(site_history, events, findings)

    def _build_plots(self) -> None:
        bg, fg = palette_colors(self)
        self._fg = fg
        self.graphics = pg.GraphicsLayoutWidget(self)
        self.graphics.setBackground(bg)
        self.graphics.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.graphics.setMinimumHeight(260)
        self.graphics.ci.setContentsMargins(2, 2, 8, 2)
        lay = self.graphics.ci
        self.cpu_plot = make_time_plot(lay, fg, label="CPU", units="%", row=0, si_prefix=False)
        self.cpu_plot.setYRange(0, 100, padding=0.02)
        self.cpu_plot.getAxis("left").setTicks([[(v, str(v)) for v in (0, 25, 50, 75, 100)]])
        self.cpu_curve = make_curve(self.cpu_plot, BLUE)
        self.mem_plot = make_time_plot(lay, fg, label="Memory", units="GB", row=1, si_prefix=False)
        self.mem_plot.setXLink(self.cpu_plot)
        self.mem_assigned = make_curve(self.mem_plot, PURPLE, fill=True)
        self.mem_demand = make_curve(self.mem_plot, ORANGE)
        self.curves = (self.cpu_curve, self.mem_assigned, self.mem_demand)

    def _build_tabs(self) -> None:
        self.tabs = QTabWidget(self)
        self.findings_view = QTreeWidget(self)
        self.findings_view.setHeaderLabels(["Severity", "Finding", "Since", "Last seen", "Status"])
        self.findings_view.setRootIsDecorated(True)
        self.events_view = QTreeWidget(self)
        self.events_view.setHeaderLabels(["Time", "Level", "Id", "Log", "Message"])
        self.events_view.setRootIsDecorated(False)
        self.changes_view = QTreeWidget(self)
        self.changes_view.setHeaderLabels(["Time", "State", "Heartbeat"])
        self.changes_view.setRootIsDecorated(False)
        for view in (self.findings_view, self.events_view, self.changes_view):
            view.setAlternatingRowColors(True)
            view.setUniformRowHeights(True)
        self.tabs.addTab(self.findings_view, "Findings")
        self.tabs.addTab(self.events_view, "Events")
        self.tabs.addTab(self.changes_view, "State changes")

    # -- API ----------------------------------------------------------------------------

    @property
    def window_s(self) -> int:
        return self._window_s

    def set_window(self, seconds: int) -> None:
        self._window_s = self.toggle.show_window(seconds)
        with self._lock:
            self._refresh_plots(self._site.vm(self.vm_id))

    def update_from(self, site_history: SiteHistory, events: Iterable[HostEvent],
                    findings: Iterable[Finding]) -> None:
        """Redraw everything from the current data (call on each tick while open)."""
        self._site = site_history
        vm = site_history.vm(self.vm_id)
        if vm is not None:
            self.host = vm.host  # follows a live migration
        self._refresh_header(vm)
        self._refresh_plots(vm)
        self._refresh_findings([f for f in findings if self._concerns_me(f)])
        self._refresh_events([e for e in events if e.vm_id == self.vm_id])
        self._refresh_changes(vm)

    # -- pieces -------------------------------------------------------------------------

    def _concerns_me(self, f: Finding) -> bool:
        """This VM's findings, and host-level ones for its host (a hung host explains a
        hung VM)."""
        if f.vm_id is not None:
            return f.vm_id.lower() == self.vm_id
        return f.host == self.host

    def _refresh_header(self, vm: VmHistory | None) -> None:
        sample = None if vm is None else vm.latest
        name = sample.name if sample is not None else self.vm_id
        self.name_label.setText(name)
        self.setWindowTitle(f"{name} on {self.host} – VM details")
        for key, text in _header_values(self.host, sample).items():
            self.values[key].setText(text)
        state = None if sample is None else sample.state
        self.values["state"].setStyleSheet(
            "" if state is None else f"color: {vmstate.state_colour(state)}; font-weight: bold;")
        # A running VM whose guest stopped answering is the first thing to see.
        lost = (sample is not None and sample.heartbeat in ALARMING_HEARTBEATS
                and sample.state.startswith("Running"))
        self.values["heartbeat"].setStyleSheet(f"color: {RED}; font-weight: bold;" if lost else "")
        self.notice.setText(self._notice_text(vm))
        self.notice.setVisible(bool(self.notice.text()))

    def _notice_text(self, vm: VmHistory | None) -> str:
        if vm is None:
            return "No data for this VM: it has not been reported, or was removed."
        if vm.vanished_at is not None:
            return (f"{vm.host} no longer reports this VM (since {local_hms(vm.vanished_at)}): "
                    "deleted, or moved to a host this console does not watch.")
        host = self._site.host(vm.host)
        if host is not None and host.unreachable_since is not None:
            seen = "" if vm.last_seen is None else f"; values below are from {local_hms(vm.last_seen)}"
            return f"Host {vm.host} unreachable since {local_hms(host.unreachable_since)}{seen}."
        return ""

    def _refresh_plots(self, vm: VmHistory | None) -> None:
        if vm is None or vm.buffer.last_time is None:
            for curve in self.curves:
                curve.setData([], [])
            self.markers.clear()
            self._set_titles(None)
            return
        host = self._site.host(vm.host)
        right = vm.buffer.last_time
        if host is not None and host.last_time is not None:
            right = max(right, host.last_time)  # keep moving while the host is silent
        left = right - self._window_s
        path = stored_history.store()
        if is_long(self._window_s) and path is not None:
            if self._loader.needs(vm.host, self.vm_id, self._window_s, right):
                if self._loader.loaded_key is None or self._loader.loaded_key[2] != self._window_s:
                    for curve in self.curves:   # not the previous range's lines meanwhile
                        curve.setData([], [])
                self._loader.request(path, vm.host, self.vm_id, self._window_s, right, self._show_stored)
            self.cpu_plot.setXRange(left, right, padding=0)
            self._set_titles(vm)
            return
        if self._loader.loaded_key is not None:
            self._loader.forget()
            self.markers.clear()
        times, values = vm.buffer.since(left, copy=True)  # pyqtgraph keeps them (see HostGraphs)
        col = dict(zip(vm.buffer.fields, values, strict=True))
        assigned = col["memory_assigned_mb"] / MB_PER_GB
        demand = col["memory_demand_mb"] / MB_PER_GB
        self.cpu_curve.setData(times, col["cpu_pct"])
        self.mem_assigned.setData(times, assigned)
        self.mem_demand.setData(times, demand)
        self.mem_plot.setYRange(0, rate_ceiling(assigned, demand, floor=1.0), padding=0.02)
        self.cpu_plot.setXRange(left, right, padding=0)
        self._set_titles(vm)

    def _show_stored(self, result: StoredRange) -> None:
        if not is_long(self._window_s) or result.series is None:
            return
        s = result.series
        col = dict(zip(s.fields, s.mean, strict=True))
        assigned = col["memory_assigned_mb"] / MB_PER_GB
        demand = col["memory_demand_mb"] / MB_PER_GB
        self.cpu_curve.setData(s.times, col["cpu_pct"])
        self.mem_assigned.setData(s.times, assigned)
        self.mem_demand.setData(s.times, demand)
        self.mem_plot.setYRange(0, rate_ceiling(assigned, demand, floor=1.0), padding=0.02)
        self.markers.show(result.markers)

    def _set_titles(self, vm: VmHistory | None) -> None:
        def latest(field: str) -> float | None:
            return None if vm is None else vm.buffer.latest(field)
        self.cpu_plot.setTitle(legend_html([(BLUE, "CPU", fmt_pct(latest("cpu_pct")))]),
                               color=self._fg, size="8pt")
        self.mem_plot.setTitle(legend_html([
            (PURPLE, "assigned", fmt_gb(latest("memory_assigned_mb"))),
            (ORANGE, "demand", fmt_gb(latest("memory_demand_mb")))]), color=self._fg, size="8pt")

    def _refresh_findings(self, findings: list[Finding]) -> None:
        findings.sort(key=lambda f: (not f.active, SEVERITY_ORDER.get(f.severity, 9),
                                     -f.first_seen.timestamp()))
        key = tuple((f.host, f.vm_id, f.kind, f.severity, f.first_seen, f.last_seen, f.active,
                     tuple(f.evidence)) for f in findings)
        self.tabs.setTabText(0, f"Findings ({len(findings)})")
        if key == self._findings_key:
            return  # unchanged: keep the admin's expanded rows and selection
        self._findings_key = key
        self.findings_view.clear()
        for f in findings:
            words = kind_words(f.kind)
            what = words if f.vm_id is not None else f"{words} (host {f.host})"
            evidence = [evidence_words(line) for line in f.evidence]
            item = QTreeWidgetItem([f.severity, what, format_clock(f.first_seen),
                                    format_clock(f.last_seen), "active" if f.active else "ended"])
            item.setForeground(0, pg.mkColor(vmstate.SEVERITY_COLOUR.get(f.severity, "#5f6368")))
            item.setToolTip(1, plain_tooltip(f"{f.severity} finding ({f.kind}): evidence", evidence))
            for line in evidence:
                item.addChild(QTreeWidgetItem(["", line]))  # under the finding's name
            self.findings_view.addTopLevelItem(item)
            item.setExpanded(f.active)
        self.findings_view.resizeColumnToContents(0)
        self.findings_view.resizeColumnToContents(1)

    def _refresh_events(self, events: list[HostEvent]) -> None:
        events.sort(key=lambda e: e.time, reverse=True)
        events = events[:MAX_EVENTS_SHOWN]
        key = tuple((e.time, e.log, e.id, e.message) for e in events)
        self.tabs.setTabText(1, f"Events ({len(events)})")
        if key == self._events_key:
            return
        self._events_key = key
        self.events_view.clear()
        for e in events:
            item = QTreeWidgetItem([format_clock(e.time), e.level, str(e.id), e.log,
                                    one_line(e.message)])
            if e.message:
                item.setToolTip(4, plain_tooltip(f"Event {e.id} ({e.level})", [e.message]))
            self.events_view.addTopLevelItem(item)
        for c in range(4):
            self.events_view.resizeColumnToContents(c)

    def _refresh_changes(self, vm: VmHistory | None) -> None:
        changes = [] if vm is None else list(reversed(vm.transitions))
        key = tuple((t.time, t.state, t.heartbeat) for t in changes)
        self.tabs.setTabText(2, f"State changes ({len(changes)})")
        if key == self._transitions_key:
            return
        self._transitions_key = key
        self.changes_view.clear()
        for t in changes:
            self.changes_view.addTopLevelItem(QTreeWidgetItem(
                [format_clock(t.time), t.state, t.heartbeat or "—"]))
        self.changes_view.resizeColumnToContents(0)
        self.changes_view.resizeColumnToContents(1)


def _header_values(host: str, vm: VmSample | None) -> dict[str, str]:
    """The header's texts; '—' for anything unknown (None is unknown, never 0)."""
    if vm is None:
        return {key: (host if key == "host" else "—") for key, _ in HEADER_FIELDS}

    def txt(v: object) -> str:
        return "—" if v is None else str(v)

    memory = format_mem_pair(vm.memory_assigned_mb, vm.memory_demand_mb)
    if vm.dynamic_memory is not None:
        memory += ", dynamic" if vm.dynamic_memory else ", static"
    return {
        "host": host + (" (clustered VM)" if vm.is_clustered else ""),
        "state": vm.state,
        "heartbeat": txt(vm.heartbeat),
        "health": txt(vm.health),
        "uptime": format_duration(vm.uptime_s),
        "vcpus": txt(vm.vcpus),
        "memory": memory,
        "generation": txt(vm.generation),
        "start_action": txt(vm.automatic_start_action),
        "stop_action": txt(vm.automatic_stop_action),
        "last_backup": "none recorded" if vm.last_backup is None else format_clock(vm.last_backup),
        "operational": ", ".join(vm.operational_status) or "—",
    }
