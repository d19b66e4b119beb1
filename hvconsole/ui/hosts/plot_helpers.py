"""The VM window's two small plots, which keep pyqtgraph: a plot with a local-clock time
axis, grid and the legend as its title, and its curves. Imported only with the VM window
(host_graphs re-exports these names for it on first use), so the main window never
imports pyqtgraph; the host graphs paint their own plots (graph_canvas.py)."""

from __future__ import annotations

from typing import Any

import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor

from .graph_plot import LEFT_AXIS_WIDTH, RIGHT_AXIS_WIDTH


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
