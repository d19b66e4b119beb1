"""The host list line's shortcuts: running VMs counted per distinct state, the cost's
suggestion asked once. The same line as counting VM by VM."""

from __future__ import annotations

import random
from datetime import UTC, datetime

from hvconsole.core.snapshot import Snapshot, VmSample
from hvconsole.monitoring.rows import build_host_row, suggested_interval
from hvconsole.monitoring.vmstate import state_group

STATES = ("Running", "RunningCritical", "Off", "Saved", "Paused", "Starting", "Stopping", "Other",
          "Critical", "FastSaving", "something new")


def vm(i: int, state: str) -> VmSample:
    return VmSample(id=f"id-{i}", name=f"VM{i}", state=state, health="Ok", heartbeat=None,
                    operational_status=(), cpu_pct=None, vcpus=2, memory_assigned_mb=None,
                    memory_demand_mb=None, uptime_s=None)


def test_running_vms_are_counted_as_vm_by_vm() -> None:
    rng = random.Random(4)
    at = datetime(2026, 1, 1, tzinfo=UTC)
    for n in (0, 1, 5, 40, 200):
        vms = tuple(vm(i, rng.choice(STATES)) for i in range(n))
        snap = Snapshot(host="HV1", polled_at=at, reachable=True, vms=vms)
        row = build_host_row("HV1", "hv1", snap, snap, 10.0, None, {})
        assert row.vm_total == n
        assert row.vm_running == sum(1 for v in vms if state_group(v.state) == "Running")


class Cost:
    def __init__(self, suggestion: str) -> None:
        self._suggestion, self.asked = suggestion, 0
        self.cpu_s_per_poll, self.interval_s = 2.0, 5.0

    def text(self) -> str:
        return "monitoring costs"

    def suggestion(self) -> str:
        self.asked += 1
        return self._suggestion


def test_the_cost_suggestion_is_asked_once_and_offered_as_before() -> None:
    at = datetime(2026, 1, 1, tzinfo=UTC)
    snap = Snapshot(host="HV1", polled_at=at, reachable=True)
    for said in ("", "raise the poll interval"):
        cost = Cost(said)
        row = build_host_row("HV1", "hv1", snap, snap, 10.0, None, {}, cost=cost)
        assert cost.asked == 1
        assert row.cost_suggestion == said
        assert row.suggested_interval_s == suggested_interval(Cost(said))
    assert build_host_row("HV1", "hv1", snap, snap, 10.0, None, {}).suggested_interval_s is None
