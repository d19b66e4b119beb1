"""A simulated Windows Server Hyper-V host: OS and update state, services, cluster
membership, resources that follow its VMs, and the host-level conditions of
hyperv-notes §3/§7 (reboots that take minutes, a wedged VMMS, a hung WinRM, a slow host).

The patch workflow drives the mutable parts through methods: :meth:`SimHost.install_update`
stages an update (the KB shows at once, the UBR only after the reboot), :meth:`reboot`
takes the host away and brings it back with a new last boot, possibly still pending a
second reboot, or never (``fail=True``). What the patch scripts see of a host's disk,
scheduled tasks and installer lives in ``host.patch`` (``host_patch``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .events import EventLog
from .host_patch import HostPatchState
from .load import jitter, text_key, unit
from .storage_counters import PERF_FREQUENCY, StorageCounters
from .timeline import Timeline, action_calling
from .vm import SimVM

_PRODUCTS = {20348: ("Windows Server 2022 Datacenter", "21H2"),
             26100: ("Windows Server 2025 Datacenter", "24H2"),
             17763: ("Windows Server 2019 Datacenter", "1809")}


@dataclass
class Cluster:
    name: str
    node_state: str = "Up"
    drain_status: str = "NotInitiated"
    drain_done_t: float | None = None        # when the drain in progress will have finished
    drained_away: list[str] = field(default_factory=list)   # VM ids the last drain moved off
    # Cluster shared volumes protected by BitLocker (what collect.ps1 counts with
    # Get-BitLockerVolume; catalog applicability of KB5063877).
    bitlocker_csvs: int = 0


@dataclass
class PendingUpdate:
    kb: str
    build: int
    ubr: int
    reboots_left: int
    # After how many reboots the running build changes: 1 for most updates; the last one
    # for an update whose first reboot only prepares it (pending still set, build as before).
    build_moves_after: int = 1
    reboots_done: int = 0
    installed_t: float = 0.0          # when it was installed (Get-HotFix InstalledOn: the day)


@dataclass
class SimVolume:
    """A volume as Win32_Volume reports it (``path`` is its mount path, ending in a backslash)."""

    path: str
    size_mb: float
    free_mb: float
    label: str | None = None
    is_system: bool = False


# Get-VMHostSupportedVersion -Default per build (configuration version of new VMs).
CONFIG_VERSIONS = {17763: "9.0", 20348: "10.0", 26100: "12.0"}


class SimHost:
    def __init__(self, name: str, *, build: int = 20348, ubr: int = 3692, hotfixes: tuple[str, ...] = (),
                 product: str | None = None, display_version: str | None = None,
                 logical_processors: int = 32, memory_total_mb: int = 262144,
                 system_drive_free_mb: int = 61440, uptime_s: float = 6 * 86400.0,
                 cluster: str | None = None, clock_skew_ms: int = 0, clixml_progress: bool = False):
        known = _PRODUCTS.get(build, (f"Windows Server Datacenter ({build})", None))
        self.name = name
        self.build, self.ubr = build, ubr
        self.product = product or known[0]
        self.display_version = display_version or known[1]
        self.hotfixes: list[str] = list(hotfixes)
        self.pending: list[PendingUpdate] = []
        self.logical_processors = logical_processors
        self.memory_total_mb = memory_total_mb
        self.system_drive_free_mb = system_drive_free_mb
        self.last_boot_t = -uptime_s
        self.cluster = Cluster(cluster) if cluster else None
        self.clock_skew_s = clock_skew_ms / 1000.0   # hosts' clocks are never quite right
        self.clixml_progress = clixml_progress        # stderr noise even on success (notes §9)
        # Live migration as Get-VMHost reports it, and whether one started from a remote
        # (WinRM) session can reach another host: that needs Kerberos with constrained
        # delegation; CredSSP cannot be used remotely (the second hop). Set
        # migration_delegation False for a host whose live migrations fail from the console.
        self.migration_enabled = True
        self.migration_authentication = "Kerberos"
        self.migration_delegation = True
        self.seed = text_key(name)
        self.vms: list[SimVM] = []
        self.events = EventLog()
        self.site: Timeline | None = None
        # The hosts of its site, itself included (live migration, a drain, the cluster's view).
        self.site_hosts: Mapping[str, SimHost] = {}
        self.power = "up"            # up | stopping (still answering) | down
        self.hung = False            # WinRM unanswered
        self.vmms_wedged = False     # Get-VM times out while the vmms service says Running
        # Host actions taken by recovery scripts: (t, action, vm_id) (tests count them).
        self.recovery_actions: list[tuple[float, str, str | None]] = []
        self.slow_factor = 1.0       # collection takes this many times longer
        self.storage_stalled = False
        self.storage_counters = StorageCounters()   # the raw latency counters (collect.ps1)
        self.boot_fails = False      # the next boot never completes
        self.reboots = 0
        self._vmms_ready_t = -1e18
        self._vmms_stopped_until_t = -1e18
        self._vmms_crashes = 0
        self.patch = HostPatchState(self)
        # -- configuration the health check reads (audit.ps1, sim/agent/audit.py) ---------
        self.numa_nodes = 2                          # logical processors split evenly
        self.memory_reserve_mb: float | None = None  # the MemoryReserve registry value, if set
        # Where new VMs' disks go; the system volume's free space follows system_drive_free_mb.
        self.data_volume = SimVolume("C:\\ClusterStorage\\Volume1\\" if cluster else "D:\\",
                                     8 * 1048576.0 if cluster else 4 * 1048576.0,
                                     5 * 1048576.0 if cluster else 2.5 * 1048576.0,
                                     "CSV1" if cluster else "VMs")
        self.bpa_available = False                   # the BestPractices module with a Hyper-V scan
        self.bpa_results: list[dict[str, Any]] = []  # Get-BpaResult objects (non-compliant only)

    # -- inventory ----------------------------------------------------------------------

    def attach(self, site: Timeline, site_hosts: Mapping[str, SimHost]) -> None:
        """Join a site: its timeline, and its hosts (the site's own, live, mapping)."""
        self.site, self.site_hosts = site, site_hosts
        boot = self.last_boot_t
        self.events.write(boot, "os_started", when=site.time_of(boot).strftime("%Y-%m-%dT%H:%M:%SZ"))
        self.events.write(boot + 9.0, "eventlog_started")

    def add_vm(self, vm: SimVM, *, arriving: bool = False) -> SimVM:
        vm.host = self
        self.vms.append(vm)
        if not arriving and vm.state == "Running" and vm._boot_t is not None:
            self.events.write(vm._boot_t, "vm_started", vm_id=vm.id, vm=vm.name)
        return vm

    def vm(self, name: str) -> SimVM:
        for vm in self.vms:
            if vm.name == name:
                return vm
        raise KeyError(f"no VM {name!r} on {self.name}")

    def _site(self) -> Timeline:
        if self.site is None:
            raise RuntimeError(f"host {self.name} is not in a site")
        return self.site

    # -- what the outside sees ----------------------------------------------------------

    def reachability(self) -> str:
        """'up', 'hung' (WinRM does not answer) or 'down' (connection refused)."""
        if self.power == "down":
            return "down"
        return "hung" if self.hung else "up"

    @property
    def pending_reboot(self) -> bool:
        return bool(self.pending)

    def services(self, t: float) -> dict[str, str | None]:
        vmms = "Stopped" if t < self._vmms_stopped_until_t else (
            "StartPending" if t < self._vmms_ready_t else "Running")
        return {"vmms": vmms, "vmcompute": "Running",
                "clussvc": None if self.cluster is None else "Running", "winrm": "Running"}

    def vm_query_problem(self, t: float) -> str | None:
        """Why Get-VM fails now: 'wedged' (times out), 'vmms-starting', or None."""
        if self.vmms_wedged:
            return "wedged"
        if t < self._vmms_ready_t:
            return "vmms-starting"
        return None

    def storage_load(self, t: float, busy_vcpus: float) -> tuple[float, float]:
        """(latency in ms, operations a second) of the VMs' disks at ``t``."""
        if self.storage_stalled:
            # Stalled storage completes little, and slowly.
            return jitter(self.seed ^ 3, t, 140.0, 420.0), jitter(self.seed ^ 9, t, 15.0, 60.0)
        return (jitter(self.seed ^ 3, t, 0.6, 2.1) + busy_vcpus / self.logical_processors * 2.0,
                busy_vcpus * 60.0 + jitter(self.seed ^ 9, t, 40.0, 160.0))

    def resources(self, t: float, samples: list[dict[str, Any]]) -> dict[str, Any]:
        lp = self.logical_processors
        busy = sum((s["cpu_pct"] or 0) * (s["vcpus"] or 0) for s in samples) / 100.0  # busy vCPUs
        guest = min(100.0, busy / lp * 100.0)
        root = jitter(self.seed, t, 1.2, 3.4) + 0.04 * guest + (7.0 if self.vmms_wedged else 0.0)
        assigned = sum(s["memory_assigned_mb"] or 0 for s in samples)
        reserve = 4096 + self.memory_total_mb * 0.02
        available = max(512.0, self.memory_total_mb - reserve - assigned - jitter(self.seed, t, 0, 600, grain_s=10))
        latency, iops = self.storage_load(t, busy)
        # One virtual disk per VM that has its disks open, sharing the host's operations by
        # how busy its VM is; the host sends each one's raw counters and leaves the latency
        # to the console, as collect.ps1 does.
        open_disks = [s for s in samples if str(s.get("state") or "").removesuffix("Critical") not in ("Off", "Saved")]
        weights = [1.0 + (s["cpu_pct"] or 0) * (s["vcpus"] or 0) / 100.0 for s in open_disks]
        share = iops / (sum(weights) or 1.0)
        raw = self.storage_counters.read(t, self.last_boot_t, [
            (f"D:-Hyper-V-Virtual Hard Disks-{s['name']}_{s['id']}.vhdx", w * share, latency)
            for s, w in zip(open_disks, weights, strict=True)])
        return {
            "logical_processors": lp,
            "cpu_total_run_pct": round(min(100.0, guest + root), 2),
            "cpu_guest_run_pct": round(guest, 2),
            "cpu_root_run_pct": round(root, 2),
            # TotalVisibleMemorySize: a little less than what is installed.
            "memory_total_mb": round(self.memory_total_mb * 0.9987, 1),
            "memory_available_mb": round(available, 1),
            "storage_read_bps": round(busy * 3.2e6 + jitter(self.seed ^ 4, t, 2e5, 9e5)),
            "storage_write_bps": round(busy * 1.4e6 + jitter(self.seed ^ 5, t, 1e5, 6e5)),
            "storage_latency_ms": None,
            "network_rx_bps": round(busy * 9.0e5 + jitter(self.seed ^ 6, t, 5e4, 3e5)),
            "network_tx_bps": round(busy * 6.5e5 + jitter(self.seed ^ 8, t, 4e4, 2e5)),
            "system_drive_free_mb": float(int(self.system_drive_free_mb - t / 3600.0 * 4.0)),
            "storage_latency_freq": PERF_FREQUENCY if raw else None,
            "storage_latency_raw": raw,
        }

    # -- conditions ---------------------------------------------------------------------

    def hang(self) -> None:
        with self._site().acting():
            self.hung = True

    def unhang(self) -> None:
        with self._site().acting():
            self.hung = False

    def wedge_vmms(self) -> None:
        with self._site().acting() as t:
            self.vmms_wedged = True
            for vm in self.vms[:1]:
                self.events.write(t, "vmms_op_timeout", vm_id=vm.id, vm=vm.name)

    def crash_vmms(self) -> None:
        """vmms.exe dies: 7031, the service manager restarts it after 60 s (VMs keep running)."""
        with self._site().acting() as t:
            self._vmms_crashes += 1
            self.events.write(t, "service_crashed_restart",
                              service="Hyper-V Virtual Machine Management", count=self._vmms_crashes)
            self._vmms_stopped_until_t = t + 60.0
            self._vmms_ready_t = t + 60.0 + 5.0 + 10.0 * unit(self.seed, 25, self._vmms_crashes)

    def stop_vmms(self) -> None:
        """An admin ran `Stop-Service vmms`: Stopped (Get-VM fails) until :meth:`start_vmms`."""
        with self._site().acting():
            self._vmms_stopped_until_t = self._vmms_ready_t = float("inf")

    def start_vmms(self) -> None:
        """`Start-Service vmms` after :meth:`stop_vmms`: Running again at once."""
        with self._site().acting() as t:
            self._vmms_stopped_until_t = self._vmms_ready_t = t

    def restart_vmms(self, ready_after_s: float | None = None) -> None:
        """`Restart-Service vmms` (recovery): a wedged VMMS is replaced by a fresh one that
        answers after a few seconds (``ready_after_s``; a script that waited for it passes
        0). Running VMs keep running (their workers do not depend on VMMS; hyperv-notes §7)."""
        with self._site().acting():
            t = self._site().t
            self.vmms_wedged = False
            ready = 6.0 + 6.0 * unit(self.seed, 26, int(t)) if ready_after_s is None else max(0.0, ready_after_s)
            self._vmms_stopped_until_t = t + min(2.0, ready)
            self._vmms_ready_t = t + ready
            self.recovery_actions.append((t, "restart_vmms", None))

    def set_slow(self, factor: float) -> None:
        with self._site().acting():
            self.slow_factor = max(1.0, factor)

    # -- updates and reboots ------------------------------------------------------------

    def install_update(self, kb: str, *, ubr: int, build: int | None = None, reboots: int = 1,
                       title: str | None = None, build_on_last_reboot: bool = False) -> None:
        """An update installed and waiting for its reboot(s): the KB is listed at once,
        the build moves only when the host boots (notes §6), after the first reboot or,
        with ``build_on_last_reboot``, only after the last one."""
        with self._site().acting() as t:
            if kb not in self.hotfixes:
                self.hotfixes.append(kb)
            reboots = max(1, reboots)
            self.pending.append(PendingUpdate(kb, build or self.build, ubr, reboots,
                                              build_moves_after=reboots if build_on_last_reboot else 1,
                                              installed_t=t))
            self.events.write(t, "update_installed", title=title or f"Cumulative update ({kb})")

    def reboot(self, *, planned: bool = True, down_s: float | None = None, fail: bool = False,
               user: str = "CONTOSO\\hvadmin") -> bool:
        """Restart the host: VMs follow their automatic stop action, WinRM goes away for
        a few minutes, then the host is back with a new last boot (unless ``fail``)."""
        site = self._site()
        with site.acting() as t:
            if self.power != "up":
                return False
            self.power = "stopping"
            self.boot_fails = self.boot_fails or fail
            if planned:
                self.events.write(t, "planned_restart", host=self.name, user=user)
            busy = False
            for vm in list(self.vms):
                vm.was_running_before_host_stop = vm.state in ("Running", "Paused", "Starting")
                if not vm.was_running_before_host_stop:
                    continue
                busy = True
                action = vm.automatic_stop_action
                if action == "Save":
                    vm.save()
                elif action == "ShutDown":
                    vm.shutdown() or vm.turn_off()
                else:
                    vm.turn_off()
            wait = unit(self.seed, 21, self.reboots) * 15.0 + (40.0 if busy else 12.0)
            site.after(wait, lambda t2: self._go_down(t2, planned, down_s))
            return True

    def crash(self, down_s: float | None = None) -> None:
        """A bugcheck: everything stops at once, events tell the story after the boot."""
        with self._site().acting() as t:
            if self.power == "down":
                return
            for vm in self.vms:
                vm.was_running_before_host_stop = vm.state in ("Running", "Paused", "Starting")
            self._go_down(t, planned=False, down_s=down_s, bugcheck=True)

    def _go_down(self, t: float, planned: bool, down_s: float | None, bugcheck: bool = False) -> None:
        self.patch.power_lost(t)            # a running installer dies with the host
        for vm in self.vms:
            vm._epoch += 1                  # whatever was in flight ends with the host
            vm.migrating = False
            if vm.state in ("Saving", "Saved"):
                vm.state, vm._boot_t = "Saved", None
            elif vm.state != "Off":
                vm.state, vm._boot_t = "Off", None
            vm._cpu_mode, vm._frozen, vm.health = None, None, "Ok"
        if planned:
            self.events.write(t, "eventlog_stopped")
        self.power = "down"
        self.hung = False
        if self.cluster is not None:
            self.cluster.node_state = "Down"
            if not planned:   # the surviving nodes notice the loss (a planned restart leaves cleanly)
                for peer in self.site_hosts.values():
                    if peer is not self and peer.cluster is not None and peer.cluster.name == self.cluster.name \
                            and peer.power == "up":
                        peer.events.write(t + 5.0, "cluster_node_removed", node=self.name)
        if self.boot_fails:
            return                          # never comes back: the patch workflow must notice
        down = down_s if down_s is not None else 90.0 + 150.0 * unit(self.seed, 22, self.reboots)
        self._site().after(down, lambda t2: self._come_up(t2, planned, t, bugcheck))

    def _come_up(self, t: float, planned: bool, went_down_t: float, bugcheck: bool) -> None:
        site = self._site()
        self.reboots += 1
        self.power = "up"
        self.last_boot_t = t - (25.0 + 20.0 * unit(self.seed, 23, self.reboots))
        for update in list(self.pending):
            update.reboots_done += 1
            if update.reboots_done >= update.build_moves_after:
                self.build, self.ubr = update.build, update.ubr
            update.reboots_left -= 1
            if update.reboots_left <= 0:
                self.pending.remove(update)
        if self.build in _PRODUCTS:
            self.product, self.display_version = _PRODUCTS[self.build]
        boot = self.last_boot_t
        self.events.write(boot, "os_started", when=site.time_of(boot).strftime("%Y-%m-%dT%H:%M:%SZ"))
        self.events.write(boot + 9.0, "eventlog_started")
        if not planned:
            self.events.write(boot + 11.0, "kernel_power_41")
            self.events.write(boot + 12.0, "unexpected_shutdown",
                              when=site.time_of(went_down_t).strftime("%d/%m/%Y %H:%M:%S"))
            if bugcheck:
                self.events.write(boot + 40.0, "bugcheck", code="0x000000d1 (0x0, 0x2, 0x0, 0x0)")
        if self.cluster is not None:
            self.cluster.node_state = "Paused" if self.cluster.drain_status == "Completed" else "Up"
        # The ugly part: WinRM answers before VMMS has finished starting.
        self._vmms_ready_t = t + 8.0 + 12.0 * unit(self.seed, 24, self.reboots)
        site.at(self._vmms_ready_t, self._autostart_vms)

    def _autostart_vms(self, t: float) -> None:
        for i, vm in enumerate(self.vms):
            wanted = vm.automatic_start_action == "Start" or (
                vm.automatic_start_action == "StartIfRunning" and vm.was_running_before_host_stop)
            if wanted:
                self._site().after(2.0 + i * 1.5, action_calling(vm.start))

    # -- moving VMs (live migration, cluster drain) -------------------------------------

    def live_migrate(self, vm: SimVM, dest: SimHost, duration_s: float | None = None) -> float | None:
        """Move a running VM to ``dest``; returns the seconds it will take, or None."""
        site = self._site()
        with site.acting() as t:
            if vm not in self.vms or vm.state != "Running" or dest.power != "up" or vm.migrating:
                return None
            seconds = duration_s if duration_s is not None else self.migration_seconds(vm, t)
            vm.migrating = True
            vm.transition_end_t = t + seconds
            epoch = vm._epoch
            self.events.write(t, "lm_started", vm_id=vm.id, vm=vm.name, dest=dest.name)

            def arrived(t2: float) -> None:
                vm.migrating = False
                # A source host that went down (or anything else that bumped the VM's epoch)
                # aborted the migration: the VM stays where it is, in whatever state it is.
                if vm._epoch == epoch and self.power == "up" and vm in self.vms and dest.power == "up":
                    self.vms.remove(vm)
                    dest.add_vm(vm, arriving=True)
                    self.events.write(t2, "lm_completed", vm_id=vm.id, vm=vm.name)
                    dest.events.write(t2, "lm_arrived", vm_id=vm.id, vm=vm.name, source=self.name)
            site.after(seconds, arrived)
            return seconds

    def remote_migration_problem(self, dest_name: str) -> str | None:
        """Why a live migration to ``dest_name`` started from a remote session fails (what
        Move-VM and Compare-VM -DestinationHost say), or None when it can work."""
        self._site()                    # a host in no site has no one to migrate to
        target = next((h for h in self.site_hosts.values() if h.name.lower() == dest_name.lower()), None)
        if target is None or target is self or target.power != "up":
            return f"Failed to establish a connection with host '{dest_name}'."
        if self.migration_authentication == "CredSSP" or not self.migration_delegation:
            # The second hop: the session's credentials cannot be passed on to the destination.
            return (f"The Virtual Machine Management Service failed to establish a connection for a Virtual "
                    f"Machine migration with host '{target.name}': No credentials are available in the "
                    "security package (0x8009030E).")
        return None

    def migration_seconds(self, vm: SimVM, t: float) -> float:
        """How long a live migration of ``vm`` started at ``t`` takes (memory-bound)."""
        return 12.0 + vm.memory_mb / 1024.0 * (0.8 + unit(vm.seed, 31, int(t)) * 0.8)

    def drain(self) -> bool:
        """Suspend-ClusterNode -Drain: pause the node, live-migrate clustered VMs away one
        after the other. The whole schedule is fixed now, so ``cluster.drain_done_t`` says
        when it will have finished (what ``-Wait`` waits for)."""
        site = self._site()
        with site.acting() as t:
            if self.cluster is None or self.power != "up":
                return False
            targets = [h for h in self.site_hosts.values() if h is not self and h.cluster is not None
                       and h.cluster.name == self.cluster.name and h.cluster.node_state == "Up"
                       and h.power == "up"]
            self.cluster.node_state, self.cluster.drain_status = "Paused", "InProgress"
            movers = [vm for vm in self.vms if vm.is_clustered and vm.state == "Running"]
            if movers and not targets:
                self.cluster.drain_status, self.cluster.drain_done_t = "Failed", t
                return False
            cluster = self.cluster
            cluster.drained_away = [vm.id for vm in movers]
            start = t + 1.0
            for i, vm in enumerate(movers):
                seconds = self.migration_seconds(vm, start)
                site.at(start, action_calling(self.live_migrate, vm, targets[i % len(targets)], seconds))
                start += seconds + 1.0

            def completed(_t: float) -> None:
                if cluster.drain_status == "InProgress":
                    cluster.drain_status = "Completed"
            cluster.drain_done_t = start
            site.at(start, completed)
            return True

    def resume_node(self) -> None:
        """Resume-ClusterNode (no failback)."""
        with self._site().acting():
            if self.cluster is not None and self.power == "up":
                self.cluster.node_state, self.cluster.drain_status = "Up", "NotInitiated"
                self.cluster.drain_done_t = None

    def __repr__(self) -> str:
        return f"SimHost({self.name!r}, {self.build}.{self.ubr}, {self.power}, {len(self.vms)} VMs)"
