"""SiteHistory: routing snapshots into host and VM series, gaps, vanished VMs, events,
and the memory bound for a large site."""

from __future__ import annotations

import math
import tracemalloc
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

from hvconsole.core.history import HOST_FIELDS, VM_FIELDS, SiteHistory
from hvconsole.core.snapshot import HostEvent, HostResources, Snapshot, VmSample, unreachable

T0 = datetime(2026, 11, 25, 9, 0, 0, tzinfo=timezone.utc)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def vm(vm_id: str, *, state: str = "Running", heartbeat: str | None = "OkApplicationsHealthy",
       cpu: float | None = 5.0, assigned: float | None = 4096.0,
       demand: float | None = 2048.0) -> VmSample:
    return VmSample(id=vm_id, name=f"name-{vm_id}", state=state, heartbeat=heartbeat,
                    cpu_pct=cpu, memory_assigned_mb=assigned, memory_demand_mb=demand)


def snap(seconds: float, *, host: str = "HV01", cpu: float | None = 20.0,
         vms: tuple[VmSample, ...] = (), events: tuple[HostEvent, ...] = (),
         resources: HostResources | None = None) -> Snapshot:
    if resources is None:
        resources = HostResources(
            cpu_total_run_pct=cpu, cpu_guest_run_pct=None if cpu is None else cpu - 2,
            cpu_root_run_pct=2.0, memory_total_mb=65536.0, memory_available_mb=16384.0,
            storage_read_bps=1e6, storage_write_bps=2e6, storage_latency_ms=1.5,
            network_rx_bps=3e5, network_tx_bps=4e5)
    return Snapshot(host=host, polled_at=at(seconds), reachable=True, resources=resources,
                    vms=vms, events=events)


def down(seconds: float, host: str = "HV01") -> Snapshot:
    return unreachable(host, at(seconds), "timeout", "no answer in 10 s")


def host_series(site: SiteHistory, field: str, host: str = "HV01") -> tuple[list, list]:
    times, values = site.host(host).buffer.series(field)
    return (times - T0.timestamp()).tolist(), values.tolist()


def test_default_capacity_is_an_hour_at_five_seconds_plus_margin():
    site = SiteHistory()
    assert 720 < site.capacity <= 800
    assert SiteHistory(window_s=300, poll_interval_s=5).capacity == 66
    with pytest.raises(ValueError):
        SiteHistory(poll_interval_s=0)


def test_host_resources_are_recorded_with_memory_used_derived():
    site = SiteHistory()
    assert site.add(snap(0, cpu=10.0)) and site.add(snap(5, cpu=30.0))
    assert host_series(site, "cpu_total_pct") == ([0, 5], [10.0, 30.0])
    assert host_series(site, "memory_used_mb")[1] == [49152.0, 49152.0]
    h = site.host("HV01")
    assert h.reachable is True and h.unreachable_since is None
    assert h.buffer.fields == HOST_FIELDS and h.last_time == at(5).timestamp()


def test_unknown_metrics_are_nan_not_zero():
    site = SiteHistory()
    site.add(snap(0, cpu=None))
    site.add(snap(5, resources=HostResources(memory_total_mb=1000.0)))  # available unknown
    _, cpu = host_series(site, "cpu_total_pct")
    assert math.isnan(cpu[0])
    _, used = host_series(site, "memory_used_mb")
    assert used[0] == 49152.0 and math.isnan(used[1])
    site.add(Snapshot(host="HV01", polled_at=at(10), reachable=True, resources=None))
    _, values = site.host("HV01").buffer.view()
    assert np.isnan(values[:, -1]).all()


def test_unreachable_polls_make_one_gap_and_remember_since_when():
    site = SiteHistory()
    site.add(snap(0))
    site.add(down(5))
    site.add(down(10))
    h = site.host("HV01")
    assert h.reachable is False and h.unreachable_since == at(5)
    assert h.last_time == at(10).timestamp()  # the graph's right edge keeps moving
    times, cpu = host_series(site, "cpu_total_pct")
    assert times == [0, 5] and cpu[0] == 20.0 and math.isnan(cpu[1])
    site.add(snap(15))
    assert h.reachable is True and h.unreachable_since is None
    assert host_series(site, "cpu_total_pct")[0] == [0, 5, 15]


def test_a_long_silence_is_drawn_as_a_gap_but_normal_jitter_is_not():
    site = SiteHistory(poll_interval_s=5)
    site.add(snap(0))
    site.add(snap(12))   # 12 s < 3 intervals: still one line
    site.add(snap(60))   # 48 s of silence: a NaN row midway
    times, cpu = host_series(site, "cpu_total_pct")
    assert times == [0, 12, 36, 60]
    assert cpu[:2] == [20.0, 20.0] and math.isnan(cpu[2]) and cpu[3] == 20.0


def test_out_of_order_snapshot_is_dropped_and_counted():
    site = SiteHistory()
    site.add(snap(10))
    assert site.add(snap(5)) is False
    assert site.dropped_out_of_order == 1
    assert host_series(site, "cpu_total_pct")[0] == [10]


def test_vm_series_and_transitions_only_on_change():
    site = SiteHistory(transitions_per_vm=3)
    site.add(snap(0, vms=(vm("a", cpu=1.0),)))
    site.add(snap(5, vms=(vm("a", cpu=None),)))
    site.add(snap(10, vms=(vm("a", heartbeat="LostCommunication", cpu=0.0),)))
    site.add(snap(15, vms=(vm("a", heartbeat="LostCommunication", cpu=0.0),)))
    h = site.vm("A")  # ids are matched case-insensitively, as the parser lowercases them
    assert h is not None and h.buffer.fields == VM_FIELDS and h.name == "name-a"
    times, cpu = h.buffer.series("cpu_pct")
    assert cpu[0] == 1.0 and math.isnan(cpu[1]) and cpu[2:].tolist() == [0.0, 0.0]
    assert [(t.time, t.heartbeat, t.previous_heartbeat) for t in h.transitions] == [
        (at(0), "OkApplicationsHealthy", None),
        (at(10), "LostCommunication", "OkApplicationsHealthy")]
    for i, state in enumerate(["Stopping", "Off", "Starting", "Running"]):
        site.add(snap(20 + 5 * i, vms=(vm("a", state=state),)))
    assert len(h.transitions) == 3  # bounded: the newest three
    assert [t.state for t in h.transitions] == ["Off", "Starting", "Running"]


def test_vm_ids_are_case_insensitive():
    site = SiteHistory()
    site.add(snap(0, vms=(vm("ABC"),)))
    site.add(snap(5, vms=(vm("abc"),)))
    assert len(site) == 1 and len(site.vm("Abc").buffer) == 2


def test_vms_of_an_unreachable_host_get_a_gap_and_are_kept():
    site = SiteHistory(forget_after_s=60)
    site.add(snap(0, vms=(vm("a"), vm("b"))))
    for s in range(5, 600, 5):
        site.add(down(s))
    a = site.vm("a")
    assert a is not None and site.vm("b") is not None
    assert a.vanished_at is None
    _, cpu = a.buffer.series("cpu_pct")
    assert cpu[0] == 5.0 and math.isnan(cpu[-1]) and len(cpu) == 2


def test_vanished_vm_is_forgotten_after_the_window_not_before():
    site = SiteHistory(forget_after_s=600)
    site.add(snap(0, vms=(vm("a"), vm("b"))))
    site.add(snap(5, vms=(vm("a"),)))
    b = site.vm("b")
    assert b is not None and b.vanished_at == at(5)
    assert math.isnan(b.buffer.series("cpu_pct")[1][-1])
    for s in range(10, 600, 5):
        site.add(snap(s, vms=(vm("a"),)))
    assert site.vm("b") is not None          # vanished 595 s ago: kept
    for s in range(600, 700, 5):
        site.add(snap(s, vms=(vm("a"),)))
    assert site.vm("b") is None and site.vm("a") is not None
    assert len(site) == 1 and [v.vm_id for v in site.vms("HV01")] == ["a"]


def test_vm_that_comes_back_is_no_longer_vanished():
    site = SiteHistory()
    site.add(snap(0, vms=(vm("a"),)))
    site.add(snap(5))
    site.add(snap(100, vms=(vm("a"),)))
    a = site.vm("a")
    assert a.vanished_at is None and a.last_seen == at(100)
    times, cpu = a.buffer.series("cpu_pct")
    assert (times - T0.timestamp()).tolist() == [0, 5, 100] and math.isnan(cpu[1])


def test_live_migration_moves_the_vm_without_marking_it_vanished():
    site = SiteHistory()
    site.add(snap(0, host="HV01", vms=(vm("a"),)))
    site.add(snap(1, host="HV02"))
    site.add(snap(5, host="HV02", vms=(vm("a"),)))
    site.add(snap(6, host="HV01"))  # the old host no longer lists it
    a = site.vm("a")
    assert a.host == "HV02" and a.vanished_at is None
    assert [v.vm_id for v in site.vms("HV02")] == ["a"] and site.vms("HV01") == []


def test_late_sample_from_the_new_host_after_a_gap_row_is_dropped_not_raised():
    # HV01 reports the VM gone at t=10 (a gap row at 10); HV02's worker delivers its
    # t=8 sample of the same VM afterwards. It is older than the gap row: drop it quietly.
    site = SiteHistory()
    site.add(snap(0, host="HV01", vms=(vm("a"),)))
    site.add(snap(1, host="HV02"))
    site.add(snap(10, host="HV01"))
    assert site.add(snap(8, host="HV02", vms=(vm("a"),))) is not False
    site.add(snap(13, host="HV02", vms=(vm("a", cpu=42.0),)))
    assert site.vm("a").host == "HV02" and site.vm("a").latest.cpu_pct == 42.0


def test_events_are_kept_per_host_without_duplicates_and_found_by_vm():
    e1 = HostEvent(time=at(1), log="Microsoft-Windows-Hyper-V-Worker-Admin", id=18560,
                   level="Critical", vm_id="a", message="reset")
    e2 = HostEvent(time=at(2), log="System", id=41, level="Critical")
    e3 = HostEvent(time=at(7), log="Microsoft-Windows-Hyper-V-Worker-Admin", id=18590,
                   level="Error", vm_id="a")
    site = SiteHistory(events_per_host=2)
    site.add(snap(0, events=(e1, e2)))
    site.add(snap(5, events=(e2,)))  # the bookmark boundary event again
    assert site.events_for() == [e1, e2]
    site.add(snap(10, events=(e3,)))
    assert site.events_for() == [e2, e3]       # bounded: the oldest fell out
    assert site.events_for("A") == [e3]
    site.add(snap(15, events=(e1,)))           # evicted earlier, so not a duplicate now
    assert site.events_for(limit=1) == [e3]


def test_remove_host_forgets_it_and_its_vms():
    site = SiteHistory()
    site.add(snap(0, host="HV01", vms=(vm("a"),)))
    site.add(snap(0, host="HV02", vms=(vm("b"),)))
    site.remove_host("HV01")
    assert site.host_names() == ["HV02"] and site.vm("a") is None and site.vm("b") is not None


def test_memory_stays_fixed_once_the_buffers_wrap():
    site = SiteHistory(window_s=100, poll_interval_s=5)
    vms = tuple(vm(f"vm{i}") for i in range(20))
    site.add(snap(0, vms=vms))
    before = site.nbytes
    for s in range(5, 5 * 3 * site.capacity, 5):
        site.add(snap(s, vms=vms))
    assert site.nbytes == before
    assert len(site.vm("vm0").buffer) == site.capacity


def test_two_thousand_vms_for_an_hour_fit_in_a_bounded_footprint():
    """Buffers are preallocated for the whole window, so the footprint after the first
    polls is the footprint after an hour (the wrap test above shows it does not grow)."""
    hosts = 8
    per_host = 250
    vms_by_host = {h: tuple(vm(f"{h}-{i}", cpu=float(i % 100)) for i in range(per_host))
                   for h in range(hosts)}
    tracemalloc.start()
    try:
        site = SiteHistory()
        for s in (0, 5, 10):
            for h in range(hosts):
                site.add(snap(s, host=f"HV{h}", vms=vms_by_host[h]))
        traced, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(site) == 2000 and site.capacity >= 720
    per_vm = site.capacity * 8 * (1 + len(VM_FIELDS))
    assert site.nbytes == 2000 * per_vm + hosts * site.capacity * 8 * (1 + len(HOST_FIELDS))
    assert site.nbytes < 55 * 2**20
    # Everything else (objects, dicts, deques, transitions) is small next to the arrays.
    assert traced < site.nbytes * 1.2


def test_a_slower_poll_interval_set_live_is_not_drawn_as_gaps():
    """Raised live from 5 s to 20 s (the window's "Raise to N s"): the series already there
    take the new gap threshold, so 20 s polls draw a line, not a gap at every point."""
    hist = SiteHistory(poll_interval_s=5.0)
    for i in range(4):
        hist.add(snap(5.0 * i, vms=(vm("vm-a"),)))
    hist.set_poll_interval(20.0)
    for i in range(1, 5):
        hist.add(snap(15.0 + 20.0 * i, vms=(vm("vm-a"),)))
    times, values = hist.host("HV01").buffer.view()
    assert hist.gap_after_s == 60.0
    assert not np.isnan(values).all(axis=0).any(), "a gap was drawn between 20 s polls"
    _, vm_values = hist.vm("vm-a").buffer.view()
    assert not np.isnan(vm_values).all(axis=0).any()
