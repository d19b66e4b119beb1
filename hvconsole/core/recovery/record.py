"""The incident record: what happened to one VM from the first evidence of the freeze to
the verified recovery, for the admin's change or incident process. JSON (the data) and a
self-contained HTML page (the same data for people). Everything that came from a host or
a user (VM names, event texts, error messages) is escaped in the HTML and is only ever
data in the JSON: a VM called ``<script>`` shows as that text."""

from __future__ import annotations

import html
import json
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

from ..atomic_file import atomic_write_text
from ..timeutil import format_time, parse_time
from .journal import Action, Incident
from .rules import TITLES

SCHEMA = "hvconsole-recovery-incident-v1"
_LAST = parse_time("9999-12-31T00:00:00Z")   # an unreadable time sorts last


def build_record(incident: Incident, actions: Iterable[Action]) -> dict[str, Any]:
    acts = list(actions)
    timeline: list[dict[str, Any]] = []
    finding = dict(incident.finding) if incident.finding else None
    if finding and finding.get("first_seen"):
        timeline.append({"at": finding["first_seen"], "what": "first evidence of the problem (the console's finding)",
                         "detail": "; ".join(str(e) for e in finding.get("evidence") or [])})
    first_event = _first_vm_event(acts)
    if first_event is not None:
        timeline.append({"at": first_event.get("time"), "what": f"host event {first_event.get('id')}",
                         "detail": str(first_event.get("message") or "")})
    timeline.append({"at": format_time(incident.created_at), "what": f"recovery opened by {incident.who}",
                     "detail": ""})
    for a in acts:
        evidence = dict(a.evidence or {})
        timeline.append({"at": format_time(a.started_at), "what": f"{TITLES.get(a.step, a.step)}: started",
                         "detail": str(a.intent.get("why") or "")})
        if a.finished_at is not None:
            timeline.append({"at": format_time(a.finished_at), "what": f"{TITLES.get(a.step, a.step)}: {a.outcome}",
                             "detail": str(evidence.get("summary") or "")})
    if incident.closed_at is not None:
        timeline.append({"at": format_time(incident.closed_at), "what": f"incident {incident.state}",
                         "detail": incident.summary})
    timeline.sort(key=lambda row: _sort_time(row["at"]))
    before = next((dict(a.evidence.get("observation") or {})
                   for a in acts if a.evidence and a.evidence.get("observation")), None)
    after = next((dict(a.evidence.get("observation") or {}) for a in reversed(acts)
                  if a.evidence and a.evidence.get("observation")), None)
    return {
        "schema": SCHEMA,
        "incident": {"id": incident.id, "host": incident.host, "vm_id": incident.vm_id, "vm_name": incident.vm_name,
                     "who": incident.who, "opened": format_time(incident.created_at), "state": incident.state,
                     "closed": None if incident.closed_at is None else format_time(incident.closed_at),
                     "summary": incident.summary},
        "finding": finding,
        "before": before,
        "after": after,
        "steps": [{"step": a.step, "title": TITLES.get(a.step, a.step), "intent": a.intent,
                   "started": format_time(a.started_at), "outcome": a.outcome, "evidence": a.evidence,
                   "finished": None if a.finished_at is None else format_time(a.finished_at)} for a in acts],
        "timeline": timeline,
    }


def _first_vm_event(actions: list[Action]) -> dict[str, Any] | None:
    for a in actions:
        events = (a.evidence or {}).get("events") or []
        if events:
            return dict(min(events, key=lambda e: _sort_time(e.get("time"))))
    return None


def _sort_time(text: object) -> datetime:
    try:
        return parse_time(str(text))
    except (TypeError, ValueError):
        return _LAST


def to_json(record: dict[str, Any]) -> str:
    return json.dumps(record, ensure_ascii=False, indent=2, sort_keys=False, default=str)


def _e(value: object) -> str:
    return html.escape("" if value is None else str(value), quote=True)


_RECORD_CSS = ("body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
               "td,th{border:1px solid #bbb;padding:3px 6px;text-align:left;vertical-align:top}")


def to_html(record: dict[str, Any]) -> str:
    inc = record["incident"]
    title = f"Recovery of {inc['vm_name'] or inc['vm_id']} on {inc['host']} (incident {inc['id']})"
    rows = "\n".join(f"<tr><td>{_e(r['at'])}</td><td>{_e(r['what'])}</td><td>{_e(r['detail'])}</td></tr>"
                     for r in record["timeline"])
    steps = "\n".join(
        f"<tr><td>{_e(s['title'])}</td><td>{_e(s['outcome'] or 'in flight')}</td><td>{_e(s['started'])}</td>"
        f"<td>{_e(s['finished'])}</td><td>{_e((s['evidence'] or {}).get('summary'))}</td></tr>"
        for s in record["steps"])

    def state_table(label: str, obs: dict[str, Any] | None) -> str:
        if not obs:
            return f"<h2>{_e(label)}</h2><p>not read</p>"
        cells = "\n".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in obs.items())
        return f"<h2>{_e(label)}</h2><table>{cells}</table>"

    finding = record.get("finding")
    finding_html = "<p>opened without a finding</p>" if not finding else (
        f"<p>{_e(finding.get('kind'))} ({_e(finding.get('severity'))}), first seen {_e(finding.get('first_seen'))}</p>"
        "<ul>" + "".join(f"<li>{_e(e)}</li>" for e in finding.get("evidence") or []) + "</ul>")
    closed = "; closed " + _e(inc["closed"]) if inc["closed"] else ""
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<title>{_e(title)}</title>
<style>{_RECORD_CSS}</style>
</head><body>
<h1>{_e(title)}</h1>
<p>Opened {_e(inc['opened'])} by {_e(inc['who'])}; state: <b>{_e(inc['state'])}</b>{closed}.</p>
<p>{_e(inc['summary'])}</p>
<h2>Finding</h2>
{finding_html}
<h2>Timeline</h2>
<table><tr><th>When (UTC)</th><th>What</th><th>Detail</th></tr>
{rows}
</table>
<h2>Steps</h2>
<table><tr><th>Step</th><th>Outcome</th><th>Started</th><th>Finished</th><th>Result</th></tr>
{steps}
</table>
{state_table('Before', record.get('before'))}
{state_table('After', record.get('after'))}
</body></html>
"""


def write_record(record: dict[str, Any], folder: Path) -> tuple[Path, Path]:
    """``incident-<id>.json`` and ``.html`` in ``folder`` (written atomically)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    base = folder / f"incident-{int(record['incident']['id'])}"
    json_path, html_path = base.with_suffix(".json"), base.with_suffix(".html")
    atomic_write_text(json_path, to_json(record))
    atomic_write_text(html_path, to_html(record))
    return json_path, html_path
