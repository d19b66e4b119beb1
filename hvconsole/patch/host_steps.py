"""One function per step of ``core.patch.steps.STEPS``, each idempotent and reality-first.

Every function reads the host, writes its intent (``HostContext.begin``), acts, reads
back, and writes the outcome with the evidence; it returns the outcome. The larger ones
live beside this module: ``staging.stage``, ``vm_steps.drain``/``restore``,
``install_steps.install``/``reboot``. :data:`STEP_FUNCTIONS` maps every step name to its
function; :func:`run_step` is what the runner calls.

A host that already runs the target build at preflight (and has nothing pending) is left
alone: the steps that would change it are recorded as skipped, and it is still verified.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from functools import partial

from hvconsole.core.detector import CRITICAL, Detector
from hvconsole.core.patch.steps import STEPS, prior_vm_states, verify_fixed
from hvconsole.core.patch.vocabulary import Step, StepOutcome
from hvconsole.core.timeutil import format_time, parse_time, utcnow
from hvconsole.remote.errors import RemoteError

from .audit_step import health_evidence
from .context import HostContext, RunContext
from .install_steps import install, reboot
from .preflight import judge, planned_live_migrations
from .staging import STAGING_DIR, package_plan, stage
from .vm_steps import _states, drain, restore, vms_everywhere
from .waiting import StopRequested, hyperv_ready, wait_until

log = logging.getLogger(__name__)


def preflight(hc: HostContext) -> str:
    run, opts = hc.run, hc.run.options
    pkg = package_plan(run.plan, run.update)
    h = hc.begin(Step.PREFLIGHT, {"kb": run.update.kb, "package_file": pkg.file_name,
                               "required_free_mb": opts.required_free_mb}, "checking the host")
    snap = hc.api.snapshot()      # first: the VMs the plan would live-migrate are checked by the script
    try:
        doc = hc.api.preflight(STAGING_DIR, pkg.file_name or None, opts.required_free_mb,
                               planned_live_migrations(run.plan, snap))
    except RemoteError as err:
        return h.finish(StepOutcome.FAILED, f"cannot check {hc.name}: {err.message}", error_kind=err.kind)
    v = judge(doc, run.update, required_free_mb=opts.required_free_mb, package_mb=pkg.size_mb,
              backup_max_age_h=opts.backup_max_age_h, host_now=snap.host_time if snap.reachable else None)
    evidence = {"build": v.version, "current_build": v.build, "ubr": v.ubr, "target": v.target,
                "compliant": v.compliant, "product": doc.get("product"), "last_boot": _iso_text(doc.get("last_boot")),
                "pending_reboot": doc.get("pending_reboot"), "cluster": doc.get("cluster"),
                "system_drive_free_mb": doc.get("system_drive_free_mb"), "vm_count": len(doc["vms"]),
                "staged": doc.get("staged"), "problems": v.problems, "warnings": v.warnings}
    # The health check before anything changes: evidence for the report, never a gate.
    evidence["health_before"] = health_evidence(hc, snap, in_maintenance=False)
    if v.problems:
        return h.finish(StepOutcome.FAILED, "; ".join(v.problems), **evidence)
    text = (f"already at {v.target} or later: nothing to install" if v.compliant
            else f"build {v.version}, target {v.target}")
    if v.warnings:
        text += "; warning: " + "; ".join(v.warnings)
    return h.finish(StepOutcome.OK, text, **evidence)


def compliant_before(hc: HostContext) -> bool:
    pre = hc.last_ok(Step.PREFLIGHT)
    return bool(pre and (pre.evidence or {}).get("compliant"))


def window_length(run: RunContext) -> timedelta:
    """How long a host's maintenance window holds its alerts at most (real time): every
    step's budget from drain to the last reboot, and a margin."""
    opts = run.options
    window_host_s = (opts.drain_timeout_s + opts.install_timeout_s + 2 * opts.settle_timeout_s
                     + run.plan.reboot_timeout_s * (1 + opts.max_extra_reboots) + opts.maintenance_margin_s)
    return timedelta(seconds=opts.real(window_host_s))


def maintenance_on(hc: HostContext) -> str:
    run = hc.run
    now = utcnow()
    until = now + window_length(run)
    reason = f"patching {run.update.kb} (patch run {run.run_id})"
    h = hc.begin(Step.MAINTENANCE_ON, {"until": format_time(until), "reason": reason}, "holding alerts for the host")
    # begun: the detector measures the window from here on each host's poll clock, so a
    # step of the console's clock neither ends it early nor holds it longer (core.maintenance).
    run.maintenance.begin(hc.name, until=until, reason=reason, begun=now)
    return h.finish(StepOutcome.OK, f"alerts for {hc.name} held until {until:%H:%M:%S} UTC at the latest",
                    since=format_time(now), until=format_time(until), reason=reason)


def maintenance_off(hc: HostContext) -> str:
    """Alerts on again, and what the run left on the host removed: the install task (its
    result file stays as evidence) and a package the run itself pushed there."""
    had = hc.last_ok(Step.MAINTENANCE_ON) is not None
    # A console stopped inside maintenance-on may have held the alerts before it could
    # record so: that window is closed too (it would end by itself only at its "until").
    begun = not had and any(r.step == Step.MAINTENANCE_ON and r.in_flight for r in hc.records())
    h = hc.begin(Step.MAINTENANCE_OFF, {"had_window": had, "window_in_flight": begun}, "alerts on again")
    ended = hc.run.maintenance.end(hc.name)
    if begun:
        return h.finish(StepOutcome.OK, f"alerts for {hc.name} are on again (the window a stopped console "
                                        "was opening is closed)", ended_at=format_time(utcnow()), was_open=ended)
    if not had:
        return h.finish(StepOutcome.SKIPPED, "no maintenance window was opened")
    cleanup = _cleanup(hc)
    note = f"; {cleanup['note']}" if cleanup.get("note") else ""
    return h.finish(StepOutcome.OK, f"alerts for {hc.name} are on again{note}",
                    ended_at=format_time(utcnow()), was_open=ended, cleanup=cleanup)


def _cleanup(hc: HostContext) -> dict[str, object]:
    from .install_steps import task_names
    if not any(r.step == Step.INSTALL for r in hc.records()):
        return {}
    task, _ = task_names(hc)
    pkg = package_plan(hc.run.plan, hc.run.update)
    remove = pkg.host_path if pkg.kind == "smb-push" else None   # the admin's own copy stays
    try:
        answer = hc.api.cleanup(task, remove)
    except RemoteError as err:   # leftovers are untidy, not dangerous: report and go on
        return {"error": err.message, "note": f"clean-up on the host failed ({err.message})"}
    return {"task_removed": answer.get("task_removed"), "package_removed": answer.get("package_removed"),
            "warnings": answer.get("warnings") or []}


def verify(hc: HostContext) -> str:
    run, opts = hc.run, hc.run.options
    target = hc.build_target()
    inst = hc.last_ok(Step.INSTALL)
    started_text = (inst.evidence or {}).get("started_at") if inst else None
    started = parse_time(started_text) if isinstance(started_text, str) else None
    h = hc.begin(Step.VERIFY, {"target": target.version if target else None, "install_started": started_text},
                 "proving the fix")
    if target is None:
        return h.finish(StepOutcome.FAILED, "no target build for this host (preflight did not record one)")
    _, snap = wait_until(hc, hyperv_ready, opts.settle_timeout_s)
    proof = verify_fixed(snap, target, run.update.kb, started)
    checks = [{"check": c, "passed": p, "detail": d} for c, p, d in proof.checks]
    os_info = snap.os if snap.reachable else None
    evidence = {"build": f"{os_info.build}.{os_info.ubr}" if os_info else None,
                "last_boot": format_time(os_info.last_boot) if os_info and os_info.last_boot else None,
                "pending_reboot": os_info.pending_reboot if os_info else None, "checks": checks,
                "fixed": proof.fixed, "kb_listed": bool(os_info and run.update.kb in os_info.hotfixes)}
    failed = [c for c, passed, _ in proof.checks if not passed and "supporting" not in c]
    if proof.fixed:
        return h.finish(StepOutcome.OK, f"fixed: build {evidence['build']} at or above {target.version}", **evidence)
    return h.finish(StepOutcome.FAILED, "not proven fixed: " + ", ".join(failed), **evidence)


def postcheck(hc: HostContext) -> str:
    opts = hc.run.options
    h = hc.begin(Step.POSTCHECK, {"polls": opts.postcheck_polls}, "health after patching")
    detector = Detector()       # no maintenance registry: the window must not hide what we look for
    snap = hc.api.snapshot()
    detector.feed(snap)
    for _ in range(max(0, opts.postcheck_polls - 1)):
        hc.run.control.stop.wait(opts.real(opts.postcheck_interval_s))
        snap = hc.api.snapshot()
        detector.feed(snap)
    prior = prior_vm_states(hc.records())
    vms, where = vms_everywhere(hc, prior, snap) if snap.reachable else ([], {})
    findings = [f.to_dict() for f in detector.active(hc.name)]
    critical = [f for f in findings if f["severity"] == CRITICAL]
    evidence = {"vms": _states(vms, where), "findings": findings, "reachable": snap.reachable}
    # The health check again once the host is back to normal: after the restart AND the
    # restore (at verify the drained VMs are still saved, and a rule like the boot storm
    # would call their absence a fix). Still inside the maintenance window.
    # The run's window is open until its maintenance-off, whatever the console's clock
    # says now (it may have been stepped since maintenance-on): the run is acting on it.
    in_window = any(w.vm_id is None for w in hc.run.maintenance.host_windows(hc.name))
    evidence["health_after"] = health_evidence(hc, snap, in_maintenance=in_window)
    if not snap.reachable:
        return h.finish(StepOutcome.FAILED, f"{hc.name} stopped answering after patching", **evidence)
    if critical:
        return h.finish(StepOutcome.FAILED, f"{len(critical)} critical finding(s): "
                        + "; ".join(f"{f['kind']} {f['vm_name'] or ''}".strip() for f in critical), **evidence)
    return h.finish(StepOutcome.OK, f"{len(vms)} VM(s) seen, no critical finding" +
                    (f", {len(findings)} warning(s)" if findings else ""), **evidence)


def _skip_when_compliant(step: str, fn: Callable[[HostContext], str]) -> Callable[[HostContext], str]:
    def run(hc: HostContext) -> str:
        if compliant_before(hc):
            h = hc.begin(step, {"compliant_before": True}, "not needed")
            return h.finish(StepOutcome.SKIPPED, f"not needed: {hc.name} already ran the target build before this run")
        return fn(hc)
    return run


STEP_FUNCTIONS: dict[str, Callable[[HostContext], str]] = {
    Step.PREFLIGHT: preflight,
    Step.STAGE: _skip_when_compliant(Step.STAGE, stage),
    Step.MAINTENANCE_ON: _skip_when_compliant(Step.MAINTENANCE_ON, maintenance_on),
    Step.DRAIN: _skip_when_compliant(Step.DRAIN, drain),
    Step.INSTALL: _skip_when_compliant(Step.INSTALL, install),
    Step.REBOOT: _skip_when_compliant(Step.REBOOT, reboot),
    Step.VERIFY: verify,
    Step.RESTORE: restore,
    Step.POSTCHECK: postcheck,
    Step.MAINTENANCE_OFF: maintenance_off,
}
assert tuple(STEP_FUNCTIONS) == STEPS, "every step has exactly one function, in order"

# A cancel that finds one of these in flight (left by a killed process) settles it: what the
# host was already doing is taken to its end and recorded, nothing new is started.
SETTLE_FUNCTIONS: dict[str, Callable[[HostContext], str]] = {
    Step.INSTALL: partial(install, may_start=False),
    Step.REBOOT: partial(reboot, may_schedule=False),
}


def run_step(hc: HostContext, step: str, *, settle: bool = False) -> str:
    """Run one step (``settle``: settle it after a cancel, ``SETTLE_FUNCTIONS``). A remote
    failure or a bug inside a step becomes a ``failed`` outcome (written to the journal)
    instead of an exception; a stop request leaves the step in flight for resume."""
    try:
        return (SETTLE_FUNCTIONS if settle else STEP_FUNCTIONS)[step](hc)
    except StopRequested:
        raise
    except Exception as exc:
        if not isinstance(exc, RemoteError):
            log.exception("%s: step %s failed unexpectedly", hc.name, step)   # a bug: keep the traceback
        message = exc.message if isinstance(exc, RemoteError) else f"{type(exc).__name__}: {exc}"
        handle = hc.open_step
        if handle is None or handle.finished:
            handle = hc.begin(step, {"read": "failed before acting"}, "reading the host")
        return handle.finish(StepOutcome.FAILED, f"{step} failed: {message}", error=message)


def _iso_text(value: object) -> str | None:
    try:
        return format_time(parse_time(value)) if isinstance(value, str) and value else None
    except ValueError:
        return None
