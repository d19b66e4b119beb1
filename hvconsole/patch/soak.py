"""The soak after the pilot wave: watch the patched pilot hosts for ``gate.soak_minutes``
(host time) with the freeze detector, then decide whether production may start.

The gate (``plan.gate``) passes for a host when, over the whole soak, the detector raised
no critical finding on it, and at the end the host answers, every VM that had a heartbeat
before maintenance has it again, and every VM is in its prior state (where it moved to is
looked up). One ``soak`` journal row per pilot host holds that host's verdict and the
findings; production starts only when every pilot host passed. A soak interrupted by a
crash is simply run again on resume: it only reads.
"""

from __future__ import annotations

import time
from dataclasses import asdict
from typing import Any

from hvconsole.core.detector import CRITICAL, Detector
from hvconsole.core.enums import HEARTBEAT_OK
from hvconsole.core.patch.plan import Wave
from hvconsole.core.patch.steps import prior_vm_states, vms_not_restored
from hvconsole.core.snapshot import Snapshot

from .context import HostContext, RunContext, StepHandle
from .vm_steps import vms_everywhere
from .waiting import StopRequested

STEP = "soak"


def soak_state(run: RunContext, wave: Wave) -> str | None:
    """``passed`` / ``failed`` when every host of ``wave`` has a finished soak row, else None."""
    verdicts = []
    for host in wave.hosts:
        rows = [r for r in run.journal.steps(run.run_id, host) if r.step == STEP and r.outcome is not None]
        if not rows:
            return None
        verdicts.append(rows[-1].outcome)
    return "passed" if all(v == "ok" for v in verdicts) else "failed"


def run_soak(run: RunContext, wave: Wave) -> tuple[bool, list[str]]:
    """Watch ``wave``'s hosts for the soak period; returns (passed, reasons)."""
    gate, opts = run.plan.gate, run.options
    contexts = [HostContext(run, name) for name in wave.hosts]
    handles: list[StepHandle] = [hc.begin(STEP, {"wave": wave.name, "soak_minutes": gate.soak_minutes,
                                                 "gate": asdict(gate)}, f"soak for {gate.soak_minutes:g} min")
                                 for hc in contexts]
    detector = Detector(maintenance=run.maintenance)
    critical: dict[str, dict[str, dict[str, Any]]] = {hc.name: {} for hc in contexts}
    last: dict[str, Snapshot] = {}
    polls = 0
    deadline = time.monotonic() + opts.real(gate.soak_minutes * 60.0)
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
                    h.finish("cancelled", "run cancelled during the soak")
                return False, ["the run was cancelled during the soak"]
            if time.monotonic() >= deadline:
                break
            if run.control.stop.wait(opts.real(opts.soak_poll_s)):
                raise StopRequested()
        reasons_all: list[str] = []
        for hc, h in zip(contexts, handles):
            reasons = _judge(hc, last[hc.name], list(critical[hc.name].values()))
            findings = list(critical[hc.name].values()) + [
                f.to_dict() for f in detector.active(hc.name) if f.severity != CRITICAL]
            if reasons:
                reasons_all += [f"{hc.name}: {r}" for r in reasons]
                h.finish("failed", "health gate failed: " + "; ".join(reasons), findings=findings, polls=polls)
            else:
                h.finish("ok", f"health gate passed after {gate.soak_minutes:g} min ({polls} polls)",
                         findings=findings, polls=polls)
        return not reasons_all, reasons_all
    finally:
        for hc in contexts:
            hc.close()


def _judge(hc: HostContext, snap: Snapshot, critical: list[dict[str, Any]]) -> list[str]:
    gate = hc.run.plan.gate
    reasons: list[str] = []
    if gate.no_critical_findings and critical:
        reasons.append("critical findings: " + "; ".join(
            f"{f['kind']}{' on ' + f['vm_name'] if f.get('vm_name') else ''}" for f in critical))
    if not snap.reachable:
        return reasons + [f"not answering at the end of the soak ({snap.error.message if snap.error else 'no answer'})"]
    records = hc.records()
    prior = prior_vm_states(records)
    current, _ = vms_everywhere(hc, prior, snap)
    if gate.heartbeats_back:
        before = _heartbeats_before(records)
        now = {vm.id: vm for vm in current}
        lost = [prior[i].name for i, hb in before.items()
                if hb in HEARTBEAT_OK and i in prior and (now.get(i) is None or now[i].heartbeat not in HEARTBEAT_OK)]
        if lost:
            reasons.append("heartbeat not back: " + ", ".join(lost))
    if gate.vms_in_prior_state:
        missing = vms_not_restored(prior, current)
        if missing:
            reasons.append("not in their prior state: " + ", ".join(missing))
    return reasons


def _heartbeats_before(records: list[Any]) -> dict[str, str | None]:
    """Heartbeats as the first drain intent recorded them (before maintenance)."""
    for r in records:
        if r.step == "drain":
            return {v["id"]: v.get("heartbeat") for v in r.intent.get("vms", []) if isinstance(v, dict)}
    return {}
