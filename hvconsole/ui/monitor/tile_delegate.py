"""Paints one VM tile: state stripe, name, host and state, CPU with a sparkline, memory
(assigned and demand, each named), heartbeat, uptime, and the freeze badge.

Text is drawn as plain text (a VM called ``<b>x</b>`` is shown as typed). The badge's
tooltip is the finding's evidence; elsewhere on the tile the model's tooltip applies.
A tick may repaint every visible tile, so painting is built for speed (see
:mod:`.paint_cache`): each tile is rendered once per immutable row object and look
(size, selected/hovered, device pixel ratio) into an opaque pixmap, and a repaint of an
unchanged row is one blit. Rendering a changed row copies the cached pixmap of its
slow-changing parts (card, badge, name, host and state, vCPUs) and draws only the live
figures (CPU, memory, heartbeat, uptime, sparkline) on it, with cached ``QStaticText``.
Layouts are computed once per tile size.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import cast

from PySide6.QtCore import QEvent, QModelIndex, QObject, QPersistentModelIndex, QPoint, QRect, QRectF, QSize
from PySide6.QtGui import QColor, QFont, QHelpEvent, QPainter, QPen, QPixmap, QTransform
from PySide6.QtWidgets import QAbstractItemView, QStyle, QStyledItemDelegate, QStyleOptionViewItem, QToolTip

from hvconsole.monitoring.formatting import mem_tile_variants, plain_tooltip
from hvconsole.monitoring.last_known import LAST_KNOWN_WORDS
from hvconsole.monitoring.rows import TileRow
from hvconsole.monitoring.vmstate import SEVERITY_TINT

from .. import theme
from .paint_cache import BadgeCache, CardCache, PixmapLru, RenderedTiles, TextCache, TextChips
from .sparkline import PolygonPool, paint_sparkline, paint_sparklines, unit_transform
from .tile_model import TileRole

TILE_SIZE = QSize(244, 104)       # the narrowest a tile gets; the view widens it to fill rows
TILE_MAX_WIDTH = 330
STRIPE_W = 6
PAD = 8
BADGE_TEXT = {"critical": "FROZEN", "warning": "SUSPECT"}
# How a tile's edge looks: selection, then a finding's colour, then hover, then plain.
EDGE_SELECTED, EDGE_SEVERITY, EDGE_HOVER, EDGE_PLAIN = "selected", "severity", "hover", "plain"
# Memory for cached tiles: whole tiles by row object, and their slow-changing parts by
# value. ~124 KB a tile at 1× (300 × 104 px): each budget holds ~200 tiles at 1×, ~50 at
# 2×, several screens' worth; beyond that the least recently shown are rendered again.
TILE_CACHE_BYTES = 24 * 2**20
BASE_CACHE_BYTES = 24 * 2**20
CHIP_CACHE_BYTES = 8 * 2**20   # live text lines: ~4-15 KB each at 1×
MEMORY_LINES_KEPT = 4096   # memory wordings remembered by (full wording, room)
SPARK_PLACES_KEPT = 1024   # sparkline transforms remembered by tile size and place
LINES_CHECKED_KEPT = 8192  # live lines checked against the uptime line's band (see live_bottom)

_TEXT = QColor("#202124")
_MUTED = QColor("#5f6368")
_FAINT = QColor("#9aa0a6")
_BORDER = QColor("#d5d9de")
_HOVER = QColor("#8fb4e8")
_SELECT = QColor("#1e6fd9")
_BAD = QColor("#c62828")
_WHITE = QColor("#ffffff")
_STALE_BG = QColor("#eceef1")
_SPARK_LINE = QColor("#2f6db5")
_SPARK_FILL = QColor("#dce7f5")   # opaque on purpose: a translucent fill costs 25× more
VIEW_BACKGROUND = QColor("#e9ebef")  # the tile view's background, behind the cards' corners
FOCUS_RING = QColor("#1e6fd9")       # the current tile's ring (drawn by the view, in the tile's margin)
_SELECTED_BIT = QStyle.StateFlag.State_Selected.value
_HOVERED_BIT = QStyle.StateFlag.State_MouseOver.value


# Where a tile's live part starts, tile-local (the CPU line's band is at 47, the sparkline's
# area at 48; a margin of two pixels): everything that changes from poll to poll without
# the tile's base (see TileDelegate._base) changing is drawn below it. Above it are the
# card's top, the badge, the name, the host and the state: a tile whose base did not change
# is repainted from here down only (see TileView.dataChanged).
LIVE_TOP = 45
# Where the uptime line's band starts, tile-local (TileDelegate._live_layout): a tick that
# leaves a tile's uptime as it was repaints its live part down to here only (see
# TileDelegate.live_bottom).
UPTIME_TOP = 86

# A tile to paint: row, x, y, width, height, selected, hovered, and the tile-local rows of
# the part to paint, top and bottom (0 and height: all of it; see TileDelegate.paint_rows).
PlacedTile = tuple[TileRow, int, int, int, int, bool, bool, int, int]


@dataclass(frozen=True, slots=True)
class TileLayout:
    """Where things go inside one tile, in tile-local coordinates."""

    frame: QRect
    badge: QRect
    left: int
    right: int
    top: int
    name_width: int
    spark: QRectF
    spark_area: QRectF   # where the line may go: inside the frame, above the base line


@dataclass(frozen=True, slots=True)
class LiveLayout:
    """Where the live figures go, per tile size: text tops per line (for
    :meth:`.paint_cache.TextCache.put`) and the sparkline's unit-square transform."""

    left: int
    right: int
    text_width: int
    cpu_y: float
    memory_y: float
    uptime_y: float
    spark: QTransform
    # Where each line's chip may go (left, top, right, bottom; see TextChips): inside the
    # card's border and stripe, each line in its own band, the CPU's clear of the sparkline.
    cpu_band: tuple[int, int, int, int]
    memory_band: tuple[int, int, int, int]
    uptime_band: tuple[int, int, int, int]


def tile_layout(size: QSize, badge_size: QSize | None) -> TileLayout:
    frame = QRect(2, 2, size.width() - 5, size.height() - 5)
    left = frame.left() + STRIPE_W + PAD
    right = frame.right() - PAD
    top = frame.top() + 6
    badge = QRect() if badge_size is None else QRect(right - badge_size.width() + 1, top,
                                                     badge_size.width(), badge_size.height())
    name_width = right - left - (badge.width() + 6 if badge_size is not None else 0)
    spark = QRectF(left + 78, top + 40, right - left - 78, 19)
    return TileLayout(frame=frame, badge=badge, left=left, right=right, top=top,
                      name_width=name_width, spark=spark, spark_area=spark.adjusted(0, 1, 0, -1))


class TileDelegate(QStyledItemDelegate):
    """See the module docstring."""

    def __init__(self, parent: QObject | None = None, base_font: QFont | None = None):
        super().__init__(parent)
        base = QFont(base_font) if base_font is not None else QFont()
        self._text = TextCache(theme.sized(base, 0.0))
        self._name = TextCache(theme.bold(base, 1.0))
        self._small = TextCache(theme.sized(base, -0.5))
        self._badges = BadgeCache(theme.bold(base, -1.5))
        self._cards = CardCache(STRIPE_W, VIEW_BACKGROUND)
        self._bases: PixmapLru[tuple] = PixmapLru(BASE_CACHE_BYTES)    # by what a base shows (see _base)
        self._rendered = RenderedTiles(TILE_CACHE_BYTES)
        self._chips = TextChips(CHIP_CACHE_BYTES)
        self._backgrounds: dict[tuple[str | None, bool], QColor] = {}
        self._layouts: dict[tuple, TileLayout] = {}
        self._live: dict[tuple[int, int, float], LiveLayout] = {}
        self._memory: dict[tuple[str, int], str] = {}
        self._clear_of_uptime: dict[tuple, bool] = {}
        self._spark_places: dict[tuple[int, int, float, float], QTransform] = {}
        self._polygons = PolygonPool()
        self._state_inks: dict[str, QColor] = {}
        line = QPen(_SPARK_LINE, 0)  # cosmetic 1 px: a wider pen costs ten times more
        self._spark_pen = line
        self._stale_pen = QPen(_FAINT, 0)
        self._size = QSize(TILE_SIZE)
        # Set by the view while it paints: where each tile went (every tile covers its
        # whole rectangle, so the view fills only the rest with its background).
        self.painted: list[tuple[int, int, int, int]] | None = None
        # Also set by the view while it paints: its device pixel ratio (asking the
        # painter's device costs two calls per tile), and the row at a view row when
        # the view's rows are the tile model's own (asking the index for its data goes
        # through the filter proxy into the model, two calls back into Python a tile).
        self.view_dpr = 0.0
        self.row_at: Callable[[int], TileRow] | None = None

    # -- size ----------------------------------------------------------------------------

    @property
    def tile_size(self) -> QSize:
        return QSize(self._size)

    def set_tile_width(self, width: int) -> bool:
        """Widen (or narrow) every tile; True if the size changed (the view relays out)."""
        width = max(TILE_SIZE.width(), min(TILE_MAX_WIDTH, width))
        if width == self._size.width():
            return False
        self._size = QSize(width, TILE_SIZE.height())
        return True

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex) -> QSize:
        return self._size

    def layout(self, size: QSize, badge_text: str | None) -> TileLayout:
        key = (size.width(), size.height(), badge_text)
        lay = self._layouts.get(key)
        if lay is None:
            lay = tile_layout(size, None if badge_text is None else self._badges.size(badge_text))
            self._layouts[key] = lay
        return lay

    # -- painting ------------------------------------------------------------------------

    def chip_allowance(self, count: int | None) -> None:
        """At most ``count`` text chips made until the next call (None: no limit)."""
        self._chips.allowance = count

    def paint(self, painter: QPainter, option: QStyleOptionViewItem,
              index: QModelIndex | QPersistentModelIndex) -> None:
        row_at = self.row_at
        row: TileRow | None = index.data(TileRole) if row_at is None else row_at(index.row())
        if row is None:
            return
        x, y, width, height = cast("tuple[int, int, int, int]", option.rect.getRect())    # its stub says object
        if self.painted is not None:
            self.painted.append((x, y, width, height))
        state = option.state.value    # an int: Python's flag operators cost a call each
        # In its own painter state: the next tile's texts are drawn as on a fresh painter.
        painter.save()
        self.paint_rows(painter, [(row, x, y, width, height, bool(state & _SELECTED_BIT),
                                   bool(state & _HOVERED_BIT), 0, height)],
                        self.view_dpr or painter.device().devicePixelRatioF())
        painter.restore()

    def paint_rows(self, painter: QPainter, tiles: Sequence[PlacedTile], dpr: float) -> None:
        """Tiles (row, x, y, width, height, selected, hovered, top, bottom) that do not overlap,
        as :meth:`paint` paints each: a row shown before is one blit; a row seen for the
        first time is drawn straight onto the view (most rows are shown once and replaced
        by the next poll's), its sparkline after every tile's texts, all of them in one
        pass (:func:`.sparkline.paint_sparklines`: the painter's pen, brush and
        anti-aliasing set once for all instead of for each tile; tiles apart, so the same
        pixels). Leaves the painter's pen, brush, font and hints changed, its transform
        as it found it.

        ``top`` and ``bottom`` are the tile-local rows the painter's clip lets through (0
        and the tile's height: all of it; the view asks for the live part alone, from
        :data:`LIVE_TOP` down, where what lies above is on screen already and the same).
        At a whole pixel ratio only those rows of the tile's cached base are copied (a
        base is cold in the memory caches by the time a tick paints it: its copy was the
        largest part of a changed tile's paint); the texts and the sparkline are drawn as
        for the whole tile, and the clip keeps what lies outside. The same pixels there."""
        cache = self._rendered
        sparks: list[tuple[QTransform, tuple, QPen, QColor | None]] = []
        fractional = dpr != int(dpr)
        ratio = int(dpr)
        if fractional:
            # Where the painter's origin is on the device (a child widget's is wherever the
            # widget sits in its window): whole device pixels are counted from there.
            device = painter.deviceTransform()
            origin_x, origin_y = device.dx(), device.dy()
        for row, x, y, width, height, selected, hovered, top, bottom in tiles:
            part = not fractional and (top > 0 or bottom < height)
            if selected:
                edge = EDGE_SELECTED
            elif row.findings:
                edge = EDGE_SEVERITY      # the severity's border wins over the hover's
            elif hovered:
                edge = EDGE_HOVER
            else:
                edge = EDGE_PLAIN
            look = (width, height, edge, dpr)
            found = cache.lookup(row, look)
            if found is True:
                # Painted a second time (another tick repainting the view, a hover nearby):
                # worth one pixmap, blitted from now on.
                found = self.render_tile(row, QSize(width, height), edge, dpr)
                cache.put(row, look, found)
            if found is not False:
                if part:
                    painter.drawPixmap(x, y + top, found, 0, top * ratio, width * ratio, (bottom - top) * ratio)
                else:
                    painter.drawPixmap(x, y, found)
            else:
                base = self._base(row, width, height, edge, dpr)
                if part:
                    painter.drawPixmap(x, y + top, base, 0, top * ratio, width * ratio, (bottom - top) * ratio)
                else:
                    painter.drawPixmap(x, y, base)
                # At a fractional ratio the base lands on the device pixel its place rounds
                # to, while what is drawn straight goes exactly where it is put: drawn at
                # the rounded place too, the tile looks as its cached pixmap will (at 1.5×
                # its text lines moved a device pixel when it was next painted from cache).
                # No chips are made at such a ratio (see TextChips), so none is blitted there.
                if fractional:
                    at_x, at_y = on_device_pixel(x, dpr, origin_x), on_device_pixel(y, dpr, origin_y)
                else:
                    at_x, at_y = x, y
                live = self._draw_lines(painter, row, width, height, edge, dpr, at_x, at_y)
                if row.spark:
                    stale = row.stale_reason is not None
                    sparks.append((self._spark_at(live, width, height, at_x, at_y), row.spark,
                                   self._stale_pen if stale else self._spark_pen, None if stale else _SPARK_FILL))
        if sparks:
            placed = painter.worldTransform()
            if not placed.isIdentity():
                sparks = [(transform * placed, spark, pen, fill) for transform, spark, pen, fill in sparks]
            paint_sparklines(painter, sparks, self._polygons)
            painter.setWorldTransform(placed)

    def live_part_holds(self, width: int, height: int, dpr: float) -> bool:
        """Whether everything a poll changes on a tile of this size lies below
        :data:`LIVE_TOP`: the CPU line is centred in its band, and the admin's font decides
        how tall it is (from ~17 pt its top comes above LIVE_TOP, and a live part alone
        left the top of the old figures on screen). The line's top (its ascent) bounds the
        ink of every CPU text (letters, digits and signs); the lines below it are far
        from LIVE_TOP, the sparkline's place is fixed."""
        live = self._live.get((width, height, dpr))
        if live is None:
            live = self._live_layout(width, height, dpr)
        return live.cpu_y >= LIVE_TOP

    def live_bottom(self, old: TileRow, new: TileRow, width: int, height: int, dpr: float) -> int:
        """Where the part of a tile to repaint for ``new`` ends (tile-local, exclusive)
        when it showed ``old`` with the same base (see :func:`same_base`): at
        :data:`UPTIME_TOP` when the uptime line stays as it was and the ink of the lines
        above it, the old ones and the new, ends above it (so that the uptime line's band
        is the same pixels before and after); else at the tile's bottom."""
        texts, had = new.texts, old.texts
        if texts.uptime != had.uptime:
            return height
        clear = self._clear_of_uptime
        new_key = (width, texts.cpu, texts.memory, texts.heartbeat)
        old_key = (width, had.cpu, had.memory, had.heartbeat)
        new_clear = clear.get(new_key)
        if new_clear is None:
            new_clear = self._lines_clear_of_uptime(new, width, height, dpr, new_key)
        old_clear = clear.get(old_key)
        if old_clear is None:
            old_clear = self._lines_clear_of_uptime(old, width, height, dpr, old_key)
        return UPTIME_TOP if new_clear and old_clear else height

    def _lines_clear_of_uptime(self, row: TileRow, width: int, height: int, dpr: float, key: tuple) -> bool:
        """Whether the ink of ``row``'s CPU and memory lines ends above the uptime line's
        band (the extent TextChips checks a line's band with: two pixels of margin);
        remembered by ``key`` (the tile's width and the lines' texts: the memory wording
        shown is chosen by the room the width leaves)."""
        live = self._live.get((width, height, dpr))
        if live is None:
            live = self._live_layout(width, height, dpr)
        small = self._small
        texts = row.texts
        heartbeat = texts.heartbeat
        memory = self._memory_line(row, live.text_width - small.advance(heartbeat) - 8)
        memory_limit = UPTIME_TOP - 2 - live.memory_y
        clear = (small.ink_bottom(memory) <= memory_limit and small.ink_bottom(heartbeat) <= memory_limit
                 and self._text.ink_bottom(texts.cpu) <= UPTIME_TOP - 2 - live.cpu_y)
        if len(self._clear_of_uptime) >= LINES_CHECKED_KEPT:
            self._clear_of_uptime.clear()
        self._clear_of_uptime[key] = clear
        return clear

    def _spark_at(self, live: LiveLayout, width: int, height: int, x: float, y: float) -> QTransform:
        """The sparkline's transform of a tile at ``x``, ``y``: what translating the
        painter there and combining :attr:`LiveLayout.spark` with it makes (the same
        product), kept per place: the grid puts tiles at the same few places."""
        key = (width, height, x, y)
        transform = self._spark_places.get(key)
        if transform is None:
            if len(self._spark_places) >= SPARK_PLACES_KEPT:
                self._spark_places.clear()
            transform = self._spark_places[key] = live.spark * QTransform.fromTranslate(x, y)
        return transform

    def render_tile(self, row: TileRow, size: QSize, edge: str, dpr: float) -> QPixmap:
        """The whole tile as one opaque pixmap: the cached parts that rarely change (see
        :meth:`_base`), then the live figures drawn on a copy of them."""
        width, height = size.width(), size.height()
        pixmap = self._base(row, width, height, edge, dpr).copy()
        pixmap.setDevicePixelRatio(dpr)
        painter = QPainter(pixmap)
        self._draw_live(painter, row, width, height, edge, dpr)
        painter.end()
        return pixmap

    def _draw_live(self, painter: QPainter, row: TileRow, width: int, height: int, edge: str,
                   dpr: float) -> None:
        """CPU, memory, heartbeat, uptime and the sparkline: what changes with every poll
        (see :meth:`_draw_lines`). Leaves the painter's state changed (see
        :func:`.sparkline.paint_sparkline`): the callers restore or end it."""
        live = self._draw_lines(painter, row, width, height, edge, dpr)
        stale = row.stale_reason is not None
        paint_sparkline(painter, live.spark, row.spark, self._stale_pen if stale else self._spark_pen,
                        None if stale else _SPARK_FILL)

    def _draw_lines(self, painter: QPainter, row: TileRow, width: int, height: int, edge: str,
                    dpr: float, x: float = 0, y: float = 0) -> LiveLayout:
        """The live text lines of a tile at ``x``, ``y``. Each line is a chip when it has
        been seen before (see :class:`.paint_cache.TextChips`), else drawn directly (the
        painter translated there and back: whole pixels, the transform comes back
        exact). Returns the tile size's live layout."""
        live = self._live.get((width, height, dpr))
        if live is None:
            live = self._live_layout(width, height, dpr)
        texts = row.texts
        severity = row.severity
        stale = row.stale_reason is not None
        chips = self._chips
        look = (width, height, edge, dpr, severity, stale)
        heartbeat = texts.heartbeat
        heart_w = self._small.advance(heartbeat)
        memory = self._memory_line(row, live.text_width - heart_w - 8)
        uptime = texts.uptime
        for key in ((look, texts.cpu), (look, memory, heartbeat, texts.heartbeat_bad),
                    (look, uptime, texts.vcpus)):
            chip = chips.get(key)
            if chip is None:
                chip = chips.make(key, *self._line(live, key, stale), self._base(row, width, height, edge, dpr), dpr)
            if chip is False:
                if x or y:
                    painter.translate(x, y)
                    self._draw_line(painter, live, key, stale)
                    painter.translate(-x, -y)
                else:
                    self._draw_line(painter, live, key, stale)
            else:
                # x and y are whole here: chips are made only at a whole pixel ratio (TextChips),
                # where tiles sit on whole positions; only a fractional one passes fractions.
                painter.drawPixmap(x + chip[0], y + chip[1], chip[2])  # type: ignore[call-overload]
        return live

    def _line(self, live: LiveLayout, key: tuple, stale: bool
              ) -> tuple[list[tuple[TextCache, QColor, float, str, bool]], float, tuple[int, int, int, int]]:
        """The parts, top and band of the line ``key`` (one of the three
        :meth:`_draw_live` makes), for :meth:`.paint_cache.TextChips.make`."""
        ink = _MUTED if stale else _TEXT
        small = self._small
        if len(key) == 2:
            return [(self._text, ink, live.left, key[1], False)], live.cpu_y, live.cpu_band
        if len(key) == 4:
            _, memory, heartbeat, bad = key
            return ([(small, _BAD if bad else ink, live.right, heartbeat, True),
                     (small, ink, live.left, memory, False)], live.memory_y, live.memory_band)
        return [(small, _MUTED, live.left, key[1], False)], live.uptime_y, live.uptime_band

    def _draw_line(self, painter: QPainter, live: LiveLayout, key: tuple, stale: bool) -> None:
        """The line ``key`` of :meth:`_draw_live` drawn directly on the tile: the same
        parts a chip of it is made of (:meth:`_line`)."""
        parts, top, _band = self._line(live, key, stale)
        for cache, ink, x, text, right_aligned in parts:
            painter.setFont(cache.font)
            painter.setPen(ink)
            if right_aligned:
                cache.put_right(painter, x, top, text)
            else:
                cache.put(painter, x, top, text)

    def _background(self, severity: str | None, stale: bool) -> QColor:
        """The card's colour (as :meth:`_base` paints it)."""
        colour = self._backgrounds.get((severity, stale))
        if colour is None:
            if severity:
                colour = theme.colour(SEVERITY_TINT.get(severity, "#ffffff"))
            else:
                colour = _STALE_BG if stale else _WHITE
            self._backgrounds[(severity, stale)] = colour
        return colour

    def _live_layout(self, width: int, height: int, dpr: float) -> LiveLayout:
        lay = self.layout(QSize(width, height), None)
        small = self._small
        frame, top = lay.frame, lay.top
        # Clear of the state stripe and the card's right border; the uptime line's
        # descenders reach the bottom border, which its chip copies from the base.
        left, right = frame.left() + STRIPE_W + 4, frame.right() - 4
        cpu_y, memory_y = self._text.line_top(top + 39, 20), small.line_top(top + 62, 16)
        uptime_y = small.line_top(UPTIME_TOP, 16)
        if dpr != int(dpr):
            # A text's first draw (drawText) and its later ones (a static text) round a
            # top between device pixels differently (at 1.5× a line moved a pixel when its
            # text was drawn again): the tops put on whole device pixels (the tile is).
            cpu_y, memory_y, uptime_y = (on_device_pixel(v, dpr) for v in (cpu_y, memory_y, uptime_y))
        live = LiveLayout(left=lay.left, right=lay.right, text_width=int(lay.right - lay.left),
                          cpu_y=cpu_y, memory_y=memory_y, uptime_y=uptime_y,
                          spark=unit_transform(lay.spark_area),
                          cpu_band=(left, top + 39, int(lay.spark.left()) - 1, top + 59),
                          memory_band=(left, top + 62, right, UPTIME_TOP),
                          uptime_band=(left, UPTIME_TOP, right, height))
        self._live[(width, height, dpr)] = live
        return live

    def _memory_line(self, row: TileRow, room: int) -> str:
        """The longest memory wording that fits in ``room`` (cut if none does). Measuring
        the wordings shapes each text, so the choice is remembered by the full wording
        (which decides the shorter ones) and the room: the figures on a tile move in steps
        of 0.1 GB, so the same few wordings come back poll after poll."""
        key = (row.texts.memory, room)
        memory = self._memory.get(key)
        if memory is None:
            small = self._small
            wordings = mem_tile_variants(row.vm.memory_assigned_mb, row.vm.memory_demand_mb)
            fits = next((w for w in wordings if small.metrics.horizontalAdvance(w) <= room), wordings[-1])
            if len(self._memory) >= MEMORY_LINES_KEPT:
                self._memory.clear()
            memory = self._memory[key] = small.elided(fits, room)
        return memory

    def _base(self, row: TileRow, width: int, height: int, edge: str, dpr: float) -> QPixmap:
        """Card, badge, name, host and state, vCPUs and the sparkline's base line: the
        parts that change only with the VM's state, findings or the tile's look, cached
        by those values (so a new row object with a new CPU figure reuses them)."""
        # The row's look is everything the base shows of it (see same_base).
        key = (width, height, edge, dpr, row.look)
        pixmap = self._bases.get(key)
        if pixmap is not None:
            return pixmap
        vm = row.vm
        severity = row.severity
        stale = row.stale_reason is not None
        texts = row.texts
        size = QSize(width, height)
        badge_text = BADGE_TEXT.get(severity, "PROBLEM") if severity else None
        lay = self.layout(size, badge_text)
        state_colour = theme.state_qcolour(vm.state)
        if edge == EDGE_SELECTED:
            border, border_w = _SELECT, 2.0
        elif edge == EDGE_SEVERITY:
            border, border_w = theme.severity_qcolour(severity), (2.0 if severity == "critical" else 1.5)
        elif edge == EDGE_HOVER:
            border, border_w = _HOVER, 1.5
        else:
            border, border_w = _BORDER, 1.0
        background = self._background(severity, stale)

        pixmap = QPixmap(size * dpr)
        pixmap.setDevicePixelRatio(dpr)
        pixmap.fill(VIEW_BACKGROUND)   # opaque: a blit is a copy, not a blend
        painter = QPainter(pixmap)
        painter.drawPixmap(lay.frame.topLeft(), self._cards.get(
            lay.frame.size(), background, border, border_w, state_colour, stale, dpr))
        if badge_text:
            painter.drawPixmap(lay.badge.topLeft(), self._badges.get(
                badge_text, theme.severity_qcolour(severity), _WHITE if severity == "critical" else _TEXT,
                background, dpr))
        left, right, top = lay.left, lay.right, lay.top
        name, small = self._name, self._small
        painter.setPen(_MUTED if stale else _TEXT)
        painter.setFont(name.font)
        name.draw(painter, left, top, 18, name.elided(vm.name, lay.name_width))
        painter.setFont(small.font)
        painter.setPen(_MUTED)
        host_w = small.draw(painter, left, top + 19, 16, row.host + " · ")
        if texts.vcpus:
            small.draw(painter, right, top + 78, 16, texts.vcpus, right_aligned=True)
        # A host that stopped answering is news (red); the last known state shown while the
        # console starts is not, and is only dimmed (texts.status, in the key, tells them apart).
        if stale:
            painter.setPen(_MUTED if (row.stale_reason or "").startswith(LAST_KNOWN_WORDS) else _BAD)
        else:
            painter.setPen(self._state_ink(vm.state, state_colour))
        small.draw(painter, left + host_w, top + 19, 16, small.elided(texts.status, int(right - left - host_w)))
        spark = lay.spark
        painter.setPen(_BORDER)
        painter.drawLine(int(spark.left()), int(spark.bottom()), int(spark.right()), int(spark.bottom()))
        painter.end()
        self._bases.put(key, pixmap)
        return pixmap

    def _state_ink(self, state: str, colour: QColor) -> QColor:
        """The state's colour, a shade darker so that it reads as text on white."""
        ink = self._state_inks.get(state)
        if ink is None:
            ink = self._state_inks[state] = colour.darker(115)
        return ink

    # -- tooltips ------------------------------------------------------------------------

    def badge_rect(self, rect: QRect, row: TileRow) -> QRect:
        """Where the badge of ``row`` is drawn in a tile at ``rect`` (empty if none)."""
        if not row.severity:
            return QRect()
        return self.layout(rect.size(), BADGE_TEXT.get(row.severity, "PROBLEM")).badge.translated(rect.topLeft())

    def tooltip_at(self, rect: QRect, row: TileRow, pos: QPoint) -> str | None:
        """The badge's evidence tooltip if ``pos`` is on the badge of a tile at ``rect``."""
        if row.findings and self.badge_rect(rect, row).contains(pos):
            return badge_tooltip(row)
        return None

    def helpEvent(self, event: QHelpEvent, view: QAbstractItemView, option: QStyleOptionViewItem,
                  index: QModelIndex | QPersistentModelIndex) -> bool:
        if event is not None and event.type() == QEvent.Type.ToolTip and index.isValid():
            row: TileRow | None = index.data(TileRole)
            text = None if row is None else self.tooltip_at(option.rect, row, event.pos())
            if text is not None:
                QToolTip.showText(event.globalPos(), text, view)
                return True
        return super().helpEvent(event, view, option, index)


def same_base(old: TileRow, new: TileRow) -> bool:
    """Whether the tiles of two rows have the same base at the same look (what
    :meth:`TileDelegate._base` keys it by from the row: its ``look``, see
    :func:`hvconsole.monitoring.rows.tile_look`; the edge a finding gives is the
    severity's), so that only the live part of a tile that showed ``old`` needs painting
    for ``new``. A worker hands on the poll before's ``look`` while it is equal: an
    identity test, without reading the rows' texts (cold in the memory caches by the
    time a tick is applied)."""
    return old.look is new.look or old.look == new.look


def on_device_pixel(position: float, dpr: float, origin: float = 0.0) -> float:
    """Where a pixmap blitted at ``position`` (logical) lands at ratio ``dpr`` on a device
    whose logical 0 is at device ``origin``: Qt rounds its device position to a whole
    pixel (half up); back in logical units."""
    return (math.floor(position * dpr + origin + 0.5) - origin) / dpr


def badge_tooltip(row: TileRow) -> str:
    """The evidence behind a tile's badge, as plain text."""
    worst = row.findings[0]
    header = f"{worst.severity.capitalize()} finding: {worst.kind}"
    lines = [f"VM {row.vm.name} on {row.host}"]
    for f in row.findings:
        since = f" since {f.first_seen.astimezone():%H:%M:%S}" if f.first_seen else ""
        lines.append(f"{f.severity.capitalize()} · {f.kind}{since}")
        lines.extend(f"  • {e}" for e in f.evidence)
    return plain_tooltip(header, lines)
