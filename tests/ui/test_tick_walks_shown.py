"""The tiles on screen, kept between ticks until the view says they may be others, against
the view asked afresh after what moves them: a resize, the window maximised, the splitters
moved, a scroll, a filter, a sort, a bigger font, tiles added and removed, the view hidden
and shown again."""

from __future__ import annotations

import pytest
from PySide6.QtGui import QFont

pytestmark = pytest.mark.usefixtures("qapp")


def test_the_kept_tiles_on_screen_are_the_views_after_what_moves_them(qtbot, qapp):
    from benchmarks.ui import idle_monitor, make_window, synthetic_workers
    from hvconsole.ui.monitor.tile_filter import TileFilter

    workers = synthetic_workers(6, 40)
    monitor = idle_monitor(workers)
    window = make_window(monitor, size=(1200, 800))
    qtbot.addWidget(window)
    window.show()
    monitor.apply_batch([w.poll_once() for w in workers[:4]])
    page, view = window.page, window.page.tile_view

    def asked_afresh():
        fresh, key = page._shown_fresh, page._shown_key
        page._shown_fresh, page._shown_key = False, None
        try:
            return page._shown_tile_rows()
        finally:
            page._shown_fresh, page._shown_key = fresh, key

    def check(what: str) -> None:
        for _ in range(20):
            qapp.processEvents()
        kept = page._shown_tile_rows()
        assert kept == asked_afresh(), what
        # The monitor's counts by host follow too.
        monitor._tile_weight()
        if kept:
            assert sum(monitor._on_screen[1].values()) == len(kept), what

    qtbot.waitUntil(lambda: page._shown_tile_rows() not in (None, range(0)), timeout=5000)
    steps = [
        ("resized", lambda: window.resize(1600, 1000)),
        ("maximised", window.showMaximized),
        ("host panel narrowed", lambda: page.main.setSizes([900, 300])),
        ("findings taller", lambda: page.right.setSizes([200, 600])),
        ("scrolled", lambda: view.verticalScrollBar().setValue(200)),
        ("bigger font", lambda: view.setFont(QFont(view.font().family(), view.font().pointSize() + 6))),
        ("tiles added", lambda: monitor.apply_batch([w.poll_once() for w in workers[4:]])),
        ("a tick", lambda: monitor.apply_batch([w.poll_once() for w in workers])),
        ("filtered by text", lambda: page._filter_changed(TileFilter(text="VM00"))),
        ("filtered by host", lambda: page._filter_changed(TileFilter(hosts=frozenset({workers[1].name})))),
        ("filter cleared", lambda: page._filter_changed(TileFilter())),
        ("sorted", lambda: monitor.tile_proxy.sort(0)),
        ("unsorted", lambda: monitor.tile_proxy.sort(-1)),
        ("host panel collapsed", lambda: page.main.setSizes([0, 1200])),
        ("scrolled to the top", lambda: view.verticalScrollBar().setValue(0)),
        ("normal size", window.showNormal),
        ("hidden", window.hide),
        ("shown", window.show),
        ("a host's tiles removed", lambda: monitor.tiles.remove_host(workers[5].name)),
    ]
    for what, step in steps:
        step()
        check(what)
    window.close()
    monitor.shutdown(1.0)
