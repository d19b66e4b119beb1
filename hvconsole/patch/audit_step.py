"""The health check of a host before and after patching (issue 14: "the patch report
includes the audit of the patched hosts before and after").

Preflight (read-only, before anything changes) and postcheck (after the restart and the
restore of the VMs: the host as it will stay) call
:func:`health_evidence`: it runs the read-only ``audit.ps1`` through the host's own patch
shell (``PatchHost.audit``), judges the answer with the same rules as ``hvconsole audit``,
and returns the JSON-ready summary that goes into the step's journal evidence
(``health_before`` / ``health_after``). ``core.patch.report`` compares the two.

An audit is evidence, never a gate: whatever goes wrong (the host does not answer, the
answer is malformed, the run is stopping, a bug) the step goes on and the evidence says
``audit not available: <reason>``.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from hvconsole.core.health import AuditFormatError, HealthThresholds, HostAudit, parse_audit
from hvconsole.core.health.compare import audit_summary
from hvconsole.core.health.judge import count_by_severity
from hvconsole.core.health.rules import CRITICAL, INFO, WARNING
from hvconsole.core.snapshot import Snapshot
from hvconsole.core.timeutil import utcnow
from hvconsole.remote.audit import judged
from hvconsole.remote.errors import RemoteError
from hvconsole.remote.target import CancelToken

from .context import HostContext

log = logging.getLogger(__name__)

# Real seconds the audit may hold a step. On a real host (speed 1) that is the 60 s of host
# time the patch window can spare for evidence; a simulated site is not given less, since
# a WinRM round trip takes the same real time at any simulated speed. The script bounds its
# Hyper-V part below that, so it answers (partially) instead of being cut off.
AUDIT_TIMEOUT_S = 60.0
SCRIPT_BOUND_MS = 50_000
NOT_AVAILABLE = "audit not available: "


class _RunStopToken(CancelToken):
    """A cancel token that is cancelled when the run is asked to stop (``RunControl.stop``),
    so an audit in flight ends at its next HTTP boundary instead of its deadline."""

    __slots__ = ("_stop",)

    def __init__(self, stop: threading.Event):
        super().__init__()
        self._stop = stop

    def cancel(self) -> None:
        self._stop.set()

    @property
    def cancelled(self) -> bool:
        return self._stop.is_set()

    def wait(self, timeout_s: float) -> bool:
        return self._stop.wait(max(0.0, timeout_s))


def read_audit(hc: HostContext, snapshot: Snapshot | None, *, in_maintenance: bool,
               thresholds: HealthThresholds | None = None) -> HostAudit:
    """One judged audit of the host, or a HostAudit whose error says why there is none.
    Never raises (a stop of the run becomes a cancelled audit; the step notices the stop
    itself at its next wait)."""
    now = utcnow()
    stop = hc.run.control.stop
    if stop.is_set():
        return HostAudit(hc.name, now, error_kind="cancelled", error_message="the run is stopping", cancelled=True)
    if snapshot is not None and not snapshot.reachable:     # no point waiting out the deadline
        return HostAudit(hc.name, now, error_kind="unreachable", error_message=f"{hc.name} is not answering")
    params = {"vm_query_timeout_ms": SCRIPT_BOUND_MS, "max_checkpoints": 50, "bpa": True}
    try:
        doc = hc.api.audit(params, timeout_s=AUDIT_TIMEOUT_S, cancel=_RunStopToken(stop))
        facts = parse_audit(doc)
    except RemoteError as err:
        return HostAudit(hc.name, utcnow(), error_kind=err.kind, error_message=err.message, cancelled=err.cancelled)
    except AuditFormatError as exc:
        return HostAudit(hc.name, utcnow(), error_kind="protocol",
                         error_message=f"the audit answer has a bad field {exc.field}: {exc.problem}")
    except Exception as exc:  # evidence must never fail a patch step
        log.warning("%s: the audit failed unexpectedly", hc.name, exc_info=True)
        return HostAudit(hc.name, utcnow(), error_kind="protocol",
                         error_message=f"the audit could not run ({type(exc).__name__}: {str(exc)[:200]})")
    audit = HostAudit(hc.name, utcnow(), answer=doc, facts=facts)
    try:
        return judged(audit, thresholds or HealthThresholds(), now=utcnow(),
                      snapshot=snapshot if snapshot is not None and snapshot.reachable else None,
                      updates=(hc.run.update,), in_maintenance=in_maintenance)
    except Exception as exc:  # a judging bug is logged in full, the step goes on
        log.exception("%s: judging the audit failed", hc.name)
        return HostAudit(hc.name, audit.audited_at, error_kind="protocol",
                         error_message=f"judging the audit failed ({type(exc).__name__})")


def summary_of(audit: HostAudit) -> dict[str, Any]:
    """``core.health.compare.audit_summary`` plus what the report needs to match problems
    across two audits (the VM id: a VM renamed between them is still the same VM), the
    counts by severity and one sentence for the step's log."""
    summary = audit_summary(audit) or {}
    for item, problem in zip(summary.get("problems", []), audit.problems, strict=True):
        item["vm_id"] = problem.vm_id
    if not audit.reachable:
        summary["available"] = False
        summary["text"] = NOT_AVAILABLE + (audit.error_message or audit.error_kind or "no answer")
        return summary
    counts = count_by_severity(audit.problems)
    summary["available"] = True
    summary["counts"] = {CRITICAL: counts[CRITICAL], WARNING: counts[WARNING], INFO: counts[INFO]}
    summary["text"] = (f"{counts[CRITICAL]} critical, {counts[WARNING]} warning, {counts[INFO]} info"
                       if audit.problems else "no problem found")
    return summary


def health_evidence(hc: HostContext, snapshot: Snapshot | None, *, in_maintenance: bool) -> dict[str, Any]:
    return summary_of(read_audit(hc, snapshot, in_maintenance=in_maintenance))
