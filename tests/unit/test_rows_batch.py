"""The poll worker's shortcuts when it builds a host's tile rows: the sparklines of a whole
host worked out at once, the previous row's texts and objects reused. Each must give
exactly the rows the plain construction gives."""

from __future__ import annotations

import math
import random

from hvconsole.core.snapshot import VmSample
from hvconsole.monitoring.rows import SPARK_POINTS, TileFinding, TileRow, build_tile_rows
from hvconsole.monitoring.spark_geometry import spark_batch, spark_runs


def vm(i: int, *, cpu: float | None = 12.0, demand: float = 4000.0, uptime: int = 90_000,
       heartbeat: str | None = "OkApplicationsHealthy", state: str = "Running", name: str | None = None) -> VmSample:
    return VmSample(id=f"id-{i}", name=name or f"VM{i:02d}", state=state, health="Ok", heartbeat=heartbeat,
                    operational_status=("Ok",), cpu_pct=cpu, vcpus=4, memory_assigned_mb=8192.0,
                    memory_demand_mb=demand, uptime_s=uptime)


def test_spark_batch_gives_spark_runs_bytes_for_every_kind_of_history():
    rng = random.Random(12)
    histories: list[tuple] = []
    for n in (0, 1, 2, 5, SPARK_POINTS, SPARK_POINTS, SPARK_POINTS):
        for _ in range(6):
            histories.append(tuple(rng.uniform(-20.0, 130.0) for _ in range(n)))
    full = [tuple(rng.uniform(0.0, 100.0) for _ in range(SPARK_POINTS)) for _ in range(5)]
    histories += full
    histories.append((*full[0][:-1], math.nan))          # a gap at the newest point
    histories.append((math.nan, *full[1][1:]))           # a gap at the oldest
    histories.append((None, *full[2][1:]))               # None: unknown too
    histories.append((math.nan,) * SPARK_POINTS)          # a VM that is off
    histories.append((math.inf, -math.inf, *full[3][2:]))
    histories.append(tuple(0.0 for _ in range(SPARK_POINTS)))
    histories.append(tuple(-0.0 for _ in range(SPARK_POINTS)))
    histories.append((3, 4, *full[4][2:]))                # integers, as a hand-made history may hold
    batch = spark_batch(histories, SPARK_POINTS)
    assert len(batch) == len(histories)
    batched = 0
    for h, got in zip(histories, batch, strict=True):
        if got is not None:
            batched += 1
            assert got == spark_runs(h, SPARK_POINTS), h
    assert batched >= 30   # the usual case really is done in the batch


def test_spark_batch_leaves_alone_what_it_cannot_batch():
    assert spark_batch([(1.0, 2.0)], SPARK_POINTS) == [None]            # one VM alone
    assert spark_batch([(1.0,), (2.0,)], SPARK_POINTS) == [None, None]  # lone values
    assert spark_batch([("x", "y"), ("z", "w")], SPARK_POINTS) == [None, None]
    assert spark_batch([(1.0, 2.0), (3.0, 4.0)], 1) == [None, None]


def test_rows_built_with_the_shortcuts_equal_rows_built_plainly():
    rng = random.Random(3)
    vms = [vm(i, cpu=None if i % 5 == 0 else float(i)) for i in range(12)]
    previous: dict[str, TileRow] | None = None
    history: dict[str, tuple[float, ...]] = {v.id: () for v in vms}
    finding = TileFinding(kind="freeze", severity="critical", first_seen=None, evidence=("no heartbeat",))
    for poll in range(8):
        vms = [vm(i, cpu=None if i % 5 == 0 else rng.uniform(0, 100),
                  demand=4000.0 if i % 2 else rng.choice((4000.0, 5000.0)), uptime=90_000 + 5 * poll,
                  heartbeat="LostCommunication" if (i, poll) == (3, 4) else "OkApplicationsHealthy",
                  name=f"vm{i:02d}" if poll >= 6 else None) for i in range(12)]
        history = {v.id: (history[v.id] + (math.nan if v.cpu_pct is None else v.cpu_pct,))[-SPARK_POINTS:]
                   for v in vms}
        findings = {"id-3": (finding,)} if poll in (4, 5) else {}
        stale = "host unreachable (timeout)" if poll == 5 else None
        rows = build_tile_rows("HV01", vms, history, findings, stale, previous)
        plain = tuple(TileRow(host="HV01", vm=v, cpu_history=history[v.id], findings=findings.get(v.id, ()),
                              stale_reason=stale) for v in vms)
        assert rows == plain
        for row, expected in zip(rows, plain, strict=True):
            assert row.texts == expected.texts and row.spark == expected.spark
        previous = {r.vm_id: r for r in rows}


def test_an_unchanged_vm_keeps_its_row_object_and_a_changed_one_its_sort_key():
    off = vm(0, cpu=None, state="Off", heartbeat=None)
    running = vm(1, cpu=10.0)
    history = {off.id: (math.nan, math.nan), running.id: (5.0, 10.0)}
    first = build_tile_rows("HV01", [off, running], history, {}, None)
    moved = vm(1, cpu=20.0)
    second = build_tile_rows("HV01", [off, moved], {off.id: history[off.id], moved.id: (10.0, 20.0)}, {},
                             None, {r.vm_id: r for r in first})
    assert second[0] is first[0]
    assert second[1] is not first[1] and second[1].sort_key is first[1].sort_key
    assert second[1].texts is not None and second[1].texts.cpu == "CPU 20 %"
    # Another host's row for the same id is not taken for this one's.
    other = build_tile_rows("HV02", [off], {off.id: history[off.id]}, {}, None, {r.vm_id: r for r in first})
    assert other[0] is not first[0] and other[0].host == "HV02"


def test_texts_reused_from_the_previous_row_are_the_ones_formatted_afresh():
    # A running VM's CPU, uptime (within and across the hour, the day, the minute) and
    # vCPUs move from poll to poll; whatever the previous row's texts, the new row's texts
    # equal those of a row built without a previous one.
    rng = random.Random(5)
    cpus = [None, 0.0, 0.5, 1.5, 2.5, 49.5, 99.4, 99.5, 100.0, 100.4, 150.0, -0.3, 12.345]
    uptimes = [None, 0, 30, 59, 60, 3599, 3600, 86_399, 86_400, 89_999, 90_000, 93_600, 10**7]
    previous = None
    for _ in range(400):
        sample = VmSample(id="id-1", name="VM01", state=rng.choice(["Running", "Running", "Off", "Saved"]),
                          health="Ok", heartbeat="OkApplicationsHealthy", cpu_pct=rng.choice(cpus),
                          vcpus=rng.choice([None, 0, 2, 4]), memory_assigned_mb=8192.0,
                          memory_demand_mb=rng.choice([4000.0, 4100.0]), uptime_s=rng.choice(uptimes))
        stale = rng.choice([None, None, "host unreachable"])
        fresh = TileRow(host="HV01", vm=sample, cpu_history=(), stale_reason=stale)
        reused = TileRow(host="HV01", vm=sample, cpu_history=(), stale_reason=stale, previous=previous)
        assert reused.texts == fresh.texts
        assert reused == fresh
        previous = reused


def test_a_row_keeps_the_previous_rows_look_while_what_the_tiles_base_shows_is_the_same():
    """A tile's base (name, state, host, status, vCPUs, stale or not, worst severity) is
    handed on as the very same ``look`` object while it is equal, so that the GUI thread
    tells a change of live figures alone by identity; any change of the base is a new one."""
    frozen = (TileFinding("frozen", "critical", None, ("no heartbeat",)),)
    first = build_tile_rows("HV01", [vm(1, cpu=10.0)], {"id-1": (5.0, 10.0)}, {}, None)[0]
    busy = build_tile_rows("HV01", [vm(1, cpu=90.0, demand=6000.0, uptime=200_000)], {"id-1": (10.0, 90.0)}, {},
                           None, {"id-1": first})[0]
    assert busy is not first and busy.look is first.look
    assert TileRow(host="HV01", vm=vm(1, cpu=50.0), cpu_history=(), previous=first).look is first.look
    changes = [
        build_tile_rows("HV01", [vm(1, cpu=None, state="Off", heartbeat=None)], {}, {}, None, {"id-1": busy}),
        build_tile_rows("HV01", [vm(1, name="renamed")], {}, {}, None, {"id-1": busy}),
        build_tile_rows("HV01", [vm(1)], {}, {"id-1": frozen}, None, {"id-1": busy}),
        build_tile_rows("HV01", [vm(1)], {}, {}, "host unreachable", {"id-1": busy}),
        build_tile_rows("HV01", [vm(1)], {}, {}, None, {"id-1": busy}, patching="patching: install"),
    ]
    for (row,) in changes:
        assert row.look is not busy.look and row.look != busy.look
    # Built either way, the same row has the same look (compared by value).
    assert build_tile_rows("HV01", [vm(1)], {}, {}, None)[0].look == TileRow(host="HV01", vm=vm(1), cpu_history=()).look
