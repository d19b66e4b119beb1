"""Staged host graphs (the monitoring page's): a new host's rescaled plots are updated one
per event-loop turn, end with the picture an unstaged update draws, and never bring back
data that a newer refresh or a cleared selection replaced."""

from __future__ import annotations

from PySide6.QtGui import QImage
from test_host_graphs_synthetic import synthetic_site

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
    views = (graphs.mem_plot, graphs.disk_plot, graphs.latency_view, graphs.net_plot)
    return sum(1 for v in views if graphs._y_tops.get(id(v)) is not None)


def test_a_new_host_is_drawn_one_rescaled_plot_per_turn(qtbot):
    site = synthetic_site(ticks=80)
    plain, staged = make(qtbot, staged=False), make(qtbot, staged=True)
    plain.set_history(site.host("HV01"))
    staged.set_history(site.host("HV01"))
    # This turn: the CPU plot (fixed scale) and one plot with a new scale.
    shown = plain.cpu_total.getData()[0].size   # the 5-minute window's polls
    assert shown > 0 and rescaled(staged) == 1 and staged.cpu_total.getData()[0].size == shown
    assert staged.net_rx.getData()[0].size == 0
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
