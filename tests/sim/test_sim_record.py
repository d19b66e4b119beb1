"""record(): poller semantics (interval, one poll at a time, timeouts, refusals), events
reported once, and the same content the real client path produces over WS-Man."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from hvconsole.core.timeutil import parse_time
from hvconsole.sim.model.clock import SimClock
from hvconsole.sim.scenarios.demo import build_demo_site
from hvconsole.sim.record import _Poller, record
from hvconsole.sim.scenarios.freeze import SCENARIO_START, SCENARIOS

START = datetime(2026, 11, 25, 9, 0, tzinfo=timezone.utc)


def seconds_of(snap: dict) -> float:
    return (parse_time(snap["polled_at"]) - SCENARIO_START).total_seconds()


def test_each_host_is_polled_every_interval() -> None:
    snaps = list(record(SCENARIOS["live-migration"].build(), seconds=60, interval=5))
    for host in ("HV01", "HV02"):
        times = [seconds_of(s) for s in snaps if s["host"] == host]
        assert len(times) == 13
        gaps = [b - a for a, b in zip(times, times[1:])]
        assert all(4.0 < g < 6.0 for g in gaps)


def test_a_hung_host_times_out_and_the_next_poll_waits_for_it() -> None:
    site = SCENARIOS["host-hung"].build()
    snaps = list(record(site, seconds=120, interval=5, poll_timeout_s=10))
    failed = [s for s in snaps if not s["reachable"]]
    assert failed and all(s["error"]["kind"] == "timeout" and s["error"]["elapsed_ms"] == 10000 for s in failed)
    times = [seconds_of(s) for s in failed]
    assert all(9.9 < b - a < 10.1 for a, b in zip(times, times[1:]))   # one poll at a time
    assert all(s["vms"] == [] for s in failed)


def test_record_needs_a_manual_clock_and_sane_arguments() -> None:
    with pytest.raises(ValueError):
        list(record(build_demo_site(1, SimClock()), seconds=10))
    with pytest.raises(ValueError):
        list(record(SCENARIOS["idle-vm"].build(), seconds=10, interval=0))


def test_record_leaves_the_clock_at_the_end() -> None:
    site = SCENARIOS["idle-vm"].build()
    list(record(site, seconds=90))
    assert site.clock.now() >= SCENARIO_START.replace(minute=1, second=30)


def test_events_are_reported_once_across_a_long_recording() -> None:
    snaps = list(record(build_demo_site(3, SimClock.manual(START)), seconds=3600, interval=20))
    keys = [(s["host"], e["time"], e["id"], e["vm_id"], e["message"]) for s in snaps for e in s["events"]]
    assert keys and len(keys) == len(set(keys))


def test_record_gives_what_the_real_client_gets_over_wsman() -> None:
    from hvconsole.remote.collector import Collector
    from hvconsole.remote.target import Target
    from hvconsole.sim.serve import serve_site

    site = SCENARIOS["host-wide-freeze"].build()
    site.clock.advance(75)
    with serve_site(site, latency_scale=0.0) as served:
        h = served.host("HV01")
        collector = Collector(Target(name="HV01", url=h.url, username=h.user, password=h.password,
                                     transport="plaintext"), timeout_s=30, max_events=200,
                              vm_query_timeout_ms=5000)
        try:
            real = collector.poll().to_dict()
        finally:
            collector.close()
    assert real["reachable"], real["error"]
    simulated, _ = _Poller(site.host("HV01"), site, 10.0, 200, 5000).poll(site.t)
    real.pop("polled_at")
    simulated.pop("polled_at")
    assert simulated == real
    assert len(real["events"]) >= 8 and any(v["heartbeat"] == "LostCommunication" for v in real["vms"])
