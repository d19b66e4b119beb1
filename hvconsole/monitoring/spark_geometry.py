"""Sparkline geometry, computed off the GUI thread: values → polylines in a unit square.

A tile's CPU sparkline is a few dozen percentages. Turning them into points costs
~30 µs per tile in Python, too much to do for every visible tile on every tick on the GUI
thread, so the worker does it once per poll and the delegate only scales the result to
the tile (:mod:`.sparkline`). Points are packed as native float64 pairs, the memory layout
of a ``QPolygonF``, so the painter copies them in one go. Qt-free (NumPy only).
"""

from __future__ import annotations

import math
import struct
from collections.abc import Sequence
from typing import TYPE_CHECKING, cast

if TYPE_CHECKING:
    import numpy as np

# numpy (~0.1 s of imports) is imported where it is first used, a host's first answer,
# not with this module: the window imports the workers' modules before its first polls
# leave, and a first start waits for those imports (docs/performance.md, "Startup").

# Half the width of the tick that stands for a lone known value, in units of one step.
LONE_POINT_HALF_STEP = 0.5


def spark_runs(values: Sequence[float | None], capacity: int, y_max: float = 100.0
               ) -> tuple[tuple[bytes, bytes], ...]:
    """For each unbroken run of known values: ``(line, fill)`` as packed (x, y) float64
    pairs in the unit square (x: 1 = newest, right-aligned over ``capacity`` points;
    y: 0 = 0 %, 1 = ``y_max``). ``fill`` is the line closed down to y = 0. NaN or None
    (unknown) breaks the line; it never becomes a drop to zero.

    Every VM's row is rebuilt on every poll (2,000 rows per 5 s at the largest site), so
    this is written for speed: a series without gaps (the usual case) is packed by NumPy
    in one go, ~2× faster than a loop over the values."""
    if capacity < 2 or not values:
        return ()
    n = len(values)
    if n == 1 or None in values or any(v != v for v in values):   # NaN is not equal to itself
        # Gaps (or nothing known: a VM that is off) are rarer: per value in Python.
        return _runs_with_gaps(values, capacity, y_max)
    import numpy as np
    ys = np.array(values, dtype=np.float64)
    ys /= y_max
    # Clamped to [0, 1] with the ufuncs themselves: np.clip's Python wrapper costs more
    # than the work on 36 values.
    np.minimum(ys, 1.0, out=ys)
    np.maximum(ys, 0.0, out=ys)
    xs = _x_positions(n, capacity)
    points = np.empty(2 * n)
    points[0::2] = xs
    points[1::2] = ys
    line = points.tobytes()
    return ((line, _PAIR.pack(float(xs[0]), 0.0) + line + _PAIR.pack(float(xs[-1]), 0.0)),)


def _runs_with_gaps(values: Sequence[float | None], capacity: int, y_max: float
                    ) -> tuple[tuple[bytes, bytes], ...]:
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
            run += (x, min(max(v / y_max, 0.0), 1.0))  # type: ignore[operator]  # known: not None
        if run and (not known or i == n - 1):
            if len(run) == 2:  # a lone value: a short flat tick
                y = run[1]
                half = step * LONE_POINT_HALF_STEP
                first_x, last_x = run[0] - half, run[0] + half
                run = [first_x, y, last_x, y]
            line = struct.pack(f"{len(run)}d", *run)
            fill = _PAIR.pack(first_x, 0.0) + line + _PAIR.pack(last_x, 0.0)
            out.append((line, fill))
            run = []
    return tuple(out)


_PAIR = struct.Struct("=2d")
_X_CACHE: dict[tuple[int, int], np.ndarray] = {}


def _x_positions(n: int, capacity: int) -> np.ndarray:
    """x of each of ``n`` values, right-aligned over ``capacity`` points (read-only)."""
    xs = _X_CACHE.get((n, capacity))
    if xs is None:
        import numpy as np
        step = 1.0 / (capacity - 1)
        xs = 1.0 - step * (n - 1 - np.arange(n, dtype=np.float64))
        xs.flags.writeable = False
        if len(_X_CACHE) < 256:
            _X_CACHE[(n, capacity)] = xs
    return xs


def spark_batch(histories: Sequence[Sequence[float | None]], capacity: int, y_max: float = 100.0
                ) -> list[tuple | None]:
    """``spark_runs(h, capacity, y_max)`` for every history, the same bytes, with the
    usual case (a series without gaps, the same length for most VMs of a host) worked out
    by NumPy for all of them at once rather than one VM at a time. An entry left None is
    for the caller to work out alone (a series with gaps or unknowns, or a lone value)."""
    out: list[tuple | None] = [None] * len(histories)
    if capacity < 2:
        return out
    import numpy as np
    by_length: dict[int, list[int]] = {}
    for i, h in enumerate(histories):
        by_length.setdefault(len(h), []).append(i)
    pair = _PAIR.size
    for n, members in by_length.items():
        if n < 2 or len(members) < 2:
            continue  # a lone value, or one VM alone: nothing to gain
        try:
            # None becomes NaN here, and a row with a NaN is left to spark_runs.
            ys = np.array([histories[i] for i in members], dtype=np.float64)
        except (TypeError, ValueError):
            continue
        ys /= y_max
        np.minimum(ys, 1.0, out=ys)
        np.maximum(ys, 0.0, out=ys)
        gaps = cast(list[bool], np.isnan(ys).any(axis=1).tolist())
        xs = _x_positions(n, capacity)
        # Each row: the fill's first pair, the line's n pairs, the fill's last pair.
        width = 2 * n + 4
        points = np.zeros((len(members), width))
        points[:, 0] = xs[0]
        points[:, 2:2 * n + 2:2] = xs
        points[:, 3:2 * n + 2:2] = ys
        points[:, 2 * n + 2] = xs[-1]
        blob = points.tobytes()
        size = 8 * width
        start = 0
        for i, gap in zip(members, gaps, strict=True):
            if not gap:
                out[i] = ((blob[start + pair:start + size - pair], blob[start:start + size]),)
            start += size
    return out
