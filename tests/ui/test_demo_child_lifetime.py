"""``hvconsole --demo`` as real processes: however the window ends (closed, closed while its
demo process starts, killed), and with two windows at once, no ``--serve-demo-child`` process
is left behind. Linux only: the children are found through /proc by their HVCONSOLE_HOME."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from hvconsole.sim.child import CHILD_FLAG

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not Path("/proc/self/environ").is_file(), reason="finds children through /proc")]

PROCESS_TIMEOUT_S = 90
GONE_WITHIN_S = 15.0


def demo_children(home: Path) -> list[int]:
    """The pids of live demo site processes started for ``home``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
            if CHILD_FLAG.encode() not in cmdline:
                continue
            environ = (entry / "environ").read_bytes().split(b"\0")
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if f"HVCONSOLE_HOME={home}".encode() in environ and state != "Z":
            found.append(int(entry.name))
    return found


def wait_for(predicate, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def start_window(home: Path, *args: str) -> subprocess.Popen:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", HVCONSOLE_HOME=str(home))
    return subprocess.Popen([sys.executable, "-m", "hvconsole", "--demo", *args], env=env, cwd=home,
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def finish(window: subprocess.Popen) -> tuple[int, str]:
    try:
        _out, err = window.communicate(timeout=PROCESS_TIMEOUT_S)
    finally:
        window.kill()
        window.wait(10)
    return window.returncode, err


def test_a_window_closed_normally_leaves_no_demo_process(tmp_path):
    window = start_window(tmp_path, "--screenshot", str(tmp_path / "shot.png"), "--after", "3")
    code, err = finish(window)
    assert code == 0, err
    assert "Traceback" not in err
    assert wait_for(lambda: not demo_children(tmp_path), GONE_WITHIN_S)


def test_a_window_closed_while_its_demo_process_starts_leaves_none(tmp_path):
    window = start_window(tmp_path, "--screenshot", str(tmp_path / "shot.png"), "--after", "0")
    code, err = finish(window)
    assert code == 0, err
    assert "Traceback" not in err
    assert wait_for(lambda: not demo_children(tmp_path), GONE_WITHIN_S)


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])   # no crash signal: no core file
def test_a_killed_or_terminated_window_leaves_no_demo_process(tmp_path, sig):
    window = start_window(tmp_path)
    try:
        assert wait_for(lambda: demo_children(tmp_path), PROCESS_TIMEOUT_S), "the demo process never started"
        time.sleep(1.0)                    # serving by now, its site shown in the window
        window.send_signal(sig)
        window.wait(PROCESS_TIMEOUT_S)
        assert wait_for(lambda: not demo_children(tmp_path), GONE_WITHIN_S)
    finally:
        window.kill()
        window.wait(10)
        window.stderr.close()


def test_two_windows_at_once_each_end_their_own(tmp_path):
    homes = [tmp_path / "a", tmp_path / "b"]
    for home in homes:
        home.mkdir()
    windows = [start_window(home, "--screenshot", str(home / "shot.png"), "--after", "4") for home in homes]
    results = [finish(w) for w in windows]
    assert [code for code, _err in results] == [0, 0], results
    for home in homes:
        assert (home / "shot.png").is_file()
        assert wait_for(lambda home=home: not demo_children(home), GONE_WITHIN_S)


def test_the_demo_opened_from_the_welcome_page_is_served_by_its_own_process_too(tmp_path):
    # `hvconsole` with no hosts shows the welcome page; its "Open the demo" is the first
    # thing a new admin does, and gets the same demo as `hvconsole --demo`.
    script = textwrap.dedent("""
        import sys
        from PySide6.QtCore import QTimer
        from PySide6.QtWidgets import QApplication
        from hvconsole.app import run_gui

        def open_demo():
            for widget in QApplication.topLevelWidgets():
                if hasattr(widget, "welcome"):
                    widget.welcome.open_demo.emit()
        QApplication([])
        QTimer.singleShot(1000, open_demo)
        sys.exit(run_gui(screenshot=sys.argv[1], after=8))
        """)
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", HVCONSOLE_HOME=str(tmp_path))
    window = subprocess.Popen([sys.executable, "-c", script, str(tmp_path / "shot.png")], env=env, cwd=tmp_path,
                              stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    served_by_a_child = wait_for(lambda: demo_children(tmp_path), 7.0)
    code, err = finish(window)
    assert code == 0, err
    assert served_by_a_child
    assert wait_for(lambda: not demo_children(tmp_path), GONE_WITHIN_S)
