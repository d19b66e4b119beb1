"""What the host graphs and the VM window's graphs share: colours, value wording, the
palette, and the VM window's pyqtgraph plots (a local-clock time axis, curves, the legend
as a title). The host graphs paint their own plots (graph_canvas.py); the VM window shows
two small plots that a poll of one VM refreshes, and keeps pyqtgraph for them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QWidget

from .graph_plot import LEFT_AXIS_WIDTH, RIGHT_AXIS_WIDTH
from .graph_scale import nice_ceiling, rate_ceiling

__all__ = ["nice_ceiling", "rate_ceiling"]

# Tableau-10 hues: distinguishable, and readable on light and dark backgrounds alike.
# Blue is always "in" (read, receive), orange always "out" (write, send).
BLUE, ORANGE, GREEN, RED, PURPLE, GREY = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#7f7f7f")
# Memory in binary GB (1024 MB), as Windows, Hyper-V Manager and the tiles show it.
MB_PER_GB = 1024.0


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
