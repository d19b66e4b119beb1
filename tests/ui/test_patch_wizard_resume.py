"""Resume and watch through the GUI, with the simulated site in a process of its own
(``hvconsole-sim serve --state-file``) so that it outlives whatever is killed:

- a wizard in a child process starts a run and is SIGKILLed mid-install; a new window's
  session shows "Run 1 was interrupted at HV01 · install", the admin presses Resume, and
  the run completes with one install and one reboot per host;
- a run started with ``hvconsole patch run --demo --yes`` in a terminal is shown live: a
  banner offers to watch it, the Run page follows it from the journal, and Pause/Continue
  reach the other process.
"""

from __future__ import annotations

import signal

import pytest

from hvconsole.core.patch.journal import Journal
from hvconsole.site import journal_path, open_demo_site
from hvconsole.ui.patch.autopilot import Autopilot, wait_for
from hvconsole.ui.patch.wizard import RUN
from wizard_support import (RUN_TIMEOUT_S, Window, home, live_banners, served, session_for,  # noqa: F401
                           start_child, start_wizard_child, wait_for_intent)

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]   # whole runs on a loaded 2-core machine


def banner_with(window, text):
    return next((b for b in live_banners(window) if text in b.label.text()), None)


def test_killed_wizard_run_is_resumed_from_the_banner_of_a_new_window(home, served, qtbot, tmp_path):
    child, log = start_wizard_child(tmp_path)
    journal = journal_path(True)
    wait_for_intent(journal, "HV01", "install", child, log)
    child.send_signal(signal.SIGKILL)
    assert child.wait(timeout=30) == -signal.SIGKILL, log.read_text()

    site = open_demo_site(embedded=False)
    try:
        with session_for(site, qtbot) as session:
            window = session.window
            wait_for(lambda: banner_with(window, "Run 1") is not None, RUN_TIMEOUT_S, "the resume banner")
            banner = banner_with(window, "Run 1")
            assert "was interrupted at HV01 · install" in banner.label.text()
            assert set(banner.buttons) == {"Resume", "Review"}
            banner.buttons["Resume"].click()
            wait_for(lambda: session.wizards, RUN_TIMEOUT_S, "the Run page")
            wizard = session.wizards[-1]
            assert wizard.currentId() == RUN and session.executes(1)
            wait_for(lambda: banner_with(window, "Run 1") is None, RUN_TIMEOUT_S, "the banner to go")
            ap = Autopilot(wizard, timeout_s=RUN_TIMEOUT_S)
            assert ap.wait_state({"awaiting-promotion", "done", "failed", "cancelled"}) == "awaiting-promotion"
            ap.press("promote")
            assert ap.finish_run() == "done", wizard.page_of(RUN).header.text()
    finally:
        site.close()

    with Journal(journal) as j:
        for host in ("HV01", "HV02"):
            records = j.steps(1, host)
            # One install task per host: started once, either by this window or by the
            # killed one (then the resumed step finds it on the host, "found running" or
            # "found done", and must not start it again).
            actions = [(r.evidence or {}).get("action") for r in records if r.step == "install" and r.outcome]
            assert len(actions) == 1 and actions[0] in ("started", "found running", "found done"), \
                f"{host}: install step finished with actions {actions}"
            if host == "HV02":
                assert actions == ["started"], "HV02 was never reached by the killed window"
            assert [r.outcome for r in records if r.step == "install" and r.outcome] == ["ok"]
            assert [r.outcome for r in records if r.step == "reboot" and r.outcome] == ["ok"]
            preflight = next(r for r in records if r.step == "preflight" and r.outcome == "ok")
            reboot = next(r for r in records if r.step == "reboot" and r.outcome == "ok")
            assert reboot.evidence["last_boot_after"] > preflight.evidence["last_boot"]
    site = open_demo_site(embedded=False)
    try:
        from hvconsole.patch.planning import PlanningService
        snaps = PlanningService(site.directory()).survey(["HV01", "HV02"])
    finally:
        site.close()
    for host, snap in snaps.items():
        assert (snap.os.build, snap.os.ubr, snap.os.pending_reboot) == (20348, 3695, False), host


def test_a_run_from_the_command_line_is_shown_live_with_pause_and_continue(home, served, qtbot, tmp_path):
    from hvconsole.sim.scenarios.patch import PATCH_SCENARIOS
    scenario = PATCH_SCENARIOS["patch-ok"]
    cli, log = start_child(tmp_path, "cli", ["-m", "hvconsole", "patch", "run", "--demo", "--yes", "--kb", scenario.kb,
                                             "--pilot", "HV01", "--wave", "prod=HV02", "--soak-minutes", "1",
                                             "--package-on-host", scenario.package_path])
    site = open_demo_site(embedded=False)
    try:
        with session_for(site, qtbot) as session:
            window = session.window
            seen_maintenance: list[set[str]] = []
            session.maintenance_changed.connect(lambda items: seen_maintenance.append({m.host for m in items}))
            wait_for(lambda: banner_with(window, "another process") is not None or cli.poll() is not None,
                     RUN_TIMEOUT_S, "the watch banner")
            banner = banner_with(window, "another process")
            assert banner is not None, log.read_text()
            assert f"pid {cli.pid}" in banner.label.text()
            banner.buttons["Watch"].click()
            wizard = session.wizards[-1]
            page = wizard.page_of(RUN)
            ap = Autopilot(wizard, timeout_s=RUN_TIMEOUT_S)
            wait_for(lambda: page.view is not None, RUN_TIMEOUT_S, "the run view")
            assert page.view.executing_pid == cli.pid and not session.executes(page.view.run_id)
            assert f"executed by process {cli.pid}" in page.header.text()
            assert not page.buttons["resume"].isVisibleTo(page)
            # Pause reaches the terminal's runner (between steps); Continue lets it go on.
            wait_for(lambda: page.buttons["pause"].isVisibleTo(page), RUN_TIMEOUT_S, "a running state")
            ap.press("pause")
            assert ap.wait_state({"paused", "done", "failed", "cancelled"}) == "paused"
            ap.press("continue")
            assert ap.finish_run() == "done", log.read_text()
            assert cli.wait(timeout=RUN_TIMEOUT_S) == 0, log.read_text()
            text = page.log.toPlainText()
            assert "HV01" in text and "HV02" in text and "install" in text
            assert any("HV01" in hosts for hosts in seen_maintenance), seen_maintenance
            wait_for(lambda: session.maintenance == [], RUN_TIMEOUT_S, "every maintenance window to close")
    finally:
        site.close()
        if cli.poll() is None:
            cli.kill()
