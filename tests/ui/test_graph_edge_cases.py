"""The host graphs with the values an admin's hosts do send now and then: infinite rates,
a host with terabytes of memory, a stalled disk's latency of seconds."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from PySide6.QtGui import QColor

from hvconsole.core.history import SiteHistory
from hvconsole.core.snapshot import HostResources, Snapshot
from hvconsole.ui.hosts.graph_plot import LABEL_GAP_PX, TICK_PX
from hvconsole.ui.hosts.graph_scale import nice_ceiling, rate_ceiling
from hvconsole.ui.hosts.graph_words import fmt_ms

START = datetime(2026, 11, 25, 9, 0, 0, tzinfo=UTC)


def _resources(**values: float) -> HostResources:
    row = dict(logical_processors=32, cpu_total_run_pct=40.0, cpu_guest_run_pct=30.0, cpu_root_run_pct=5.0,
               memory_total_mb=262_144.0, memory_available_mb=100_000.0, storage_read_bps=5e6,
               storage_write_bps=3e6, storage_latency_ms=2.0, network_rx_bps=2e6, network_tx_bps=1e6,
               system_drive_free_mb=51_200.0)
    row.update(values)
    return HostResources(**row)


def _host(rows: list[dict[str, float]]):
    site = SiteHistory()
    for i, values in enumerate(rows):
        site.add(Snapshot(host="HV01", polled_at=START + timedelta(seconds=5 * i), reachable=True,
                          resources=_resources(**values)))
    return site.host("HV01")


def test_a_ceiling_ignores_infinite_values():
    assert nice_ceiling(np.array([4e6, math.inf, -math.inf, math.nan]), floor=1e6) == 5e6
    assert rate_ceiling(np.array([math.inf]), floor=10.0) == 10.0
    assert math.isfinite(nice_ceiling(np.array([1.7e308]), floor=1.0))


def test_an_infinite_rate_breaks_the_line_and_leaves_the_scale_alone(graphs):
    rows = [{"storage_read_bps": 8e6}] * 10 + [{"storage_read_bps": math.inf}] + [{"storage_read_bps": 8e6}] * 10
    graphs.set_history(_host(rows))
    graphs.finish_staged()
    assert graphs.disk_plot.scale.top == 10e6
    assert graphs.disk_read.runs() == [(0, 10), (11, 21)]
    graphs.grab()       # and paints


def test_an_infinite_newest_value_reads_unknown_in_the_legend(graphs):
    graphs.set_history(_host([{}, {"network_rx_bps": math.inf, "cpu_total_run_pct": -math.inf}]))
    assert graphs.legend_text(graphs.net_plot).startswith("■ rx —   ■ tx 1 MB/s")
    assert graphs.legend_text(graphs.cpu_plot).startswith("■ total —   ■ guest 30 %")


def test_a_host_with_one_poll_shows_its_values_at_now(graphs):
    """A first poll is one point at the view's right edge (clipped): it was drawn as a
    single pixel there, so a host's graphs stayed empty until its second poll."""
    graphs.set_history(_host([{}]))
    graphs.finish_staged()
    image = graphs.graphics.grab().toImage()
    view = graphs.cpu_plot.view_rect.toAlignedRect()
    blue = QColor("#1f77b4").rgb()      # the total CPU's pen
    drawn = [(x, y) for x in range(view.left(), view.right() + 1) for y in range(view.top(), view.bottom() + 1)
             if image.pixel(x, y) == blue]
    assert drawn and all(x >= view.right() - 8 for x, _ in drawn)   # at "now", not spread back in time


def _label_room(graphs, plot, scale, *, left: bool) -> list[float]:
    """Per tick label of ``scale``: pixels between it and its axis title (< 0: they overlap)."""
    m = graphs.graphics.style_.metrics
    v, slot = plot.view_rect, plot.slot
    title_px = m.height() + 1
    if left:
        free = v.left() - slot.left() - TICK_PX - LABEL_GAP_PX - title_px
    else:
        free = slot.right() - v.right() - TICK_PX - LABEL_GAP_PX - title_px + 6   # the title's overhang
    return [free - m.horizontalAdvance(label) for _, label in scale.ticks(v.height())]


def test_terabytes_of_memory_read_in_tb_beside_the_axis_title(graphs):
    tb = 1024.0 * 1024.0
    graphs.set_history(_host([{"memory_total_mb": 24 * tb, "memory_available_mb": 2 * tb}] * 5))
    graphs.finish_staged()
    scale = graphs.mem_plot.scale
    assert scale.title() == "Memory (TB)"
    assert scale.top == 50 * 1024.0           # 50 TB, its top tick a round number
    assert [label for _, label in scale.ticks(200)] == ["0", "10", "20", "30", "40", "50"]
    assert min(_label_room(graphs, graphs.mem_plot, scale, left=True)) >= 0
    assert "used 22.00 TB" in graphs.legend_text(graphs.mem_plot)


def test_a_host_of_a_few_hundred_gb_keeps_gb(graphs):
    graphs.set_history(_host([{}] * 5))
    graphs.finish_staged()
    assert graphs.mem_plot.scale.title() == "Memory (GB)"
    assert "used 158.3 GB" in graphs.legend_text(graphs.mem_plot)


def test_a_latency_of_seconds_reads_in_seconds_beside_the_right_title(graphs):
    graphs.set_history(_host([{"storage_latency_ms": 25_000.0}] * 5))
    graphs.finish_staged()
    scale = graphs.latency_view
    assert scale.title() == "latency (s)"
    assert [label for _, label in scale.ticks(200)][-1] == "50"
    assert min(_label_room(graphs, graphs.disk_plot, scale, left=False)) >= 0
    assert "latency 25.0 s" in graphs.legend_text(graphs.disk_plot)
    assert fmt_ms(1.8) == "1.8 ms" and fmt_ms(999.0) == "999.0 ms" and fmt_ms(2_345.0) == "2.35 s"


@pytest.mark.parametrize("latency_ms", [600.0, 1_500.0, 4_000.0, 8_000.0])
def test_a_latency_of_a_few_seconds_labels_fit_beside_the_right_title(graphs, latency_ms):
    graphs.set_history(_host([{"storage_latency_ms": latency_ms}] * 5))
    graphs.finish_staged()
    assert graphs.latency_view.title() == "latency (s)"
    assert min(_label_room(graphs, graphs.disk_plot, graphs.latency_view, left=False)) >= 0
