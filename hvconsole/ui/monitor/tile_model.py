"""The VM tile model: one row per VM of the whole site, problems first.

``apply()`` takes the finished rows of the hosts polled since the last tick and updates
the model in one batch: unchanged VMs are left alone, changed ones are announced with one
``dataChanged`` per run of adjacent rows, new and vanished VMs are inserted and removed, and
the order (problems first, then by name) is restored with one ``layoutChanged``.

The model keeps its rows in display order itself instead of letting the
``QSortFilterProxyModel`` sort: a proxy sort calls ``data()`` from C++ several times per
changed row, ~18 ms per tick at 2,000 VMs in Python, while here order can only change
when a VM's sort key changed, which is rare and is a plain Python sort.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QAbstractListModel, QModelIndex, QPersistentModelIndex, Qt, Signal

from hvconsole.monitoring.formatting import format_duration, format_mem_pair, format_pct, plain_tooltip
from hvconsole.monitoring.rows import TileRow
from hvconsole.monitoring.vmstate import heartbeat_text

TileRole = int(Qt.ItemDataRole.UserRole) + 1     # the TileRow itself
KeyRole = int(Qt.ItemDataRole.UserRole) + 2      # (host, vm_id)

_DISPLAY = int(Qt.ItemDataRole.DisplayRole)
_TOOLTIP = int(Qt.ItemDataRole.ToolTipRole)
_ACCESSIBLE = int(Qt.ItemDataRole.AccessibleTextRole)
_CHANGED_ROLES = [TileRole, _DISPLAY, _TOOLTIP, _ACCESSIBLE]
# Above this many separate runs of changed rows in one tick, one signal spans them all.
MAX_RUN_SIGNALS = 64


@dataclass(frozen=True, slots=True)
class ApplyStats:
    """What one ``apply`` did (for tests and the benchmark)."""

    changed: int = 0
    inserted: int = 0
    removed: int = 0
    reordered: bool = False


class TileModel(QAbstractListModel):
    """See the module docstring. Rows are :class:`~hvconsole.monitoring.rows.TileRow` objects."""

    # Some row's state group, problem rank or name changed: a filter may now answer
    # differently for it (the proxy does not re-filter on dataChanged by itself).
    filter_inputs_changed = Signal()

    def __init__(self, parent: Any = None):
        super().__init__(parent)
        self._rows: list[TileRow] = []
        self._pos: dict[str, dict[str, int]] = {}   # host -> vm id -> row
        # Counts every change of which VM is at which row (rows added, removed, reordered).
        self.order_version = 0

    # -- Qt interface --------------------------------------------------------------------

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._rows)

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = _DISPLAY) -> Any:
        if not index.isValid():
            return None
        row = self._rows[index.row()]
        if role == TileRole:
            return row
        if role == _DISPLAY:
            return row.vm.name
        if role == _TOOLTIP:
            return tile_tooltip(row)
        if role == _ACCESSIBLE:
            return f"{row.vm.name}, {row.vm.state}, host {row.host}"
        if role == KeyRole:
            return row.key
        return None

    # No flags() here: QAbstractListModel's own answers what this model's did (enabled,
    # selectable, no children; nothing for an invalid index), and the view asks it of
    # every tile it paints, which in Python cost a call back from C++ per tile.

    # -- reading -------------------------------------------------------------------------

    def row(self, position: int) -> TileRow:
        return self._rows[position]

    def rows(self) -> Sequence[TileRow]:
        return tuple(self._rows)

    def position(self, host: str, vm_id: str) -> int | None:
        return self._pos.get(host, {}).get(vm_id)

    def hosts(self) -> list[str]:
        return sorted(h for h, p in self._pos.items() if p)

    # -- updating ------------------------------------------------------------------------

    def apply(self, tiles_by_host: Mapping[str, Sequence[TileRow]]) -> ApplyStats:
        """Replace all tiles of each host in ``tiles_by_host`` (other hosts untouched).

        Written for the GUI thread's budget (2,000 tiles in ~0.4 ms): one pass over each
        host's tiles with identity tests, no per-tile tuple keys or lists of ids."""
        rows = self._rows
        changed: list[int] = []
        order_dirty = filter_dirty = False
        added: list[TileRow] = []
        gone: list[tuple[str, str]] = []
        for host, tiles in tiles_by_host.items():
            host_pos = self._pos.get(host, {})
            position = host_pos.get
            new_before = len(added)
            for tile in tiles:
                i = position(tile.vm_id)
                if i is None:
                    added.append(tile)
                    continue
                old = rows[i]
                # Workers hand back the very same object for an unchanged VM (they compare
                # on their own thread); a new object counts as a change, at worst one
                # needless repaint, never a comparison of every field on this thread.
                if old is tile:
                    continue
                rows[i] = tile
                changed.append(i)
                # Workers share the sort key object while a VM keeps its place (an
                # identity test). Else: the key is (rank, folded name, host, VM id) and a
                # position is the place of this host's VM, so only rank and name can differ.
                if old.sort_key is not tile.sort_key and (
                        old.rank != tile.rank or old.name_folded != tile.name_folded):
                    order_dirty = filter_dirty = True
                elif old.group is not tile.group and old.group != tile.group:
                    filter_dirty = True
            if len(host_pos) != len(tiles) - (len(added) - new_before):
                kept = {t.vm_id for t in tiles}
                gone += [(host, vm_id) for vm_id in host_pos if vm_id not in kept]
        if changed:
            self._announce(changed)
        if gone:
            self._remove(gone)
        if added:
            self._append(added)
            order_dirty = True
        if order_dirty:
            order_dirty = self._restore_order()
        if filter_dirty:
            self.filter_inputs_changed.emit()
        return ApplyStats(changed=len(changed), inserted=len(added), removed=len(gone),
                          reordered=order_dirty)

    def _announce(self, changed: list[int]) -> None:
        """One ``dataChanged`` per run of adjacent changed rows, or one spanning them all
        when there are more than ``MAX_RUN_SIGNALS`` runs. A single span made the view
        repaint every tile between the first and the last changed one: the whole grid
        when a tick brings two hosts whose tiles lie apart."""
        if len(changed) >= len(self._rows):
            # Every tile changed (the worst-case tick): one run over them all, without
            # looking for its ends among 2,000 positions (a position named twice would
            # only make the run cover more than changed, never less).
            runs = [(0, len(self._rows) - 1)]
        else:
            low, high = min(changed), max(changed)
            runs = []
            if high - low + 1 > len(changed):
                start = end = -2
                for i in sorted(changed):
                    if i != end + 1:
                        if end >= 0:
                            runs.append((start, end))
                        start = i
                    end = i
                runs.append((start, end))
            if not runs or len(runs) > MAX_RUN_SIGNALS:
                runs = [(low, high)]
        for first, last in runs:
            self.dataChanged.emit(self.index(first), self.index(last), _CHANGED_ROLES)

    def remove_host(self, host: str) -> None:
        """Forget a host's tiles (host taken out of the inventory)."""
        keys = [(host, vm_id) for vm_id in self._pos.get(host, {})]
        if keys:
            self._remove(keys)

    def _remove(self, keys: list[tuple[str, str]]) -> None:
        positions = sorted((self._pos[h][v] for h, v in keys), reverse=True)
        # Remove contiguous runs from the bottom up so earlier positions stay valid.
        start = end = positions[0]
        for p in [*positions[1:], None]:
            if p is not None and p == start - 1:
                start = p
                continue
            self.beginRemoveRows(QModelIndex(), start, end)
            del self._rows[start:end + 1]
            self.endRemoveRows()
            if p is not None:
                start = end = p
        self._reindex()

    def _append(self, tiles: list[TileRow]) -> None:
        if not self._rows:
            tiles = sorted(tiles, key=_sort_key)  # first fill: insert already in order
        first = len(self._rows)
        self.beginInsertRows(QModelIndex(), first, first + len(tiles) - 1)
        self._rows.extend(tiles)
        for i in range(first, len(self._rows)):
            row = self._rows[i]
            self._pos.setdefault(row.host, {})[row.vm_id] = i
        self.order_version += 1
        self.endInsertRows()

    def _restore_order(self) -> bool:
        """Sort rows by their sort key with one layout change; False if already sorted."""
        order = sorted(range(len(self._rows)), key=lambda i: self._rows[i].sort_key)
        if order == list(range(len(self._rows))):
            return False
        self.layoutAboutToBeChanged.emit()
        persistent = self.persistentIndexList()
        keys = [self._rows[p.row()].key if p.isValid() else None for p in persistent]
        self._rows = [self._rows[i] for i in order]
        self._reindex()
        new_indexes = [self.index(pos) if k is not None and (pos := self.position(*k)) is not None else QModelIndex()
                       for k in keys]
        self.changePersistentIndexList(persistent, new_indexes)
        self.layoutChanged.emit()
        return True

    def _reindex(self) -> None:
        self.order_version += 1
        pos: dict[str, dict[str, int]] = {}
        for i, row in enumerate(self._rows):
            pos.setdefault(row.host, {})[row.vm_id] = i
        self._pos = pos


def _sort_key(row: TileRow) -> tuple:
    return row.sort_key


def tile_tooltip(row: TileRow) -> str:
    """The tile's tooltip: a fixed header, then the VM's facts as plain text."""
    vm = row.vm
    header = "Virtual machine" if row.stale_reason is None else "Virtual machine (last known values)"
    lines = [
        f"Name: {vm.name}",
        f"Host: {row.host}",
        f"State: {vm.state}" + (f" — {row.stale_reason}" if row.stale_reason else ""),
        f"Heartbeat: {heartbeat_text(vm.heartbeat, vm.state)}"
        + (f" ({vm.heartbeat})" if vm.heartbeat else ""),
        f"CPU: {format_pct(vm.cpu_pct)}" + (f" of {vm.vcpus} vCPU" if vm.vcpus else ""),
        f"Memory assigned / demand: {format_mem_pair(vm.memory_assigned_mb, vm.memory_demand_mb)}",
        f"Uptime: {format_duration(vm.uptime_s)}",
    ]
    if vm.health and vm.health != "Ok":
        lines.append(f"Health: {vm.health}")
    if vm.operational_status and vm.operational_status != ("Ok",):
        lines.append("Status: " + ", ".join(vm.operational_status))
    for f in row.findings:
        lines.append(f"{f.severity.capitalize()}: {f.kind}")
        lines.extend(f"  • {e}" for e in f.evidence)
    return plain_tooltip(header, lines)
