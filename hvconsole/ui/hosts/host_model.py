"""The host list: one line per host with reachability, OS build, patch compliance, poll
latency (its tooltip: what monitoring costs the host), VM and finding counts, and the
health check's problem count. An unreachable host is red and says why (error kind and
message); a host in a patch run says "patching: <step>" instead of alarming; a host whose
HTTPS certificate is not checked carries an open-padlock badge.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, cast

from PySide6.QtCore import QModelIndex, QModelRoleData, QModelRoleDataSpan, QPersistentModelIndex, Qt
from PySide6.QtGui import QColor, QFont

from hvconsole.core import compliance as cc
from hvconsole.monitoring.finding_words import evidence_words, kind_words
from hvconsole.monitoring.formatting import format_clock, format_ms, format_os_build, format_pct, plain_tooltip
from hvconsole.monitoring.rows import HostRow
from hvconsole.monitoring.vmstate import SEVERITY_TINT

from .. import theme
from ..table_base import ALIGN, BACKGROUND, DECORATION, DISPLAY, FONT, FOREGROUND, TOOLTIP, ColumnsTableModel, runs

HostRowRole = int(Qt.ItemDataRole.UserRole) + 1

COLUMNS = ("Host", "Status", "OS build", "Compliance", "Poll", "VMs", "Findings", "Health")
(COL_HOST, COL_STATUS, COL_BUILD, COL_COMPLIANCE, COL_POLL, COL_VMS, COL_FINDINGS,
 COL_HEALTH) = range(len(COLUMNS))
CERT_OFF_TEXT = ("Certificate checking is off for this host (lab only): anyone on the network "
                 "path can pose as it and capture the password")

# Error kinds (contract snapshot-v1) in the words an admin uses.
ERROR_KIND_TEXT = {
    "timeout": "No answer", "refused": "Refused", "auth": "Auth failed", "tls": "TLS error",
    "fault": "WS-Man fault", "protocol": "Bad answer", "script": "Script error",
}

_RIGHT = int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
# Above this many changed cells in one update, one range signal is cheaper.
MAX_CELL_SIGNALS = 120

# A row's tint says its worst state, the severities' own tints as in the findings table
# (patching is blue); text inks are darker than the tints' colours, to read as text.
_TINT = {"critical": QColor(SEVERITY_TINT["critical"]), "warning": QColor(SEVERITY_TINT["warning"]),
         "patching": QColor("#e8f0fe")}
_INK = {"critical": QColor("#b71c1c"), "warning": QColor("#8a5a00"), "patching": QColor("#174ea6"),
        "good": QColor("#1e7e34"), "muted": QColor("#5f6368")}
_COMPLIANCE_INK = {cc.NEEDS_UPDATE: _INK["warning"], cc.PENDING_REBOOT: _INK["warning"], cc.COMPLIANT: _INK["good"]}
_HEALTH_INK = {"critical": _INK["critical"], "warning": _INK["warning"]}
HEALTH_HINT = "Double-click to open the Health check for this host"


@dataclass(frozen=True, slots=True)
class HostHealth:
    """The Health column of one host: the health check's (configuration) problems, which
    are not the detector's live findings of the Findings column."""

    text: str                    # problems at warning or above: "4"; "—" none, "…" not yet, "?" failed
    tooltip: str                 # "Health check of HV01: 1 critical, 3 warning, 2 info (checked …)"
    worst: str | None = None     # "critical" / "warning" / None: the cell's icon and colour


NOT_AUDITED = HostHealth("…", plain_tooltip("Health check", ["Not run yet for this host"]))


def host_health(service: Any, host: str) -> HostHealth:
    """The Health column from a ``ui.health.HealthService`` (read on the GUI thread)."""
    audit = service.audit(host)
    if audit is None:
        return NOT_AUDITED
    when = f"checked {format_clock(audit.audited_at)}"
    if not audit.reachable:
        return HostHealth("?", plain_tooltip(
            f"Health check of {host}: not checked ({when})",
            [audit.error_message or audit.error_kind or "no answer", HEALTH_HINT]), "warning")
    counts = {"critical": 0, "warning": 0, "info": 0}
    for p in audit.problems:
        counts[p.severity] = counts.get(p.severity, 0) + 1
    # One number (the column must stay narrow: the tile grid needs the width); its icon
    # says the worst, the tooltip the split. Info-level notes are not counted.
    shown = counts["critical"] + counts["warning"]
    worst = "critical" if counts["critical"] else "warning" if counts["warning"] else None
    summary = ", ".join(f"{n} {s}" for s, n in counts.items() if n) or "no problems"
    return HostHealth(str(shown) if shown else "—",
                      plain_tooltip(f"Health check of {host}: {summary} ({when})", [HEALTH_HINT]), worst)


def status_text(row: HostRow) -> str:
    """Short enough for a narrow column; the full message is in the tooltip and in the
    alert lines under the list."""
    if row.patching is not None:
        # A reboot or a drained host is expected now. "maint." keeps the longest steps
        # (maintenance-on/-off) inside the column; the tooltip says them in full.
        return row.patching.replace("maintenance-", "maint. ")
    if row.reachable is None:
        return "Connecting…"
    if not row.reachable:
        return ERROR_KIND_TEXT.get(row.error_kind or "", "Unreachable")
    if row.vm_query_ok is False:
        return "VMMS stuck"
    return "OK"


def alert_text(row: HostRow) -> str | None:
    """One line about a host that needs attention (None when it is fine, or being patched:
    its silence is the patch run's doing)."""
    if row.patching is not None:
        return None
    if row.reachable is False:
        since = f" since {format_clock(row.unreachable_since)}" if row.unreachable_since else ""
        kind = row.error_kind or "error"
        return f"{row.name} unreachable{since} — {kind}: {row.error_message or 'no details'}"
    if row.reachable and row.vm_query_ok is False:
        return f"{row.name}: the VM inventory call fails while VMMS runs — {row.vm_query_error or 'no answer'}"
    return None


class HostListModel(ColumnsTableModel):
    """Rows in the order hosts were configured; ``apply`` replaces rows by host name.

    Each row's cells (text, colours, font, icon per column) are worked out once when the
    row changes, not on every ``data()`` call: a repaint asks for ~8 roles of every
    visible cell. Tooltips are made only when one is asked for."""

    columns = COLUMNS

    def __init__(self, names: Iterable[tuple[str, str]] = (), parent: Any = None):
        super().__init__(parent)
        self._bold = QFont()
        self._bold.setBold(True)
        self._rows: list[HostRow] = [HostRow(name=n, address=a, reachable=None) for n, a in names]
        # The health check's verdict per host: it arrives on its own schedule (every
        # 15 minutes), not with the polls, so it is kept beside the rows.
        self._health: dict[str, HostHealth] = {}
        self._cells: list[list[dict[int, Any]]] = [self._make_cells(r) for r in self._rows]
        self._pos = {r.name: i for i, r in enumerate(self._rows)}

    def _row_count(self) -> int:
        return len(self._rows)

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = DISPLAY) -> Any:
        if not index.isValid():
            return None
        value = self._cells[index.row()][index.column()].get(role)
        if value is not None:
            return value
        if role == HostRowRole:
            return self._rows[index.row()]
        if role == TOOLTIP:
            return self._tooltip(self._rows[index.row()], index.column())
        return None

    def multiData(self, index: QModelIndex | QPersistentModelIndex, span: QModelRoleDataSpan | QModelRoleData) -> None:
        """The roles a cell's paint asks for at once (see ``ColumnsTableModel.multiData``),
        read from the cell's worked-out values."""
        roles = cast("Iterable[QModelRoleData]", span)     # as in ColumnsTableModel.multiData
        if not index.isValid():
            for item in roles:
                item.clearData()
            return
        get = self._cells[index.row()][index.column()].get
        for item in roles:
            role = item.role()
            value = get(role)
            if value is None and role in (HostRowRole, TOOLTIP):
                value = self.data(index, role)
            item.setData(value)

    def _tooltip(self, row: HostRow, col: int) -> str:
        # Made when asked (a hover), not with every poll: wrapping the tooltips of every
        # changed host was most of the host list's share of a tick.
        if col == COL_COMPLIANCE:
            return compliance_tooltip(row)
        if col == COL_POLL:
            return poll_tooltip(row)
        health = self._health.get(row.name) if col == COL_HEALTH else None
        return host_tooltip(row) if health is None else health.tooltip

    def _make_cells(self, row: HostRow) -> list[dict[int, Any]]:
        patching = row.patching is not None
        trouble = (row.reachable is False or row.vm_query_ok is False) and not patching
        health = self._health.get(row.name)
        background = None
        if patching:
            background = _TINT["patching"]
        elif row.reachable is False or row.critical:
            background = _TINT["critical"]
        elif row.vm_query_ok is False or row.warning:
            background = _TINT["warning"]
        cells = []
        for col, text in enumerate(self._texts(row)):
            cell: dict[int, Any] = {DISPLAY: text}
            if background is not None:
                cell[BACKGROUND] = background
            if (trouble and col in (COL_HOST, COL_STATUS)) or (col == COL_FINDINGS and row.critical):
                cell[FOREGROUND] = _INK["critical"]
            elif patching and col == COL_STATUS:
                cell[FOREGROUND] = _INK["patching"]
            elif row.reachable is None:
                cell[FOREGROUND] = _INK["muted"]
            elif col == COL_COMPLIANCE and row.compliance.status in _COMPLIANCE_INK:
                cell[FOREGROUND] = _COMPLIANCE_INK[row.compliance.status]
            if col == COL_STATUS and (trouble or patching):
                cell[FONT] = self._bold
            if col == COL_HOST:
                cell[DECORATION] = theme.icon(host_icon_name(row))
            if col == COL_STATUS and row.cert_check_off:
                cell[DECORATION] = theme.icon("cert-off")
            if col == COL_HEALTH and health is not None and health.worst in _HEALTH_INK:
                cell[FOREGROUND] = _HEALTH_INK[health.worst]
                cell[DECORATION] = theme.icon(health.worst)
            if col in (COL_POLL, COL_VMS):
                cell[ALIGN] = _RIGHT
            cells.append(cell)
        return cells

    def _texts(self, row: HostRow) -> tuple[str, ...]:
        """The line's eight texts, in column order (one call a host a poll, not eight)."""
        vms = f"{row.vm_running}/{row.vm_total}" if row.vm_total else "—"
        if row.critical or row.warning:
            parts = []
            if row.critical:
                parts.append(f"{row.critical} crit")
            if row.warning:
                parts.append(f"{row.warning} warn")
            findings = ", ".join(parts)
        else:
            findings = "—"
        health = self._health.get(row.name)
        return (row.name, status_text(row), format_os_build(row.os_build, row.os_ubr), row.compliance.text,
                format_ms(row.poll_ms), vms, findings, "" if health is None else health.text)

    # -- updating / reading --------------------------------------------------------------

    def apply(self, rows: Iterable[HostRow]) -> None:
        """Replace the lines of the given hosts, announcing only the cells that changed.

        Usually that is one cell per host (the poll time). A ``dataChanged`` spanning
        several cells makes the view repaint the rectangle around them, so changed cells
        are announced by runs within a column (up to ``MAX_CELL_SIGNALS`` signals), more
        as one range."""
        changed: list[tuple[int, int]] = []
        # Cells whose text alone changed (their colours, font and icon are the old ones):
        # announced with the display role only, which the view repaints without asking
        # anything else of the model (see HostListView.dataChanged).
        texts_changed: list[tuple[int, int]] = []
        for row in rows:
            i = self._pos.get(row.name)
            if i is None:
                self.beginInsertRows(QModelIndex(), len(self._rows), len(self._rows))
                self._rows.append(row)
                self._cells.append(self._make_cells(row))
                self._pos[row.name] = len(self._rows) - 1
                self.endInsertRows()
                continue
            if self._rows[i] is row:
                continue
            old_cells = self._cells[i]
            old, self._rows[i] = self._rows[i], row
            if _style_inputs(old) == _style_inputs(row):
                # Usually only a text moved (the poll time): the cells keep their colours,
                # fonts and icons, and only a cell whose text changed is made anew (a copy
                # of the old one), instead of every cell of the line being built again and
                # compared with the old one (half of the host list's share of a tick).
                new_cells = None
                for c, text in enumerate(self._texts(row)):
                    cell = old_cells[c]
                    if text != cell[DISPLAY]:
                        if new_cells is None:
                            new_cells = old_cells.copy()
                        new_cells[c] = {**cell, DISPLAY: text}
                        texts_changed.append((i, c))
                if new_cells is not None:
                    self._cells[i] = new_cells
                continue
            self._cells[i] = new_cells = self._make_cells(row)
            # Only cells that look different are announced: a row whose other facts
            # changed (its tooltips, HostRowRole) is read from the model when asked, and
            # repainting its unchanged cells every poll was most of the list's repaint.
            changed += [(i, c) for c in range(len(COLUMNS)) if new_cells[c] != old_cells[c]]
        # One signal per run of adjacent lines whose cell in the same column changed (a
        # tick of many hosts: the Poll column is one run, not one signal per host; each
        # signal costs the view ~10 µs, and covers exactly the cells it names).
        spans = _column_runs(texts_changed, (DISPLAY,)) + _column_runs(changed, ())
        if len(spans) <= MAX_CELL_SIGNALS:
            for c, first, last, roles in spans:
                self.dataChanged.emit(self.index(first, c), self.index(last, c), roles)
        elif spans:
            rows_changed = [r for r, _ in changed + texts_changed]
            self.dataChanged.emit(self.index(min(rows_changed), 0),
                                  self.index(max(rows_changed), len(COLUMNS) - 1))

    def set_health(self, name: str, health: HostHealth | None) -> None:
        """Show the health check's verdict for host ``name`` (None: no health check)."""
        if health is None:
            if self._health.pop(name, None) is None:
                return
        elif self._health.get(name) == health:
            return
        else:
            self._health[name] = health
        i = self._pos.get(name)
        if i is None:
            return
        self._cells[i] = self._make_cells(self._rows[i])
        index = self.index(i, COL_HEALTH)
        self.dataChanged.emit(index, index)

    def health_for(self, name: str) -> HostHealth | None:
        return self._health.get(name)

    def row_for(self, name: str) -> HostRow | None:
        i = self._pos.get(name)
        return None if i is None else self._rows[i]

    def rows(self) -> list[HostRow]:
        return list(self._rows)


def _column_runs(cells: list[tuple[int, int]], roles: tuple[int, ...]) -> list[tuple[int, int, int, list[int]]]:
    """(column, first line, last line, roles) for each run of adjacent lines of
    ``cells`` (line, column) in the same column."""
    by_column: dict[int, list[int]] = {}
    for r, c in cells:
        by_column.setdefault(c, []).append(r)
    return [(c, first, last, list(roles)) for c, lines in by_column.items() for first, last in runs(sorted(lines))]


def _style_inputs(row: HostRow) -> tuple:
    """Every fact about ``row`` that :meth:`HostListModel._make_cells` reads besides its
    texts and the host's health (which is the same for a host's old and new row, and
    whose change rebuilds the line's cells): two rows of a host with equal style inputs
    have cells that differ at most in their texts. Keep in step with ``_make_cells``
    and ``host_icon_name``."""
    return (row.patching is not None, row.reachable, row.vm_query_ok, bool(row.critical),
            bool(row.warning), row.compliance.status, bool(row.cert_check_off))


def host_icon_name(row: HostRow) -> str:
    if row.patching is not None:
        return "host-patching"
    if row.reachable is None:
        return "host-pending"
    if not row.reachable:
        return "host-unreachable"
    if row.critical or row.vm_query_ok is False:
        return "host-critical"
    if row.warning:
        return "host-warning"
    return "host-ok"


def host_tooltip(row: HostRow) -> str:
    header = {None: "Host (waiting for the first answer)", True: "Host"}.get(row.reachable, "Host unreachable")
    lines = [f"Name: {row.name}", f"Address: {row.address}"]
    if row.patching is not None:
        lines.append(f"Being patched now ({row.patching}): no freeze alerts for this host")
    if row.cert_check_off:
        lines.append(CERT_OFF_TEXT)
    if row.reachable is False:
        lines.append(f"Error: {row.error_kind or 'unknown'} ({status_text(row)})")
        if row.error_message:
            lines.append(f"Message: {row.error_message}")
        if row.unreachable_since is not None:
            lines.append(f"Not answering since {format_clock(row.unreachable_since)}")
    if row.os_product:
        lines.append(f"OS: {row.os_product} {format_os_build(row.os_build, row.os_ubr)}")
    if row.pending_reboot:
        lines.append("A reboot is pending")
    if row.cluster:
        lines.append(f"Cluster: {row.cluster}")
    if row.vm_query_ok is False:
        lines.append(f"VM inventory call failed: {row.vm_query_error or 'no answer'}")
    if row.cpu_pct is not None:
        lines.append(f"CPU: {format_pct(row.cpu_pct)}")
    if row.memory_used_pct is not None:
        lines.append(f"Memory used: {format_pct(row.memory_used_pct)}")
    if row.polled_at is not None:
        lines.append(f"Last poll: {format_clock(row.polled_at)} ({format_ms(row.poll_ms)})")
    lines.append(f"Compliance: {row.compliance.text}")
    for f in row.host_findings:
        lines.append(f"{f.severity.capitalize()}: {kind_words(f.kind)}")
        lines.extend(f"  • {evidence_words(e)}" for e in f.evidence)
    return plain_tooltip(header, lines)


def poll_tooltip(row: HostRow) -> str:
    """How long the last poll took as the console saw it, and what polling costs the host
    (collect.ps1 measures its own CPU time, issue 17)."""
    lines = [f"Last poll took {format_ms(row.poll_ms)} (as this console measured it)"]
    if row.monitoring_cost is None:
        lines.append("The host has not reported what a poll costs it")
    else:
        lines.append(row.monitoring_cost[:1].upper() + row.monitoring_cost[1:])
        if row.cost_suggestion:
            lines.append(row.cost_suggestion[:1].upper() + row.cost_suggestion[1:])
    return plain_tooltip(f"Polling {row.name}", lines)


def compliance_tooltip(row: HostRow) -> str:
    """Why the Compliance column says what it says: one reason per catalog update."""
    header = f"Compliance of {row.name}: {row.compliance.text}"
    lines = list(row.compliance.reasons)
    if row.compliance.freeze_fixes:
        lines.append("Fixes a freeze: " + ", ".join(f.kb for f in row.compliance.freeze_fixes))
    return plain_tooltip(header, lines)
