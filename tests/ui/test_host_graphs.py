"""HostGraphs: an hour of synthetic data, the window toggle, one setData per curve per
refresh, an unreachable host shown as a gap and a band, host names as plain text."""

from __future__ import annotations

import math
from datetime import timedelta

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from test_host_graphs_synthetic import HOSTILE_NAME, INTERVAL_S, START, TICKS, synthetic_site

from hvconsole.core.history import SiteHistory
from hvconsole.core.snapshot import HostResources, Snapshot, unreachable
from hvconsole.ui.hosts.host_graphs import BLUE, local_hms
from hvconsole.ui.hosts.live_curve import Series
from hvconsole.ui.hosts.status_line import StatusLine


@pytest.fixture(scope="module")
def site() -> SiteHistory:
    return synthetic_site()


def xy(curve: Series) -> tuple[np.ndarray, np.ndarray]:
    x, y = curve.getData()
    return (np.array([]), np.array([])) if x is None else (x, y)


def test_empty_until_a_host_is_set(graphs):
    assert graphs.title.text() == "No host selected"
    assert all(xy(c)[0].size == 0 for c in graphs.curves)
    graphs.refresh()  # harmless with nothing to show
    assert graphs.window_s == 3600


def test_an_hour_of_data_fills_every_curve(graphs, site):
    host = site.host("HV01")
    graphs.set_history(host)
    assert graphs.title.text() == "HV01"
    for curve in graphs.curves:
        x, y = xy(curve)
        assert x.size == TICKS and y.size == TICKS
    last = host.last_time
    assert graphs.shown_range() == pytest.approx((last - 3600, last))
    (x0, x1), (y0, y1) = graphs.cpu_plot.view_range()
    assert (x0, x1) == pytest.approx((-3600, 0))   # seconds before the newest poll
    assert (y0, y1) == pytest.approx((-2, 102))  # fixed 0-100 %, never auto-ranged
    # The memory curve is in GB, the rates in B/s as recorded.
    _, used = xy(graphs.mem_used)
    assert used[-1] == pytest.approx(host.buffer.latest("memory_used_mb") / 1024)
    _, rx = xy(graphs.net_rx)
    assert rx[-1] == host.buffer.latest("network_rx_bps")
    assert "Last poll " + local_hms(host.last_snapshot.polled_at) in graphs.status.text()


def test_legend_shows_current_values(graphs, site):
    host = site.host("HV01")
    graphs.set_history(host)
    cpu_title = graphs.legend_text(graphs.cpu_plot)
    assert f"■ total {host.buffer.latest('cpu_total_pct'):.0f} %" in cpu_title
    assert "GB" in graphs.legend_text(graphs.mem_plot)
    disk = graphs.legend_text(graphs.disk_plot)
    assert "MB/s" in disk and " ms" in disk
    # Plain text drawn by the plot's legend line (drawText, never HTML).
    assert graphs.legend_text(graphs.net_plot).startswith("■ rx ")


def test_window_toggle_switches_between_five_minutes_and_an_hour(graphs, site, qtbot):
    host = site.host("HV01")
    graphs.set_history(host)
    qtbot.mouseClick(graphs.toggle.buttons[300], Qt.MouseButton.LeftButton)
    assert graphs.window_s == 300
    x, _ = xy(graphs.cpu_total)
    assert x.size == 300 // INTERVAL_S + 1
    assert x[0] >= host.last_time - 300
    assert graphs.shown_range() == pytest.approx((host.last_time - 300, host.last_time))
    assert graphs.toggle.buttons[300].isChecked() and not graphs.toggle.buttons[3600].isChecked()
    qtbot.mouseClick(graphs.toggle.buttons[3600], Qt.MouseButton.LeftButton)
    assert graphs.window_s == 3600 and xy(graphs.cpu_total)[0].size == TICKS


def test_set_window_from_code_updates_the_toggle(graphs, site):
    graphs.set_history(site.host("HV01"))
    graphs.set_window(300)
    assert graphs.toggle.buttons[300].isChecked()
    graphs.set_window(900)  # no button for it: none checked, data still windowed
    assert not any(b.isChecked() for b in graphs.toggle.buttons.values())
    assert xy(graphs.cpu_total)[0].size == 900 // INTERVAL_S + 1
    with pytest.raises(ValueError):
        graphs.set_window(0)


def test_refresh_is_one_set_data_per_curve(graphs, site, monkeypatch):
    graphs.set_history(site.host("HV01"))
    calls: list[int] = []
    original = Series.setData

    def counting(self, *args, **kwargs):
        calls.append(id(self))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Series, "setData", counting)
    graphs.set_window(300)    # a new window: read in full, one setData per curve
    assert sorted(calls) == sorted(id(c) for c in graphs.curves)
    calls.clear()
    graphs.refresh()          # nothing new in the history: the curves are left alone
    assert calls == []


def test_refresh_follows_new_snapshots(graphs):
    site = synthetic_site(ticks=30)
    host = site.host("HV01")
    graphs.set_history(host)
    at = START + timedelta(seconds=30 * INTERVAL_S)
    site.add(Snapshot(host="HV01", polled_at=at, reachable=True,
                      resources=HostResources(cpu_total_run_pct=77.0)))
    graphs.refresh()
    x, y = xy(graphs.cpu_total)
    assert x[-1] == at.timestamp() and y[-1] == 77.0
    _, used = xy(graphs.mem_used)
    assert math.isnan(used[-1])  # unknown memory is a gap, not zero
    assert "77 %" in graphs.legend_text(graphs.cpu_plot)


def test_unreachable_host_shows_a_gap_a_band_and_since_when(graphs):
    site = synthetic_site(ticks=100)
    host = site.host("HV02")
    last = host.last_snapshot.polled_at
    down_at = last + timedelta(seconds=INTERVAL_S)
    for k in range(1, 13):
        site.add(unreachable("HV02", last + timedelta(seconds=INTERVAL_S * k), "timeout",
                             "no answer within 10 s"))
    graphs.set_history(host)
    text = graphs.status.text()
    assert text.startswith(f"Unreachable since {local_hms(down_at)}")
    assert "timeout: no answer within 10 s" in text
    _, y = xy(graphs.cpu_total)
    assert math.isnan(y[-1]) and not math.isnan(y[-2])
    for band in graphs.unreachable_bands:
        assert band.isVisible()
        # From the first unanswered poll to the newest, in seconds before the newest.
        assert band.getRegion() == pytest.approx((down_at.timestamp() - host.last_time, 0))
    # The outage earlier in the hour (ticks 600-624 in the full fixture) is not in this
    # short history; recovery clears the band and the message.
    site.add(Snapshot(host="HV02", polled_at=last + timedelta(minutes=2), reachable=True,
                      resources=HostResources(cpu_total_run_pct=10.0)))
    graphs.refresh()
    assert not graphs.status.text().startswith("Unreachable")
    assert not any(band.isVisible() for band in graphs.unreachable_bands)


def test_earlier_outage_in_the_hour_is_a_gap(graphs, site):
    graphs.set_history(site.host("HV02"))
    _, y = xy(graphs.cpu_total)
    gaps = np.flatnonzero(np.isnan(y))
    assert gaps.size == 1  # one NaN row for the whole two-minute outage
    assert graphs.status.text().startswith("Last poll")


def test_host_names_are_plain_text(graphs):
    site = SiteHistory()
    site.add(Snapshot(host=HOSTILE_NAME, polled_at=START, reachable=True,
                      resources=HostResources(cpu_total_run_pct=5.0)))
    graphs.set_history(site.host(HOSTILE_NAME))
    assert graphs.title.textFormat() == Qt.TextFormat.PlainText
    assert isinstance(graphs.status, StatusLine)    # draws plain text (drawItemText), no markup
    assert graphs.title.text() == HOSTILE_NAME


def test_clearing_the_host_empties_the_graphs(graphs, site):
    graphs.set_history(site.host("HV01"))
    graphs.set_history(None)
    assert graphs.title.text() == "No host selected"
    assert all(xy(c)[0].size == 0 for c in graphs.curves)


def test_renders_curves_at_the_target_size(graphs, site, qtbot):
    graphs.set_history(site.host("HV01"))
    image = graphs.grab().toImage()
    assert image.deviceIndependentSize().toSize().toTuple() == (420, 760)   # any QT_SCALE_FACTOR
    # Antialiasing is off, so 1-px pens paint their exact colour: count the blue pixels
    # (CPU total, storage read, network rx) to know the curves were really drawn.
    blue = QColor(BLUE).rgb()
    step = 2
    hits = sum(1 for x in range(0, image.width(), step) for y in range(0, image.height(), step)
               if image.pixel(x, y) == blue)
    assert hits > 200


def test_host_that_never_answered(graphs):
    site = SiteHistory()
    site.add(unreachable("HV03", START, "refused", "connection refused"))
    graphs.set_history(site.host("HV03"))
    assert graphs.status.text().startswith(f"Unreachable since {local_hms(START)}")
    _, y = xy(graphs.cpu_total)
    assert np.isnan(y).all()
    assert "■ total —" in graphs.legend_text(graphs.cpu_plot)  # unknown, not 0 %


def test_curves_do_not_alias_the_ring_buffer(graphs):
    """The poller thread appends after the lock is released; what the curves keep for
    the next repaint must not change under it."""
    site = synthetic_site(ticks=30)  # not wrapped yet: a plain view would share memory
    host = site.host("HV01")
    graphs.set_history(host)
    for curve in graphs.curves:
        x, y = xy(curve)
        assert not np.shares_memory(x, host.buffer._times)
        assert not np.shares_memory(y, host.buffer._values)


def test_refresh_appends_only_the_new_rows(graphs):
    """Incremental: a refresh reads only what the poller added since the last one, and
    the curves equal a fresh read of the window (nothing lost, nothing doubled)."""
    site = synthetic_site(ticks=800)  # more than an hour: the ring buffer has wrapped
    host = site.host("HV01")
    graphs.set_history(host)
    assert graphs._data.reloaded
    for k in range(1, 4):
        at = START + timedelta(seconds=(799 + k) * INTERVAL_S)
        site.add(Snapshot(host="HV01", polled_at=at, reachable=True,
                          resources=HostResources(cpu_total_run_pct=float(k))))
    graphs.refresh()
    assert not graphs._data.reloaded and graphs._data.appended == 3
    x, y = xy(graphs.cpu_total)
    times, values = host.buffer.since(host.last_time - graphs.window_s)
    np.testing.assert_array_equal(x, times)
    np.testing.assert_array_equal(y, values[host.buffer.fields.index("cpu_total_pct")])
    assert list(y[-3:]) == [1.0, 2.0, 3.0]


def test_a_gap_row_at_the_newest_time_is_not_lost(graphs):
    site = synthetic_site(ticks=30)
    host = site.host("HV01")
    graphs.set_history(host)
    host.buffer.append_gap(host.last_time)   # same time as the newest row
    graphs.refresh()
    _, y = xy(graphs.cpu_total)
    assert np.isnan(y[-1]) and not np.isnan(y[-2])


def test_clear_empties_the_graphs_and_forgets_the_host(graphs, site):
    graphs.set_history(site.host("HV01"))
    graphs.clear()
    assert graphs.title.text() == "No host selected"
    assert all(xy(c)[0].size == 0 for c in graphs.curves)
    assert "■ total —" in graphs.legend_text(graphs.cpu_plot)
    graphs.refresh()   # the page's next tick: still nothing shown
    assert all(xy(c)[0].size == 0 for c in graphs.curves)


def test_y_ranges_are_nice_and_hold_still():
    from hvconsole.ui.hosts.host_graphs import nice_ceiling
    assert nice_ceiling(np.array([31e6]), floor=1e6) == 50e6      # 34.1 MB/s → 50 MB/s
    assert nice_ceiling(np.array([0.5]), floor=1.0) == 1.0
    assert nice_ceiling(np.array([170.0]), floor=1.0) == 200.0
    assert nice_ceiling(np.array([np.nan]), floor=10.0) == 10.0


def test_only_the_bottom_plot_labels_the_time_axis(graphs):
    assert graphs.net_plot.time_labels
    assert not any(p.time_labels for p in graphs.plots[:-1])
