"""The stated disk budget holds for a site's week (smaller than the benchmark's 2,000 VMs
so that it runs with every test run; benchmarks/history.py measures the full size)."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from benchmarks.history import host_minutes, vm_minutes
from hvconsole.core.historydb import QUARTER, RAW, budget_bytes, disk_bytes
from hvconsole.core.historydb.ingest import Ingest
from hvconsole.core.historydb.schema import connect
from hvconsole.core.snapshot import HostResources, Snapshot, VmQuery, VmSample

HOSTS, PER_HOST, DAYS, LIVE_MIN = 2, 25, 7, 10


def test_a_week_of_a_small_site_extrapolates_within_the_90_day_budget(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite"
    rng = np.random.default_rng(3)
    end = int(datetime(2026, 5, 4, 8, 0, tzinfo=timezone.utc).timestamp())
    minutes = DAYS * 1440 - LIVE_MIN
    start = end - LIVE_MIN * 60 - minutes * 60
    conn = connect(path)
    ing = Ingest(conn)
    for h in range(HOSTS):
        conn.execute("BEGIN")
        ing.import_minutes("host", f"hv{h}", f"HV{h}", f"HV{h}", start, host_minutes(rng, minutes, start // 60))
        for v in range(PER_HOST):
            ing.import_minutes("vm", f"vm-{h}-{v}", f"HV{h}", f"VM{h}-{v}", start, vm_minutes(rng, minutes, start // 60))
        conn.execute("COMMIT")
    for r in range(LIVE_MIN * 12):                           # the last minutes, poll by poll
        at = datetime.fromtimestamp(end - LIVE_MIN * 60 + r * 5, timezone.utc)
        ing.apply([Snapshot(host=f"HV{h}", polled_at=at, reachable=True,
                            resources=HostResources(cpu_total_run_pct=float(rng.uniform(0, 100)),
                                                    memory_total_mb=524288.0, memory_available_mb=2e5),
                            vm_query=VmQuery(ok=True),
                            vms=tuple(VmSample(id=f"vm-{h}-{v}", name=f"VM{h}-{v}", state="Running",
                                               cpu_pct=float(rng.uniform(0, 100)), memory_assigned_mb=4096.0,
                                               memory_demand_mb=float(rng.integers(2000, 4000)))
                                      for v in range(PER_HOST)))
                   for h in range(HOSTS)])
    ing.apply([], finish=True)
    raw, quarter = (conn.execute("SELECT coalesce(sum(length(data)), 0) FROM chunks WHERE tier=?", (t.id,)).fetchone()[0]
                    for t in (RAW, QUARTER))
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    size = disk_bytes(path)
    budget = budget_bytes(HOSTS, HOSTS * PER_HOST)
    # A full hour of raw instead of the minutes written, and 83 more days of 15-minute buckets.
    ninety_days = size + raw * (60 / LIVE_MIN - 1) + quarter / DAYS * (90 - DAYS)
    assert quarter > 0 and raw > 0
    assert size <= budget
    assert ninety_days <= budget, f"{ninety_days / 1e6:.1f} MB over the {budget / 1e6:.1f} MB budget"
