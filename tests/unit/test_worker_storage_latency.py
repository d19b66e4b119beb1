"""The poll worker turns each host's raw storage counters into the latency the window, the
history and the agent read (monitoring/host_worker.py with core/storage_latency.py)."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

from hvconsole.core.detector import Detector
from hvconsole.core.snapshot import HostResources, OsInfo, Snapshot, VmQuery
from hvconsole.monitoring.host_worker import HostWorker

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


class _Collector:
    def __init__(self, snaps: list[Snapshot]):
        self.snaps = snaps

    def poll(self, cancel: object = None) -> Snapshot:
        return self.snaps.pop(0)

    def close(self) -> None:
        pass


def _snap(i: int, ticks: int, ops: int) -> Snapshot:
    return Snapshot(host="HV01", polled_at=T0 + timedelta(seconds=5 * i), reachable=True,
                    os=OsInfo(build=20348, last_boot=T0 - timedelta(days=2)),
                    resources=HostResources(storage_read_bps=1e6, storage_latency_freq=1e7,
                                            storage_latency_raw=(("3f2a9c01d4", ticks, ops), ("77e0b5a2c9", 0, 0))),
                    vm_query=VmQuery(ok=True))


def test_each_poll_carries_the_latency_since_the_one_before() -> None:
    snaps = [_snap(0, 4_250_000_000, 1_000), _snap(1, 4_280_000_000, 3_000),
             _snap(2, (4_280_000_000 + 80_000_000) % 2**32, 7_000)]       # its ticks wrapped
    worker = HostWorker("HV01", "hv01.example.test", collector_factory=lambda: _Collector(snaps),
                        detector_factory=Detector)
    seen = []
    for _ in range(3):
        res = worker.poll_once().snapshot.resources
        assert res is not None
        seen.append(res.storage_latency_ms)
    assert seen == [None, 1.5, 2.0]
    host = worker.history.host("HV01")
    assert host is not None
    _, values = host.buffer.series("storage_latency_ms")
    assert math.isnan(values[0]) and list(values[1:]) == [1.5, 2.0]
