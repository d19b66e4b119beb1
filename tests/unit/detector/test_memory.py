"""A long trace streams through ``hvconsole detect`` in bounded memory: the peak does not
grow with the length of the trace (VMs come and go, findings open and end all along)."""

from __future__ import annotations

import argparse
import io
import tracemalloc
from pathlib import Path

import pytest

from hvconsole.cli import detect as detect_cli
from hvconsole.core.trace import write_snapshot

from .builders import FakeSite


def write_trace(path: Path, polls: int) -> int:
    """A site with VM churn and recurring freezes; returns the number of lines."""
    site = FakeSite(seed=3)
    h = site.host("HV01", vms=12)
    frozen = h.add("FLAPPING")
    serial = 0
    lines = 0
    with path.open("w") as f:
        for p in range(polls):
            if p % 2 == 0:  # a new VM replaces an old one: a fresh id every 10 s
                oldest = next(vm_id for vm_id in h.vms if vm_id != frozen.id)
                del h.vms[oldest]
                serial += 1
                h.add(f"NEW{serial}")
            # Frozen for 5 minutes, fine for 5 minutes: a finding opens and ends each time.
            frozen.heartbeat, frozen.cpu = ("LostCommunication", 0.0) if (p // 60) % 2 else ("OkApplicationsHealthy", None)
            for s in site.poll():
                write_snapshot(f, s)
                lines += 1
    return lines


def peak_while_detecting(path: Path) -> int:
    args = argparse.Namespace(trace=str(path), json=True, thresholds=None, strict=False)
    tracemalloc.start()
    try:
        rc = detect_cli.run(args, out=io.StringIO(), err=io.StringIO())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert rc == 0
    return peak


@pytest.mark.slow
def test_peak_memory_does_not_grow_with_trace_length(tmp_path: Path):
    short, long = tmp_path / "short.jsonl", tmp_path / "long.jsonl"
    write_trace(short, 150)
    write_trace(long, 600)
    assert long.stat().st_size > 3.5 * short.stat().st_size
    peak_short, peak_long = peak_while_detecting(short), peak_while_detecting(long)
    # Four times the trace, about the same peak: state is per VM, not per poll.
    assert peak_long < peak_short * 1.25 + 100_000, (peak_short, peak_long)
    assert peak_long < long.stat().st_size / 2, "the trace must be streamed, not loaded"
