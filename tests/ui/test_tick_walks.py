"""What a tick looks at: its own hosts' lines for the host alerts and the status text, and
the tiles on screen worked out again only when they may be others. The words shown are
the ones a look at every line gives."""

from __future__ import annotations

from dataclasses import replace
from types import SimpleNamespace

import pytest

from hvconsole.monitoring.rows import HostRow
from hvconsole.ui.hosts.host_model import HostListModel
from hvconsole.ui.hosts.host_panel import HostPanel

pytestmark = pytest.mark.usefixtures("qapp")


def hosts(n: int) -> list[HostRow]:
    return [HostRow(name=f"HV{i:02d}", address=f"hv{i:02d}", reachable=True, os_build=20348,
                    os_ubr=3692, poll_ms=100.0 + i, vm_total=10, vm_running=9) for i in range(n)]


def down(row: HostRow) -> HostRow:
    return replace(row, reachable=False, error_kind="timeout", error_message="no answer")


def test_alerts_follow_each_ticks_hosts_in_list_order(qtbot):
    rows = hosts(5)
    model = HostListModel([(r.name, r.address) for r in rows])
    panel = HostPanel(model)
    qtbot.addWidget(panel)
    model.apply(rows)
    panel.update_alerts([r.name for r in rows])
    assert panel._alerts_text == ""

    model.apply([down(rows[3])])
    panel.update_alerts(["HV03"])
    assert panel._alerts_text.splitlines() == ["HV03 unreachable — timeout: no answer"]
    model.apply([down(rows[1])])
    panel.update_alerts(["HV01"])           # in the list's order, not the ticks'
    assert [line.split()[0] for line in panel._alerts_text.splitlines()] == ["HV01", "HV03"]
    panel.update_alerts(["HV00"])           # another host's tick: the lines stay
    assert [line.split()[0] for line in panel._alerts_text.splitlines()] == ["HV01", "HV03"]
    model.apply([rows[3]])
    panel.update_alerts(["HV03"])
    assert [line.split()[0] for line in panel._alerts_text.splitlines()] == ["HV01"]
    # A line changed outside a tick is seen by a look at every line.
    model.apply([down(rows[4])])
    panel.update_alerts()
    assert [line.split()[0] for line in panel._alerts_text.splitlines()] == ["HV01", "HV04"]


def test_status_text_counts_hosts_not_answering_tick_by_tick(qtbot):
    from hvconsole.ui.main_window import MainWindow
    from hvconsole.ui.monitor.monitor import Monitor

    rows = hosts(4)
    window = MainWindow()
    qtbot.addWidget(window)
    monitor = Monitor.waiting([(r.name, r.address) for r in rows])
    window.attach(monitor, "test")

    def tick(*names: str) -> str:
        window._applied(SimpleNamespace(hosts=names))
        return window.status_text.text()

    monitor.hosts.apply(rows)
    assert tick(*(r.name for r in rows)).startswith("4 hosts · 0 VMs · updated ")
    monitor.hosts.apply([down(rows[2])])
    assert tick("HV02").startswith("4 hosts · 1 not answering · 0 VMs")
    assert tick("HV00").startswith("4 hosts · 1 not answering")
    monitor.hosts.apply([rows[2]])
    assert tick("HV02").startswith("4 hosts · 0 VMs")
    # Last known lines come outside a tick: the next tick counts every line.
    monitor.hosts.apply([down(rows[3])])
    monitor.last_known_changed.emit()
    assert tick("HV00").startswith("4 hosts · 1 not answering")


def test_the_tiles_on_screen_are_worked_out_again_only_when_they_may_be_others(qtbot):
    from benchmarks.ui import idle_monitor, make_window, synthetic_workers

    workers = synthetic_workers(6, 40)
    monitor = idle_monitor(workers)
    window = make_window(monitor, size=(1200, 800))
    qtbot.addWidget(window)
    monitor.apply_batch([w.poll_once() for w in workers])
    page = window.page
    qtbot.waitUntil(lambda: page._shown_tile_rows() not in (None, range(0)), timeout=5000)
    first = page._shown_tile_rows()
    assert first.start == 0 and len(first) > 0
    view = page.tile_view
    asked = []
    real = view.visualRect
    view.visualRect = lambda index: (asked.append(index.row()), real(index))[1]
    assert page._shown_tile_rows() is first and not asked     # nothing moved: nothing asked
    view.verticalScrollBar().setValue(view.verticalScrollBar().maximum())
    qtbot.waitUntil(lambda: page._shown_tile_rows() != first, timeout=5000)
    assert page._shown_tile_rows().stop == monitor.tiles.rowCount()
    assert asked
    # The counts by host follow a reorder of the VMs at those rows.
    weight = monitor._tile_weight()
    on_screen = dict(monitor._on_screen[1])
    assert sum(on_screen.values()) == len(page._shown_tile_rows())
    version = monitor.tiles.order_version
    monitor.tiles._reindex()
    assert monitor.tiles.order_version == version + 1
    monitor._tile_weight()
    assert monitor._on_screen[1] == on_screen and monitor._on_screen[0][1] == version + 1
    assert weight is not None
    window.close()
    monitor.shutdown(1.0)
