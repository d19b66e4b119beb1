"""The wizard's failure paths against the sim's patch scenarios: a pre-flight block keeps
the host out of the run; an install failure on the test ring stops the run before
production with the reason on the Run page; a cancel mid-run puts every VM back and the
page says which host is left pending a reboot."""

from __future__ import annotations

import time

import pytest

from hvconsole.core.patch.journal import Journal
from hvconsole.ui.patch.autopilot import Autopilot, wait_for
from hvconsole.ui.patch.state import TEST_RING
from hvconsole.ui.patch.wizard import PREFLIGHT, REVIEW, RUN
from wizard_support import RUN_TIMEOUT_S, SOAK_MINUTES, home, scenario, session_for  # noqa: F401

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]   # whole runs on a loaded 2-core machine
RINGS = {"HV01": TEST_RING, "HV02": "production wave 1"}


def sim_host(site, name):
    return site.embedded.host(name).sim


def installs(site, host):
    with site.embedded.site.lock:
        return len(sim_host(site, host).patch.installs)


def vm_states(session, host):
    snap = session.planning.survey([host])[host]
    return {vm.id: vm.state for vm in snap.vms}


def walk_to_preflight(ap):
    ap.choose_update("KB5061906")
    ap.choose_rings(RINGS)
    ap.check_package()


def test_a_preflight_block_keeps_the_host_out(home, qtbot):
    with scenario("patch-ok") as site, session_for(site, qtbot) as session:
        with site.embedded.site.lock:          # HV02's system drive is nearly full
            sim_host(site, "HV02").system_drive_free_mb = 1024
        wizard = session.open_wizard()
        qtbot.addWidget(wizard)
        ap = Autopilot(wizard, timeout_s=RUN_TIMEOUT_S)
        walk_to_preflight(ap)
        page = ap.settle(PREFLIGHT)
        wait_for(lambda: len(wizard.state.preflight) == 2, RUN_TIMEOUT_S, "both pre-flight checks")
        verdicts = {page.table.item(r, 0).text(): page.table.item(r, 2).text() for r in range(page.table.rowCount())}
        assert verdicts == {"HV01": "ready, with warnings", "HV02": "blocked: kept out"} or \
            verdicts == {"HV01": "ready", "HV02": "blocked: kept out"}
        reasons = page.table.item(1, 5).text()
        assert "MB free on the system drive" in reasons
        assert "HV02" in wizard.state.kept_out and wizard.state.draft.hosts == ["HV01"]
        assert page.isComplete()
        ap.next(PREFLIGHT)
        ap.vms()
        ap.window(SOAK_MINUTES)
        review = ap.settle(REVIEW)
        assert wizard.state.plan.hosts == ("HV01",)
        assert "Kept out by pre-flight" in review.view.toPlainText()
        ap.review_and_start()
        assert ap.finish_run() == "done"
        assert installs(site, "HV01") == 1 and installs(site, "HV02") == 0


def test_an_install_failure_on_the_test_ring_halts_before_production(home, qtbot):
    with scenario("patch-install-fails") as site, session_for(site, qtbot) as session:
        before = vm_states(session, "HV01")
        wizard = session.open_wizard()
        qtbot.addWidget(wizard)
        ap = Autopilot(wizard, timeout_s=RUN_TIMEOUT_S)
        ap.walk_to_run("KB5061906", RINGS, SOAK_MINUTES)
        page = wizard.page_of(RUN)
        assert ap.finish_run() == "failed", page.log.toPlainText()
        header = page.header.text()
        assert "test ring" in header and "HV01" in header and "failed" in header, header
        cell = page.timeline.table.item(0, 2 + 4)            # HV01 · install
        assert cell.text().startswith("✗") and "0x800F0922" in cell.toolTip(), (cell.text(), cell.toolTip())
        hv02 = next(h for h in page.view.hosts if h.host == "HV02")
        assert hv02.status == "not started"
        assert installs(site, "HV02") == 0
        assert vm_states(session, "HV01") == before, page.log.toPlainText()
        assert not any(b.isVisible() for b in page.buttons.values() if b is not page.buttons["resume"]), \
            "a finished run offers no controls"


def test_cancel_mid_run_puts_vms_back_and_names_the_host_pending_a_reboot(home, qtbot):
    with scenario("patch-ok") as site, session_for(site, qtbot) as session:
        before = vm_states(session, "HV01")
        wizard = session.open_wizard()
        qtbot.addWidget(wizard)
        ap = Autopilot(wizard, timeout_s=RUN_TIMEOUT_S)
        run_id = ap.walk_to_run("KB5061906", RINGS, SOAK_MINUTES)
        with Journal(site.journal_path) as journal:     # the admin sees "install" running and cancels
            deadline = time.monotonic() + RUN_TIMEOUT_S
            while not any(r.step == "install" and r.outcome is None for r in journal.steps(run_id, "HV01")):
                assert time.monotonic() < deadline, "the install never started"
                qtbot.wait(10)
        ap.press("cancel")
        assert ap.finish_run() == "cancelled"
        page = wizard.page_of(RUN)
        wait_for(lambda: "Pending a reboot" in page.header.text(), RUN_TIMEOUT_S, "the pending-reboot line")
        assert "HV01" in page.header.text() and "reboot it" in page.header.text()
        assert [h.host for h in page.view.hosts if h.pending_reboot] == ["HV01"]
        assert vm_states(session, "HV01") == before
        assert installs(site, "HV02") == 0
