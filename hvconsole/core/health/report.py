"""One audit run over several hosts: the audit-v1 document and the text an admin reads.

``HostAudit`` is one host's outcome (answer and judgement, or why there is none);
:func:`report_document` writes the ``hvconsole.audit/1`` JSON
(``tests/fixtures/contracts/audit-v1.schema.json``); :func:`report_text` the table for a
terminal of 100 columns. Every text from a host is cleaned before it is printed: a hostile
VM name cannot drive the terminal.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ..detector.text import clean
from ..timeutil import format_time
from .facts import HostFacts
from .judge import HostJudgement, count_by_severity
from .rules import CRITICAL, INFO, RULES, SEVERITY_RANK, WARNING, Problem, at_or_above
from .thresholds import HealthThresholds

SCHEMA_ID = "hvconsole.audit/1"
WIDTH = 100
_SHORT = {CRITICAL: "CRIT", WARNING: "WARN", INFO: "info"}


@dataclass(frozen=True, slots=True)
class HostAudit:
    host: str
    audited_at: datetime
    error_kind: str | None = None
    error_message: str | None = None
    answer: dict[str, Any] | None = field(default=None, repr=False)
    facts: HostFacts | None = field(default=None, repr=False)
    judgement: HostJudgement | None = None
    cancelled: bool = False        # the error is a cancel (the service stopped), not the host's fault

    @property
    def reachable(self) -> bool:
        return self.error_kind is None

    @property
    def problems(self) -> tuple[Problem, ...]:
        return self.judgement.problems if self.judgement else ()


def worst(audits: Iterable[HostAudit]) -> str | None:
    found = [p.severity for a in audits for p in a.problems]
    return min(found, key=SEVERITY_RANK.__getitem__) if found else None


def fails(audits: Sequence[HostAudit], floor: str | None) -> bool:
    """True when a problem at or above ``floor`` exists (``--fail-on``)."""
    return floor is not None and any(at_or_above(p.severity, floor) for a in audits for p in a.problems)


def report_document(audits: Sequence[HostAudit], thresholds: HealthThresholds, generated_at: datetime,
                    fail_on: str | None = None) -> dict[str, Any]:
    return {
        "schema": SCHEMA_ID,
        "generated_at": format_time(generated_at),
        "fail_on": fail_on,
        "thresholds": thresholds.as_dict(),
        "rules": [{"id": r.id, "area": r.area, "severity": r.severity, "title": r.title, "fix": r.fix,
                   "source": r.source, "judgement": r.judgement, "needs": r.needs} for r in RULES],
        "hosts": [{
            "host": a.host, "audited_at": format_time(a.audited_at), "reachable": a.reachable,
            "error": None if a.reachable else {"kind": a.error_kind, "message": a.error_message or ""},
            "answer": a.answer,
            "skipped": list(a.judgement.skipped) if a.judgement else [],
            "problems": [p.as_dict() for p in a.problems],
        } for a in audits],
    }


def _wrap(text: str, indent: str) -> list[str]:
    return textwrap.wrap(text, WIDTH, initial_indent=indent, subsequent_indent=indent,
                         break_long_words=True, break_on_hyphens=False) or [indent]


def report_text(audits: Sequence[HostAudit], *, min_severity: str = INFO, show_fix: bool = True) -> str:
    """Readable in a 100-column terminal: one block per host, one entry per problem
    (severity, rule, VM on a line; the evidence and the fix wrapped below it)."""
    lines: list[str] = []
    for a in audits:
        host = clean(a.host, 40)
        if not a.reachable:
            lines.extend(_wrap(f"{host}: NOT AUDITED ({clean(a.error_kind, 30)}): {clean(a.error_message, 400)}", ""))
            lines.append("")
            continue
        shown = [p for p in a.problems if at_or_above(p.severity, min_severity)]
        counts = count_by_severity(a.problems)
        took = f", audit took {a.facts.audit_ms / 1000:.1f} s" if a.facts else ""
        lines.append(f"{host}: {counts[CRITICAL]} critical, {counts[WARNING]} warning, {counts[INFO]} info{took}")
        for p in shown:
            where = clean(p.vm_name, 30) if p.vm_name else "(host)"
            tag = " [host BPA]" if p.origin == "host-bpa" else ""
            head = f"  {_SHORT[p.severity]}  {p.rule:<31} {where}{tag}"
            lines.append(head[:WIDTH])
            lines.extend(_wrap(clean(p.evidence, 1000), "        "))
            if show_fix:
                lines.extend(_wrap("fix: " + clean(p.fix, 600), "        "))
        for s in (a.judgement.skipped if a.judgement else ()):
            lines.extend(_wrap("not judged: " + clean(s, 400), "  "))
        lines.append("")
    total = count_by_severity(p for a in audits for p in a.problems)
    lines.append(f"{len(audits)} host(s): {total[CRITICAL]} critical, {total[WARNING]} warning, {total[INFO]} info")
    return "\n".join(lines)
