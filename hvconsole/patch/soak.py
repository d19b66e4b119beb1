"""The soak after the test ring: watch the patched pilot hosts for ``gate.soak_minutes``
(host time) with the freeze detector, then decide whether production may start.

The gate (``plan.gate``) passes for a host when, over the whole soak, the detector raised
no critical finding on it, and at the end the host answers, every VM that had a heartbeat
before maintenance has it again, and every VM is in its prior state (where it moved to is
looked up). One ``soak`` journal row per pilot host holds that host's verdict and the
findings; production starts only when every pilot host passed. A soak interrupted by a
crash is simply run again on resume: it only reads.

Each soak row's intent records when the soak started and when it ends on the console's
clock (``started_at``/``ends_at``, UTC), so a window can count down; at least every
``options.heartbeat_s`` real seconds a run-wide progress line gives the time left and the
gate's live verdict ("soak: 12 min left; 0 findings, all heartbeats OK, 20/20 VMs in prior
state").
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from typing import Any

from hvconsole.core.detector import CRITICAL, Detector
from hvconsole.core.enums import HEARTBEAT_OK
from hvconsole.core.patch.journal import StepRecord
from hvconsole.core.patch.plan import Wave
from hvconsole.core.patch.steps import prior_vm_states, vms_not_restored
from hvconsole.core.patch.vocabulary import RUN_WIDE, GateVerdict, Phase, RunEvent, Step, StepOutcome
from hvconsole.core.snapshot import Snapshot
from hvconsole.core.timeutil import format_time, utcnow

from .context import HostContext, RunContext, StepHandle
from .vm_steps import vms_everywhere
from .waiting import StopRequested

STEP = RunEvent.SOAK


def soak_state(run: RunContext, wave: Wave) -> GateVerdict | None:
    """``passed`` / ``failed`` when every host of ``wave`` has a finished soak row, else None."""
    verdicts = []
    for host in wave.hosts:
        rows = [r for r in run.journal.steps(run.run_id, host) if r.step == STEP and r.outcome is not None]
        if not rows:
            return None
        verdicts.append(rows[-1].outcome)
    return GateVerdict.PASSED if all(v == StepOutcome.OK for v in verdicts) else GateVerdict.FAILED


def run_soak(run: RunContext, wave: Wave) -> tuple[bool, list[str]]:
    """Watch ``wave``'s hosts for the soak period; returns (passed, reasons)."""
    gate, opts = run.plan.gate, run.options
    contexts = [HostContext(run, name) for name in wave.hosts]
    real_s = opts.real(gate.soak_minutes * 60.0)
    started = utcnow()
    ends = started + timedelta(seconds=real_s)
    handles: list[StepHandle] = [hc.begin(STEP, {"wave": wave.name, "soak_minutes": gate.soak_minutes,
                                                 "gate": asdict(gate), "started_at": format_time(started),
                                                 "ends_at": format_time(ends)},
                                          f"soak for {gate.soak_minutes:g} min (until {ends:%H:%M:%S} UTC)")
                                 for hc in contexts]
    detector = Detector(maintenance=run.maintenance)
    critical: dict[str, dict[str, dict[str, Any]]] = {hc.name: {} for hc in contexts}
    last: dict[str, Snapshot] = {}
    polls = 0
    deadline = time.monotonic() + real_s
    next_say = time.monotonic()
    try:
        while True:
            for hc in contexts:
                snap = hc.api.snapshot()
                last[hc.name] = snap
                for f in detector.feed(snap):
                    if f.severity == CRITICAL and f.host == hc.name:
                        critical[hc.name][f"{f.kind}/{f.vm_id}"] = f.to_dict()
            polls += 1
            if run.control.cancel_requested():
                for h in handles:
                    h.finish(StepOutcome.CANCELLED, "run cancelled during the soak")
                return False, ["the run was cancelled during the soak"]
            now = time.monotonic()
            if now >= deadline:
                break
            if now >= next_say:
                live = [_check(hc, last[hc.name], list(critical[hc.name].values())) for hc in contexts]
                run.say(RUN_WIDE, STEP, Phase.INFO, live_text(deadline - now, live))
                next_say = time.monotonic() + opts.heartbeat_s
            wait = min(opts.real(opts.soak_poll_s), max(0.0, next_say - time.monotonic()) + 0.01,
                       max(0.0, deadline - time.monotonic()) + 0.01)
            if run.control.stop.wait(wait):
                raise StopRequested()
        reasons_all: list[str] = []
        for hc, h in zip(contexts, handles, strict=True):     # one handle per host, made above
            reasons = _check(hc, last[hc.name], list(critical[hc.name].values())).reasons
            findings = list(critical[hc.name].values()) + [
                f.to_dict() for f in detector.active(hc.name) if f.severity != CRITICAL]
            if reasons:
                reasons_all += [f"{hc.name}: {r}" for r in reasons]
                h.finish(StepOutcome.FAILED, "health gate failed: " + "; ".join(reasons), findings=findings,
                         polls=polls)
            else:
                h.finish(StepOutcome.OK, f"health gate passed after {gate.soak_minutes:g} min ({polls} polls)",
                         findings=findings, polls=polls)
        return not reasons_all, reasons_all
    finally:
        for hc in contexts:
            hc.close()


@dataclass
class GateCheck:
    """One pilot host against the gate, now: the reasons it would fail, and the counts the
    live line shows."""

    reasons: list[str] = field(default_factory=list)
    findings: int = 0
    reachable: bool = True
    heartbeats_lost: list[str] = field(default_factory=list)
    vms: int = 0
    vms_in_prior_state: int = 0


def _check(hc: HostContext, snap: Snapshot, critical: list[dict[str, Any]]) -> GateCheck:
    gate = hc.run.plan.gate
    check = GateCheck(findings=len(critical))
    if gate.no_critical_findings and critical:
        check.reasons.append("critical findings: " + "; ".join(
            f"{f['kind']}{' on ' + f['vm_name'] if f.get('vm_name') else ''}" for f in critical))
    if not snap.reachable:
        check.reachable = False
        check.reasons.append(f"not answering at the end of the soak "
                             f"({snap.error.message if snap.error else 'no answer'})")
        return check
    records = hc.records()
    prior = prior_vm_states(records)
    current, _ = vms_everywhere(hc, prior, snap)
    before = _heartbeats_before(records)
    now = {vm.id: vm for vm in current}
    check.heartbeats_lost = [prior[i].name for i, hb in before.items()
                             if hb in HEARTBEAT_OK and i in prior
                             and (now.get(i) is None or now[i].heartbeat not in HEARTBEAT_OK)]
    if gate.heartbeats_back and check.heartbeats_lost:
        check.reasons.append("heartbeat not back: " + ", ".join(check.heartbeats_lost))
    missing = vms_not_restored(prior, current)
    check.vms, check.vms_in_prior_state = len(prior), len(prior) - len(missing)
    if gate.vms_in_prior_state and missing:
        check.reasons.append("not in their prior state: " + ", ".join(missing))
    return check


def live_text(remaining_real_s: float, checks: list[GateCheck]) -> str:
    """"soak: 12 min left; 0 findings, all heartbeats OK, 20/20 VMs in prior state" (and
    what fails the gate so far, if anything does)."""
    left = (f"{remaining_real_s / 60:.0f} min" if remaining_real_s >= 90 else f"{max(0.0, remaining_real_s):.0f} s")
    findings = sum(c.findings for c in checks)
    lost = [n for c in checks for n in c.heartbeats_lost]
    down = sum(not c.reachable for c in checks)
    parts = [f"{findings} critical finding{'s' if findings != 1 else ''}",
             "all heartbeats OK" if not lost else f"heartbeat lost: {', '.join(lost[:5])}",
             f"{sum(c.vms_in_prior_state for c in checks)}/{sum(c.vms for c in checks)} VMs in prior state"]
    if down:
        parts.append(f"{down} host(s) not answering")
    verdict = "gate passing so far" if not any(c.reasons for c in checks) else "gate FAILING so far"
    return f"soak: {left} left; {', '.join(parts)} ({verdict})"


def _heartbeats_before(records: Sequence[StepRecord]) -> dict[str, str | None]:
    """Heartbeats as the first drain intent recorded them (before maintenance)."""
    for r in records:
        if r.step == Step.DRAIN:
            return {v["id"]: v.get("heartbeat") for v in r.intent.get("vms", []) if isinstance(v, dict)}
    return {}
