"""The tile grid and the filter bar above it.

:class:`TileView` is a ``QListView`` in icon mode with uniform item sizes and batched
layout: the view lays out thousands of equal tiles without asking each one its size,
and the delegate paints only the visible ones. :class:`FilterBar` turns its controls into
a :class:`~hvconsole.ui.monitor.tile_filter.TileFilter`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from PySide6.QtCore import QModelIndex, QRect, QSize, QSortFilterProxyModel, Qt, QTimer, Signal
from PySide6.QtGui import QPainter, QPaintEvent, QPalette, QRegion, QResizeEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListView,
    QWidget,
)

from hvconsole.monitoring.rows import TileRow
from hvconsole.monitoring.vmstate import STATE_GROUPS

from .tile_delegate import TILE_SIZE, VIEW_BACKGROUND, TileDelegate
from .tile_filter import TileFilter
from .tile_model import TileModel, TileRole

ALL_HOSTS = "All hosts"
ALL_STATES = "All states"
# A repaint of more separate areas than this is done in one pass (see TileView.paintEvent).
MAX_PAINT_AREAS = 24
# Text chips made at most per paint (see paint_cache.TextChips.allowance).
CHIPS_PER_PAINT = 8
# Typing in the search box re-filters after a short pause, not on every key.
SEARCH_DELAY_MS = 150


class TileView(QListView):
    """See the module docstring. ``tile_activated`` carries the TileRow the admin
    double-clicked (or pressed Enter on)."""

    tile_activated = Signal(object)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("tileView")
        self.setViewMode(QListView.ViewMode.IconMode)
        self.setUniformItemSizes(True)
        self.setLayoutMode(QListView.LayoutMode.Batched)
        self.setBatchSize(500)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setMovement(QListView.Movement.Static)
        self.setFlow(QListView.Flow.LeftToRight)
        self.setWrapping(True)
        self.setSpacing(3)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.verticalScrollBar().setSingleStep(TILE_SIZE.height() // 3)
        self.setMouseTracking(True)  # hover highlight
        # Always there, so that the width tiles are fitted to does not flip with it.
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOn)
        # The cards are painted opaque on this colour (see paint_cache.CardCache).
        palette = self.palette()
        palette.setColor(QPalette.ColorRole.Base, VIEW_BACKGROUND)
        self.setPalette(palette)
        # The viewport paints all of its area itself (tiles, then the gaps between
        # them): Qt need not fill it first, nor paint what lies behind it.
        self.viewport().setAutoFillBackground(False)
        self.viewport().setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent, True)
        self.tile_delegate = TileDelegate(self, self.font())
        self.setItemDelegate(self.tile_delegate)
        self.activated.connect(self._activated)  # double click, or Enter on the current tile

    def paintEvent(self, event: QPaintEvent) -> None:
        """Paint only the tiles inside the changed areas. ``QListView`` paints every
        tile inside the bounding rectangle of what changed (the painter is clipped to
        the areas themselves, but each tile still costs a call into the delegate and
        possibly a rendering); a tick that changed tiles far apart then repainted the
        whole grid. A tile in two areas is painted twice, harmlessly: tiles are opaque.

        The viewport does not fill its background before painting (see ``__init__``):
        the tiles are opaque and cover most of it, so only what they left uncovered
        (the gaps between them, the space after the last one) is filled afterwards.
        Filling the whole area first, then painting tiles over it, was a tenth of a
        worst-case tick."""
        region = event.region()
        count = region.rectCount()
        delegate = self.tile_delegate
        delegate.row_at = self._row_at()
        delegate.chip_allowance(CHIPS_PER_PAINT)
        if count > MAX_PAINT_AREAS or QApplication.mouseButtons() != Qt.MouseButton.NoButton:
            # In one pass over a filled background (a rubber band being dragged is drawn
            # once, over the tiles and the gaps alike).
            self._fill_background(region)
            try:
                super().paintEvent(event)
            finally:
                delegate.row_at = None
                delegate.chip_allowance(None)
            return
        painted: list[tuple[int, int, int, int]] = []
        delegate.painted = painted
        delegate.view_dpr = self.viewport().devicePixelRatioF()
        try:
            if count < 2:
                super().paintEvent(event)
            else:
                for rect in region:
                    super().paintEvent(QPaintEvent(rect))
        finally:
            delegate.painted = None
            delegate.view_dpr = 0.0
            delegate.row_at = None
            delegate.chip_allowance(None)
        covered = QRegion()
        for x, y, width, height in painted:
            covered += QRect(x, y, width, height)
        self._fill_background(region.subtracted(covered))

    def _row_at(self) -> Callable[[int], TileRow] | None:
        """The tile model's row at a row of this view, when the two are the same rows
        (the model itself, or a filter proxy that hides nothing and does not sort: it
        keeps the model's order); else None and the delegate asks each index."""
        model = self.model()
        if isinstance(model, TileModel):
            return model.row
        if isinstance(model, QSortFilterProxyModel) and model.sortColumn() < 0:
            source = model.sourceModel()
            if isinstance(source, TileModel) and model.rowCount() == source.rowCount():
                return source.row
        return None

    def _fill_background(self, region: QRegion) -> None:
        if region.isEmpty():
            return
        painter = QPainter(self.viewport())
        for rect in region:
            painter.fillRect(rect, VIEW_BACKGROUND)
        painter.end()

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self.fit_tiles()

    def fit_tiles(self) -> None:
        """Widen the tiles so that each row of them fills the view (no ragged right edge)."""
        spacing = self.spacing()
        cell = 2 * spacing
        available = self.viewport().width() - 2
        columns = max(1, available // (TILE_SIZE.width() + cell))
        if self.tile_delegate.set_tile_width(available // columns - cell):
            self.scheduleDelayedItemsLayout()

    def _activated(self, index: QModelIndex) -> None:
        row = index.data(TileRole)
        if row is not None:
            self.tile_activated.emit(row)

    def minimumSizeHint(self) -> QSize:
        return QSize(TILE_SIZE.width() + 24, TILE_SIZE.height() + 8)


class FilterBar(QWidget):
    """Search by name, host, state group, and "problems only"."""

    filter_changed = Signal(object)  # TileFilter

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("filterBar")
        self.search = QLineEdit(self)
        self.search.setPlaceholderText("Search VMs by name")
        self.search.setClearButtonEnabled(True)
        self.search.setMinimumWidth(200)
        self.host = QComboBox(self)
        self.host.addItem(ALL_HOSTS)
        self.host.setMinimumContentsLength(12)
        self.host.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.state = QComboBox(self)
        self.state.addItem(ALL_STATES)
        self.state.addItems(list(STATE_GROUPS))
        self.problems = QCheckBox("Problems only", self)
        self.problems.setToolTip("Show only VMs with a finding, and VMs whose host is not answering")
        self.count = QLabel(self)
        self.count.setObjectName("tileCount")
        self.count.setTextFormat(Qt.TextFormat.PlainText)

        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.search, 3)
        layout.addWidget(self.host, 1)
        layout.addWidget(self.state, 1)
        layout.addWidget(self.problems)
        layout.addStretch(1)
        layout.addWidget(self.count)

        self._search_timer = QTimer(self)
        self._search_timer.setSingleShot(True)
        self._search_timer.setInterval(SEARCH_DELAY_MS)
        self._search_timer.timeout.connect(self._emit)
        self.search.textChanged.connect(lambda _text: self._search_timer.start())
        self.host.currentIndexChanged.connect(self._emit)
        self.state.currentIndexChanged.connect(self._emit)
        self.problems.toggled.connect(self._emit)

    def set_hosts(self, hosts: Iterable[str]) -> None:
        """Offer these hosts in the host box, keeping the current choice if still there."""
        current = self.host.currentText()
        wanted = [ALL_HOSTS, *hosts]
        if [self.host.itemText(i) for i in range(self.host.count())] == wanted:
            return
        self.host.blockSignals(True)
        self.host.clear()
        self.host.addItems(wanted)
        self.host.setCurrentIndex(max(0, self.host.findText(current, Qt.MatchFlag.MatchExactly)))
        self.host.blockSignals(False)

    def select_host(self, host: str | None) -> None:
        self.host.setCurrentIndex(max(0, self.host.findText(host or ALL_HOSTS, Qt.MatchFlag.MatchExactly)))

    def current_filter(self) -> TileFilter:
        host = self.host.currentText()
        state = self.state.currentText()
        return TileFilter(
            hosts=frozenset() if host == ALL_HOSTS or not host else frozenset({host}),
            groups=frozenset() if state == ALL_STATES else frozenset({state}),
            problems_only=self.problems.isChecked(),
            text=self.search.text(),
        )

    def set_count(self, shown: int, total: int) -> None:
        self.count.setText(f"{shown} of {total} VMs" if shown != total else f"{total} VMs")

    def _emit(self) -> None:
        self._search_timer.stop()
        self.filter_changed.emit(self.current_filter())
