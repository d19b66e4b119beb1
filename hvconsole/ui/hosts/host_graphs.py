"""Live resource graphs of one Hyper-V host: hypervisor CPU run time, memory, storage
throughput and latency, network throughput, over the last 5 minutes or hour, or a stored
day, week or 90 days.

The widget only reads a :class:`~hvconsole.core.history.HostHistory`; the host's poll
worker owns it and the monitoring page calls :meth:`HostGraphs.refresh` when the shown
host has news. A refresh is built to fit a frame next to 2,000 tiles (docs/performance.md):

* the window's data is kept here and only the rows added since the last refresh are read
  from the ring buffer and appended (graph_series.py); a new host, a new window length
  or a buffer that went back in time reloads it;
* the four plots are painted by one widget (graph_canvas.py, graph_plot.py): axes, ticks,
  labels, grid and levels held as a picture, a poll repainting only the curves
  (live_curve.py: one ``setData`` that keeps the arrays, one polyline per run at the next
  paint), the band and the legend values that changed;
* fixed or "nice" y ranges that change only when the data outgrows them (graph_scale.py);
* the live windows (5 min, 1 h) hold their x range still at seconds before the newest
  poll ("−5 min" ... "now", time_axis.py) and draw the curves shifted under it; the
  stored windows (1 day and more) keep clock and dates;
* the status line is repainted without re-laying the pane (status_line.py);
* staged (:attr:`HostGraphs.staged`, the monitoring page's), a new host or window is
  shown one plot per event-loop turn, and a poll that rescales two plots draws the
  second a turn later.

The words and colours the VM window shares are in graph_words.py, its pyqtgraph plots in
plot_helpers.py (re-exported here for it, imported when it asks: the main window never
imports pyqtgraph).
"""

from __future__ import annotations

import math
from contextlib import nullcontext
from typing import Any

import numpy as np
from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QBrush, QColor, QFont, QPen
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from hvconsole.core.history import HostHistory
from hvconsole.monitoring.formatting import format_mb

from . import stored_history
from .graph_canvas import GraphCanvas
from .graph_plot import GraphPlot
from .graph_scale import LARGER_UNIT_FROM, Scale, nice_ceiling, rate_ceiling
from .graph_series import SeriesWindow, StoredData
from .graph_toggle import WINDOW_CHOICES, WindowToggle, title_and_toggle
from .graph_words import (
    BLUE,
    GREEN,
    GREY,
    MB_PER_GB,
    ORANGE,
    PURPLE,
    RED,
    fmt_gb,
    fmt_ms,
    fmt_pct,
    fmt_rate,
    legend_html,
    local_hms,
    palette_colors,
)
from .live_curve import Series
from .status_line import StatusLine
from .stored_history import RangeLoader, StoredRange, is_long

# What the VM window (and tests) take from here.
__all__ = ["BLUE", "DEFAULT_WINDOW_S", "GREEN", "GREY", "MB_PER_GB", "ORANGE", "PURPLE", "RED",
           "WINDOW_CHOICES", "HostGraphs", "SeriesWindow", "StoredData", "WindowToggle", "fmt_gb",
           "fmt_ms", "fmt_pct", "fmt_rate", "legend_html", "local_hms", "nice_ceiling",
           "palette_colors", "rate_ceiling", "title_and_toggle"]
# The VM window's pyqtgraph plots, imported (with pyqtgraph) when it asks for them.
_PLOT_HELPERS = ("make_curve", "make_time_plot")


def __getattr__(name: str) -> Any:
    if name in _PLOT_HELPERS:
        from . import plot_helpers
        return getattr(plot_helpers, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


DEFAULT_WINDOW_S = 3600
# Between two staged plot updates (HostGraphs.staged): enough for the event loop to paint
# the first and serve what else is waiting before the next.
STAGE_DELAY_MS = 2
LEGEND_POINT_SIZE = 8.0
# A plot's share of a refresh: (curve, values) pairs and (scale, y ceiling) pairs.
PlotStep = tuple[tuple[tuple[Series, np.ndarray], ...], tuple[tuple[Scale, float], ...]]


def _series(plot: GraphPlot, colour: str, *, dashed: bool = False, fill: bool = False,
            right: bool = False) -> Series:
    """A curve of ``plot``: NaN breaks the line, optionally shaded down to zero in its
    colour, faintly."""
    brush = None
    if fill:
        shade = QColor(colour)
        shade.setAlpha(60)
        brush = QBrush(shade)
    pen = QPen(QColor(colour), 1, Qt.PenStyle.DashLine if dashed else Qt.PenStyle.SolidLine)
    return plot.add_series(pen, brush, right=right)


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
        bg, fg = palette_colors(self)

        self.title = QLabel("No host selected", self)
        self.title.setTextFormat(Qt.TextFormat.PlainText)  # host names are data
        bold = QFont(self.title.font())
        bold.setBold(True)
        self.title.setFont(bold)
        # Plain text (error messages come from hosts), repainted without a re-layout.
        self.status = StatusLine(RED, self)
        header, self.toggle = title_and_toggle(self, self.title, self._window_s, self.set_window)

        self.graphics = GraphCanvas(bg, fg, self)
        self._build_plots()
        # Ranges beyond the in-memory hour, and the past before it after a restart.
        self._loader = RangeLoader(self)
        self._past_loader = RangeLoader(self)
        self._past: StoredRange | None = None
        self._long_host: str | None = None
        self.markers = self.graphics.markers

        box = QVBoxLayout(self)
        box.setContentsMargins(4, 4, 4, 4)
        box.addLayout(header)
        box.addWidget(self.status)
        box.addWidget(self.graphics, 1)
        self.setMinimumSize(360, 480)
        self._show_empty()

    def _build_plots(self) -> None:
        canvas = self.graphics
        font = QFont(self.font())
        font.setPointSizeF(LEGEND_POINT_SIZE)
        # Per plot: the legend entries (colour, name, history field, value formatter).
        cpu_legend = ((BLUE, "total", "cpu_total_pct", fmt_pct), (GREEN, "guest", "cpu_guest_pct", fmt_pct),
                      (ORANGE, "root", "cpu_root_pct", fmt_pct))
        # Memory as the host list and tiles write it ("175.6 GB", "1.50 TB").
        mem_legend = ((PURPLE, "used", "memory_used_mb", format_mb), (GREY, "total", "memory_total_mb", format_mb))
        disk_legend = ((BLUE, "read", "storage_read_bps", fmt_rate), (ORANGE, "write", "storage_write_bps", fmt_rate),
                       (RED, "latency", "storage_latency_ms", fmt_ms))
        net_legend = ((BLUE, "rx", "network_rx_bps", fmt_rate), (ORANGE, "tx", "network_tx_bps", fmt_rate))

        def keys(entries: Any) -> tuple[tuple[str, str], ...]:
            return tuple((colour, name) for colour, name, _, _ in entries)

        self.cpu_plot = canvas.add_plot(
            Scale("CPU run", "%", top=100.0, si_prefix=False, fixed_ticks=(0, 25, 50, 75, 100)),
            keys(cpu_legend), font, levels=(25.0, 50.0, 75.0))
        self.cpu_total = _series(self.cpu_plot, BLUE)
        self.cpu_guest = _series(self.cpu_plot, GREEN)
        self.cpu_root = _series(self.cpu_plot, ORANGE)

        self.mem_plot = canvas.add_plot(Scale("Memory", "GB", si_prefix=False, larger=(1024.0, "TB")),
                                        keys(mem_legend), font)
        self.mem_used = _series(self.mem_plot, PURPLE, fill=True)
        self.mem_total = _series(self.mem_plot, GREY, dashed=True)

        # Latency has its own scale (ms, never "kms") on the right axis, in red; in seconds
        # from a ceiling of 1 s ("2000" does not fit beside the axis title).
        self.latency_view = Scale("latency", "ms", top=10.0, si_prefix=False, colour=RED,
                                  larger=(1000.0, "s", 1000.0))
        self.disk_plot = canvas.add_plot(Scale("Storage", "B/s", top=1e6), keys(disk_legend), font,
                                         right=self.latency_view)
        self.disk_read = _series(self.disk_plot, BLUE)
        self.disk_write = _series(self.disk_plot, ORANGE)
        self.disk_latency = _series(self.disk_plot, RED, right=True)

        self.net_plot = canvas.add_plot(Scale("Network", "B/s", top=1e6), keys(net_legend), font)
        self.net_rx = _series(self.net_plot, BLUE)
        self.net_tx = _series(self.net_plot, ORANGE)

        self.plots = (self.cpu_plot, self.mem_plot, self.disk_plot, self.net_plot)
        self.curves = (self.cpu_total, self.cpu_guest, self.cpu_root, self.mem_used,
                       self.mem_total, self.disk_read, self.disk_write, self.disk_latency,
                       self.net_rx, self.net_tx)
        self._legends = ((self.cpu_plot, cpu_legend), (self.mem_plot, mem_legend),
                         (self.disk_plot, disk_legend), (self.net_plot, net_legend))
        self._scale_plot = {id(p.scale): p for p in self.plots}
        self._scale_plot[id(self.latency_view)] = self.disk_plot
        self.unreachable_bands = [plot.band for plot in self.plots]

    # -- API ----------------------------------------------------------------------------

    @property
    def window_s(self) -> int:
        return self._window_s

    def shown_range(self) -> tuple[float, float]:
        """The shown time range in Unix time, whichever way the axis reads."""
        lo, hi = self.graphics.x_range
        return lo + self.graphics.offset, hi + self.graphics.offset

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
            self._refresh_long(h, path, h.last_time)
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

        Live windows hold the x range still at (-window, 0) and draw the curves shifted:
        the axes, grid and labels stay as drawn and only the curves are painted again.
        Stored windows move the range over Unix time (offset 0) under a clock and
        calendar axis."""
        self.graphics.set_x(left, right, offset=offset, relative=relative)

    # -- stored history ------------------------------------------------------------------

    def _refresh_long(self, h: HostHistory, path: Any, right: float) -> None:
        """1 day / 7 days / 90 days: drawn from the history file, read off this thread."""
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
            # The range the loader last delivered is no longer drawn (and one still being
            # read is another host's): read this one, however recently it was read.
            self._loader.forget()
        if self._loader.needs(h.name, None, self._window_s, right):
            self._loader.request(path, h.name, None, self._window_s, right, self._show_stored)
        # The range ends where the stored curves end, moved when they are read again (once
        # a minute): moving it with every poll drew all four axes again each time (a
        # day's 5 s is a tenth of a pixel) while the curves held still.
        loader = self._loader
        if loader.loaded_key == (h.name, None, self._window_s) and loader.loaded_right is not None:
            left, right_shown = loader.loaded_right - self._window_s, loader.loaded_right
        else:
            right_shown = right
        self._show_x(left, right_shown, offset=0.0, relative=False)
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
        self.markers.show(result.markers)
        self._show_x(result.t0, result.t1, offset=0.0, relative=False)

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
        picture, costs a millisecond or two, and a new host changes three or four at once),
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
             ((self.mem_plot.scale, memory_ceiling(used_gb, total_gb)),)),
            (((self.disk_read, read), (self.disk_write, write), (self.disk_latency, latency)),
             ((self.disk_plot.scale, nice_ceiling(read, write, floor=1e6)),
              (self.latency_view, nice_ceiling(latency, floor=10.0)))),
            (((self.net_rx, rx), (self.net_tx, tx)), ((self.net_plot.scale, nice_ceiling(rx, tx, floor=1e6)),)),
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
        if self._staged_steps:
            self._stage_timer.start()

    def _drop_staged(self) -> None:
        self._staged_steps.clear()
        self._stage_timer.stop()

    def finish_staged(self) -> None:
        """Apply every plot still waiting for its turn now (tests, and before a grab)."""
        while self._staged_steps:
            self._next_staged()

    def _set_y(self, scale: Scale, top: float) -> None:
        """Change a y range only when its ceiling changed (its plot's axes are drawn again)."""
        if self._y_tops.get(id(scale)) != top:
            self._y_tops[id(scale)] = top
            scale.top = top
            self.graphics.redraw_still(self._scale_plot[id(scale)])

    @staticmethod
    def _set_text(label: QLabel, text: str) -> None:
        if label.text() != text:   # a QLabel re-lays its layout on every setText
            label.setText(text)

    # -- pieces of refresh --------------------------------------------------------------

    def _update_titles(self, h: HostHistory | None) -> None:
        for plot, entries in self._legends:
            plot.set_legend_values(tuple(
                fmt(None if h is None else _finite(h.buffer.latest(field))) for _, _, field, fmt in entries))

    def legend_text(self, plot: GraphPlot) -> str:
        """What ``plot``'s legend line says (for tests and accessibility)."""
        return plot.legend.text()

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
                offset = self.graphics.offset
                band.setRegion((since.timestamp() - offset, right - offset))
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
        self._show_x(-float(self._window_s), 0.0, offset=self.graphics.offset, relative=True)



def _finite(value: float | None) -> float | None:
    """A legend's value: an infinite one (a counter divided by no time) is as unknown as
    NaN, "—" rather than "inf B/s"."""
    return value if value is None or math.isfinite(value) else None


def memory_ceiling(used_gb: np.ndarray, total_gb: np.ndarray) -> float:
    """The memory plot's ceiling in GB: 1, 2 or 5 × 10ⁿ GB, or TB once the axis reads TB
    (50 TB, not 50,000 GB, so its top tick is a round number of TB)."""
    top = nice_ceiling(used_gb, total_gb, floor=1.0)
    if top >= LARGER_UNIT_FROM:
        top = nice_ceiling(used_gb / 1024.0, total_gb / 1024.0, floor=1.0) * 1024.0
    return top


def stored_history_raw() -> Any:
    """The full-resolution tier (the hour before the in-memory one starts)."""
    from hvconsole.core.historydb import RAW
    return RAW
