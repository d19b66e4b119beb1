"""The whole wizard, end to end, as an admin walks it: choose the update, test ring HV01
and a production wave, the package already staged, pre-flight, the notice, the review
("Start run" is the commit: nothing touches a host before it), the soak gate passes, the
admin promotes, production runs, and the Verify page shows every host fixed with an
exported report that parses and is escaped. Real WinRM to the simulated hosts."""

from __future__ import annotations

import email
import json
from email import policy

import pytest
from wizard_support import RUN_TIMEOUT_S, SOAK_MINUTES, demo, home, parse_html, scenario, session_for  # noqa: F401

from hvconsole.core.patch.journal import Journal
from hvconsole.ui.patch.autopilot import Autopilot, wait_for
from hvconsole.ui.patch.state import TEST_RING
from hvconsole.ui.patch.wizard import RUN, WINDOW

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]   # whole runs on a loaded 2-core machine


def installs(site, host):
    sim = site.embedded.host(host).sim
    with site.embedded.site.lock:
        return len(sim.patch.installs), sim.reboots


def test_wizard_rolls_out_from_test_ring_to_production_and_verifies(home, qtbot, tmp_path):
    with scenario("patch-ok") as site, session_for(site, qtbot) as session:
        wizard = session.open_wizard()
        qtbot.addWidget(wizard)
        ap = Autopilot(wizard, timeout_s=RUN_TIMEOUT_S)
        ap.choose_update("KB5061906")
        ap.choose_rings({"HV01": TEST_RING, "HV02": "production wave 1"})
        ap.check_package()
        assert wizard.state.package.ok and wizard.state.package.sha256 == site_sha(site)
        ap.preflight()
        ap.vms()
        # The notice: composed from the plan, saved as .eml, offered to the mail client.
        page = ap.settle(WINDOW)
        page.soak.setValue(SOAK_MINUTES)
        page.contact.setText("Ops <ops@example.com>")
        page.compose()
        ap.settle(WINDOW)
        notice = page.notice.toPlainText()
        assert "KB5061906" in notice and "HV01" in notice and "Ops <ops@example.com>" in notice
        page.save_eml(tmp_path / "notice.eml")
        mail = email.message_from_bytes((tmp_path / "notice.eml").read_bytes(), policy=policy.default)
        assert "KB5061906" in mail["Subject"] and "HV02" in mail.get_content()
        ap.next(WINDOW)
        # Review: nothing has touched a host and nothing is in the journal yet.
        ap.settle(wizard.currentId())
        assert installs(site, "HV01") == (0, 0) and installs(site, "HV02") == (0, 0)
        with Journal(site.journal_path) as journal:
            assert journal.runs() == []
        run_id = ap.review_and_start()
        assert run_id is not None
        # The gate passes and the run waits for the admin; production has not started.
        assert ap.wait_state({"awaiting-promotion", "done", "failed", "cancelled"}) == "awaiting-promotion"
        run_page = wizard.page_of(RUN)
        view = run_page.view
        assert view.soak is not None and view.soak.passed is True
        hv02 = next(h for h in view.hosts if h.host == "HV02")
        assert all(s.state == "pending" for s in hv02.steps)
        assert run_page.buttons["promote"].isVisibleTo(run_page) and run_page.buttons["halt"].isVisibleTo(run_page)
        assert installs(site, "HV02") == (0, 0)
        ap.press("promote")
        assert ap.finish_run() == "done"
        assert run_page.progress.value() == 100
        assert "HV02" in run_page.log.toPlainText() and "install" in run_page.log.toPlainText()
        verify = ap.verify()
        hosts = {verify.hosts.item(r, 0).text(): verify.hosts.item(r, 1).text() for r in range(verify.hosts.rowCount())}
        assert hosts == {"HV01": "fixed", "HV02": "fixed"}
        builds = {verify.hosts.item(r, 0).text(): (verify.hosts.item(r, 2).text(), verify.hosts.item(r, 3).text())
                  for r in range(verify.hosts.rowCount())}
        assert builds["HV01"][1] == "20348.3695" and builds["HV01"][0].startswith("20348.3692")
        kb_after = {verify.hosts.item(r, 5).text() for r in range(verify.hosts.rowCount())}
        assert kb_after == {"KB5061906 listed"}
        for r in range(verify.vms.rowCount()):     # every VM in its prior state
            before, after = verify.vms.item(r, 2).text(), verify.vms.item(r, 3).text()
            assert after == before or (before, after) == ("RunningCritical", "Running"), verify.vms.item(r, 0).text()
        assert installs(site, "HV01") == (1, 1) and installs(site, "HV02") == (1, 1)
        # The report, exported: valid HTML, nothing from a host as markup; and JSON.
        verify.export(tmp_path / "report.html", "html")
        verify.export(tmp_path / "report.json", "json")
        page = parse_html((tmp_path / "report.html").read_text(encoding="utf-8"))
        assert "script" not in page.tags and not page.open
        assert "HV01" in "".join(page.text) and "HV02" in "".join(page.text)
        report = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))
        assert report["summary"]["verified"] == 2 and report["state"] == "done"
        # The post-patch watch: the fixed hosts are watched for the chosen period.
        verify.watch_minutes.setValue(1)
        verify.start_watch()
        wait_for(lambda: getattr(verify, "last_watch", None) is not None and verify.last_watch.finished,
                 RUN_TIMEOUT_S, "the post-patch watch")
        assert verify.last_watch.hosts == ["HV01", "HV02"] and not verify.last_watch.recurrences


def site_sha(site):
    from hvconsole.sim.scenarios.patch import PATCH_SCENARIOS
    return PATCH_SCENARIOS["patch-ok"].sha256


def test_the_demo_site_offers_the_fix_for_the_hosts_on_the_regressed_build(home, qtbot):
    """The embedded demo: the Update page lists KB5061906 as needed by HV01 and HV05 only,
    and the Hosts page puts HV01 in the test ring and HV05 in production by default."""
    with demo() as site, session_for(site, qtbot) as session:
        wizard = session.open_wizard(kb="KB5061906")
        qtbot.addWidget(wizard)
        ap = Autopilot(wizard, timeout_s=RUN_TIMEOUT_S)
        page = ap.settle(0)
        row = page._kbs.index("KB5061906")
        assert page.table.item(row, 3).text() == "2: HV01, HV05"
        assert page.isComplete()
        ap.next(0)
        hosts = ap.settle(1)
        rings = {h: c.currentText() for h, c in hosts.combos.items()}
        assert rings == {"HV01": TEST_RING, "HV02": "not in this run", "HV03": "not in this run",
                         "HV04": "not in this run", "HV05": "production wave 1"}
        assert not hosts.combos["HV02"].isEnabled()
        assert wizard.state.draft.pilot == ["HV01"] and wizard.state.draft.waves == [("production wave 1", ["HV05"])]
