"""``hvconsole [--demo] --screenshot PATH --after S`` as a user runs it: a real process,
offscreen, that saves a PNG of the window and exits 0."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage

from hvconsole.monitoring import vmstate

PROCESS_TIMEOUT_S = 90  # generous: a cold start on a loaded machine


def run_hvconsole(*args: str, tmp_path: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", HOME=str(tmp_path))
    return subprocess.run([sys.executable, "-m", "hvconsole", *args], env=env, capture_output=True,
                          text=True, timeout=PROCESS_TIMEOUT_S)


def colour_counts(image: QImage, step: int = 2) -> Counter:
    return Counter(image.pixelColor(x, y).name() for x in range(0, image.width(), step)
                   for y in range(0, image.height(), step))


@pytest.mark.slow
def test_demo_screenshot_shows_live_tiles(tmp_path, qapp):
    shot = tmp_path / "demo.png"
    # Starting the site, five first polls (a shell each) on a loaded machine: generous.
    proc = run_hvconsole("--demo", "--screenshot", str(shot), "--after", "15", tmp_path=tmp_path)
    assert proc.returncode == 0, proc.stderr
    image = QImage(str(shot))
    assert not image.isNull()
    assert (image.width(), image.height()) == (1600, 1000)
    # Running VMs' green state stripes fill a good part of the screen: the demo site was
    # reached over WinRM and its tiles painted (the logo alone has a few dozen green pixels).
    assert colour_counts(image)[vmstate.COLOUR_RUNNING] > 1000
    assert "Fatal Python error" not in proc.stderr


@pytest.mark.slow
def test_without_hosts_the_welcome_page_is_shown(tmp_path, qapp):
    shot = tmp_path / "welcome.png"
    # The inventory is read on a background thread after first paint (its imports take
    # a moment on a loaded machine): give it a few seconds.
    proc = run_hvconsole("--screenshot", str(shot), "--after", "4", tmp_path=tmp_path)
    assert proc.returncode == 0, proc.stderr
    image = QImage(str(shot))
    assert not image.isNull()
    seen = colour_counts(image)
    assert seen["#1e6fd9"] > 500                  # the blue "Open demo site" button
    assert seen[vmstate.COLOUR_RUNNING] < 500     # no tiles, only the logo


@pytest.mark.slow
def test_unwritable_screenshot_path_fails_plainly(tmp_path, qapp):
    target = tmp_path / "missing-dir" / "x.png"
    proc = run_hvconsole("--screenshot", str(target), "--after", "0", tmp_path=tmp_path)
    assert proc.returncode == 1
    assert "could not write the screenshot" in proc.stderr


@pytest.mark.slow
def test_open_demo_site_from_the_welcome_page(qtbot, monkeypatch):
    import threading

    from hvconsole.app import GuiSession
    from hvconsole.core import historydb
    from hvconsole.ui.background import wait_parked
    from hvconsole.ui.main_window import MainWindow
    on_gui_thread: list[bool] = []
    real_writer = historydb.HistoryWriter

    def writer(path, **kwargs):
        on_gui_thread.append(threading.current_thread() is threading.main_thread())
        return real_writer(path, **kwargs)

    monkeypatch.setattr(historydb, "HistoryWriter", writer)
    window = MainWindow()
    qtbot.addWidget(window)
    session = GuiSession(window)
    window.show_welcome()
    window.show()
    qtbot.mouseClick(window.welcome.demo_button, Qt.MouseButton.LeftButton)
    assert window.stack.currentWidget() is window.starting
    # (An earlier run's last known tiles may show first: the site itself is what counts.)
    qtbot.waitUntil(lambda: session.site is not None and window.page is not None, timeout=30_000)
    site = session.site
    assert site.kind == "demo" and site.simulated
    vms = sum(len(host.sim.vms) for host in site.embedded.hosts)   # the demo-patch site: 5 hosts
    assert len(site.targets) == 5
    qtbot.waitUntil(lambda: window.monitor.tiles.rowCount() == vms, timeout=30_000)
    assert window.windowTitle().endswith("Demo site (simulated)")
    # The demo has its own patch journal (Patch ▸ Patch runs… reads it), never the real one.
    assert window.journal_path == site.journal_path and window.journal_path.parent.name == "demo"
    # The patch session is made while the first polls are out (its module imported off
    # the GUI thread), for the site shown.
    qtbot.waitUntil(lambda: session.patch_session is not None, timeout=10_000)
    assert window.patch_session is session.patch_session and session.patch_session.site is site
    # The history file opened with the site, off the GUI thread: opening waits for a file
    # another process is writing, and for the network when the home is on a share.
    assert on_gui_thread == [False] and session.history_writer is not None
    window.close()
    assert session.stop()
    assert session.site is None
    assert wait_parked(10)


@pytest.mark.slow
def test_the_window_serves_its_demo_site_from_a_process_of_its_own(qtbot, tmp_path, monkeypatch):
    """``run_gui`` serves the demo from a process of its own (GuiSession's ``demo_process``;
    here one started already); the site opens off the GUI thread, polls, and closing reaps it."""
    from hvconsole.app import GuiSession
    from hvconsole.sim.serve import pid_alive
    from hvconsole.ui.background import wait_parked
    from hvconsole.ui.main_window import MainWindow
    monkeypatch.setenv("HVCONSOLE_HOME", str(tmp_path))
    from hvconsole.site import start_demo_process
    process = start_demo_process(speed=1.0, name="demo-patch")
    assert process is not None and pid_alive(process.pid)
    window = MainWindow()
    qtbot.addWidget(window)
    session = GuiSession(window, demo_process=process)
    window.show()
    session.open_demo()
    qtbot.waitUntil(lambda: session.site is not None and window.monitor is not None
                    and window.monitor.tiles.rowCount() > 0, timeout=30_000)
    site = session.site
    assert len(site.targets) == 5 and site.embedded is None and f"process {process.pid}" in site.description
    window.close()
    assert session.stop()
    assert process.proc.returncode == 0            # ended on its pipe's close, and reaped
    assert wait_parked(10)


@pytest.mark.slow
def test_a_demo_process_killed_mid_session_is_said_and_its_hosts_do_not_answer(qtbot, tmp_path, monkeypatch):
    """The demo's own process killed while the window shows its site: the window says so,
    its hosts turn "not answering", and closing is neither slowed nor a traceback."""
    import time

    from hvconsole.app import GuiSession
    from hvconsole.site import start_demo_process
    from hvconsole.ui.background import wait_parked
    from hvconsole.ui.main_window import MainWindow
    monkeypatch.setenv("HVCONSOLE_HOME", str(tmp_path))
    process = start_demo_process(speed=1.0, name="demo")
    window = MainWindow()
    qtbot.addWidget(window)
    session = GuiSession(window, demo_process=process)
    window.show()
    session.open_demo()
    qtbot.waitUntil(lambda: window.monitor is not None and window.monitor.tiles.rowCount() > 0, timeout=30_000)
    process.proc.kill()
    qtbot.waitUntil(lambda: "process ended" in window.statusBar().currentMessage(), timeout=15_000)
    message = window.statusBar().currentMessage()
    assert message.startswith("The demo site's process ended") and "no longer answer" in message
    assert all(t.password not in message for t in session.site.targets)
    monitor = window.monitor
    qtbot.waitUntil(lambda: not any(r.reachable for r in monitor.hosts.rows()), timeout=30_000)
    window.close()
    started = time.monotonic()
    assert session.stop()
    assert time.monotonic() - started < 5
    assert wait_parked(10)


def test_a_demo_process_that_fails_is_said_in_the_window(qtbot, tmp_path, monkeypatch):
    from hvconsole.app import GuiSession
    from hvconsole.sim import child
    from hvconsole.ui.main_window import MainWindow
    monkeypatch.setenv("HVCONSOLE_HOME", str(tmp_path))
    monkeypatch.setattr(child, "child_command", lambda site, speed: [
        sys.executable, "-c", "print('{\"error\": \"no port left on this machine\"}')"])
    window = MainWindow()
    qtbot.addWidget(window)
    session = GuiSession(window, demo_process=True)
    window.show()
    session.open_demo()                             # returns at once: the wait is off the GUI thread
    assert window.stack.currentWidget() is window.starting
    qtbot.waitUntil(lambda: window.status_text.text().startswith("The demo site could not start"), timeout=30_000)
    assert "no port left on this machine" in window.status_text.text()
    assert window.stack.currentWidget() is window.welcome and session.site is None
    window.close()
    assert session.stop()


def test_the_window_reads_the_site_catalog_as_the_patch_engine_does(tmp_path, monkeypatch):
    # The window reads it without importing the engine (before its first polls leave).
    import json

    from hvconsole import paths
    from hvconsole.monitoring.host_compliance import CatalogSource
    from hvconsole.patch.engine import load_site_catalog as engine_reads

    def load_site_catalog():
        return CatalogSource().get()[0]      # what the window's catalog source reads
    monkeypatch.setenv("HVCONSOLE_HOME", str(tmp_path))
    own = paths.config_dir() / "catalog.d"
    own.mkdir(parents=True)
    (own / "site.json").write_text(json.dumps({"schema": "hvconsole.catalog/1", "updates": [
        {"kb": "KB9990077", "title": "A site's own entry", "released": "2025-06-01", "kind": "OOB",
         "targets": [{"product": "Windows Server 2022", "build": 20348, "min_ubr": 3700}]}]}), encoding="utf-8")
    assert load_site_catalog() == engine_reads()
    assert load_site_catalog().get("KB9990077") is not None


def test_the_snapshot_relay_holds_until_the_health_check_exists_then_hands_on_in_order():
    # The first polls leave before the health check is made (app.GuiSession._start_polling).
    from hvconsole.app import SnapshotRelay
    relay, seen = SnapshotRelay(), []
    relay("first")
    relay("second")
    relay.connect(seen.append)
    relay("third")
    relay.close()
    relay("fourth")
    assert seen == ["first", "second", "third", "fourth"]
    dropped = SnapshotRelay()
    dropped("held")
    dropped.close()                 # the health check failed to start: nothing is kept
    dropped("later")
    assert dropped._held == []


# -- the window's command line --------------------------------------------------------------------

def test_version(capsys):
    from hvconsole import __version__
    from hvconsole.cli import main
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.strip() == f"hvconsole {__version__}"


@pytest.mark.parametrize("args,message", [
    (["--demo", "--demo-speed", "0"], "the demo speed must be above 0"),
    (["--demo", "--demo-speed", "-5"], "the demo speed must be above 0"),
    (["--demo", "--demo-speed", "fast"], "'fast' is not a number"),
    (["--demo-speed", "10"], "--demo-speed only applies with --demo"),
    (["--after", "3"], "--after only applies with --screenshot"),
    (["--screenshot", "x.png", "--after", "-1"], "--after must be between 0 and 86400"),
])
def test_bad_window_options_get_one_clear_line(args, message, capsys):
    from hvconsole.cli import main
    with pytest.raises(SystemExit) as exit_:
        main(args)
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_wizard_screenshots_walk_a_full_demo_run(tmp_path, qapp):
    """Issue 9: ``hvconsole --wizard-screenshots DIR`` (implies --demo, speed 60) walks the
    wizard through a whole demo run unattended, one PNG per page, and exits 0."""
    out = tmp_path / "shots"
    # The demo hosts' latencies (powershell.exe start-up, Get-VM) at a twentieth: the walk
    # proves the pages and the run's end, not timings (docs/performance.md "Test suite").
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", HOME=str(tmp_path), HVCONSOLE_SIM_LATENCY_SCALE="0.05")
    proc = subprocess.run([sys.executable, "-m", "hvconsole", "--wizard-screenshots", str(out)], env=env,
                          capture_output=True, text=True, timeout=1100)
    assert proc.returncode == 0, proc.stderr[-3000:]
    names = sorted(p.name for p in out.glob("*.png"))
    assert names == ["01-update.png", "02-hosts.png", "03-package.png", "04-preflight.png", "05-vms.png",
                     "06-window.png", "07-review.png", "08-run.png", "09-verify.png"]
    for name in names:
        image = QImage(str(out / name))
        assert not image.isNull() and image.width() > 600 and image.height() > 400, name

