"""A row whose VM changed only in its live figures (CPU, memory, uptime) takes its rank,
sort key, folded name, group, look and slow texts from the previous row. Those rows must be
exactly the rows the full construction makes with the same previous row: every field, the
texts, the sparkline, and the objects handed on by identity (sort key, look)."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime
from typing import Any

from hvconsole.core.snapshot import VmSample
from hvconsole.monitoring.rows import SPARK_POINTS, TileFinding, TileRow, build_tile_rows

NAMES = ["VM01", "vm01", "Straße", "STRASSE", "İstanbul", "", " ", "ǅemal", "x" * 300, "名前", "a\x00b"]
STATES = ["Running", "Running", "Running", "RunningCritical", "Off", "Saved", "Paused", "Starting",
          "Other", "SomethingNew", ""]
HEARTBEATS = [None, "OkApplicationsHealthy", "OkApplicationsHealthy", "OkApplicationsCritical",
              "LostCommunication", "NoContact", "Error", "Weird"]
CPUS = [None, 0.0, -0.0, 0.5, 1.5, 2.5, 49.5, 99.5, 100.0, 100.4, 150.0, -0.3, math.nan, math.inf, -math.inf]
MEMS = [None, 0.0, -0.0, 512.0, 1023.4, 1023.5, 1024.0, 8192.0, 5000.5, 10.0**9, math.nan, -5.0]
UPTIMES = [None, 0, 30, 59, 60, 3599, 3600, 86_399, 86_400, 89_999, 90_000, 93_600, 10**7, -1, 10**15]
VCPUS = [None, 0, 1, 4, 4, 64, -1]
BACKUP = datetime(2026, 12, 6, 22, 30, tzinfo=UTC)
FINDINGS = [(), (), (), (TileFinding("frozen", "critical", None, ("no heartbeat",)),),
            (TileFinding("slow", "warning", None, ("disk",)), TileFinding("odd", "info", None, ()))]


def _others(rng: random.Random) -> dict[str, Any]:
    """The fields the reuse does not compare (no tile text or look reads them today): moved
    too, so that a text or look that comes to read one fails here until the reuse compares it."""
    return {"health": rng.choice([None, "Ok", "Critical", "Warning"]),
            "operational_status": rng.choice([(), ("Ok",), ("Degraded", "Stressed"), ("Dormant",)]),
            "dynamic_memory": rng.choice([None, True, False]),
            "automatic_start_action": rng.choice([None, "Nothing", "Start"]),
            "automatic_stop_action": rng.choice([None, "Save", "TurnOff"]),
            "generation": rng.choice([None, 1, 2]), "is_clustered": rng.choice([None, True, False]),
            "last_backup": rng.choice([None, BACKUP]), "confidential": rng.choice([None, True, False])}


def _sample(rng: random.Random, i: int, was: VmSample | None) -> VmSample:
    """A VM: most often the previous sample with only its live figures moved."""
    if was is not None and rng.random() < 0.7:
        return VmSample(id=was.id, name=was.name, state=was.state, heartbeat=was.heartbeat,
                        cpu_pct=rng.choice(CPUS), vcpus=was.vcpus,
                        memory_assigned_mb=rng.choice([was.memory_assigned_mb, *MEMS]),
                        memory_demand_mb=rng.choice([was.memory_demand_mb, was.memory_demand_mb, *MEMS]),
                        uptime_s=rng.choice([None if was.uptime_s is None else was.uptime_s + 5, *UPTIMES]),
                        **_others(rng))
    if was is not None and rng.random() < 0.6:
        # One slow-changing field moved beside the live ones.
        changed: dict[str, Any] = {"name": rng.choice(NAMES), "state": rng.choice(STATES),
                                   "heartbeat": rng.choice(HEARTBEATS), "vcpus": rng.choice(VCPUS)}
        key = rng.choice(sorted(changed))
        fields: dict[str, Any] = {"name": was.name, "state": was.state, "heartbeat": was.heartbeat, "vcpus": was.vcpus,
                  key: changed[key]}
        return VmSample(id=was.id, health=was.health, operational_status=was.operational_status,
                        cpu_pct=rng.choice(CPUS), memory_assigned_mb=was.memory_assigned_mb,
                        memory_demand_mb=rng.choice(MEMS), uptime_s=rng.choice(UPTIMES), **fields)
    return VmSample(id=f"id-{i}" if rng.random() < 0.95 else f"ID-{i}", name=rng.choice(NAMES),
                    state=rng.choice(STATES), health="Ok", heartbeat=rng.choice(HEARTBEATS),
                    operational_status=("Ok",), cpu_pct=rng.choice(CPUS), vcpus=rng.choice(VCPUS),
                    memory_assigned_mb=rng.choice(MEMS), memory_demand_mb=rng.choice(MEMS),
                    uptime_s=rng.choice(UPTIMES), dynamic_memory=rng.choice([None, True, False]))


def _check_poll(host: str, vms: list[VmSample], history: dict[str, tuple[float, ...]],
                findings: dict, stale: str | None, previous: dict[str, TileRow] | None,
                patching: str | None, notes: dict[str, str] | None) -> tuple[TileRow, ...]:
    rows = build_tile_rows(host, vms, history, findings, stale, previous, patching=patching, vm_notes=notes)
    seen: set[str] = set()
    expected = []
    for v in vms:
        if v.id in seen:
            continue
        seen.add(v.id)
        old = None if previous is None else previous.get(v.id)
        note = notes.get(v.id, patching) if notes else patching
        expected.append((TileRow(host=host, vm=v, cpu_history=history.get(v.id, ()),
                                 findings=findings.get(v.id, ()), stale_reason=stale, patching=note,
                                 previous=old), old))
    assert len(rows) == len(expected)
    for row, (want, old) in zip(rows, expected, strict=True):
        assert row == want
        for name in ("vm_id", "rank", "sort_key", "name_folded", "group", "texts", "spark", "look"):
            assert getattr(row, name) == getattr(want, name), name
        # Handed on by identity exactly when the full construction hands them on.
        assert (row.sort_key is getattr(old, "sort_key", None)) == (want.sort_key is getattr(old, "sort_key", None))
        assert (row.look is getattr(old, "look", None)) == (want.look is getattr(old, "look", None))
        if old is not None and row.vm is not old.vm and row.vm == old.vm and row.cpu_history == old.cpu_history:
            assert row is old or row == old
    return rows


def test_rows_with_only_live_figures_moved_equal_the_full_construction():
    rng = random.Random(20261207)
    reused = 0
    for _run in range(12):
        host = "HV01"
        samples: dict[int, VmSample] = {}
        history: dict[str, tuple[float, ...]] = {}
        previous: dict[str, TileRow] | None = None
        for _poll in range(40):
            if rng.random() < 0.05:
                host = rng.choice(["HV01", "hv01", "HV02"])
            count = rng.choice([0, 1, 3, 12, 12])
            vms = []
            for i in range(count):
                samples[i] = _sample(rng, i, samples.get(i))
                vms.append(samples[i])
            if vms and rng.random() < 0.1:
                vms.append(rng.choice(vms))           # a VM listed twice
            for v in vms:
                point = math.nan if v.cpu_pct is None else v.cpu_pct
                history[v.id] = (*history.get(v.id, ()), point)[-SPARK_POINTS:]
            findings = {v.id: rng.choice(FINDINGS) for v in vms if rng.random() < 0.2}
            stale = rng.choice([None] * 8 + ["host unreachable (timeout)", "VM list unavailable"])
            patching = rng.choice([None] * 8 + ["patching: install"])
            notes = ({v.id: "recovery: Turn off" for v in vms if rng.random() < 0.3}
                     if rng.random() < 0.2 else None)
            rows = _check_poll(host, vms, history, findings, stale, previous, patching, notes)
            if previous is not None:
                reused += sum(1 for r in rows if r.vm_id in previous and r.look is previous[r.vm_id].look)
            previous = {r.vm_id: r for r in rows}
    assert reused > 200    # the live-only path really ran


def test_a_steady_running_host_shares_the_previous_rows_objects():
    vms = [VmSample(id=f"id-{i}", name=f"VM{i}", state="Running", health="Ok", heartbeat="OkApplicationsHealthy",
                    cpu_pct=float(i), vcpus=4, memory_assigned_mb=8192.0, memory_demand_mb=4000.0,
                    uptime_s=90_000) for i in range(5)]
    first = build_tile_rows("HV01", vms, {v.id: (1.0, 2.0) for v in vms}, {}, None)
    moved = [VmSample(id=v.id, name=v.name, state=v.state, health=v.health, heartbeat=v.heartbeat,
                      cpu_pct=(v.cpu_pct or 0.0) + 1, vcpus=v.vcpus, memory_assigned_mb=8192.0, memory_demand_mb=4100.0,
                      uptime_s=90_005) for v in vms]
    second = build_tile_rows("HV01", moved, {v.id: (2.0, 3.0) for v in vms}, {}, None,
                             {r.vm_id: r for r in first})
    for a, b in zip(first, second, strict=True):
        assert b is not a and b.sort_key is a.sort_key and b.look is a.look
        assert b.texts.uptime is a.texts.uptime and b.texts.memory != a.texts.memory
        assert b == TileRow(host="HV01", vm=b.vm, cpu_history=(2.0, 3.0))


def test_a_previous_row_of_another_vm_lends_nothing():
    a = VmSample(id="id-1", name="VM", state="Running", health="Ok", heartbeat=None, cpu_pct=1.0, uptime_s=90_000)
    b = VmSample(id="id-2", name="VM", state="Running", health="Ok", heartbeat=None, cpu_pct=2.0, uptime_s=90_000)
    first = build_tile_rows("HV01", [a], {}, {}, None)[0]
    (row,) = build_tile_rows("HV01", [b], {}, {}, None, {"id-2": first})
    assert row == TileRow(host="HV01", vm=b, cpu_history=()) and row.sort_key[-1] == "id-2"
