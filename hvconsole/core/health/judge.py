"""Judging one host's audit facts against the rules: pure, no I/O, no clock of its own.

``judge_host`` takes what ``audit.ps1`` read (:class:`~.facts.HostFacts`), the thresholds,
and an :class:`AuditContext` with what the console knows besides: the time, the host's
compliance with the update catalog, whether the host is in a maintenance window, and what
polling saw live (:class:`~.live.LiveView`). Every problem carries one evidence sentence
with the numbers that made it fire. Times taken from the host (checkpoint creation, last
backup) are compared with the host's own clock (``facts.host_time``), as is how long a merge
has been seen (audits stamp it with ``host_time``); how long a live run lasted comes measured
with the run (:class:`~.live.LiveVm`), never as the console's clock now minus its start: that
clock may have been stepped since (core.timeutil).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from ..compliance import NEEDS_UPDATE, Compliance
from .facts import Disk, HostFacts, VmFacts
from .live import LiveView
from .rules import CONSOLE, CRITICAL, HOST_BPA, INFO, SEVERITY_RANK, WARNING, Problem, rule
from .thresholds import HealthThresholds

# VMs Hyper-V starts when the host starts (Set-VM -AutomaticStartAction).
_START_WITH_HOST = ("Start",)
_START_IF_RUNNING = "StartIfRunning"
_BPA_SEVERITY = {"error": CRITICAL, "warning": WARNING, "information": INFO}


@dataclass(frozen=True, slots=True)
class AuditContext:
    # The console's clock when the check runs. No rule measures a duration with it: it may
    # have been stepped since the polls it would be compared with (core.timeutil).
    now: datetime
    compliance: Sequence[Compliance] = ()
    in_maintenance: bool = False
    live: LiveView | None = None


@dataclass(frozen=True, slots=True)
class HostJudgement:
    host: str
    problems: tuple[Problem, ...]
    skipped: tuple[str, ...] = field(default=())


def _mb(value: float) -> str:
    return f"{value:,.0f} MB"


def _gb(value_mb: float) -> str:
    return f"{value_mb / 1024:,.0f} GB" if value_mb >= 10240 else f"{value_mb / 1024:,.1f} GB"


def _ago(then: datetime, now: datetime) -> str:
    seconds = max(0.0, (now - then).total_seconds())
    if seconds >= 2 * 86400:
        return f"{seconds / 86400:.0f} days"
    if seconds >= 2 * 3600:
        return f"{seconds / 3600:.0f} hours"
    return f"{seconds / 60:.0f} minutes"


def _day(t: datetime) -> str:
    return t.strftime("%Y-%m-%d %H:%M UTC")


def _names(vms: Sequence[VmFacts], limit: int = 5) -> str:
    shown = ", ".join(v.name for v in vms[:limit])
    return shown + (f" and {len(vms) - limit} more" if len(vms) > limit else "")


def _version(text: str | None) -> tuple[int, ...] | None:
    try:
        return tuple(int(p) for p in (text or "").split(".")) or None
    except ValueError:
        return None


def _starts_with_host(vm: VmFacts) -> bool:
    return vm.automatic_start_action in _START_WITH_HOST or (
        vm.automatic_start_action == _START_IF_RUNNING and vm.running)


class _Findings:
    def __init__(self, host: str):
        self.host = host
        self.items: list[Problem] = []

    def add(self, rule_id: str, evidence: str, vm: VmFacts | None = None, *, severity: str | None = None) -> None:
        r = rule(rule_id)
        self.items.append(Problem(r.id, severity or r.severity, r.area, self.host, vm.id if vm else None,
                                  vm.name if vm else None, r.title, evidence, r.fix, r.source, CONSOLE))


def judge_host(host: str, facts: HostFacts, thresholds: HealthThresholds, context: AuditContext) -> HostJudgement:
    out = _Findings(host)
    skipped: list[str] = []
    t = thresholds
    if not facts.vm_query_ok:
        skipped.append(f"VM rules: the VM query failed on the host ({facts.vm_query_error or 'no reason given'})")
    for check in _HOST_CHECKS:
        check(facts, t, context, out)
    for vm in facts.vms:
        for vm_check in _VM_CHECKS:
            vm_check(vm, facts, t, context, out)
    _patching(facts, t, context, out, skipped)
    _bpa(facts, out, skipped)
    if context.live is None:
        skipped.append("memory-pressure: needs the console's live polling (not available to a one-off audit)")
    order = {"console": 0, "host-bpa": 1}
    problems = sorted(out.items, key=lambda p: (SEVERITY_RANK[p.severity], order[p.origin], p.vm_name or "",
                                                p.rule, p.evidence))
    return HostJudgement(host, tuple(problems), tuple(skipped))


# -- host-level rules ---------------------------------------------------------------------

def _cpu(facts: HostFacts, t: HealthThresholds, ctx: AuditContext, out: _Findings) -> None:
    lps = facts.logical_processors
    if not lps:
        return
    running = [vm for vm in facts.vms if vm.running and vm.vcpus]
    vcpus = sum(vm.vcpus or 0 for vm in running)
    if vcpus / lps > t.vcpus_per_lp:
        out.add("cpu-overcommit", f"{len(running)} running VMs have {vcpus} vCPUs on {lps} logical processors: "
                                  f"{vcpus / lps:.1f} per processor, above {t.vcpus_per_lp:g}.")


def _boot_memory(facts: HostFacts, t: HealthThresholds, ctx: AuditContext, out: _Findings) -> None:
    total = facts.memory_total_mb
    if not total:
        return
    starting = [vm for vm in facts.vms if _starts_with_host(vm) and vm.memory_startup_mb]
    need = sum(vm.memory_startup_mb or 0 for vm in starting)
    if facts.memory_reserve_mb is not None:
        reserve, how = facts.memory_reserve_mb, "the MemoryReserve set on the host"
    else:
        reserve = t.host_reserve_mb + total * t.host_reserve_pct / 100.0
        how = f"{_mb(t.host_reserve_mb)} + {t.host_reserve_pct:g} % host reserve"
    room = total - reserve
    if need > room:
        out.add("memory-overcommit-at-boot",
                f"{len(starting)} VMs start with the host and need {_mb(need)} of startup memory; the host has "
                f"{_mb(total)} minus {_mb(reserve)} ({how}) = {_mb(room)}, short by {_mb(need - room)}.")
    available = facts.memory_available_mb
    if available is not None and available / total * 100.0 < t.host_available_min_pct:
        out.add("host-memory-low", f"{_mb(available)} available of {_mb(total)} "
                                   f"({available / total * 100:.1f} %), below {t.host_available_min_pct:g} %.")


def _boot_storm(facts: HostFacts, t: HealthThresholds, ctx: AuditContext, out: _Findings) -> None:
    groups: dict[int, list[VmFacts]] = {}
    for vm in facts.vms:
        if _starts_with_host(vm):
            groups.setdefault(vm.automatic_start_delay_s or 0, []).append(vm)
    if not groups:
        return
    delay, vms = max(groups.items(), key=lambda kv: (len(kv[1]), -kv[0]))
    if len(vms) >= t.boot_storm_vms:
        out.add("boot-storm", f"{len(vms)} VMs start with the host after the same {delay} s delay, all at once: "
                              f"{_names(vms)} ({t.boot_storm_vms} or more at once is a storm).")


def _storage(facts: HostFacts, t: HealthThresholds, ctx: AuditContext, out: _Findings) -> None:
    by_volume: dict[str, list[tuple[VmFacts, Disk]]] = {}
    for vm in facts.vms:
        for disk in vm.disks:
            if disk.volume:
                by_volume.setdefault(disk.volume.casefold(), []).append((vm, disk))
    for volume in facts.volumes:
        disks = by_volume.get(volume.path.casefold())
        if not disks or not volume.size_mb or volume.free_mb is None:
            continue
        free, size = volume.free_mb, volume.size_mb
        pct = free / size * 100.0
        vm_count = len({vm.id for vm, _ in disks})
        if pct < t.volume_free_pct:
            severity = CRITICAL if free < t.paused_critical_free_mb else None
            out.add("volume-low-free", f"{volume.path} has {_gb(free)} free of {_gb(size)} ({pct:.1f} %), below "
                                       f"{t.volume_free_pct:g} %; it holds {len(disks)} virtual disks "
                                       f"of {vm_count} VMs.",
                    severity=severity)
        dynamic = [d for _, d in disks if (d.type or "").lower() == "dynamic" and d.size_mb]
        growth = sum(max(0.0, (d.size_mb or 0) - (d.file_size_mb or 0)) for d in dynamic)
        if dynamic and growth > free:
            maximum = sum(d.size_mb or 0 for d in dynamic)
            out.add("volume-overprovisioned",
                    f"the {len(dynamic)} dynamically expanding disks on {volume.path} may grow by {_gb(growth)} more "
                    f"(maximum {_gb(maximum)} in total); the volume has {_gb(free)} free.")


def _cluster_node(facts: HostFacts, t: HealthThresholds, ctx: AuditContext, out: _Findings) -> None:
    if not facts.clustered or ctx.in_maintenance:
        return
    drained = facts.drain_status in ("InProgress", "Completed")
    if facts.node_state == "Paused" or drained:
        out.add("node-paused-outside-maintenance",
                f"node {facts.computer_name} of cluster {facts.cluster_name or '?'} is {facts.node_state} "
                f"(drain {facts.drain_status or 'unknown'}) and no maintenance window covers it.")


_HOST_CHECKS: tuple[Callable[..., None], ...] = (_cpu, _boot_memory, _boot_storm, _storage, _cluster_node)


# -- per-VM rules -------------------------------------------------------------------------

def _vm_cpu(vm: VmFacts, facts: HostFacts, t: HealthThresholds, ctx: AuditContext, out: _Findings) -> None:
    nodes = [n.logical_processors for n in facts.numa_nodes if n.logical_processors]
    if vm.vcpus and nodes and vm.vcpus > max(nodes):
        out.add("vm-spans-numa", f"{vm.vcpus} vCPUs; the largest NUMA node of {len(nodes)} has "
                                 f"{max(nodes)} logical processors.", vm)


def _vm_memory(vm: VmFacts, facts: HostFacts, t: HealthThresholds, ctx: AuditContext, out: _Findings) -> None:
    if vm.dynamic_memory:
        high = vm.memory_maximum_mb
        total = facts.memory_total_mb
        limit = min(t.dm_unbounded_mb, total) if total else t.dm_unbounded_mb
        if high is not None and high >= limit:
            host = f"; the host has {_mb(total)}" if total else ""
            out.add("dm-unbounded-maximum", f"dynamic memory maximum {_mb(high)} (startup "
                                            f"{_mb(vm.memory_startup_mb or 0)}){host}.", vm)
        low = vm.memory_minimum_mb
        if low is not None and low < t.dm_min_floor_mb:
            out.add("dm-starved-minimum", f"dynamic memory minimum {_mb(low)}, below {_mb(t.dm_min_floor_mb)} "
                                          f"(startup {_mb(vm.memory_startup_mb or 0)}).", vm)
    live = ctx.live.vms.get(vm.id) if ctx.live is not None else None
    if live is not None and live.pressure_since is not None:
        lasted = live.pressure_s / 60.0
        if lasted >= t.pressure_minutes:
            out.add("memory-pressure", f"demand above assigned memory for {lasted:.0f} minutes since "
                                       f"{_day(live.pressure_since)} (up to {_mb(live.pressure_peak_mb)} short), "
                                       f"limit {t.pressure_minutes:g} minutes.", vm)


def _vm_checkpoints(vm: VmFacts, facts: HostFacts, t: HealthThresholds, ctx: AuditContext, out: _Findings) -> None:
    now = facts.host_time
    old = sorted((c for c in vm.checkpoints if c.created is not None
                  and (now - c.created).total_seconds() > t.checkpoint_age_days * 86400),
                 key=lambda c: c.created or now)
    if old:
        first = old[0]
        assert first.created is not None
        out.add("checkpoint-old", f"{len(old)} of {len(vm.checkpoints)} checkpoints older than "
                                  f"{t.checkpoint_age_days:g} days; the oldest, '{first.name}', was taken "
                                  f"{_day(first.created)} ({_ago(first.created, now)} ago).", vm)
    deepest = max((c.depth for c in vm.checkpoints), default=0)
    if deepest > t.checkpoint_depth:
        out.add("checkpoint-chain-deep", f"a chain of {deepest} checkpoints ({len(vm.checkpoints)} in all), "
                                         f"limit {t.checkpoint_depth}.", vm)
    standard = [c for c in vm.checkpoints if (c.type or "").lower() == "standard"]
    if standard:
        which = f"'{standard[0].name}'" if len(standard) == 1 else f"{len(standard)}, the first '{standard[0].name}'"
        out.add("checkpoint-standard", f"standard checkpoints on a server VM ({which}); new checkpoints are "
                                       f"{vm.checkpoint_type or 'of an unknown type'}.", vm)
    elif (vm.checkpoint_type or "").lower() == "standard":
        out.add("checkpoint-standard", "checkpoint type Standard: new checkpoints save memory state instead of "
                                       "using VSS in the guest.", vm)
    orphans = [d for d in vm.disks if d.path.lower().endswith(".avhdx") or d.path.lower().endswith(".avhd")]
    if orphans and not vm.checkpoints:
        out.add("checkpoint-merge-stuck", f"{len(orphans)} differencing disk(s) still attached ({orphans[0].path}) "
                                          "with no checkpoint left: a merge did not finish.", vm)
    else:
        live = ctx.live.vms.get(vm.id) if ctx.live is not None else None
        if live is not None and live.merge_since is not None:
            lasted = (now - live.merge_since).total_seconds() / 60.0
            if lasted >= t.merge_stuck_minutes:
                out.add("checkpoint-merge-stuck", f"a checkpoint merge in progress for {lasted:.0f} minutes since "
                                                  f"{_day(live.merge_since)}, limit {t.merge_stuck_minutes:g}.", vm)


def _vm_storage(vm: VmFacts, facts: HostFacts, t: HealthThresholds, ctx: AuditContext, out: _Findings) -> None:
    system = next((v.path for v in facts.volumes if v.is_system), None)
    drive = (facts.system_drive or "").rstrip("\\").casefold()
    on_system = [d for d in vm.disks
                 if (d.volume is not None and system is not None and d.volume.casefold() == system.casefold())
                 or (d.volume is None and drive and d.path.casefold().startswith(drive + "\\"))]
    if on_system:
        size = sum(d.size_mb or 0 for d in on_system)
        out.add("vhd-on-system-drive", f"{len(on_system)} virtual disk(s) on the system drive "
                                       f"{system or facts.system_drive}: {on_system[0].path} (up to {_gb(size)}).", vm)
    live = ctx.live.vms.get(vm.id) if ctx.live is not None else None
    if vm.state == "PausedCritical":
        out.add("paused-critical", f"state PausedCritical at {_day(facts.host_time)}.", vm)
    elif live is not None and live.paused_critical_at is not None:
        out.add("paused-critical", f"seen PausedCritical at {_day(live.paused_critical_at)}; it is {vm.state} now.", vm)


def _vm_integration(vm: VmFacts, facts: HostFacts, t: HealthThresholds, ctx: AuditContext, out: _Findings) -> None:
    if vm.running:
        off = [n for n, on in (("Heartbeat", vm.ic_heartbeat), ("Shutdown", vm.ic_shutdown)) if on is False]
        if off:
            out.add("ic-service-disabled", f"{' and '.join(off)} integration service disabled on a running VM.", vm)
    if (vm.ic_state or "").lower() == "updaterequired":
        version = f" (version {vm.ic_version})" if vm.ic_version else ""
        out.add("ic-out-of-date", f"the host reports integration services UpdateRequired{version}.", vm)


def _vm_start_stop(vm: VmFacts, facts: HostFacts, t: HealthThresholds, ctx: AuditContext, out: _Findings) -> None:
    if vm.automatic_stop_action == "TurnOff":
        out.add("stop-action-turnoff", f"automatic stop action TurnOff: when {facts.computer_name} shuts down the "
                                       f"VM loses what it had not written ({vm.state or 'state unknown'} now).", vm)


def _vm_versions(vm: VmFacts, facts: HostFacts, t: HealthThresholds, ctx: AuditContext, out: _Findings) -> None:
    mine, best = _version(vm.config_version), _version(facts.supported_config_version)
    if mine and best and mine < best:
        out.add("config-version-old", f"configuration version {vm.config_version}; the host's default is "
                                      f"{facts.supported_config_version}.", vm)
    if vm.generation == 1:
        out.add("generation-1", "generation 1 (BIOS firmware, emulated boot devices).", vm)


def _vm_cluster(vm: VmFacts, facts: HostFacts, t: HealthThresholds, ctx: AuditContext, out: _Findings) -> None:
    if facts.clustered and vm.is_clustered is False:
        out.add("vm-not-clustered", f"not a clustered role on cluster node {facts.computer_name} "
                                    f"(cluster {facts.cluster_name or '?'}): it does not fail over.", vm)


def _vm_backup(vm: VmFacts, facts: HostFacts, t: HealthThresholds, ctx: AuditContext, out: _Findings) -> None:
    # A VM that stays off changes nothing a backup would miss; templates and lab VMs are often off.
    if vm.state == "Off":
        return
    now = facts.host_time
    if vm.last_backup is None:
        out.add("backup-missing", "no successful backup recorded (LastSuccessfulBackupTime empty).", vm)
    elif (now - vm.last_backup).total_seconds() > t.backup_max_hours * 3600:
        out.add("backup-missing", f"last successful backup {_day(vm.last_backup)}, {_ago(vm.last_backup, now)} ago "
                                  f"(limit {t.backup_max_hours:g} hours).", vm)


_VM_CHECKS: tuple[Callable[..., None], ...] = (_vm_cpu, _vm_memory, _vm_checkpoints, _vm_storage, _vm_integration,
                                              _vm_start_stop, _vm_versions, _vm_cluster, _vm_backup)


# -- patching and the host's own BPA --------------------------------------------------------

def _patching(facts: HostFacts, t: HealthThresholds, ctx: AuditContext, out: _Findings, skipped: list[str]) -> None:
    for c in ctx.compliance:
        if c.status == NEEDS_UPDATE:
            out.add("host-below-target", f"{c.kb}: {c.reason}.")
    if facts.pending_reboot:
        since = facts.pending_reboot_since
        if since is None:
            skipped.append("pending-reboot-long: a reboot is pending but the host does not say since when")
        elif (facts.host_time - since).total_seconds() > t.pending_reboot_hours * 3600:
            out.add("pending-reboot-long", f"a reboot has been pending since {_day(since)} "
                                           f"({_ago(since, facts.host_time)}), limit {t.pending_reboot_hours:g} hours.")


def _bpa(facts: HostFacts, out: _Findings, skipped: list[str]) -> None:
    if not facts.bpa_available:
        skipped.append("host-bpa: "
                       + (facts.bpa_error or "the host has no Best Practices Analyzer results for Hyper-V"))
        return
    r = rule("host-bpa")
    for res in facts.bpa_results:
        severity = _BPA_SEVERITY.get((res.severity or "").lower())
        if severity is None:
            continue
        evidence = " ".join(x for x in (res.problem, res.impact) if x) or (res.title or "no text")
        source = "the host's Best Practices Analyzer (Microsoft/Windows/Hyper-V)" + (
            f", rule {res.rule_id}" if res.rule_id else "")
        out.items.append(Problem(r.id, severity, r.area, out.host, None, None, res.title or r.title, evidence,
                                 res.resolution or r.fix, source, HOST_BPA))


def count_by_severity(problems: Iterable[Problem]) -> dict[str, int]:
    counts = {CRITICAL: 0, WARNING: 0, INFO: 0}
    for p in problems:
        counts[p.severity] += 1
    return counts
