"""Which tiles are shown: filter by host, state group, "problems only", and name search.

:class:`TileFilter` is the criteria as a value (Qt-free logic in ``accepts``);
:class:`TileFilterProxy` is the ``QSortFilterProxyModel`` that applies it. The proxy keeps
the source model's order (problems first) and does not re-filter on every
``dataChanged`` (``dynamicSortFilter`` off: that would call back into Python for every
changed tile on every tick). It re-filters when the criteria change, and when the source
says some tile's state, problem rank or name changed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QSortFilterProxyModel, Signal

from hvconsole.monitoring.rows import RANK_NORMAL, TileRow

from ..qtcompat import refilter
from .tile_model import TileModel


@dataclass(frozen=True, slots=True)
class TileFilter:
    """Empty sets / text mean "no restriction"."""

    hosts: frozenset[str] = frozenset()
    groups: frozenset[str] = frozenset()
    problems_only: bool = False
    text: str = ""

    @property
    def is_empty(self) -> bool:
        return not (self.hosts or self.groups or self.problems_only or self.text.strip())

    def accepts(self, row: TileRow) -> bool:
        if self.problems_only and row.rank >= RANK_NORMAL:
            return False
        if self.hosts and row.host not in self.hosts:
            return False
        if self.groups and row.group not in self.groups:
            return False
        needle = self.text.strip().casefold()
        return not needle or needle in row.name_folded


class TileFilterProxy(QSortFilterProxyModel):
    """Shows the tiles of ``source`` that pass the current :class:`TileFilter`."""

    filter_changed = Signal()

    def __init__(self, source: TileModel, parent: Any = None):
        super().__init__(parent)
        self._source = source
        self._filter = TileFilter()
        self._accept_all = True
        self.setDynamicSortFilter(False)
        self.setSourceModel(source)
        source.filter_inputs_changed.connect(self._source_filter_inputs_changed)

    @property
    def tile_filter(self) -> TileFilter:
        return self._filter

    def set_tile_filter(self, tile_filter: TileFilter) -> None:
        if tile_filter == self._filter:
            return
        def change() -> None:
            self._filter = tile_filter
            self._accept_all = tile_filter.is_empty
        refilter(self, change)
        self.filter_changed.emit()

    def filterAcceptsRow(self, source_row: int,
                         source_parent: QModelIndex | QPersistentModelIndex) -> bool:
        # The proxy asks this of every tile whenever the tiles reorder (its mapping is
        # built anew): with no criteria, no row or filter is looked at (2,000 tiles: ~1 ms).
        if self._accept_all:
            return True
        return self._filter.accepts(self._source.row(source_row))

    def _source_filter_inputs_changed(self) -> None:
        if self._filter.is_empty:
            return  # everything passes whatever changed
        refilter(self)
