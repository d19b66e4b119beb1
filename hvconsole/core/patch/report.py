"""The verification report of a patch run: per host the evidence that it is fixed, as JSON
and as one self-contained HTML page (no scripts, no external files).

Everything in it comes from the journal (what each step recorded from the hosts), so the
report can be rebuilt at any time, also after a crash.

Two clocks meet in a run and the report names one of them at every time it shows:

* the **console clock**: the PC running hvconsole, when it wrote a step's intent and
  outcome, created the run, generated the report;
* the **host clock**: a host's own time as the host reported it (its last boot, when its
  installer started and finished). A host's clock may be off; a simulated site's runs
  faster than real time. So a host's "last boot after" can lie after the report's own time.

Every time is written the same way, ``YYYY-MM-DD HH:MM:SS UTC`` (so two times of one clock
compare as text). The JSON document's ``clocks`` says which clock each time field is on;
the HTML page says it in every sentence and column header that shows a time.

Every value that reached us from a host or a user (VM and host names, messages) is
HTML-escaped where it is written, and control and bidi characters in it are shown
visibly (``\\u202e``, ``\\u001b``) instead of reordering or hiding text: the page never
interprets host data.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..timeutil import parse_time, utcnow
from .journal import Journal, StepRecord
from .steps import STEPS, prior_vm_states

REPORT_SCHEMA = "hvconsole.patch-report/2"
TIME_FORMAT = "%Y-%m-%d %H:%M:%S UTC"
CONSOLE, HOST = "console", "host"
SIMULATED_NOTE = ("Simulated site: this run patched the hvconsole demo's simulated hosts; no real host "
                  "was touched. Their clocks run faster than real time.")
PENDING_REBOOT_ADVICE = ("The update is installed on these hosts but takes effect only when they restart, "
                         "and they still run the old build until then. Restart each in a maintenance window "
                         "(move or save its VMs first), then confirm with `hvconsole patch check --kb {kb}`.")


def report_time(value: datetime | str | None) -> str | None:
    """One format for every time in the report: ``2026-12-07 04:45:00 UTC``. A value that
    is not a time is returned as it is (the evidence says what the host said)."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        text = value
        try:
            value = parse_time(text)
        except ValueError:
            return text
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime(TIME_FORMAT)


# Which clock every time field of the report document is on (also written into it).
TIME_FIELDS = {
    "created_at": CONSOLE, "generated_at": CONSOLE,
    "hosts[].steps[].started_at": CONSOLE, "hosts[].steps[].finished_at": CONSOLE,
    "hosts[].last_boot_before": HOST, "hosts[].last_boot_after": HOST,
    "hosts[].install_started": HOST, "hosts[].install_finished": HOST,
    "hosts[].health.before.audited_at": CONSOLE, "hosts[].health.after.audited_at": CONSOLE,
    "plan_table: Maintenance window": "UTC as the admin planned it",
}


@dataclass
class HostReport:
    host: str
    status: str = "not started"        # verified | failed | in progress | not started | cancelled
    wave: str | None = None
    pending_reboot: bool = False       # installed, restart not done (a cancel or a failed restart)
    pending_reboot_reason: str | None = None
    build_before: str | None = None
    build_after: str | None = None
    last_boot_before: str | None = None       # host clock
    last_boot_after: str | None = None        # host clock
    install_started: str | None = None        # host clock
    install_finished: str | None = None       # host clock
    install_exit_code: int | None = None
    install_meaning: str | None = None
    package_sha256: str | None = None
    vms_before: list[dict[str, Any]] = field(default_factory=list)
    vms_after: list[dict[str, Any]] = field(default_factory=list)
    checks: list[dict[str, Any]] = field(default_factory=list)
    soak_findings: list[dict[str, Any]] = field(default_factory=list)
    steps: list[dict[str, Any]] = field(default_factory=list)   # started/finished: console clock
    # The health check (issue 14) at preflight and at postcheck (restarted, VMs restored).
    health: dict[str, Any] | None = None


def build_report(journal: Journal, run_id: int, *, simulated: bool | None = None) -> dict[str, Any]:
    """The report document of one run (JSON-ready). ``simulated``: the run patched the
    simulated demo site; every rendering then says so. None (the default) decides from the
    journal: the demo's own journal (``paths.patch_journal_path(demo=True)``) holds only
    simulated runs; a plan that carries ``"simulated": true`` is one too."""
    run = journal.run(run_id)
    records = journal.steps(run_id)
    plan = run.plan if isinstance(run.plan, Mapping) else {}
    if simulated is None:
        simulated = _is_demo_journal(journal) or bool(plan.get("simulated"))
    waves = [w for w in plan.get("waves", []) if isinstance(w, Mapping)]
    wave_of = {h: str(w.get("name") or "wave") for w in waves for h in w.get("hosts", []) if isinstance(h, str)}
    hosts = list(wave_of)
    for r in records:
        if r.host not in hosts and r.host != "*":
            hosts.append(r.host)
    reports = [_host_report(h, wave_of.get(h), [r for r in records if r.host == h]) for h in hosts]
    return {
        "schema": REPORT_SCHEMA,
        "run": run_id,
        "kb": run.kb,
        "state": run.state,
        "reason": getattr(run, "reason", "") or "",
        "simulated": simulated,
        "site": "simulated site" if simulated else "configured hosts",
        "clocks": {CONSOLE: "the clock of the PC running hvconsole (when it acted and saw answers)",
                   HOST: "each host's own clock, as the host reported it",
                   "fields": dict(TIME_FIELDS)},
        "created_at": report_time(run.created_at),
        "generated_at": report_time(utcnow()),
        "plan": plan,
        "plan_table": plan_rows(plan),
        "hosts": [asdict(r) for r in reports],
        "pending_reboot": [r.host for r in reports if r.pending_reboot],
        "summary": {
            "hosts": len(reports),
            "verified": sum(r.status == "verified" for r in reports),
            "failed": sum(r.status == "failed" for r in reports),
        },
    }


_ISO_TIME = re.compile(r"\b\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:?\d\d)?")


def _times_in_text(text: object) -> Any:
    """ISO times inside an evidence sentence ("last boot 2026-12-07T05:08:34.509+00:00")
    in the report's one format; anything that is not text is returned as it is."""
    if not isinstance(text, str):
        return text
    return _ISO_TIME.sub(lambda m: report_time(m.group()) or m.group(), text)


def _is_demo_journal(journal: Journal) -> bool:
    from hvconsole import paths  # where the demo keeps its journal; no I/O beyond resolving
    try:
        return Path(journal.path).resolve() == paths.patch_journal_path(demo=True).resolve()
    except (OSError, RuntimeError):
        return False


def _host_report(host: str, wave: str | None, records: list[StepRecord]) -> HostReport:
    rep = HostReport(host=host, wave=wave)
    before: Mapping[str, Any] | None = None
    after: Mapping[str, Any] | None = None
    for r in records:
        ev = r.evidence or {}
        rep.steps.append({"step": r.step, "attempt": r.attempt, "outcome": r.outcome or "in flight",
                          "started_at": report_time(r.started_at),
                          "finished_at": report_time(r.finished_at),
                          "summary": _times_in_text(ev.get("summary", ""))})
        if isinstance(ev.get("health_before"), Mapping) and r.step == "preflight":
            before = ev["health_before"]
        if isinstance(ev.get("health_after"), Mapping) and r.step == "postcheck":
            after = ev["health_after"]
        if r.step == "preflight" and r.outcome == "ok":
            rep.build_before = ev.get("build")
            rep.last_boot_before = report_time(ev.get("last_boot"))
        elif r.step == "stage" and r.outcome == "ok":
            rep.package_sha256 = ev.get("sha256")
        elif r.step == "install" and r.outcome is not None:
            rep.install_exit_code = ev.get("exit_code")
            rep.install_meaning = ev.get("meaning")
            rep.install_started = report_time(ev.get("started_at"))
            rep.install_finished = report_time(ev.get("finished_at"))
        elif r.step == "verify" and r.outcome is not None:
            rep.build_after = ev.get("build")
            rep.last_boot_after = report_time(ev.get("last_boot"))
            rep.checks = [dict(c, detail=_times_in_text(c.get("detail"))) if isinstance(c, Mapping) else c
                          for c in ev.get("checks", [])]
        elif r.step == "postcheck" and r.outcome is not None:
            rep.vms_after = list(ev.get("vms", []))
            rep.soak_findings = list(ev.get("findings", []))
    rep.vms_before = [asdict(p) for p in prior_vm_states(records).values()]
    rep.health = health_comparison(before, after) if before is not None or after is not None else None
    rep.status = _status(records)
    rep.pending_reboot_reason = pending_reboot(records)
    rep.pending_reboot = rep.pending_reboot_reason is not None
    return rep


_SEVERITY_ORDER = {"critical": 0, "warning": 1, "info": 2}


def health_comparison(before: Mapping[str, Any] | None, after: Mapping[str, Any] | None) -> dict[str, Any]:
    """What the patch changed in the host's health check: the problems it ``fixed`` (in
    the audit before, gone after), the ``new`` ones and those ``still`` there, with counts.

    ``before``/``after`` are the audit summaries the preflight and postcheck steps journaled
    (``patch.audit_step``); the matching is ``core.health.compare.compare_audits``'s, on
    the stored summaries: a problem is the same when rule, VM (its id; the name if an
    older journal has no id) and title are, whatever its evidence numbers now say. The
    lists stay empty unless both audits answered: a failed audit proves nothing."""
    def usable(s: Mapping[str, Any] | None) -> bool:
        return s is not None and bool(s.get("reachable")) and s.get("available", True) is not False

    def problems(s: Mapping[str, Any] | None) -> list[Mapping[str, Any]]:
        return [p for p in (s or {}).get("problems") or [] if isinstance(p, Mapping)]

    def key(p: Mapping[str, Any]) -> tuple[str, str, str]:
        return (str(p.get("rule")), str(p.get("vm_id") or p.get("vm_name") or ""), str(p.get("title")))

    def order(p: Mapping[str, Any]) -> tuple[int, str, str]:
        return (_SEVERITY_ORDER.get(str(p.get("severity")), 3), str(p.get("vm_name") or ""), str(p.get("rule")))

    def brief(p: Mapping[str, Any]) -> dict[str, Any]:
        return {k: p.get(k) for k in ("rule", "severity", "vm_name", "title", "evidence")}

    def side(s: Mapping[str, Any] | None) -> dict[str, Any] | None:
        if s is None:
            return None
        return {"available": usable(s), "audited_at": report_time(s.get("audited_at")),
                "text": s.get("text") or (None if usable(s) else f"audit not available: {s.get('error')}"),
                "problems": [brief(p) for p in problems(s)]}

    out: dict[str, Any] = {"before": side(before), "after": side(after), "compared": False,
                           "fixed": [], "new": [], "still": [], "counts": {"fixed": 0, "new": 0, "still": 0}}
    if not (usable(before) and usable(after)):
        missing = [name for name, s in (("before", before), ("after", after)) if not usable(s)]
        out["note"] = "not compared: no audit " + " and ".join(missing) + " the update"
        return out
    old = {key(p): p for p in problems(before)}
    new = {key(p): p for p in problems(after)}
    out["compared"] = True
    out["fixed"] = [brief(p) for p in sorted((old[k] for k in old.keys() - new.keys()), key=order)]
    out["new"] = [brief(p) for p in sorted((new[k] for k in new.keys() - old.keys()), key=order)]
    out["still"] = [brief(p) for p in sorted((new[k] for k in new.keys() & old.keys()), key=order)]
    out["counts"] = {name: len(out[name]) for name in ("fixed", "new", "still")}
    return out


def pending_reboot(records: Iterable[StepRecord]) -> str | None:
    """Why the host is installed but not restarted, or None. From the journal alone: the
    latest install succeeded and asked for a restart, and no restart succeeded after it
    (a cancel between install and reboot, or a restart that failed)."""
    install: StepRecord | None = None
    reboot: StepRecord | None = None
    for r in records:                                   # journal order
        if r.step == "install" and r.outcome == "ok":
            install, reboot = r, None
        elif r.step == "reboot" and install is not None:
            reboot = r
    if install is None:
        return None
    ev = install.evidence or {}
    if ev.get("needs_reboot") is False or ev.get("already"):
        return None
    if reboot is None:
        return "installed; the run stopped before the restart"
    if reboot.outcome == "ok":
        return None
    if reboot.outcome is None:
        return "installed; the restart was under way when the journal was last written"
    summary = str((reboot.evidence or {}).get("summary") or "").strip()
    return f"installed; restart {reboot.outcome}" + (f": {summary}" if summary else "")


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


# -- the plan as a table -------------------------------------------------------------------

def plan_rows(plan: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The plan as (what, value) rows an admin reads: waves and hosts, package, VM
    handling, soak and health gate, window. Reads the stored plan defensively: a plan
    written by another version still gives a table."""
    rows: list[tuple[str, str]] = []
    waves = [w for w in plan.get("waves", []) if isinstance(w, Mapping)]
    for i, w in enumerate(waves):
        hosts = ", ".join(str(h) for h in w.get("hosts", []))
        ring = "test ring (pilot)" if i == 0 else f"production wave {i}"
        rows.append((f"Wave {i + 1}: {w.get('name') or 'wave'}",
                     f"{ring}: {hosts}; {w.get('parallel', 1)} host(s) at a time"))
    pkg = plan["package"] if isinstance(plan.get("package"), Mapping) else {}
    kind = {"smb-push": "pushed from this PC over SMB", "on-host": "already on each host",
            "url": "downloaded by each host"}.get(str(pkg.get("kind")), str(pkg.get("kind") or "?"))
    rows.append(("Package", f"{kind}: {pkg.get('location') or 'the catalog default'}"
                 + (f" (SHA-256 {pkg['sha256']})" if pkg.get("sha256") else "")))
    rows.append(("VM handling", _handling(plan.get("vm_default")) + " (default for running VMs)"))
    overrides = plan["vm_overrides"] if isinstance(plan.get("vm_overrides"), Mapping) else {}
    for vm_id, handling in overrides.items():
        rows.append((f"VM {vm_id}", _handling(handling)))
    gate = plan["gate"] if isinstance(plan.get("gate"), Mapping) else {}
    conditions = [text for key, text in (("no_critical_findings", "no critical findings"),
                                         ("heartbeats_back", "heartbeats back"),
                                         ("vms_in_prior_state", "VMs in their prior state")) if gate.get(key)]
    rows.append(("Soak after the test ring", f"{_num(gate.get('soak_minutes', 30))} min; production waits for "
                 + (", ".join(conditions) if conditions else "the soak to end")))
    if "confirm_promotion" in plan:
        rows.append(("Promotion to production", "the admin confirms after the soak" if plan.get("confirm_promotion")
                     else "automatic when the soak passes"))
    rows.append(("Maintenance window", f"starts {report_time(plan.get('window_start'))}"
                 if plan.get("window_start") else "not set (runs when started)"))
    rows.append(("On a failure",
                 "stop the wave" if plan.get("stop_on_failure", True) else "go on with the other hosts"))
    rows.append(("Restart timeout", f"{_num(float(plan.get('reboot_timeout_s', 1800)) / 60)} min (host clock)"))
    return rows


def _handling(value: object) -> str:
    if not isinstance(value, Mapping):
        return "save"
    action = str(value.get("action") or "save")
    text = {"live-migrate": "live-migrate", "save": "save", "shutdown": "shut down",
            "host-default": "the host's automatic stop action"}.get(action, action)
    return f"{text} to {value['destination']}" if value.get("destination") else text


def _num(value: Any) -> str:
    try:
        return f"{float(value):g}"
    except (TypeError, ValueError):
        return str(value)


# -- HTML ----------------------------------------------------------------------------------

_CSS = """
body{font:14px/1.4 "Segoe UI",system-ui,sans-serif;margin:24px;color:#1b1b1b}
h1{font-size:20px}h2{font-size:16px;margin-top:28px;border-bottom:1px solid #ccc}
table{border-collapse:collapse;margin:8px 0}
td,th{border:1px solid #ccc;padding:3px 8px;text-align:left;vertical-align:top}
th{background:#f3f3f3}.verified{color:#0a7a2f;font-weight:600}.failed{color:#b00020;font-weight:600}
.pass{color:#0a7a2f}.fail{color:#b00020}.muted{color:#666}
.banner{padding:8px 12px;border:1px solid #c80;background:#fff6e0;font-weight:600}
.pending{padding:8px 12px;border:1px solid #b00020;background:#fdecee}
"""


def render_html(report: dict[str, Any]) -> str:
    """A self-contained page. ``e()`` escapes every value and shows control characters;
    nothing from a host is markup."""
    e = _e
    s = report["summary"]
    parts = [
        "<!DOCTYPE html>",
        "<html lang='en'><head><meta charset='utf-8'>",
        "<meta http-equiv='Content-Security-Policy' content=\"default-src 'none'; style-src 'unsafe-inline'\">",
        f"<title>Patch report {e(report['kb'])} run {e(report['run'])}"
        f"{' (simulated site)' if report.get('simulated') else ''}</title><style>{_CSS}</style></head><body>",
    ]
    if report.get("simulated"):
        parts.append(f"<p class='banner'>{e(SIMULATED_NOTE)}</p>")
    parts += [
        f"<h1>Patch verification report: {e(report['kb'])}</h1>",
        f"<p>Run {e(report['run'])}, state <b>{e(report['state'])}</b>"
        + (f" ({e(report['reason'])})" if report.get("reason") else "") + ". "
        f"Created {_t(report['created_at'], CONSOLE)}, report generated {_t(report['generated_at'], CONSOLE)}.</p>",
        f"<p>{e(s['verified'])} of {e(s['hosts'])} hosts verified fixed; {e(s['failed'])} failed"
        + (f"; <b>{len(report['pending_reboot'])} pending a restart</b>" if report.get("pending_reboot") else "")
        + ".</p>",
        "<p class='muted'>Times: <i>console clock</i> is this PC's clock (when hvconsole acted); "
        "<i>host clock</i> is each host's own clock, as the host reported it. All in UTC.</p>",
    ]
    pending = [h for h in report["hosts"] if h.get("pending_reboot")]
    if pending:
        parts.append("<div class='pending'><h2>Pending reboot</h2>")
        parts.append(f"<p>{e(PENDING_REBOOT_ADVICE.format(kb=report['kb']))}</p>")
        parts.append("<table><tr><th>Host</th><th>Installed (host clock)</th><th>Why not restarted</th></tr>")
        parts += [f"<tr><td>{e(h['host'])}</td><td>{_t(h.get('install_finished') or h.get('install_started'))}</td>"
                  f"<td>{e(h.get('pending_reboot_reason'))}</td></tr>" for h in pending]
        parts.append("</table></div>")
    parts.append("<table><tr><th>Host</th><th>Wave</th><th>Status</th><th>Build before</th><th>Build after</th>"
                 "<th>Installer</th><th>Package SHA-256</th></tr>")
    for h in report["hosts"]:
        status = h["status"] + (", pending reboot" if h.get("pending_reboot") else "")
        parts.append(
            f"<tr><td>{e(h['host'])}</td><td>{e(h.get('wave'))}</td>"
            f"<td class='{_cls(h['status'])}'>{e(status)}</td>"
            f"<td>{e(h['build_before'])}</td><td>{e(h['build_after'])}</td>"
            f"<td>{e(h['install_exit_code'])} {e(h['install_meaning'])}</td>"
            f"<td class='muted'>{e(h['package_sha256'])}</td></tr>")
    parts.append("</table>")
    for h in report["hosts"]:
        parts += _host_section(h)
    parts.append("<h2>Plan</h2><table><tr><th>What</th><th>As planned</th></tr>")
    parts += [f"<tr><td>{e(what)}</td><td>{e(value)}</td></tr>" for what, value in report.get("plan_table", [])]
    parts.append("</table>")
    if report.get("simulated"):
        parts.append(f"<p class='banner'>{e(SIMULATED_NOTE)}</p>")
    parts.append("</body></html>")
    return "\n".join(parts)


def _host_section(h: dict[str, Any]) -> list[str]:
    e = _e
    parts = [f"<h2>{e(h['host'])}: <span class='{_cls(h['status'])}'>{e(h['status'])}</span></h2>",
             "<table><tr><th>On the host</th><th>When (host clock)</th></tr>"]
    for what, key in (("Last boot before the update", "last_boot_before"), ("Installer started", "install_started"),
                      ("Installer finished", "install_finished"), ("Last boot after the update", "last_boot_after")):
        parts.append(f"<tr><td>{what}</td><td>{_t(h.get(key))}</td></tr>")
    parts.append("</table>")
    if h["checks"]:
        parts.append("<table><tr><th>Check</th><th>Result</th><th>Detail</th></tr>")
        for c in h["checks"]:
            ok = bool(c.get("passed"))
            parts.append(f"<tr><td>{e(c.get('check'))}</td><td class='{'pass' if ok else 'fail'}'>"
                         f"{'pass' if ok else 'FAIL'}</td><td>{e(c.get('detail'))}</td></tr>")
        parts.append("</table>")
    parts += _health_section(h.get("health"))
    after = {v.get("id"): v.get("state") for v in h["vms_after"] if isinstance(v, Mapping)}
    if h["vms_before"]:
        parts.append("<table><tr><th>VM</th><th>Before</th><th>After</th></tr>")
        for v in h["vms_before"]:
            parts.append(f"<tr><td>{e(v['name'])}</td><td>{e(v['state'])}</td>"
                         f"<td>{e(after.get(v['id'], 'not seen'))}</td></tr>")
        parts.append("</table>")
    if h["soak_findings"]:
        parts.append("<p>Findings during soak:</p><ul>")
        parts += [f"<li>{e(f.get('severity'))} {e(f.get('kind'))} {e(f.get('vm_name'))}: "
                  f"{e('; '.join(str(x) for x in f.get('evidence', [])))}</li>"
                  for f in h["soak_findings"] if isinstance(f, Mapping)]
        parts.append("</ul>")
    parts.append("<table><tr><th>Step</th><th>Attempt</th><th>Outcome</th><th>Started (console clock)</th>"
                 "<th>Finished (console clock)</th><th>Summary</th></tr>")
    parts += [f"<tr><td>{e(st['step'])}</td><td>{e(st['attempt'])}</td><td>{e(st['outcome'])}</td>"
              f"<td>{_t(st['started_at'])}</td><td>{_t(st['finished_at'])}</td><td>{e(st['summary'])}</td></tr>"
              for st in h["steps"]]
    parts.append("</table>")
    return parts


def _health_section(health: Mapping[str, Any] | None) -> list[str]:
    """The host's health check before and after the update: one line per audit, then the
    problems the update fixed, brought and left, each escaped like every host text."""
    e = _e
    if not isinstance(health, Mapping):
        return []
    parts = ["<h3>Health check before and after</h3>", "<table><tr><th>Audit</th><th>When (console clock)</th>"
             "<th>Result</th></tr>"]
    for label, key in (("Before (preflight)", "before"), ("After (post-check)", "after")):
        side = health.get(key)
        if isinstance(side, Mapping):
            parts.append(f"<tr><td>{label}</td><td>{_t(side.get('audited_at'))}</td><td>{e(side.get('text'))}</td></tr>")
        else:
            parts.append(f"<tr><td>{label}</td><td>—</td><td>not run</td></tr>")
    parts.append("</table>")
    if not health.get("compared"):
        parts.append(f"<p class='muted'>{e(health.get('note'))}</p>")
        return parts
    c = health.get("counts") or {}
    parts.append(f"<p>{e(c.get('fixed', 0))} fixed, {e(c.get('new', 0))} new, {e(c.get('still', 0))} still there.</p>")
    rows = [(label, p) for label, name in (("fixed", "fixed"), ("NEW", "new"), ("still", "still"))
            for p in health.get(name) or [] if isinstance(p, Mapping)]
    if rows:
        parts.append("<table><tr><th>Change</th><th>Severity</th><th>Rule</th><th>VM</th><th>Problem</th>"
                     "<th>Evidence</th></tr>")
        css = {"fixed": "pass", "NEW": "fail", "still": "muted"}
        parts += [f"<tr><td class='{css[label]}'>{label}</td><td>{e(p.get('severity'))}</td>"
                  f"<td>{e(p.get('rule'))}</td><td>{e(p.get('vm_name') or '(host)')}</td>"
                  f"<td>{e(p.get('title'))}</td><td>{e(p.get('evidence'))}</td></tr>" for label, p in rows]
        parts.append("</table>")
    return parts


# Control characters (C0, DEL, C1) and the invisible formatting characters that reorder or
# hide text (bidi embeddings, overrides and isolates, marks, zero-width characters, BOM).
_INVISIBLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]")
_LINE_BREAKS = re.compile("[\t\n\r]+")


def visible(text: str) -> str:
    """Host text with every control or bidi character shown as its ``\\uXXXX`` code
    (ESC → ``\\u001b``, RIGHT-TO-LEFT OVERRIDE → ``\\u202e``): the admin sees that a name
    holds one, and the page is not reordered by it. Tabs and line breaks become spaces."""
    return _INVISIBLE.sub(lambda m: f"\\u{ord(m.group()):04x}", _LINE_BREAKS.sub(" ", text))


def _e(value: object) -> str:
    return "—" if value is None else html.escape(visible(str(value)), quote=True)


def _t(value: object, clock: str | None = None) -> str:
    """A time as text; with ``clock`` "2026-12-07 04:45:00 UTC (host clock)", without it
    where the column header already names the clock."""
    if value is None:
        return "—"
    return _e(f"{value} ({clock} clock)" if clock else value)


def _cls(status: str) -> str:
    return {"verified": "verified", "failed": "failed"}.get(status, "muted")
