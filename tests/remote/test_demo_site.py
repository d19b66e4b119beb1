"""End to end: the real collector against the simulated demo site (hvconsole.sim.serve),
every host, every fault mode the endpoint can inject, request counts, and a recorded trace
that replays through core.trace."""

from __future__ import annotations

import io
import json
import time

import pytest

from hvconsole.cli.collect import demo_targets
from hvconsole.core.trace import read_trace
from hvconsole.remote.collector import Collector
from hvconsole.remote.recorder import TraceRecorder

# Deadline tests wait for real; the slack on top only proves nothing blocks (loaded CI box).
SLACK_S = 10.0


@pytest.fixture
def demo():
    """The demo site as start_demo() builds it, with the simulated hosts' own latencies
    (powershell.exe start-up, Get-VM) shortened so the suite stays quick."""
    from hvconsole.sim.clock import SimClock
    from hvconsole.sim.demo import build_demo_site
    from hvconsole.sim.serve import serve_site
    site = serve_site(build_demo_site(1, SimClock(speed=1.0)), latency_scale=0.2)
    yield site
    site.stop()


@pytest.fixture
def hv01(demo):
    served = demo.hosts[0]
    target = next(t for t in demo_targets(demo) if t.name == served.name)
    c = Collector(target, timeout_s=20)
    yield served, c
    c.close()


def test_every_demo_host_collects_a_valid_snapshot(demo, snapshot_validator):
    targets = demo_targets(demo)
    assert len(targets) == len(demo.hosts) >= 2
    for target in targets:
        c = Collector(target, timeout_s=20)
        snap = c.poll()
        c.close()
        assert snap.reachable, (target.name, snap.error)
        assert snap.host == target.name
        assert snap.vms and snap.vm_query is not None
        snapshot_validator.validate(snap.to_dict())


def test_steady_state_poll_is_three_requests_at_the_endpoint(hv01):
    served, c = hv01
    assert c.poll().reachable
    for _ in range(3):
        before = served.endpoint.stats.requests_total
        assert c.poll().reachable
        assert served.endpoint.stats.requests_total - before == 3
    assert served.endpoint.stats.per_action["Create"] == 1


def test_refused_then_recovers(hv01, snapshot_validator):
    served, c = hv01
    assert c.poll().reachable
    served.endpoint.faults.refuse()
    snap = c.poll()
    assert (snap.reachable, snap.error.kind) == (False, "refused")
    assert served.name in snap.error.message
    snapshot_validator.validate(snap.to_dict())
    served.endpoint.faults.clear()
    assert c.poll().reachable


def test_hung_host_is_a_timeout_within_the_deadline_then_recovers(hv01):
    served, c = hv01
    assert c.poll().reachable
    served.endpoint.faults.hang()
    hung = Collector(c.target, timeout_s=1.0)
    started = time.monotonic()
    snap = hung.poll()
    assert time.monotonic() - started < 1.0 + SLACK_S
    assert snap.error.kind == "timeout"
    assert snap.error.message == f"no answer from {served.name} within 1 s"
    served.endpoint.faults.clear()
    assert hung.poll().reachable   # a fresh shell, after the abandoned one
    hung.close()


def test_unauthorized_is_auth(hv01):
    served, c = hv01
    served.endpoint.faults.unauthorized()
    snap = c.poll()
    assert snap.error.kind == "auth"
    assert served.password not in snap.error.message
    served.endpoint.faults.clear()
    assert c.poll().reachable


def test_quota_fault_on_a_reused_shell_recovers_on_a_new_shell(hv01):
    served, c = hv01
    assert c.poll().reachable
    served.endpoint.faults.fault_next("quota")   # hits the next Command
    snap = c.poll()
    assert snap.reachable, snap.error
    assert served.endpoint.stats.per_action["Create"] == 2
    assert len(served.endpoint.shells()) == 1    # the spent shell was deleted first


def test_quota_fault_when_opening_a_shell_is_a_fault(hv01):
    served, c = hv01
    served.endpoint.faults.fault_next("quota")   # hits the Create
    snap = c.poll()
    assert snap.error.kind == "fault"
    assert "2150859173" in snap.error.message and "concurrent shells" in snap.error.message
    assert c.poll().reachable


def test_slow_host_is_ok_within_the_deadline_and_a_timeout_beyond_it(hv01):
    served, c = hv01
    assert c.poll().reachable
    served.endpoint.faults.slow(0.3)
    assert c.poll().reachable                     # 3 requests x 0.3 s, deadline 20 s
    served.endpoint.faults.slow(3.0)
    short = Collector(c.target, timeout_s=1.0)
    started = time.monotonic()
    snap = short.poll()
    assert time.monotonic() - started < 1.0 + SLACK_S
    assert snap.error.kind == "timeout"
    served.endpoint.faults.clear()
    short.close()


def test_a_recorded_trace_replays_through_core_trace(demo, snapshot_validator):
    collectors = [Collector(t, timeout_s=10) for t in demo_targets(demo)]
    out = io.StringIO()
    try:
        stats = TraceRecorder(collectors, out, interval_s=0.5, reorder_window_s=0.5).run(1.6)
    finally:
        for c in collectors:
            c.close()
    bad = []
    snaps = list(read_trace(io.BytesIO(out.getvalue().encode("utf-8")), on_bad_line=bad.append))
    assert bad == []
    assert len(snaps) == stats.lines >= 2 * len(collectors)
    assert {s.host for s in snaps} == {c.target.name for c in collectors}
    assert [s.polled_at for s in snaps] == sorted(s.polled_at for s in snaps)
    for line in out.getvalue().splitlines():
        snapshot_validator.validate(json.loads(line))
