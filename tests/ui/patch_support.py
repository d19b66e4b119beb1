"""Helpers for the patch wizard's GUI tests (no tests here). A site is either the embedded
demo (``hvconsole.site.open_demo_site``) or one of the sim's patch scenarios served in this
process (``site_for_served``): the same Site object, the real WinRM client, the real
``patch_*.ps1`` scripts answered by the simulated hosts. Every test gets its own
``HVCONSOLE_HOME`` (journal, catalog.d, state file)."""

from __future__ import annotations

import contextlib
import html.parser
from pathlib import Path
from typing import Any, Iterator

import pytest
from PySide6.QtWidgets import QMainWindow, QVBoxLayout, QWidget

from hvconsole.site import Site, open_demo_site, site_for_served
from hvconsole.sim.clock import SimClock
from hvconsole.sim.scenarios_patch import PATCH_SCENARIOS
from hvconsole.sim.serve import serve_site
from hvconsole.ui.background import wait_parked
from hvconsole.ui.patch.session import PatchSession

SPEED = 300.0            # host seconds per real second: only the sequence matters here
SOAK_MINUTES = 1.0       # host minutes: 0.2 s of real time at SPEED, a few polls
RUN_TIMEOUT_S = 240.0    # a whole two-wave run on a loaded 2-core machine: generous


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("HVCONSOLE_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


@contextlib.contextmanager
def scenario(name: str, speed: float = SPEED) -> Iterator[Site]:
    served = serve_site(PATCH_SCENARIOS[name].build(clock=SimClock(speed=speed)), latency_scale=0.2)
    site = site_for_served(served, description=f"scenario {name}", owned=True)
    try:
        yield site
    finally:
        site.close()


@contextlib.contextmanager
def demo(speed: float = SPEED) -> Iterator[Site]:
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
