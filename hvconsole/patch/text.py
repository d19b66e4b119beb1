"""Plain-text views for the ``hvconsole patch`` commands: progress lines, the compliance
table, the catalog, run status. Host-provided text is printed as data (control characters
removed, so a VM name cannot move the cursor or fake a line), never interpreted."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Iterable, TextIO

from hvconsole.core.catalog import Catalog
from hvconsole.core.detector import text as detector_text
from hvconsole.core.compliance import Compliance
from hvconsole.core.patch.journal import Journal, RunRecord
from hvconsole.core.patch.report import build_report
from hvconsole.core.patch.steps import next_step

def clean(value: Any, limit: int = 300) -> str:
    """Host-provided text as one printable line (the detector CLI's rule: control and bidi
    characters become spaces, so a VM name cannot move the cursor or reorder a line)."""
    return detector_text.clean(str(value), limit)


class ProgressPrinter:
    """``progress(host, step, phase, text)`` → one line per event."""

    def __init__(self, out: TextIO):
        self.out = out

    def __call__(self, event: Any) -> None:
        host, step, phase, text = event.host, event.step, event.phase, event.text
        now = event.at.astimezone(timezone.utc).strftime("%H:%M:%S")
        mark = {"start": "..", "ok": "ok", "failed": "FAILED", "skipped": "skip", "cancelled": "cancel",
                "info": "--", "done": "DONE", "running": "--"}.get(phase, phase)
        self.out.write(f"{now}  {clean(host, 24):<8} {step:<15} {mark:<6} {clean(text)}\n")
        self.out.flush()


def table(rows: list[list[str]], header: list[str]) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(header, widths)).rstrip()]
    lines += ["  ".join(str(c).ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
    return "\n".join(lines)


def compliance_text(rows: Iterable[Compliance]) -> str:
    body = [[clean(c.host, 30), c.kb, c.status, c.running or "-", c.target or "-", clean(c.reason, 160)] for c in rows]
    return table(body, ["HOST", "KB", "STATUS", "RUNNING", "TARGET", "REASON"])


def catalog_text(catalog: Catalog) -> str:
    body = [[u.kb, u.released.isoformat(), u.kind, ", ".join(t.version for t in u.targets), clean(u.title, 80)]
            for u in catalog.updates]
    text = table(body, ["KB", "RELEASED", "KIND", "TARGETS", "TITLE"])
    for p in catalog.problems:
        text += f"\nskipped: {clean(p)}"
    return text


def runs_text(journal: Journal) -> str:
    rows = []
    for run in journal.runs():
        summary = build_report(journal, run.id)["summary"]
        rows.append([str(run.id), run.created_at.strftime("%Y-%m-%d %H:%M"), run.kb, run.state,
                     f"{summary['verified']}/{summary['hosts']} verified, {summary['failed']} failed"])
    return table(rows, ["RUN", "CREATED (UTC)", "KB", "STATE", "HOSTS"]) if rows else "no patch runs yet"


def run_text(journal: Journal, run: RunRecord, executing_pid: int | None) -> str:
    report = build_report(journal, run.id)
    who = (f"being executed by process {executing_pid}" if executing_pid
           else "no process is executing it" + (f"; `hvconsole patch resume {run.id}` continues it"
                                                if run.state in ("running", "paused", "cancelling", "planned") else ""))
    lines = [f"run {run.id}: {run.kb}, {run.state} ({who})"]
    rows = []
    for h in report["hosts"]:
        records = journal.steps(run.id, h["host"])
        last = records[-1] if records else None
        nxt = next_step(records) if records else "preflight"
        if h["status"] in ("failed", "cancelled", "verified"):
            nxt = None         # final for this run (a failed host is patched by a new run)
        rows.append([clean(h["host"], 30), h["status"], nxt or "-",
                     f"{last.step} {last.outcome or 'in flight'}" if last else "-",
                     clean((last.evidence or {}).get("summary", "") if last else "", 120)])
    lines.append(table(rows, ["HOST", "STATUS", "NEXT", "LAST STEP", "SUMMARY"]))
    return "\n".join(lines)


def report_text(report: dict[str, Any]) -> str:
    s = report["summary"]
    lines = [f"run {report['run']} {report['kb']}: {report['state']}; {s['verified']} of {s['hosts']} host(s) "
             f"verified, {s['failed']} failed"]
    for h in report["hosts"]:
        lines.append(f"  {clean(h['host'], 30)}: {h['status']}; build {h['build_before'] or '?'} -> "
                     f"{h['build_after'] or '?'}; installer {h['install_exit_code']} {h['install_meaning'] or ''}".rstrip())
    return "\n".join(lines)
