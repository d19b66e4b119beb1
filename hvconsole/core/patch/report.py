"""The verification report of a patch run: per host the evidence that it is fixed, as JSON
and as one self-contained HTML page (no scripts, no external files).

Everything in it comes from the journal (what each step recorded from the hosts), so the
report can be rebuilt at any time, also after a crash. Every value that reached us from a
host or a user (VM and host names, messages) is HTML-escaped where it is written: the page
never interprets host data.
"""

from __future__ import annotations

import html
import json
from dataclasses import asdict, dataclass, field
from typing import Any

from ..timeutil import format_time, utcnow
from .journal import Journal, StepRecord
from .steps import STEPS, prior_vm_states

REPORT_SCHEMA = "hvconsole.patch-report/1"


@dataclass
class HostReport:
    host: str
    status: str = "not started"        # verified | failed | in progress | not started | cancelled
    build_before: str | None = None
    build_after: str | None = None
    last_boot_before: str | None = None
    last_boot_after: str | None = None
    install_exit_code: int | None = None
    install_meaning: str | None = None
    package_sha256: str | None = None
    vms_before: list[dict[str, Any]] = field(default_factory=list)
    vms_after: list[dict[str, Any]] = field(default_factory=list)
    checks: list[dict[str, Any]] = field(default_factory=list)
    soak_findings: list[dict[str, Any]] = field(default_factory=list)
    steps: list[dict[str, Any]] = field(default_factory=list)


def build_report(journal: Journal, run_id: int) -> dict[str, Any]:
    """The report document of one run (JSON-ready)."""
    run = journal.run(run_id)
    records = journal.steps(run_id)
    hosts = [h for w in run.plan.get("waves", []) for h in w.get("hosts", [])]
    for r in records:
        if r.host not in hosts and r.host != "*":
            hosts.append(r.host)
    reports = [_host_report(h, [r for r in records if r.host == h]) for h in hosts]
    return {
        "schema": REPORT_SCHEMA,
        "run": run_id,
        "kb": run.kb,
        "state": run.state,
        "created_at": format_time(run.created_at),
        "generated_at": format_time(utcnow()),
        "plan": run.plan,
        "hosts": [asdict(r) for r in reports],
        "summary": {
            "hosts": len(reports),
            "verified": sum(r.status == "verified" for r in reports),
            "failed": sum(r.status == "failed" for r in reports),
        },
    }


def _host_report(host: str, records: list[StepRecord]) -> HostReport:
    rep = HostReport(host=host)
    for r in records:
        rep.steps.append({"step": r.step, "attempt": r.attempt, "outcome": r.outcome or "in flight",
                          "started_at": format_time(r.started_at),
                          "finished_at": format_time(r.finished_at) if r.finished_at else None,
                          "summary": (r.evidence or {}).get("summary", "")})
        ev = r.evidence or {}
        if r.step == "preflight" and r.outcome == "ok":
            rep.build_before = ev.get("build")
            rep.last_boot_before = ev.get("last_boot")
        elif r.step == "stage" and r.outcome == "ok":
            rep.package_sha256 = ev.get("sha256")
        elif r.step == "install" and r.outcome is not None:
            rep.install_exit_code = ev.get("exit_code")
            rep.install_meaning = ev.get("meaning")
        elif r.step == "verify" and r.outcome is not None:
            rep.build_after = ev.get("build")
            rep.last_boot_after = ev.get("last_boot")
            rep.checks = list(ev.get("checks", []))
        elif r.step == "postcheck" and r.outcome is not None:
            rep.vms_after = list(ev.get("vms", []))
            rep.soak_findings = list(ev.get("findings", []))
    rep.vms_before = [asdict(p) for p in prior_vm_states(records).values()]
    rep.status = _status(records)
    return rep


def _status(records: list[StepRecord]) -> str:
    """Decided by the latest attempt of each step: a failed attempt that a retry fixed is
    history (it stays in the step table), not the host's status."""
    if not records:
        return "not started"
    latest: dict[str, StepRecord] = {}
    for r in records:  # journal order: later attempts overwrite earlier ones
        latest[r.step] = r
    outcomes = {r.outcome for r in latest.values()}
    if "failed" in outcomes:
        return "failed"
    if "cancelled" in outcomes:
        return "cancelled"
    ok = {step for step, r in latest.items() if r.outcome in ("ok", "skipped")}
    if "verify" in ok and all(s in ok for s in STEPS):
        return "verified"
    return "in progress"


# -- HTML ----------------------------------------------------------------------------------

_CSS = """
body{font:14px/1.4 "Segoe UI",system-ui,sans-serif;margin:24px;color:#1b1b1b}
h1{font-size:20px}h2{font-size:16px;margin-top:28px;border-bottom:1px solid #ccc}
table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #ccc;padding:3px 8px;text-align:left;vertical-align:top}
th{background:#f3f3f3}.verified{color:#0a7a2f;font-weight:600}.failed{color:#b00020;font-weight:600}
.pass{color:#0a7a2f}.fail{color:#b00020}.muted{color:#666}
"""


def render_html(report: dict[str, Any]) -> str:
    """A self-contained page. ``e()`` escapes every value; nothing from a host is markup."""
    e = _e
    s = report["summary"]
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        "<meta http-equiv='Content-Security-Policy' content=\"default-src 'none'; style-src 'unsafe-inline'\">",
        f"<title>Patch report {e(report['kb'])} run {e(report['run'])}</title><style>{_CSS}</style></head><body>",
        f"<h1>Patch verification report: {e(report['kb'])}</h1>",
        f"<p>Run {e(report['run'])}, state <b>{e(report['state'])}</b>. Created {e(report['created_at'])}, "
        f"report generated {e(report['generated_at'])}.</p>",
        f"<p>{e(s['verified'])} of {e(s['hosts'])} hosts verified fixed; {e(s['failed'])} failed.</p>",
        "<table><tr><th>Host</th><th>Status</th><th>Build before</th><th>Build after</th>"
        "<th>Installer</th><th>Package SHA-256</th></tr>",
    ]
    for h in report["hosts"]:
        parts.append(
            f"<tr><td>{e(h['host'])}</td><td class='{_cls(h['status'])}'>{e(h['status'])}</td>"
            f"<td>{e(h['build_before'])}</td><td>{e(h['build_after'])}</td>"
            f"<td>{e(h['install_exit_code'])} {e(h['install_meaning'])}</td>"
            f"<td class='muted'>{e(h['package_sha256'])}</td></tr>")
    parts.append("</table>")
    for h in report["hosts"]:
        parts.append(f"<h2>{e(h['host'])}: <span class='{_cls(h['status'])}'>{e(h['status'])}</span></h2>")
        parts.append(f"<p>Last boot before {e(h['last_boot_before'])}, after {e(h['last_boot_after'])}.</p>")
        if h["checks"]:
            parts.append("<table><tr><th>Check</th><th>Result</th><th>Detail</th></tr>")
            for c in h["checks"]:
                ok = bool(c.get("passed"))
                parts.append(f"<tr><td>{e(c.get('check'))}</td><td class='{'pass' if ok else 'fail'}'>"
                             f"{'pass' if ok else 'FAIL'}</td><td>{e(c.get('detail'))}</td></tr>")
            parts.append("</table>")
        after = {v.get("id"): v.get("state") for v in h["vms_after"]}
        if h["vms_before"]:
            parts.append("<table><tr><th>VM</th><th>Before</th><th>After</th></tr>")
            for v in h["vms_before"]:
                parts.append(f"<tr><td>{e(v['name'])}</td><td>{e(v['state'])}</td>"
                             f"<td>{e(after.get(v['id'], 'not seen'))}</td></tr>")
            parts.append("</table>")
        if h["soak_findings"]:
            parts.append("<p>Findings during soak:</p><ul>")
            parts += [f"<li>{e(f.get('severity'))} {e(f.get('kind'))} {e(f.get('vm_name'))}: "
                      f"{e('; '.join(f.get('evidence', [])))}</li>" for f in h["soak_findings"]]
            parts.append("</ul>")
        parts.append("<table><tr><th>Step</th><th>Attempt</th><th>Outcome</th><th>Started</th><th>Finished</th>"
                     "<th>Summary</th></tr>")
        parts += [f"<tr><td>{e(st['step'])}</td><td>{e(st['attempt'])}</td><td>{e(st['outcome'])}</td>"
                  f"<td>{e(st['started_at'])}</td><td>{e(st['finished_at'])}</td><td>{e(st['summary'])}</td></tr>"
                  for st in h["steps"]]
        parts.append("</table>")
    parts.append("<h2>Plan</h2><pre>" + e(json.dumps(report["plan"], indent=2, ensure_ascii=False)) + "</pre>")
    parts.append("</body></html>")
    return "\n".join(parts)


def _e(value: Any) -> str:
    return "—" if value is None else html.escape(str(value), quote=True)


def _cls(status: str) -> str:
    return {"verified": "verified", "failed": "failed"}.get(status, "muted")
