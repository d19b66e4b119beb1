"""Judging a host before anything is changed on it (pure: the answer of patch_preflight in,
problems and warnings out).

Problems stop the host before a single VM is touched: an account that is not a local
administrator, too little free disk, VMMS not running, a checkpoint merge in progress,
another cluster node not Up (draining onto a degraded cluster), an update that does not
target this build, a planned live migration that cannot work from a remote session.
Warnings are reported and the run goes on: a reboot already pending, VMs without a recent
backup (hyperv-notes §8), an update whose fix is scoped to hosts this one is not (the
catalog's ``applies_if``: installing a cumulative update is harmless, but not needed).

Live migration: ``Move-VM`` started inside a WinRM session makes a second hop to the
destination, which needs Kerberos constrained delegation for live migration; CredSSP
cannot be used remotely (windows-facts-checked; Microsoft's Move-ClusterVirtualMachineRole
page). The script checks every planned migration with ``Compare-VM -DestinationHost``,
which fails the same way and early; a failed check is a problem that names the choice:
fix the setup, or let the VM be saved or shut down for the reboot (the plan's VM handling:
the admin's consent, never a silent fallback).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from hvconsole.core.applicability import HostFacts, evaluate, scope_text
from hvconsole.core.catalog import CatalogUpdate
from hvconsole.core.enums import RUNNING_VM_STATES
from hvconsole.core.patch.plan import PatchPlan
from hvconsole.core.snapshot import Snapshot
from hvconsole.core.timeutil import parse_time

_RUNNING = RUNNING_VM_STATES


@dataclass
class PreflightVerdict:
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    build: int | None = None
    ubr: int | None = None
    target: str | None = None
    compliant: bool = False            # already at (or above) the target, nothing pending

    @property
    def version(self) -> str:
        return f"{self.build}.{self.ubr}"


def judge(doc: Mapping[str, Any], update: CatalogUpdate, *, required_free_mb: int,
          package_mb: float | None, backup_max_age_h: float, host_now: datetime | None) -> PreflightVerdict:
    v = PreflightVerdict()
    v.build, v.ubr = _int(doc.get("build")), _int(doc.get("ubr"))
    if doc.get("is_admin") is not True:
        v.problems.append("the account is not a local administrator on the host (installing needs it)")
    vmms = (doc.get("services") or {}).get("vmms")
    if vmms != "Running":
        v.problems.append(f"the Hyper-V management service (vmms) is {vmms or 'not installed'}, not Running")
    free = _num(doc.get("system_drive_free_mb"))
    if free is None:
        v.warnings.append("free space on the system drive is unknown")
    elif free < required_free_mb:
        v.problems.append(f"only {free:,.0f} MB free on the system drive; the update needs {required_free_mb:,} MB")
    staging_free = _num(doc.get("staging_drive_free_mb"))
    if package_mb is not None and staging_free is not None and staging_free < 2 * package_mb:
        v.problems.append(f"only {staging_free:,.0f} MB free for the package ({package_mb:,.0f} MB, "
                          "twice that is needed to unpack it)")
    vms = [vm for vm in doc.get("vms") or [] if isinstance(vm, Mapping)]
    for vm in vms:
        if vm.get("merging"):
            v.problems.append(f"VM {vm.get('name')!s}: a checkpoint merge is in progress; wait until it ends")
    cluster = doc.get("cluster")
    if isinstance(cluster, Mapping):
        for node in cluster.get("other_nodes") or []:
            if isinstance(node, Mapping) and node.get("state") != "Up":
                v.problems.append(f"cluster node {node.get('name')!s} is {node.get('state')!s}: draining onto a "
                                  "cluster that already lacks a node is not safe")
    target = update.target_for(v.build)
    if v.build is None or v.ubr is None:
        v.problems.append("the host did not report its build")
    elif target is None:
        builds = ", ".join(sorted({t.version for t in update.targets}))
        v.problems.append(f"{update.kb} is not applicable: it targets {builds}; this host runs {v.version}")
    else:
        v.target = target.version
        v.compliant = target.reached_by(v.build, v.ubr) and doc.get("pending_reboot") is not True
    v.problems.extend(migration_problems(doc.get("migration")))
    if v.target is not None and not v.compliant and update.applies_if:
        scope = evaluate(update.applies_if, HostFacts.from_preflight(doc))
        if scope.holds is False:
            v.warnings.append(f"{update.kb} is not needed here: {scope.reason} (its fix is for "
                              f"{scope_text(update.applies_if)}); installing it anyway is harmless")
    if doc.get("pending_reboot"):
        reasons = ", ".join(str(r) for r in doc.get("pending_reboot_reasons") or []) or "reason not given"
        v.warnings.append(f"a reboot is already pending ({reasons}); the patch reboot will complete it")
    stale = _without_recent_backup(vms, backup_max_age_h, host_now)
    if stale:
        v.warnings.append(f"{len(stale)} running VM(s) without a backup in the last {backup_max_age_h:g} h: "
                          + ", ".join(stale[:10]) + (" …" if len(stale) > 10 else ""))
    return v


def planned_live_migrations(plan: PatchPlan, snap: Snapshot) -> list[dict[str, str]]:
    """The ``live_migrations`` parameter of patch_preflight: every running VM the plan would
    live-migrate (the script itself skips clustered ones: the node drain moves those)."""
    wanted = []
    for vm in snap.vms if snap.reachable else ():
        handling = plan.handling_for(vm.id)
        if vm.state in _RUNNING and handling.action == "live-migrate" and handling.destination:
            wanted.append({"id": vm.id, "destination": handling.destination})
    return wanted


SECOND_HOP_HINT = ("from a remote session a live migration needs Kerberos with constrained delegation "
                   "between the hosts (CredSSP cannot be used remotely)")


def migration_problems(migration: object) -> list[str]:
    """One plain sentence per planned live migration that cannot work, naming the choice."""
    if not isinstance(migration, Mapping):
        return []
    auth = migration.get("authentication")
    problems = []
    for check in migration.get("checks") or []:
        if not isinstance(check, Mapping) or check.get("ok") is True:
            continue
        vm = check.get("name") or check.get("id")
        dest = check.get("destination")
        if migration.get("enabled") is False:
            why, hint = str(check.get("error") or "live migration is disabled"), \
                "enable live migration on the host (Enable-VMMigration)"
        elif auth == "CredSSP":
            why = str(check.get("error") or "the check did not pass")
            hint = ("the host authenticates live migrations with CredSSP, which cannot be used from a remote "
                    "session; switch it to Kerberos with constrained delegation")
        elif check.get("error"):
            why, hint = str(check["error"]), SECOND_HOP_HINT
        else:   # Compare-VM answered: the destination cannot take this VM as it is
            why = "Compare-VM reports: " + ("; ".join(str(i) for i in check.get("incompatibilities") or [])
                                            or "not compatible")
            hint = "a VM on local storage also needs its storage moved, which the drain does not do"
        problems.append(f"VM {vm!s} cannot be live-migrated to {dest!s} from the console: {why} "
                        f"({hint}). Fix the migration setup, or choose save or shut down for this VM "
                        "(it will then be off during the reboot)")
    return problems


def _without_recent_backup(vms: list[Mapping[str, Any]], max_age_h: float, now: datetime | None) -> list[str]:
    if now is None:
        return []
    oldest = now - timedelta(hours=max_age_h)
    stale = []
    for vm in vms:
        if vm.get("state") not in _RUNNING:
            continue
        try:
            last = parse_time(vm["last_backup"]) if vm.get("last_backup") else None
        except ValueError:
            last = None
        if last is None or last < oldest:
            stale.append(str(vm.get("name")))
    return stale


def _int(value: Any) -> int | None:
    try:
        return None if value is None or isinstance(value, bool) else int(value)
    except (TypeError, ValueError):
        return None


def _num(value: Any) -> float | None:
    try:
        return None if value is None or isinstance(value, bool) else float(value)
    except (TypeError, ValueError):
        return None
