"""The persistent history (hvconsole.core.historydb): what goes in comes out at every
tier, gaps stay gaps, retention, restarts, annotations, and bad files."""

from __future__ import annotations

import math
import sqlite3
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pytest

from hvconsole.core.detector.findings import Finding
from hvconsole.core.historydb import (MINUTE, QUARTER, RAW, Annotation, HistoryDbError, HistoryReader,
                                      HistoryWriter, tier_for)
from hvconsole.core.historydb import codec
from hvconsole.core.historydb.ingest import Ingest
from hvconsole.core.historydb.schema import connect
from hvconsole.core.snapshot import HostResources, Snapshot, VmQuery, VmSample, unreachable

T0 = datetime(2026, 5, 4, 8, 0, 0, tzinfo=timezone.utc)   # a whole hour
VM_A = "11111111-2222-3333-4444-555555555555"
VM_B = "66666666-7777-8888-9999-000000000000"


def cpu_at(i: int) -> float:
    return round(20 + 15 * math.sin(i / 7.0), 2)


def snap(i: int, *, every_s: float = 5.0, host: str = "HV01", heartbeat: str = "OkApplicationsHealthy",
         vms: bool = True) -> Snapshot:
    at = T0 + timedelta(seconds=i * every_s)
    vm_list = ()
    if vms:
        vm_list = (VmSample(id=VM_A, name="SQL-01", state="Running", heartbeat=heartbeat, cpu_pct=cpu_at(i) / 2,
                            memory_assigned_mb=8192, memory_demand_mb=4000 + i % 50),
                   VmSample(id=VM_B, name="WEB-01", state="Running", heartbeat="OkApplicationsHealthy",
                            cpu_pct=None, memory_assigned_mb=4096, memory_demand_mb=None))
    return Snapshot(host=host, polled_at=at, reachable=True,
                    resources=HostResources(cpu_total_run_pct=cpu_at(i), memory_total_mb=262144,
                                            memory_available_mb=100000 + i, storage_read_bps=1.5e6 + i),
                    vm_query=VmQuery(ok=True), vms=vm_list)


def write(path: Path, snaps) -> HistoryWriter:
    w = HistoryWriter(path, flush_interval_s=0.05)
    for s in snaps:
        w.add(s)
    assert w.flush(30)
    return w


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "history.sqlite"


def test_full_resolution_returns_each_poll_and_unknown_stays_unknown(db: Path) -> None:
    snaps = [snap(i) for i in range(120)]                      # ten minutes
    write(db, snaps).close()
    with HistoryReader(db) as r:
        host = r.host("hv01")                                   # Windows names: any case
        assert host is not None and host.name == "HV01"
        t1 = snaps[-1].polled_at.timestamp()
        data = r.read(host, t1 - 600, t1)
        assert data.tier == RAW.name and data.resolution_s is None
        times, cpu = data.field("cpu_total_pct")
        assert len(times) == 120
        assert np.allclose(cpu, [cpu_at(i) for i in range(120)], atol=1e-4)
        _, used = data.field("memory_used_mb")
        assert used[3] == 262144 - 100003
        _, guest = data.field("cpu_guest_pct")                 # never reported: NaN, not 0
        assert np.isnan(guest).all()
        web = r.vm("HV01", "web-01")                            # by name, any case
        assert web is not None and web.key == VM_B
        _, web_cpu = r.read(web, t1 - 600, t1).field("cpu_pct")
        assert np.isnan(web_cpu).all()
        with pytest.raises(KeyError):
            data.field("no_such_field")


def test_minute_and_quarter_aggregates_match_the_samples(db: Path) -> None:
    snaps = [snap(i) for i in range(12 * 40)]                  # 40 minutes at 5 s
    w = write(db, snaps)
    w.close()                                                   # closes the buckets in progress
    cpu = np.array([cpu_at(i) for i in range(12 * 40)])
    with HistoryReader(db) as r:
        host = r.host("HV01")
        t1 = snaps[-1].polled_at.timestamp()
        m = r.read(host, T0.timestamp(), t1, MINUTE)
        assert m.resolution_s == 60 and m.times[0] == T0.timestamp()
        i = m.fields.index("cpu_total_pct")
        for minute in (0, 7, 39):
            chunk = cpu[minute * 12:(minute + 1) * 12]
            assert m.counts[minute] == 12
            assert m.min[i, minute] == pytest.approx(chunk.min(), abs=0.006)
            assert m.mean[i, minute] == pytest.approx(chunk.mean(), abs=0.006)
            assert m.max[i, minute] == pytest.approx(chunk.max(), abs=0.006)
        q = r.read(host, T0.timestamp(), t1, QUARTER)
        assert q.resolution_s == 900
        for quarter in (0, 1):
            chunk = cpu[quarter * 180:(quarter + 1) * 180]
            assert q.counts[quarter] == 180
            assert q.mean[i, quarter] == pytest.approx(chunk.mean(), abs=0.01)
            assert q.min[i, quarter] == pytest.approx(chunk.min(), abs=0.006)
            assert q.max[i, quarter] == pytest.approx(chunk.max(), abs=0.006)
        assert q.counts[2] == 10 * 12                            # the last, partial quarter


def test_an_unreachable_host_is_a_gap_not_a_line(db: Path) -> None:
    snaps = [snap(i) for i in range(20)]
    down = [unreachable("HV01", T0 + timedelta(seconds=i * 5), "timeout", "no answer") for i in range(20, 40)]
    back = [snap(i) for i in range(40, 60)]
    write(db, snaps + down + back).close()
    with HistoryReader(db) as r:
        host = r.host("HV01")
        times, cpu = r.read(host, T0.timestamp(), T0.timestamp() + 300).field("cpu_total_pct")
        assert np.isnan(cpu[20:40]).all() and not np.isnan(cpu[:20]).any() and not np.isnan(cpu[40:]).any()
        # The VM has no samples while its host was down: the reader breaks the line there.
        vm = r.vm("HV01", VM_A)
        vt, vcpu = r.read(vm, T0.timestamp(), T0.timestamp() + 300).field("cpu_pct")
        assert len(vt) == 41 and np.isnan(vcpu[20])
        assert vt[19] < vt[20] < vt[21]


def test_range_picks_the_tier_it_is_kept_at() -> None:
    now = 1_800_000_000.0
    assert tier_for(now - 300, now, now) is RAW
    assert tier_for(now - 3600, now, now) is RAW
    assert tier_for(now - 86400, now, now) is MINUTE
    assert tier_for(now - 7 * 86400, now, now) is MINUTE
    assert tier_for(now - 90 * 86400, now, now) is QUARTER
    # An old hour is no longer kept at full resolution.
    assert tier_for(now - 3 * 86400, now - 3 * 86400 + 3600, now) is MINUTE


def test_retention_keeps_each_tier_for_its_time(db: Path) -> None:
    conn = connect(db)
    ing = Ingest(conn)
    # 100 days of 1-minute history, imported, then live polls at the end.
    start = int(T0.timestamp()) - 100 * 86400
    values = np.full((len(ing_fields()), 100 * 1440), 10.0)
    conn.execute("BEGIN")
    ing.import_minutes("host", "hv01", "HV01", "HV01", start, values)
    conn.execute("COMMIT")
    ing.apply([snap(i, every_s=30) for i in range(240)])        # two hours at 30 s
    now = snap(239, every_s=30).polled_at.timestamp()
    ing.retain(now)
    rows = conn.execute("SELECT tier, min(start), max(start) FROM chunks GROUP BY tier").fetchall()
    oldest = {tier: lo for tier, lo, _ in rows}
    assert now - oldest[RAW.id] <= RAW.keep_s + RAW.chunk_s
    assert now - oldest[MINUTE.id] <= MINUTE.keep_s + MINUTE.chunk_s
    assert now - oldest[QUARTER.id] <= QUARTER.keep_s + QUARTER.chunk_s
    assert now - oldest[QUARTER.id] > QUARTER.keep_s - QUARTER.chunk_s   # not more than that
    assert now - oldest[MINUTE.id] > MINUTE.keep_s - MINUTE.chunk_s
    conn.close()
    with HistoryReader(db) as r:
        q = r.read(r.host("HV01"), now - 89 * 86400, now)
        assert q.tier == QUARTER.name
        assert np.nanmean(q.field("cpu_total_pct")[1][:500]) == pytest.approx(10.0)


def ing_fields():
    from hvconsole.core.history import HOST_FIELDS
    return HOST_FIELDS


def test_a_restart_continues_the_same_chunks(db: Path) -> None:
    write(db, [snap(i) for i in range(30)]).close()
    write(db, [snap(i) for i in range(30, 60)]).close()          # same five-minute raw chunk
    with HistoryReader(db) as r:
        host = r.host("HV01")
        t, cpu = r.read(host, T0.timestamp(), T0.timestamp() + 600, RAW).field("cpu_total_pct")
        assert len(t) == 60 and np.allclose(cpu, [cpu_at(i) for i in range(60)], atol=1e-4)
        m = r.read(host, T0.timestamp(), T0.timestamp() + 299, MINUTE)
        assert list(m.counts) == [12, 12, 6 + 6, 12, 12]            # minute 2 straddled the restart
        # VM state was seen before the restart: no second "Running" marker after it.
        states = r.markers("HV01", 0, 2e9, vm_id=VM_A, categories=("state",))
        assert len(states) == 1


def test_findings_and_state_changes_become_markers(db: Path) -> None:
    w = HistoryWriter(db, flush_interval_s=0.05)
    for i in range(10):
        w.add(snap(i))
    opened = Finding(host="HV01", vm_id=VM_A, vm_name="SQL-01", kind="heartbeat-lost", severity="warning",
                     first_seen=T0 + timedelta(seconds=50), last_seen=T0 + timedelta(seconds=50), active=True,
                     evidence=("heartbeat LostCommunication for 25 s",))
    w.add(snap(10, heartbeat="LostCommunication"), [opened])
    ended = Finding(host="HV01", vm_id=VM_A, vm_name="SQL-01", kind="heartbeat-lost", severity="warning",
                    first_seen=opened.first_seen, last_seen=T0 + timedelta(seconds=80), active=False, evidence=())
    w.add(snap(16), [ended])
    w.annotate(Annotation(T0.timestamp() + 90, "HV01", None, "patch", "install", None, "KB5061906 installed"))
    assert w.flush(30)
    w.close()
    with HistoryReader(db) as r:
        marks = r.markers("HV01", 0, 2e9, vm_id=VM_A)
        texts = [(m.category, m.text) for m in marks]
        assert ("finding", "heartbeat-lost opened on SQL-01: heartbeat LostCommunication for 25 s") in texts
        assert ("finding", "heartbeat-lost ended on SQL-01") in texts
        assert ("patch", "KB5061906 installed") in texts             # host markers show on VMs too
        state = [m.text for m in marks if m.category == "state"]
        assert state == ["SQL-01: Running, heartbeat OkApplicationsHealthy",
                         "SQL-01: Running, heartbeat LostCommunication (was Running, heartbeat OkApplicationsHealthy)",
                         "SQL-01: Running, heartbeat OkApplicationsHealthy (was Running, heartbeat LostCommunication)"]
        assert [m.t for m in marks] == sorted(m.t for m in marks)
        assert r.markers("HV02", 0, 2e9) == []


def test_codec_quantises_and_keeps_unknowns() -> None:
    kinds = (codec.PCT, codec.MB, codec.RATE)
    counts = np.array([3, 0, 12, 1])
    stats = np.full((3, 3, 4), np.nan)
    stats[0, :, 0] = [1.234, 50.005, 99.999]
    stats[1, :, 0] = [1024.4, 2048.6, 4096]
    stats[2, :, 0] = [1.5e9, 2.25e9, 3e9]
    stats[0, :, 2] = [-5, 700, 0]                                # out of range: clamped, not wrapped
    counts2, back = codec.decode_agg(kinds, codec.encode_agg(kinds, counts, stats))
    assert list(counts2) == [3, 0, 12, 1]
    assert back[0, :, 0] == pytest.approx([1.23, 50.0, 100.0], abs=0.006)
    assert list(back[1, :, 0]) == [1024, 2049, 4096]
    assert back[2, :, 0] == pytest.approx([1.5e9, 2.25e9, 3e9], rel=1e-6)
    assert np.isnan(back[:, :, 1]).all() and np.isnan(back[:, :, 3]).all()
    assert list(back[0, :, 2]) == [0.0, 655.34, 0.0]
    with pytest.raises(ValueError):
        codec.decode_agg(kinds[:2], codec.encode_agg(kinds, counts, stats))


def test_live_raw_chunks_encode_to_the_bytes_of_the_numpy_path() -> None:
    from array import array
    rng = np.random.default_rng(5)
    values = rng.uniform(-1e3, 1e9, (60, 11))
    values[3, 2], values[7, 0], values[9, 4] = np.nan, np.inf, -np.inf
    offsets = sorted(int(o) for o in rng.integers(0, 300_000, 60))
    live = codec.encode_raw_arrays(array(codec.U32, offsets), array("f", values.ravel().tolist()), 11)
    assert live == codec.encode_raw(offsets, values)
    back_offsets, back = codec.decode_raw(live)
    assert list(back_offsets) == offsets and np.isnan(back[3, 2]) and back[7, 0] == np.inf


def test_infinite_statistics_are_clamped_like_out_of_range_ones() -> None:
    kinds = (codec.PCT, codec.MB)
    stats = np.array([[[np.inf], [-np.inf], [np.nan]], [[np.inf], [-np.inf], [5e12]]])
    _, back = codec.decode_agg(kinds, codec.encode_agg(kinds, np.array([1]), stats))
    assert list(back[0, :2, 0]) == [655.34, 0.0] and np.isnan(back[0, 2, 0])
    assert list(back[1, :, 0]) == [0xFFFFFFFE, 0.0, 0xFFFFFFFE]


def test_a_file_that_is_not_history_is_one_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "history.sqlite"
    bad.write_bytes(b"this is not a database" * 100)
    with pytest.raises(HistoryDbError, match="not a readable history file"):
        HistoryReader(bad)
    with pytest.raises(HistoryDbError, match="no history file"):
        HistoryReader(tmp_path / "missing.sqlite")
    other = tmp_path / "other.sqlite"
    c = sqlite3.connect(other)
    c.executescript("CREATE TABLE meta (key TEXT, value TEXT); INSERT INTO meta VALUES ('schema', '99');")
    c.close()
    with pytest.raises(HistoryDbError, match="schema 99"):
        HistoryWriter(other)


def test_the_queue_is_bounded_and_callers_never_wait(db: Path) -> None:
    w = HistoryWriter(db, flush_interval_s=3600, queue_max=50, batch_max=10_000)
    for i in range(200):
        w.add(snap(i))
    assert w.stats.dropped == 150                               # oldest dropped, counted
    assert w.flush(30) and w.close()
    with HistoryReader(db) as r:
        t, _ = r.read(r.host("HV01"), T0.timestamp(), T0.timestamp() + 1000, RAW).field("cpu_total_pct")
        assert t[0] == pytest.approx((T0 + timedelta(seconds=150 * 5)).timestamp())


def test_an_older_poll_is_dropped_not_written_back_in_time(db: Path) -> None:
    w = write(db, [snap(5), snap(3), snap(6)])
    assert w.ingest_stats.dropped_out_of_order == 1
    w.close()
    with HistoryReader(db) as r:
        assert len(r.read(r.host("HV01"), T0.timestamp(), T0.timestamp() + 60, RAW)) == 2
