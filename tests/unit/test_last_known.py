"""The last known state file: round trip, bad input left out piece by piece, the recorder's
writes (only answered polls, hosts no longer in the site dropped, at close)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from hvconsole.core.snapshot import OsInfo, Snapshot, VmQuery, VmSample, unreachable
from hvconsole.monitoring.last_known import (
    KnownHost,
    LastKnown,
    LastKnownRecorder,
    last_known_host_row,
    last_known_tiles,
    read_last_known,
    write_last_known,
)

T0 = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


def vm(i: int, state: str = "Running") -> VmSample:
    return VmSample(id=f"id-{i}", name=f"VM{i}", state=state, heartbeat="OkApplicationsHealthy", cpu_pct=12.5,
                    vcpus=4, memory_assigned_mb=4096.0, memory_demand_mb=2048.0, uptime_s=3600,
                    health="Ok", dynamic_memory=True)


def snap(host: str, vms: int, at: datetime = T0, ok: bool = True) -> Snapshot:
    return Snapshot(host=host, polled_at=at, reachable=True, os=OsInfo(product="Windows Server 2022", build=20348,
                                                                        ubr=3692),
                    vm_query=VmQuery(ok=ok, elapsed_ms=10), vms=tuple(vm(i) for i in range(vms)) if ok else ())


def test_round_trip_keeps_what_a_tile_shows(tmp_path):
    path = tmp_path / "last-known.json"
    host = KnownHost(name="HV01", address="hv01.lab", polled_at=T0, os_product="Windows Server 2022",
                     os_build=20348, os_ubr=3692, cluster="C1", vms=(vm(1), vm(2, "Off")))
    write_last_known(path, LastKnown(label="Hosts", hosts=(host,)))
    state = read_last_known(path)
    assert state is not None and state.label == "Hosts"
    back = state.host("HV01")
    assert back is not None
    assert (back.address, back.polled_at, back.os_build, back.cluster) == ("hv01.lab", T0, 20348, "C1")
    assert [(v.id, v.name, v.state, v.cpu_pct, v.vcpus, v.memory_demand_mb, v.uptime_s) for v in back.vms] == \
        [("id-1", "VM1", "Running", 12.5, 4, 2048.0, 3600), ("id-2", "VM2", "Off", 12.5, 4, 2048.0, 3600)]
    assert path.stat().st_mode & 0o777 == 0o600


def test_rows_are_marked_last_known_and_carry_no_findings():
    host = KnownHost(name="HV01", address="a", polled_at=T0, vms=(vm(1), vm(1), vm(2, "Off")))
    tiles = last_known_tiles(host)
    assert [t.vm_id for t in tiles] == ["id-1", "id-2"]            # a VM listed twice: once
    assert all(t.stale_reason and t.stale_reason.startswith("last known ") for t in tiles)
    assert tiles[1].texts is not None and tiles[1].texts.status.endswith("· Off")
    assert all(t.findings == () and t.cpu_history == () for t in tiles)
    row = last_known_host_row(host)
    assert row.reachable is None and row.polled_at is None and (row.vm_total, row.vm_running) == (3, 2)


def test_bad_files_and_entries_are_left_out(tmp_path):
    path = tmp_path / "last-known.json"
    assert read_last_known(path) is None                               # none yet
    path.write_text("{not json")
    assert read_last_known(path) is None
    path.write_text(json.dumps({"version": 99, "hosts": []}))
    assert read_last_known(path) is None                               # a newer version's file
    path.write_text(json.dumps({"version": 1, "label": 3, "hosts": [
        "nonsense",
        {"name": "HV01", "address": "a", "polled_at": "not a time"},
        {"name": "HV02", "address": "b", "polled_at": "2026-11-25T09:00:00"},          # no zone
        {"name": "HV03", "address": "c", "polled_at": T0.isoformat(), "os_build": "x",
         "vms": [{"id": "v1", "name": "VM1", "state": "Running", "vcpus": True, "cpu_pct": "hot"},
                 {"id": "", "name": "bad", "state": "Running"}, 7]},
        {"name": "HV03", "address": "c2", "polled_at": T0.isoformat()},                 # twice: first wins
    ]}))
    state = read_last_known(path)
    assert state is not None and state.label == "" and [h.name for h in state.hosts] == ["HV03"]
    host = state.hosts[0]
    assert host.address == "c" and host.os_build is None
    assert [(v.id, v.vcpus, v.cpu_pct) for v in host.vms] == [("v1", None, None)]


def test_recorder_keeps_answered_polls_of_current_hosts_and_writes_at_close(tmp_path):
    path = tmp_path / "demo" / "last-known.json"
    seed = LastKnown(label="old", hosts=(
        KnownHost(name="HV02", address="hv02", polled_at=T0 - timedelta(days=1), vms=(vm(7),)),
        KnownHost(name="HV09", address="hv09", polled_at=T0, vms=(vm(8),)),                # no longer in the site
    ))
    recorder = LastKnownRecorder(path, "Demo", [("HV01", "hv01"), ("HV02", "hv02")], seed=seed, every_s=3600)
    recorder.observe(snap("HV01", 2))
    recorder.observe(unreachable("HV01", T0 + timedelta(seconds=5), "timeout", "no answer"))   # not kept
    recorder.observe(snap("HV01", 0, T0 + timedelta(seconds=10), ok=False))                     # VMMS stuck: not kept
    recorder.observe(snap("HV77", 3))                                                           # not of this site
    assert not path.exists()                                          # nothing before its time
    assert recorder.close(5.0)
    state = read_last_known(path)
    assert state is not None and state.label == "Demo"
    assert [(h.name, h.polled_at, len(h.vms)) for h in state.hosts] == [
        ("HV01", T0, 2), ("HV02", T0 - timedelta(days=1), 1)]         # HV02 did not answer: as it was


def test_recorder_writes_only_when_something_changed(tmp_path):
    path = tmp_path / "last-known.json"
    recorder = LastKnownRecorder(path, "Hosts", [("HV01", "hv01")], every_s=3600)
    assert recorder.write_now() is False
    recorder.observe(snap("HV01", 1))
    assert recorder.write_now() is True and recorder.write_now() is False
    assert recorder.close(5.0)


def test_recorder_without_a_seed_keeps_the_file_s_hosts_that_did_not_answer(tmp_path):
    path = tmp_path / "last-known.json"
    write_last_known(path, LastKnown(label="Hosts", hosts=(
        KnownHost(name="HV01", address="hv01", polled_at=T0 - timedelta(hours=1), vms=(vm(1),)),
        KnownHost(name="HV02", address="hv02", polled_at=T0 - timedelta(hours=1), vms=(vm(2),)),
        KnownHost(name="HV03", address="moved", polled_at=T0, vms=(vm(3),)))))     # another address now
    recorder = LastKnownRecorder(path, "Hosts", [("HV01", "hv01"), ("HV02", "hv02"), ("HV03", "hv03")],
                                 every_s=3600)
    recorder.observe(snap("HV01", 2))
    assert recorder.close(5.0)
    state = read_last_known(path)
    assert state is not None
    assert [(h.name, h.polled_at, len(h.vms)) for h in state.hosts] == [
        ("HV01", T0, 2), ("HV02", T0 - timedelta(hours=1), 1)]
