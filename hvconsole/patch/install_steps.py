"""The install and reboot steps, the two that must never happen twice.

Install: the installer runs in a scheduled task as SYSTEM that writes its exit code to a
result file (WinRM cannot hold it, hyperv-notes §7). The task name is fixed per run and
host, so before starting anything the step asks the host about *that* task: finished →
its result is taken; running → waited for; unknown → a build already at the target means
"already installed", otherwise the task is started. Exit codes are judged by
``steps.interpret_exit_code``.

Reboot: the host's last boot is compared with the last boot recorded in the first reboot
intent. Already later → the reboot happened; the host is down → it is happening; unchanged
after a resume → the step waits out the scheduled delay before asking again, so a reboot
that was already scheduled is never doubled. A second reboot is taken when the host still
reports a pending reboot and a build below the target.

A cancel that finds either step in flight (the process was killed inside it) settles it
instead of calling it "cancelled before this step": ``may_start=False`` /
``may_schedule=False`` take what the killed attempt began (an install task running or done,
a restart under way or over) to its end, and never begin anything new. Only an install task
that does not exist, or a restart that did not come within the scheduled delay plus the
grace, is recorded as cancelled.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from hvconsole.core.patch.journal import StepRecord
from hvconsole.core.patch.steps import interpret_exit_code
from hvconsole.core.patch.vocabulary import Phase, Step, StepOutcome
from hvconsole.core.snapshot import Snapshot
from hvconsole.core.timeutil import format_time, parse_time
from hvconsole.remote.errors import RemoteError

from .context import HostContext, StepHandle
from .host_api import InstallStatus
from .staging import package_plan
from .waiting import StopRequested, booted_since, wait_for_down_or_boot, wait_for_reboot

RESULTS_DIR = "C:\\hvconsole\\results"
# Transient failures tolerated while polling a running install (a busy host, a dropped shell).
MAX_STATUS_ERRORS = 5


def task_names(hc: HostContext) -> tuple[str, str]:
    """(scheduled task name, result file) for this run: the same on every attempt, and
    different for every run, also of another journal (run ids restart with a new journal,
    and a stale result file must never pass for this run's)."""
    created = hc.run.created
    stamp = f"-{created:%Y%m%dT%H%M%S}{created.microsecond // 1000:03d}" if created else ""
    task = f"hvconsole-{hc.run.update.kb}-run{hc.run.run_id}{stamp}"
    return task, f"{RESULTS_DIR}\\{task}.json"


def at_target(snap: Snapshot, hc: HostContext) -> bool:
    target = hc.build_target()
    os_info = snap.os if snap.reachable else None
    return target is not None and os_info is not None and target.reached_by(os_info.build, os_info.ubr)


# -- install -------------------------------------------------------------------------------

def install(hc: HostContext, *, may_start: bool = True) -> str:
    opts = hc.run.options
    task, result_path = task_names(hc)
    package = package_plan(hc.run.plan, hc.run.update).host_path
    status = hc.api.install_status(task, result_path)
    snap = hc.api.snapshot()
    intent = {"task_name": task, "result_path": result_path, "package_path": package, "method": "auto",
              "found": status.state, "build": _build(snap)}
    h = hc.begin(Step.INSTALL, intent, f"{hc.run.update.kb} via scheduled task {task}")
    if status.state == "not-found":
        if not may_start:
            return h.finish(StepOutcome.CANCELLED, f"the run was cancelled before the installer started (no task "
                                                   f"{task} on the host)", action="none")
        if at_target(snap, hc) and snap.os is not None and not snap.os.pending_reboot:
            return h.finish(StepOutcome.OK, f"already at the target build ({_build(snap)}): nothing installed",
                            action="none", already=True, needs_reboot=False, exit_code=None,
                            meaning="already installed", build=_build(snap))
        try:
            status = hc.api.install_start(package, task, result_path, "auto")
        except RemoteError as err:
            # The answer was lost, not necessarily the start: ask the host what happened.
            status = hc.api.install_status(task, result_path)
            if status.state == "not-found":
                return h.finish(StepOutcome.FAILED, f"could not start the installer: {err.message}", action="none")
        action = "started"
    else:
        action = f"found {status.state}"     # a resumed run: the task of the first attempt
    waiting_since = time.monotonic()
    deadline = waiting_since + opts.real(opts.install_timeout_s)
    errors = 0
    while status.state != "done":
        hc.still(Step.INSTALL, "the installer is still running", waiting_since)
        if time.monotonic() >= deadline:
            return h.finish(StepOutcome.FAILED, f"the installer was still running after {opts.install_timeout_s:.0f} s",
                            action=action, **status.evidence())
        if hc.run.control.stop.wait(opts.real(opts.install_poll_s)):
            raise StopRequested()
        try:
            status = hc.api.install_status(task, result_path)
            errors = 0
        except RemoteError as err:
            errors += 1
            if errors >= MAX_STATUS_ERRORS:
                return h.finish(StepOutcome.FAILED, f"lost track of the installer: {err.message}", action=action)
            continue
        if status.state == "not-found":
            return h.finish(StepOutcome.FAILED, f"the install task {task} disappeared before writing its result",
                            action=action, **status.evidence())
    if status.exit_code is None:
        return h.finish(StepOutcome.FAILED, "the installer finished without an exit code", action=action,
                        **status.evidence())
    verdict = interpret_exit_code(status.exit_code)
    return h.finish(verdict.outcome, verdict.meaning, action=action, meaning=verdict.meaning,
                    needs_reboot=verdict.needs_reboot, already=verdict.already, **_status_evidence(status))


def _status_evidence(status: InstallStatus) -> dict[str, Any]:
    ev = status.evidence()
    ev["exit_code"] = status.exit_code & 0xFFFFFFFF if status.exit_code is not None else None
    return ev


# -- reboot --------------------------------------------------------------------------------

def reboot(hc: HostContext, *, may_schedule: bool = True) -> str:
    opts, plan = hc.run.options, hc.run.plan
    installed = hc.last_ok(Step.INSTALL)
    inst = (installed.evidence or {}) if installed else {}
    attempts = hc.attempts(Step.REBOOT)
    snap = hc.api.snapshot()
    install_started = _time(inst.get("started_at"))
    first_before = _time(attempts[0].intent.get("last_boot_before")) if attempts else None
    before = first_before or (snap.os.last_boot if snap.reachable and snap.os else None) or install_started
    if not attempts and not _needs_reboot(inst, snap, hc):
        h = hc.begin(Step.REBOOT, {"last_boot_before": _iso(before), "needed": False}, "deciding on the reboot")
        return h.finish(StepOutcome.SKIPPED, f"no reboot needed: {inst.get('meaning') or 'nothing installed'}, build "
                                   f"{_build(snap)}, nothing pending", last_boot_after=_iso(before))
    intent = {"last_boot_before": _iso(before), "install_started": _iso(install_started),
              "resumed": bool(attempts), "delay_s": opts.reboot_delay_s,
              "seen": "down" if not snap.reachable else _iso(snap.os.last_boot if snap.os else None)}
    h = hc.begin(Step.REBOOT, intent, "restarting the host" if not attempts else "checking an interrupted reboot")
    comment = f"hvconsole: {hc.run.update.kb} (patch run {hc.run.run_id})"
    # The delay an earlier attempt asked for may have been longer than this process's.
    grace = max([opts.reboot_delay_s, *(_delay(a) for a in attempts)]) + 120.0
    if attempts:
        seen = "down" if not snap.reachable else ("rebooted" if booted_since(snap, before)
                                                 else wait_for_down_or_boot(hc, before, grace))
        scheduled_now = seen == "up"
    else:
        scheduled_now = True
    if scheduled_now and not may_schedule:
        return _restart_never_came(hc, h, attempts, before, grace)
    if scheduled_now and not _schedule(hc, comment, before, grace):
        return h.finish(StepOutcome.FAILED, "the host did not schedule the restart", last_boot_before=_iso(before))
    waited = wait_for_reboot(hc, before, plan.reboot_timeout_s)
    boots = 1
    while waited.back and boots <= opts.max_extra_reboots and _still_pending(waited.snapshot, hc):
        again_before = waited.snapshot.os.last_boot if waited.snapshot.os else None
        if attempts and wait_for_down_or_boot(hc, again_before, grace) != "up":
            waited = wait_for_reboot(hc, again_before, plan.reboot_timeout_s)   # already under way
        elif not may_schedule:
            break               # cancelling: the boot that came is recorded, none is added
        else:
            hc.run.say(hc.name, Step.REBOOT, Phase.INFO, "still pending and below the target: a second restart")
            if not _schedule(hc, comment + ", second restart", again_before, grace):
                break
            waited = wait_for_reboot(hc, again_before, plan.reboot_timeout_s)
        boots += 1
    after = waited.snapshot
    evidence = {"last_boot_before": _iso(before), "last_boot_after": _iso(after.os.last_boot if after.os else None),
                "restarts_seen": boots, "scheduled_by_this_attempt": scheduled_now, "seen_down": waited.seen_down,
                "build_after": _build(after), "pending_after": after.os.pending_reboot if after.os else None}
    if not waited.back:
        return h.finish(StepOutcome.FAILED, f"{hc.name} {waited.reason}", **evidence)
    return h.finish(StepOutcome.OK, f"back after {waited.waited_real_s:.0f} s real time, build {_build(after)}",
                    **evidence)


def _restart_never_came(hc: HostContext, h: StepHandle, attempts: list[StepRecord], before: datetime | None,
                        grace_host_s: float) -> str:
    """Cancelling an interrupted reboot whose restart did not come: the host kept its boot
    past the scheduled delay and the grace, so no restart is on its way. The interrupted
    attempts get that outcome too (they are no longer "may have rebooted"), so the update
    is reported as installed with its reboot pending."""
    summary = (f"the run was cancelled; the restart asked for before the stop never came (same boot after "
               f"{grace_host_s:.0f} s host time): not restarted")
    for attempt in attempts:
        if attempt.in_flight:
            hc.run.journal.finish_step(attempt.id, StepOutcome.CANCELLED,
                                       {"summary": summary, "settled_by": h.id, "last_boot_before": _iso(before)})
    return h.finish(StepOutcome.CANCELLED, summary, last_boot_before=_iso(before), last_boot_after=_iso(before),
                    waited_host_s=grace_host_s)


def _delay(attempt: StepRecord) -> float:
    value = attempt.intent.get("delay_s")
    return float(value) if isinstance(value, (int, float)) else 0.0


def _schedule(hc: HostContext, comment: str, before: datetime | None, grace_host_s: float) -> bool:
    """Ask for the restart. An answer lost on the wire (the host may already be going down)
    is settled by looking: down or rebooted means it was scheduled."""
    try:
        return hc.api.reboot(hc.run.options.reboot_delay_s, comment).scheduled
    except RemoteError:
        return wait_for_down_or_boot(hc, before, grace_host_s) != "up"


def _needs_reboot(inst: Mapping[str, Any], snap: Snapshot, hc: HostContext) -> bool:
    """Installed (or already installed, still pending): reboot. At the target with nothing
    pending: an extra reboot would only take the VMs down for nothing."""
    if inst.get("needs_reboot"):
        return True
    return bool(snap.reachable and snap.os and snap.os.pending_reboot and not at_target(snap, hc))


def _still_pending(snap: Snapshot, hc: HostContext) -> bool:
    return bool(snap.os and snap.os.pending_reboot and not at_target(snap, hc))


def _build(snap: Snapshot) -> str | None:
    if not snap.reachable or snap.os is None or snap.os.build is None:
        return None
    return f"{snap.os.build}.{snap.os.ubr}"


def _time(value: object) -> datetime | None:
    try:
        return parse_time(value) if isinstance(value, str) and value else None
    except ValueError:
        return None


def _iso(value: datetime | None) -> str | None:
    return None if value is None else format_time(value)
