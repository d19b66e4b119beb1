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


def rate_ceiling(*series: object, floor: float) -> float:
    """Top of a 0-based y range: 10 % above the largest visible value, at least ``floor``
    so that an idle host does not get a y axis zoomed into noise."""
    import numpy as np
    top = floor
    for s in series:
        arr = np.asarray(s)
        if arr.size and not np.isnan(arr).all():
            top = max(top, float(np.nanmax(arr)) * 1.1)
    return top


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
    scaled (no "mGB", no "kms")."""

    def __init__(self, label: str, units: str, *, top: float = 1.0, si_prefix: bool = True,
                 fixed_ticks: tuple[float, ...] | None = None, colour: str | None = None):
        self.label = label
        self.units = units
        self.top = top
        self.si_prefix = si_prefix
        self.fixed_ticks = fixed_ticks
        self.colour = colour           # tick labels and title; None: the foreground

    def view_range(self) -> tuple[float, float]:
        return -PADDING * self.top, (1 + PADDING) * self.top

    def _scale(self) -> tuple[float, str]:
        if not self.si_prefix:
            return 1.0, ""
        return si_scale(self.top)

    def title(self) -> str:
        """"Storage (MB/s)": the label with its units, prefixed for the present ceiling."""
        _, prefix = self._scale()
        return f"{self.label} ({prefix}{self.units})" if self.units else self.label

    def ticks(self, height_px: float) -> list[tuple[float, str]]:
        """(value, label) of each tick, from 0 up to the ceiling."""
        scale, _ = self._scale()
        if self.fixed_ticks is not None:
            values = list(self.fixed_ticks)
            step = min(b - a for a, b in pairwise(values)) if len(values) > 1 else 1.0
        else:
            most = max(2, min(MAX_INTERVALS, int(height_px // PX_PER_INTERVAL)))
            step = nice_step(self.top, most)
            values = [k * step for k in range(int(self.top / step + 1e-9) + 1)]
        decimals = max(0, -math.floor(math.log10(step * scale) + 1e-9))
        return [(v, "0" if v == 0 else f"{v * scale:.{decimals}f}") for v in values]
