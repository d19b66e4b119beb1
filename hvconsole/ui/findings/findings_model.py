"""The findings table: active findings and recently ended ones, newest critical first,
with their evidence, and the admin's acknowledgements.

A finding is identified by (host, VM, kind, first seen): the detector reports it again
whenever it changes or ends, and the new report replaces the old line. Ended findings
are kept up to ``keep_ended`` (the "recent" part), oldest dropped first. Acknowledging
is the console's own bookkeeping (the detector does not know about it): it stops the
banner and the tray from nagging, the tile badge stays as long as the finding is active.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from PySide6.QtCore import QModelIndex, QModelRoleData, QModelRoleDataSpan, QPersistentModelIndex, Qt, Signal
from PySide6.QtGui import QColor, QFont

from hvconsole.monitoring.finding_words import evidence_words, kind_words
from hvconsole.monitoring.formatting import format_clock, one_line, plain_tooltip
from hvconsole.monitoring.vmstate import SEVERITY_RANK, SEVERITY_TINT

from .. import theme
from ..table_base import BACKGROUND, DECORATION, DISPLAY, FONT, FOREGROUND, TOOLTIP, LinesTableModel, runs

FindingKey = tuple[str, "str | None", str, Any]
FindingRole = int(Qt.ItemDataRole.UserRole) + 1

COLUMNS = ("Severity", "Host", "VM", "Finding", "Since", "Last seen", "Status", "Evidence")
(COL_SEVERITY, COL_HOST, COL_VM, COL_KIND, COL_SINCE, COL_LAST, COL_STATUS,
 COL_EVIDENCE) = range(len(COLUMNS))

_MUTED = QColor("#80868b")
# Roles a repaint asks of every cell: worked out once per line. The others (the tooltip,
# the line itself) are answered when asked.
_CACHED_ROLES = (DISPLAY, FOREGROUND, BACKGROUND, FONT, DECORATION)
_UNCACHED_ROLES = frozenset({TOOLTIP, FindingRole})
# Above this many separate areas of changed cells in one update, one signal spans them.
MAX_CELL_SIGNALS = 32


def finding_key(f: Any) -> FindingKey:
    return (f.host, f.vm_id, f.kind, f.first_seen)


@dataclass(frozen=True, slots=True)
class FindingLine:
    finding: Any            # hvconsole.core.detector Finding (duck-typed)
    acknowledged: bool = False

    @property
    def key(self) -> FindingKey:
        return finding_key(self.finding)

    @property
    def order(self) -> tuple:
        f = self.finding
        # Active before ended, critical before warning, newest first.
        return (0 if f.active else 1, SEVERITY_RANK.get(f.severity, 9), -f.first_seen.timestamp(),
                f.host, f.vm_name or "", f.kind)


class FindingsModel(LinesTableModel[FindingLine]):
    """See the module docstring."""

    columns = COLUMNS

    # Findings that just appeared as active criticals (for the tray and the banner).
    new_critical = Signal(object)        # list of findings
    counts_changed = Signal()

    def __init__(self, keep_ended: int = 200, parent: Any = None):
        super().__init__(parent)
        self._keep_ended = keep_ended
        self._bold = QFont()
        self._bold.setBold(True)
        self._cells: dict[int, tuple[FindingLine, list[dict[int, Any]]]] = {}
        self._cells_day = datetime.now().date()

    # -- Qt interface --------------------------------------------------------------------

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = DISPLAY) -> Any:
        """What a repaint asks of every cell (text, colours, font, icon: ~7 roles, each a
        call from C++) is worked out once per line object and looked up after that."""
        if not index.isValid():
            return None
        line = self._lines[index.row()]
        value = self._cells_of(line)[index.column()].get(role)
        if value is not None or role not in _UNCACHED_ROLES:
            return value
        return self._line_data(line, index.column(), role)

    def multiData(self, index: QModelIndex | QPersistentModelIndex, span: QModelRoleDataSpan | QModelRoleData) -> None:
        """The roles a cell's paint asks for at once (see ``ColumnsTableModel.multiData``),
        read from the line's worked-out cells as ``data()`` reads them."""
        roles = cast("Iterable[QModelRoleData]", span)     # as in ColumnsTableModel.multiData
        if not index.isValid():
            for item in roles:
                item.clearData()
            return
        line = self._lines[index.row()]
        get = self._cells_of(line)[index.column()].get
        for item in roles:
            role = item.role()
            value = get(role)
            if value is None and role in _UNCACHED_ROLES:
                value = self._line_data(line, index.column(), role)
            item.setData(value)

    def _cells_of(self, line: FindingLine) -> list[dict[int, Any]]:
        cached = self._cells.get(id(line))
        if cached is None or cached[0] is not line:
            cached = self._cells[id(line)] = (line, [self._make_cells(line, col) for col in range(len(COLUMNS))])
        return cached[1]

    def measure_key(self, row: int, col: int) -> tuple:
        """What a cell's width depends on (its text, font and icon), for a view that
        measures each different cell once (the findings panel's column fitting)."""
        cell = self._cells_of(self._lines[row])[col]
        icon = cell.get(DECORATION)
        return (col, cell.get(DISPLAY), cell.get(FONT) is not None, None if icon is None else icon.cacheKey())

    def _make_cells(self, line: FindingLine, col: int) -> dict[int, Any]:
        cell = {}
        for role in _CACHED_ROLES:
            value = self._line_data(line, col, role)
            if value is not None:
                cell[role] = value
        return cell

    def _forget_cells(self) -> None:
        """Drop the cells of lines no longer shown (and all of them on a new day: times
        from another day are shown with their date)."""
        today = datetime.now().date()
        if today != self._cells_day:
            self._cells_day = today
            self._cells.clear()
        elif len(self._cells) > 2 * len(self._lines) + 64:
            shown = {id(line) for line in self._lines}
            self._cells = {key: cached for key, cached in self._cells.items() if key in shown}

    def _line_data(self, line: FindingLine, col: int, role: int) -> Any:
        f = line.finding
        if role == DISPLAY:
            return self._text(line, col)
        if role == FindingRole:
            return line
        if role == TOOLTIP:
            return finding_tooltip(line)
        if role == FOREGROUND:
            if not f.active or line.acknowledged:
                return _MUTED
            if col == COL_SEVERITY:
                return theme.severity_qcolour(f.severity)
            return None
        if role == BACKGROUND and f.active and not line.acknowledged:
            return theme.colour(SEVERITY_TINT.get(f.severity, "#ffffff"))
        if role == FONT and col == COL_SEVERITY and f.active:
            return self._bold
        if role == DECORATION and col == COL_SEVERITY:
            return theme.icon(f.severity if f.active else "cleared")
        return None

    @staticmethod
    def _text(line: FindingLine, col: int) -> str:
        f = line.finding
        if col == COL_SEVERITY:
            return f.severity.capitalize()
        if col == COL_HOST:
            return f.host
        if col == COL_VM:
            return f.vm_name or ("(host)" if f.vm_id is None else f.vm_id)
        if col == COL_KIND:
            return kind_words(f.kind)
        if col == COL_SINCE:
            return format_clock(f.first_seen)
        if col == COL_LAST:
            return format_clock(f.last_seen)
        if col == COL_STATUS:
            status = "Active" if f.active else "Ended"
            return status + (", acknowledged" if line.acknowledged else "")
        if col == COL_EVIDENCE:
            return one_line(evidence_words(f.evidence[0])) if f.evidence else ""
        return ""

    # -- updating ------------------------------------------------------------------------

    def apply(self, changed: Iterable[Any]) -> list[Any]:
        """Merge findings the detector reported as appeared, changed or ended. Returns the
        active critical findings that are new (not seen before under the same key)."""
        changed = list(changed)
        if not changed:
            return []   # most ticks: nothing to merge, no need to index every line
        by_key = {line.key: line for line in self._lines}
        fresh_critical = []
        touched = False
        for f in changed:
            key = finding_key(f)
            old = by_key.get(key)
            if old is None and f.active and f.severity == "critical":
                fresh_critical.append(f)
            by_key[key] = FindingLine(f, acknowledged=old.acknowledged if old is not None else False)
            touched = True
        if not touched:
            return []
        lines = sorted(by_key.values(), key=lambda line: line.order)
        ended = [line for line in lines if not line.finding.active]
        if len(ended) > self._keep_ended:
            drop = {line.key for line in sorted(ended, key=lambda old: old.finding.last_seen)
                    [: len(ended) - self._keep_ended]}
            lines = [line for line in lines if line.key not in drop]
        self._replace(lines)
        if fresh_critical:
            self.new_critical.emit(fresh_critical)
        return fresh_critical

    def refresh_seen(self, active: Iterable[Any]) -> int:
        """Take the newest ``last_seen`` (and evidence) of findings that are still active.
        The detector reports a lasting finding only when its evidence changes, so without
        this "Last seen" would stay at the first poll. Repaints the changed rows' cells in
        place (no reset: the selection stays). Returns how many lines changed."""
        changed: list[tuple[int, FindingLine]] = []
        if not self._lines:
            return 0
        self._forget_cells()
        pos: dict[FindingKey, int] | None = None
        for f in active:
            if pos is None:
                pos = {line.key: i for i, line in enumerate(self._lines)}
            i = pos.get(finding_key(f))
            if i is None:
                continue
            line = self._lines[i]
            if line.finding is f or not line.finding.active or line.finding.last_seen == f.last_seen:
                continue
            self._lines[i] = FindingLine(f, acknowledged=line.acknowledged)
            changed.append((i, line))
        # Only the cells that look different (usually Last seen alone; all eight columns
        # cost ~1 ms a tick), by runs of lines within a column (a tick's hosts' lines lie
        # apart: one span repainted the lines between them too).
        if changed:
            self._announce(sorted(changed, key=lambda pair: pair[0]))
        return len(changed)

    def acknowledge(self, keys: Iterable[FindingKey]) -> int:
        """Mark findings as seen by the admin; returns how many changed."""
        wanted = set(keys)
        changed: list[tuple[int, FindingLine]] = []
        for i, line in enumerate(self._lines):
            if line.key in wanted and not line.acknowledged:
                self._lines[i] = FindingLine(line.finding, acknowledged=True)
                changed.append((i, line))
        if changed:
            self._announce(changed)
            self.counts_changed.emit()
        return len(changed)

    def _replace(self, lines: list[FindingLine]) -> None:
        """Show ``lines`` by removing, moving and inserting lines and announcing only the
        cells that look different: a reset repainted and re-measured every line (and
        dropped the selection) whenever one finding appeared, changed or ended."""
        changed = self._replace_lines(lines, key=_line_key)
        self._forget_cells()
        if changed:
            self._announce(changed)
        self.counts_changed.emit()

    def _announce(self, changed: list[tuple[int, FindingLine]]) -> None:
        """One ``dataChanged`` per run of adjacent lines whose cell in the same column
        looks different (new, old line); all of them as one span when there are many."""
        by_column: dict[int, list[int]] = {}
        for row, old in changed:
            new_cells, old_cells = self._cells_of(self._lines[row]), self._cells_of(old)
            for col in range(len(COLUMNS)):
                if new_cells[col] != old_cells[col]:
                    by_column.setdefault(col, []).append(row)
        spans = [(col, first, last) for col, rows in by_column.items() for first, last in runs(sorted(rows))]
        if len(spans) > MAX_CELL_SIGNALS:
            rows = [row for row, _ in changed]
            spans = [(-1, min(rows), max(rows))]
        for col, first, last in spans:
            left, right = (0, len(COLUMNS) - 1) if col < 0 else (col, col)
            self.dataChanged.emit(self.index(first, left), self.index(last, right))

    # -- reading -------------------------------------------------------------------------

    def lines(self) -> list[FindingLine]:
        return list(self._lines)

    def active(self) -> list[Any]:
        return [line.finding for line in self._lines if line.finding.active]

    def unacknowledged_critical(self) -> list[Any]:
        return [line.finding for line in self._lines
                if line.finding.active and line.finding.severity == "critical" and not line.acknowledged]


def _line_key(line: FindingLine) -> FindingKey:
    return line.key


def finding_tooltip(line: FindingLine) -> str:
    f = line.finding
    header = f"{f.severity.capitalize()} finding ({'active' if f.active else 'ended'})"
    lines = [f"Finding: {kind_words(f.kind)} ({f.kind})", f"Host: {f.host}"]
    if f.vm_id is not None:
        lines.append(f"VM: {f.vm_name or f.vm_id}")
    lines.append(f"First seen: {format_clock(f.first_seen)}   Last seen: {format_clock(f.last_seen)}")
    if line.acknowledged:
        lines.append("Acknowledged")
    lines.append("Evidence:")
    lines.extend(f"  • {evidence_words(e)}" for e in f.evidence)
    return plain_tooltip(header, lines)
