"""Plain-text views for ``hvconsole patch``: progress lines, the compliance table, the
catalog, a plan's review (actions per host, downtime), run lists and one run's status
(rendered from ``hvconsole.patch.run_view``, the same view the window draws).

Host-provided text is printed as data (control and bidi characters removed, so a VM name
cannot move the cursor or fake a line), never interpreted.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, TextIO

from hvconsole.core.catalog import Catalog
from hvconsole.core.compliance import Compliance
from hvconsole.core.patch.journal import Journal
from hvconsole.core.patch.vocabulary import HostStatus, Phase, ProgressEvent, RunState
from hvconsole.patch.text import clean

_MARKS = {Phase.START: "..", Phase.OK: "ok", Phase.FAILED: "FAILED", Phase.SKIPPED: "skip",
          Phase.CANCELLED: "cancel", Phase.INFO: "--"}


class ProgressPrinter:
    """One line per :class:`ProgressEvent`: console time (UTC), host, step, mark, text."""

    def __init__(self, out: TextIO):
        self.out = out

    def __call__(self, event: ProgressEvent) -> None:
        at = event.at.astimezone(UTC).strftime("%H:%M:%S")
        mark = _MARKS.get(event.phase, str(event.phase))
        self.out.write(f"{at}  {clean(event.host, 24):<8} {clean(event.step, 20):<15} {mark:<6} {clean(event.text)}\n")
        self.out.flush()


def table(rows: list[list[str]], header: list[str]) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(header, widths, strict=True)).rstrip()]
    lines += ["  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=False)).rstrip() for r in rows]
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


def review_text(plan: Any, review: Any) -> str:
    """What ``patch run`` will do, per host in execution order, with the estimated
    downtime: the text the admin confirms (or ``--dry-run`` prints)."""
    lines = [f"{plan.kb} on {len(plan.hosts)} host(s):"]
    lines += [f"  - {clean(a)}" for a in review.run_actions]
    names = {vm.id: vm.name for vm in review.affected_vms}
    for wave in plan.waves:
        for host in wave.hosts:
            minutes = review.downtime_minutes.get(f"host:{host}")
            est = f" (about {minutes:.0f} min)" if minutes is not None else ""
            lines.append(f"\n{clean(host, 40)} [{clean(wave.name, 30)}]{est}:")
            lines += [f"  {i}. {clean(a)}" for i, a in enumerate(review.actions.get(host, []), start=1)]
    down = sorted(((names.get(vm_id, vm_id), m) for vm_id, m in review.downtime_minutes.items()
                   if not vm_id.startswith("host:") and m > 0), key=lambda x: (-x[1], x[0].lower()))
    if down:
        lines.append("\nVM downtime (" + review.downtime_note + "):")
        shown = down[:15]
        lines += [f"  {clean(name, 40)}: about {m:.0f} min" for name, m in shown]
        if len(down) > len(shown):
            lines.append(f"  … and {len(down) - len(shown)} more")
    return "\n".join(lines)


def runs_text(journal: Journal) -> str:
    from hvconsole.patch.run_view import run_view
    rows = []
    for run in journal.runs():
        view = run_view(journal, run.id)
        done = sum(h.status == HostStatus.DONE for h in view.hosts)
        failed = sum(h.status == HostStatus.FAILED for h in view.hosts)
        pending = len(view.pending_reboot)
        rows.append([str(run.id), run.created_at.strftime("%Y-%m-%d %H:%M"), run.kb, str(view.state),
                     f"{done}/{len(view.hosts)} done, {failed} failed"
                     + (f", {pending} pending reboot" if pending else "")])
    return table(rows, ["RUN", "CREATED (UTC)", "KB", "STATE", "HOSTS"]) if rows else "no patch runs yet"


def run_text(view: Any, now: datetime | None = None) -> str:
    """One run from its :class:`~hvconsole.patch.run_view.RunView`."""
    who = (f"being executed by process {view.executing_pid}" if view.executing_pid
           else "no process is executing it" + (f"; `hvconsole patch resume {view.run_id}` continues it"
                                                if not view.finished else ""))
    lines = [f"run {view.run_id}: {view.kb}, {view.state} ({who}); {view.progress_fraction:.0%} done"]
    if view.reason:
        lines.append(f"  {clean(view.reason, 600)}")
    if view.state == RunState.AWAITING_PROMOTION:
        lines.append(f"  the test ring passed its soak: `hvconsole patch promote {view.run_id}` starts production, "
                     f"`hvconsole patch halt {view.run_id}` stops here")
    if view.soak is not None:
        s = view.soak
        if s.passed is None:
            left = f"{s.remaining_s / 60:.1f} min left" if s.remaining_s is not None else "running"
            lines.append(f"  soak ({', '.join(s.hosts)}): {left}, until "
                         f"{s.ends:%H:%M:%S} UTC; {clean(s.verdict_text, 300)}" if s.ends else
                         f"  soak: {left}; {clean(s.verdict_text, 300)}")
        else:
            lines.append(f"  soak: {'passed' if s.passed else 'FAILED'}: {clean(s.verdict_text, 400)}")
    rows = []
    for h in view.hosts:
        last = next((st for st in reversed(h.steps) if st.state != "pending"), None)
        took = f" {_elapsed(last.elapsed_s)}" if last and last.elapsed_s is not None else ""
        rows.append([clean(h.host, 30), clean(h.wave, 20), h.status + (" (reboot pending)" if h.pending_reboot else ""),
                     h.current_step or "-",
                     f"{last.step} {last.state}{took}" if last else "-",
                     clean(last.summary, 100) if last else ""])
    lines.append(table(rows, ["HOST", "WAVE", "STATUS", "NOW/NEXT", "LAST STEP", "SUMMARY"]))
    for h in view.pending_reboot:
        lines.append(f"! {clean(h.advice, 300)}")
    return "\n".join(lines)


def _elapsed(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.0f}s"
    if seconds < 3600:
        return f"{seconds // 60:.0f}m{seconds % 60:02.0f}s"
    return f"{seconds // 3600:.0f}h{(seconds % 3600) // 60:02.0f}m"


def report_text(report: dict[str, Any]) -> str:
    s = report["summary"]
    lines = [f"run {report['run']} {report['kb']}: {report['state']}; {s['verified']} of {s['hosts']} host(s) "
             f"verified, {s['failed']} failed"]
    if report.get("simulated"):
        # A demo run proves nothing about a real host: every rendering of its report says so.
        lines.append("  simulated site: the hvconsole demo's simulated hosts, no real host was touched")
    for h in report["hosts"]:
        lines.append(f"  {clean(h['host'], 30)}: {h['status']}; build {h['build_before'] or '?'} -> "
                     f"{h['build_after'] or '?'}; installer {h['install_exit_code']} "
                     f"{h['install_meaning'] or ''}".rstrip())
    for h in report["hosts"]:
        if isinstance(h.get("health"), dict):
            lines.append(f"  {clean(h['host'], 30)}: health {health_line(h['health'])}")
    for h in report["hosts"]:
        if h.get("pending_reboot"):
            lines.append(f"  {clean(h['host'], 30)}: installed, reboot pending: "
                         f"{clean(h.get('pending_reboot_reason') or 'restart it in a maintenance window')}")
    return "\n".join(lines)


def health_line(health: dict[str, Any]) -> str:
    """One line: the health check's change ("2 fixed, 0 new, 3 still (before: ...; after: ...)"),
    or why it was not compared."""
    def side(name: str) -> str:
        value = health.get(name)
        return clean(value.get("text") or "?", 160) if isinstance(value, dict) else "not run"
    both = f"before: {side('before')}; after: {side('after')}"
    if not health.get("compared"):
        return f"not compared ({both})"
    c = health.get("counts") or {}
    return f"{c.get('fixed', 0)} fixed, {c.get('new', 0)} new, {c.get('still', 0)} still ({both})"
