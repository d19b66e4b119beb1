"""The tile grid and the filter bar above it.

:class:`TileView` is a ``QListView`` in icon mode with uniform item sizes and batched
layout: the view lays out thousands of equal tiles without asking each one its size,
and the delegate paints only the visible ones. :class:`FilterBar` turns its controls into
a :class:`~hvconsole.ui.monitor.tile_filter.TileFilter`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from PySide6.QtCore import (
    QEvent,
    QModelIndex,
    QPersistentModelIndex,
    QRect,
    QSize,
    QSortFilterProxyModel,
    Qt,
    QTimer,
    Signal,
)
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
        self._hover = QPersistentModelIndex()   # the tile under the mouse (see viewportEvent)
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

        While the view's rows are the tile model's own (see :meth:`_row_at`) and the
        tiles lie on a regular grid, the view finds the tiles in each area itself and
        hands the delegate their rows directly (:meth:`_paint_grid`): ``QListView``'s
        own paint costs a style option, a proxy ``flags()`` (a Python ``rowCount()``
        through the proxy's mapping) and a call into the delegate with three wrapped
        arguments for every tile, a sixth of a worst-case tick.

        The viewport does not fill its background before painting (see ``__init__``):
        the tiles are opaque and cover most of it, so only what they left uncovered
        (the gaps between them, the space after the last one) is filled afterwards.
        Filling the whole area first, then painting tiles over it, was a tenth of a
        worst-case tick."""
        region = event.region()
        count = region.rectCount()
        delegate = self.tile_delegate
        row_at = self._row_at()
        pressed = QApplication.mouseButtons() != Qt.MouseButton.NoButton
        if count <= MAX_PAINT_AREAS and not pressed and row_at is not None:
            grid = self._grid()
            if grid is not None:
                self._paint_grid(region, grid, row_at)
                return
        delegate.row_at = row_at
        delegate.chip_allowance(CHIPS_PER_PAINT)
        if count > MAX_PAINT_AREAS or pressed:
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

    def _grid(self) -> tuple[int, int, int, int, int, int, int, int] | None:
        """Where the tiles are, in viewport coordinates: (x, y of the first tile, the
        step to the next column and to the next line, columns, tiles, tile width and
        height), or None unless ``QListView``'s own layout (asked for four tiles: the
        first, the second, the first of the second line and the last) is that grid,
        e.g. while it is still laying out, or right to left."""
        model = self.model()
        n = model.rowCount() if model is not None else 0
        if n == 0 or self.isRightToLeft():
            return None
        rect = self.visualRect
        first = rect(model.index(0, 0))
        x0, y0, width, height = first.getRect()
        if width <= 0 or height <= 0:
            return None
        step_x, step_y, columns = width, height, 1
        if n > 1:
            second = rect(model.index(1, 0))
            if second.y() == y0:
                step_x = second.x() - x0
                if step_x < width:
                    return None
                columns = max(1, (self.viewport().width() - x0 + step_x - width) // step_x)
            if columns < n:
                below = rect(model.index(columns, 0))
                if below.x() != x0 or below.y() <= y0:
                    return None
                step_y = below.y() - y0
                if step_y < height:
                    return None
        last = n - 1
        expected = QRect(x0 + (last % columns) * step_x, y0 + (last // columns) * step_y, width, height)
        if rect(model.index(last, 0)) != expected:
            return None
        return x0, y0, step_x, step_y, columns, n, width, height

    def _paint_grid(self, region: QRegion, grid: tuple[int, int, int, int, int, int, int, int],
                    row_at: Callable[[int], TileRow]) -> None:
        """The tiles of ``grid`` (see :meth:`_grid`) inside ``region``, each through
        :meth:`.tile_delegate.TileDelegate.paint_row`, then the rest of the region in the
        view's background; the state ``QListView`` would give each tile (selected,
        under the mouse) read once per paint."""
        x0, y0, step_x, step_y, columns, n, width, height = grid
        delegate = self.tile_delegate
        paint_row = delegate.paint_row
        dpr = self.viewport().devicePixelRatioF()
        hover = self._hover.row() if self._hover.isValid() else -1
        selected = self._selected_rows()
        covered = QRegion()
        painter = QPainter(self.viewport())
        delegate.chip_allowance(CHIPS_PER_PAINT)
        try:
            for area in region:
                left, top, area_w, area_h = area.getRect()
                # Lines and columns whose tiles reach into the area (ceil of the first).
                line_first = max(0, -((y0 + height - 1 - top) // step_y))
                line_last = (top + area_h - 1 - y0) // step_y
                col_first = max(0, -((x0 + width - 1 - left) // step_x))
                col_last = min(columns - 1, (left + area_w - 1 - x0) // step_x)
                if line_last < line_first or col_last < col_first:
                    continue
                for line in range(line_first, line_last + 1):
                    y = y0 + line * step_y
                    base = line * columns
                    for row in range(base + col_first, min(n, base + col_last + 1)):
                        x = x0 + (row - base) * step_x
                        paint_row(painter, row_at(row), x, y, width, height, row in selected,
                                  row == hover, dpr)
                        covered += QRect(x, y, width, height)
            self._fill(painter, region.subtracted(covered))
        finally:
            painter.end()
            delegate.chip_allowance(None)

    def _selected_rows(self) -> set[int] | frozenset[int]:
        selection = self.selectionModel()
        if selection is None or not selection.hasSelection():
            return frozenset()
        rows: set[int] = set()
        for span in selection.selection():
            rows.update(range(span.top(), span.bottom() + 1))
        return rows

    def viewportEvent(self, event: QEvent) -> bool:
        # The tile under the mouse, as QAbstractItemView keeps it for its own paint (the
        # same events, the same index): the grid paint above shows it hovered.
        kind = event.type()
        if kind == QEvent.Type.HoverMove or kind == QEvent.Type.HoverEnter:
            self._hover = QPersistentModelIndex(self.indexAt(event.position().toPoint()))  # type: ignore[attr-defined]
        elif kind == QEvent.Type.HoverLeave:
            self._hover = QPersistentModelIndex()
        return super().viewportEvent(event)

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
        self._fill(painter, region)
        painter.end()

    @staticmethod
    def _fill(painter: QPainter, region: QRegion) -> None:
        """``region`` in the view's background: one fill clipped to it (the gaps between
        tiles are dozens of rectangles, a call from Python each)."""
        if region.isEmpty():
            return
        if region.rectCount() == 1:
            painter.fillRect(region.boundingRect(), VIEW_BACKGROUND)
            return
        painter.save()
        painter.setClipRegion(region)
        painter.fillRect(region.boundingRect(), VIEW_BACKGROUND)
        painter.restore()

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
