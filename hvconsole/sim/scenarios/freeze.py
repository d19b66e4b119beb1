"""Named scenarios: small sites with a scripted timeline, labelled freeze or look-alike.

They are the freeze detector's labelled test set (record each one with ``record.record``
and check the findings against ``expect``) and material for demos
(``hvconsole-sim serve --site NAME``). Every freeze begins ``onset_s`` seconds after the
start, between 20 and 60 s, and is visible in the data from then on; ``duration_s`` is
how long to record so that it is unmistakable (stuck-stopping needs more than the five
minutes Stop-VM gives a guest). Look-alikes must produce no critical finding; the
maintenance windows of ``host-patch-reboot`` are in ``Scenario.maintenance``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TypedDict, Unpack

from hvconsole.core.guid import guid4

from ..model.clock import SimClock
from ..model.host import SimHost
from ..model.load import IDLE, LoadProfile
from ..model.site import SimSite
from ..model.vm import SimVM, VmMakeUp

# A fixed default start: a scenario recorded twice with the same seed is the same trace.
SCENARIO_START = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Expectation:
    host: str
    vm_name: str | None
    severity: str = "critical"


@dataclass(frozen=True)
class Maintenance:
    """A window the console itself opened (patching): seconds after the scenario's start."""

    host: str
    begin_s: float
    end_s: float

    def times(self, start: datetime) -> tuple[datetime, datetime]:
        return start + timedelta(seconds=self.begin_s), start + timedelta(seconds=self.end_s)


@dataclass(frozen=True)
class Scenario:
    name: str
    kind: str                       # "freeze" or "lookalike"
    description: str
    onset_s: float
    expect: tuple[Expectation, ...]
    duration_s: float = 300.0
    maintenance: tuple[Maintenance, ...] = ()
    script: Callable[[SimSite, float], None] = field(default=lambda site, onset: None, repr=False, compare=False)
    hosts: tuple[str, ...] = ("HV01",)

    def build(self, seed: int = 1, start: datetime | None = None, *, clock: SimClock | None = None) -> SimSite:
        """The scenario's site on a manual clock at ``start`` (default SCENARIO_START), or
        on ``clock`` (e.g. a running one, to serve it live)."""
        if clock is None:
            clock = SimClock.manual(start or SCENARIO_START)
        site = SimSite(clock, seed=seed, name=self.name)
        cluster = "HVCL-LAB" if len(self.hosts) > 1 else None
        for i, name in enumerate(self.hosts):
            site.add_host(SimHost(name, build=20348, ubr=3692, hotfixes=("KB5058385",),
                                  cluster=cluster, clock_skew_ms=(150, -90)[i % 2]))
        for name in self.hosts:
            _background_vms(site, site.host(name))
        self.script(site, self.onset_s)
        return site


_TYPICAL_LOAD = LoadProfile(18, 10)


def _new_vm(site: SimSite, host: SimHost, name: str, **make_up: Unpack[VmMakeUp]) -> SimVM:
    make_up.setdefault("load", _TYPICAL_LOAD)
    rng = site.rng("vm-id", name)
    vm = SimVM(name, guid4(rng.getrandbits(128)), is_clustered=host.cluster is not None,
               uptime_s=rng.uniform(2, 20) * 86400, **make_up)
    return host.add_vm(vm)


def _background_vms(site: SimSite, host: SimHost) -> None:
    """Healthy neighbours, so that one VM going bad is not the whole picture."""
    suffix = host.name[-2:]
    _new_vm(site, host, f"DC{suffix}", load=LoadProfile(4, 3, 0.6), dynamic_memory=True)
    _new_vm(site, host, f"WEB-{suffix}", load=LoadProfile(15, 10), vcpus=4, memory_mb=8192)


def _at(site: SimSite, t: float, action: Callable[[], object]) -> None:
    site.at(t, lambda _t: action())


def _one_vm(act: Callable[[SimVM], object], name: str = "APP01",
            **vm: Unpack[VmMakeUp]) -> Callable[[SimSite, float], None]:
    """The script of a scenario about one VM on HV01: the VM (``vm``: its make-up) from the
    start, ``act`` on it at the onset."""
    def script(site: SimSite, onset: float) -> None:
        made = _new_vm(site, site.host("HV01"), name, **vm)
        _at(site, onset, lambda: act(made))
    return script


# -- freezes ---------------------------------------------------------------------------

def _hang(cpu: str) -> Callable[[SimSite, float], None]:
    return _one_vm(lambda vm: vm.hang(cpu), vcpus=4, memory_mb=16384)


_uptime_stalled = _one_vm(SimVM.stall, vcpus=4, memory_mb=16384)
_critical = _one_vm(SimVM.go_critical, vcpus=4, memory_mb=16384)
_stuck_stopping = _one_vm(lambda vm: vm.stick("Stopping"), vcpus=4, memory_mb=16384)
_stuck_starting = _one_vm(lambda vm: vm.stick("Starting"), state="Off", automatic_start_action="Nothing")


def _vmms_wedged(site: SimSite, onset: float) -> None:
    _new_vm(site, site.host("HV01"), "APP01")
    _at(site, onset, site.host("HV01").wedge_vmms)


def _host_hung(site: SimSite, onset: float) -> None:
    _new_vm(site, site.host("HV01"), "APP01")
    _at(site, onset, site.host("HV01").hang)


HOST_WIDE_VMS = ("APP01", "APP02", "SQL01", "FILE01")


def _host_wide(site: SimSite, onset: float) -> None:
    host = site.host("HV01")
    vms = [_new_vm(site, host, name, vcpus=4, memory_mb=8192) for name in HOST_WIDE_VMS]

    def freeze() -> None:
        host.storage_stalled = True
        for i, vm in enumerate(vms):
            vm.hang("pegged" if i % 2 else "flat", event="worker_not_responding", heartbeat_delay_s=6.0 + i)
            host.events.write(site.t + 1.0 + i, "compute_error", vm_id=vm.id, vm=vm.name)
    _at(site, onset, freeze)


_triple_fault = _one_vm(SimVM.triple_fault_loop)
_crash_never_boots = _one_vm(SimVM.crash_never_boots, vcpus=4, memory_mb=8192)
_storage_full_paused = _one_vm(SimVM.storage_full_pause, "FILE01", vcpus=2, memory_mb=8192)


# -- look-alikes -----------------------------------------------------------------------

_booting = _one_vm(SimVM.start, state="Off", automatic_start_action="Nothing")


def _no_integration(site: SimSite, onset: float) -> None:
    _new_vm(site, site.host("HV01"), "LB-APPLIANCE-01", guest="appliance", generation=1,
            load=LoadProfile(9, 5, 0.3), automatic_stop_action="TurnOff")


def _idle(site: SimSite, onset: float) -> None:
    _new_vm(site, site.host("HV01"), "KMS01", load=IDLE, vcpus=1, memory_mb=2048)


_guest_reboot = _one_vm(SimVM.guest_reboot)
_planned_shutdown = _one_vm(SimVM.shutdown, automatic_stop_action="ShutDown")


def _live_migration(site: SimSite, onset: float) -> None:
    vm = _new_vm(site, site.host("HV01"), "APP01", memory_mb=16384)
    _at(site, onset, lambda: site.host("HV01").live_migrate(vm, site.host("HV02")))


def _app_critical(site: SimSite, onset: float) -> None:
    vm = _new_vm(site, site.host("HV01"), "APP01")

    def go() -> None:
        vm.app_critical = True
    _at(site, onset, go)


def _crash_then_boots(site: SimSite, onset: float) -> None:
    host = site.host("HV01")
    vm = _new_vm(site, host, "APP01")

    def crash() -> None:
        host.events.write(site.t, "triple_fault", vm_id=vm.id, vm=vm.name)
        vm.reset()          # the worker resets the VM; this time the guest boots
    _at(site, onset, crash)


def _single_lost_poll(site: SimSite, onset: float) -> None:
    _new_vm(site, site.host("HV01"), "APP01")
    host = site.host("HV01")
    _at(site, onset, host.hang)
    _at(site, onset + 4.0, host.unhang)   # shorter than a poll interval: one poll is lost


PATCH_KB, PATCH_UBR = "KB5061906", 3695


def _patch_reboot(site: SimSite, onset: float) -> None:
    host = site.host("HV01")
    _new_vm(site, host, "APP01", automatic_stop_action="Save")
    _new_vm(site, host, "SQL01", automatic_stop_action="ShutDown", vcpus=8, memory_mb=32768)
    _at(site, onset - 20.0, lambda: host.install_update(PATCH_KB, ubr=PATCH_UBR))
    _at(site, onset, host.reboot)


class _ScenarioExtras(TypedDict, total=False):
    """The fields of a :class:`Scenario` that most leave at their default."""

    duration_s: float
    maintenance: tuple[Maintenance, ...]
    hosts: tuple[str, ...]


def _scenario(name: str, kind: str, onset: float, description: str, script: Callable[[SimSite, float], None],
              expect: tuple[Expectation, ...] = (), **kw: Unpack[_ScenarioExtras]) -> Scenario:
    return Scenario(name=name, kind=kind, description=description, onset_s=onset, expect=expect,
                    script=script, **kw)


_APP01 = (Expectation("HV01", "APP01"),)

SCENARIOS: dict[str, Scenario] = {s.name: s for s in (
    _scenario("heartbeat-lost-cpu-flat", "freeze", 30.0,
              "APP01 stays Running, its heartbeat goes LostCommunication and its CPU drops to a flat 0 %.",
              _hang("flat"), _APP01),
    _scenario("heartbeat-lost-cpu-pegged", "freeze", 40.0,
              "APP01 stays Running, heartbeat LostCommunication, CPU pegged near 100 %.",
              _hang("pegged"), _APP01),
    _scenario("uptime-stalled", "freeze", 30.0,
              "APP01 Running but every value freezes: uptime stops advancing.", _uptime_stalled, _APP01),
    _scenario("critical-state", "freeze", 45.0,
              "APP01's worker stops answering: RunningCritical, CriticalFailure, CommunicationTimedOut.",
              _critical, _APP01),
    _scenario("stuck-stopping", "freeze", 20.0,
              "APP01 is asked to shut down and stays Stopping for good.", _stuck_stopping, _APP01,
              duration_s=480.0),
    _scenario("stuck-starting", "freeze", 25.0,
              "APP01 is started and never leaves Starting.", _stuck_starting, _APP01, duration_s=420.0),
    _scenario("vmms-wedged", "freeze", 35.0,
              "Get-VM times out on HV01 while the vmms service still says Running.", _vmms_wedged,
              (Expectation("HV01", None),)),
    _scenario("host-hung", "freeze", 40.0,
              "HV01 answered, then WinRM stops answering at all.", _host_hung, (Expectation("HV01", None),)),
    _scenario("host-wide-freeze", "freeze", 50.0,
              "Four VMs on HV01 lose their heartbeat together, with Worker-Admin and Compute-Admin errors.",
              _host_wide, (Expectation("HV01", None), *(Expectation("HV01", n) for n in HOST_WIDE_VMS))),
    _scenario("triple-fault-loop", "freeze", 30.0,
              "APP01 triple-faults and resets (18560) every 35-55 s and never gets its heartbeat back.",
              _triple_fault, _APP01),
    _scenario("crash-never-boots", "freeze", 30.0,
              "APP01 triple-faults (18560), is reset, and never boots: Running, heartbeat NoContact, CPU flat.",
              _crash_never_boots, _APP01),
    _scenario("storage-full-paused", "freeze", 35.0,
              "FILE01's volume runs out of space: Hyper-V pauses it, HealthState 25 (PausedCritical).",
              _storage_full_paused, (Expectation("HV01", "FILE01"),)),
    _scenario("vm-booting", "lookalike", 20.0,
              "APP01 starts: Starting, then Running with heartbeat NoContact for a minute or two.", _booting),
    _scenario("no-integration-services", "lookalike", 0.0,
              "A Linux appliance without integration services: NoContact forever, CPU normal.", _no_integration),
    _scenario("idle-vm", "lookalike", 0.0, "KMS01 at 0 % CPU with a healthy heartbeat.", _idle),
    _scenario("guest-reboot", "lookalike", 40.0,
              "APP01 reboots itself: heartbeat NoContact for 30-60 s, uptime starts again.", _guest_reboot),
    _scenario("planned-shutdown", "lookalike", 30.0,
              "APP01 is shut down on purpose: Stopping for up to 40 s, then Off.", _planned_shutdown),
    _scenario("live-migration", "lookalike", 30.0,
              "APP01 live-migrates from HV01 to HV02 (MigratingVirtualMachine), then runs on HV02.",
              _live_migration, hosts=("HV01", "HV02")),
    _scenario("ok-applications-critical", "lookalike", 25.0,
              "APP01's heartbeat reports OkApplicationsCritical: an application problem, not a freeze.",
              _app_critical),
    _scenario("crash-then-boots", "lookalike", 30.0,
              "APP01 triple-faults once (18560), is reset and boots normally: heartbeat back within two minutes.",
              _crash_then_boots),
    _scenario("single-lost-poll", "lookalike", 42.0,
              "HV01 misses one poll (a network blip) and answers normally again.", _single_lost_poll),
    _scenario("host-patch-reboot", "lookalike", 60.0,
              "HV01 gets KB5061906 and is rebooted on purpose inside a maintenance window: VMs saved or "
              "shut down, WinRM refused for a few minutes, back on 20348.3695 with VMs restarting.",
              _patch_reboot, duration_s=600.0, maintenance=(Maintenance("HV01", 30.0, 900.0),)),
)}
