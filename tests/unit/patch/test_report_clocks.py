"""The report as an admin reads it (issues 9 and 10): every time on one format and labelled
with its clock, the plan as a table, a plain "pending reboot" section after a cancel, the
simulated site said on every demo report, and hostile names shown visibly in valid HTML."""

from __future__ import annotations

import html
import json
import re
from datetime import datetime, timezone
from html.parser import HTMLParser

from hvconsole.core.patch.journal import Journal
from hvconsole.core.patch.plan import HealthGate, PackageSource, PatchPlan, VmHandling, Wave
from hvconsole.core.patch.report import (PENDING_REBOOT_ADVICE, SIMULATED_NOTE, TIME_FIELDS, build_report,
                                         render_html, visible)
from hvconsole.core.patch.steps import STEPS

ONE_FORMAT = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$")
HOSTILE_VM = "web\u202e01\x1b[2J\x07<img src=x>"
HOSTILE_HOST = "HV\u202e09\x1b]0;x\x07"
VOID = {"meta", "br"}
ALLOWED_TAGS = {"html", "head", "meta", "title", "style", "body", "h1", "h2", "p", "b", "i", "table", "tr",
                "th", "td", "span", "ul", "li", "div"}
ALLOWED_ATTRS = {"class", "lang", "charset", "http-equiv", "content"}
RAW_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]")


class StrictPage(HTMLParser):
    """Well-formed as far as html.parser can tell: every element closed in order, only the
    tags and attributes the report uses, no raw control or bidi character in any text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.text: list[str] = []
        self.doctype = False

    def handle_decl(self, decl):
        self.doctype = decl.lower() == "doctype html"

    def handle_starttag(self, tag, attrs):
        if tag not in ALLOWED_TAGS:
            self.errors.append(f"tag {tag}")
        self.errors += [f"attribute {k} on {tag}" for k, _ in attrs if k not in ALLOWED_ATTRS]
        if tag not in VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1] if self.stack else 'nothing'}")
        else:
            self.stack.pop()

    def handle_data(self, data):
        self.text.append(data)
        if RAW_CONTROL.search(data):
            self.errors.append(f"raw control character in {data!r}")


def check_page(page: str) -> StrictPage:
    parser = StrictPage()
    parser.feed(page)
    parser.close()
    assert parser.doctype
    assert parser.errors == [] and parser.stack == [], (parser.errors, parser.stack)
    return parser


def plan() -> PatchPlan:
    return PatchPlan(kb="KB5061906", waves=(Wave("pilot", ("HV01",)), Wave("prod", ("HV02", HOSTILE_HOST), parallel=2)),
                     package=PackageSource("on-host", "C:\\hvconsole\\packages\\windows10.0-kb5061906-x64.msu", "ab" * 32),
                     vm_default=VmHandling("save"),
                     vm_overrides={"4a5b": VmHandling("live-migrate", "HV03")},
                     window_start=datetime(2026, 12, 8, 22, 0, tzinfo=timezone.utc),
                     gate=HealthGate(soak_minutes=45))


def journal_with(tmp_path, *, cancel_after_install: bool) -> tuple[Journal, int]:
    """HV01 runs every step (the host's clock an hour ahead, as a simulated site's is);
    with ``cancel_after_install`` HV02 installs and the run is cancelled before its restart."""
    j = Journal(tmp_path / "j.sqlite")
    run = j.create_run("KB5061906", plan().to_dict())
    vms = [{"id": "vm-1", "name": HOSTILE_VM, "state": "Running"}]
    for host in ("HV01", "HV02"):
        for step in STEPS:
            sid = j.begin_step(run, host, step, {"vms": vms} if step == "drain" else {})
            ev: dict = {"summary": f"{step} done on {host}"}
            if step == "preflight":
                ev.update(build="20348.3692", last_boot="2026-11-20T03:12:09.000Z")
            if step == "install":
                ev.update(exit_code=3010, meaning="installed, reboot required", needs_reboot=True,
                          started_at="2026-12-07T06:01:02.000Z", finished_at="2026-12-07T06:03:04.500Z")
            if host == "HV02" and cancel_after_install and step == "reboot":
                j.finish_step(sid, "cancelled", {"summary": "cancelled by the admin before the restart"})
                j.set_run_state(run, "cancelled")
                return j, run
            if step == "verify":
                ev.update(build="20348.3695", last_boot="2026-12-07T06:05:00.000Z",
                          checks=[{"check": "build at target", "passed": True, "detail": "20348.3695"},
                                  {"check": "rebooted after install", "passed": True,
                                   "detail": "last boot 2026-12-07T06:05:00.509000+00:00, "
                                             "install started 2026-12-07T06:01:02.710Z"}])
            if step == "postcheck":
                ev.update(vms=vms)
            j.finish_step(sid, "ok", ev)
    j.set_run_state(run, "done")
    return j, run


def test_every_time_has_one_format_and_a_named_clock(tmp_path):
    j, run = journal_with(tmp_path, cancel_after_install=False)
    rep = build_report(j, run)
    j.close()
    h = rep["hosts"][0]
    times = [rep["created_at"], rep["generated_at"], h["last_boot_before"], h["last_boot_after"],
             h["install_started"], h["install_finished"]]
    times += [t for st in h["steps"] for t in (st["started_at"], st["finished_at"])]
    assert all(ONE_FORMAT.match(t) for t in times), times
    assert (h["last_boot_before"], h["install_finished"]) == ("2026-11-20 03:12:09 UTC", "2026-12-07 06:03:04 UTC")
    assert rep["clocks"]["fields"] == TIME_FIELDS
    assert rep["clocks"]["fields"]["hosts[].last_boot_after"] == "host"
    assert rep["clocks"]["fields"]["hosts[].steps[].started_at"] == "console"
    json.dumps(rep)   # JSON-ready

    page = render_html(rep)
    text = " ".join(check_page(page).text)
    assert f"Created {rep['created_at']} (console clock), report generated {rep['generated_at']} (console clock)" in text
    assert "When (host clock)" in page and "Started (console clock)" in page and "Finished (console clock)" in page
    assert "2026-12-07 06:05:00 UTC" in page
    assert "last boot 2026-12-07 06:05:00 UTC, install started 2026-12-07 06:01:02 UTC" in page
    assert not re.search(r"\d{4}-\d\d-\d\dT\d\d:", page), "an ISO time slipped through in another format"


def test_the_plan_is_a_readable_table_not_json(tmp_path):
    j, run = journal_with(tmp_path, cancel_after_install=False)
    rep = build_report(j, run)
    j.close()
    rows = dict(rep["plan_table"])
    assert rows["Wave 1: pilot"] == "test ring (pilot): HV01; 1 host(s) at a time"
    assert rows["Wave 2: prod"].startswith("production wave 1: HV02, ") and rows["Wave 2: prod"].endswith("2 host(s) at a time")
    assert rows["Package"].startswith("already on each host: C:\\hvconsole\\packages\\windows10.0-kb5061906-x64.msu")
    assert rows["VM handling"] == "save (default for running VMs)"
    assert rows["VM 4a5b"] == "live-migrate to HV03"
    assert rows["Soak after the test ring"].startswith("45 min; production waits for no critical findings")
    assert rows["Maintenance window"] == "starts 2026-12-08 22:00:00 UTC"
    page = render_html(rep)
    assert '"waves"' not in page and "{" not in page.split("</style>")[1]
    assert "<td>Soak after the test ring</td>" in page


def test_a_cancel_after_install_says_which_hosts_wait_for_a_restart(tmp_path):
    j, run = journal_with(tmp_path, cancel_after_install=True)
    rep = build_report(j, run)
    j.close()
    assert rep["state"] == "cancelled"
    assert rep["pending_reboot"] == ["HV02"]
    hv01, hv02 = rep["hosts"][0], rep["hosts"][1]
    assert not hv01["pending_reboot"] and hv01["status"] == "verified"
    assert hv02["pending_reboot"] and hv02["status"] == "cancelled"
    assert hv02["pending_reboot_reason"] == "installed; restart cancelled: cancelled by the admin before the restart"
    page = render_html(rep)
    check_page(page)
    assert "<h2>Pending reboot</h2>" in page
    assert html.escape(PENDING_REBOOT_ADVICE.format(kb="KB5061906")) in page
    assert "hvconsole patch check --kb KB5061906" in page
    assert "cancelled, pending reboot" in page and "<b>1 pending a restart</b>" in page


def test_no_pending_reboot_section_when_every_restart_happened(tmp_path):
    j, run = journal_with(tmp_path, cancel_after_install=False)
    rep = build_report(j, run)
    j.close()
    assert rep["pending_reboot"] == [] and "Pending reboot" not in render_html(rep)


def test_an_install_that_needed_no_restart_is_not_pending(tmp_path):
    j = Journal(tmp_path / "j.sqlite")
    run = j.create_run("KB1", PatchPlan(kb="KB1", waves=(Wave("pilot", ("HV01",)),)).to_dict())
    for step in STEPS[:STEPS.index("install") + 1]:
        ev = {"needs_reboot": False, "already": True, "exit_code": None} if step == "install" else {}
        j.finish_step(j.begin_step(run, "HV01", step, {}), "ok", ev)
    assert build_report(j, run)["pending_reboot"] == []
    j.finish_step(j.begin_step(run, "HV01", "install", {}), "ok", {"exit_code": 3010, "needs_reboot": True})
    rep = build_report(j, run)
    j.close()
    assert rep["pending_reboot"] == ["HV01"]
    assert rep["hosts"][0]["pending_reboot_reason"] == "installed; the run stopped before the restart"


def test_a_demo_report_says_simulated_site(tmp_path):
    j, run = journal_with(tmp_path, cancel_after_install=False)
    real, demo = build_report(j, run), build_report(j, run, simulated=True)
    j.close()
    assert (real["simulated"], real["site"]) == (False, "configured hosts")
    assert (demo["simulated"], demo["site"]) == (True, "simulated site")
    assert SIMULATED_NOTE not in render_html(real) and "simulated" not in render_html(real).lower()
    page = render_html(demo)
    check_page(page)
    assert page.count(html.escape(SIMULATED_NOTE)) == 2                     # at the top and at the end
    assert "<title>Patch report KB5061906 run 1 (simulated site)</title>" in page


def test_a_plan_marked_simulated_makes_a_simulated_report(tmp_path):
    j = Journal(tmp_path / "j.sqlite")
    doc = dict(PatchPlan(kb="KB1", waves=(Wave("pilot", ("HV01",)),)).to_dict(), simulated=True)
    run = j.create_run("KB1", doc)
    assert build_report(j, run)["simulated"] is True
    j.close()


def test_control_and_bidi_characters_are_shown_visibly_and_escaped(tmp_path):
    j, run = journal_with(tmp_path, cancel_after_install=False)
    page = render_html(build_report(j, run))
    j.close()
    check_page(page)
    assert "web\\u202e01\\u001b[2J\\u0007&lt;img src=x&gt;" in page
    assert "HV\\u202e09\\u001b]0;x\\u0007" in page
    assert "<img" not in page
    assert "\u202e" not in page and "\x1b" not in page and "\x07" not in page


def test_visible_keeps_ordinary_text_and_marks_every_invisible_character():
    assert visible("Größe 名前 web-01") == "Größe 名前 web-01"
    assert visible("a\tb\r\nc") == "a b c"
    assert visible("\u2066x\u2069\u200b\ufeff\x85") == "\\u2066x\\u2069\\u200b\\ufeff\\u0085"


def test_a_report_from_the_demo_journal_says_simulated_without_being_told(tmp_path, monkeypatch):
    from hvconsole import paths
    monkeypatch.setenv(paths.HOME_ENV, str(tmp_path))
    for demo in (True, False):
        with Journal(paths.patch_journal_path(demo=demo)) as j:
            run = j.create_run("KB1", PatchPlan(kb="KB1", waves=(Wave("pilot", ("HV01",)),)).to_dict())
            rep = build_report(j, run)
            assert rep["simulated"] is demo and (html.escape(SIMULATED_NOTE) in render_html(rep)) is demo
            assert build_report(j, run, simulated=True)["simulated"] is True
