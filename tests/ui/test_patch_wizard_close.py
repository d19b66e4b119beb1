"""Closing the window while this process executes a run: "Keep paused for later" pauses it
and stops the run thread (a new session offers to resume it); "Cancel safely" cancels it and
keeps the window until the hosts are put back, then closes it; "Stay" keeps everything."""

from __future__ import annotations

import time

import pytest
from PySide6.QtWidgets import QToolButton

from hvconsole.core.patch.journal import Journal
from hvconsole.ui.patch.autopilot import Autopilot, wait_for
from hvconsole.ui.patch.state import TEST_RING
from hvconsole.ui.patch.wizard import RUN
from wizard_support import RUN_TIMEOUT_S, SOAK_MINUTES, home, live_banners, scenario, session_for  # noqa: F401

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]   # whole runs on a loaded 2-core machine
RINGS = {"HV01": TEST_RING, "HV02": "production wave 1"}


def start(session, qtbot):
    wizard = session.open_wizard()
    qtbot.addWidget(wizard)
    ap = Autopilot(wizard, timeout_s=RUN_TIMEOUT_S)
    run_id = ap.walk_to_run("KB5061906", RINGS, SOAK_MINUTES)
    with Journal(session.site.journal_path) as journal:       # under way on HV01
        deadline = time.monotonic() + RUN_TIMEOUT_S
        while not any(r.step == "drain" for r in journal.steps(run_id, "HV01")):
            assert time.monotonic() < deadline, "the drain never started"
            qtbot.wait(10)
    return run_id


def test_keep_paused_stops_the_run_and_a_new_session_offers_to_resume(home, qtbot, monkeypatch):
    with scenario("patch-ok") as site:
        with session_for(site, qtbot) as session:
            run_id = start(session, qtbot)
            monkeypatch.setattr(session, "ask_close", lambda: "stay")
            assert session.confirm_close() is False and session.controller.running
            monkeypatch.setattr(session, "ask_close", lambda: "pause")
            assert session.confirm_close() is True
            assert session.controller.join(RUN_TIMEOUT_S), "the run thread did not stop"
        with Journal(site.journal_path) as journal:
            assert journal.run(run_id).state == "paused"
        with session_for(site, qtbot) as again:
            wait_for(lambda: live_banners(again.window), RUN_TIMEOUT_S, "the resume banner")
            banner = live_banners(again.window)[0]
            assert f"Run {run_id}" in banner.label.text() and "interrupted at HV01" in banner.label.text()
            assert again.confirm_close() is True        # nothing executes here
            # The admin hides the banner: it stays hidden although the run is still interrupted.
            banner.findChild(QToolButton).click()
            for _ in range(2):
                again.poll()
                wait_for(lambda: not again._polling, RUN_TIMEOUT_S, "a journal poll")
            assert live_banners(again.window) == []
            # Reviewed and cancelled from this window: nobody executes the run, so this
            # window carries the cancel out and puts HV01 back.
            again.show_run(run_id)
            wizard = again.wizards[-1]
            ap = Autopilot(wizard, timeout_s=RUN_TIMEOUT_S)
            page = wizard.page_of(RUN)
            wait_for(lambda: page.view is not None, RUN_TIMEOUT_S, "the run view")
            assert page.buttons["resume"].isVisibleTo(page) and not page.buttons["continue"].isVisibleTo(page)
            ap.press("cancel")
            assert ap.finish_run() == "cancelled", page.log.toPlainText()
        with Journal(site.journal_path) as journal:
            assert [r.outcome for r in journal.steps(run_id, "HV01") if r.step == "restore"][-1:] == ["ok"]


def test_cancel_safely_keeps_the_window_until_the_hosts_are_back(home, qtbot, monkeypatch):
    with scenario("patch-ok") as site, session_for(site, qtbot) as session:
        session.window.show()
        run_id = start(session, qtbot)
        monkeypatch.setattr(session, "ask_close", lambda: "cancel")
        assert session.confirm_close() is False
        assert session.window.isVisible()
        wait_for(lambda: not session.window.isVisible(), RUN_TIMEOUT_S, "the window to close itself")
        with Journal(site.journal_path) as journal:
            assert journal.run(run_id).state == "cancelled"
            assert [r.outcome for r in journal.steps(run_id, "HV01") if r.step == "restore"] == ["ok"]
            assert journal.steps(run_id, "HV02") == []
