"""The stored windows' clock axis across a daylight-saving change: day lines on local
midnight, hour lines on whole hours."""

from __future__ import annotations

import time
from datetime import datetime
from itertools import pairwise

import pytest

from hvconsole.ui.hosts.time_axis import DAY_S, clock_ticks


@pytest.fixture
def berlin(monkeypatch):
    monkeypatch.setenv("TZ", "Europe/Berlin")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.mark.parametrize("right", [datetime(2026, 4, 2, 12, 0), datetime(2026, 11, 1, 12, 0)])
def test_a_week_across_a_clock_change_keeps_its_days_on_midnight(berlin, right):
    t1 = right.timestamp()          # naive: Berlin's local time (DST began 29 Mar, ended 25 Oct)
    ticks = clock_ticks(t1 - 7 * DAY_S, t1, width_px=700)
    assert len(ticks) == 7
    for t, label in ticks:
        local = datetime.fromtimestamp(t)
        assert (local.hour, local.minute) == (0, 0)
        assert label == local.strftime("%d %b").lstrip("0")


def test_a_day_across_a_clock_change_keeps_whole_hours(berlin):
    t1 = datetime(2026, 3, 29, 18, 0).timestamp()
    ticks = clock_ticks(t1 - DAY_S, t1, width_px=400)
    assert ticks
    assert all(datetime.fromtimestamp(t).minute == 0 for t, _ in ticks)
    assert all(t1 - DAY_S <= t <= t1 for t, _ in ticks)


@pytest.mark.parametrize("days", [1, 7])
def test_a_stored_window_in_the_pane_labels_its_axis_often_without_overlap(graphs, days):
    """At the pane's 420 px a week read "30 Apr" alone (labels were given 90 px each)."""
    canvas = graphs.graphics
    right = datetime(2026, 5, 4, 9, 30).timestamp()
    canvas.set_x(right - days * DAY_S, right, offset=0.0, relative=False)
    ticks = canvas.time_ticks()
    assert len(ticks) >= 3
    ax, _ = graphs.net_plot.x_map()
    m = canvas.style_.metrics
    for (t0, a), (t1, b) in pairwise(ticks):
        assert (ax * t1 - ax * t0) - (m.horizontalAdvance(a) + m.horizontalAdvance(b)) / 2 >= 8
