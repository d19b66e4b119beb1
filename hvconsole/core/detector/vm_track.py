"""What the detector remembers about one VM on one host: a handful of run counters and
"since" times, plus a small fixed CPU window, never a growing history.

:meth:`VmTrack.observe` is the hot path (once per VM per poll, 100,000+ times a second in
replay), so it only updates counters and answers "is anything unusual?"; the rules in
:mod:`.vm_rules` run only for VMs where something is, or for which a finding is open.
Times are float epoch seconds of ``polled_at``; the uptime check uses the host's clock
(``host_time``) when the poll carries it, because uptime is measured on the host.
"""

from __future__ import annotations

from collections import deque

from ..enums import HEARTBEAT_OK, RUNNING_VM_STATES, TRANSITIONAL_VM_STATES, VM_STATES
from ..snapshot import VmSample
from .events import RecentEvents
from .findings import Slots
from .thresholds import Thresholds

RUNNING = "Running"
LOST_HEARTBEATS = frozenset({"LostCommunication", "Error"})
NO_HEARTBEAT = "NoContact"
APPS_CRITICAL = "OkApplicationsCritical"
CRITICAL_STATES = frozenset(s for s in VM_STATES if s.endswith("Critical"))
UP_STATES = RUNNING_VM_STATES
BAD_HEALTH = frozenset({"CriticalFailure", "MajorFailure"})
OK_OPS = ("Ok",)
CRITICAL_OPS = frozenset({"CommunicationTimedOut", "CommunicationFailed", "CriticalIoError"})
WARNING_OPS = frozenset({"Degraded", "PredictiveFailure", "SupportingEntityInError"})
APPS_OPS = frozenset({"ApplicationCriticalState"})
MIGRATING_OPS = frozenset({"MigratingVirtualMachine", "MigratingPlannedVm"})
PAUSED_STATES = frozenset({"Paused", "PausedCritical"})
# Msvm_ComputerSystem.HealthState 25 (Critical Failure) has two documented causes: the VM's
# worker process does not answer, or the disk holding the VM's files is critically low on
# space and Hyper-V has paused the VM (Microsoft's Msvm_ComputerSystem page). A paused VM
# says which one it is.
HEALTH_25_PAUSED = ("health CriticalFailure (25) while paused: Hyper-V pauses a VM when the volume "
                    "holding its files runs critically low on space; storage is the likely cause")
HEALTH_25_RUNNING = "health CriticalFailure (25: worker process not answering, or storage critically low)"
# Uptime is whole seconds sampled at slightly different points of each collection.
UPTIME_RESET_TOLERANCE_S = 2
# Host time and poll time advancing by amounts this far apart means a clock was set.
CLOCK_JUMP_S = 15.0


class VmTrack:
    __slots__ = (
        "vm_id", "name", "state", "state_since", "state_start_seen", "started_at",
        "hb", "hb_ok_ever", "hb_back", "lost_since", "lost_polls", "lost_hb", "cpu",
        "up_last", "up_ref_clock", "up_ref_t", "up_ref_uptime", "up_ref_host", "stall_polls",
        "conditions", "crit_since", "crit_polls", "crit_why", "warn_since", "warn_polls",
        "warn_why", "apps_since", "apps_polls", "apps_why", "migrate_until", "missing_polls",
        "missing_since", "vcpus", "restarts", "slots", "events", "crash_events",
    )

    def __init__(self, vm_id: str, name: str, cpu_window: int) -> None:
        self.vm_id = vm_id
        self.name = name
        self.state: str | None = None
        self.state_since = 0.0
        self.state_start_seen = False  # False: the state held already at the first poll
        self.started_at: float | None = None  # when we saw it (re)start, if we did
        self.hb: str | None = None
        self.hb_ok_ever = False
        self.hb_back = False  # an OK heartbeat seen since started_at
        self.lost_since: float | None = None
        self.lost_polls = 0
        self.lost_hb = ""
        self.cpu: deque[float] = deque(maxlen=cpu_window)  # CPU samples while heartbeat lost
        self.up_last: int | None = None
        self.up_ref_clock = 0.0  # the last point at which uptime kept pace with the clock
        self.up_ref_t = 0.0
        self.up_ref_uptime: int | None = None
        self.up_ref_host = False
        self.stall_polls = 0
        self.conditions = False  # any of the three runs below is going on
        self.crit_since: float | None = None
        self.crit_polls = 0
        self.crit_why: tuple[str, ...] = ()
        self.warn_since: float | None = None
        self.warn_polls = 0
        self.warn_why: tuple[str, ...] = ()
        self.apps_since: float | None = None
        self.apps_polls = 0
        self.apps_why: tuple[str, ...] = ()
        self.migrate_until = float("-inf")
        self.missing_polls = 0
        self.missing_since = 0.0
        self.vcpus: int | None = None
        self.restarts: deque[float] | None = None  # poll times of uptime resets (from the first)
        self.slots: Slots = {}
        self.events: RecentEvents | None = None  # created on the first event for this VM
        self.crash_events: RecentEvents | None = None

    def observe(self, vm: VmSample, t: float, clock: float, host_clock: bool,
                th: Thresholds) -> bool:
        """Take one sample; True when a rule has something to look at."""
        self.missing_polls = 0
        self.name = vm.name
        state = vm.state
        if state != self.state:
            self._state_changed(state, t)
        hb = vm.heartbeat
        self.hb = hb
        if hb in HEARTBEAT_OK:
            self.hb_ok_ever = self.hb_back = True
        unusual = False
        ops = vm.operational_status
        if ((ops and ops != OK_OPS) or vm.health in BAD_HEALTH or state in CRITICAL_STATES
                or hb == APPS_CRITICAL or self.conditions):
            unusual = self._conditions(vm, state, ops, t, th)
        if state == RUNNING:
            up = vm.uptime_s
            if up is None:
                self.up_ref_uptime = None
            elif self._uptime(up, t, clock, host_clock, th):
                unusual = True
            if hb in LOST_HEARTBEATS:
                unusual = self._lost(hb, vm, t, th) or unusual
            elif self.lost_since is not None:
                self.lost_since = None
            if hb == NO_HEARTBEAT and self.hb_ok_ever and not self.hb_back and self.started_at is not None:
                unusual = True  # a restart after which the heartbeat may never return
                if vm.cpu_pct is not None:
                    self.cpu.append(vm.cpu_pct)  # a guest that boots uses CPU; a dead one does not
        else:
            self.up_ref_uptime = None
            self.lost_since = None
            if state in TRANSITIONAL_VM_STATES:
                unusual = True
        return unusual

    # -- pieces of observe(), off the fast path --------------------------------------------

    def _state_changed(self, state: str, t: float) -> None:
        prev = self.state
        self.state = state
        self.state_since = t
        self.state_start_seen = prev is not None
        if state in UP_STATES and prev is not None and prev not in UP_STATES:
            self.started_at, self.hb_back = t, False
            self.cpu.clear()
        if state not in UP_STATES:
            self.up_last = None

    def _conditions(self, vm: VmSample, state: str, ops: tuple[str, ...], t: float,
                    th: Thresholds) -> bool:
        """State, health and operational-status conditions, each with its own run."""
        if MIGRATING_OPS.intersection(ops):
            # Heartbeat and uptime may blip during the blackout; wait until it settles.
            self.migrate_until = t + th.migration_grace_s
        health = vm.health
        crit = []
        if state in CRITICAL_STATES:
            crit.append(f"state {state}")
        if health == "CriticalFailure":
            crit.append(HEALTH_25_PAUSED if state in PAUSED_STATES else HEALTH_25_RUNNING)
        elif state == "PausedCritical":
            crit.append("paused with the VM's health not OK: check free space on the VM's storage first")
        crit.extend(f"operational status {o}" for o in sorted(CRITICAL_OPS.intersection(ops)))
        warn = ["health MajorFailure (20)"] if health == "MajorFailure" else []
        warn.extend(f"operational status {o}" for o in sorted(WARNING_OPS.intersection(ops)))
        apps = []
        if vm.heartbeat == APPS_CRITICAL:
            apps.append(f"heartbeat {APPS_CRITICAL}")
        apps.extend(f"operational status {o}" for o in sorted(APPS_OPS.intersection(ops)))
        self.crit_since, self.crit_polls, self.crit_why = _run(self.crit_since, self.crit_polls, crit, t)
        self.warn_since, self.warn_polls, self.warn_why = _run(self.warn_since, self.warn_polls, warn, t)
        self.apps_since, self.apps_polls, self.apps_why = _run(self.apps_since, self.apps_polls, apps, t)
        self.conditions = bool(crit or warn or apps)
        return self.conditions

    def _uptime(self, up: int, t: float, clock: float, host_clock: bool, th: Thresholds) -> bool:
        last = self.up_last
        self.up_last = up
        if last is not None and up + UPTIME_RESET_TOLERANCE_S < last:
            # Uptime went back: the VM restarted (guest reboot, reset after a crash).
            self.started_at, self.hb_back = t - up, False
            self.cpu.clear()
            self.up_ref_uptime = None
            if self.restarts is None:
                self.restarts = deque(maxlen=th.restart_loop_count)
            self.restarts.append(t)
        ref = self.up_ref_uptime
        if (ref is None or host_clock != self.up_ref_host
                or abs((clock - self.up_ref_clock) - (t - self.up_ref_t)) > CLOCK_JUMP_S):
            # First sample, or the host's clock (or ours) jumped: start measuring afresh.
            self.up_ref_uptime, self.up_ref_clock, self.up_ref_t = up, clock, t
            self.up_ref_host = host_clock
            self.stall_polls = 0
            return self.restarts is not None and self.restarts[-1] == t
        if up - ref >= (clock - self.up_ref_clock) * th.uptime_stall_ratio:
            self.up_ref_uptime, self.up_ref_clock, self.up_ref_t = up, clock, t
            self.stall_polls = 0
            return False
        self.stall_polls += 1
        return True

    def _lost(self, hb: str, vm: VmSample, t: float, th: Thresholds) -> bool:
        if self.in_grace(t, vm.uptime_s, th):
            self.lost_since = None
            return False
        if self.lost_since is None:
            self.lost_since, self.lost_polls, self.lost_hb = t, 0, hb
            self.cpu.clear()
        self.lost_polls += 1
        cpu = vm.cpu_pct
        if cpu is not None:
            self.cpu.append(cpu)
        self.vcpus = vm.vcpus
        return True

    def in_grace(self, t: float, uptime: int | None, th: Thresholds) -> bool:
        """Booting (small uptime, or seen starting recently) or just migrated."""
        if uptime is not None and uptime < th.boot_grace_s:
            return True
        if self.started_at is not None and t - self.started_at < th.boot_grace_s:
            return True
        return t < self.migrate_until


def _run(since: float | None, n: int, why: list[str], t: float
         ) -> tuple[float | None, int, tuple[str, ...]]:
    """Extend (or start, or end) a run of polls in which a condition held."""
    if not why:
        return None, 0, ()
    if since is None:
        return t, 1, tuple(why)
    return since, n + 1, tuple(why)
