"""Caches that make painting thousands of tiles cheap: laid-out text and pre-rendered
tile cards.

Measured on the offscreen raster engine (benchmarks/ui.py): ``drawText`` costs ~9 µs per
call (the text is laid out every time), ``drawStaticText`` ~3 µs; an anti-aliased rounded
card with a border costs 20–140 µs to rasterise, blitting it as a pixmap ~2 µs. Tile
texts repeat (names, states, "CPU 41 %"), and cards come in a handful of looks, so both
are cached. Caches are bounded and simply start over when full.
"""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QBrush, QColor, QFont, QFontMetrics, QPainter, QPen, QPixmap, QStaticText


class TextCache:
    """``QStaticText`` objects for one font, keyed by their text."""

    def __init__(self, font: QFont, limit: int = 6000):
        self.font = QFont(font)
        self.metrics = QFontMetrics(self.font)
        self.height = self.metrics.height()
        self._texts: dict[str, QStaticText] = {}
        self._elided: dict[tuple[str, int], str] = {}
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
            if len(self._elided) >= self._limit:
                self._elided.clear()
            out = self.metrics.elidedText(text, Qt.TextElideMode.ElideRight, width)
            self._elided[key] = out
        return out

    def width(self, text: str) -> float:
        return self.get(text).size().width()

    def draw(self, painter: QPainter, x: float, top: float, line_height: float, text: str,
             right_aligned: bool = False) -> float:
        """Draw ``text`` vertically centred in a line starting at ``top``; with
        ``right_aligned`` ``x`` is the right edge. Returns the text's width."""
        st = self._texts.get(text) or self.get(text)
        w = st.size().width()
        painter.drawStaticText(QPointF(x - w if right_aligned else x, top + (line_height - self.height) / 2), st)
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
