"""The history file when the console's own clock is stepped back: every poll is kept at
the time the clock said, in time order inside the chunks that already hold samples, and the
file's "newest" follows the clock (a poll a few seconds late is still dropped, counted)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from hvconsole.core.historydb import MINUTE, RAW, HistoryReader
from hvconsole.core.historydb.ingest import Ingest
from hvconsole.core.historydb.schema import connect
from hvconsole.core.snapshot import HostResources, Snapshot, VmSample
from hvconsole.core.timeutil import CLOCK_STEP_BACK_S

T0 = datetime(2026, 5, 4, 8, 0, 0, tzinfo=UTC)
VM = "11111111-2222-3333-4444-555555555555"


def snap(at: datetime, cpu: float) -> Snapshot:
    return Snapshot(host="HV01", polled_at=at, reachable=True,
                    resources=HostResources(cpu_total_run_pct=cpu, memory_total_mb=262144,
                                            memory_available_mb=100000),
                    vms=(VmSample(id=VM, name="SQL-01", state="Running", cpu_pct=cpu / 2),))


def polls(start: datetime, n: int, cpu: float, every_s: float = 5.0) -> list[Snapshot]:
    return [snap(start + timedelta(seconds=i * every_s), cpu) for i in range(n)]


def raw(db: Path, t0: float, t1: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, float | None]:
    with HistoryReader(db) as r:
        host = r.read(r.host("HV01"), t0, t1, RAW)
        vm = r.read(r.vm("HV01", VM), t0, t1, RAW)
        t, cpu = host.field("cpu_total_pct")
        vt, _ = vm.field("cpu_pct")
        return t, cpu, vt, r.newest_time()


def test_a_step_back_into_minutes_already_written_keeps_both_runs_in_time_order(tmp_path: Path) -> None:
    db = tmp_path / "history.db"
    ing = Ingest(connect(db))
    before = polls(T0, 120, cpu=10.0)                                      # 08:00:00-08:09:55
    after = polls(T0 + timedelta(seconds=302.5), 60, cpu=90.0)            # back to 08:05:02.5
    ing.apply(before[:100])
    ing.apply(before[100:] + after[:30])     # the step inside one batch: chunks not yet written
    ing.apply(after[30:], finish=True)
    assert ing.stats.dropped_out_of_order == 0 and ing.stats.clock_steps_back == 1
    t, cpu, vm_t, newest = raw(db, T0.timestamp(), T0.timestamp() + 3600)
    assert len(t) == 180 and len(vm_t) == 180 and np.all(np.diff(t) > 0)
    assert newest == after[-1].polled_at.timestamp()      # the graphs' right edge came back
    # Both runs are there, interleaved where they overlap (08:05:02.5-08:09:55).
    overlap = (t > T0.timestamp() + 300) & (t < T0.timestamp() + 600)
    assert set(cpu[overlap]) == {10.0, 90.0}
    with HistoryReader(db) as r:
        minutes = r.read(r.host("HV01"), T0.timestamp(), T0.timestamp() + 3600, MINUTE)
        assert int(minutes.counts.sum()) == 180            # every poll in a minute's count


def test_a_step_back_of_an_hour_writes_on_instead_of_dropping_for_an_hour(tmp_path: Path) -> None:
    db = tmp_path / "history.db"
    ing = Ingest(connect(db))
    ing.apply(polls(T0 + timedelta(hours=1), 60, cpu=10.0))
    ing.apply(polls(T0 + timedelta(seconds=300), 60, cpu=90.0))
    assert ing.stats.dropped_out_of_order == 0
    _, cpu, _, newest = raw(db, T0.timestamp(), T0.timestamp() + 2 * 3600)
    known = ~np.isnan(cpu)          # the reader marks the silence between the runs with a gap
    assert known.sum() == 120 and list(cpu[known][:60]) == [90.0] * 60
    assert newest == (T0 + timedelta(seconds=300 + 59 * 5)).timestamp()


def test_a_poll_a_few_seconds_late_is_still_dropped_and_counted(tmp_path: Path) -> None:
    db = tmp_path / "history.db"
    ing = Ingest(connect(db))
    late = T0 + timedelta(seconds=50 - (CLOCK_STEP_BACK_S - 5))
    ing.apply([*polls(T0, 11, cpu=10.0), snap(late, 50.0)])
    assert ing.stats.dropped_out_of_order == 1 and ing.stats.clock_steps_back == 0
    t, _, _, _ = raw(db, T0.timestamp(), T0.timestamp() + 3600)
    assert len(t) == 11
