"""The health check of one host before and after a change (the patch report's "audit
before/after"): a compact, JSON-ready summary of each audit and what the change fixed,
what it brought, and what stayed. Problems are matched by (rule, VM id, title): the
evidence numbers may move without the problem being new."""

from __future__ import annotations

from typing import Any

from .report import HostAudit
from .rules import SEVERITY_RANK, Problem


def _key(p: Problem) -> tuple[str, str | None, str]:
    return (p.rule, p.vm_id, p.title)


def audit_summary(audit: HostAudit | None) -> dict[str, Any] | None:
    if audit is None:
        return None
    if not audit.reachable:
        return {"audited_at": audit.audited_at.isoformat(), "reachable": False,
                "error": audit.error_message or audit.error_kind, "problems": []}
    return {"audited_at": audit.audited_at.isoformat(), "reachable": True, "error": None,
            "problems": [{"rule": p.rule, "severity": p.severity, "vm_name": p.vm_name, "title": p.title,
                          "evidence": p.evidence} for p in audit.problems]}


def compare_audits(before: HostAudit | None, after: HostAudit | None) -> dict[str, Any]:
    """{"before", "after", "fixed", "new", "still"}; the lists are only filled when both
    audits answered (a failed audit proves nothing either way)."""
    out: dict[str, Any] = {"before": audit_summary(before), "after": audit_summary(after),
                           "fixed": [], "new": [], "still": []}
    if before is None or after is None or not before.reachable or not after.reachable:
        return out
    old = {_key(p): p for p in before.problems}
    new = {_key(p): p for p in after.problems}

    def brief(p: Problem) -> dict[str, Any]:
        return {"rule": p.rule, "severity": p.severity, "vm_name": p.vm_name, "title": p.title, "evidence": p.evidence}

    order = lambda p: (SEVERITY_RANK[p.severity], p.vm_name or "", p.rule)  # noqa: E731
    out["fixed"] = [brief(p) for p in sorted((old[k] for k in old.keys() - new.keys()), key=order)]
    out["new"] = [brief(p) for p in sorted((new[k] for k in new.keys() - old.keys()), key=order)]
    out["still"] = [brief(p) for p in sorted((new[k] for k in new.keys() & old.keys()), key=order)]
    return out
