"""End to end: the real collector against the simulated demo site (hvconsole.sim.serve),
every host, every fault mode the endpoint can inject, request counts, and a recorded trace
that replays through core.trace."""

from __future__ import annotations

import io
import json
import time

import pytest

from hvconsole.site import served_targets
from hvconsole.core.trace import read_trace
from hvconsole.remote.collector import Collector
from hvconsole.remote.recorder import TraceRecorder

# Deadline tests wait for real; the slack on top only proves nothing blocks (loaded CI box).
SLACK_S = 10.0


@pytest.fixture
def demo():
    """The demo site as start_demo() builds it, with the simulated hosts' own latencies
    (powershell.exe start-up, Get-VM) shortened so the suite stays quick."""
    from hvconsole.sim.model.clock import SimClock
    from hvconsole.sim.scenarios.demo import build_demo_site
    from hvconsole.sim.serve import serve_site
    site = serve_site(build_demo_site(1, SimClock(speed=1.0)), latency_scale=0.2)
    yield site
    site.stop()


@pytest.fixture
def hv01(demo):
    served = demo.hosts[0]
    target = next(t for t in served_targets(demo.hosts) if t.name == served.name)
    c = Collector(target, timeout_s=20)
    yield served, c
    c.close()


def test_every_demo_host_collects_a_valid_snapshot(demo, snapshot_validator):
    targets = served_targets(demo.hosts)
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
    collectors = [Collector(t, timeout_s=10) for t in served_targets(demo.hosts)]
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


# -- hvconsole.site: the one place that builds the demo site -------------------------------

@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("HVCONSOLE_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def test_open_demo_site_embedded_is_polled_through_the_real_client_and_closes(home):
    from hvconsole.site import DEMO_LABEL, open_demo_site
    site = open_demo_site(speed=2.0, name="demo")
    try:
        assert (site.kind, site.label, site.simulated, site.speed) == ("demo", DEMO_LABEL, True, 2.0)
        assert site.journal_path == home / "data" / "demo" / "patch-journal.sqlite"
        assert site.problems == [] and site.warnings == [] and site.book is None
        sim_clock = site.embedded.site.clock
        assert abs((site.clock() - sim_clock.now()).total_seconds()) < 1.0    # the site's own clock
        directory = site.directory()
        assert directory.names() == ["HV01", "HV02", "HV03", "HV04"] and directory.speed == 2.0
        for name in directory.names():
            collector = directory.collector(name)
            try:
                snap = collector.poll()
            finally:
                collector.close()
            assert snap.reachable and snap.host == name, snap.error
        directory.close()                  # the directory does not own the site ...
        probe = Collector(site.target("hv01"), timeout_s=10)
        assert probe.poll().reachable
    finally:
        started = time.monotonic()
        assert site.close() is True        # ... the site does, bounded
        assert site.close() is True and site.closed
    assert time.monotonic() - started < 10 + SLACK_S
    snap = probe.poll()
    probe.close()
    assert not snap.reachable and snap.error.kind == "refused"


def test_open_demo_site_refuses_bad_requests_with_one_sentence(home):
    import threading

    from hvconsole.site import SiteError, open_demo_site
    for kw, says in (({"name": "nope"}, "no demo site 'nope'"), ({"speed": 0.0}, "positive"), ({"speed": float("inf")}, "positive"),
                     ({"embedded": False}, "no simulated site is running")):
        with pytest.raises(SiteError, match=says):
            open_demo_site(**kw)
    closing = threading.Event()
    closing.set()
    with pytest.raises(SiteError, match="closing"):
        open_demo_site(closing=closing)


def test_open_demo_site_uses_a_running_sim_serve_and_leaves_it_running(home, tmp_path):
    """A ``hvconsole-sim serve --state-file`` in another process is found through its state
    file (as the patch runner finds it after a kill); closing the Site leaves it serving."""
    from hvconsole.site import open_demo_site
    from tests.integration.simhost import served_site_process
    with served_site_process(home, tmp_path / "sim.log", "demo", 3) as proc:
        site = open_demo_site(speed=50.0, embedded=False)
        assert site.simulated and site.speed == 3.0 and site.embedded is None
        assert f"served by process {proc.pid}" in site.description
        assert site.names() == ["HV01", "HV02", "HV03", "HV04"]
        site.close()
        collector = Collector(site.target("HV02"), timeout_s=20)
        try:
            snap = collector.poll()
        finally:
            collector.close()
        assert snap.reachable, snap.error           # still served after close()
