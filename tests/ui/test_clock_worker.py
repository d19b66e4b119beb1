"""A host's worker, with the real freeze detector, when the console's clock is stepped
back an hour and forward an hour between polls (the host's clock goes on): every poll
still reaches the tiles, the host row's "Last poll", the history and the host graphs, and
the step itself raises nothing. The clock is injected: no sleeps, no threads."""

from __future__ import annotations

import dataclasses
import math
from datetime import datetime, timedelta

from ui_support import T0, ScriptedCollector, down, make_snapshot, make_vm

from hvconsole.core.detector import Detector
from hvconsole.monitoring.host_worker import HostWorker, PollResult
from hvconsole.ui.hosts.host_graphs import local_hms

HOST = "HV01"
HOUR = timedelta(hours=1)
INTERVAL = timedelta(seconds=5)


class Clocks:
    """The console's wall clock (stepped by the test) and the host's (never stepped)."""

    def __init__(self) -> None:
        self.console = T0
        self.host = T0
        self.down = False
        self.heartbeat = "OkApplicationsHealthy"

    def __call__(self) -> datetime:
        return self.console

    def poll(self, n: int) -> object:
        self.console += INTERVAL
        self.host += INTERVAL
        if self.down:
            return down(HOST, self.console)
        vm = make_vm(HOST, 0, cpu=float(n), heartbeat=self.heartbeat, uptime_s=86400 + 5 * n)
        return dataclasses.replace(make_snapshot(HOST, (vm,), self.console), host_time=self.host)


def make(clocks: Clocks) -> HostWorker:
    collector = ScriptedCollector(clocks.poll)
    return HostWorker(HOST, "hv01.example.test", collector_factory=lambda: collector,
                      detector_factory=Detector, poll_interval_s=5.0, clock=clocks)


def polls(worker: HostWorker, n: int) -> list[PollResult]:
    return [worker.poll_once() for _ in range(n)]


def test_every_poll_after_a_step_back_reaches_the_rows_and_the_history():
    clocks = Clocks()
    worker = make(clocks)
    polls(worker, 12)
    clocks.console -= HOUR
    for _ in range(12):
        r = worker.poll_once()
        assert r.host_row.polled_at == clocks.console               # "Last poll" moves on
        assert r.active_findings == () and r.changed_findings == ()
        with worker.history_lock:
            assert worker.history.host(HOST).last_time == clocks.console.timestamp()
    with worker.history_lock:
        times, values = worker.history.host(HOST).buffer.view(copy=True)
    assert len(times) == 24 and not any(math.isnan(v) for v in values[0])
    assert r.tiles[0].cpu_history[-1] == 24.0


def test_a_lost_heartbeat_after_a_step_back_is_found_and_one_across_a_step_forward_is_not_critical():
    clocks = Clocks()
    worker = make(clocks)
    polls(worker, 40)     # past the boot grace of a VM first seen running
    clocks.console -= HOUR
    clocks.heartbeat = "LostCommunication"
    results = polls(worker, 8)
    kinds = {(f.kind, f.severity) for f in results[-1].active_findings}
    assert kinds == {("heartbeat-lost", "warning")}
    clocks.console += 2 * HOUR
    results = polls(worker, 2)
    assert {(f.kind, f.severity) for f in results[-1].active_findings} == {("heartbeat-lost", "warning")}


def test_unreachable_since_stays_in_the_past_across_a_step_back():
    clocks = Clocks()
    worker = make(clocks)
    polls(worker, 3)
    clocks.down = True
    polls(worker, 2)
    clocks.console -= HOUR
    r = worker.poll_once()
    assert r.host_row.unreachable_since is not None
    assert r.host_row.unreachable_since < r.host_row.polled_at
    # Failing since two polls ago, as before the step plus the poll just made.
    assert (r.host_row.polled_at - r.host_row.unreachable_since) == 2 * INTERVAL


def test_the_host_graphs_move_on_after_a_step_back(graphs):
    clocks = Clocks()
    worker = make(clocks)
    polls(worker, 12)
    host = worker.history.host(HOST)
    graphs.set_history(host, worker.history_lock)
    clocks.console -= HOUR
    polls(worker, 6)
    with worker.history_lock:
        graphs.refresh()
    assert graphs.shown_range()[1] == clocks.console.timestamp()
    assert f"Last poll {local_hms(clocks.console)}" in graphs.status.text()
    x, _ = graphs.cpu_total.getData()
    assert x is not None and len(x) == 18


def test_the_host_graphs_show_no_gap_of_an_hour_after_a_forward_jump(graphs):
    clocks = Clocks()
    worker = make(clocks)
    polls(worker, 12)
    graphs.set_history(worker.history.host(HOST), worker.history_lock)
    clocks.console += HOUR      # the console's clock only: the host's says 5 s passed
    polls(worker, 6)
    with worker.history_lock:
        graphs.refresh()
    assert graphs.shown_range()[1] == clocks.console.timestamp()
    with worker.history_lock:
        times, values = worker.history.host(HOST).buffer.view(copy=True)
    assert len(times) == 18 and not any(math.isnan(v) for v in values[0])
    _, y = graphs.cpu_total.getData()
    assert y is not None and len(y) >= 12 and not any(math.isnan(v) for v in y)
