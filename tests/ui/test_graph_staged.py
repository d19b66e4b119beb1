"""Staged host graphs (the monitoring page's): a new host's rescaled plots are updated one
per event-loop turn, end with the picture an unstaged update draws, and never bring back
data that a newer refresh or a cleared selection replaced."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from PySide6.QtGui import QImage
from test_host_graphs_synthetic import INTERVAL_S, synthetic_site

from hvconsole.ui.hosts.host_graphs import HostGraphs


def make(qtbot, staged: bool) -> HostGraphs:
    w = HostGraphs()
    qtbot.addWidget(w)
    w.staged = staged
    w.resize(420, 760)
    w.set_window(300)
    w.show()
    qtbot.waitExposed(w)
    return w


def image(graphs: HostGraphs) -> QImage:
    return graphs.grab().toImage().convertToFormat(QImage.Format.Format_RGB32)


def rescaled(graphs: HostGraphs) -> int:
    views = (graphs.mem_plot.scale, graphs.disk_plot.scale, graphs.latency_view, graphs.net_plot.scale)
    return sum(1 for v in views if graphs._y_tops.get(id(v)) is not None)


def test_a_new_host_is_drawn_one_rescaled_plot_per_turn(qtbot):
    site = synthetic_site(ticks=80)
    plain, staged = make(qtbot, staged=False), make(qtbot, staged=True)
    plain.set_history(site.host("HV01"))
    staged.set_history(site.host("HV01"))
    # This turn: the CPU plot (a fixed scale); the other three wait for a turn each.
    shown = plain.cpu_total.getData()[0].size   # the 5-minute window's polls
    assert shown > 0 and rescaled(staged) == 0 and staged.cpu_total.getData()[0].size == shown
    assert staged.net_rx.getData()[0].size == 0 and len(staged._staged_steps) == 3
    staged._next_staged()
    assert staged.mem_used.getData()[0].size == shown and staged.net_rx.getData()[0].size == 0
    qtbot.waitUntil(lambda: not staged._staged_steps, timeout=2000)
    assert rescaled(staged) == 4
    for a, b in zip(plain.curves, staged.curves, strict=True):
        assert a.getData()[1].tolist() == b.getData()[1].tolist()
    assert image(staged) == image(plain)


def test_a_newer_refresh_or_no_host_replaces_the_waiting_plots(qtbot):
    site = synthetic_site(ticks=80)
    graphs = make(qtbot, staged=True)
    graphs.set_history(site.host("HV01"))
    assert graphs._staged_steps
    graphs.set_history(None)
    qtbot.wait(30)
    assert all(c.getData()[0].size == 0 for c in graphs.curves)
    graphs.set_history(site.host("HV01"))
    graphs.finish_staged()
    assert not graphs._staged_steps and len({c.getData()[0].size for c in graphs.curves}) == 1


def test_a_poll_that_rescales_two_plots_draws_the_second_a_turn_later(qtbot):
    site = synthetic_site(ticks=80)
    graphs = make(qtbot, staged=True)
    graphs.set_history(site.host("HV01"))
    graphs.finish_staged()
    host = site.host("HV01")
    last = host.last_snapshot
    res = last.resources
    site.add(replace(last, polled_at=last.polled_at + timedelta(seconds=INTERVAL_S),
                     resources=replace(res, storage_read_bps=res.storage_read_bps * 100,
                                       network_rx_bps=res.network_rx_bps * 100)))
    graphs.refresh()
    # Storage rescaled now, with every plot's new poll; network's new scale waits a turn.
    newest = graphs.cpu_total.getData()[0][-1]
    assert graphs.disk_read.getData()[0][-1] == newest and graphs.net_rx.getData()[0][-1] < newest
    assert len(graphs._staged_steps) == 1
    qtbot.waitUntil(lambda: not graphs._staged_steps, timeout=2000)
    assert graphs.net_rx.getData()[0][-1] == newest
