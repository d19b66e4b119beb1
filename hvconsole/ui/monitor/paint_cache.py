"""Caches that make painting thousands of tiles cheap: laid-out text, pre-rendered tile
cards, and whole rendered tiles.

Measured on the offscreen raster engine (benchmarks/ui.py): ``drawText`` costs ~9 µs per
call (the text is laid out every time), ``drawStaticText`` ~3 µs; an anti-aliased rounded
card with a border costs 20–140 µs to rasterise, blitting it as a pixmap ~2 µs. Tile
texts repeat (names, states, "CPU 41 %"), and cards come in a handful of looks, so both
are cached. Caches are bounded and simply start over when full.

A whole tile is cached too (:class:`RenderedTiles`): one opaque pixmap per immutable row
object and look, so that a repaint of a tile whose row did not change is one blit
(~10 µs instead of ~200 µs of drawing). The tile's parts that rarely change (card,
badge, name, host and state, vCPUs) are cached separately by their values
(:class:`PixmapLru`), so a tile whose CPU figure changed only redraws its live figures.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Hashable
from typing import Any, Generic, Literal, TypeVar

from PySide6.QtCore import QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QBrush, QColor, QFont, QFontMetrics, QPainter, QPen, QPixmap, QStaticText


class TextCache:
    """``QStaticText`` objects for one font, keyed by their text.

    Preparing a ``QStaticText`` costs ~30 µs, three times a plain ``drawText``; it pays
    back only for a text drawn again ("CPU 41 %", names, states). A text is therefore
    drawn plainly the first time it is seen and cached from its second time on (figures
    such as "Mem 8.0 GB · demand 5.3 GB" often change with every poll)."""

    def __init__(self, font: QFont, limit: int = 6000):
        self.font = QFont(font)
        self.metrics = QFontMetrics(self.font)
        self.height = self.metrics.height()
        self.ascent = self.metrics.ascent()
        self._texts: dict[str, QStaticText] = {}
        self._seen: set[str] = set()
        self._widths: dict[str, int] = {}
        self._ink: dict[str, int] = {}
        self._elided: dict[tuple[str, int], str] = {}
        self._points: dict[tuple[float, float], QPointF] = {}
        self._limit = limit

    def get(self, text: str) -> QStaticText:
        st = self._texts.get(text)
        if st is None:
            if len(self._texts) >= self._limit:
                self._texts.clear()
            st = QStaticText(text)
            st.setTextFormat(Qt.TextFormat.PlainText)  # host data is never markup
            st.prepare(font=self.font)
            self._texts[text] = st
        return st

    def elided(self, text: str, width: int) -> str:
        key = (text, width)
        out = self._elided.get(key)
        if out is None:
            if self.metrics.horizontalAdvance(text) <= width:
                return text   # fits: nothing to remember
            if len(self._elided) >= self._limit:
                self._elided.clear()
            out = self.metrics.elidedText(text, Qt.TextElideMode.ElideRight, width)
            self._elided[key] = out
        return out

    def width(self, text: str) -> float:
        return self.get(text).size().width()

    def advance(self, text: str) -> int:
        """The text's advance width (remembered: measuring shapes the text)."""
        w = self._widths.get(text)
        if w is None:
            if len(self._widths) >= self._limit:
                self._widths.clear()
            w = self._widths[text] = self.metrics.horizontalAdvance(text)
        return w

    def ink_bottom(self, text: str) -> int:
        """How far below its top (the ``y`` of :meth:`put`) a text's ink reaches: the
        glyphs' own extent under the baseline, fallback fonts' glyphs included (what
        :class:`TextChips` checks a line's band with). Remembered: measuring shapes the text."""
        bottom = self._ink.get(text)
        if bottom is None:
            if len(self._ink) >= self._limit:
                self._ink.clear()
            bottom = self._ink[text] = self.ascent + self.metrics.boundingRect(text).bottom()
        return bottom

    def line_top(self, top: float, line_height: float) -> float:
        """Where a text vertically centred in a line starting at ``top`` has its top (the
        ``y`` that :meth:`put` and :meth:`put_right` take)."""
        return top + (line_height - self.height) / 2

    def _first_sight(self, text: str) -> bool:
        """True the first time ``text`` is drawn (drawn plainly then: preparing a static
        text costs three plain draws, and most texts are shown once)."""
        if text in self._seen:
            return False
        if len(self._seen) >= self._limit:
            self._seen.clear()
        self._seen.add(text)
        return True

    def put(self, painter: QPainter, x: float, y: float, text: str) -> None:
        """:meth:`draw` for a left-aligned text whose width nobody needs, at the top ``y``
        of :meth:`line_top`: the same pixels, without measuring a text seen for the first
        time (measuring shapes it again) and with the position's ``QPointF`` made once."""
        st = self._texts.get(text)
        if st is None:
            if self._first_sight(text):
                painter.drawText(QPointF(x, y + self.ascent), text)
                return
            st = self.get(text)
        painter.drawStaticText(self._point(x, y), st)

    def put_right(self, painter: QPainter, right: float, y: float, text: str) -> int:
        """:meth:`draw` right-aligned at ``right``, at the top ``y`` of :meth:`line_top`;
        returns the text's width."""
        w = self._widths.get(text)
        if w is None:
            if len(self._widths) >= self._limit:
                self._widths.clear()
            w = self._widths[text] = self.metrics.horizontalAdvance(text)
        st = self._texts.get(text)
        if st is None:
            if self._first_sight(text):
                painter.drawText(QPointF(right - w, y + self.ascent), text)
                return w
            st = self.get(text)
        painter.drawStaticText(self._point(right - w, y), st)
        return w

    def _point(self, x: float, y: float) -> QPointF:
        # A tile's texts sit at a handful of places: a QPointF costs as much as a lookup.
        key = (x, y)
        point = self._points.get(key)
        if point is None:
            if len(self._points) >= self._limit:
                self._points.clear()
            point = self._points[key] = QPointF(x, y)
        return point

    def draw(self, painter: QPainter, x: float, top: float, line_height: float, text: str,
             right_aligned: bool = False) -> float:
        """Draw ``text`` vertically centred in a line starting at ``top``; with
        ``right_aligned`` ``x`` is the right edge. Returns the text's width.

        Both ways of drawing place the text by the font's advance width, so a text lands
        on the same pixels whether it was drawn plainly or from its static text."""
        st = self._texts.get(text)
        y = top + (line_height - self.height) / 2
        if st is None:
            if self._first_sight(text):
                advance = self.metrics.horizontalAdvance(text)
                # drawText takes the baseline; a static text its top. Always plain text.
                painter.drawText(QPointF(x - advance if right_aligned else x, y + self.ascent), text)
                return advance
            st = self.get(text)
        w = self._widths.get(text)
        if w is None:
            if len(self._widths) >= self._limit:
                self._widths.clear()
            w = self._widths[text] = self.metrics.horizontalAdvance(text)
        painter.drawStaticText(QPointF(x - w if right_aligned else x, y), st)
        return w


class CardCache:
    """Pre-rendered tile backgrounds: rounded card, border, and the state stripe.

    Cards are opaque: the corners are painted in the view's background colour. Blitting a
    pixmap with an alpha channel onto a window costs ~100× more than an opaque one
    (per-pixel blending instead of a copy)."""

    def __init__(self, stripe_width: int, surround: QColor, limit: int = 256):
        self._stripe_width = stripe_width
        self._surround = QColor(surround)
        self._cards: dict[tuple, QPixmap] = {}
        self._limit = limit

    def get(self, size: QSize, background: QColor, border: QColor, border_width: float,
            stripe: QColor, hatched: bool, dpr: float) -> QPixmap:
        key = (size.width(), size.height(), background.rgba(), border.rgba(), border_width,
               stripe.rgba(), hatched, dpr)
        pixmap = self._cards.get(key)
        if pixmap is None:
            if len(self._cards) >= self._limit:
                self._cards.clear()
            pixmap = self._render(size, background, border, border_width, stripe, hatched, dpr)
            self._cards[key] = pixmap
        return pixmap

    def _render(self, size: QSize, background: QColor, border: QColor, border_width: float,
                stripe: QColor, hatched: bool, dpr: float) -> QPixmap:
        pixmap = QPixmap(size * dpr)
        pixmap.setDevicePixelRatio(dpr)
        pixmap.fill(self._surround)
        p = QPainter(pixmap)
        p.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        inset = border_width / 2
        frame = QRectF(inset, inset, size.width() - border_width, size.height() - border_width)
        p.setPen(QPen(border, border_width))
        p.setBrush(background)
        p.drawRoundedRect(frame, 5, 5)
        bar = QRectF(frame.left() + inset + 0.5, frame.top() + inset + 0.5, self._stripe_width,
                     frame.height() - border_width - 1)
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(QBrush(stripe, Qt.BrushStyle.BDiagPattern if hatched else Qt.BrushStyle.SolidPattern))
        p.drawRoundedRect(bar, 3, 3)
        p.end()
        return pixmap


class BadgeCache:
    """Pre-rendered severity badges ("FROZEN" on red, ...), opaque on the card's colour."""

    def __init__(self, font: QFont):
        self.font = QFont(font)
        self.metrics = QFontMetrics(self.font)
        self._badges: dict[tuple, QPixmap] = {}

    def size(self, text: str) -> QSize:
        return QSize(self.metrics.horizontalAdvance(text) + 14, 18)

    def get(self, text: str, fill: QColor, ink: QColor, surround: QColor, dpr: float) -> QPixmap:
        key = (text, fill.rgba(), ink.rgba(), surround.rgba(), dpr)
        pixmap = self._badges.get(key)
        if pixmap is None:
            size = self.size(text)
            pixmap = QPixmap(size * dpr)
            pixmap.setDevicePixelRatio(dpr)
            pixmap.fill(surround)
            p = QPainter(pixmap)
            p.setRenderHint(QPainter.RenderHint.Antialiasing, True)
            p.setPen(Qt.PenStyle.NoPen)
            p.setBrush(fill)
            p.drawRoundedRect(QRectF(0, 0, size.width(), size.height()), 9, 9)
            p.setFont(self.font)
            p.setPen(ink)
            p.drawText(QRectF(0, 0, size.width(), size.height()), Qt.AlignmentFlag.AlignCenter, text)
            p.end()
            self._badges[key] = pixmap
        return pixmap


def pixmap_bytes(pixmap: QPixmap) -> int:
    return pixmap.width() * pixmap.height() * 4


KeyT = TypeVar("KeyT", bound=Hashable)


class PixmapLru(Generic[KeyT]):
    """Pixmaps by value key, bounded by memory: the least recently used go first."""

    def __init__(self, budget_bytes: int):
        self.budget_bytes = budget_bytes
        self._items: OrderedDict[KeyT, QPixmap] = OrderedDict()
        self._bytes = 0

    def __len__(self) -> int:
        return len(self._items)

    @property
    def nbytes(self) -> int:
        return self._bytes

    def get(self, key: KeyT) -> QPixmap | None:
        pixmap = self._items.get(key)
        if pixmap is not None:
            self._items.move_to_end(key)
        return pixmap

    def put(self, key: KeyT, pixmap: QPixmap) -> None:
        old = self._items.pop(key, None)
        if old is not None:
            self._bytes -= pixmap_bytes(old)
        self._items[key] = pixmap
        self._bytes += pixmap_bytes(pixmap)
        while self._bytes > self.budget_bytes and len(self._items) > 1:
            _, dropped = self._items.popitem(last=False)
            self._bytes -= pixmap_bytes(dropped)

    def clear(self) -> None:
        self._items.clear()
        self._bytes = 0


# A text chip: where it goes in the tile (x, y) and its pixels (see TextChips).
Chip = tuple[int, int, QPixmap]

# Rows remembered as painted once (a few screens' worth; the memo starts over when full).
SEEN_LIMIT = 4096


class RenderedTiles:
    """Rendered tiles keyed by the identity of their row object plus their look (size,
    selected/hovered, device pixel ratio), bounded by memory.

    Rows are immutable and a worker hands back the very same object for an unchanged VM,
    so identity is the whole test: a new row object is a miss, whatever changed. The
    entry keeps its row alive, so that an ``id`` cannot be reused while it is cached."""

    def __init__(self, budget_bytes: int):
        self._lru: PixmapLru[tuple[int, tuple]] = PixmapLru(budget_bytes)     # (id of the row, look)
        self._rows: dict[int, Any] = {}
        self._seen: dict[tuple, Any] = {}   # (id, look) -> row, painted once so far
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._lru)

    @property
    def nbytes(self) -> int:
        return self._lru.nbytes

    def get(self, row: Any, look: tuple) -> QPixmap | None:
        key = (id(row), look)
        pixmap = self._lru.get(key)
        if pixmap is None or self._rows.get(id(row)) is not row:
            self.misses += 1
            return None
        self.hits += 1
        return pixmap

    def lookup(self, row: Any, look: tuple) -> QPixmap | bool:
        """:meth:`get` and :meth:`seen_before` in one call (a tile's paint makes both):
        the cached pixmap, else True if the row was painted with this look before (and
        is worth rendering now), else False (and remembered as painted once)."""
        key = (id(row), look)
        pixmap = self._lru.get(key)
        if pixmap is not None and self._rows.get(id(row)) is row:
            self.hits += 1
            return pixmap
        self.misses += 1
        return self.seen_before(row, look)

    def seen_before(self, row: Any, look: tuple) -> bool:
        """True if this row was painted with this look before (and not cached then);
        otherwise remembers that it has been now."""
        key = (id(row), look)
        if self._seen.get(key) is row:
            return True
        if len(self._seen) >= SEEN_LIMIT:
            self._seen.clear()
        self._seen[key] = row
        return False

    def put(self, row: Any, look: tuple, pixmap: QPixmap) -> None:
        if len(self._rows) > 4 * max(16, len(self._lru)):
            # Forget rows whose pixmaps the LRU has dropped (ids are only reused once
            # the row is gone, and ours is still referenced here).
            live = {key[0] for key in self._lru._items}
            self._rows = {i: r for i, r in self._rows.items() if i in live}
        self._rows[id(row)] = row
        self._lru.put((id(row), look), pixmap)

    def clear(self) -> None:
        self._lru.clear()
        self._rows.clear()
        self._seen.clear()


class TextChips:
    """A tile's live text lines as opaque pre-rendered pixmaps ("chips"), keyed by what
    decides their pixels (texts, inks, the card's colour, tile size, pixel ratio).

    Drawing a line's texts costs a font and a pen change and a text draw each (~3 µs for
    a static text, ~9 µs for a plain one, plus the calls from Python); blitting an opaque
    chip is one call. Figures repeat across tiles and polls ("CPU 0 %", "Mem 8.0 GB ·
    demand 5.3 GB", "♥ OK"), so a chip is made on a line's second sight (most lines seen
    once are never seen again) and blitted from then on.

    A chip is a copy of the tile's cached base (:class:`PixmapLru`: card, border, the
    texts that rarely change) under the line, with the texts drawn on it exactly as they
    are drawn on the tile (same font, ink and sub-pixel offset): the same pixels, as long
    as nothing else live is drawn there. The caller hands a band per line (inside the
    tile, clear of the sparkline and of the other lines) and keys the chip by what
    decides the base under it; a line whose ink does not fit its band is drawn directly
    (remembered as such)."""

    def __init__(self, budget_bytes: int):
        self.budget_bytes = budget_bytes
        # Least recently shown first: when the budget is full the oldest chips go, not
        # all of them (a tick after a clean slate would make every visible line again).
        self._chips: OrderedDict[Hashable, Chip | Literal[False]] = OrderedDict()
        self._seen: set[Hashable] = set()
        self._bytes = 0
        # Chips still to be made in this paint (None: no limit). Making one costs ~40 µs
        # (measuring the text, a painter on a copy of the base): the view allows a few
        # per paint, so that a tick full of new lines is not slower than drawing them.
        self.allowance: int | None = None

    def __len__(self) -> int:
        return len(self._chips)

    @property
    def nbytes(self) -> int:
        return self._bytes

    def get(self, key: Hashable) -> Chip | Literal[False] | None:
        """The chip (x, y, pixmap), False if the line is drawn directly (it does not fit
        its band, or this is its first sight), None if it is worth a chip now
        (:meth:`make`)."""
        chip = self._chips.get(key)
        if chip is not None:
            self._chips.move_to_end(key)
            return chip
        if key in self._seen:
            allowance = self.allowance
            if allowance is None:
                return None
            if allowance > 0:
                self.allowance = allowance - 1
                return None
            return False   # made in a later paint
        if len(self._seen) >= SEEN_LIMIT:
            self._seen.clear()
        self._seen.add(key)
        return False

    def make(self, key: Hashable, parts: list[tuple[TextCache, QColor, float, str, bool]], top: float,
             band: tuple[int, int, int, int], base: QPixmap, dpr: float) -> Chip | Literal[False]:
        """Render the line ``parts`` (text cache, ink, x, text, right-aligned at x) with
        its texts' top at ``top`` (tile-local) on a copy of ``base`` (the tile without
        its live figures), if its ink fits ``band`` (left, top, right, bottom; right and
        bottom exclusive); remembered either way."""
        chip = self._render(parts, top, band, base, dpr)
        if chip is not False:
            self._bytes += pixmap_bytes(chip[2])
        self._chips[key] = chip
        chips = self._chips
        while (self._bytes > self.budget_bytes or len(chips) > SEEN_LIMIT) and len(chips) > 1:
            _, dropped = chips.popitem(last=False)
            if dropped is not False:
                self._bytes -= pixmap_bytes(dropped[2])
        return chip

    @staticmethod
    def _render(parts: list[tuple[TextCache, QColor, float, str, bool]], top: float,
                band: tuple[int, int, int, int], base: QPixmap, dpr: float) -> Chip | Literal[False]:
        if dpr != int(dpr):
            return False   # a fractional ratio puts the chip between device pixels: resampled
        placed = []
        left = top_px = 1 << 30
        right = bottom = -(1 << 30)
        for cache, ink, x, text, right_aligned in parts:
            metrics = cache.metrics
            x0 = x - metrics.horizontalAdvance(text) if right_aligned else x
            ink_box = metrics.boundingRect(text)   # the glyphs' own extent, from the baseline
            baseline = top + cache.ascent
            # A pixel of margin around the ink for anti-aliasing and rounding.
            left = min(left, math.floor(x0 + ink_box.left() - 2))
            right = max(right, math.ceil(x0 + ink_box.right() + 3))
            top_px = min(top_px, math.floor(baseline + ink_box.top() - 1))
            bottom = max(bottom, math.ceil(baseline + ink_box.bottom() + 2))
            placed.append((cache.font, ink, x0, baseline, text))
        if left < band[0] or top_px < band[1] or right > band[2] or bottom > band[3]:
            return False
        ratio = int(dpr)
        pixmap = base.copy(left * ratio, top_px * ratio, (right - left) * ratio, (bottom - top_px) * ratio)
        pixmap.setDevicePixelRatio(dpr)
        p = QPainter(pixmap)
        for font, ink, x0, baseline, text in placed:
            p.setFont(font)
            p.setPen(ink)
            # The same call as a text drawn on the card, shifted by whole pixels.
            p.drawText(QPointF(x0 - left, baseline - top_px), text)
        p.end()
        return (left, top_px, pixmap)

    def clear(self) -> None:
        self._chips.clear()
        self._seen.clear()
        self._bytes = 0
