"""An accelerated past for a site that has none: days of plausible 1-minute history (daily
CPU cycles with noise, steady or stepping memory) and finding markers, written through
the bulk import path into the same chunks live polling writes.

For the simulated demo (``hvconsole history seed-demo``): its 7-day and 90-day views have
something to show the first time the window opens. Never used for real hosts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .ingest import Annotation, Ingest
from .schema import connect


@dataclass(frozen=True)
class SeedVm:
    id: str
    name: str
    memory_mb: float
    running: bool = True


@dataclass(frozen=True)
class SeedHost:
    name: str
    memory_total_mb: float
    vms: tuple[SeedVm, ...]


@dataclass(frozen=True)
class SeedFreeze:
    """A past freeze drawn as a finding marker (opened, then ended after ``lasted_s``)."""

    t: float
    host: str
    vm_id: str
    vm_name: str
    lasted_s: float = 600.0


def seed(path: Path, hosts: Sequence[SeedHost], *, end: float, days: float = 7.0,
         freezes: Sequence[SeedFreeze] = (), rng_seed: int = 1) -> int:
    """Write ``days`` of history ending at ``end`` (epoch seconds, a whole minute is used).
    Returns the number of series written."""
    rng = np.random.default_rng(rng_seed)
    minutes = int(days * 1440)
    end_min = int(end // 60)
    start = (end_min - minutes) * 60
    t = np.arange(end_min - minutes, end_min)
    day = 2 * np.pi * t / 1440.0
    workday = np.where(((t // 1440) % 7) < 5, 1.0, 0.55)       # quieter weekends
    conn = connect(path)
    ing = Ingest(conn)
    series = 0
    try:
        conn.execute("BEGIN")
        for h in hosts:
            vm_cpu_sum = np.zeros(minutes)
            vm_mem_sum = np.zeros(minutes)
            for vm in h.vms:
                if vm.running:
                    base = rng.uniform(4, 40)
                    cpu = base * workday * (1 + 0.6 * np.sin(day - 2.2 + rng.uniform(-0.5, 0.5)))
                    cpu = np.clip(cpu + rng.normal(0, base * 0.08 + 0.5, minutes), 0, 100)
                    assigned = np.full(minutes, vm.memory_mb)
                    demand = np.round(assigned * np.clip(0.5 + cpu / 250 + rng.normal(0, 0.02, minutes), 0.1, 1.0))
                else:
                    cpu = np.full(minutes, np.nan)
                    assigned = demand = np.full(minutes, np.nan)
                ing.import_minutes("vm", vm.id.lower(), h.name, vm.name, start, np.vstack([cpu, assigned, demand]))
                series += 1
                vm_cpu_sum += np.nan_to_num(cpu) / max(1, len(h.vms))
                vm_mem_sum += np.nan_to_num(assigned)
            total = np.clip(vm_cpu_sum * 1.4 + rng.normal(0, 1.5, minutes) + 3, 0, 100)
            guest = np.clip(total * 0.88, 0, 100)
            used = np.minimum(vm_mem_sum + 8192, h.memory_total_mb)
            values = np.vstack([
                total, guest, total - guest,
                np.full(minutes, h.memory_total_mb), used, h.memory_total_mb - used,
                rng.gamma(2, 1.5e7, minutes) * workday, rng.gamma(2, 8e6, minutes) * workday,
                rng.gamma(3, 0.8, minutes), rng.gamma(2, 3e7, minutes) * workday, rng.gamma(2, 2e7, minutes) * workday,
            ])
            ing.import_minutes("host", h.name.casefold(), h.name, h.name, start, values)
            series += 1
        for f in freezes:
            if start <= f.t <= end:
                ing.add_annotation(Annotation(f.t, f.host, f.vm_id.lower(), "finding", "heartbeat-lost-cpu-flat",
                                              "critical", f"heartbeat-lost-cpu-flat opened on {f.vm_name}: "
                                              "heartbeat lost and CPU flat near 0 %"))
                ing.add_annotation(Annotation(f.t + f.lasted_s, f.host, f.vm_id.lower(), "finding",
                                              "heartbeat-lost-cpu-flat", "critical",
                                              f"heartbeat-lost-cpu-flat ended on {f.vm_name}"))
        ing._write_pending()
        conn.execute("INSERT OR REPLACE INTO meta VALUES ('newest', ?)", (repr(float(end_min * 60)),))
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    finally:
        conn.close()
    return series
