"""The per-host steps of a patch run and the pure decisions between them.

Each step is idempotent and checks reality before acting; what is decidable without a
network lives here so that it is tested without one: which step comes next from the
journal, what each VM's state was *before* maintenance (taken from the first drain intent,
never re-read after the console itself saved or stopped VMs), what restoring them takes,
what an installer exit code means, and whether a host is proven fixed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from ..catalog import BuildTarget
from ..enums import RUNNING_VM_STATES
from ..snapshot import Snapshot, VmSample
from .journal import StepRecord
from .vocabulary import COMPLETED_OUTCOMES, STEP_ORDER, Step, StepOutcome

STEPS = STEP_ORDER


def next_step(records: Sequence[StepRecord]) -> Step | None:
    """The first step of the sequence without an ``ok`` (or ``skipped``) outcome for this
    host. An in-flight step (intent, no outcome) is returned too: its implementation
    re-reads the host and finishes or repeats it."""
    done = {r.step for r in records if r.outcome in COMPLETED_OUTCOMES}
    for step in STEPS:
        if step not in done:
            return step
    return None


@dataclass(frozen=True, slots=True)
class PriorVm:
    id: str
    name: str
    state: str


def prior_vm_states(records: Iterable[StepRecord]) -> dict[str, PriorVm]:
    """VM states before maintenance: from the *first* drain intent for the host. A later
    attempt would see the VMs the console already saved as Saved and restore them wrongly."""
    for r in records:
        if r.step == Step.DRAIN:
            return {v["id"]: PriorVm(v["id"], v["name"], v["state"]) for v in r.intent.get("vms", [])}
    return {}


@dataclass(frozen=True, slots=True)
class RestoreAction:
    vm_id: str
    name: str
    action: str          # start | resume | none
    reason: str


# States from which "Start-VM" brings a VM back to Running (a saved VM resumes from its
# saved state; an off VM boots).
_STARTABLE = frozenset({"Off", "Saved", "FastSaved", "Hibernated"})


def restore_actions(prior: Mapping[str, PriorVm], current: Iterable[VmSample]) -> list[RestoreAction]:
    """What it takes to put every VM back in its pre-maintenance state."""
    now = {vm.id: vm for vm in current}
    actions = []
    for vm_id, before in prior.items():
        vm = now.get(vm_id)
        if vm is None:
            actions.append(RestoreAction(vm_id, before.name, "none",
                                         f"not on this host any more (was {before.state}); check where it went"))
            continue
        if before.state in RUNNING_VM_STATES:
            if vm.state == "Running":
                actions.append(RestoreAction(vm_id, before.name, "none", "running as before"))
            elif vm.state == "Paused":
                actions.append(RestoreAction(vm_id, before.name, "resume", "paused, was running"))
            elif vm.state in _STARTABLE:
                actions.append(RestoreAction(vm_id, before.name, "start", f"{vm.state}, was running"))
            else:
                actions.append(RestoreAction(vm_id, before.name, "none",
                                             f"{vm.state} (in transition); check again before deciding"))
        else:
            # Off, Saved, Paused before: the console leaves it as it was found.
            same = vm.state == before.state
            actions.append(RestoreAction(vm_id, before.name, "none",
                                         "as before" if same else f"{vm.state}, was {before.state}: left alone"))
    return actions


def vms_not_restored(prior: Mapping[str, PriorVm], current: Iterable[VmSample]) -> list[str]:
    """Names of VMs NOT back in their pre-maintenance state (empty list = all restored).
    A VM that was running in a critical state counts as restored when it runs normally."""
    now = {vm.id: vm.state for vm in current}
    expected = {vm_id: "Running" if b.state == "RunningCritical" else b.state for vm_id, b in prior.items()}
    return [prior[vm_id].name for vm_id, state in expected.items() if now.get(vm_id) != state]


@dataclass(frozen=True, slots=True)
class InstallResult:
    outcome: StepOutcome
    meaning: str
    needs_reboot: bool
    already: bool = False


def interpret_exit_code(code: int) -> InstallResult:
    """Installer exit codes compared as unsigned 32-bit (hyperv-notes §7)."""
    u = code & 0xFFFFFFFF
    table = {
        # DISM /NoRestart still needs the reboot to change the UBR
        0: InstallResult(StepOutcome.OK, "installed", needs_reboot=True),
        3010: InstallResult(StepOutcome.OK, "installed, reboot required", needs_reboot=True),
        1641: InstallResult(StepOutcome.OK, "installed, reboot initiated by the installer", needs_reboot=True),
        0x00240006: InstallResult(StepOutcome.OK, "already installed", needs_reboot=False, already=True),
        0x80240017: InstallResult(StepOutcome.FAILED, "not applicable to this host (0x80240017)", needs_reboot=False),
        0x800F081E: InstallResult(StepOutcome.FAILED, "package not applicable (DISM 0x800F081E)", needs_reboot=False),
        0x80070005: InstallResult(StepOutcome.FAILED, "access denied (0x80070005)", needs_reboot=False),
        0x800F0922: InstallResult(StepOutcome.FAILED, "servicing failure (0x800F0922): see CBS.log on the host",
                                  needs_reboot=False),
        0x80073712: InstallResult(StepOutcome.FAILED, "component store corrupt (0x80073712): see CBS.log",
                                  needs_reboot=False),
    }
    unknown = InstallResult(StepOutcome.FAILED, f"installer failed with exit code {u} (0x{u:08X})", needs_reboot=False)
    return table.get(u, unknown)


@dataclass(frozen=True, slots=True)
class Verification:
    fixed: bool
    checks: tuple[tuple[str, bool, str], ...]    # (check, passed, detail)


def verify_fixed(after: Snapshot, target: BuildTarget, kb: str, install_started: datetime | None) -> Verification:
    """Proof of fix: booted after the install started, build at or above the target, nothing
    pending, vmms running; the KB in Get-HotFix is recorded as supporting evidence only.

    ``install_started`` must be on the **host's** clock (the install task's ``started_at`` as
    the host reported it), because ``last_boot`` is: comparing with the console's clock would
    fail a host whose clock runs behind (a workgroup host without time sync). ``None`` means
    nothing was installed in this run (the host already ran the target build): there is no
    reboot to prove."""
    checks: list[tuple[str, bool, str]] = []
    if not after.reachable or after.os is None:
        return Verification(False, (("reachable", False, after.error.message if after.error else "no data"),))
    os_info = after.os
    if install_started is None:
        checks.append(("rebooted after install", True,
                       "not needed: no install in this run, the host already ran the target build"))
    else:
        booted = os_info.last_boot is not None and os_info.last_boot > install_started
        checks.append(("rebooted after install", booted,
                       f"last boot {os_info.last_boot.isoformat() if os_info.last_boot else 'unknown'}, "
                       f"install started {install_started.isoformat()}"))
    build_ok = target.reached_by(os_info.build, os_info.ubr)
    checks.append(("build at target", build_ok, f"running {os_info.build}.{os_info.ubr}, target {target.version}"))
    checks.append(("nothing pending", os_info.pending_reboot is False,
                   f"pending reboot: {os_info.pending_reboot}"))
    vmms = (after.services or {}).get("vmms")
    checks.append(("vmms running", vmms == "Running", f"vmms {vmms}"))
    fixed = all(passed for _, passed, _ in checks)
    listed = kb in os_info.hotfixes
    checks.append(("KB listed (supporting)", listed, f"Get-HotFix {'lists' if listed else 'does not list'} {kb}"))
    return Verification(fixed, tuple(checks))


def installed_awaiting_reboot(records: Iterable[StepRecord]) -> bool:
    """The update was installed on this host in this run and wants a reboot that never
    happened: no reboot attempt got anywhere (none at all, or only cancelled ones). A
    reboot that failed was asked for and may have happened; that is the host's verify
    question, not this one."""
    records = list(records)
    installed = any(r.step == Step.INSTALL and r.outcome == StepOutcome.OK and (r.evidence or {}).get("needs_reboot")
                    for r in records)
    reached = (StepOutcome.OK, StepOutcome.SKIPPED, StepOutcome.FAILED, None)
    rebooting = any(r.step == Step.REBOOT and r.outcome in reached for r in records)
    return installed and not rebooting


def pending_reboot_advice(host: str, kb: str) -> str:
    """What the admin must do about a host left installed with its reboot pending."""
    return (f"{host}: {kb} installed, reboot pending — reboot it in a maintenance window, "
            f"then `hvconsole patch check`")
