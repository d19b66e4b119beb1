"""Sparkline geometry, computed off the GUI thread: values → polylines in a unit square.

A tile's CPU sparkline is a few dozen percentages. Turning them into points costs
~30 µs per tile in Python, too much to do for every visible tile on every tick on the GUI
thread, so the worker does it once per poll and the delegate only scales the result to
the tile (:mod:`.sparkline`). Points are packed as native float64 pairs, the memory layout
of a ``QPolygonF``, so the painter copies them in one go. Qt-free.
"""

from __future__ import annotations

import math
import struct
from typing import Sequence

# Half the width of the tick that stands for a lone known value, in units of one step.
LONE_POINT_HALF_STEP = 0.5


def spark_runs(values: Sequence[float], capacity: int, y_max: float = 100.0
               ) -> tuple[tuple[bytes, bytes], ...]:
    """For each unbroken run of known values: ``(line, fill)`` as packed (x, y) float64
    pairs in the unit square (x: 1 = newest, right-aligned over ``capacity`` points;
    y: 0 = 0 %, 1 = ``y_max``). ``fill`` is the line closed down to y = 0. NaN or None
    (unknown) breaks the line; it never becomes a drop to zero."""
    if capacity < 2 or not values:
        return ()
    step = 1.0 / (capacity - 1)
    n = len(values)
    out = []
    run: list[float] = []
    first_x = last_x = 0.0
    for i, v in enumerate(values):
        known = v is not None and not math.isnan(v)
        if known:
            x = 1.0 - step * (n - 1 - i)
            if not run:
                first_x = x
            last_x = x
            run += (x, min(max(v / y_max, 0.0), 1.0))
        if run and (not known or i == n - 1):
            if len(run) == 2:  # a lone value: a short flat tick
                y = run[1]
                half = step * LONE_POINT_HALF_STEP
                first_x, last_x = run[0] - half, run[0] + half
                run = [first_x, y, last_x, y]
            line = struct.pack(f"{len(run)}d", *run)
            fill = struct.pack("2d", first_x, 0.0) + line + struct.pack("2d", last_x, 0.0)
            out.append((line, fill))
            run = []
    return tuple(out)
