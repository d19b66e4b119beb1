"""Live resource graphs of one Hyper-V host (pyqtgraph): hypervisor CPU run time, memory,
storage throughput and latency, network throughput, over the last 5 minutes or hour.

The widget only reads a :class:`~hvconsole.core.history.HostHistory`; the host's poll
worker owns it and the monitoring page calls :meth:`HostGraphs.refresh` when the shown
host has news. A refresh is built to fit a frame next to 2,000 tiles (docs/performance.md):

* the window's data is kept here and only the rows added since the last refresh are read
  from the ring buffer and appended (:class:`SeriesWindow`); a new host, a new window
  length or a buffer that went back in time reloads it;
* one ``setData`` per curve, which only keeps the arrays: a plot's curves are drawn by
  one light item (live_curve.py) with pyqtgraph's own path and fill functions, not by a
  ``PlotCurveItem`` each (its bookkeeping, signals and paint cost ~0.15 ms a curve; a
  ``PlotDataItem`` more, for downsampling and clipping that pay off only for far larger
  series than ours);
* fixed or "nice" y ranges that change only when the data outgrows them (no auto-range
  passes, no axis re-layout every tick), antialiasing off and 1-px pens;
* each plot's legend (colour key, name, current value) is drawn as plain text by
  :class:`LegendLine` and repainted only when a value changed: no HTML layout per tick;
* only the bottom plot labels the time axis (the plots share it); the others keep the
  vertical grid lines;
* the live windows (5 min, 1 h) hold their x range still at seconds before the newest
  poll ("−5 min" ... "now", time_axis.py) and draw the curves shifted under it (each
  plot's curve layer subtracts the newest poll's time): the axes keep their ticks and
  grid, as pixmaps, the views their transforms, the layers their place and bounds; the
  stored windows (1 day and more) keep clock and dates;
* the curves are bounded by their plot's frame (live_curve.py), not by their data, and
  the status line is repainted without re-laying the pane (status_line.py);
* staged (:attr:`HostGraphs.staged`, the monitoring page's), a new host or window is
  shown one plot per event-loop turn, and a poll that rescales two plots draws the
  second a turn later: each value axis drawn again costs a few milliseconds.

Also holds the small plotting helpers that the VM detail dialog shares (time plots with a
local-clock axis, curves, the window toggle, value formatting).
"""

from __future__ import annotations

import math
from contextlib import nullcontext
from datetime import datetime
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, Qt, QTimer, Signal
from PySide6.QtGui import QBrush, QColor, QFont, QFontMetricsF, QPainter, QPalette
from PySide6.QtWidgets import (
    QButtonGroup,
    QGraphicsItem,
    QHBoxLayout,
    QLabel,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from hvconsole.core.history import HostHistory

from . import stored_history
from .live_curve import CurveLayer, Series
from .status_line import StatusLine
from .stored_history import LONG_WINDOW_CHOICES, MarkerLayer, RangeLoader, StoredRange, is_long
from .time_axis import TimeAxis

# 5 min and 1 h come from the in-memory history; 1 day, 7 days and 90 days from the
# history file (stored_history.py), when the window's site has one.
WINDOW_CHOICES: tuple[tuple[str, int], ...] = (("5 min", 300), ("1 h", 3600), *LONG_WINDOW_CHOICES)
DEFAULT_WINDOW_S = 3600

# Tableau-10 hues: distinguishable, and readable on light and dark backgrounds alike.
# Blue is always "in" (read, receive), orange always "out" (write, send).
BLUE, ORANGE, GREEN, RED, PURPLE, GREY = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#7f7f7f")
UNREACHABLE_BRUSH = (214, 39, 40, 40)
# Left axes of stacked plots share one width so their time axes line up exactly.
LEFT_AXIS_WIDTH = 58
RIGHT_AXIS_WIDTH = 46
# Memory in binary GB (1024 MB), as Windows, Hyper-V Manager and the tiles show it.
MB_PER_GB = 1024.0
# Between two staged plot updates (HostGraphs.staged): enough for the event loop to paint
# the first and serve what else is waiting before the next.
STAGE_DELAY_MS = 2
# A plot's share of a refresh: (curve, values) pairs and (view, y ceiling) pairs.
PlotStep = tuple[tuple[tuple[Series, np.ndarray], ...], tuple[tuple[Any, float], ...]]


# -- helpers shared with vm_detail ------------------------------------------------------

def palette_colors(widget: QWidget) -> tuple[QColor, QColor]:
    """(background, foreground) of the surrounding Qt palette, so graphs follow the
    application's light or dark theme instead of pyqtgraph's fixed black."""
    pal = widget.palette()
    return pal.color(QPalette.ColorRole.Base), pal.color(QPalette.ColorRole.WindowText)


def make_time_plot(layout: pg.GraphicsLayout, foreground: QColor, *, units: str,
                   label: str = "", row: int | None = None, si_prefix: bool = True,
                   time_axis: pg.AxisItem | None = None) -> pg.PlotItem:
    """A plot with a local-clock time axis (or ``time_axis``), grid, no mouse interaction
    and no menus: the x range is set by the widget on every refresh, so panning would be
    undone. ``si_prefix=False`` for units that must not be scaled (no "mGB" for a small VM)."""
    bottom = time_axis if time_axis is not None else pg.DateAxisItem(orientation="bottom")
    plot = layout.addPlot(row=row, col=0, axisItems={"bottom": bottom})
    plot.setMenuEnabled(False)
    plot.hideButtons()
    plot.setMouseEnabled(x=False, y=False)
    # Vertical grid only: pyqtgraph drops the end tick labels ("0", "100 %") of an axis
    # that draws grid lines, and those are the labels that say what the scale is.
    plot.showGrid(x=True, y=False, alpha=0.25)
    for name in ("left", "bottom"):
        axis = plot.getAxis(name)
        axis.setPen(foreground)
        axis.setTextPen(foreground)
    plot.getAxis("left").setWidth(LEFT_AXIS_WIDTH)
    plot.setLabel("left", label, units=units)
    plot.getAxis("left").enableAutoSIPrefix(si_prefix)
    # Times take no SI prefix (the time axes carry no label), and with the automatic
    # prefix on, every move of the x range re-set the label of the bottom axis and of
    # the hidden top one as HTML and re-laid them.
    for name in ("bottom", "top"):
        plot.getAxis(name).enableAutoSIPrefix(False)
    # The title is the legend; let it span the axes' columns too (it sits over the view
    # box column only by default), so that three "name value" pairs fit in ~420 px.
    plot.layout.removeItem(plot.titleLabel)
    plot.layout.addItem(plot.titleLabel, 0, 0, 1, 3)
    # An empty right axis of the same width as a real one keeps stacked plots aligned
    # when one of them (storage latency) needs a second scale.
    plot.showAxis("right")
    right = plot.getAxis("right")
    right.setWidth(RIGHT_AXIS_WIDTH)
    right.setStyle(showValues=False)
    right.setPen(pg.mkPen(None))
    return plot


def _curve_pen(color: str, width: float = 1, dashed: bool = False) -> Any:
    return pg.mkPen(color, width=width, style=Qt.PenStyle.DashLine if dashed else Qt.PenStyle.SolidLine)


def _fill_under(curve: Any, color: str) -> None:
    """Shade from the curve down to zero in the curve's colour, faintly."""
    c = QColor(color)
    c.setAlpha(60)
    curve.setFillLevel(0.0)
    curve.setBrush(c)


def make_curve(plot: pg.PlotItem, color: str, *, dashed: bool = False,
               fill: bool = False) -> pg.PlotDataItem:
    curve = pg.PlotDataItem(pen=_curve_pen(color, dashed=dashed), antialias=False, connect="finite")
    if fill:
        _fill_under(curve, color)
    plot.addItem(curve)
    return curve


def legend_html(entries: list[tuple[str, str, str]]) -> str:
    """A plot title that is its legend: colour key, name and current value per curve.
    Only our own fixed words and formatted numbers go in here, never host-provided text
    (pyqtgraph renders titles as HTML)."""
    return "&nbsp;&nbsp;".join(
        f"<span style='color:{color}'>&#9632; {name}</span>&nbsp;{value}"
        for color, name, value in entries)


def fmt_pct(v: float | None) -> str:
    return "—" if v is None else f"{v:.0f} %"


def fmt_rate(v: float | None) -> str:
    return "—" if v is None else pg.siFormat(v, precision=3, suffix="B/s")


def fmt_gb(mb: float | None) -> str:
    return "—" if mb is None else f"{mb / MB_PER_GB:.1f} GB"


def fmt_ms(v: float | None) -> str:
    return "—" if v is None else f"{v:.1f} ms"


def local_hms(dt: datetime) -> str:
    """The admin's wall clock, like the graphs' time axes."""
    return dt.astimezone().strftime("%H:%M:%S")


def rate_ceiling(*series: np.ndarray, floor: float) -> float:
    """Top of a 0-based y range: 10 % above the largest visible value, at least ``floor``
    so that an idle host does not get a y axis zoomed into noise."""
    top = floor
    for s in series:
        if s.size and not np.isnan(s).all():
            top = max(top, float(np.nanmax(s)) * 1.1)
    return top


def nice_ceiling(*series: np.ndarray, floor: float) -> float:
    """Like :func:`rate_ceiling`, rounded up to 1, 2 or 5 × a power of ten, so the y range
    (and its axis labels) changes only when the data outgrows it, not with every poll."""
    top = rate_ceiling(*series, floor=floor)
    exponent = math.floor(math.log10(top))
    for step in (1.0, 2.0, 5.0, 10.0):
        nice = step * 10.0 ** exponent
        if nice >= top * (1 - 1e-9):
            return nice
    return top


def add_series(layer: CurveLayer, color: str, *, dashed: bool = False, fill: bool = False,
               width: float = 1) -> Series:
    """A curve of a live series drawn by ``layer``: NaN breaks the line, no antialiasing,
    optionally shaded down to zero in its colour, faintly (as :func:`_fill_under`)."""
    brush = None
    if fill:
        shade = QColor(color)
        shade.setAlpha(60)
        brush = QBrush(shade)
    return layer.add(_curve_pen(color, width, dashed), brush)


class LegendLine(pg.GraphicsWidget):
    """A plot's title that is its legend: per curve a colour key and name, then the
    current value, on one line of plain text.

    Replaces pyqtgraph's HTML title (``setHtml`` and a re-layout on every change, ~0.5 ms
    a plot per tick). Only our own words and formatted numbers are shown, and
    ``drawText`` never interprets markup in any case."""

    def __init__(self, entries: tuple[tuple[str, str], ...], foreground: QColor, font: QFont):
        super().__init__()
        self._keys = tuple((QColor(color), f"\u25a0 {name}") for color, name in entries)
        self._values = ("—",) * len(entries)
        self._fg = QColor(foreground)
        self._font = QFont(font)
        self._metrics = QFontMetricsF(self._font)
        self._height = math.ceil(self._metrics.height()) + 4
        # Widths measured once (keys) or once per new value, not in every paint.
        m = self._metrics
        self._gap, self._space = m.horizontalAdvance("   "), m.horizontalAdvance(" ")
        self._key_widths = tuple(m.horizontalAdvance(key) for _, key in self._keys)
        self._value_widths = tuple(m.horizontalAdvance(v) for v in self._values)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setMinimumHeight(self._height)
        self.setMaximumHeight(self._height)

    @property
    def line_height(self) -> int:
        return self._height

    def text(self) -> str:
        """What the line says, e.g. ``■ total 41 %   ■ guest 3 %``."""
        return "   ".join(f"{key} {value}" for (_, key), value in zip(self._keys, self._values, strict=True))

    def set_values(self, values: tuple[str, ...]) -> None:
        if values != self._values:
            m = self._metrics
            self._value_widths = tuple(
                width if new == old else m.horizontalAdvance(new)
                for new, old, width in zip(values, self._values, self._value_widths, strict=True))
            self._values = values
            self.update()

    def paint(self, painter: QPainter, *args: Any) -> None:
        m, gap, space = self._metrics, self._gap, self._space
        total = sum(self._key_widths) + sum(self._value_widths) + space * len(self._keys)
        total += gap * max(0, len(self._keys) - 1)
        rect = self.boundingRect()
        x = rect.left() + max(0.0, (rect.width() - total) / 2)   # centred, as the title was
        y = rect.top() + (rect.height() - m.height()) / 2 + m.ascent()
        painter.setFont(self._font)
        for (colour, key), key_width, value, value_width in zip(
                self._keys, self._key_widths, self._values, self._value_widths, strict=True):
            painter.setPen(colour)
            painter.drawText(QPointF(x, y), key)
            x += key_width + space
            painter.setPen(self._fg)
            painter.drawText(QPointF(x, y), value)
            x += value_width + gap


class SeriesWindow:
    """The graphs' own copy of the shown window of one host's ring buffer.

    Each refresh reads only the rows added since the previous one and appends them, then
    drops what fell out of the window; the whole window is read again only for a new
    host, a new window length, or a buffer that no longer continues ours. The arrays
    handed to the curves are our own (new ones each time the data changes), never
    views of the ring buffer that a poller thread writes after the lock is released."""

    def __init__(self) -> None:
        self.history: HostHistory | None = None
        self.window_s: float = 0.0
        self.times = np.empty(0)
        self.values = np.empty((0, 0))
        self.fields: tuple[str, ...] = ()
        self.appended = 0        # rows added by the last update (for tests and benchmarks)
        self.reloaded = False    # True if the last update read the whole window

    def clear(self) -> None:
        self.__init__()

    def column(self, field: str) -> np.ndarray:
        return self.values[self.fields.index(field)]

    def update(self, h: HostHistory, window_s: float) -> None:
        """Bring the window up to ``h``'s newest row (caller holds the history's lock)."""
        right = h.last_time
        left = right - window_s
        buf = h.buffer
        last = float(self.times[-1]) if self.times.size else None
        if h is not self.history or window_s != self.window_s or last is None or right < last:
            times, values = buf.since(left, copy=True)
            self.history, self.window_s, self.fields = h, window_s, buf.fields
            self.times, self.values = times, values
            self.appended, self.reloaded = times.size, True
            return
        self.reloaded = False
        new_t, new_v = buf.since(last)
        # ``since`` includes the rows at our newest time, which we already hold (rows
        # of equal time are appended in order, so any beyond those are new).
        held = int(self.times.size - np.searchsorted(self.times, last, side="left"))
        new_t, new_v = new_t[held:], new_v[:, held:]
        self.appended = new_t.size
        if new_t.size:
            self.times = np.concatenate((self.times, new_t))
            self.values = np.concatenate((self.values, new_v), axis=1)
        self._trim(left)

    def _trim(self, left: float) -> None:
        start = int(np.searchsorted(self.times, left, side="left"))
        if start:
            self.times, self.values = self.times[start:], self.values[:, start:]


class StoredData:
    """A stored range (or stored past + the in-memory hour) in SeriesWindow's shape."""

    def __init__(self, times: np.ndarray, values: np.ndarray, fields: tuple[str, ...]):
        self.times, self.values, self.fields = times, values, fields

    def column(self, field: str) -> np.ndarray:
        return self.values[self.fields.index(field)]


def title_and_toggle(owner: QWidget, title: QWidget, window_s: int,
                     on_change: Any) -> tuple[QHBoxLayout, WindowToggle]:
    """A row with ``title`` on the left and the time-range toggle (set to ``window_s``,
    calling ``on_change(seconds)`` on a click) on the right: the host graphs, a VM window."""
    toggle = WindowToggle(owner)
    toggle.set_checked(window_s)
    toggle.window_changed.connect(on_change)
    row = QHBoxLayout()
    row.addWidget(title, 1)
    row.addWidget(toggle)
    return row, toggle


class WindowToggle(QWidget):
    """Exclusive "5 min | 1 h | 1 day | 7 days | 90 days" buttons. Emits
    ``window_changed(seconds)`` on a click."""

    window_changed = Signal(int)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        box = QHBoxLayout(self)
        box.setContentsMargins(0, 0, 0, 0)
        box.setSpacing(0)
        self._group = QButtonGroup(self)
        self._group.setExclusive(True)
        self.buttons: dict[int, QToolButton] = {}
        for text, seconds in WINDOW_CHOICES:
            b = QToolButton(self)
            b.setText(text)
            b.setCheckable(True)
            b.setToolTip(f"Show the last {text}")
            self._group.addButton(b, seconds)
            box.addWidget(b)
            self.buttons[seconds] = b
        self._group.idClicked.connect(self.window_changed)

    def show_window(self, seconds: int) -> int:
        """A window chosen in code or by a click, checked here; returns it in whole seconds."""
        if seconds <= 0:
            raise ValueError("window must be positive")
        self.set_checked(int(seconds))
        return int(seconds)

    def set_checked(self, seconds: int) -> None:
        """Reflect a window set in code; a window with no button unchecks all."""
        b = self.buttons.get(seconds)
        if b is not None:
            b.setChecked(True)
        else:
            self._group.setExclusive(False)
            for btn in self.buttons.values():
                btn.setChecked(False)
            self._group.setExclusive(True)


# -- the host graphs --------------------------------------------------------------------

class HostGraphs(QWidget):
    """Four stacked plots of one host's resources, for a ~420 px wide side pane."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self._history: HostHistory | None = None
        self._lock: Any = nullcontext()
        self._window_s = DEFAULT_WINDOW_S
        self._data = SeriesWindow()
        self._shown_rows = 0
        self._y_tops: dict[int, float] = {}
        # Staged updates (see _update_curves): on for the monitoring page, off by default.
        self.staged = False
        self._staged_steps: list[tuple[np.ndarray, Any, Any]] = []
        self._stage_timer = QTimer(self)
        self._stage_timer.setSingleShot(True)
        self._stage_timer.setInterval(STAGE_DELAY_MS)
        self._stage_timer.timeout.connect(self._next_staged)
        # The x axis: seconds before the newest poll (live windows) or Unix time (stored).
        self._layers: dict[int, tuple[Any, CurveLayer]] = {}   # per view: (plot or view, its curves)
        self._x_offset = 0.0
        self._x_range: tuple[float, float] | None = None
        bg, fg = palette_colors(self)
        self._fg = fg

        self.title = QLabel("No host selected", self)
        self.title.setTextFormat(Qt.TextFormat.PlainText)  # host names are data
        bold = QFont(self.title.font())
        bold.setBold(True)
        self.title.setFont(bold)
        # Plain text (error messages come from hosts), repainted without a re-layout.
        self.status = StatusLine(RED, self)
        header, self.toggle = title_and_toggle(self, self.title, self._window_s, self.set_window)

        self.graphics = pg.GraphicsLayoutWidget(self)
        self.graphics.setBackground(bg)
        self.graphics.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.graphics.ci.setSpacing(4)
        # pyqtgraph draws a right axis label a few px past the axis: leave room for it.
        self.graphics.ci.setContentsMargins(2, 2, 8, 2)
        self._build_plots()
        # Ranges beyond the in-memory hour, and the past before it after a restart.
        self._loader = RangeLoader(self)
        self._past_loader = RangeLoader(self)
        self._past: StoredRange | None = None
        self._long_host: str | None = None
        self.markers = MarkerLayer(self.plots)

        box = QVBoxLayout(self)
        box.setContentsMargins(4, 4, 4, 4)
        box.addLayout(header)
        box.addWidget(self.status)
        box.addWidget(self.graphics, 1)
        self.setMinimumSize(360, 480)
        self._show_empty()

    def _build_plots(self) -> None:
        lay, fg = self.graphics.ci, self._fg
        self.time_axes = tuple(TimeAxis() for _ in range(4))
        self.cpu_plot = make_time_plot(lay, fg, label="CPU run", units="%", row=0, si_prefix=False,
                                       time_axis=self.time_axes[0])
        self.cpu_plot.setYRange(0, 100, padding=0.02)
        self.cpu_plot.getAxis("left").setTicks([[(v, str(v)) for v in (0, 25, 50, 75, 100)]])
        for level in (25, 50, 75):
            self.cpu_plot.addItem(pg.InfiniteLine(level, angle=0, movable=False,
                                                  pen=pg.mkPen(GREY, width=1, style=Qt.PenStyle.DotLine)),
                                  ignoreBounds=True)
        self.cpu_total = self._curve(self.cpu_plot, BLUE)
        self.cpu_guest = self._curve(self.cpu_plot, GREEN)
        self.cpu_root = self._curve(self.cpu_plot, ORANGE)

        self.mem_plot = make_time_plot(lay, fg, label="Memory", units="GB", row=1, si_prefix=False,
                                       time_axis=self.time_axes[1])
        self.mem_used = self._curve(self.mem_plot, PURPLE, fill=True)
        self.mem_total = self._curve(self.mem_plot, GREY, dashed=True)

        self.disk_plot = make_time_plot(lay, fg, label="Storage", units="B/s", row=2,
                                        time_axis=self.time_axes[2])
        self.disk_read = self._curve(self.disk_plot, BLUE)
        self.disk_write = self._curve(self.disk_plot, ORANGE)
        self.latency_view, self.disk_latency = self._add_latency_axis(self.disk_plot, fg)

        self.net_plot = make_time_plot(lay, fg, label="Network", units="B/s", row=3,
                                       time_axis=self.time_axes[3])
        self.net_rx = self._curve(self.net_plot, BLUE)
        self.net_tx = self._curve(self.net_plot, ORANGE)

        self.plots = (self.cpu_plot, self.mem_plot, self.disk_plot, self.net_plot)
        self.curves = (self.cpu_total, self.cpu_guest, self.cpu_root, self.mem_used,
                       self.mem_total, self.disk_read, self.disk_write, self.disk_latency,
                       self.net_rx, self.net_tx)
        # Per plot: the legend entries (colour, name, history field, value formatter).
        self._legends = (
            (self.cpu_plot, ((BLUE, "total", "cpu_total_pct", fmt_pct),
                             (GREEN, "guest", "cpu_guest_pct", fmt_pct),
                             (ORANGE, "root", "cpu_root_pct", fmt_pct))),
            (self.mem_plot, ((PURPLE, "used", "memory_used_mb", fmt_gb),
                             (GREY, "total", "memory_total_mb", fmt_gb))),
            (self.disk_plot, ((BLUE, "read", "storage_read_bps", fmt_rate),
                              (ORANGE, "write", "storage_write_bps", fmt_rate),
                              (RED, "latency", "storage_latency_ms", fmt_ms))),
            (self.net_plot, ((BLUE, "rx", "network_rx_bps", fmt_rate),
                             (ORANGE, "tx", "network_tx_bps", fmt_rate))),
        )
        font = QFont(self.font())
        font.setPointSizeF(8.0)
        self.legend_lines: dict[pg.PlotItem, LegendLine] = {}
        for plot, entries in self._legends:
            line = LegendLine(tuple((color, name) for color, name, _, _ in entries), self._fg, font)
            # In the title's place (which make_time_plot spread over the axes' columns).
            plot.setTitle(None)
            plot.layout.removeItem(plot.titleLabel)
            plot.layout.addItem(line, 0, 0, 1, 3)
            plot.layout.setRowFixedHeight(0, line.line_height)
            self.legend_lines[plot] = line
        # The plots share one time axis: only the bottom one labels it; the others keep
        # its grid lines (labels are most of an axis's repaint when the window moves).
        for plot in self.plots[:-1]:
            plot.getAxis("bottom").setStyle(showValues=False)
        # The value axes change only when a y ceiling does: Qt keeps them as pixmaps.
        for plot in self.plots:
            for name in ("left", "right"):
                plot.getAxis(name).setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
        self.unreachable_bands = []
        for plot in self.plots:
            if plot is not self.cpu_plot:
                plot.setXLink(self.cpu_plot)
            band = pg.LinearRegionItem(movable=False, brush=UNREACHABLE_BRUSH,
                                       pen=pg.mkPen(None))
            band.setZValue(-10)
            band.hide()
            plot.addItem(band, ignoreBounds=True)
            self.unreachable_bands.append(band)

    def _curve(self, plot: Any, color: str, **style: Any) -> Series:
        """A curve drawn by the one curve layer of ``plot`` (or of a view box): its data
        keep their Unix times; the layer draws them shifted under a fixed x range (see
        :meth:`_show_x`)."""
        entry = self._layers.get(id(plot))
        if entry is None:
            layer = CurveLayer()
            plot.addItem(layer, ignoreBounds=True)
            entry = self._layers[id(plot)] = (plot, layer)
        return add_series(entry[1], color, **style)

    def _frame_curves(self) -> None:
        """Bound each plot's curves by its shown x and y range (see live_curve.py): in a
        live window the same from poll to poll."""
        for plot, layer in self._layers.values():
            (left, right), (bottom, top) = plot.viewRange()
            layer.set_frame(left, right, bottom, top)

    def _add_latency_axis(self, plot: pg.PlotItem, fg: QColor) -> tuple[pg.ViewBox, Series]:
        """Latency has its own scale (ms) on the right axis, in a second view box that
        follows the plot's x range and geometry (pyqtgraph's multiple-axes pattern)."""
        view = pg.ViewBox(enableMouse=False, enableMenu=False)
        right = plot.getAxis("right")
        right.setStyle(showValues=True)
        right.setPen(fg)
        right.setTextPen(QColor(RED))
        right.setLabel("latency", units="ms", color=RED)
        right.enableAutoSIPrefix(False)  # plain ms, never "kms"
        plot.scene().addItem(view)
        right.linkToView(view)
        view.setXLink(plot)
        curve = self._curve(view, RED)
        plot.vb.sigResized.connect(self._sync_latency_view)
        return view, curve

    def _sync_latency_view(self) -> None:
        self.latency_view.setGeometry(self.disk_plot.vb.sceneBoundingRect())

    # -- API ----------------------------------------------------------------------------

    @property
    def window_s(self) -> int:
        return self._window_s

    def shown_range(self) -> tuple[float, float]:
        """The shown time range in Unix time, whichever way the axis reads."""
        lo, hi = self.cpu_plot.vb.viewRange()[0]
        return lo + self._x_offset, hi + self._x_offset

    def set_history(self, host_history: HostHistory | None, lock: Any = None) -> None:
        """Show this host (or nothing) and redraw at once. ``lock`` guards the history
        against the worker that writes it: the caller holds it for this call and for
        :meth:`refresh`; the widget takes it itself when the window toggle redraws."""
        self._history = host_history
        self._lock = lock if lock is not None else nullcontext()
        self.refresh()

    def set_window(self, seconds: int) -> None:
        """Show the last ``seconds`` (the toggle's choices, or any other)."""
        self._window_s = self.toggle.show_window(seconds)
        with self._lock:
            self.refresh()

    def clear(self) -> None:
        """Show no host (the host selection was cleared)."""
        self.set_history(None)

    def refresh(self) -> None:
        """Redraw from the history: call when the shown host has news (under its lock)."""
        h = self._history
        if h is None or h.last_time is None:
            self._data.clear()
            self._show_empty(None if h is None else h.name)
            return
        path = stored_history.store()
        if is_long(self._window_s) and path is not None:
            self._refresh_long(h, path)
            return
        if self._long_host is not None:      # back from a stored range
            self._long_host = None
            self.markers.clear()
            self._shown_rows = -1
        right = h.last_time
        left = right - self._window_s
        data = self._data
        data.update(h, self._window_s)
        self._set_text(self.title, h.name)
        self._update_status(h)
        past = self._stored_past(h, path, left, right, data)
        if past is not None:
            self._shown_rows = -1
            self._update_curves(past, whole=True)
        elif data.appended or data.reloaded or data.times.size != self._shown_rows:
            self._shown_rows = data.times.size
            self._update_curves(data, whole=data.reloaded)
        self._show_x(-float(self._window_s), 0.0, offset=right, relative=True)
        self._update_titles(h)
        self._update_bands(h, right)

    def _show_x(self, left: float, right: float, *, offset: float, relative: bool) -> None:
        """Show x from ``left`` to ``right`` with the curves moved by ``-offset``.

        Live windows hold the x range still at (-window, 0) and draw the curves shifted
        (each plot's curve layer): the axes keep their ticks and grid, the views their
        transforms, the layers their place and bounds, and only the curves are painted
        again. Stored windows move the range
        over Unix time (offset 0) under a clock and calendar axis."""
        for axis in self.time_axes:
            axis.set_relative(relative)
        if offset != self._x_offset:
            self._x_offset = offset
            for _, layer in self._layers.values():
                layer.set_offset(offset)
        if (left, right) != self._x_range:
            self._x_range = (left, right)
            self.cpu_plot.setXRange(left, right, padding=0)
            self._settle_views()
        self._frame_curves()

    def _settle_views(self) -> None:
        """Apply the new ranges to the views' transforms now. pyqtgraph defers that to
        the start of the next paint, where changing a transform marks the scene dirty
        again: every refresh was painted twice."""
        for view in (*(plot.vb for plot in self.plots), self.latency_view):
            view.prepareForPaint()

    # -- stored history ------------------------------------------------------------------

    def _refresh_long(self, h: HostHistory, path: Any) -> None:
        """1 day / 7 days / 90 days: drawn from the history file, read off this thread."""
        right = h.last_time
        left = right - self._window_s
        self._set_text(self.title, h.name)
        self._update_status(h)
        if self._long_host != h.name:        # another host, or just switched: no stale lines
            self._long_host = h.name
            self._data.clear()
            self.markers.clear()
            self._drop_staged()
            for curve in self.curves:
                curve.setData([], [])
        if self._loader.needs(h.name, None, self._window_s, right):
            self._loader.request(path, h.name, None, self._window_s, right, self._show_stored)
        self._show_x(left, right, offset=0.0, relative=False)
        self._update_titles(h)
        self._update_bands(h, right)

    def _show_stored(self, result: StoredRange) -> None:
        h = self._history
        if h is None or result.host != h.name or not is_long(self._window_s):
            return
        if result.series is None:
            self._set_status("No stored history of this host yet", alarming=False)
            return
        s = result.series
        self._update_curves(StoredData(s.times, s.mean, s.fields), whole=True)
        self._frame_curves()      # the y ceilings may have changed
        self.markers.show(result.markers)

    def _stored_past(self, h: HostHistory, path: Any, left: float, right: float,
                     data: SeriesWindow) -> StoredData | None:
        """After a restart the in-memory hour is short: the stored polls before it fill the
        window, so opening the window shows the past at once."""
        if path is None or not data.times.size or data.times[0] <= left + 60.0:
            self._past = None
            return None
        if self._past_loader.needs(h.name, None, self._window_s, right):
            self._past_loader.request(path, h.name, None, self._window_s, right, self._got_past,
                                      tier=stored_history_raw())
        past = self._past
        if past is None or past.host != h.name or past.series is None or not len(past.series):
            return None
        keep = past.series.times < data.times[0]
        if not keep.any() or past.series.fields != data.fields:
            return None
        return StoredData(np.concatenate((past.series.times[keep], data.times)),
                          np.concatenate((past.series.mean[:, keep], data.values), axis=1), data.fields)

    def _got_past(self, result: StoredRange) -> None:
        self._past = result
        if self._history is not None and not is_long(self._window_s):
            with self._lock:
                self.refresh()

    def _update_curves(self, data: SeriesWindow | StoredData, *, whole: bool = False) -> None:
        """Hand each plot its new series and y ceilings. Staged (:attr:`staged`), a plot
        whose scale changes waits for its own event-loop turn when another plot's scale
        already changed in this one (a value axis drawn again, ticks, labels and its
        pixmap, costs a few milliseconds, and a new host changes three or four at once),
        and a ``whole`` new series (a new host or window) is shown one plot per turn."""
        times, col = data.times, data.column
        used_gb = col("memory_used_mb") / MB_PER_GB
        total_gb = col("memory_total_mb") / MB_PER_GB
        read, write, latency = col("storage_read_bps"), col("storage_write_bps"), col("storage_latency_ms")
        rx, tx = col("network_rx_bps"), col("network_tx_bps")
        steps: tuple[PlotStep, ...] = (
            (((self.cpu_total, col("cpu_total_pct")), (self.cpu_guest, col("cpu_guest_pct")),
              (self.cpu_root, col("cpu_root_pct"))), ()),
            (((self.mem_used, used_gb), (self.mem_total, total_gb)),
             ((self.mem_plot, nice_ceiling(used_gb, total_gb, floor=1.0)),)),
            (((self.disk_read, read), (self.disk_write, write), (self.disk_latency, latency)),
             ((self.disk_plot, nice_ceiling(read, write, floor=1e6)),
              (self.latency_view, nice_ceiling(latency, floor=10.0)))),
            (((self.net_rx, rx), (self.net_tx, tx)), ((self.net_plot, nice_ceiling(rx, tx, floor=1e6)),)),
        )
        self._drop_staged()
        rescaled = False
        for index, (curves, ceilings) in enumerate(steps):
            rescales = any(self._y_tops.get(id(view)) != top for view, top in ceilings)
            if self.staged and index and (whole or (rescales and rescaled)):
                self._staged_steps.append((times, curves, ceilings))
                continue
            rescaled = rescaled or rescales
            self._apply_step(times, curves, ceilings)
        if self._staged_steps:
            self._stage_timer.start()

    def _apply_step(self, times: np.ndarray, curves: tuple[tuple[Series, np.ndarray], ...],
                    ceilings: tuple[tuple[Any, float], ...]) -> None:
        for curve, values in curves:
            curve.setData(times, values)
        for view, top in ceilings:
            self._set_y(view, top)

    def _next_staged(self) -> None:
        """One waiting plot: its series, its new scale, its curves' frame."""
        if not self._staged_steps:
            return
        self._apply_step(*self._staged_steps.pop(0))
        self._frame_curves()
        if self._staged_steps:
            self._stage_timer.start()

    def _drop_staged(self) -> None:
        self._staged_steps.clear()
        self._stage_timer.stop()

    def finish_staged(self) -> None:
        """Apply every plot still waiting for its turn now (tests, and before a grab)."""
        while self._staged_steps:
            self._next_staged()

    def _set_y(self, plot: Any, top: float) -> None:
        """Change a y range only when its ceiling changed (each change re-lays the axis)."""
        if self._y_tops.get(id(plot)) != top:
            self._y_tops[id(plot)] = top
            plot.setYRange(0, top, padding=0.02)
            if not isinstance(plot, pg.ViewBox):
                # A new SI prefix ("B/s" to "MB/s") changes the axis label's width, and
                # pyqtgraph centres the label only when the axis is resized: now.
                plot.getAxis("left").resizeEvent()
            # The view's new transform now, not at the start of the next paint, where it
            # would mark the scene dirty again and have it painted twice.
            (plot if isinstance(plot, pg.ViewBox) else plot.vb).prepareForPaint()

    @staticmethod
    def _set_text(label: QLabel, text: str) -> None:
        if label.text() != text:   # a QLabel re-lays its layout on every setText
            label.setText(text)

    # -- pieces of refresh --------------------------------------------------------------

    def _update_titles(self, h: HostHistory | None) -> None:
        for plot, entries in self._legends:
            self.legend_lines[plot].set_values(tuple(
                fmt(None if h is None else h.buffer.latest(field)) for _, _, field, fmt in entries))

    def legend_text(self, plot: pg.PlotItem) -> str:
        """What ``plot``'s legend line says (for tests and accessibility)."""
        return self.legend_lines[plot].text()

    def _update_status(self, h: HostHistory) -> None:
        if h.unreachable_since is not None:
            err = h.last_snapshot.error if h.last_snapshot is not None else None
            reason = "" if err is None else f" ({err.kind}: {err.message})"
            self._set_status(f"Unreachable since {local_hms(h.unreachable_since)}{reason}", alarming=True)
        else:
            snap = h.last_reachable
            cpus = None if snap is None or snap.resources is None else snap.resources.logical_processors
            extra = "" if cpus is None else f" · {cpus} logical processors"
            polled = "" if snap is None else f"Last poll {local_hms(snap.polled_at)}"
            self._set_status(polled + extra, alarming=False)

    def _set_status(self, text: str, *, alarming: bool) -> None:
        self.status.set_text(text, alarming=alarming)

    def _update_bands(self, h: HostHistory, right: float) -> None:
        since = h.unreachable_since
        for band in self.unreachable_bands:
            if since is None:
                band.hide()
            else:
                # In the view's x: relative to the newest poll in a live window.
                band.setRegion((since.timestamp() - self._x_offset, right - self._x_offset))
                band.show()

    def _show_empty(self, name: str | None = None) -> None:
        self._drop_staged()
        self.markers.clear()
        self._set_text(self.title, name or "No host selected")
        self._set_status("No data yet" if name else "", alarming=False)
        self._shown_rows = 0
        for curve in self.curves:
            curve.setData([], [])
        for band in self.unreachable_bands:
            band.hide()
        self._update_titles(None)
        # The empty plots already show the live window's still scale: the first data
        # then moves in under axes drawn beforehand, not with all four drawn anew.
        self._show_x(-float(self._window_s), 0.0, offset=self._x_offset, relative=True)


def stored_history_raw() -> Any:
    """The full-resolution tier (the hour before the in-memory one starts)."""
    from hvconsole.core.historydb import RAW
    return RAW
