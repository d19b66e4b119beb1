"""A host graph's value scale: 0 to a ceiling, its ticks and their labels, its units with
an SI prefix where the unit takes one ("Storage (MB/s)"). Plain Python: the graph canvas
draws what this says.

The ceilings come from :func:`nice_ceiling` (1, 2 or 5 × 10ⁿ), so a scale changes only
when the data outgrows it, not with every poll; the view shows 2 % more on either side,
so a curve at 0 or at the ceiling is not hidden under the frame.
"""

from __future__ import annotations

import math
from itertools import pairwise

from .graph_words import si_scale

PADDING = 0.02          # of the range, below 0 and above the ceiling
MAX_INTERVALS = 5       # at most this many steps between 0 and the ceiling
PX_PER_INTERVAL = 18    # and at least this many pixels each
# A ceiling this high would label the axis with five digits ("20000"), wider than the
# left axis has room for beside its title: a scale with a larger unit switches to it
# (the right axis, narrower, from four digits: see Scale's ``larger``).
LARGER_UNIT_FROM = 10_000.0


def rate_ceiling(*series: object, floor: float) -> float:
    """Top of a 0-based y range: 10 % above the largest visible value, at least ``floor``
    so that an idle host does not get a y axis zoomed into noise."""
    import numpy as np
    top = floor
    for s in series:
        arr = np.asarray(s, dtype=float)
        # An infinite value (a counter divided by no time) is not drawn, so it does not
        # set the scale either; nor does a finite one whose 10 % more overflows.
        arr = arr[np.isfinite(arr)]
        if arr.size:
            top = max(top, float(arr.max()) * 1.1)
    return top if math.isfinite(top) else floor


def nice_ceiling(*series: object, floor: float) -> float:
    """Like :func:`rate_ceiling`, rounded up to 1, 2 or 5 × a power of ten, so the y range
    (and its axis labels) changes only when the data outgrows it, not with every poll."""
    top = rate_ceiling(*series, floor=floor)
    exponent = math.floor(math.log10(top))
    for step in (1.0, 2.0, 5.0, 10.0):
        nice = step * 10.0 ** exponent
        if nice >= top * (1 - 1e-9):
            return nice
    return top


def nice_step(top: float, most: int) -> float:
    """The smallest 1, 2 or 5 × 10ⁿ that divides 0..``top`` into at most ``most`` steps."""
    exponent = math.floor(math.log10(top / most))
    for _ in range(3):
        for mantissa in (1.0, 2.0, 5.0):
            step = mantissa * 10.0 ** exponent
            if top / step <= most + 1e-9:
                return step
        exponent += 1
    return top


class Scale:
    """One value axis: its label and units, ceiling and ticks.

    ``fixed_ticks`` pins the ticks (CPU: 0, 25, 50, 75, 100 %); ``si_prefix`` scales the
    labels and units of large values (B/s → MB/s), never for units that must not be
    scaled (no "mGB", no "kms"); those may name a ``larger`` unit instead (how many of
    ``units`` it holds, its name, and the ceiling from which it is used, by default
    :data:`LARGER_UNIT_FROM`): a 12 TB host's memory reads "Memory (TB)", a stalled
    disk's latency "latency (s)"."""

    def __init__(self, label: str, units: str, *, top: float = 1.0, si_prefix: bool = True,
                 fixed_ticks: tuple[float, ...] | None = None, colour: str | None = None,
                 larger: tuple[float, str] | tuple[float, str, float] | None = None):
        self.label = label
        self.units = units
        self.top = top
        self.si_prefix = si_prefix
        self.fixed_ticks = fixed_ticks
        self.colour = colour           # tick labels and title; None: the foreground
        self.larger = larger

    def view_range(self) -> tuple[float, float]:
        return -PADDING * self.top, (1 + PADDING) * self.top

    def _scale(self) -> tuple[float, str]:
        """(factor, units) the labels are written in: values × factor, in units."""
        if self.si_prefix:
            factor, prefix = si_scale(self.top)
            return factor, prefix + self.units
        if self.larger is not None:
            size, units = self.larger[:2]
            if self.top >= (self.larger[2] if len(self.larger) > 2 else LARGER_UNIT_FROM):
                return 1.0 / size, units
        return 1.0, self.units

    def title(self) -> str:
        """"Storage (MB/s)": the label with its units, prefixed for the present ceiling."""
        _, units = self._scale()
        return f"{self.label} ({units})" if self.units else self.label

    def ticks(self, height_px: float) -> list[tuple[float, str]]:
        """(value, label) of each tick, from 0 up to the ceiling."""
        scale, _ = self._scale()
        if self.fixed_ticks is not None:
            values = list(self.fixed_ticks)
            step = min(b - a for a, b in pairwise(values)) if len(values) > 1 else 1.0
        else:
            most = max(2, min(MAX_INTERVALS, int(height_px // PX_PER_INTERVAL)))
            if self.si_prefix or scale == 1.0:
                step = nice_step(self.top, most)
            else:       # a larger unit: ticks on its round numbers (10 TB, not 10000 GB)
                step = nice_step(self.top * scale, most) / scale
            values = [k * step for k in range(int(self.top / step + 1e-9) + 1)]
        decimals = max(0, -math.floor(math.log10(step * scale) + 1e-9))
        return [(v, "0" if v == 0 else f"{v * scale:.{decimals}f}") for v in values]
