"""The words and colours of the graphs (the host graphs and the VM window's): colours per
kind of value, values as the admin reads them ("41 %", "176.9 GB", "14.9 MB/s"), the
palette the graphs follow, the admin's clock. No pyqtgraph: the host graphs paint their
own plots, so the window imports pyqtgraph only when a VM window shows its plots.
"""

from __future__ import annotations

import math
from datetime import datetime

from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QWidget

# Tableau-10 hues: distinguishable, and readable on light and dark backgrounds alike.
# Blue is always "in" (read, receive), orange always "out" (write, send).
BLUE, ORANGE, GREEN, RED, PURPLE, GREY = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#7f7f7f")
# Memory in binary GB (1024 MB), as Windows, Hyper-V Manager and the tiles show it.
MB_PER_GB = 1024.0
# SI prefixes from 10⁻²⁴ to 10²⁴, as pyqtgraph writes them (the axes and values it drew).
SI_PREFIXES = "yzafpnµm kMGTPEZY"


def palette_colors(widget: QWidget) -> tuple[QColor, QColor]:
    """(background, foreground) of the surrounding Qt palette, so graphs follow the
    application's light or dark theme instead of pyqtgraph's fixed black."""
    pal = widget.palette()
    return pal.color(QPalette.ColorRole.Base), pal.color(QPalette.ColorRole.WindowText)


def si_scale(x: float) -> tuple[float, str]:
    """(factor, prefix) that writes ``x`` with 1 to 3 digits before the point: 2.5e7 →
    (1e-6, "M"). pyqtgraph's ``siScale``, so values read as they did."""
    if not math.isfinite(x) or abs(x) < 1e-25:
        return 1.0, ""
    m = int(min(max(math.floor(math.log(abs(x)) / math.log(1000)), -9), 9))
    if m == 0:
        return 1.0, ""
    prefix = f"e{m * 3}" if m < -8 or m > 8 else SI_PREFIXES[m + 8]
    return 10.0 ** (-3 * m), prefix


def si_format(x: float, suffix: str, precision: int = 3) -> str:
    """``14.9 MB/s``: three significant digits and an SI prefix (pyqtgraph's ``siFormat``)."""
    factor, prefix = si_scale(x)
    if not prefix.startswith("e"):
        prefix = " " + prefix
    return f"%.{precision}g%s%s" % (x * factor, prefix, suffix)


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
    return "—" if v is None else si_format(v, "B/s")


def fmt_gb(mb: float | None) -> str:
    return "—" if mb is None else f"{mb / MB_PER_GB:.1f} GB"


def fmt_ms(v: float | None) -> str:
    """``1.8 ms``; from a second on in seconds, as the latency axis then reads
    (``2.35 s``, ``12.5 s``)."""
    if v is None:
        return "—"
    if v < 1000:
        return f"{v:.1f} ms"
    return f"{v / 1000:.2f} s" if v < 10_000 else f"{v / 1000:.1f} s"


def local_hms(dt: datetime) -> str:
    """The admin's wall clock, like the graphs' time axes."""
    return dt.astimezone().strftime("%H:%M:%S")
