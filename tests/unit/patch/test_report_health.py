"""The patch report's health check before and after (issue 14): the summaries the preflight
and postcheck steps journal (``patch.audit_step.summary_of``) become per host what the update
fixed, brought and left, in the JSON, the HTML (escaped) and the terminal text."""

from __future__ import annotations

from datetime import UTC, datetime
from html.parser import HTMLParser

from hvconsole.cli.patch_text import report_text
from hvconsole.core.health import HostAudit, HostJudgement, Problem
from hvconsole.core.patch.journal import Journal
from hvconsole.core.patch.plan import PatchPlan, Wave
from hvconsole.core.patch.report import build_report, render_html
from hvconsole.core.patch.steps import STEPS
from hvconsole.patch.audit_step import summary_of

EVIL_HOST = "<script>alert(1)</script>"
EVIL_VM = "<img src=x onerror=alert(1)>\u202e"
AT = datetime(2026, 12, 7, 5, 0, tzinfo=UTC)


def _problem(rule: str, severity: str, vm_id: str | None, vm_name: str | None, evidence: str) -> Problem:
    return Problem(rule=rule, severity=severity, area="test", host=EVIL_HOST, vm_id=vm_id, vm_name=vm_name,
                   title=f"title of {rule}", evidence=evidence, fix="fix it", source="test")


def _audit(*problems: Problem) -> HostAudit:
    return HostAudit(EVIL_HOST, AT, judgement=HostJudgement(EVIL_HOST, tuple(problems)))


PENDING = _problem("pending-reboot-long", "warning", None, None, "a restart pending for 3 days")
CHECKPOINT = _problem("checkpoint-old", "warning", "vm-1", EVIL_VM, "checkpoint 40 days old")
TURNOFF = _problem("stop-action-turnoff", "critical", "vm-2", "SQL01", "stop action TurnOff")
GEN1 = _problem("generation-1", "info", "vm-3", "OLD01", "generation 1")


def _journal(tmp_path, before: HostAudit, after: HostAudit | None):
    j = Journal(tmp_path / "j.sqlite")
    plan = PatchPlan(kb="KB5061906", waves=(Wave("pilot", (EVIL_HOST,)),))
    run = j.create_run(plan.kb, plan.to_dict())
    for step in STEPS:
        sid = j.begin_step(run, EVIL_HOST, step, {})
        ev: dict = {"summary": f"{step} done"}
        if step == "preflight":
            ev.update(build="20348.3692", health_before=summary_of(before))
        if step == "verify":
            ev.update(build="20348.3695", checks=[])
        if step == "postcheck" and after is not None:
            ev["health_after"] = summary_of(after)
        j.finish_step(sid, "ok", ev)
    return j, run


class _Text(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)

    def handle_data(self, data):
        self.text.append(data)


def test_fixed_new_and_still_with_counts(tmp_path):
    # The VM is renamed between the audits: matched by its id, the problem is "still".
    renamed = _problem("checkpoint-old", "warning", "vm-1", "renamed", "checkpoint 41 days old")
    j, run = _journal(tmp_path, _audit(PENDING, CHECKPOINT, GEN1), _audit(renamed, GEN1, TURNOFF))
    health = build_report(j, run)["hosts"][0]["health"]
    assert health["compared"] is True
    assert health["counts"] == {"fixed": 1, "new": 1, "still": 2}
    assert [p["rule"] for p in health["fixed"]] == ["pending-reboot-long"]
    assert [(p["rule"], p["severity"], p["vm_name"]) for p in health["new"]] == [
        ("stop-action-turnoff", "critical", "SQL01")]
    # ordered by severity; the "still" entry shows the evidence as it is now
    assert [p["rule"] for p in health["still"]] == ["checkpoint-old", "generation-1"]
    assert health["still"][0]["evidence"] == "checkpoint 41 days old"
    assert health["before"]["text"] == "0 critical, 2 warning, 1 info"
    assert health["after"]["text"] == "1 critical, 1 warning, 1 info"
    assert health["before"]["audited_at"] == "2026-12-07 05:00:00 UTC"
    j.close()


def test_html_section_is_escaped(tmp_path):
    j, run = _journal(tmp_path, _audit(CHECKPOINT), _audit(TURNOFF))
    page = render_html(build_report(j, run))
    parser = _Text()
    parser.feed(page)
    assert "script" not in parser.tags and "img" not in parser.tags
    text = "".join(parser.text)
    assert "Health check before and after" in text
    assert "1 fixed, 1 new, 0 still there." in text
    # the hostile VM name is shown as text, its bidi override made visible
    assert "<img src=x onerror=alert(1)>\\u202e" in text
    assert "\u202e" not in page
    j.close()


def test_failed_audit_is_said_and_not_compared(tmp_path):
    failed = HostAudit(EVIL_HOST, AT, error_kind="refused", error_message="HV01 refused the connection")
    j, run = _journal(tmp_path, _audit(CHECKPOINT), failed)
    report = build_report(j, run)
    health = report["hosts"][0]["health"]
    assert health["compared"] is False and health["fixed"] == health["new"] == health["still"] == []
    assert health["after"] == {"available": False, "audited_at": "2026-12-07 05:00:00 UTC",
                               "text": "audit not available: HV01 refused the connection", "problems": []}
    assert health["note"] == "not compared: no audit after the update"
    page = render_html(report)
    assert "audit not available: HV01 refused the connection" in page
    line = [x for x in report_text(report).splitlines() if "health" in x]
    assert len(line) == 1 and "not compared" in line[0] and "refused" in line[0]
    j.close()


def test_terminal_line_per_host(tmp_path):
    j, run = _journal(tmp_path, _audit(PENDING, GEN1), _audit(GEN1))
    lines = [x for x in report_text(build_report(j, run)).splitlines() if ": health " in x]
    assert len(lines) == 1
    assert ("1 fixed, 0 new, 1 still (before: 0 critical, 1 warning, 1 info; "
            "after: 0 critical, 0 warning, 1 info)") in lines[0]
    j.close()


def test_journal_without_audits_has_no_health(tmp_path):
    j = Journal(tmp_path / "j.sqlite")
    run = j.create_run("KB5061906", PatchPlan(kb="KB5061906", waves=(Wave("pilot", ("HV01",)),)).to_dict())
    sid = j.begin_step(run, "HV01", "preflight", {})
    j.finish_step(sid, "ok", {"summary": "ok", "build": "20348.3692"})
    report = build_report(j, run)
    assert report["hosts"][0]["health"] is None
    assert "health" not in report_text(report)
    j.close()


def test_a_host_that_cannot_audit_is_patched_all_the_same(tmp_path):
    # The engine fakes know no `audit` script (HV01) or answer it with garbage (HV02): the
    # run still ends verified, and the evidence and the report say why there is no audit.
    from test_engine_fakes import fake_site, new_run, plan_for, run

    hosts = fake_site("HV01", "HV02")
    hosts["HV02"]._audit = lambda params: {"schema": "not-an-audit"}    # type: ignore[attr-defined]
    journal, run_id = new_run(tmp_path, plan_for(("HV01", "HV02")))
    result = run(journal, run_id, hosts)
    assert result.state == "done", result.reason
    report = build_report(journal, run_id)
    assert report["summary"]["verified"] == 2
    for name in ("HV01", "HV02"):
        steps = {r.step: r for r in journal.steps(run_id, name)}
        assert steps["preflight"].outcome == steps["postcheck"].outcome == "ok"
        for step, key in (("preflight", "health_before"), ("postcheck", "health_after")):
            evidence = steps[step].evidence[key]
            assert evidence["available"] is False
            assert evidence["text"].startswith("audit not available: ")
        health = next(h for h in report["hosts"] if h["host"] == name)["health"]
        assert health["compared"] is False
        assert health["note"] == "not compared: no audit before and after the update"
    assert hosts["HV02"].calls["audit"] == 2
    journal.close()
