"""A simulated Hyper-V virtual machine: its state machine, its faults and what Get-VM shows.

State changes take realistic time (hyperv-notes §2-3): Starting a few seconds, then
Running with heartbeat NoContact while the guest boots (60-120 s for Windows), Stopping
while the guest shuts down, Saving while memory is written. Every action bumps
``_epoch``; a scheduled step whose epoch is stale is dropped, so a later action always
wins over an earlier one still in flight. Faults are the freeze signatures of
hyperv-notes §3: a hung guest (LostCommunication, CPU flat or pegged), a worker that
stopped updating (uptime stalls), a critical worker, stuck transitions, a triple-fault loop.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import KW_ONLY, InitVar, dataclass
from typing import TYPE_CHECKING, Any, Protocol, TypedDict

from .load import IDLE, LoadProfile, jitter, mix64, unit

if TYPE_CHECKING:
    from .events import EventLog
    from .timeline import Timeline

NEVER = math.inf
FORCED_STOP_S = 300.0     # Stop-VM -Force: the time a guest gets before it is turned off
GUESTS = ("windows", "linux", "appliance")   # appliance = no integration services at all
_APP_HEARTBEAT = {"windows": "OkApplicationsHealthy", "linux": "OkApplicationsUnknown"}



class VmHost(Protocol):
    """What a VM reads of the host it runs on (a :class:`~.host.SimHost`): the timeline the
    host's site runs on, and the event log it writes to. Whoever needs more of the host asks
    the site (``SimSite.find_vm``) or the host itself."""

    name: str
    site: Timeline | None
    events: EventLog


class VmMakeUp(TypedDict, total=False):
    """The make-up a scenario gives a new :class:`SimVM` (its keyword fields); the builder
    adds what it decides itself (clustered or not, the uptime)."""

    vcpus: int
    memory_mb: int
    dynamic_memory: bool
    memory_max_mb: int | None
    generation: int
    guest: str
    load: LoadProfile
    automatic_start_action: str
    automatic_stop_action: str
    backup_hour: float | None
    state: str
    confidential: bool


@dataclass
class SimCheckpoint:
    """One checkpoint as Get-VMSnapshot lists it; ``depth`` 1 has no parent checkpoint."""

    name: str
    created_t: float          # site seconds (negative: before the site started)
    depth: int = 1
    type: str = "Production"  # Standard | Production (Get-VMSnapshot SnapshotType)


@dataclass
class SimDisk:
    """One virtual hard disk as Get-VHD reports it (``type``: Fixed | Dynamic | Differencing)."""

    path: str
    type: str = "Dynamic"
    size_mb: float = 130048.0       # 127 GB: the size Hyper-V Manager proposes for a new disk
    file_size_mb: float = 40960.0


# Identity, not field values, tells two VMs apart (eq=False keeps them hashable): two
# VMs made alike are still two VMs.
@dataclass(eq=False, repr=False)
class SimVM:
    """One VM: its make-up (the fields, as New-VM and Set-VM give it) and, from
    ``__post_init__`` on, its state over time."""

    name: str
    id: str                      # the VM's GUID (stored lower-case)
    _: KW_ONLY
    vcpus: int = 2
    memory_mb: int = 4096
    dynamic_memory: bool = False
    memory_max_mb: int | None = None        # None: twice memory_mb (set at creation)
    generation: int = 2
    guest: str = "windows"
    load: LoadProfile = IDLE
    automatic_start_action: str = "StartIfRunning"
    automatic_stop_action: str = "Save"
    backup_hour: float | None = None
    is_clustered: bool = False
    state: str = "Running"
    uptime_s: InitVar[float] = 86400.0
    # A confidential (guest-state isolated) VM: what collect.ps1 reads from
    # Msvm_VirtualSystemSettingData.GuestStateIsolationEnabled (KB5061906's scope).
    confidential: bool = False

    def __post_init__(self, uptime_s: float) -> None:
        guest, state = self.guest, self.state
        if guest not in GUESTS:
            raise ValueError(f"guest must be one of {GUESTS}")
        if state not in ("Running", "Off", "Saved"):
            raise ValueError("a VM starts out Running, Off or Saved")
        self.id = self.id.lower()
        self.memory_max_mb = self.memory_max_mb or self.memory_mb * 2
        self.seed = mix64(int(self.id.replace("-", "")[:16], 16))
        self.host: VmHost | None = None
        self.health = "Ok"
        self._epoch = 0
        self._boot_t: float | None = -uptime_s if state == "Running" else None
        self._ic_ready_t = NEVER if guest == "appliance" else -uptime_s + 90.0
        self._saved_uptime = uptime_s if state == "Saved" else 0.0
        self._paused_at: float | None = None
        self._cpu_mode: str | None = None        # None (profile), "flat", "pegged", "low"
        self._hb_lost_t = NEVER                   # from then on: LostCommunication
        self._frozen: dict[str, Any] | None = None  # a worker that stopped updating
        self.app_critical = False
        self.migrating = False
        self.was_running_before_host_stop = state == "Running"
        # When the transition in flight (Starting, Stopping, Saving) ends: a patch script
        # that waits for it (Save-VM, Stop-VM, Start-VM) reports how long it took.
        self.transition_end_t: float | None = None
        self.checkpoints = 0          # what Get-VMSnapshot counts (pre-flight warns about them)
        self.merging = False          # a checkpoint merge in progress (pre-flight refuses)
        # -- configuration the health check reads (audit.ps1, sim/agent/audit.py). The
        # defaults are a well-set VM; sim/scenarios/audit.py gives each misconfiguration.
        self.config_version: str | None = None       # None: the host's default version
        self.memory_min_mb: int | None = None        # dynamic memory minimum; None: max(1024, memory/4)
        self.automatic_start_delay_s = 0             # Hyper-V's default: no delay
        self.checkpoint_type = "Production"          # the default since Windows Server 2016
        self.checkpoint_tree: list[SimCheckpoint] = []   # listed besides ``checkpoints`` (a count)
        self.ic_heartbeat_enabled = True
        self.ic_shutdown_enabled = True
        self.ic_state: str | None = None if guest == "appliance" else "UpToDate"
        self.disks: list[SimDisk] | None = None      # None: one dynamic disk on the host's VM volume
        # -- recovery (sim/agent/recovery.py): a worker process (vmwp.exe) that no longer acts
        # on requests (Turn Off fails; only ending the process helps), its process id, and
        # whether a Windows guest is set to bugcheck on an NMI (NMICrashDump).
        self.worker_hung = False
        self.worker_pid = 4000 + int(self.seed % 60000) * 4
        self.nmi_crash_dump = guest == "windows"

    # -- plumbing -----------------------------------------------------------------------

    @property
    def site(self) -> Timeline:
        if self.host is None or self.host.site is None:
            raise RuntimeError(f"VM {self.name} is not on a host in a site")
        return self.host.site

    def _log(self, t: float, key: str, **fields: object) -> None:
        if self.host is not None:
            self.host.events.write(t, key, vm_id=self.id, vm=self.name, **fields)

    def _draw(self, t: float, key: int, low: float, high: float) -> float:
        """A duration drawn from this VM's own stream: independent of other VMs."""
        return low + (high - low) * unit(self.seed, key, int(t * 1000))

    def _later(self, delay_s: float, step: Callable[[float], None]) -> None:
        epoch = self._epoch

        def run(t: float) -> None:
            if self._epoch == epoch:
                step(t)
        self.site.after(delay_s, run)

    def _new_action(self) -> float:
        """Start a new action: cancel pending steps, clear faults; returns now."""
        self._epoch += 1
        self._cpu_mode = None
        self._hb_lost_t = NEVER
        self._frozen = None
        self.health = "Ok"
        self.transition_end_t = None
        return self.site.t

    def _boot_guest(self, t: float, *, fresh: bool) -> None:
        """The partition starts running: uptime from now, guest services later."""
        self.state = "Running"
        if fresh:
            self._boot_t = t
            boot = {"windows": (60.0, 120.0), "linux": (20.0, 45.0)}.get(self.guest)
            self._ic_ready_t = NEVER if boot is None else t + self._draw(t, 1, *boot)
        else:  # restored from Saved: the guest was never shut down
            self._boot_t = t - self._saved_uptime
            self._ic_ready_t = NEVER if self.guest == "appliance" else t + self._draw(t, 2, 2.0, 6.0)

    # -- actions (each one is what the matching Hyper-V cmdlet does) --------------------

    def start(self) -> bool:
        """Start-VM: from Off (a boot) or Saved (a restore)."""
        with self.site.acting():
            if self.state not in ("Off", "Saved"):
                return False
            restoring = self.state == "Saved"
            t = self._new_action()
            self.state = "Starting"
            delay = self._draw(t, 3, 3.0, 10.0) if restoring else self._draw(t, 4, 2.0, 6.0)

            def running(t2: float) -> None:
                self._boot_guest(t2, fresh=not restoring)
                self._log(t2, "vm_restored" if restoring else "vm_started")
            self._later(delay, running)
            self.transition_end_t = t + delay
            return True

    def shutdown(self, *, force: bool = False) -> bool:
        """Stop-VM (graceful): needs a guest that answers its integration services. With
        ``force`` (Stop-VM -Force) a guest that does not answer is given five minutes
        and then turned off (hyperv-notes §3)."""
        with self.site.acting():
            t = self.site.t
            if self.state != "Running":
                return False
            answers = self._guest_answers(t)
            if not answers and not force:
                return False
            t = self._new_action()
            self.state = "Stopping"
            if answers:
                delay = self._draw(t, 5, 10.0, 40.0)
                self._later(delay, lambda t2: self._to_off(t2, "vm_shut_down"))
            else:
                delay = FORCED_STOP_S
                self._ic_ready_t = NEVER
                self._later(delay, lambda t2: self._to_off(t2, "vm_turned_off"))
            self.transition_end_t = t + delay
            return True

    def turn_off(self) -> bool:
        """Stop-VM -TurnOff: the power cord."""
        with self.site.acting():
            if self.state in ("Off", "Saved"):
                return False
            if self.worker_hung:
                return False    # the worker does not act on the request (recovery: end it)
            t = self._new_action()
            self._to_off(t, "vm_turned_off")
            return True

    def save(self) -> bool:
        """Save-VM: memory to disk, one to a few seconds per GB."""
        with self.site.acting():
            if self.state not in ("Running", "Paused"):
                return False
            t = self._new_action()
            self._saved_uptime = self._uptime(t)
            self.state = "Saving"
            seconds = 3.0 + self.memory_mb / 1024.0 * self._draw(t, 6, 1.0, 2.5)

            def saved(t2: float) -> None:
                self.state = "Saved"
                # The saved uptime was taken above; a pause before the save is over too
                # (left set, uptime would freeze after the next start: a false "stalled").
                self._boot_t, self._paused_at = None, None
                self._log(t2, "vm_saved")
            self._later(seconds, saved)
            self.transition_end_t = t + seconds
            return True

    def pause(self) -> bool:
        with self.site.acting():
            if self.state != "Running":
                return False
            t = self._new_action()
            self.state, self._paused_at = "Paused", t
            self._log(t, "vm_paused")
            return True

    def resume(self) -> bool:
        with self.site.acting():
            if self.state != "Paused" or self._paused_at is None or self._boot_t is None:
                return False
            t = self._new_action()
            self._boot_t += t - self._paused_at   # OnTime excludes paused time
            self.state, self._paused_at = "Running", None
            self._log(t, "vm_resumed")
            return True

    def reset(self) -> bool:
        """Restart-VM -Force / the reset button: the guest boots again at once."""
        with self.site.acting():
            if self.state not in ("Running", "Paused"):
                return False
            t = self._new_action()
            self._boot_guest(t, fresh=True)
            self._log(t, "vm_reset")
            return True

    def guest_reboot(self) -> bool:
        """The guest restarts itself: heartbeat gone for ~30-60 s, uptime starts again."""
        with self.site.acting():
            t = self.site.t
            if self.state != "Running":
                return False
            t = self._new_action()
            self._ic_ready_t = NEVER   # integration services stop while the guest shuts down
            self._later(self._draw(t, 7, 8.0, 18.0), self._guest_reset_step)
            return True

    def _guest_reset_step(self, t: float) -> None:
        self._boot_t = t
        self._ic_ready_t = NEVER if self.guest == "appliance" else t + self._draw(t, 8, 22.0, 42.0)

    def _to_off(self, t: float, event: str) -> None:
        self.state = "Off"
        self._boot_t, self._saved_uptime, self._paused_at = None, 0.0, None
        self.migrating = False
        self._log(t, event)

    # -- faults (freeze signatures) -----------------------------------------------------

    def hang(self, cpu: str = "flat", *, event: str | None = None, heartbeat_delay_s: float = 12.0) -> None:
        """The guest stops answering: heartbeat lost after a few seconds, CPU flat or pegged."""
        if cpu not in ("flat", "pegged"):
            raise ValueError("cpu must be 'flat' or 'pegged'")
        with self.site.acting():
            t = self._new_action()
            self.state = "Running"
            self._cpu_mode = cpu
            self._hb_lost_t = t + heartbeat_delay_s
            if event:
                self._log(t, event, code="0x0000007e")

    def stall(self) -> None:
        """The worker stops refreshing: every value, uptime included, stays as it was."""
        with self.site.acting():
            t = self.site.t
            frozen = self.sample(t)
            self._epoch += 1
            self._frozen = frozen

    def go_critical(self) -> None:
        """vmwp.exe no longer answers (HealthState 25): RunningCritical, CommunicationTimedOut."""
        with self.site.acting():
            t = self.site.t
            frozen = self.sample(t)
            self._new_action()
            self.health = "CriticalFailure"
            # What Get-VM still knows: the last values, with the worker's vitals unknown.
            frozen.update(state="RunningCritical", health="CriticalFailure", heartbeat=None,
                          operational_status=["CommunicationTimedOut"], cpu_pct=0)
            self._frozen = frozen
            self._log(t, "worker_not_responding")

    def stick(self, state: str) -> None:
        """A transition that never completes: 'Starting' from Off, 'Stopping' from Running."""
        if state not in ("Starting", "Stopping"):
            raise ValueError("only Starting and Stopping can get stuck")
        with self.site.acting():
            self._new_action()   # cancels whatever transition was in flight
            if state == "Stopping":
                self._ic_ready_t = NEVER
                self._cpu_mode = "low"
            else:
                self._boot_t = None
            self.state = state

    def triple_fault_loop(self, period_s: tuple[float, float] = (35.0, 55.0)) -> None:
        """The guest triple-faults early in every boot: 18560, reset, again and again."""
        with self.site.acting():
            self._new_action()

            def fault(t: float) -> None:
                self._log(t, "triple_fault")
                self.state, self._boot_t, self._ic_ready_t = "Running", t, NEVER
                self._later(self._draw(t, 9, *period_s), fault)
            self._later(self._draw(self.site.t, 10, 1.0, 4.0), fault)

    def crash_never_boots(self) -> None:
        """A triple fault (18560) resets the VM, and the guest never boots again: Running,
        uptime from the reset, heartbeat NoContact for good, CPU flat (a dead firmware loop,
        a boot disk gone)."""
        with self.site.acting():
            t = self._new_action()
            self._log(t, "triple_fault")
            self.state, self._boot_t, self._ic_ready_t = "Running", t, NEVER
            self._cpu_mode = "flat"

    def storage_full_pause(self) -> None:
        """The volume holding the VM's files runs out of space: below about 200 MB free
        Hyper-V pauses the VM, "Paused-Critical" (Ben Armstrong, Microsoft, "Why is my
        virtual machine Paused-Critical?"), HealthState 25. No event is written here: its
        id is not verified."""
        with self.site.acting():
            t = self._new_action()
            self.state, self._paused_at = "Paused", t
            self.health = "CriticalFailure"

    def recover(self) -> None:
        """An operator fixed it (killed vmwp, reset): the VM boots again."""
        with self.site.acting():
            t = self._new_action()
            self._boot_guest(t, fresh=True)
            self._log(t, "vm_reset")

    def end_worker(self) -> bool:
        """Stop-Process on this VM's vmwp.exe: the partition is torn down, the VM is Off
        (hyperv-notes §3: Microsoft's last resort for a VM stuck in Stopping). A new worker
        (another process id) starts with the next Start-VM."""
        with self.site.acting():
            if self.state in ("Off", "Saved"):
                return False
            t = self._new_action()
            self.worker_hung = False
            self._to_off(t, "vm_turned_off")
            self.worker_pid += 4
            return True

    def inject_nmi(self) -> bool:
        """Debug-VM -InjectNonMaskableInterrupt. A Windows guest set to bugcheck on NMI
        writes a dump (bugcheck 0x80, reported by the worker as 18590) and restarts; other
        guests ignore it. Only a running partition takes an NMI."""
        with self.site.acting():
            if self.state not in ("Running",) or self._frozen is not None or self.worker_hung:
                return False
            if not self.nmi_crash_dump:
                return True
            t = self._new_action()
            self._log(t, "guest_fatal", code="0x00000080")
            self._log(t, "guest_dump_written")
            self._ic_ready_t = NEVER
            self._later(self._draw(t, 12, 15.0, 30.0), self._guest_reset_step)
            return True

    # -- what Get-VM shows --------------------------------------------------------------

    @property
    def is_hung(self) -> bool:
        """A freeze fault is active (hung guest, stalled or critical worker)."""
        return self._frozen is not None or self._hb_lost_t != NEVER or self._cpu_mode == "pegged"

    def _guest_answers(self, t: float) -> bool:
        return self._frozen is None and t >= self._ic_ready_t and t < self._hb_lost_t

    def _uptime(self, t: float) -> float:
        if self.state in ("Off", "Saved", "Starting") or self._boot_t is None:
            return 0.0
        end = self._paused_at if self._paused_at is not None else t
        return max(0.0, end - self._boot_t)

    def _heartbeat(self, t: float) -> str | None:
        if self.state in ("Off", "Saved", "Starting", "Saving"):
            return None
        if self.state == "Paused":
            return "Paused"
        if self.state == "Stopping" or self.guest == "appliance" or t < self._ic_ready_t:
            return "NoContact"
        if t >= self._hb_lost_t:
            return "LostCommunication"
        return "OkApplicationsCritical" if self.app_critical else _APP_HEARTBEAT[self.guest]

    def _cpu(self, t: float) -> float:
        if self._cpu_mode == "pegged":
            return jitter(self.seed, t, 98.6, 100.0)
        if self._cpu_mode == "flat":
            return 0.0
        if self._cpu_mode == "low" or self.state in ("Stopping", "Saving", "Starting"):
            return jitter(self.seed, t, 1.0, 9.0)
        if self.state == "Paused":
            return 0.0
        since_boot = t - (self._boot_t or 0.0)
        if self.guest != "appliance" and (t < self._ic_ready_t or since_boot < 45.0):
            return jitter(self.seed, t, 25.0, 75.0, grain_s=3.0)   # a booting guest is busy
        host = self.host
        hour = host.site.hour_local(t) if host is not None and host.site is not None else 12.0
        return self.load.cpu(self.seed, t, hour)

    def _memory(self, t: float, cpu: float) -> tuple[int, int]:
        if self.state in ("Off", "Saved"):
            return 0, 0
        pressure = 0.45 + 0.35 * min(1.0, cpu / 60.0) + 0.1 * jitter(self.seed ^ 7, t, 0.0, 1.0, grain_s=30.0)
        if not self.dynamic_memory:
            return self.memory_mb, int(self.memory_mb * pressure)
        demand = int(self.memory_mb * pressure * 1.3)
        maximum = self.memory_max_mb
        assert maximum is not None      # __post_init__ fills it in
        assigned = min(maximum, max(self.memory_mb // 2, int(demand * 1.2)))
        return assigned - assigned % 2, demand

    def last_backup_t(self, t: float) -> float | None:
        """The most recent nightly backup before ``t`` (None: this VM is not backed up)."""
        if self.backup_hour is None or self.host is None or self.host.site is None:
            return None
        site = self.host.site
        hour_now = site.hour_local(t)
        since = (hour_now - self.backup_hour) % 24.0
        duration_h = 0.2 + 0.6 * unit(self.seed, 11)
        if since < duration_h:
            since += 24.0   # tonight's backup is still running: yesterday's is the last one
        return t - (since - duration_h) * 3600.0

    def sample(self, t: float) -> dict[str, Any]:
        """The VM as the collect script reports it at ``t`` (contract field names)."""
        if self._frozen is not None:
            base = dict(self._frozen)
            base["last_backup_t"] = self.last_backup_t(t)
            return base
        cpu = self._cpu(t)
        assigned, demand = self._memory(t, cpu)
        running = self.state not in ("Off", "Saved")
        ops = ["Ok", "MigratingVirtualMachine"] if self.migrating else ["Ok"]
        state = self.state if self.health == "Ok" else self.state + "Critical"
        return {
            "id": self.id, "name": self.name, "state": state, "health": self.health,
            "heartbeat": self._heartbeat(t), "operational_status": ops,
            "cpu_pct": round(cpu) if running else 0, "vcpus": self.vcpus,
            "memory_assigned_mb": assigned, "memory_demand_mb": demand,
            "dynamic_memory": self.dynamic_memory, "uptime_s": int(self._uptime(t)),
            "automatic_start_action": self.automatic_start_action,
            "automatic_stop_action": self.automatic_stop_action, "generation": self.generation,
            "is_clustered": self.is_clustered, "last_backup_t": self.last_backup_t(t),
            "confidential": self.confidential,
        }

    def __repr__(self) -> str:
        return f"SimVM({self.name!r}, {self.state})"
