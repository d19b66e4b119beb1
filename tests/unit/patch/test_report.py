"""The report is built from the journal alone, and host data never becomes markup."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from hvconsole.core.patch.journal import Journal
from hvconsole.core.patch.plan import PatchPlan, Wave
from hvconsole.core.patch.report import build_report, render_html
from hvconsole.core.patch.steps import STEPS

EVIL_VM = "a'; Stop-Computer -Force; '"
EVIL_HOST = "<script>alert(1)</script>"


class _Tags(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)


def _run(tmp_path, fail_install=False):
    j = Journal(tmp_path / "j.sqlite")
    plan = PatchPlan(kb="KB5061906", waves=(Wave("pilot", (EVIL_HOST,)), Wave("prod", ("HV02",))))
    run = j.create_run(plan.kb, plan.to_dict())
    vms = [{"id": "vm-1", "name": EVIL_VM, "state": "Running"}]
    for step in STEPS:
        sid = j.begin_step(run, EVIL_HOST, step, {"vms": vms} if step == "drain" else {})
        ev = {"summary": f"{step} done"}
        if step == "preflight":
            ev.update(build="20348.3692", last_boot="2026-11-20T03:12:09.000Z")
        if step == "install":
            ev.update(exit_code=1 if fail_install else 3010, meaning="installed, reboot required")
        if step == "verify":
            ev.update(build="20348.3695", checks=[{"check": "build at target", "passed": True, "detail": "<b>ok</b>"}])
        if step == "postcheck":
            ev.update(vms=[{"id": "vm-1", "name": EVIL_VM, "state": "Running"}])
        j.finish_step(sid, "failed" if (fail_install and step == "install") else "ok", ev)
        if fail_install and step == "install":
            break
    return j, run


def test_report_from_journal(tmp_path):
    j, run = _run(tmp_path)
    rep = build_report(j, run)
    host = rep["hosts"][0]
    assert host["status"] == "verified"
    assert (host["build_before"], host["build_after"]) == ("20348.3692", "20348.3695")
    assert host["vms_before"] == [{"id": "vm-1", "name": EVIL_VM, "state": "Running"}]
    assert rep["hosts"][1]["status"] == "not started"
    assert rep["summary"] == {"hosts": 2, "verified": 1, "failed": 0}
    j.close()


def test_failed_install_is_reported(tmp_path):
    j, run = _run(tmp_path, fail_install=True)
    assert build_report(j, run)["hosts"][0]["status"] == "failed"
    j.close()


def test_html_escapes_every_host_value(tmp_path):
    j, run = _run(tmp_path)
    page = render_html(build_report(j, run))
    j.close()
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert "<b>ok</b>" not in page
    assert "Stop-Computer -Force; &#x27;" in page
    parser = _Tags()
    parser.feed(page)
    assert "script" not in parser.tags and set(parser.tags) <= {
        "html", "head", "meta", "title", "style", "body", "h1", "h2", "p", "b", "table", "tr", "th", "td",
        "span", "ul", "li", "div", "i"}
    assert not re.search(r"(src|href)=", page)


def test_a_retried_step_that_succeeded_does_not_fail_the_host(tmp_path):
    j = Journal(tmp_path / "j.sqlite")
    run = j.create_run("KB1", PatchPlan(kb="KB1", waves=(Wave("pilot", ("HV01",)),)).to_dict())
    for step in STEPS:
        if step == "install":
            j.finish_step(j.begin_step(run, "HV01", step, {}), "failed", {"exit_code": 5})
        j.finish_step(j.begin_step(run, "HV01", step, {}), "ok", {"summary": step})
    rep = build_report(j, run)
    assert rep["hosts"][0]["status"] == "verified"
    assert [s["outcome"] for s in rep["hosts"][0]["steps"] if s["step"] == "install"] == ["failed", "ok"]
    j.close()
