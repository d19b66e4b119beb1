"""RingBuffer: order across wraparound, NaN for unknown, no-copy views, time windows."""

from __future__ import annotations

import math

import numpy as np
import pytest

from hvconsole.core.history import RingBuffer


def filled(capacity: int, count: int) -> RingBuffer:
    buf = RingBuffer(capacity, ("a", "b"))
    for i in range(count):
        buf.append(float(i), (float(i * 10), float(-i)))
    return buf


def test_empty_buffer_views_are_empty():
    buf = RingBuffer(4, ("a",))
    times, values = buf.view()
    assert times.shape == (0,) and values.shape == (1, 0)
    assert len(buf) == 0 and buf.last_time is None and buf.latest("a") is None


def test_before_wrap_view_is_in_order_and_shares_memory():
    buf = filled(8, 5)
    times, values = buf.view()
    assert times.tolist() == [0, 1, 2, 3, 4]
    assert values[0].tolist() == [0, 10, 20, 30, 40]
    assert values[1].tolist() == [0, -1, -2, -3, -4]
    assert np.shares_memory(times, buf._times)
    assert np.shares_memory(values, buf._values)


def test_wraparound_keeps_newest_capacity_rows_in_time_order():
    buf = filled(5, 12)
    times, values = buf.view()
    assert len(buf) == 5
    assert times.tolist() == [7, 8, 9, 10, 11]
    assert values[0].tolist() == [70, 80, 90, 100, 110]
    assert buf.last_time == 11 and buf.latest("b") == -11


def test_wrapped_exactly_at_slot_zero_needs_no_copy():
    buf = filled(5, 10)  # head back at slot 0
    times, _ = buf.view()
    assert times.tolist() == [5, 6, 7, 8, 9]
    assert np.shares_memory(times, buf._times)


@pytest.mark.parametrize("count", [3, 8])  # before the wrap, and wrapped at slot 0
def test_copy_true_gives_arrays_no_later_append_changes(count):
    buf = filled(8, count)
    times, values = buf.view(copy=True)
    assert not np.shares_memory(times, buf._times)
    assert not np.shares_memory(values, buf._values)
    kept_t, kept_v = times.tolist(), values.tolist()
    for i in range(count, count + 8):
        buf.append(float(i), (-1.0, -1.0))
    assert times.tolist() == kept_t and values.tolist() == kept_v
    t, v = buf.since(2.0, copy=True)
    assert not np.shares_memory(t, buf._times)


def test_views_are_read_only():
    times, values = filled(4, 6).view()
    with pytest.raises(ValueError):
        times[0] = 1.0
    with pytest.raises(ValueError):
        values[0, 0] = 1.0


def test_none_is_stored_as_nan_never_zero():
    buf = RingBuffer(4, ("a", "b"))
    buf.append(1.0, (None, 0.0))
    _, values = buf.view()
    assert math.isnan(values[0, 0])
    assert values[1, 0] == 0.0
    assert buf.latest("a") is None and buf.latest("b") == 0.0


def test_gap_rows_are_all_nan_and_detected():
    buf = filled(6, 2)
    assert not buf.last_row_is_gap()
    buf.append_gap(5.0)
    assert buf.last_row_is_gap()
    _, values = buf.view()
    assert np.isnan(values[:, -1]).all()
    buf.append(6.0, (1.0, None))  # partly known is not a gap
    assert not buf.last_row_is_gap()


def test_time_must_not_go_backwards_or_be_nan():
    buf = filled(4, 3)
    with pytest.raises(ValueError, match="backwards"):
        buf.append(1.0, (0.0, 0.0))
    with pytest.raises(ValueError, match="finite"):
        buf.append(math.nan, (0.0, 0.0))
    buf.append(2.0, (0.0, 0.0))  # equal time is allowed (two polls in one clock tick)
    assert len(buf) == 4


def test_wrong_number_of_values_is_refused():
    with pytest.raises(ValueError, match="expected 2 values"):
        RingBuffer(4, ("a", "b")).append(0.0, (1.0,))


def test_since_and_series_select_a_time_window_across_the_wrap():
    buf = filled(5, 12)  # holds 7..11
    times, values = buf.since(9.0)
    assert times.tolist() == [9, 10, 11]
    assert values[1].tolist() == [-9, -10, -11]
    t, b = buf.series("b", since=10.5)
    assert t.tolist() == [11] and b.tolist() == [-11]
    t, a = buf.series("a")
    assert t.tolist() == [7, 8, 9, 10, 11] and a.tolist() == [70, 80, 90, 100, 110]
    with pytest.raises(KeyError):
        buf.series("nope")


def test_memory_is_fixed_at_construction():
    buf = RingBuffer(100, ("a", "b", "c"))
    before = buf.nbytes
    assert before == 100 * 8 * 4
    for i in range(1000):
        buf.append(float(i), (1.0, 2.0, 3.0))
    assert buf.nbytes == before and len(buf) == 100


@pytest.mark.parametrize("capacity,fields", [(1, ("a",)), (4, ())])
def test_bad_construction(capacity, fields):
    with pytest.raises(ValueError):
        RingBuffer(capacity, fields)
