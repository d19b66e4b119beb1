"""The tile grid.

:class:`TileView` is a ``QListView`` in icon mode with uniform item sizes and batched
layout: the view lays out thousands of equal tiles without asking each one its size,
and the delegate paints only the visible ones. While no filter hides a tile, the view
paints that grid itself (which tiles an area holds is arithmetic on the grid, and the
delegate gets all of a paint's tiles at once); ``QListView``'s per-item paint is kept for
the rest. The filter bar above it is :mod:`.filter_bar`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Sequence
from typing import cast

from PySide6.QtCore import (
    QAbstractItemModel,
    QEvent,
    QItemSelectionRange,
    QModelIndex,
    QPersistentModelIndex,
    QRect,
    QSize,
    QSortFilterProxyModel,
    Qt,
    Signal,
)
from PySide6.QtGui import (
    QAccessible,
    QCursor,
    QHideEvent,
    QHoverEvent,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QPalette,
    QPen,
    QRegion,
    QResizeEvent,
    QShowEvent,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QListView,
    QWidget,
)

from hvconsole.monitoring.rows import TileRow

from .tile_delegate import (
    FOCUS_RING,
    LIVE_TOP,
    TILE_SIZE,
    UPTIME_TOP,
    VIEW_BACKGROUND,
    PlacedTile,
    TileDelegate,
    same_base,
)
from .tile_model import TileModel, TileRole

# The tiles' grid in viewport coordinates (see TileView._grid).
Grid = tuple[int, int, int, int, int, int, int, int]

# A repaint of more separate areas than this is done in one pass when QListView paints it
# (see TileView.paintEvent); the grid paint takes any number.
MAX_PAINT_AREAS = 24
# Text chips made at most per paint (see paint_cache.TextChips.allowance).
CHIPS_PER_PAINT = 8


class TileView(QListView):
    """See the module docstring. ``tile_activated`` carries the TileRow the admin
    double-clicked (or pressed Enter on)."""

    tile_activated = Signal(object)
    # The tiles on screen may now be others: the view was resized, shown or hidden (a
    # scroll says so through the scroll bar, a new set of tiles through the model).
    tiles_moved = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self._hover = QPersistentModelIndex()   # the tile under the mouse (see viewportEvent)
        self._known_grid: tuple[tuple, Grid] | None = None   # see _grid
        self._grid_region: tuple[Grid, QRegion] | None = None  # see _tiles_region
        self._live_parts: tuple[Grid, QRegion] | None = None   # see _live_region
        # The row last painted at each view row by the grid paint, and the grid's key then:
        # what the window shows there, for dataChanged to tell a tile whose base stays
        # (only its live part is repainted) from one whose base changed.
        self._shown: dict[int, TileRow] = {}
        self._shown_key: tuple | None = None
        self._live_asked = QRect()      # where live parts wait to be painted (see _order_changed)
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
        # Solid: a dashed line's phase depends on how much of it the view clipped, so a
        # ring repainted after a scroll did not match the part of it scrolled into place.
        self._focus_pen = QPen(FOCUS_RING, 0)
        self.tile_delegate = TileDelegate(self, self.font())
        self.setItemDelegate(self.tile_delegate)
        self.activated.connect(self._activated)  # double click, or Enter on the current tile
        self.verticalScrollBar().valueChanged.connect(self._hover_after_scroll)
        self.horizontalScrollBar().valueChanged.connect(self._hover_after_scroll)

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
        if not pressed and row_at is not None:
            grid = self._grid()
            if grid is not None:
                self._paint_grid(region, grid, row_at)
                return
        # Painted tile by tile by QListView: what the window shows is no longer what the
        # grid paint last painted (see dataChanged).
        self._shown.clear()
        self._live_asked = QRect()
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
            self._focus_over(region)
            return
        painted: list[tuple[int, int, int, int]] = []
        delegate.painted = painted
        delegate.view_dpr = self.viewport().devicePixelRatioF()
        try:
            if count < 2:
                super().paintEvent(event)
            else:
                for rect in cast("Iterable[QRect]", region):   # PySide6 iterates a QRegion; its stub does not say so
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
        self._focus_over(region)

    def _focus_over(self, region: QRegion) -> None:
        if self.hasFocus():
            painter = QPainter(self.viewport())
            self._paint_focus(painter, region)
            painter.end()

    def _paint_focus(self, painter: QPainter, region: QRegion) -> None:
        """A ring just outside the current tile's card while the view has the
        keyboard focus. The delegate draws no focus frame, and Ctrl+arrows move the
        current tile without selecting it (Space then selects it): without a ring the
        admin could not see where the keyboard is. Qt repaints the tiles the current
        index leaves and enters, and the current one when the focus comes and goes."""
        if not self.hasFocus():
            return
        current = self.currentIndex()
        if not current.isValid():
            return
        rect = self.visualRect(current)
        if not region.intersects(rect):
            return
        painter.save()
        painter.setClipRegion(region)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        painter.setPen(self._focus_pen)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        # In the tile's margin, outside its card, a pixel clear of its edge: at a fractional
        # ratio a line on the edge could fall on a device row the tile's own repaint does
        # not cover, and stay behind when the current tile moves.
        painter.drawRect(rect.adjusted(1, 1, -2, -2))
        painter.restore()

    def _grid_key(self) -> tuple:
        """What the grid's geometry follows from (the layout of equal tiles in rows is a
        function of these): the model and its row count, the viewport's size and scroll
        offsets, the tiles' size, the direction."""
        model = self.model()
        viewport = self.viewport()
        size = self.tile_delegate.tile_size
        return (model, model.rowCount() if model is not None else 0, viewport.width(), viewport.height(),
                self.horizontalOffset(), self.verticalOffset(), size.width(), size.height(),
                self.isRightToLeft())

    def _grid(self) -> Grid | None:
        """Where the tiles are, in viewport coordinates: (x, y of the first tile, the
        step to the next column and to the next line, columns, tiles, tile width and
        height), or None unless ``QListView``'s own layout (asked for four tiles: the
        first, the second, the first of the second line and the last) is that grid,
        e.g. while it is still laying out, or right to left. A grid found is kept
        until its key (:meth:`_grid_key`) changes."""
        key = self._grid_key()
        known = self._known_grid
        if known is not None and known[0] == key:
            return known[1]
        grid = self._find_grid(key[0], key[1], key[8])
        self._known_grid = None if grid is None else (key, grid)
        return grid

    def _find_grid(self, model: QAbstractItemModel | None, n: int, right_to_left: bool) -> Grid | None:
        if model is None or n == 0 or right_to_left:
            return None
        rect = self.visualRect
        first = rect(model.index(0, 0))
        x0, y0, width, height = cast("tuple[int, int, int, int]", first.getRect())   # its stub says object
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

    def _paint_grid(self, region: QRegion, grid: Grid,
                    row_at: Callable[[int], TileRow]) -> None:
        """The tiles of ``grid`` (see :meth:`_grid`) inside ``region``, each through
        :meth:`.tile_delegate.TileDelegate.paint_rows`, then the rest of the region in the
        view's background; the state ``QListView`` would give each tile (selected,
        under the mouse) read once per paint. The delegate learns which of a tile's rows
        the region reaches (a tick asks for live parts alone, see :meth:`dataChanged`);
        the rows painted are remembered (``_shown``) for the next ``dataChanged``."""
        x0, y0, step_x, step_y, columns, n, width, height = grid
        delegate = self.tile_delegate
        dpr = self.viewport().devicePixelRatioF()
        hover = self._hover.row() if self._hover.isValid() else -1
        selected = self._selected_rows()
        tiles: list[PlacedTile] = []
        placed: dict[int, int] = {}      # a tile in two areas is painted once (see paint_rows)
        self._live_asked = QRect()
        known = self._known_grid
        if known is not None and known[0] != self._shown_key:
            self._shown.clear()
            self._shown_key = known[0]
        shown = self._shown
        for area in cast("Iterable[QRect]", region):      # as in paintEvent
            left, top, area_w, area_h = cast("tuple[int, int, int, int]", area.getRect())
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
                # The rows of this line's tiles the area reaches (tile-local).
                part_top, part_bottom = max(0, top - y), min(height, top + area_h - y)
                for row in range(base + col_first, min(n, base + col_last + 1)):
                    at = placed.get(row)
                    if at is not None:
                        placed_tile = tiles[at]
                        if part_top < placed_tile[7] or part_bottom > placed_tile[8]:    # reached by two areas
                            tiles[at] = (*placed_tile[:7], min(part_top, placed_tile[7]),
                                         max(part_bottom, placed_tile[8]))
                        continue
                    placed[row] = len(tiles)
                    x = x0 + (row - base) * step_x
                    shown[row] = tile = row_at(row)
                    tiles.append((tile, x, y, width, height, row in selected, row == hover, part_top, part_bottom))
        painter = QPainter(self.viewport())
        delegate.chip_allowance(CHIPS_PER_PAINT)
        try:
            delegate.paint_rows(painter, tiles, dpr)
            # Every tile reaching into the region was painted whole: the rest is background.
            self._fill(painter, region.subtracted(self._tiles_region(grid)))
            self._paint_focus(painter, region)
        finally:
            painter.end()
            delegate.chip_allowance(None)

    def _tiles_region(self, grid: Grid) -> QRegion:
        """The area the tiles of ``grid`` cover inside the viewport (kept with the grid:
        one region per scroll position, not one union per painted tile)."""
        known = self._grid_region
        if known is not None and known[0] is grid:
            return known[1]
        region = self._band_of_each_tile(grid, 0, grid[7])
        self._grid_region = (grid, region)
        return region

    def _band_of_each_tile(self, grid: Grid, top: int, height: int) -> QRegion:
        """The rows ``top`` to ``top + height`` of every tile of ``grid`` on screen."""
        x0, y0, step_x, step_y, columns, n, width, tile_height = grid
        region = QRegion()
        line = max(0, -((y0 + tile_height - 1) // step_y))
        bottom = self.viewport().height()
        while line * columns < n and y0 + line * step_y < bottom:
            y = y0 + line * step_y + top
            for column in range(min(columns, n - line * columns)):
                region += QRect(x0 + column * step_x, y, width, height)
            line += 1
        return region

    def dataChanged(self, top_left: QModelIndex | QPersistentModelIndex,
                    bottom_right: QModelIndex | QPersistentModelIndex, roles: Sequence[int] = ()) -> None:
        """Repaint where the changed tiles are. ``QListView`` visits every tile of the
        range for that (a tick's run is up to all 2,000 tiles: each one's index through
        the proxy, its rectangle, in icon mode its size again; ~0.2 ms a tick), while on
        the grid the last paint found (see :meth:`_grid`) the tiles of rows ``first`` to
        ``last`` lie in known lines: the same area, worked out at once. With a single
        tile, no grid known for the view as it is now, or accessibility active (Qt tells
        it what changed), ``QListView`` does it.

        Where the grid paint last painted the visible tiles of the run (and nothing moved
        since), only the live part of each tile whose base stays the same is repainted
        (see :meth:`_live_update`)."""
        first, last = top_left.row(), bottom_right.row()
        known = self._known_grid
        if last <= first or known is None or QAccessible.isActive() or known[0] != self._grid_key():
            super().dataChanged(top_left, bottom_right, roles)
            return
        x0, y0, step_x, step_y, columns, n, width, height = known[1]
        last = min(last, n - 1)
        line_first, line_last = first // columns, last // columns
        if line_first == line_last:
            left, right = first % columns, last % columns
        else:
            left, right = 0, min(columns, n) - 1
        area = QRect(x0 + left * step_x, y0 + line_first * step_y,
                     (right - left) * step_x + width, (line_last - line_first) * step_y + height)
        viewport = self.viewport()
        area = area.intersected(viewport.rect())
        if area.isEmpty():
            return
        if self._shown and self._shown_key == known[0] and self._live_update(first, last, known[1], area):
            return
        viewport.update(area)

    def _live_update(self, first: int, last: int, grid: Grid, area: QRect) -> bool:
        """Repaint the visible tiles of rows ``first`` to ``last`` (inside ``area``): the
        live part (from :data:`.tile_delegate.LIVE_TOP` down to
        :data:`.tile_delegate.UPTIME_TOP`, or to the bottom when the uptime line changes:
        :meth:`.tile_delegate.TileDelegate.live_bottom`) of each whose base is the one the
        window shows (:func:`.tile_delegate.same_base` against the row the grid paint last
        painted there), the whole of the others. A changed tile's base is cold in the
        memory caches by the time the tick paints it, and copying it was the largest part
        of the tile's paint (the view's backing store is as cold: each row written costs):
        what is on screen outside the live part is left as it is. Any tile's live part
        may be repainted (``area`` may hold tiles beside the run): a base that changed
        since a tile's last paint has its whole tile in the pending update. False
        (nothing done) at a fractional pixel ratio (a part's top would fall between
        device pixels), with a font whose CPU line reaches above the live part
        (:meth:`.tile_delegate.TileDelegate.live_part_holds`), or unless the rows are
        the tile model's own."""
        viewport = self.viewport()
        dpr = viewport.devicePixelRatioF()
        row_at = self._row_at()
        if dpr != int(dpr) or row_at is None:
            return False
        x0, y0, step_x, step_y, columns, _n, width, height = grid
        if not self.tile_delegate.live_part_holds(width, height, dpr):
            return False
        shown = self._shown
        region = self._live_region(grid).intersected(area)
        # The lines of the run that are on screen (ceil of the first, as in _paint_grid).
        line_first = max(first // columns, -((y0 + height - 1) // step_y))
        line_last = min(last // columns, (viewport.height() - 1 - y0) // step_y)
        live_bottom = self.tile_delegate.live_bottom
        for line in range(line_first, line_last + 1):
            base = line * columns
            for row in range(max(first, base), min(last, base + columns - 1) + 1):
                old = shown.get(row)
                new = row_at(row)
                if old is None or not same_base(old, new):
                    region += QRect(x0 + (row - base) * step_x, y0 + line * step_y, width, height)
                elif live_bottom(old, new, width, height, dpr) > UPTIME_TOP:
                    region += QRect(x0 + (row - base) * step_x, y0 + line * step_y + UPTIME_TOP,
                                    width, height - UPTIME_TOP)
        if not region.isEmpty():
            viewport.update(region)
            self._live_asked = self._live_asked.united(region.boundingRect())
        return True

    def _live_region(self, grid: Grid) -> QRegion:
        """The live parts down to the uptime line (see :meth:`_live_update`) of the tiles
        of ``grid`` on screen (kept with the grid, as :meth:`_tiles_region`)."""
        known = self._live_parts
        if known is not None and known[0] is grid:
            return known[1]
        region = self._band_of_each_tile(grid, LIVE_TOP, UPTIME_TOP - LIVE_TOP)
        self._live_parts = (grid, region)
        return region

    def doItemsLayout(self) -> None:
        # Tiles may move (a new order, rows added or removed): QListView repaints the
        # viewport after a layout, and the rows painted before tell nothing then.
        self._shown.clear()
        super().doItemsLayout()

    def setModel(self, model: QAbstractItemModel | None) -> None:
        old = self.model()
        if old is not None:
            with contextlib.suppress(RuntimeError, TypeError):    # not connected, or already gone
                old.layoutChanged.disconnect(self._order_changed)
                old.rowsRemoved.disconnect(self._rows_removed)
        self._shown.clear()
        super().setModel(model)
        if model is not None:
            model.layoutChanged.connect(self._order_changed)
            model.rowsRemoved.connect(self._rows_removed)

    def _rows_removed(self, _parent: QModelIndex, first: int, _last: int) -> None:
        """Tiles were removed (VMs gone): every tile after them moves forward, and
        QListView lays the grid out (and repaints it) only a turn later. A tick announces
        its changed rows before it removes the gone ones (see :meth:`_order_changed`): a
        paint in between put the live parts asked for at the old places under other
        VMs' tops, and showed the gone VM where the next one now is. The places from the
        first removed one down are repainted whole instead, and nothing is remembered.
        The live parts asked for stay known: a new order may follow in the same tick
        (:meth:`_order_changed` repaints their lines whole)."""
        self._shown.clear()
        viewport = self.viewport()
        known = self._known_grid
        # The grid's places stay where they were (the same tiles' size and scroll), but
        # for the row count: the key without it.
        if known is None or known[0][2:] != self._grid_key()[2:] or known[0][0] is not self.model():
            viewport.update()
            return
        _x0, y0, _step_x, step_y, columns = known[1][:5]
        top = max(0, y0 + (first // columns) * step_y)
        if top < viewport.height():
            viewport.update(QRect(0, top, viewport.width(), viewport.height() - top))

    def _order_changed(self) -> None:
        """The rows moved (the model announced a new order): QListView lays the grid out
        again a turn later and repaints the viewport then. A tick announces its changed
        rows before their new order, and the live parts it asked for (see
        :meth:`_live_update`) were worked out at the old places: a paint before that
        layout would put one tile's live part under another's top. The lines of tiles
        those parts are in are repainted whole instead (what the grid paint did before
        live parts), and nothing is remembered of what was painted."""
        self._shown.clear()
        asked = self._live_asked
        if not asked.isEmpty():
            self._live_asked = QRect()
            # From the first line's tops to the last line's bottoms: its parts may end at
            # the uptime line, and the VM moving into a place has its own uptime line.
            self.viewport().update(asked.adjusted(0, -LIVE_TOP, 0, self.tile_delegate.tile_size.height() - UPTIME_TOP))

    def _selected_rows(self) -> set[int] | frozenset[int]:
        selection = self.selectionModel()
        if selection is None or not selection.hasSelection():
            return frozenset()
        rows: set[int] = set()
        for span in cast("Iterable[QItemSelectionRange]", selection.selection()):   # iterable, as a QRegion
            rows.update(range(span.top(), span.bottom() + 1))
        return rows

    def viewportEvent(self, event: QEvent) -> bool:
        # The tile under the mouse, as QAbstractItemView keeps it for its own paint: the
        # grid paint shows it hovered. Qt sets its index from every mouse move (see
        # mouseMoveEvent; hover events come only with WA_Hover, which the style does not
        # set here), after a scroll (see _hover_after_scroll), and clears it when the
        # mouse leaves the viewport.
        kind = event.type()
        if kind == QEvent.Type.HoverMove or kind == QEvent.Type.HoverEnter:
            # PySide6 hands the QHoverEvent itself; the stub of viewportEvent says QEvent.
            self._hover = QPersistentModelIndex(self.indexAt(cast(QHoverEvent, event).position().toPoint()))
        elif kind == QEvent.Type.HoverLeave or kind == QEvent.Type.Leave:
            self._hover = QPersistentModelIndex()
        return super().viewportEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        self._hover = QPersistentModelIndex(self.indexAt(event.position().toPoint()))
        super().mouseMoveEvent(event)

    def _hover_after_scroll(self, _value: int) -> None:
        """A scroll under a still mouse brings another tile under it: Qt takes that one as
        hovered when the cursor is inside the viewport (connected after Qt's own slot)."""
        viewport = self.viewport()
        at = viewport.mapFromGlobal(QCursor.pos())
        if viewport.rect().contains(at):
            self._hover = QPersistentModelIndex(self.indexAt(at))

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
        self.tiles_moved.emit()

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self.tiles_moved.emit()

    def hideEvent(self, event: QHideEvent) -> None:
        super().hideEvent(event)
        self.tiles_moved.emit()

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
