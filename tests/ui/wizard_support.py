"""Helpers for the patch wizard's GUI tests (no tests here). A site is either the embedded
demo (``hvconsole.site.open_demo_site``) or one of the sim's patch scenarios served in this
process (``site_for_served``): the same Site object, the real WinRM client, the real
``patch_*.ps1`` scripts answered by the simulated hosts. Every test gets its own
``HVCONSOLE_HOME`` (journal, catalog.d, state file)."""

from __future__ import annotations

import contextlib
import html.parser
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Iterator
from unittest import mock

import pytest
from PySide6.QtWidgets import QMainWindow, QVBoxLayout, QWidget

from hvconsole.sim.model.clock import SimClock
from hvconsole.sim.scenarios.patch import PATCH_SCENARIOS
from hvconsole.sim.serve import LATENCY_SCALE_ENV, serve_site
from hvconsole.site import Site, open_demo_site, site_for_served
from hvconsole.ui.background import wait_parked
from hvconsole.ui.patch.session import PatchSession

SPEED = 300.0            # host seconds per real second: only the sequence matters here
# The hosts' own latencies (powershell.exe start-up, Get-VM) times this, in every site these
# tests start (in this process, `hvconsole-sim serve`, the embedded demo): they prove what the
# wizard shows and the order of a run, not timings (as tests/e2e/test_patch_support.py).
LATENCY_SCALE = 0.05
SOAK_MINUTES = 1.0       # host minutes: 0.2 s of real time at SPEED, a few polls
RUN_TIMEOUT_S = 240.0    # a whole two-wave run on a loaded 2-core machine: generous


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("HVCONSOLE_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


@contextlib.contextmanager
def scenario(name: str, speed: float = SPEED) -> Iterator[Site]:
    served = serve_site(PATCH_SCENARIOS[name].build(clock=SimClock(speed=speed)), latency_scale=LATENCY_SCALE)
    site = site_for_served(served, description=f"scenario {name}", owned=True)
    try:
        yield site
    finally:
        site.close()


@contextlib.contextmanager
def demo(speed: float = SPEED) -> Iterator[Site]:
    # The embedded demo reads its latency scale from the environment when it starts.
    with mock.patch.dict(os.environ, {LATENCY_SCALE_ENV: str(LATENCY_SCALE)}):
        site = open_demo_site(name="demo-patch", speed=speed)
    try:
        yield site
    finally:
        site.close()


class Window(QMainWindow):
    """The main window's part of the seam: a banner area and nothing else."""

    def __init__(self) -> None:
        super().__init__()
        central = QWidget()
        self.banner_area = QVBoxLayout(central)
        self.setCentralWidget(central)
        self.banners: list[QWidget] = []

    def add_banner(self, widget: QWidget) -> None:
        self.banners.append(widget)
        self.banner_area.addWidget(widget)


@contextlib.contextmanager
def session_for(site: Site, qtbot: Any) -> Iterator[PatchSession]:
    window = Window()
    qtbot.addWidget(window)
    session = PatchSession(site, window, window.add_banner)
    try:
        yield session
    finally:
        assert session.shutdown(30.0), "the run thread or a background task did not stop"
        wait_parked(10.0)


def live_banners(window: Any) -> list[Any]:
    out = []
    for b in window.banners:
        try:
            if not b.dismissed and b.isVisible() is not None:
                out.append(b)
        except RuntimeError:      # deleted by Qt
            pass
    return out


class TagCollector(html.parser.HTMLParser):
    """Parses a page and records its tags and text (the report's HTML check)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: set[str] = set()
        self.text: list[str] = []
        self.open: list[str] = []

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        self.tags.add(tag)
        if tag not in ("meta", "br", "hr", "img", "link", "input"):
            self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in self.open:
            while self.open and self.open.pop() != tag:
                pass

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse_html(text: str) -> TagCollector:
    parser = TagCollector()
    parser.feed(text)
    parser.close()
    return parser


# -- a simulated site and a wizard in processes of their own (kill-and-resume, CLI runs) -----

START_TIMEOUT_S = 60.0


@pytest.fixture
def served(home, tmp_path):
    """``hvconsole-sim serve --site patch-ok --state-file`` in its own process, so the site
    outlives a killed wizard; ``open_demo_site`` finds it through the state file."""
    # Imported here: the wizard's child processes import this module without the repo's tests package.
    from tests.integration.simhost import served_site_process
    with served_site_process(home, tmp_path / "sim.log", "patch-ok", SPEED,
                             env={LATENCY_SCALE_ENV: str(LATENCY_SCALE)}, start_timeout_s=START_TIMEOUT_S) as proc:
        yield proc


def start_child(tmp_path: Path, name: str, args: list[str]) -> tuple[subprocess.Popen, Path]:
    out = tmp_path / f"{name}.log"
    with out.open("wb") as log:
        proc = subprocess.Popen([sys.executable, *args], stdout=log, stderr=subprocess.STDOUT,
                                env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    return proc, out


def start_wizard_child(tmp_path: Path, soak_minutes: float = SOAK_MINUTES) -> tuple[subprocess.Popen, Path]:
    """This file as a script: a window's session whose wizard walks to "Start run"."""
    return start_child(tmp_path, "wizard", [__file__, "wizard-run", str(soak_minutes)])


def wait_for_intent(journal: Path, host: str, step: str, proc: subprocess.Popen, log: Path,
                    run_id: int = 1, timeout_s: float = RUN_TIMEOUT_S) -> None:
    """Poll the journal another process writes (read-only, WAL) until ``step``'s intent on
    ``host`` is there."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"the child ended before {step}:\n{log.read_text()}"
        if journal.exists():
            try:
                # Autocommit and closed at once: no read transaction outlives the check
                # (one kept open reads an old WAL snapshot).
                with contextlib.closing(sqlite3.connect(f"file:{journal}?mode=ro", uri=True, timeout=5,
                                                        isolation_level=None)) as db:
                    if db.execute("SELECT 1 FROM steps WHERE run_id=? AND host=? AND step=?",
                                  (run_id, host, step)).fetchall():
                        return
            except sqlite3.OperationalError:
                pass      # the schema is being created
        time.sleep(0.005)
    raise AssertionError(f"no {step} intent on {host} within {timeout_s} s:\n{log.read_text()}")


def _wizard_run(soak_minutes: float) -> int:
    """The child: the demo site found through the state file, a session, the wizard walked
    to "Start run" (test ring HV01, production HV02), then the run until it ends."""
    from PySide6.QtWidgets import QApplication

    from hvconsole.ui.patch.autopilot import Autopilot
    from hvconsole.ui.patch.state import TEST_RING
    app = QApplication([])
    site = open_demo_site(embedded=False)
    window = Window()
    session = PatchSession(site, window, window.add_banner)
    ap = Autopilot(session.open_wizard(), timeout_s=RUN_TIMEOUT_S)
    run_id = ap.walk_to_run("KB5061906", {"HV01": TEST_RING, "HV02": "production wave 1"}, soak_minutes)
    print(f"started run {run_id}", flush=True)
    state = ap.finish_run(RUN_TIMEOUT_S)
    print(f"run {run_id} {state}", flush=True)
    session.shutdown(10)
    app.quit()
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["wizard-run"]:
        sys.exit(_wizard_run(float(sys.argv[2])))
    sys.exit(f"usage: {sys.argv[0]} wizard-run SOAK_MINUTES")
