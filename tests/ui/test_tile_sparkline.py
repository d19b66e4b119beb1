"""Tile sparkline geometry (computed on the poll worker): points in the unit square,
right-aligned, clamped, gaps break the line, a lone value is a short tick."""

from __future__ import annotations

import math
import struct

import pytest

from hvconsole.monitoring.spark_geometry import LONE_POINT_HALF_STEP, spark_runs


def pairs(packed: bytes) -> list[tuple[float, float]]:
    flat = struct.unpack(f"{len(packed) // 8}d", packed)
    return list(zip(flat[0::2], flat[1::2], strict=True))


def test_a_full_series_is_one_run_right_aligned_and_clamped():
    (line, fill), = spark_runs((0.0, 50.0, 100.0, 150.0, -5.0), capacity=5)
    assert pairs(line) == [(0.0, 0.0), (0.25, 0.5), (0.5, 1.0), (0.75, 1.0), (1.0, 0.0)]
    assert pairs(fill) == [(0.0, 0.0), *pairs(line), (1.0, 0.0)]


def test_a_short_series_ends_at_the_right_edge():
    (line, _), = spark_runs((10.0, 20.0), capacity=5)
    assert pairs(line) == [(0.75, 0.1), (1.0, 0.2)]


@pytest.mark.parametrize("unknown", [None, math.nan])
def test_unknown_values_break_the_line_never_drop_to_zero(unknown):
    runs = spark_runs((10.0, 20.0, unknown, 30.0, 40.0), capacity=5)
    assert [pairs(line) for line, _ in runs] == [[(0.0, 0.1), (0.25, 0.2)], [(0.75, 0.3), (1.0, 0.4)]]


def test_a_lone_value_is_a_short_flat_tick():
    (line, _), = spark_runs((math.nan, 30.0, math.nan), capacity=3)
    half = 0.5 * LONE_POINT_HALF_STEP
    assert pairs(line) == [(0.5 - half, 0.3), (0.5 + half, 0.3)]
    (single, _), = spark_runs((30.0,), capacity=3)
    assert pairs(single) == [(1.0 - half, 0.3), (1.0 + half, 0.3)]


def test_nothing_known_draws_nothing():
    assert spark_runs((None,) * 36, capacity=36) == ()
    assert spark_runs((math.nan,) * 36, capacity=36) == ()
    assert spark_runs((), capacity=36) == ()
    assert spark_runs((5.0,), capacity=1) == ()
