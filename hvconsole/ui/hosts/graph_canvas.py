"""The host graphs' canvas: the four stacked plots painted by one widget.

pyqtgraph drew each plot as a dozen scene items (plot, view box, axes with grid, levels,
band, curve layer, legend), and every poll had Qt visit, clip and compose them: about
4 ms of the GUI thread at 2,000 VMs, most of the graphs' turn (docs/performance.md). Here
the parts that hold still between polls (axes, ticks, labels, titles, time grid, levels,
stored markers) are drawn once into a pixmap; a poll repaints only the plots' views
(the pixmap's piece, the band, the curves) and the legend lines whose values changed.
The still picture is drawn again only when a scale, the time range, the markers or the
size change, and then only for the plot concerned where that is all that changed.

The x axis: in a live window (:attr:`relative`) the view shows seconds before the newest
poll and the curves, which keep their Unix times, are drawn shifted by :attr:`offset`;
in a stored window it shows Unix time (offset 0) on a clock and calendar axis.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QEvent, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QPainter, QPixmap
from PySide6.QtWidgets import QSizePolicy, QToolTip, QWidget

from hvconsole.monitoring.formatting import plain_tooltip

from .graph_plot import TICK_PX, GraphPlot, Legend
from .graph_scale import Scale
from .stored_history import MARKER_COLOURS
from .time_axis import CLOCK_LABEL_GAP_PX, CLOCK_LABEL_SAMPLES, EDGE_LABEL_PX, Tick, time_ticks

MARGINS = (2, 2, 8, 2)      # left, top, right, bottom
SPACING = 4                 # between two plots
UNLABELLED_AXIS_PX = TICK_PX + 3
MARKER_HIT_PX = 4           # a marker's tooltip shows this close to its line


class CanvasStyle:
    """Colours and fonts every plot paints with."""

    def __init__(self, background: QColor, foreground: QColor, font: QFont):
        self.background = QColor(background)
        self.foreground = QColor(foreground)
        self.font = QFont(font)
        self.metrics = QFontMetricsF(self.font)
        self.edge_px = EDGE_LABEL_PX
        # A stored window's clock labels, measured: as many as fit, not a guess at 90 px.
        self.clock_label_px = max(map(self.metrics.horizontalAdvance, CLOCK_LABEL_SAMPLES)) + CLOCK_LABEL_GAP_PX


class Markers:
    """Stored findings and patch/recovery events as dashed vertical lines (red/orange by
    severity, purple, green), with their text as a plain tooltip."""

    def __init__(self, canvas: GraphCanvas):
        self._canvas = canvas
        self.shown: list[tuple[float, QColor, str]] = []

    def show(self, markers: tuple[Any, ...]) -> None:
        self.shown = []
        for m in markers:
            colour = MARKER_COLOURS.get(m.category) or MARKER_COLOURS.get(m.severity or "", "#7f7f7f")
            self.shown.append((float(m.t), QColor(colour), plain_tooltip(f"{m.category}: {m.kind}", [m.text])))
        self._canvas.redraw_still()

    def clear(self) -> None:
        if self.shown:
            self.shown = []
            self._canvas.redraw_still()

    def __len__(self) -> int:
        return len(self.shown)


class GraphCanvas(QWidget):
    """Stacked :class:`GraphPlot`s sharing one time axis (only the bottom one labels it)."""

    def __init__(self, background: QColor, foreground: QColor, parent: QWidget | None = None):
        super().__init__(parent)
        self.style_ = CanvasStyle(background, foreground, self.font())
        self.plots: list[GraphPlot] = []
        self.x_range: tuple[float, float] = (-3600.0, 0.0)
        self.offset = 0.0
        self.relative = True
        self.markers = Markers(self)
        self._still: QPixmap | None = None
        self._still_plots: set[int] = set()     # plots whose still layer is out of date
        self.still_draws = 0                    # still layers drawn (for tests and benchmarks)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    def add_plot(self, scale: Scale, legend: tuple[tuple[str, str], ...], legend_font: QFont, *,
                 right: Scale | None = None, levels: tuple[float, ...] = ()) -> GraphPlot:
        plot = GraphPlot(self, scale, Legend(legend, legend_font), right=right, levels=levels)
        self.plots.append(plot)
        for other in self.plots:
            other.time_labels = other is plot
        self._place()
        return plot

    # -- what changed ------------------------------------------------------------------------

    def set_x(self, left: float, right: float, *, offset: float, relative: bool) -> None:
        """Show x from ``left`` to ``right``, the curves shifted by ``-offset``."""
        if (left, right, relative) != (*self.x_range, self.relative):
            self.x_range, self.relative, self.offset = (left, right), relative, offset
            self.redraw_still()
        elif offset != self.offset:
            self.offset = offset
            # The still layer is in the view's x, which holds still: only the curves move.
            for plot in self.plots:
                plot.changed()

    def redraw_still(self, plot: GraphPlot | None = None) -> None:
        """Draw the still layer again (of ``plot`` only, when only its scale changed)."""
        if plot is None:
            self._still = None
            self.update()
        else:
            self._still_plots.add(id(plot))
            self.update(plot.slot.adjusted(0, 0, MARGINS[2], 0).toAlignedRect())

    # -- geometry ------------------------------------------------------------------------------

    def _place(self) -> None:
        if not self.plots:
            return
        left, top, right, bottom = MARGINS
        width = self.width() - left - right
        height = self.height() - top - bottom - SPACING * (len(self.plots) - 1)
        each = height / len(self.plots)
        labelled = TICK_PX + 2 + self.style_.metrics.height() + 2
        y = float(top)
        for plot in self.plots:
            plot.place(QRectF(left, y, width, each), labelled if plot.time_labels else UNLABELLED_AXIS_PX)
            y += each + SPACING

    def resizeEvent(self, event: Any) -> None:
        self._place()
        self._still = None
        super().resizeEvent(event)

    # -- painting ------------------------------------------------------------------------------

    def _draw_still(self, pixmap: QPixmap, plots: list[GraphPlot]) -> None:
        self.still_draws += 1
        painter = QPainter(pixmap)
        style = self.style_
        ticks = self.time_ticks()
        markers = [(t, colour) for t, colour, _ in self.markers.shown]
        whole = len(plots) == len(self.plots)
        if whole:
            painter.fillRect(QRectF(pixmap.rect()), style.background)
        for plot in plots:
            painter.save()
            if not whole:     # this plot's slot, and the margin its right title reaches into
                area = plot.slot.adjusted(0, -SPACING / 2, MARGINS[2], SPACING / 2)
                painter.setClipRect(area)
                painter.fillRect(area, style.background)
            plot.paint_still(painter, style, ticks, markers)
            painter.restore()
        painter.end()

    def time_ticks(self) -> list[Tick]:
        """The shared time axis's ticks (the view's x, label) as the still layer draws them."""
        return time_ticks(*self.x_range, relative=self.relative,
                          width_px=self.plots[0].view_rect.width() if self.plots else 400.0,
                          label_px=self.style_.clock_label_px)

    def still_layer(self) -> QPixmap:
        """The picture of what holds still between polls, drawn if out of date."""
        if self._still is None or self._still.size() != self.size() * self.devicePixelRatioF():
            ratio = self.devicePixelRatioF()
            pixmap = QPixmap(self.size() * ratio)
            pixmap.setDevicePixelRatio(ratio)
            self._draw_still(pixmap, self.plots)
            self._still = pixmap
            self._still_plots.clear()
        elif self._still_plots:
            self._draw_still(self._still, [p for p in self.plots if id(p) in self._still_plots])
            self._still_plots.clear()
        return self._still

    def paintEvent(self, event: Any) -> None:
        still = self.still_layer()
        painter = QPainter(self)
        painter.setClipRegion(event.region())
        painter.drawPixmap(0, 0, still)
        rect = QRectF(event.rect())
        fg = self.style_.foreground
        for plot in self.plots:
            if plot.view_rect.intersects(rect):
                plot.paint_live(painter)
            if plot.legend_rect.intersects(rect):
                plot.legend.paint(painter, plot.legend_rect, fg)
        painter.end()

    # -- markers' tooltips -----------------------------------------------------------------------

    def marker_at(self, x: float, y: float) -> str | None:
        """The tooltip of the stored marker drawn at (x, y), if any."""
        for plot in self.plots:
            if plot.view_rect.adjusted(0, 0, 1, 1).contains(x, y):
                ax, bx = plot.x_map()
                near = [(abs(ax * t + bx - x), text) for t, _, text in self.markers.shown]
                near = [item for item in near if item[0] <= MARKER_HIT_PX]
                return min(near)[1] if near else None
        return None

    def event(self, event: Any) -> bool:
        if event.type() == QEvent.Type.ToolTip:
            pos = event.position() if hasattr(event, "position") else event.pos()
            text = self.marker_at(pos.x(), pos.y())
            if text:
                QToolTip.showText(event.globalPos(), text, self)
            else:
                QToolTip.hideText()
                event.ignore()
            return True
        return super().event(event)
