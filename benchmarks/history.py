"""What the persistent history costs: a 2,000-VM site's simulated week (or longer) written
into a history file, then its size on disk against the stated budget, the time to write
one polling round of the whole site, and the time to open 7 days (and 1 hour, 90 days) of
one host's graphs. Prints numbers; never a pass/fail test.

    python benchmarks/history.py [--hosts 20] [--vms 2000] [--days 7] [--live-minutes 60] [--keep DIR]

Accelerated: all but the last hour is synthetic 1-minute data written through
``Ingest.import_minutes`` (the same chunks live polling writes: min/mean/max per minute,
15-minute buckets made from them); the last hour is written poll by poll through the live
ingest path (``Ingest.apply``, what the writer thread runs), at 5 s per host, one
transaction per ``--batch-s`` seconds of polls (default: the writer's flush interval).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hvconsole.core.history import HOST_FIELDS  # noqa: E402
from hvconsole.core.historydb import (BUDGET_BYTES_PER_HOST, BUDGET_BYTES_PER_VM, MINUTE, QUARTER,  # noqa: E402
                                      RAW, Annotation, HistoryReader, budget_bytes, disk_bytes)
from hvconsole.core.historydb.ingest import Ingest  # noqa: E402
from hvconsole.core.historydb.schema import connect  # noqa: E402
from hvconsole.core.historydb.writer import DEFAULT_FLUSH_INTERVAL_S  # noqa: E402
from hvconsole.core.snapshot import HostResources, Snapshot, VmQuery, VmSample  # noqa: E402

POLL_S = 5


def vm_minutes(rng: np.random.Generator, minutes: int, t0_min: int) -> np.ndarray:
    """(3, minutes): CPU %, memory assigned MB, memory demand MB of one VM."""
    t = np.arange(t0_min, t0_min + minutes)
    base = rng.uniform(2, 50)
    cpu = base * (1 + 0.5 * np.sin(2 * np.pi * t / 1440 + rng.uniform(0, 6))) + rng.normal(0, 3, minutes)
    cpu = np.clip(cpu, 0, 100)
    size = float(rng.choice([2048, 4096, 8192, 16384, 32768]))
    if rng.random() < 0.3:              # dynamic memory: steps every half hour or so
        steps = np.repeat(rng.uniform(0.5, 1.0, minutes // 30 + 1), 30)[:minutes]
        assigned = np.round(size * steps / 128) * 128
    else:
        assigned = np.full(minutes, size)
    demand = np.round(assigned * np.clip(0.55 + 0.002 * cpu + rng.normal(0, 0.02, minutes), 0.1, 1.0))
    return np.vstack([cpu, assigned, demand])


def host_minutes(rng: np.random.Generator, minutes: int, t0_min: int) -> np.ndarray:
    t = np.arange(t0_min, t0_min + minutes)
    cpu = np.clip(35 + 20 * np.sin(2 * np.pi * t / 1440) + rng.normal(0, 4, minutes), 0, 100)
    guest = cpu * 0.85
    root = cpu - guest
    total = np.full(minutes, 524288.0)
    used = np.round(300000 + 20000 * np.sin(2 * np.pi * t / 1440) + rng.normal(0, 500, minutes))
    avail = total - used
    rd, wr = rng.gamma(2, 2e7, minutes), rng.gamma(2, 1e7, minutes)
    lat = rng.gamma(2, 1.5, minutes)
    rx, tx = rng.gamma(2, 5e7, minutes), rng.gamma(2, 4e7, minutes)
    return np.vstack([cpu, guest, root, total, used, avail, rd, wr, lat, rx, tx])


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--hosts", type=int, default=20)
    ap.add_argument("--vms", type=int, default=2000)
    ap.add_argument("--days", type=float, default=7.0)
    ap.add_argument("--live-minutes", type=int, default=60,
                    help="how much of the end is written poll by poll through the live path (at most 60)")
    ap.add_argument("--batch-s", type=float, default=DEFAULT_FLUSH_INTERVAL_S,
                    help="seconds of polls written per transaction (the writer's flush interval; "
                         "5 = one transaction per polling round)")
    ap.add_argument("--keep", metavar="DIR", help="write the file here and keep it")
    args = ap.parse_args()
    assert len(HOST_FIELDS) == 11
    folder = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="hvc-history-"))
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "history.sqlite"
    if path.exists():
        for suffix in ("", "-wal", "-shm"):
            Path(str(path) + suffix).unlink(missing_ok=True)
    print(f"site: {args.hosts} hosts, {args.vms} VMs, {args.days:g} simulated days; load average "
          f"{os.getloadavg()[0]:.2f}; file {path}")

    rng = np.random.default_rng(7)
    end = int(datetime(2026, 5, 4, 8, 0, tzinfo=timezone.utc).timestamp())
    live_s = 60 * max(1, min(60, args.live_minutes))
    minutes = int(args.days * 1440) - live_s // 60
    start = end - live_s - minutes * 60
    per_host = args.vms // args.hosts
    vm_ids = [[f"00000000-0000-4000-8000-{h:04d}{v:08d}" for v in range(per_host)] for h in range(args.hosts)]
    conn = connect(path)
    ing = Ingest(conn)

    started = time.perf_counter()
    for h in range(args.hosts):
        name = f"HV{h:02d}"
        conn.execute("BEGIN")
        ing.import_minutes("host", name.casefold(), name, name, start, host_minutes(rng, minutes, start // 60))
        for v, vm_id in enumerate(vm_ids[h]):
            ing.import_minutes("vm", vm_id, name, f"VM-{h:02d}-{v:03d}", start, vm_minutes(rng, minutes, start // 60))
        # A finding and a state change a day on a few VMs: the markers a graph draws.
        for day in range(int(args.days)):
            for k in range(5):
                t = start + day * 86400 + k * 3600
                ing.add_annotation(Annotation(t, name, vm_ids[h][k], "finding", "heartbeat-lost", "warning",
                                              f"heartbeat-lost opened on VM-{h:02d}-{k:03d}: heartbeat lost for 30 s"))
        ing._write_pending()
        conn.execute("COMMIT")
    import_s = time.perf_counter() - started
    print(f"synthetic history ({minutes:,} minutes per series, {args.hosts + args.vms:,} series) "
          f"written in {import_s:.1f} s")

    # The last hour, poll by poll through the live path: one batch per polling round.
    rounds = live_s // POLL_S
    state = {h: [vm_minutes(rng, 1, 0)[:, 0] for _ in range(per_host)] for h in range(args.hosts)}
    round_ms, round_cpu_ms = [], []     # wall time, and this thread's CPU time (Python and SQLite)
    per_batch = max(1, round(args.batch_s / POLL_S))   # polling rounds per transaction
    pending: list[Snapshot] = []
    t_live = time.perf_counter()
    for r in range(rounds):
        at_s = end - live_s + r * POLL_S
        snaps = []
        for h in range(args.hosts):
            at = datetime.fromtimestamp(at_s + h * 0.01, timezone.utc)
            vms = tuple(VmSample(id=vm_ids[h][v], name=f"VM-{h:02d}-{v:03d}", state="Running",
                                 heartbeat="OkApplicationsHealthy",
                                 cpu_pct=float(np.clip(state[h][v][0] + rng.normal(0, 3), 0, 100)),
                                 memory_assigned_mb=float(state[h][v][1]), memory_demand_mb=float(state[h][v][2]))
                        for v in range(per_host))
            snaps.append(Snapshot(host=f"HV{h:02d}", polled_at=at, reachable=True,
                                  resources=HostResources(cpu_total_run_pct=float(rng.uniform(20, 60)),
                                                          memory_total_mb=524288.0, memory_available_mb=200000.0,
                                                          storage_read_bps=float(rng.gamma(2, 2e7))),
                                  vm_query=VmQuery(ok=True), vms=vms))
        pending.extend(snaps)
        if len(pending) < per_batch * args.hosts and r != rounds - 1:
            continue
        t, cpu = time.perf_counter(), time.thread_time()
        ing.apply(pending)
        in_batch = len(pending) / args.hosts
        pending.clear()
        # Per polling round, so that batch sizes compare.
        round_ms.append((time.perf_counter() - t) * 1000 / in_batch)
        round_cpu_ms.append((time.thread_time() - cpu) * 1000 / in_batch)
    live_total = time.perf_counter() - t_live
    ing.apply([], finish=True)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    print(f"live {live_s // 60} min: {rounds} polling rounds of the whole site through the live ingest "
          f"in {live_total:.1f} s; "
          f"one transaction per {per_batch} round(s); per round ({args.vms:,} VM samples) "
          f"median {statistics.median(round_ms):.0f} ms, "
          f"95th {sorted(round_ms)[int(len(round_ms) * 0.95)]:.0f} ms, max {max(round_ms):.0f} ms "
          f"(writer thread, a round every {POLL_S} s); CPU median {statistics.median(round_cpu_ms):.0f} ms, "
          f"mean {statistics.mean(round_cpu_ms):.1f} ms")

    size = disk_bytes(path)
    c = connect(path)
    by_tier = {tier: (n, b) for tier, n, b in c.execute(
        "SELECT tier, count(*), sum(length(data)) FROM chunks GROUP BY tier")}
    c.close()
    names = {RAW.id: "full resolution (1 h)", MINUTE.id: "1-minute", QUARTER.id: "15-minute"}
    for tier, (n, b) in sorted(by_tier.items()):
        print(f"  {names[tier]:<22} {n:>8,} chunks {b / 1e6:>9.1f} MB of data")
    budget = budget_bytes(args.hosts, args.vms)
    quarter_per_day = by_tier.get(QUARTER.id, (0, 0))[1] / max(args.days, 1)
    ninety = size + max(0.0, 90 - args.days) * quarter_per_day
    print(f"on disk after {args.days:g} days: {size / 1e6:,.1f} MB ({size / args.vms / 1024:,.0f} KiB per VM)")
    print(f"extrapolated to 90 days (15-minute tier grows, the others are full): {ninety / 1e6:,.0f} MB")
    print(f"stated budget for 90 days ({BUDGET_BYTES_PER_VM // 1024} KiB per VM + {BUDGET_BYTES_PER_HOST // 2**20} MiB "
          f"per host): {budget / 1e6:,.0f} MB -> {'within' if ninety <= budget else 'OVER'} budget "
          f"({ninety / budget:.0%})")

    # Opening graphs: a fresh reader each time (the window opens the file when a dialog opens).
    def timed(label: str, fn, repeat: int = 7) -> None:
        times, n = [], 0
        for _ in range(repeat):
            t = time.perf_counter()
            n = fn()
            times.append((time.perf_counter() - t) * 1000)
        print(f"{label:<52} median {statistics.median(times):6.1f} ms, max {max(times):6.1f} ms ({n:,} points)")

    h_pick = min(7, args.hosts - 1)
    pick, vm_pick = f"HV{h_pick:02d}", f"VM-{h_pick:02d}-{min(42, per_host - 1):03d}"

    def open_host(span_s: float, what: str = "host") -> int:
        with HistoryReader(path) as r:
            host = r.host(pick)
            s = host if what == "host" else r.vm(pick, vm_pick)
            data = r.read(s, end - span_s, end)
            r.markers(pick, end - span_s, end, vm_id=None if what == "host" else s.key)
            return len(data) * len(data.fields)

    print("opening graphs (new connection, all fields, markers):")
    timed("  7 days of one host (1-minute, 11 fields)", lambda: open_host(7 * 86400))
    timed("  1 hour of one host (full resolution)", lambda: open_host(3600))
    timed("  1 day of one host (1-minute)", lambda: open_host(86400))
    timed("  90 days of one host (15-minute)", lambda: open_host(90 * 86400))
    timed("  7 days of one VM (1-minute, 3 fields)", lambda: open_host(7 * 86400, "vm"))
    if not args.keep:
        for suffix in ("", "-wal", "-shm"):
            Path(str(path) + suffix).unlink(missing_ok=True)
        folder.rmdir()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
