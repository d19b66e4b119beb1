"""The per-host worker and the view rows it builds (no Qt, no threads)."""

from __future__ import annotations

import math
from datetime import timedelta

from ui_support import T0, ScriptedCollector, StubDetector, down, make_snapshot, make_vm, make_worker

from hvconsole.monitoring.host_worker import HostWorker
from hvconsole.monitoring.rows import RANK_CRITICAL, RANK_NORMAL, RANK_STALE, SPARK_POINTS


def test_poll_builds_tiles_host_row_and_sparklines():
    host = "HV01"
    collector = ScriptedCollector(lambda n: make_snapshot(
        host, (make_vm(host, 0, cpu=10.0 * n), make_vm(host, 1, state="Off")), T0 + timedelta(seconds=5 * n)))
    worker = make_worker(host, collector)
    worker.poll_once()
    result = worker.poll_once()
    assert [t.vm.name for t in result.tiles] == ["HV01-VM000", "HV01-VM001"]
    running, off = result.tiles
    assert running.cpu_history == (10.0, 20.0)
    assert math.isnan(off.cpu_history[-1])  # unknown, not zero
    assert result.host_row.reachable is True
    assert (result.host_row.os_build, result.host_row.os_ubr) == (20348, 3692)
    assert (result.host_row.vm_total, result.host_row.vm_running) == (2, 1)
    assert result.poll_ms >= 0
    with worker.history_lock:
        assert len(worker.history.host(host).buffer) == 2


def test_sparkline_is_bounded():
    host = "HV01"
    collector = ScriptedCollector(lambda n: make_snapshot(
        host, (make_vm(host, 0, cpu=float(n % 100)),), T0 + timedelta(seconds=5 * n)))
    worker = make_worker(host, collector)
    for _ in range(SPARK_POINTS + 10):
        result = worker.poll_once()
    assert len(result.tiles[0].cpu_history) == SPARK_POINTS


def test_unreachable_host_keeps_last_known_tiles_marked_stale():
    host = "HV02"
    answers = {1: "up", 2: "down", 3: "down", 4: "up"}

    def script(n):
        at = T0 + timedelta(seconds=5 * n)
        if answers[n] == "down":
            return down(host, at, "timeout", "no answer in 10 s")
        return make_snapshot(host, (make_vm(host, 0), make_vm(host, 1)), at)

    worker = make_worker(host, ScriptedCollector(script))
    first = worker.poll_once()
    assert all(t.stale_reason is None and t.rank == RANK_NORMAL for t in first.tiles)
    second = worker.poll_once()
    assert len(second.tiles) == 2
    assert all(t.stale_reason == "host unreachable (timeout)" and t.rank == RANK_STALE for t in second.tiles)
    assert second.host_row.reachable is False
    assert second.host_row.error_kind == "timeout"
    assert second.host_row.error_message == "no answer in 10 s"
    assert second.host_row.os_build == 20348  # still says what it was running
    since = second.host_row.unreachable_since
    third = worker.poll_once()
    assert third.host_row.unreachable_since == since  # the first failure of the run
    fourth = worker.poll_once()
    assert fourth.host_row.reachable is True and fourth.host_row.unreachable_since is None
    assert all(t.stale_reason is None for t in fourth.tiles)


def test_vmms_not_answering_keeps_tiles_and_says_why():
    host = "HV03"

    def script(n):
        return make_snapshot(host, (make_vm(host, 0),), T0 + timedelta(seconds=5 * n), vm_query_ok=n == 1)

    worker = make_worker(host, ScriptedCollector(script))
    worker.poll_once()
    result = worker.poll_once()
    assert len(result.tiles) == 1
    assert result.tiles[0].stale_reason.startswith("VM list unavailable")
    assert result.host_row.reachable is True and result.host_row.vm_query_ok is False


def test_findings_reach_the_tile_and_the_host_counts():
    host = "HV01"

    def script(n):
        hb = "LostCommunication" if n >= 2 else "OkApplicationsHealthy"
        return make_snapshot(host, (make_vm(host, 0), make_vm(host, 1, heartbeat=hb)), T0 + timedelta(seconds=5 * n))

    worker = make_worker(host, ScriptedCollector(script), StubDetector())
    assert worker.poll_once().changed_findings == ()
    result = worker.poll_once()
    assert [f.kind for f in result.changed_findings] == ["heartbeat-lost"]
    frozen = next(t for t in result.tiles if t.vm.heartbeat == "LostCommunication")
    assert frozen.severity == "critical" and frozen.rank == RANK_CRITICAL
    assert frozen.findings[0].evidence[0].startswith("heartbeat LostCommunication")
    assert result.host_row.critical == 1


def test_a_collector_that_raises_becomes_an_unreachable_snapshot():
    def explode(n):
        raise RuntimeError("bug")

    worker = make_worker("HV09", ScriptedCollector(explode))
    result = worker.poll_once()
    assert result.snapshot.reachable is False
    assert result.snapshot.error.kind == "protocol"
    assert result.host_row.reachable is False


def test_a_detector_that_raises_does_not_stop_the_tiles():
    class Broken:
        def feed(self, snap):
            raise ValueError("detector bug")

        def active(self):
            return []

    host = "HV01"
    collector = ScriptedCollector(lambda n: make_snapshot(host, (make_vm(host, 0),), T0 + timedelta(seconds=n)))
    worker = HostWorker(host, "x", collector_factory=lambda: collector, detector_factory=Broken)
    result = worker.poll_once()
    assert len(result.tiles) == 1 and result.changed_findings == ()


def test_close_closes_the_collector_once_created():
    collector = ScriptedCollector(lambda n: down("HV01", T0))
    worker = make_worker("HV01", collector)
    worker.close()
    assert not collector.closed  # never created, nothing to close
    worker.poll_once()
    worker.close()
    assert collector.closed


def test_unchanged_vm_gives_the_same_row_object_once_its_sparkline_is_full():
    # An Off VM's sparkline is all unknown (NaN); the rows must still compare equal (NaN !=
    # NaN, but one shared NaN object is), and the worker then hands back the very same
    # object, which is how the GUI thread knows, without comparing, not to repaint it.
    host = "HV01"
    worker = make_worker(host, ScriptedCollector(
        lambda n: make_snapshot(host, (make_vm(host, 0, state="Off"),), T0 + timedelta(seconds=5 * n))))
    for _ in range(SPARK_POINTS):
        worker.poll_once()
    a = worker.poll_once().tiles[0]
    b = worker.poll_once().tiles[0]
    assert a is b
