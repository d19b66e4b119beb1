"""The "Health check" view: every host's and VM's problems by severity, with the evidence,
the fix and the source of the selected one; filters by severity, host and text; export to
JSON (the audit-v1 document), CSV or HTML.

It only reads a :class:`~.service.HealthService` and repaints on its ``updated`` signal;
nothing here touches the network. Host and VM names come from hosts: they are set as plain
item text, and escaped wherever HTML is written (the detail pane, the HTML export).
"""

from __future__ import annotations

import csv
import html
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush, QColor, QIcon, QPainter, QPixmap
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QSplitter,
    QTextBrowser,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from hvconsole.core.health import CRITICAL, INFO, WARNING, Problem, count_by_severity, report_document
from hvconsole.core.health.rules import SEVERITY_RANK, at_or_above

from .service import HealthService

SEVERITY_COLOUR = {CRITICAL: "#d32f2f", WARNING: "#f2a900", INFO: "#1a73e8"}
SEVERITY_WORD = {CRITICAL: "Critical", WARNING: "Warning", INFO: "Info"}
FILTERS = (("All severities", INFO), ("Warning and critical", WARNING), ("Critical only", CRITICAL))
PROBLEM_ROLE = Qt.ItemDataRole.UserRole + 1
COLUMNS = ("Severity", "Host / VM", "Problem", "Rule")


def _dot(colour: str) -> QIcon:
    pix = QPixmap(12, 12)
    pix.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pix)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setBrush(QColor(colour))
    painter.setPen(Qt.PenStyle.NoPen)
    painter.drawEllipse(1, 1, 10, 10)
    painter.end()
    return QIcon(pix)


def counts_text(problems: list[Problem]) -> str:
    counts = count_by_severity(problems)
    return ", ".join(f"{n} {s}" for s, n in counts.items() if n) or "no problems"


class HealthView(QWidget):
    def __init__(self, service: HealthService, parent: QWidget | None = None):
        super().__init__(parent)
        self.service = service
        self._icons = {s: _dot(c) for s, c in SEVERITY_COLOUR.items()}

        self.summary = QLabel()
        self.summary.setTextFormat(Qt.TextFormat.PlainText)
        self.run_button = QPushButton("Run now")
        self.run_button.clicked.connect(lambda: self.service.run_now())
        self.export_button = QPushButton("Export…")
        self.export_button.clicked.connect(self._ask_export)
        top = QHBoxLayout()
        title = QLabel("Health check")
        font = title.font()
        font.setPointSizeF(font.pointSizeF() + 3)
        font.setBold(True)
        title.setFont(font)
        top.addWidget(title)
        top.addSpacing(12)
        top.addWidget(self.summary, 1)
        top.addWidget(self.run_button)
        top.addWidget(self.export_button)

        self.severity = QComboBox()
        for label, floor in FILTERS:
            self.severity.addItem(label, floor)
        self.host_filter = QComboBox()
        self.search = QLineEdit()
        self.search.setPlaceholderText("Filter by VM, rule or text")
        self.search.setClearButtonEnabled(True)
        filters = QHBoxLayout()
        filters.addWidget(QLabel("Show"))
        filters.addWidget(self.severity)
        filters.addWidget(self.host_filter)
        filters.addWidget(self.search, 1)

        self.tree = QTreeWidget()
        self.tree.setColumnCount(len(COLUMNS))
        self.tree.setHeaderLabels(list(COLUMNS))
        self.tree.setUniformRowHeights(True)
        self.tree.setAlternatingRowColors(True)
        header = self.tree.header()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(3, QHeaderView.ResizeMode.ResizeToContents)
        self.detail = QTextBrowser()
        self.detail.setOpenExternalLinks(False)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.tree)
        split.addWidget(self.detail)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 1)

        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addLayout(filters)
        layout.addWidget(split, 1)

        self.severity.currentIndexChanged.connect(self.refresh)
        self.host_filter.currentIndexChanged.connect(self.refresh)
        self.search.textChanged.connect(self.refresh)
        self.tree.currentItemChanged.connect(self._show_detail)
        # Bound methods, never lambdas: Qt drops a bound method's connection when this widget
        # is deleted; a lambda would outlive it and raise at the service's next update.
        service.updated.connect(self._service_updated)
        service.running_changed.connect(self._running_changed)
        self._fill_hosts()
        self.refresh()

    def _service_updated(self, _host: str) -> None:
        self.refresh()

    def _running_changed(self, _running: bool) -> None:
        self._update_summary()

    # -- filling --------------------------------------------------------------------------

    def _fill_hosts(self) -> None:
        self.host_filter.blockSignals(True)
        self.host_filter.clear()
        self.host_filter.addItem("All hosts", None)
        for name in self.service.hosts:
            self.host_filter.addItem(name, name)
        self.host_filter.blockSignals(False)

    def visible_problems(self) -> list[Problem]:
        floor = self.severity.currentData() or INFO
        host = self.host_filter.currentData()
        needle = self.search.text().strip().casefold()
        shown = []
        for p in self.service.problems(host):
            if not at_or_above(p.severity, floor):
                continue
            if needle and needle not in " ".join((p.vm_name or "", p.rule, p.title, p.evidence, p.host)).casefold():
                continue
            shown.append(p)
        return shown

    def refresh(self) -> None:
        current = self.tree.currentItem()
        keep = current.data(0, PROBLEM_ROLE) if current is not None else None
        shown = self.visible_problems()
        self.tree.setUpdatesEnabled(False)
        self.tree.clear()
        select = None
        for name in self.service.hosts:
            if self.host_filter.currentData() not in (None, name):
                continue
            audit = self.service.audit(name)
            mine = sorted((p for p in shown if p.host == name),
                          key=lambda p: (SEVERITY_RANK[p.severity], p.vm_name is not None, p.vm_name or "", p.rule))
            top = QTreeWidgetItem(self.tree)
            top.setText(1, name)
            font = top.font(1)
            font.setBold(True)
            for col in range(len(COLUMNS)):
                top.setFont(col, font)
            if audit is None:
                top.setText(2, "not audited yet" + (" (running…)" if self.service.running else ""))
            elif not audit.reachable:
                top.setText(2, f"not audited: {audit.error_message or audit.error_kind}")
                top.setForeground(2, QBrush(QColor(SEVERITY_COLOUR[CRITICAL])))
            else:
                hidden = len(audit.problems) - len(mine)
                suffix = f" ({hidden} hidden by the filter)" if hidden else ""
                top.setText(2, counts_text(list(audit.problems)) + suffix)
                worst = min((p.severity for p in audit.problems), key=SEVERITY_RANK.__getitem__, default=None)
                if worst:
                    top.setIcon(0, self._icons[worst])
            for p in mine:
                item = QTreeWidgetItem(top)
                item.setIcon(0, self._icons[p.severity])
                item.setText(0, SEVERITY_WORD[p.severity])
                item.setText(1, p.vm_name or "(host)")
                item.setText(2, p.title + ("  [host's BPA]" if p.origin == "host-bpa" else ""))
                item.setText(3, p.rule)
                item.setToolTip(2, p.evidence)
                item.setData(0, PROBLEM_ROLE, p)
                if keep is not None and p == keep:
                    select = item
            top.setExpanded(True)
        self.tree.setUpdatesEnabled(True)
        if select is not None:
            self.tree.setCurrentItem(select)
        else:
            self._show_detail(self.tree.currentItem(), None)
        self._update_summary()

    def _update_summary(self) -> None:
        problems = self.service.problems()
        audited = len(self.service.audits())
        running = " · running…" if self.service.running else ""
        self.summary.setText(f"{audited} of {len(self.service.hosts)} hosts audited · {counts_text(problems)}{running}")
        self.run_button.setEnabled(not self.service.running)

    def select_first(self, severity: str = CRITICAL) -> bool:
        """Select the first problem of ``severity`` (for screenshots and keyboard users)."""
        for top in _children(self.tree.invisibleRootItem()):
            for item in _children(top):
                p = item.data(0, PROBLEM_ROLE)
                if p is not None and p.severity == severity:
                    self.tree.setCurrentItem(item)
                    return True
        return False

    def _show_detail(self, item: QTreeWidgetItem | None, _previous: Any = None) -> None:
        p = item.data(0, PROBLEM_ROLE) if item is not None else None
        if p is None:
            name = item.text(1) if item is not None else None
            audit = self.service.audit(name) if name else None
            notes = list(audit.judgement.skipped) if audit is not None and audit.judgement else []
            body = "<p>Select a problem to see its evidence, the fix and where the rule comes from.</p>"
            if notes:
                body += "<p><b>Not judged on this host:</b></p><ul>" + "".join(
                    f"<li>{html.escape(n)}</li>" for n in notes) + "</ul>"
            self.detail.setHtml(body)
            return
        where = f"{html.escape(p.host)}" + (f" / {html.escape(p.vm_name)}" if p.vm_name else " (the host)")
        origin = "the host's own Best Practices Analyzer" if p.origin == "host-bpa" else "the console's rule"
        colour = SEVERITY_COLOUR[p.severity]
        self.detail.setHtml(
            f"<p><b style='color:{colour}'>{SEVERITY_WORD[p.severity]}</b> &nbsp; <b>{html.escape(p.title)}</b>"
            f" &nbsp; on {where}</p>"
            f"<p><b>Evidence:</b> {html.escape(p.evidence)}</p>"
            f"<p><b>Fix:</b> {html.escape(p.fix)}</p>"
            f"<p style='color:#5f6368'><b>Source:</b> {html.escape(p.source)} ({origin}; rule "
            f"<code>{html.escape(p.rule)}</code>)</p>")

    # -- export ---------------------------------------------------------------------------

    def _ask_export(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export the health check", "health-check.html",
                                              "HTML (*.html);;CSV (*.csv);;JSON, hvconsole.audit/1 (*.json)")
        if not path:
            return
        try:
            self.export(Path(path))
        except (OSError, ValueError) as exc:
            QMessageBox.warning(self, "Export", f"The health check could not be saved: {exc}")

    def export(self, path: Path) -> None:
        """Write every problem (not only the filtered ones): .json, .csv or .html by suffix."""
        suffix = path.suffix.lower()
        audits = self.service.audits()
        if suffix == ".json":
            doc = report_document(audits, self.service.thresholds, self.service.now())
            path.write_text(json.dumps(doc, ensure_ascii=False, indent=1), encoding="utf-8")
        elif suffix == ".csv":
            with path.open("w", encoding="utf-8-sig", newline="") as f:
                writer = csv.writer(f)
                writer.writerow(["host", "vm", "severity", "rule", "title", "evidence", "fix", "source", "origin"])
                for a in audits:
                    for p in a.problems:
                        writer.writerow([_cell(x) for x in (p.host, p.vm_name or "", p.severity, p.rule, p.title,
                                                             p.evidence, p.fix, p.source, p.origin)])
        elif suffix in (".html", ".htm"):
            path.write_text(_html_report(audits), encoding="utf-8")
        else:
            raise ValueError(f"unknown file type {suffix or '(none)'}: use .html, .csv or .json")


def _children(item: QTreeWidgetItem) -> Iterator[QTreeWidgetItem]:
    for i in range(item.childCount()):
        child = item.child(i)
        if child is not None:       # only past the end, which the range never reaches
            yield child


def _cell(text: str) -> str:
    """A CSV cell a spreadsheet will not run as a formula (a VM name starting with =, +, - or @)."""
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text


def _html_report(audits: list[Any]) -> str:
    e = html.escape
    rows = []
    for a in audits:
        if not a.reachable:
            rows.append(f"<tr><td>{e(a.host)}</td><td colspan='5'>not audited: {e(a.error_message or '')}</td></tr>")
        for p in a.problems:
            rows.append(f"<tr><td>{e(p.host)}</td><td>{e(p.vm_name or '(host)')}</td>"
                        f"<td style='color:{SEVERITY_COLOUR[p.severity]}'>{e(p.severity)}</td>"
                        f"<td>{e(p.title)}<br><small>{e(p.rule)}</small></td><td>{e(p.evidence)}</td><td>{e(p.fix)}</td></tr>")
    return ("<!DOCTYPE html><html><head><meta charset='utf-8'><title>Health check</title>"
            "<style>body{font-family:sans-serif}td{vertical-align:top;padding:4px;border-bottom:1px solid #ddd}"
            "</style></head><body><h1>Health check</h1><table><tr><th>Host</th><th>VM</th><th>Severity</th>"
            "<th>Problem</th><th>Evidence</th><th>Fix</th></tr>" + "".join(rows) + "</table></body></html>")


class HealthDialog(QDialog):
    def __init__(self, service: HealthService, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Health check")
        self.view = HealthView(service, self)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.addWidget(self.view)
        self.resize(1100, 720)


def open_health_view(parent: QWidget | None, service: HealthService) -> HealthDialog:
    """Show the Health check view (non-modal) and return it."""
    dialog = HealthDialog(service, parent)
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    dialog.show()
    return dialog


class VmProblemsPanel(QWidget):
    """The health problems of one VM, for the VM detail window (plain text, no network)."""

    def __init__(self, service: HealthService, vm_id: str, parent: QWidget | None = None):
        super().__init__(parent)
        self.service, self.vm_id = service, vm_id.lower()
        self.text = QTextBrowser()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.text)
        service.updated.connect(self._service_updated)    # bound: dropped when this panel goes
        self.refresh()

    def _service_updated(self, _host: str) -> None:
        self.refresh()

    def refresh(self) -> None:
        problems = sorted(self.service.problems_for_vm(self.vm_id), key=lambda p: SEVERITY_RANK[p.severity])
        if not problems:
            self.text.setHtml("<p>No health problems found for this VM.</p>")
            return
        self.text.setHtml("".join(
            f"<p><b style='color:{SEVERITY_COLOUR[p.severity]}'>{SEVERITY_WORD[p.severity]}</b> "
            f"<b>{html.escape(p.title)}</b><br>{html.escape(p.evidence)}<br><i>Fix:</i> {html.escape(p.fix)}</p>"
            for p in problems))

    @property
    def count(self) -> int:
        return len(self.service.problems_for_vm(self.vm_id))
