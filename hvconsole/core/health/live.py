"""What the console saw live that a single audit cannot: memory pressure that lasted, a VM
that went Paused-Critical between two audits, a merge that never ends.

A :class:`LiveTracker` per host is fed every snapshot the poller already has (cheap: a
few comparisons per VM) and the facts of every audit; :meth:`LiveTracker.view` hands the
judge an immutable picture. Not thread-safe by itself: feed it from one thread, or hold a
lock (``HealthService`` does).

How long a run lasted is measured on the host's poll clock (core.detector.poll_clock: the
spacing of its polls, with a step of the console's clock counted as one ordinary spacing),
from the first poll that saw it to the latest, never as the console's wall clock now minus
the run's first ``polled_at``: that clock may be stepped (core.timeutil), and a step
forward of an hour would be an hour of pressure nobody watched, a step back would hide a
real run. The run's first ``polled_at`` is still what the admin reads ("since 14:02").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from ..detector.poll_clock import PollClock
from ..snapshot import Snapshot
from .facts import HostFacts


@dataclass(frozen=True, slots=True)
class LiveVm:
    pressure_since: datetime | None = None     # start of the current run of demand > assigned (polled_at)
    pressure_peak_mb: float = 0.0              # largest demand - assigned in that run
    paused_critical_at: datetime | None = None  # last poll that saw PausedCritical
    merge_since: datetime | None = None        # first audit of the current run that saw a merge
    pressure_s: float = 0.0                    # how long the run was watched, first poll to latest


@dataclass(frozen=True, slots=True)
class LiveView:
    host: str
    seen_since: datetime | None = None         # first snapshot the tracker saw
    vms: Mapping[str, LiveVm] = field(default_factory=dict)


class LiveTracker:
    def __init__(self, host: str):
        self.host = host
        self._first: datetime | None = None
        self._clock = PollClock()
        # VM id -> (first polled_at, its poll-clock time, peak) of the current pressure run.
        self._pressure: dict[str, tuple[datetime, float, float]] = {}
        self._t = 0.0                   # poll-clock time of the latest poll that read the VMs
        self._paused: dict[str, datetime] = {}
        self._merge: dict[str, datetime] = {}

    def observe(self, snap: Snapshot) -> None:
        """One poll: a VM whose demand exceeds its assigned memory continues (or starts) a
        pressure run; any other reading of it ends the run. An unreachable poll changes no
        run (its time still counts); a duplicate or out-of-order one is ignored."""
        host = snap.host_time
        t = self._clock.advance(snap.polled_at.timestamp(), None if host is None else host.timestamp())
        if t is None or not snap.reachable or snap.vm_query is None or not snap.vm_query.ok:
            return
        self._t = t
        at = snap.polled_at
        if self._first is None:
            self._first = at
        seen = set()
        for vm in snap.vms:
            seen.add(vm.id)
            demand, assigned = vm.memory_demand_mb, vm.memory_assigned_mb
            if demand is not None and assigned is not None and assigned > 0 and demand > assigned:
                since, t0, peak = self._pressure.get(vm.id, (at, t, 0.0))
                self._pressure[vm.id] = (since, t0, max(peak, demand - assigned))
            else:
                self._pressure.pop(vm.id, None)
            if vm.state == "PausedCritical":
                self._paused[vm.id] = at
        for gone in set(self._pressure) - seen:
            del self._pressure[gone]

    def observe_audit(self, facts: HostFacts) -> None:
        at = facts.host_time
        merging = {vm.id for vm in facts.vms if vm.merge_in_progress}
        for vm_id in merging:
            self._merge.setdefault(vm_id, at)
        for done in set(self._merge) - merging:
            del self._merge[done]
        for vm in facts.vms:
            if vm.state == "PausedCritical":
                self._paused[vm.id] = at

    def view(self) -> LiveView:
        ids = set(self._pressure) | set(self._paused) | set(self._merge)
        vms = {}
        for vm_id in ids:
            run = self._pressure.get(vm_id)
            if run is None:
                vms[vm_id] = LiveVm(None, 0.0, self._paused.get(vm_id), self._merge.get(vm_id))
            else:
                since, t0, peak = run
                vms[vm_id] = LiveVm(since, peak, self._paused.get(vm_id), self._merge.get(vm_id), self._t - t0)
        return LiveView(self.host, self._first, vms)
