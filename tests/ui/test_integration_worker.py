"""The poll worker's part of the window's hookups: the monitoring cost of its recent polls
in the host row (issue 17), every snapshot handed to its observers (the health check's
feed, issue 14), and a VM in a recovery step saying so on its tile (issue 15)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from ui_support import T0, ScriptedCollector, StubDetector, make_snapshot, make_vm, make_worker

from hvconsole.core.snapshot import CollectCost
from hvconsole.monitoring.host_worker import COST_POLLS, HostWorker
from hvconsole.monitoring.maintenance_feed import MaintenanceFeed
from hvconsole.remote.monitoring_cost import cost_of_polls


def costly(host: str, n: int, cpu_ms: int | None):
    snap = make_snapshot(host, (make_vm(host, 1),), T0 + timedelta(seconds=5 * n))
    if cpu_ms is None:
        return snap
    return replace(snap, collect_cost=CollectCost(cpu_ms=cpu_ms, peak_working_set_mb=70.0 + n))


def test_the_worker_puts_the_monitoring_cost_of_its_recent_polls_in_the_host_row():
    costs = {1: None, 2: 380, 3: 420, 4: 400}
    collector = ScriptedCollector(lambda n: costly("HV01", n, costs.get(n, 900)))
    worker = make_worker("HV01", collector)
    assert worker.poll_once().host_row.monitoring_cost is None       # nothing reported yet
    rows = [worker.poll_once().host_row for _ in range(3)]
    expected = cost_of_polls([CollectCost(cpu_ms=c) for c in (380, 420, 400)], worker.poll_interval_s)
    assert rows[-1].monitoring_cost == expected.text() == "monitoring costs 0.4 s of CPU per poll, 8 % of one core at 5 s"
    assert rows[-1].cost_suggestion == expected.suggestion() != ""
    # Only the last COST_POLLS polls count: after that many expensive ones, the median is theirs.
    for _ in range(COST_POLLS):
        row = worker.poll_once().host_row
    assert row.monitoring_cost.startswith("monitoring costs 0.9 s of CPU per poll")


def test_every_snapshot_reaches_the_observers_and_a_failing_one_stops_nothing():
    collector = ScriptedCollector(lambda n: costly("HV01", n, None))
    worker = make_worker("HV01", collector)
    seen = []

    def broken(_snap):
        raise RuntimeError("observer bug")
    worker.observers += (broken, seen.append)
    results = [worker.poll_once() for _ in range(3)]
    assert [s.polled_at for s in seen] == [r.snapshot.polled_at for r in results]
    assert all(r.tiles for r in results)


def test_a_vm_in_a_recovery_step_says_so_on_its_tile_and_only_while_it_lasts():
    feed = MaintenanceFeed()
    collector = ScriptedCollector(lambda n: make_snapshot(
        "HV01", (make_vm("HV01", 1), make_vm("HV01", 2)), T0 + timedelta(seconds=5 * n)))
    worker = HostWorker("HV01", "hv01.example.test", collector_factory=lambda: collector,
                        detector_factory=StubDetector, maintenance=feed)
    first = worker.poll_once()
    frozen = first.tiles[0].vm_id
    # The recovery engine opens a window for the VM for the step (core.maintenance).
    feed.registry.begin("hv01", frozen, until=T0 + timedelta(seconds=12), reason="recovery: Turn off")
    during = {t.vm_id: t for t in worker.poll_once().tiles}          # polled at T0 + 10 s
    assert during[frozen].texts.status == "recovery: Turn off · Running"
    assert during[first.tiles[1].vm_id].texts.status == "Running"     # only that VM
    after = {t.vm_id: t for t in worker.poll_once().tiles}           # T0 + 15 s: the window ended
    assert after[frozen].texts.status == "Running"
