"""The health check's simulated sites: a well-set site, each misconfiguration on its own,
and the few the demo carries on purpose.

:func:`build_well_set_site` is what every rule must stay silent on: a standalone host and a
two-node cluster, VMs with bounded dynamic memory, production checkpoints (none old),
staggered automatic starts, graceful stop actions, current versions, nightly backups, disks
on data volumes with room to grow. ``MISCONFIGURATIONS[rule_id]`` takes that site and breaks
exactly one thing, returning where the problem must show (host, VM name or None).
:func:`configure_demo_health` gives the demo site its deliberate problems.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from hvconsole.core.guid import guid4

from ..model.clock import SimClock
from ..model.host import SimHost
from ..model.load import LoadProfile
from ..model.site import SimSite
from ..model.vm import SimCheckpoint, SimDisk, SimVM

DAY = 86400.0
APP = LoadProfile(20, 10, 1.0)

# name, host, vcpus, memory MB, dynamic
_WELL_SET_VMS = (
    ("OK-DC01", "GOOD01", 2, 4096, True), ("OK-SQL01", "GOOD01", 8, 32768, False),
    ("OK-WEB01", "GOOD01", 4, 8192, True), ("OK-FS01", "GOOD01", 2, 8192, True),
    ("OK-APP01", "GOODN1", 4, 16384, False), ("OK-APP02", "GOODN1", 4, 16384, True),
    ("OK-RDS01", "GOODN2", 8, 32768, True), ("OK-WEB02", "GOODN2", 4, 8192, True),
)


def build_well_set_site(clock: SimClock | None = None, seed: int = 7) -> SimSite:
    """A site on which no health rule fires (see the module text)."""
    site = SimSite(clock or SimClock.manual(), seed=seed, name="well-set")
    site.add_host(SimHost("GOOD01", build=20348, ubr=3695, hotfixes=("KB5061906",), logical_processors=32,
                          memory_total_mb=262144))
    for node in ("GOODN1", "GOODN2"):
        site.add_host(SimHost(node, build=26100, ubr=4656, hotfixes=("KB5062553",), logical_processors=64,
                              memory_total_mb=524288, cluster="GOODCL"))
    rng = site.rng("well-set")
    for i, (name, host, vcpus, memory, dynamic) in enumerate(_WELL_SET_VMS):
        h = site.host(host)
        vm = SimVM(name, guid4(rng.getrandbits(128)), vcpus=vcpus, memory_mb=memory,
                   dynamic_memory=dynamic, load=APP, automatic_stop_action="ShutDown",
                   backup_hour=22.0 + (i % 3) * 0.5, is_clustered=h.cluster is not None, uptime_s=5 * DAY)
        vm.automatic_start_delay_s = 30 * (len(h.vms) + 1)
        h.add_vm(vm)
    return site


@dataclass(frozen=True)
class Misconfiguration:
    rule: str
    what: str
    apply: Callable[[SimSite], tuple[str, str | None]]    # -> (host, VM name or None)
    live_minutes: float = 0.0      # the rule needs this much live polling first


def _vm(site: SimSite, name: str) -> SimVM:
    return site.vm(name)


def _overcommit_cpu(site: SimSite) -> tuple[str, str | None]:
    site.host("GOOD01").logical_processors = 2          # 16 vCPUs on 2 LPs: 8:1 ... and above
    _vm(site, "OK-FS01").vcpus = 4
    return "GOOD01", None


def _spans_numa(site: SimSite) -> tuple[str, str | None]:
    _vm(site, "OK-SQL01").vcpus = 24                    # 2 nodes of 16 LPs
    return "GOOD01", "OK-SQL01"


def _boot_memory(site: SimSite) -> tuple[str, str | None]:
    site.host("GOOD01").memory_total_mb = 49152         # 48 GB for 52 GB of startup memory
    return "GOOD01", None


def _host_memory_low(site: SimSite) -> tuple[str, str | None]:
    h = site.host("GOOD01")
    h.memory_total_mb = 57344                           # VMs take almost all of it
    h.memory_reserve_mb = 1024.0                        # an admin lowered the reserve to make them fit
    return "GOOD01", None


def _dm_unbounded(site: SimSite) -> tuple[str, str | None]:
    _vm(site, "OK-WEB01").memory_max_mb = 1048576
    return "GOOD01", "OK-WEB01"


def _dm_starved(site: SimSite) -> tuple[str, str | None]:
    _vm(site, "OK-DC01").memory_min_mb = 256
    return "GOOD01", "OK-DC01"


def _pressure(site: SimSite) -> tuple[str, str | None]:
    vm = _vm(site, "OK-WEB01")
    vm.memory_max_mb = vm.memory_mb // 2                # demand is always above what it may get
    return "GOOD01", "OK-WEB01"


def _checkpoint_old(site: SimSite) -> tuple[str, str | None]:
    _vm(site, "OK-SQL01").checkpoint_tree.append(SimCheckpoint("before CU22", -40 * DAY))
    return "GOOD01", "OK-SQL01"


def _checkpoint_deep(site: SimSite) -> tuple[str, str | None]:
    vm = _vm(site, "OK-APP01")
    vm.checkpoint_tree.extend(SimCheckpoint(f"step {i}", -3600.0 * (6 - i), depth=i) for i in range(1, 6))
    return "GOODN1", "OK-APP01"


def _checkpoint_standard(site: SimSite) -> tuple[str, str | None]:
    _vm(site, "OK-WEB02").checkpoint_type = "Standard"
    return "GOODN2", "OK-WEB02"


def _merge_stuck(site: SimSite) -> tuple[str, str | None]:
    vm = _vm(site, "OK-FS01")
    base = f"D:\\Hyper-V\\{vm.name}\\{vm.name}"
    vm.disks = [SimDisk(f"{base}_8D1C2E7A-3F4B-4C5D-9E6F-0A1B2C3D4E5F.avhdx", "Differencing", 130048.0, 20480.0)]
    return "GOOD01", "OK-FS01"


def _vhd_on_system(site: SimSite) -> tuple[str, str | None]:
    vm = _vm(site, "OK-DC01")
    vm.disks = [SimDisk(f"C:\\ProgramData\\Microsoft\\Windows\\Virtual Hard Disks\\{vm.name}.vhdx", "Dynamic",
                        130048.0, 30720.0)]
    return "GOOD01", "OK-DC01"


def _volume_low(site: SimSite) -> tuple[str, str | None]:
    v = site.host("GOOD01").data_volume
    v.free_mb = v.size_mb * 0.06
    return "GOOD01", None


def _overprovisioned(site: SimSite) -> tuple[str, str | None]:
    v = site.host("GOODN1").data_volume
    v.size_mb, v.free_mb = 1048576.0, 131072.0          # 1 TB, 128 GB free (12.5 %): above the free line
    for vm in site.host("GOODN1").vms:
        vm.disks = [SimDisk(f"{v.path}{vm.name}\\{vm.name}.vhdx", "Dynamic", 512000.0, 102400.0)]
    return "GOODN1", None


def _paused_critical(site: SimSite) -> tuple[str, str | None]:
    _vm(site, "OK-APP02").storage_full_pause()
    return "GOODN1", "OK-APP02"


def _ic_disabled(site: SimSite) -> tuple[str, str | None]:
    _vm(site, "OK-RDS01").ic_shutdown_enabled = False
    return "GOODN2", "OK-RDS01"


def _ic_old(site: SimSite) -> tuple[str, str | None]:
    _vm(site, "OK-APP01").ic_state = "UpdateRequired"
    return "GOODN1", "OK-APP01"


def _turnoff(site: SimSite) -> tuple[str, str | None]:
    _vm(site, "OK-WEB02").automatic_stop_action = "TurnOff"
    return "GOODN2", "OK-WEB02"


def _boot_storm(site: SimSite) -> tuple[str, str | None]:
    for vm in site.host("GOOD01").vms:
        vm.automatic_start_delay_s = 0
    return "GOOD01", None


def _config_old(site: SimSite) -> tuple[str, str | None]:
    _vm(site, "OK-APP02").config_version = "9.0"
    return "GOODN1", "OK-APP02"


def _gen1(site: SimSite) -> tuple[str, str | None]:
    _vm(site, "OK-FS01").generation = 1
    return "GOOD01", "OK-FS01"


def _not_clustered(site: SimSite) -> tuple[str, str | None]:
    _vm(site, "OK-WEB02").is_clustered = False
    return "GOODN2", "OK-WEB02"


def _node_paused(site: SimSite) -> tuple[str, str | None]:
    cluster = site.host("GOODN2").cluster
    assert cluster is not None
    cluster.node_state = "Paused"                      # Suspend-ClusterNode, forgotten
    return "GOODN2", None


def _backup(site: SimSite) -> tuple[str, str | None]:
    _vm(site, "OK-SQL01").backup_hour = None
    return "GOOD01", "OK-SQL01"


def _below_target(site: SimSite) -> tuple[str, str | None]:
    h = site.host("GOOD01")
    h.ubr, h.hotfixes = 3692, ["KB5058385"]             # the regressed build, fix not installed
    _vm(site, "OK-SQL01").confidential = True           # KB5061906's scope: confidential VMs
    return "GOOD01", None


def _pending_long(site: SimSite) -> tuple[str, str | None]:
    h = site.host("GOOD01")
    h.install_update("KB5066782", ubr=3700)
    h.pending[-1].installed_t = site.t - 3 * DAY      # installed three days ago, never restarted
    return "GOOD01", None


def _host_bpa(site: SimSite) -> tuple[str, str | None]:
    h = site.host("GOODN1")
    h.bpa_available = True
    h.bpa_results = [BPA_EXAMPLE]
    return "GOODN1", None


# A Get-BpaResult object of the Hyper-V model as the script reduces it (non-compliant only).
BPA_EXAMPLE = {
    "rule_id": 31, "severity": "Warning", "category": "Configuration",
    "title": "Use RAM that provides error correction",
    "problem": "The RAM in use on this computer is not error-correcting (ECC) RAM.",
    "impact": "Microsoft does not support Hyper-V on computers without ECC RAM.",
    "resolution": "Use ECC RAM on this computer.",
}

MISCONFIGURATIONS: dict[str, Misconfiguration] = {m.rule: m for m in (
    Misconfiguration("cpu-overcommit", "two logical processors for the host's VMs", _overcommit_cpu),
    Misconfiguration("vm-spans-numa", "a 24-vCPU VM on 16-processor NUMA nodes", _spans_numa),
    Misconfiguration("memory-overcommit-at-boot", "48 GB of host memory for 52 GB of startup memory", _boot_memory),
    Misconfiguration("host-memory-low", "a host whose VMs take all but a few GB", _host_memory_low),
    Misconfiguration("dm-unbounded-maximum", "dynamic memory maximum left at 1 TB", _dm_unbounded),
    Misconfiguration("dm-starved-minimum", "dynamic memory minimum 256 MB", _dm_starved),
    Misconfiguration("memory-pressure", "dynamic memory maximum half the startup memory", _pressure,
                     live_minutes=40.0),
    Misconfiguration("checkpoint-old", "a 40-day-old checkpoint", _checkpoint_old),
    Misconfiguration("checkpoint-chain-deep", "a chain of five checkpoints", _checkpoint_deep),
    Misconfiguration("checkpoint-standard", "checkpoint type Standard", _checkpoint_standard),
    Misconfiguration("checkpoint-merge-stuck", "an .avhdx attached with no checkpoint left", _merge_stuck),
    Misconfiguration("vhd-on-system-drive", "a virtual disk under C:\\ProgramData", _vhd_on_system),
    Misconfiguration("volume-low-free", "6 % free on the VM volume", _volume_low),
    Misconfiguration("volume-overprovisioned", "500 GB dynamic disks on a 1 TB volume", _overprovisioned),
    Misconfiguration("paused-critical", "a VM paused because its volume filled up", _paused_critical),
    Misconfiguration("ic-service-disabled", "the Shutdown integration service disabled", _ic_disabled),
    Misconfiguration("ic-out-of-date", "integration services UpdateRequired", _ic_old),
    Misconfiguration("stop-action-turnoff", "automatic stop action TurnOff", _turnoff),
    Misconfiguration("boot-storm", "every VM starting with no delay", _boot_storm),
    Misconfiguration("config-version-old", "configuration version 9.0 on a 12.0 host", _config_old),
    Misconfiguration("generation-1", "a generation 1 VM", _gen1),
    Misconfiguration("vm-not-clustered", "a VM on a cluster node that is not a clustered role", _not_clustered),
    Misconfiguration("node-paused-outside-maintenance", "a node left paused", _node_paused),
    Misconfiguration("backup-missing", "a VM no backup job covers", _backup),
    Misconfiguration("host-below-target", "a host on the regressed build", _below_target),
    Misconfiguration("pending-reboot-long", "an update installed three days ago, no restart", _pending_long),
    Misconfiguration("host-bpa", "the host's own BPA reports non-ECC memory", _host_bpa),
)}


# -- the demo ------------------------------------------------------------------------------

def configure_demo_health(site: SimSite) -> None:
    """The demo's deliberate misconfigurations (beside what the demo already has: build
    agents and appliances with TurnOff, generation 1 appliances, VMs no backup covers, HV01
    on the regressed build), so that a new user sees the health check working. Only
    configuration the health check reads is touched: polling and patching see no change."""
    for host in site.hosts.values():
        if host.name != "HV02":                       # HV02 keeps Hyper-V's default: no delays
            for i, vm in enumerate(host.vms):
                vm.automatic_start_delay_s = 30 * i
    if "HV01" in site.hosts:
        site.vm("SQL-PROD-01").checkpoint_tree.append(
            SimCheckpoint("Before SQL CU upgrade", -45 * DAY, type="Standard"))
        site.vm("WEB-01").memory_max_mb = 1048576     # Hyper-V Manager's default maximum
    if "HV02" in site.hosts:
        fs = site.vm("FS-Büro-01")
        fs.disks = [SimDisk(f"C:\\Users\\Public\\Documents\\Hyper-V\\Virtual hard disks\\{fs.name}.vhdx")]
        site.vm("EXCH-02").ic_shutdown_enabled = False
        site.vm("RDS-01").memory_min_mb = 512
        data = site.host("HV02").data_volume
        data.free_mb = data.size_mb * 0.07
    if "HV03" in site.hosts:
        site.vm("APP-ERP-01").config_version = "9.0"
        hv03 = site.host("HV03")
        hv03.bpa_available = True
        hv03.bpa_results = [BPA_EXAMPLE]
    if "HV04" in site.hosts:
        site.vm("LAB-DC-01").is_clustered = False
