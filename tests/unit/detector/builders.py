"""Hand-built synthetic sites for detector tests: hosts and VMs whose condition a test
sets directly, polled every ``interval`` seconds into real :class:`Snapshot` objects.

Deliberately small and independent of ``hvconsole.sim``: each test states the facts it
needs (heartbeat lost, uptime stuck, host refusing) and nothing else moves, except CPU
(seeded noise) and the uptime of running VMs, which advances with time as on a real host.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from hvconsole.core.snapshot import (HostEvent, OsInfo, PollError, Snapshot, VmQuery,
                                     VmSample)

T0 = datetime(2026, 11, 25, 9, 0, 0, tzinfo=timezone.utc)


@dataclass
class FakeVm:
    name: str
    id: str
    state: str = "Running"
    heartbeat: str | None = "OkApplicationsHealthy"
    health: str | None = "Ok"
    ops: tuple[str, ...] = ("Ok",)
    cpu: float | None = None  # None: seeded noise between cpu_low and cpu_high
    cpu_low: float = 5.0
    cpu_high: float = 40.0
    vcpus: int = 4
    uptime: float | None = 86_400.0
    uptime_frozen: bool = False

    def sample(self, rng: random.Random) -> VmSample:
        running = self.state not in ("Off", "Saved")
        cpu = self.cpu if self.cpu is not None else round(rng.uniform(self.cpu_low, self.cpu_high), 1)
        return VmSample(
            id=self.id, name=self.name, state=self.state, health=self.health,
            heartbeat=self.heartbeat if running else None, operational_status=self.ops,
            cpu_pct=cpu if running else 0.0, vcpus=self.vcpus,
            uptime_s=None if self.uptime is None else int(self.uptime) if running else 0,
        )

    def reboot(self) -> None:
        """Uptime starts again (a guest reboot, a reset)."""
        self.uptime = 0.0


@dataclass
class FakeHost:
    name: str
    vms: dict[str, FakeVm] = field(default_factory=dict)
    reachable: bool = True
    error_kind: str = "timeout"
    vm_query_ok: bool = True
    vmms: str | None = "Running"
    host_time_skew_s: float = 0.0
    send_host_time: bool = True
    last_boot: datetime = T0 - timedelta(days=5)
    pending_events: list[HostEvent] = field(default_factory=list)

    def add(self, name: str, **kw) -> FakeVm:
        vm_id = kw.pop("id", None) or str(uuid.uuid5(uuid.NAMESPACE_DNS, f"{self.name}/{name}"))
        vm = FakeVm(name=name, id=vm_id, **kw)
        self.vms[vm.id] = vm
        return vm

    def vm(self, name: str) -> FakeVm:
        return next(v for v in self.vms.values() if v.name == name)

    def event(self, at: datetime, event_id: int, *, log: str = "Microsoft-Windows-Hyper-V-Worker-Admin",
              level: str = "Critical", vm: FakeVm | None = None, provider: str | None = None,
              message: str | None = None) -> None:
        self.pending_events.append(HostEvent(time=at, log=log, id=event_id, level=level,
                                             provider=provider, vm_id=vm.id if vm else None,
                                             message=message or f"event {event_id}"))

    def snapshot(self, at: datetime, rng: random.Random) -> Snapshot:
        if not self.reachable:
            return Snapshot(host=self.name, polled_at=at, reachable=False,
                            error=PollError(kind=self.error_kind, message=f"{self.error_kind} talking to {self.name}",
                                            elapsed_ms=30000 if self.error_kind == "timeout" else 3))
        events, self.pending_events = tuple(self.pending_events), []
        host_time = at - timedelta(seconds=0.6) + timedelta(seconds=self.host_time_skew_s)
        query = VmQuery(ok=self.vm_query_ok, elapsed_ms=140 if self.vm_query_ok else 30000,
                        error=None if self.vm_query_ok else "Get-VM timed out after 30 s")
        return Snapshot(
            host=self.name, polled_at=at, reachable=True,
            host_time=host_time if self.send_host_time else None, collect_ms=600,
            os=OsInfo(product="Windows Server 2022 Datacenter", build=20348, ubr=3692,
                      last_boot=self.last_boot),
            services={"vmms": self.vmms, "vmcompute": "Running", "winrm": "Running"},
            vm_query=query,
            vms=tuple(vm.sample(rng) for vm in self.vms.values()) if self.vm_query_ok else (),
            events=events,
        )


class FakeSite:
    """Hosts polled together every ``interval`` seconds of trace time."""

    def __init__(self, *, start: datetime = T0, interval: float = 5.0, seed: int = 7) -> None:
        self.now = start
        self.interval = interval
        self.rng = random.Random(seed)
        self.hosts: dict[str, FakeHost] = {}

    def host(self, name: str, vms: int = 0, **kw) -> FakeHost:
        h = self.hosts[name] = FakeHost(name=name, **kw)
        for i in range(vms):
            h.add(f"{name}-VM{i:02d}")
        return h

    def poll(self) -> list[Snapshot]:
        """One snapshot per host at the current time, then time moves on one interval."""
        snaps = [h.snapshot(self.now, self.rng) for h in self.hosts.values()]
        self.now += timedelta(seconds=self.interval)
        for h in self.hosts.values():
            for vm in h.vms.values():
                if vm.state in ("Running", "RunningCritical") and vm.uptime is not None and not vm.uptime_frozen:
                    vm.uptime += self.interval
        return snaps

    def run(self, seconds: float) -> list[Snapshot]:
        out: list[Snapshot] = []
        for _ in range(int(round(seconds / self.interval))):
            out.extend(self.poll())
        return out
