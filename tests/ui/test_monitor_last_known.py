"""The monitor's last known tiles (shown before the site is open, never fed to findings),
its workers connected later, and hosts' first results applied a few hosts per turn."""

from __future__ import annotations

from datetime import timedelta

from ui_support import T0, down, make_vm, steady_site

from hvconsole.monitoring.last_known import KnownHost, last_known_host_row, last_known_tiles
from hvconsole.ui.background import InlineTaskRunner
from hvconsole.ui.monitor import monitor as monitor_module
from hvconsole.ui.monitor.monitor import Monitor

WAIT_MS = 15_000


def known(host: str, vms: int, *, extra: str | None = None) -> KnownHost:
    samples = tuple(make_vm(host, i) for i in range(vms))
    if extra is not None:
        samples += (make_vm(host, 99, name=extra),)
    return KnownHost(name=host, address=f"{host.lower()}.example.test", polled_at=T0, vms=samples)


def show(monitor: Monitor, hosts: list[KnownHost]) -> set[str]:
    return monitor.show_last_known({h.name: last_known_tiles(h) for h in hosts},
                                   [last_known_host_row(h) for h in hosts], T0)


def rows(monitor: Monitor) -> list:
    return [monitor.tiles.row(i) for i in range(monitor.tiles.rowCount())]


def test_last_known_tiles_show_marked_then_turn_live_and_gone_vms_go(qtbot, scripted_workers):
    workers, _ = scripted_workers(steady_site(hosts=2, vms=3))
    monitor = Monitor.waiting([(w.name, w.address) for w in workers])
    assert show(monitor, [known("HV01", 3, extra="RETIRED"), known("HV02", 3)]) == {"HV01", "HV02"}
    shown = rows(monitor)
    assert len(shown) == 7 and all(r.stale_reason.startswith("last known ") for r in shown)
    assert all(r.findings == () and r.cpu_history == () for r in shown)
    assert [h.reachable for h in monitor.hosts.rows()] == [None, None]
    assert monitor.findings.rowCount() == 0 and monitor.last_known_hosts() == {"HV01", "HV02"}
    assert monitor.host_names() == ["HV01", "HV02"] and monitor.workers == {}

    polling = monitor.polling
    monitor.connect_workers(workers, interval_s=5.0)
    assert monitor.polling is polling and polling.hosts == ["HV01", "HV02"]   # the same service
    monitor.apply_batch([workers[0].poll_once()])
    live = {r.vm.name: r for r in rows(monitor) if r.host == "HV01"}
    assert "RETIRED" not in live and all(r.stale_reason is None for r in live.values())
    assert monitor.last_known_hosts() == {"HV02"}
    assert all(r.stale_reason for r in rows(monitor) if r.host == "HV02")


def test_an_unreachable_host_keeps_its_last_known_tiles(qtbot, scripted_workers):
    workers, _ = scripted_workers({"HV01": lambda n: down("HV01", T0 + timedelta(seconds=n))})
    monitor = Monitor.waiting([(w.name, w.address) for w in workers])
    show(monitor, [known("HV01", 2)])
    monitor.connect_workers(workers)
    monitor.apply_batch([workers[0].poll_once()])
    assert len(rows(monitor)) == 2 and all(r.stale_reason for r in rows(monitor))
    assert monitor.hosts.rows()[0].reachable is False       # the host line is live: unreachable
    assert monitor.last_known_hosts() == {"HV01"}


def test_last_known_tiles_never_replace_a_live_host(qtbot, scripted_workers):
    workers, _ = scripted_workers(steady_site(hosts=1, vms=2))
    monitor = Monitor(workers)
    monitor.apply_batch([workers[0].poll_once()])
    assert show(monitor, [known("HV01", 5)]) == set()
    assert len(rows(monitor)) == 2 and all(r.stale_reason is None for r in rows(monitor))


def test_first_results_are_applied_a_few_hosts_per_turn(qtbot, scripted_workers, monkeypatch):
    monkeypatch.setattr(monitor_module, "FIRST_TILES_PER_TURN", 10)
    workers, _ = scripted_workers(steady_site(hosts=6, vms=5))
    monitor = Monitor(workers, runner_factory=lambda name: InlineTaskRunner(), tick_ms=10)
    applied = []
    monitor.applied.connect(lambda stats: applied.append(stats.hosts))
    monitor.start()
    qtbot.waitUntil(lambda: monitor.hosts.rows()[-1].reachable is not None, timeout=WAIT_MS)
    assert monitor.tiles.rowCount() == 30 and not monitor.results_waiting()
    assert [len(hosts) for hosts in applied[:3]] == [2, 2, 2]       # 10 tiles a turn: two hosts
    # Later results (every host shown): the tiles that may change on screen count, and with
    # no screen (nothing says which rows are shown) every tile does.
    monkeypatch.setattr(monitor_module, "TILES_PER_TURN", 30)
    applied.clear()
    monitor.polling.poll_now()
    qtbot.waitUntil(lambda: not monitor.results_waiting() and bool(applied), timeout=WAIT_MS)
    assert [len(hosts) for hosts in applied] == [6]
    # Nothing on screen: nothing to repaint, one turn whatever the tiles.
    monitor.shown_rows = lambda: range(0)
    applied.clear()
    monitor.polling.poll_now()
    qtbot.waitUntil(lambda: bool(applied), timeout=WAIT_MS)
    assert len(applied[0]) == 6
    assert monitor.shutdown(1.0)


def test_a_heavy_tick_shows_its_tiles_first_and_its_host_lines_a_turn_later(qtbot, scripted_workers):
    workers, _ = scripted_workers(steady_site(hosts=6, vms=10))
    monitor = Monitor(workers, runner_factory=lambda name: InlineTaskRunner(), tick_ms=10)
    monitor.apply_batch([w.poll_once() for w in workers])     # every host shown
    before = {r.name: r for r in monitor.hosts.rows()}
    tiles_before = [monitor.tiles.row(i) for i in range(monitor.tiles.rowCount())]
    applied = []
    monitor.applied.connect(lambda stats: applied.append(stats.hosts))
    monitor._batch_arrived([w.poll_once() for w in workers])   # 60 changed tiles
    # This turn: the first share's tiles (two hosts: up to TILES_PER_TURN), nothing else yet.
    changed = sum(1 for i, old in enumerate(tiles_before) if monitor.tiles.row(i) is not old)
    assert changed == 20 and applied == [] and monitor.results_waiting()
    assert all(r is before[r.name] for r in monitor.hosts.rows())
    qtbot.waitUntil(lambda: not monitor.results_waiting(), timeout=WAIT_MS)
    assert [len(hosts) for hosts in applied] == [2, 2, 2]
    assert all(r is not before[r.name] for r in monitor.hosts.rows())
    assert all(monitor.tiles.row(i) is not old for i, old in enumerate(tiles_before))
    assert monitor.shutdown(1.0)


def test_direct_apply_is_never_held_back(qtbot, scripted_workers):
    workers, _ = scripted_workers(steady_site(hosts=8, vms=10))
    monitor = Monitor(workers)
    monitor.apply_batch([w.poll_once() for w in workers])
    assert monitor.tiles.rowCount() == 80
