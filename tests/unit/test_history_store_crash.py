"""The history survives a process killed in the middle of writing (SIGKILL: no clean-up
runs), and the next process goes on writing into it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from hvconsole.core.historydb import RAW, HistoryReader, HistoryWriter
from hvconsole.core.historydb.schema import connect

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")

# The child writes 10 hosts × 50 VMs polled every simulated second, as fast as it can,
# and prints how many polls of HV00 are committed after each flush it waited for. Between
# flushes the writer thread keeps committing batches on its own: the kill lands anywhere.
CHILD = textwrap.dedent("""
    import sys
    from datetime import datetime, timedelta, timezone
    from hvconsole.core.historydb import HistoryWriter
    from hvconsole.core.snapshot import HostResources, Snapshot, VmQuery, VmSample
    T0 = datetime(2026, 5, 4, 8, 0, tzinfo=timezone.utc)
    w = HistoryWriter(sys.argv[1], flush_interval_s=0.01, batch_max=50)
    vms = [VmSample(id=f"00000000-0000-0000-0000-{v:012d}", name=f"VM{v}", state="Running",
                    heartbeat="OkApplicationsHealthy", cpu_pct=float(v % 90), memory_assigned_mb=2048.0,
                    memory_demand_mb=1500.0) for v in range(500)]
    for i in range(3000):
        at = T0 + timedelta(seconds=i)
        for h in range(10):
            w.add(Snapshot(host=f"HV{h:02d}", polled_at=at, reachable=True,
                           resources=HostResources(cpu_total_run_pct=float(i % 100)),
                           vm_query=VmQuery(ok=True), vms=tuple(vms[h * 50:(h + 1) * 50])))
        if i % 25 == 24:
            w.flush(30)
            print(i + 1, flush=True)
    print("finished", flush=True)
""")


def test_killed_mid_write_reopens_intact_and_keeps_what_was_committed(tmp_path: Path) -> None:
    db = tmp_path / "history.sqlite"
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2]))
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(db)], stdout=subprocess.PIPE, text=True, env=env)
    committed = 0
    try:
        deadline = time.monotonic() + 120
        while committed < 150 and time.monotonic() < deadline:
            line = child.stdout.readline()
            assert line and line.strip() != "finished", "the child ended before it could be killed"
            committed = int(line)
        assert committed >= 150, "the child did not get going"
        time.sleep(0.05)          # let it get into the next batches
        child.send_signal(signal.SIGKILL)
    finally:
        if child.poll() is None:
            child.kill()
        child.wait(30)
        child.stdout.close()
    assert child.returncode == -signal.SIGKILL

    conn = connect(db)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.close()
    with HistoryReader(db) as r:
        assert len(r.hosts()) == 10
        host = r.host("HV00")
        t0 = 1777881600.0             # T0
        times, cpu = r.read(host, t0, t0 + 3000, RAW).field("cpu_total_pct")
        assert len(times) >= committed          # everything it was told was committed is there
        assert list(cpu[:committed]) == [float(i % 100) for i in range(committed)]
        seen = len(times)

    # The next process goes on writing into the same file.
    from datetime import datetime, timedelta, timezone
    from hvconsole.core.snapshot import HostResources, Snapshot
    w = HistoryWriter(db, flush_interval_s=0.05)
    at = datetime(2026, 5, 4, 8, 0, tzinfo=timezone.utc) + timedelta(seconds=seen)
    w.add(Snapshot(host="HV00", polled_at=at, reachable=True, resources=HostResources(cpu_total_run_pct=42.0)))
    assert w.flush(30) and w.close()
    with HistoryReader(db) as r:
        times, cpu = r.read(r.host("HV00"), t0, t0 + 3000, RAW).field("cpu_total_pct")
        assert len(times) == seen + 1 and cpu[-1] == 42.0
