"""Hyper-V and cluster events from the snapshots: a bounded, newest-first table, and a
filter by level, host and VM.

The collector sends each event once (it passes the newest event time back as a
bookmark), but the bookmark is inclusive, so the event at the boundary may come twice:
events are de-duplicated on their identity. Message text is the host's: shown plain,
first line in the table and whole in the tooltip.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QSortFilterProxyModel, Qt
from PySide6.QtGui import QColor

from hvconsole.core.snapshot import HostEvent
from hvconsole.monitoring.formatting import format_clock, one_line, plain_tooltip

from .. import theme
from ..qtcompat import refilter
from ..table_base import DECORATION, DISPLAY, FOREGROUND, TOOLTIP, LinesTableModel

COLUMNS = ("Time", "Level", "Host", "VM", "Log", "ID", "Message")
COL_TIME, COL_LEVEL, COL_HOST, COL_VM, COL_LOG, COL_ID, COL_MESSAGE = range(len(COLUMNS))
EventRole = int(Qt.ItemDataRole.UserRole) + 1

LEVEL_COLOURS = {"Critical": "#b71c1c", "Error": "#c62828", "Warning": "#9a6700"}
LEVEL_ICONS = {"Critical": "critical", "Error": "critical", "Warning": "warning", "Information": "info"}



@dataclass(frozen=True, slots=True)
class EventLine:
    host: str
    event: HostEvent
    vm_name: str | None

    @property
    def identity(self) -> tuple:
        e = self.event
        return (self.host, e.time, e.log, e.id, e.vm_id, e.message)


def short_log(log: str) -> str:
    for prefix in ("Microsoft-Windows-Hyper-V-", "Microsoft-Windows-"):
        if log.startswith(prefix):
            return log[len(prefix):]
    return log


class EventsModel(LinesTableModel[EventLine]):
    """Newest first, at most ``limit`` lines."""

    columns = COLUMNS

    def __init__(self, limit: int = 5000, parent: Any = None):
        super().__init__(parent)
        self._limit = limit
        self._seen: set[tuple] = set()
        self._seen_order: deque[tuple] = deque()

    def _line_data(self, line: EventLine, col: int, role: int) -> Any:
        e = line.event
        if role == DISPLAY:
            if col == COL_TIME:
                return format_clock(e.time)
            if col == COL_LEVEL:
                return e.level
            if col == COL_HOST:
                return line.host
            if col == COL_VM:
                return line.vm_name or (e.vm_id or "")
            if col == COL_LOG:
                return short_log(e.log)
            if col == COL_ID:
                return str(e.id)
            if col == COL_MESSAGE:
                return one_line(e.message)
            return None
        if role == EventRole:
            return line
        if role == TOOLTIP:
            return event_tooltip(line)
        if role == FOREGROUND and col in (COL_LEVEL, COL_MESSAGE) and e.level in LEVEL_COLOURS:
            return QColor(LEVEL_COLOURS[e.level])
        if role == DECORATION and col == COL_LEVEL:
            return theme.icon(LEVEL_ICONS.get(e.level, "info"))
        return None

    def add(self, host: str, events: Iterable[HostEvent],
            vm_name: Callable[[str], str | None] = lambda vm_id: None) -> int:
        """Add a host's new events; returns how many were new."""
        fresh = []
        for e in events:
            line = EventLine(host, e, vm_name(e.vm_id) if e.vm_id else None)
            key = line.identity
            if key in self._seen:
                continue
            self._remember(key)
            fresh.append(line)
        if not fresh:
            return 0
        fresh.sort(key=lambda line: line.event.time, reverse=True)
        if not self._lines or fresh[-1].event.time >= self._lines[0].event.time:
            self.beginInsertRows(QModelIndex(), 0, len(fresh) - 1)
            self._lines[0:0] = fresh
            self.endInsertRows()
        else:
            # An older event arrived late (a host's clock, a slow host): re-sort all.
            self.beginResetModel()
            self._lines = sorted(self._lines + fresh, key=lambda line: line.event.time, reverse=True)
            self.endResetModel()
        if len(self._lines) > self._limit:
            self.beginRemoveRows(QModelIndex(), self._limit, len(self._lines) - 1)
            del self._lines[self._limit:]
            self.endRemoveRows()
        return len(fresh)

    def _remember(self, key: tuple) -> None:
        self._seen.add(key)
        self._seen_order.append(key)
        if len(self._seen_order) > 4 * self._limit:
            self._seen.discard(self._seen_order.popleft())

    def hosts(self) -> list[str]:
        return sorted({line.host for line in self._lines})


def event_tooltip(line: EventLine) -> str:
    e = line.event
    lines = [f"Host: {line.host}", f"Log: {e.log}", f"Event ID: {e.id}   Level: {e.level}"]
    if e.provider:
        lines.append(f"Provider: {e.provider}")
    if e.vm_id:
        lines.append(f"VM: {line.vm_name or '?'} ({e.vm_id})")
    lines.append(f"Time: {format_clock(e.time)}")
    if e.message:
        lines.append("")
        lines.extend(e.message.splitlines())
    return plain_tooltip("Event", lines)


# Level filter choices: label -> accepted levels (empty = all).
LEVEL_CHOICES: dict[str, frozenset[str]] = {
    "All levels": frozenset(),
    "Critical and errors": frozenset({"Critical", "Error"}),
    "Warnings and worse": frozenset({"Critical", "Error", "Warning"}),
    "Information": frozenset({"Information", "Verbose"}),
}


class EventsFilterProxy(QSortFilterProxyModel):
    """Filter by level set, host and VM (name or id, substring, case-insensitive)."""

    def __init__(self, source: EventsModel, parent: Any = None):
        super().__init__(parent)
        self._source = source
        self._levels: frozenset[str] = frozenset()
        self._host = ""
        self._vm = ""
        self.setDynamicSortFilter(False)
        self.setSourceModel(source)

    def set_criteria(self, levels: frozenset[str] | None = None, host: str | None = None,
                     vm: str | None = None) -> None:
        def change() -> None:
            if levels is not None:
                self._levels = levels
            if host is not None:
                self._host = host
            if vm is not None:
                self._vm = vm.strip().casefold()
        refilter(self, change)

    def filterAcceptsRow(self, source_row: int, source_parent: QModelIndex | QPersistentModelIndex) -> bool:
        line = self._source.line(source_row)
        if self._levels and line.event.level not in self._levels:
            return False
        if self._host and line.host != self._host:
            return False
        if self._vm:
            names = ((line.vm_name or "") + " " + (line.event.vm_id or "")).casefold()
            return self._vm in names
        return True
