"""The host graphs' time axis and what a refresh repaints: live windows read seconds
before the newest poll on a scale that holds still (the curves move under it), stored
windows read clock and dates, and the picture an incremental repaint leaves is the one
a full repaint draws."""

from __future__ import annotations

from datetime import timedelta

import pytest
from PySide6.QtCore import QCoreApplication
from PySide6.QtGui import QImage
from test_host_graphs_synthetic import INTERVAL_S, START, synthetic_site

from hvconsole.core.history import SiteHistory
from hvconsole.core.snapshot import HostResources, Snapshot, unreachable
from hvconsole.ui.hosts.host_graphs import HostGraphs
from hvconsole.ui.hosts.time_axis import clock_ticks, relative_label, relative_step, relative_ticks


def paint(graphs: HostGraphs) -> None:
    QCoreApplication.sendPostedEvents()
    QCoreApplication.processEvents()


def poll(site: SiteHistory, tick: int, cpu: float = 40.0, host: str = "HV01") -> None:
    site.add(Snapshot(host=host, polled_at=START + timedelta(seconds=tick * INTERVAL_S), reachable=True,
                      resources=HostResources(cpu_total_run_pct=cpu, cpu_guest_run_pct=cpu - 5,
                                              cpu_root_run_pct=5.0, memory_total_mb=65536.0,
                                              memory_available_mb=30000.0 + 100 * tick,
                                              storage_read_bps=5e6 + 1e5 * tick, storage_write_bps=2e6,
                                              storage_latency_ms=1.0 + tick % 3,
                                              network_rx_bps=3e6, network_tx_bps=1e6 + 1e4 * tick)))


def test_labels_read_the_windows_way():
    assert [relative_label(v) for v in (-300, -240, -60, 0)] == ["−5 min", "−4 min", "−1 min", "now"]
    assert [relative_label(v) for v in (-3600, -2700, -30)] == ["−1 h", "−45 min", "−30 s"]
    assert relative_step(300) == 60 and relative_step(3600) == 900
    # pyqtgraph's range is a hair wider than asked: still a label every minute.
    assert relative_step(300.00000000000006) == 60


def test_relative_ticks_cover_the_window_from_edge_to_edge():
    assert relative_ticks(-300.0, 5e-14) == [(-300.0, "−5 min"), (-240.0, "−4 min"), (-180.0, "−3 min"),
                                             (-120.0, "−2 min"), (-60.0, "−1 min"), (0.0, "now")]
    assert [label for _, label in relative_ticks(-3600.0, 0.0)] == ["−1 h", "−45 min", "−30 min", "−15 min", "now"]


def test_clock_ticks_fall_on_whole_hours_and_midnights():
    from datetime import datetime
    right = datetime(2026, 11, 25, 17, 20).timestamp()       # local time
    day = clock_ticks(right - 86400, right, 700)
    assert 2 <= len(day) <= 7
    assert all(datetime.fromtimestamp(t).minute == 0 for t, _ in day)
    assert all(label.count(":") == 1 or " " in label for _, label in day)   # "18:00" or "25 Nov"
    week = clock_ticks(right - 7 * 86400, right, 700)
    assert all(datetime.fromtimestamp(t).hour == 0 for t, _ in week)
    assert all(label.split()[1] in ("Nov",) for _, label in week)


def test_a_live_window_holds_its_scale_still_and_moves_the_curves(graphs):
    site = synthetic_site(ticks=100)
    graphs.set_window(300)
    graphs.set_history(site.host("HV01"))
    paint(graphs)
    canvas = graphs.graphics
    assert canvas.relative and graphs.net_plot.view_range()[0] == pytest.approx((-300, 0))
    drawn = canvas.still_draws
    for tick in range(100, 106):
        poll(site, tick)
        graphs.refresh()
        paint(graphs)
    # The axes, grid and labels were not drawn again ...
    assert canvas.still_draws == drawn
    # ... while the newest poll sits at "now", the right edge, and the data keep their times.
    x, _ = graphs.cpu_total.getData()
    host = site.host("HV01")
    assert x[-1] == host.last_time
    ax, bx, _, _ = graphs.cpu_plot.pixel_map(graphs.cpu_plot.scale)
    assert ax * x[-1] + bx == pytest.approx(graphs.cpu_plot.view_rect.right(), abs=1e-6)
    assert graphs.shown_range() == pytest.approx((host.last_time - 300, host.last_time))


def test_a_stored_window_reads_clock_times(graphs, monkeypatch):
    from hvconsole.ui.hosts import host_graphs
    monkeypatch.setattr(host_graphs.stored_history, "store", lambda: "history.sqlite")
    monkeypatch.setattr(graphs._loader, "request", lambda *args, **kwargs: None)
    site = synthetic_site(ticks=30)
    graphs.set_history(site.host("HV01"))
    graphs.set_window(86400)
    host = site.host("HV01")
    assert not graphs.graphics.relative
    assert graphs.cpu_plot.view_range()[0] == pytest.approx((host.last_time - 86400, host.last_time))
    assert graphs.shown_range() == pytest.approx((host.last_time - 86400, host.last_time))
    graphs.set_window(300)
    assert graphs.graphics.relative


def grab_painted(graphs: HostGraphs) -> QImage:
    # What the window has painted so far (its backing store), not a fresh render.
    return graphs.screen().grabWindow(graphs.winId()).toImage().convertToFormat(QImage.Format.Format_RGB32)


def test_refreshes_leave_the_picture_a_full_repaint_draws(graphs, qtbot):
    """The moved curves, the band and the still picture of the axes: nothing stale is
    left on screen by the incremental repaints, through an outage and a new y ceiling."""
    site = synthetic_site(ticks=60)
    graphs.set_window(300)
    graphs.set_history(site.host("HV01"))
    qtbot.wait(50)
    graphs.graphics.repaint()
    for tick in range(60, 72):
        if 64 <= tick < 67:
            site.add(unreachable("HV01", START + timedelta(seconds=tick * INTERVAL_S), "timeout", "no answer"))
        else:
            poll(site, tick, cpu=20.0 + 5 * (tick % 4))
        graphs.refresh()
        paint(graphs)
    incremental = grab_painted(graphs)
    graphs.graphics.redraw_still()     # the axes' picture too, drawn anew
    graphs.repaint()
    graphs.graphics.repaint()
    assert grab_painted(graphs) == incremental
