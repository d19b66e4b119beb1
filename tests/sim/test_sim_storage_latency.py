"""The simulated host's storage latency reaches the console as a real host's does: raw
running totals in collect.ps1's answer, worked out into milliseconds from two polls
(core/storage_latency.py), showing the latency the host models."""

from __future__ import annotations

import hashlib
import itertools
import json
from pathlib import Path
from typing import Any

import jsonschema

from hvconsole.core.storage_latency import StorageLatency
from hvconsole.remote.collector import snapshot_from_answer
from hvconsole.sim.agent.collect import CollectParams, collect_document
from hvconsole.sim.model.clock import SimClock
from hvconsole.sim.model.site import SimSite
from hvconsole.sim.model.storage_counters import StorageCounters, device_key
from hvconsole.sim.scenarios.demo import build_demo_site

SCHEMA = json.loads((Path(__file__).parents[1] / "fixtures" / "contracts" / "snapshot-v1.schema.json").read_text())
RESOURCES = jsonschema.Draft202012Validator(SCHEMA["properties"]["resources"])


def _polls(site: SimSite, host_name: str, count: int,
           step_s: float = 5.0) -> list[tuple[float | None, float, dict[str, Any]]]:
    """(polled latency ms, modelled latency ms, host's answer) for ``count`` polls."""
    host = site.host(host_name)
    tracker = StorageLatency()
    out = []
    for _ in range(count):
        site.clock.advance(step_s)
        site.advance()
        with site.acting() as t:
            doc, _ = collect_document(host, CollectParams(None, 0, 10000), t)
            busy = sum((s["cpu_pct"] or 0) * (s["vcpus"] or 0) for s in (vm.sample(t) for vm in host.vms)) / 100.0
            modelled = host.storage_load(t, busy)[0]
        snap = tracker.apply(snapshot_from_answer(doc, host_name, site.now())[0])
        assert snap.resources is not None
        out.append((snap.resources.storage_latency_ms, modelled, doc["resources"]))
    return out


def test_the_demo_host_s_latency_comes_through_the_raw_counters_unchanged() -> None:
    site = build_demo_site(clock=SimClock.manual())
    polls = _polls(site, "HV04", 60)
    first, *rest = polls
    assert first[0] is None                                   # nothing to compare yet
    assert first[2]["storage_latency_ms"] is None             # the host never sends it
    for polled, modelled, answer in rest:
        assert not list(RESOURCES.iter_errors(answer))
        assert answer["storage_latency_raw"] and answer["storage_latency_freq"] == 10_000_000
        assert polled is not None and abs(polled - modelled) < 0.01, (polled, modelled)


def test_a_stall_on_a_busy_host_reads_right_where_summed_ticks_would_wrap() -> None:
    # A minute between polls of stalled storage (a slow schedule, or polls that failed in
    # between): the host's disks together mostly spend more than 2**32 ticks (429 s)
    # waiting in one interval, and single devices wrap on the way.
    site = build_demo_site(clock=SimClock.manual())
    site.host("HV03").storage_stalled = True
    polls = _polls(site, "HV03", 12, step_s=60.0)
    past_wrap = 0
    for (_, _, a), (polled, modelled, b) in itertools.pairwise(polls):
        before = {k: t for k, t, _ in a["storage_latency_raw"]}
        grown = [(t - before[k]) % 2**32 for k, t, _ in b["storage_latency_raw"] if k in before]
        past_wrap += sum(grown) > 2**32
        assert polled is not None and 140.0 <= polled <= 420.0 and abs(polled - modelled) < 0.01, (polled, modelled)
    wrapped = [any(t1 < t0 for (k0, t0, _), (k1, t1, _) in zip(a["storage_latency_raw"], b["storage_latency_raw"],
                                                            strict=False) if k0 == k1)
               for (_, _, a), (_, _, b) in itertools.pairwise(polls)]
    assert any(wrapped) and past_wrap >= 5


def test_a_vm_that_stops_or_starts_takes_its_disk_with_it() -> None:
    site = build_demo_site(clock=SimClock.manual())
    host = site.host("HV04")
    vm = next(v for v in host.vms if v.state == "Running")
    polls = _polls(site, "HV04", 2)
    with site.acting():
        vm.state = "Off"
    polls += _polls(site, "HV04", 1)
    keys = [{k for k, _, _ in p[2]["storage_latency_raw"]} for p in polls]
    assert len(keys[2]) == len(keys[1]) - 1 and keys[2] < keys[1]
    with site.acting():
        vm.state = "Running"
    polls += _polls(site, "HV04", 1)
    back = next(iter({k for k, _, _ in polls[3][2]["storage_latency_raw"]} - keys[2]))
    assert back in keys[1]
    assert next(p for k, _, p in polls[3][2]["storage_latency_raw"] if k == back) < 100     # counts from zero


def test_counters_start_over_at_boot_and_at_a_device_s_start() -> None:
    counters = StorageCounters()
    disk, other = "D:-Hyper-V-Virtual Hard Disks-VM01.vhdx", "D:-Hyper-V-Virtual Hard Disks-VM02.vhdx"
    key = device_key(disk)
    assert len(key) == 10 and key == hashlib.sha256(disk.encode()).hexdigest()[:10]
    # Open since boot (0): 100 s of 200 operations a second at 2 ms.
    assert counters.read(100.0, 0.0, [(disk, 200.0, 2.0)]) == [[key, int(20_000 * 0.002 * 1e7) % 2**32, 20_000]]
    # Time stood still: nothing more; a device that appears counts from zero.
    assert counters.read(90.0, 0.0, [(disk, 999.0, 9.0), (other, 5.0, 1.0)])[1] == [device_key(other), 0, 0]
    assert counters.read(205.0, 200.0, [(disk, 100.0, 1.0)]) == [[key, 5_000_000, 500]]     # rebooted at 200
