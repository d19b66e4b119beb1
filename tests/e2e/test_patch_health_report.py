"""End to end: a patch run against the simulated site audits the patched host at preflight
and after its restart (the real ``audit.ps1`` through the host's WinRM shell), and the
report says what the update fixed: the host below the catalog's target before, not after."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest

from test_patch_support import FAST, run_plan, scenario_plan, scenario_site, story

from hvconsole.cli.patch_text import report_text
from hvconsole.core.patch.report import build_report, render_html

pytestmark = pytest.mark.slow   # a whole patch run: run first (tests/conftest.py)


class _Text(HTMLParser):
    def __init__(self):
        super().__init__()
        self.text: list[str] = []

    def handle_data(self, data):
        self.text.append(data)


def test_report_shows_the_health_check_before_and_after(tmp_path):
    with scenario_site("patch-ok", FAST) as site:
        journal, run_id, result = run_plan(site, scenario_plan(site.scenario, ("HV01",)), tmp_path / "journal.sqlite")
        assert result.state == "done", story(journal, run_id)
        steps = {r.step: r.evidence or {} for r in journal.steps(run_id, "HV01") if r.outcome == "ok"}
        report = build_report(journal, run_id)
    assert steps["preflight"]["health_before"]["available"] is True, steps["preflight"]["health_before"]
    assert steps["postcheck"]["health_after"]["available"] is True, steps["postcheck"]["health_after"]
    host = next(h for h in report["hosts"] if h["host"] == "HV01")
    assert host["status"] == "verified"
    health = host["health"]
    assert health["compared"] is True, health
    # The update itself is the fix the audit sees: the build below the target is gone.
    assert "host-below-target" in [p["rule"] for p in health["before"]["problems"]]
    assert "host-below-target" not in [p["rule"] for p in health["after"]["problems"]]
    # Audited after the restore, the drained-and-restored VMs are as before: the build is
    # the only fix, and the run itself brought nothing new.
    assert [p["rule"] for p in health["fixed"]] == ["host-below-target"], health["fixed"]
    assert health["new"] == [], health["new"]
    assert health["counts"] == {name: len(health[name]) for name in ("fixed", "new", "still")}
    assert len(health["after"]["problems"]) == health["counts"]["new"] + health["counts"]["still"]
    page = "".join(_p(render_html(report)))
    assert "Health check before and after" in page
    assert f"{health['counts']['fixed']} fixed, {health['counts']['new']} new" in page
    line = [x for x in report_text(report).splitlines() if "HV01: health" in x]
    assert len(line) == 1 and f"{health['counts']['fixed']} fixed" in line[0]
    journal.close()


def _p(page: str) -> list[str]:
    parser = _Text()
    parser.feed(page)
    return parser.text
