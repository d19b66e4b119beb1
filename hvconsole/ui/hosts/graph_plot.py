"""One plot of the host graphs: its legend line, value scale(s), curves, the unreachable
band and stored markers; where each part sits in the canvas, and how it is painted.

The plot paints in two layers (graph_canvas.py keeps the first as a picture):

* still: the legend's place, the axes with their ticks, labels and titles, the time grid,
  the CPU plot's dotted levels and the stored markers; drawn again only when a scale,
  the time range, the markers or the size change;
* live: the band, the curves and the legend's text; drawn over the still picture at each
  poll, clipped to the plot's view.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QFont, QFontMetricsF, QPainter, QPen

from .graph_scale import Scale
from .live_curve import PixelMap, Series

LEFT_AXIS_WIDTH = 58        # stacked plots share these so their time axes line up
RIGHT_AXIS_WIDTH = 46
TICK_PX = 5                 # tick marks, outward
LABEL_GAP_PX = 2            # between a tick mark and its label
GRID_ALPHA = 64             # a quarter of the foreground
UNREACHABLE_BRUSH = (214, 39, 40, 40)
LEVEL_COLOUR = "#7f7f7f"
# The right title may reach this far into the canvas's right margin (as pyqtgraph's did).
RIGHT_TITLE_OVERHANG_PX = 6


class Band:
    """The x range a host did not answer, shaded over the plot (the caller's x: seconds
    before the newest poll in a live window)."""

    def __init__(self, changed: Callable[[], None]):
        self._changed = changed
        self._region = (0.0, 0.0)
        self._visible = False

    def setRegion(self, region: tuple[float, float]) -> None:
        region = (float(region[0]), float(region[1]))
        if region != self._region:
            self._region = region
            if self._visible:
                self._changed()

    def getRegion(self) -> tuple[float, float]:
        return self._region

    def show(self) -> None:
        if not self._visible:
            self._visible = True
            self._changed()

    def hide(self) -> None:
        if self._visible:
            self._visible = False
            self._changed()

    def isVisible(self) -> bool:
        return self._visible


class Legend:
    """Per curve a colour key and name, then the current value, on one line of plain
    text (``drawText`` never interprets markup; only our own words and numbers)."""

    def __init__(self, entries: tuple[tuple[str, str], ...], font: QFont):
        self.keys = tuple((QColor(colour), f"\u25a0 {name}") for colour, name in entries)
        self.values: tuple[str, ...] = ("—",) * len(entries)
        self.font = QFont(font)
        self.metrics = QFontMetricsF(self.font)
        self.height = math.ceil(self.metrics.height()) + 4
        m = self.metrics
        self._gap, self._space = m.horizontalAdvance("   "), m.horizontalAdvance(" ")
        self._key_widths = tuple(m.horizontalAdvance(key) for _, key in self.keys)
        self._value_widths = tuple(m.horizontalAdvance(v) for v in self.values)

    def text(self) -> str:
        """What the line says, e.g. ``■ total 41 %   ■ guest 3 %``."""
        return "   ".join(f"{key} {value}" for (_, key), value in zip(self.keys, self.values, strict=True))

    def set_values(self, values: tuple[str, ...]) -> bool:
        """True when a value changed (and the line must be painted again)."""
        if values == self.values:
            return False
        m = self.metrics
        self._value_widths = tuple(
            width if new == old else m.horizontalAdvance(new)
            for new, old, width in zip(values, self.values, self._value_widths, strict=True))
        self.values = values
        return True

    def paint(self, painter: QPainter, rect: QRectF, foreground: QColor) -> None:
        m, gap, space = self.metrics, self._gap, self._space
        total = sum(self._key_widths) + sum(self._value_widths) + space * len(self.keys)
        total += gap * max(0, len(self.keys) - 1)
        x = rect.left() + max(0.0, (rect.width() - total) / 2)   # centred over the plot
        y = rect.top() + (rect.height() - m.height()) / 2 + m.ascent()
        painter.setFont(self.font)
        for (colour, key), key_width, value, value_width in zip(
                self.keys, self._key_widths, self.values, self._value_widths, strict=True):
            painter.setPen(colour)
            painter.drawText(QPointF(x, y), key)
            x += key_width + space
            painter.setPen(foreground)
            painter.drawText(QPointF(x, y), value)
            x += value_width + gap


class GraphPlot:
    """A plot: legend on top, a left scale (and optionally a right one), the view between
    them, a time axis under it. ``canvas`` is told what to repaint."""

    def __init__(self, canvas: Any, scale: Scale, legend: Legend, *, right: Scale | None = None,
                 levels: tuple[float, ...] = ()):
        self.canvas = canvas
        self.scale = scale
        self.right = right
        self.legend = legend
        self.levels = levels
        self.series: list[tuple[Series, Scale]] = []
        self.band = Band(self.changed)
        self.time_labels = False       # only the bottom plot labels the shared time axis
        self.slot = QRectF()
        self.legend_rect = QRectF()
        self.view_rect = QRectF()

    # -- content ---------------------------------------------------------------------------

    def add_series(self, pen: QPen, brush: QBrush | None = None, *, right: bool = False) -> Series:
        scale = self.right if right and self.right is not None else self.scale
        series = Series(pen, brush, changed=self.changed)
        self.series.append((series, scale))
        return series

    def changed(self) -> None:
        """A curve or the band changed: the view is painted again (over the still layer)."""
        self.canvas.update(self.view_rect.toAlignedRect())

    def set_legend_values(self, values: tuple[str, ...]) -> None:
        if self.legend.set_values(values):
            self.canvas.update(self.legend_rect.toAlignedRect())

    def view_range(self) -> tuple[tuple[float, float], tuple[float, float]]:
        """((x0, x1), (y0, y1)) the view shows, in its own x (see the canvas) and the
        left scale's values."""
        return self.canvas.x_range, self.scale.view_range()

    # -- geometry ----------------------------------------------------------------------------

    def place(self, slot: QRectF, axis_height: float) -> None:
        self.slot = QRectF(slot)
        self.legend_rect = QRectF(slot.left(), slot.top(), slot.width(), self.legend.height)
        top = slot.top() + self.legend.height
        self.view_rect = QRectF(slot.left() + LEFT_AXIS_WIDTH, top,
                                max(1.0, slot.width() - LEFT_AXIS_WIDTH - RIGHT_AXIS_WIDTH),
                                max(1.0, slot.bottom() - axis_height - top))

    def x_map(self) -> tuple[float, float]:
        """(a, b): x in the view's units (Unix time less the canvas's offset) to pixels."""
        left, right = self.canvas.x_range
        v = self.view_rect
        a = v.width() / (right - left)
        return a, v.left() - a * (left + self.canvas.offset)

    def y_map(self, scale: Scale) -> tuple[float, float]:
        bottom, top = scale.view_range()
        v = self.view_rect
        a = -v.height() / (top - bottom)
        return a, v.bottom() - a * bottom

    def pixel_map(self, scale: Scale) -> PixelMap:
        return (*self.x_map(), *self.y_map(scale))

    # -- painting ------------------------------------------------------------------------------

    def paint_still(self, painter: QPainter, style: Any, time_ticks: list[tuple[float, str]],
                    markers: list[tuple[float, QColor]]) -> None:
        v = self.view_rect
        fg: QColor = style.foreground
        # Time grid (the view's x: the ticks are given there) and the ticks under the view.
        ax, bx = self.x_map()
        grid = QColor(fg)
        grid.setAlpha(GRID_ALPHA)
        offset = self.canvas.offset
        xs = [(ax * (t + offset) + bx, label) for t, label in time_ticks]
        xs = [(x, label) for x, label in xs if v.left() - 0.5 <= x <= v.right() + 0.5]
        painter.setPen(QPen(grid, 0))
        for x, _ in xs:
            painter.drawLine(QPointF(x, v.top()), QPointF(x, v.bottom()))
        ay, by = self.y_map(self.scale)
        if self.levels:
            level_pen = QPen(QColor(LEVEL_COLOUR), 0, Qt.PenStyle.DotLine)
            painter.setPen(level_pen)
            for level in self.levels:
                y = ay * level + by
                painter.drawLine(QPointF(v.left(), y), QPointF(v.right(), y))
        for t, colour in markers:
            x = ax * t + bx
            if v.left() <= x <= v.right():
                painter.setPen(QPen(colour, 0, Qt.PenStyle.DashLine))
                painter.drawLine(QPointF(x, v.top()), QPointF(x, v.bottom()))
        axis_pen = QPen(fg, 0)
        painter.setPen(axis_pen)
        painter.drawLine(QPointF(v.left(), v.bottom()), QPointF(v.right(), v.bottom()))
        for x, _ in xs:
            painter.drawLine(QPointF(x, v.bottom()), QPointF(x, v.bottom() + TICK_PX))
        if self.time_labels:
            painter.setFont(style.font)
            m = style.metrics
            y = v.bottom() + TICK_PX + LABEL_GAP_PX + m.ascent()
            lo, hi = self.slot.left() + 2, self.slot.right() + style.edge_px
            for x, label in xs:
                w = m.horizontalAdvance(label)
                painter.drawText(QPointF(min(max(x - w / 2, lo), hi - w), y), label)
        self._paint_scale(painter, style, self.scale, left=True)
        if self.right is not None:
            self._paint_scale(painter, style, self.right, left=False)

    def _paint_scale(self, painter: QPainter, style: Any, scale: Scale, *, left: bool) -> None:
        v = self.view_rect
        fg: QColor = style.foreground
        text_colour = QColor(scale.colour) if scale.colour else fg
        m: QFontMetricsF = style.metrics
        edge = v.left() if left else v.right()
        out = -1 if left else 1
        painter.setPen(QPen(fg, 0))
        painter.drawLine(QPointF(edge, v.top()), QPointF(edge, v.bottom()))
        ay, by = self.y_map(scale)
        painter.setFont(style.font)
        for value, label in scale.ticks(v.height()):
            y = ay * value + by
            painter.setPen(QPen(fg, 0))
            painter.drawLine(QPointF(edge, y), QPointF(edge + out * TICK_PX, y))
            w = m.horizontalAdvance(label)
            x = edge + out * (TICK_PX + LABEL_GAP_PX) - (w if left else 0)
            # Keep the end labels ("0", "100") inside the plot's slot.
            baseline = min(max(y + m.ascent() / 2 - 1, self.slot.top() + m.ascent()), self.slot.bottom())
            painter.setPen(text_colour)
            painter.drawText(QPointF(x, baseline), label)
        # The title, read bottom to top, centred on the view, at the slot's outer edge.
        title = scale.title()
        painter.save()
        centre_y = v.center().y()
        x = self.slot.left() + m.ascent() + 1 if left else self.slot.right() + RIGHT_TITLE_OVERHANG_PX - m.descent()
        painter.translate(x, centre_y)
        painter.rotate(-90)
        painter.setPen(text_colour)
        painter.drawText(QPointF(-m.horizontalAdvance(title) / 2, 0), title)
        painter.restore()

    def paint_live(self, painter: QPainter) -> None:
        v = self.view_rect
        painter.save()
        painter.setClipRect(v)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        if self.band.isVisible():
            ax, bx = self.x_map()
            offset = self.canvas.offset
            left, right = self.band.getRegion()
            x0, x1 = ax * (left + offset) + bx, ax * (right + offset) + bx
            painter.fillRect(QRectF(x0, v.top(), max(1.0, x1 - x0), v.height()), QColor(*UNREACHABLE_BRUSH))
        maps: dict[int, PixelMap] = {}
        for series, scale in self.series:
            pixels = maps.get(id(scale))
            if pixels is None:
                pixels = maps[id(scale)] = self.pixel_map(scale)
            series.paint(painter, pixels)
        painter.restore()
