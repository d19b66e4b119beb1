"""The simulated answer of ``audit.ps1`` (the health check's read of a host's configuration),
registered with the host agent under the script name ``audit``.

It reads the same model the collect answer does (``vm.sample``, ``host.resources``) plus the
configuration fields the health check needs (``SimHost``/``SimVM`` "configuration the health
check reads"), and mirrors the script's parameters, clamps, bounded VM query and quirks:
Get-HotFix gives the day an update was installed, not the time; a wedged VMMS makes the VM
part time out and the rest still answers.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from hvconsole.core.timeutil import format_time

from ..model.host import CONFIG_VERSIONS, SimHost, SimVolume
from ..model.load import jitter
from ..model.vm import SimDisk, SimVM
from .collect import _int_param, ps_json
from .host_agent import ScriptAnswer, register_script_handler

# Defaults and bounds as audit.ps1's Get-IntParam applies them.
VM_QUERY_TIMEOUT_MS = (60000, 1000, 300000)
MAX_CHECKPOINTS = (50, 0, 500)
SYSTEM_VOLUME_MB = 240 * 1024.0


def system_volume(host: SimHost, t: float, samples: list[dict[str, Any]]) -> SimVolume:
    free = host.resources(t, samples)["system_drive_free_mb"] or 0.0
    return SimVolume("C:\\", SYSTEM_VOLUME_MB, max(0.0, float(free)), "System", True)


def vm_disks(vm: SimVM, host: SimHost) -> list[SimDisk]:
    if vm.disks is not None:
        return vm.disks
    return [SimDisk(f"{host.data_volume.path}Hyper-V\\{vm.name}\\{vm.name}.vhdx")]


def _volume_of(path: str, volumes: list[SimVolume]) -> str | None:
    """The mount path of the volume holding ``path``: the longest matching mount path, as
    the script does (a CSV under C:\\ClusterStorage is not the system drive)."""
    matches = [v.path for v in volumes if path.casefold().startswith(v.path.casefold())]
    return max(matches, key=len) if matches else None


def audit_document(host: SimHost, params: Mapping[str, Any], t: float) -> tuple[dict[str, Any], float]:
    site = host.site
    assert site is not None
    query_timeout = _int_param(params, "vm_query_timeout_ms", *VM_QUERY_TIMEOUT_MS)
    max_checkpoints = _int_param(params, "max_checkpoints", *MAX_CHECKPOINTS)
    skew = host.clock_skew_s

    def host_time(t_: float | None) -> str | None:
        return None if t_ is None else format_time(site.time_of(t_ + skew))

    samples = [vm.sample(t) for vm in host.vms]
    resources = host.resources(t, samples)
    volumes = [system_volume(host, t, samples), host.data_volume]
    problem = host.vm_query_problem(t)
    vm_count = len(host.vms)
    if problem is None:
        elapsed = int((120 + 25 * vm_count) * jitter(host.seed ^ 61, t, 0.8, 1.4, grain_s=0.5) * host.slow_factor)
        query: dict[str, object] = {"ok": True, "elapsed_ms": elapsed, "error": None}
        vms = [_vm(vm, s, host, volumes, t, max_checkpoints, host_time)
               for vm, s in zip(host.vms, samples, strict=True)]
    elif problem == "wedged":
        elapsed = query_timeout + int(jitter(host.seed ^ 62, t, 1, 25, grain_s=0.5))
        query = {"ok": False, "elapsed_ms": elapsed, "error": f"timeout after {query_timeout} ms"}
        vms = []
    else:
        elapsed = int(jitter(host.seed ^ 63, t, 180, 420))
        query = {"ok": False, "elapsed_ms": elapsed,
                 "error": "Get-VM: the Virtual Machine Management service on the computer is not running"}
        vms = []
    used = {d["volume"] for v in vms for d in v["disks"] if d["volume"]}
    seconds = max(0.35 * host.slow_factor, elapsed / 1000.0 + 0.05)
    lps = host.logical_processors
    nodes = max(1, host.numa_nodes)
    pending_since = None
    if host.pending:
        first = site.time_of(min(p.installed_t for p in host.pending) + skew)
        pending_since = format_time(datetime(first.year, first.month, first.day, tzinfo=UTC))
    doc = {
        "audit_version": 1,
        "host_time": host_time(t),
        "audit_ms": int(seconds * 1000),
        "host": {
            "computer_name": host.name.upper(),
            "os": {"product": host.product, "build": host.build, "ubr": host.ubr,
                   "last_boot": host_time(host.last_boot_t), "pending_reboot": host.pending_reboot,
                   "pending_reboot_since": pending_since},
            "logical_processors": lps,
            "numa_nodes": [{"node": i, "logical_processors": lps // nodes,
                            "memory_mb": round(host.memory_total_mb / nodes, 1)} for i in range(nodes)],
            "memory_total_mb": resources["memory_total_mb"],
            "memory_available_mb": resources["memory_available_mb"],
            "memory_reserve_mb": host.memory_reserve_mb,
            "system_drive": "C:",
            "supported_config_version": CONFIG_VERSIONS.get(host.build, "10.0"),
            "volumes": [{"path": v.path, "label": v.label, "size_mb": round(v.size_mb, 1),
                         "free_mb": round(v.free_mb, 1), "is_system": v.is_system}
                        for v in volumes if v.is_system or v.path in used],
            "cluster": None if host.cluster is None else {
                "name": host.cluster.name, "node_state": host.cluster.node_state,
                "drain_status": host.cluster.drain_status},
        },
        "vm_query": query,
        "vms": vms,
        "bpa": ({"available": True, "error": None, "results": [dict(r) for r in host.bpa_results]}
                if host.bpa_available else
                {"available": False, "results": [],
                 "error": "Get-BpaResult: no Best Practices Analyzer results for Microsoft/Windows/Hyper-V "
                          "on this host (Invoke-BpaModel has not been run)"}),
        "warnings": [],
    }
    return doc, seconds


def _vm(vm: SimVM, sample: dict[str, Any], host: SimHost, volumes: list[SimVolume], t: float,
        max_checkpoints: int, host_time: Callable[[float | None], str | None]) -> dict[str, Any]:
    checkpoints = [{"name": c.name, "created": host_time(c.created_t), "depth": c.depth, "type": c.type}
                   for c in vm.checkpoint_tree]
    # Checkpoints counted by the patch scenarios (``vm.checkpoints``) but not described:
    # a chain taken an hour ago, of the VM's checkpoint type.
    for i in range(max(0, vm.checkpoints - len(checkpoints))):
        checkpoints.append({"name": f"{vm.name} - checkpoint {i + 1}", "created": host_time(t - 3600.0),
                            "depth": i + 1, "type": vm.checkpoint_type})
    disks = [{"path": d.path, "type": d.type, "size_mb": d.size_mb, "file_size_mb": d.file_size_mb,
              "volume": _volume_of(d.path, volumes)} for d in vm_disks(vm, host)]
    dynamic = vm.dynamic_memory
    minimum = vm.memory_min_mb if vm.memory_min_mb is not None else max(1024, vm.memory_mb // 4)
    return {
        "id": vm.id, "name": vm.name, "state": sample["state"], "generation": vm.generation,
        "config_version": vm.config_version or CONFIG_VERSIONS.get(host.build, "10.0"),
        "vcpus": vm.vcpus, "memory_startup_mb": vm.memory_mb, "dynamic_memory": dynamic,
        "memory_minimum_mb": minimum if dynamic else vm.memory_mb,
        "memory_maximum_mb": vm.memory_max_mb if dynamic else vm.memory_mb,
        "memory_assigned_mb": sample["memory_assigned_mb"], "memory_demand_mb": sample["memory_demand_mb"],
        "automatic_start_action": vm.automatic_start_action,
        "automatic_start_delay_s": vm.automatic_start_delay_s,
        "automatic_stop_action": vm.automatic_stop_action,
        "checkpoint_type": vm.checkpoint_type,
        "checkpoints": checkpoints[:max_checkpoints],
        "merge_in_progress": vm.merging,
        "integration_services": {"heartbeat": vm.ic_heartbeat_enabled, "shutdown": vm.ic_shutdown_enabled,
                                 "state": vm.ic_state,
                                 "version": None if vm.ic_state is None else f"10.0.{host.build}"},
        "disks": disks,
        "is_clustered": vm.is_clustered,
        "last_backup": host_time(sample.get("last_backup_t")),
    }


def handle_audit(host: SimHost, params: Mapping[str, Any], now: datetime) -> ScriptAnswer:
    """The registered handler for ``audit.ps1``."""
    site = host.site
    assert site is not None
    doc, seconds = audit_document(host, params, site.t_of(now))
    return ScriptAnswer(stdout=ps_json(doc).encode("utf-8"), stderr=b"", exit_code=0, duration_s=seconds)


register_script_handler("audit", handle_audit)
