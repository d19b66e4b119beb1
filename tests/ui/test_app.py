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

from hvconsole.ui import vmstate

pytestmark = pytest.mark.slow

PROCESS_TIMEOUT_S = 90  # generous: a cold start on a loaded machine


def run_hvconsole(*args: str, tmp_path: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", HOME=str(tmp_path))
    return subprocess.run([sys.executable, "-m", "hvconsole", *args], env=env, capture_output=True,
                          text=True, timeout=PROCESS_TIMEOUT_S)


def colour_counts(image: QImage, step: int = 2) -> Counter:
    return Counter(image.pixelColor(x, y).name() for x in range(0, image.width(), step)
                   for y in range(0, image.height(), step))


def test_demo_screenshot_shows_live_tiles(tmp_path, qapp):
    shot = tmp_path / "demo.png"
    proc = run_hvconsole("--demo", "--screenshot", str(shot), "--after", "5", tmp_path=tmp_path)
    assert proc.returncode == 0, proc.stderr
    image = QImage(str(shot))
    assert not image.isNull()
    assert (image.width(), image.height()) == (1600, 1000)
    # Running VMs' green state stripes fill a good part of the screen: the demo site was
    # reached over WinRM and its tiles painted (the logo alone has a few dozen green pixels).
    assert colour_counts(image)[vmstate.COLOUR_RUNNING] > 1000
    assert "Fatal Python error" not in proc.stderr


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


def test_unwritable_screenshot_path_fails_plainly(tmp_path, qapp):
    target = tmp_path / "missing-dir" / "x.png"
    proc = run_hvconsole("--screenshot", str(target), "--after", "0", tmp_path=tmp_path)
    assert proc.returncode == 1
    assert "could not write the screenshot" in proc.stderr


def test_open_demo_site_from_the_welcome_page(qtbot):
    from hvconsole.app import GuiSession
    from hvconsole.ui.background import wait_parked
    from hvconsole.ui.main_window import MainWindow
    window = MainWindow()
    qtbot.addWidget(window)
    session = GuiSession(window)
    window.show_welcome()
    window.show()
    qtbot.mouseClick(window.welcome.demo_button, Qt.MouseButton.LeftButton)
    assert window.stack.currentWidget() is window.starting
    qtbot.waitUntil(lambda: window.page is not None, timeout=30_000)
    qtbot.waitUntil(lambda: window.monitor.tiles.rowCount() == 40, timeout=30_000)
    assert window.windowTitle().endswith("Demo site (simulated)")
    window.close()
    assert session.stop()
    assert session.site is None
    assert wait_parked(10)
