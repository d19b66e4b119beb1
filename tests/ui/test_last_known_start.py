"""Issue 12, through the user's path: a second start of the window shows the demo site's
last known tiles before any poll answered (the site is held back from opening here, so none
can), marked as such; then they turn live on the same page, and a VM gone since disappears."""

from __future__ import annotations

import json
import threading

import pytest

from hvconsole import paths
from hvconsole.monitoring.last_known import LAST_KNOWN_WORDS, last_known_file

WAIT_MS = 60_000


@pytest.fixture()
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("HVCONSOLE_HOME", str(tmp_path))
    return tmp_path


def start_window(qtbot):
    from hvconsole.app import GuiSession
    from hvconsole.ui.main_window import MainWindow
    window = MainWindow()
    qtbot.addWidget(window)
    window.resize(1280, 800)
    window.show()
    session = GuiSession(window)
    session.open_demo()
    return window, session


def tiles(window) -> list:
    model = window.monitor.tiles
    return [model.row(i) for i in range(model.rowCount())]


@pytest.mark.slow
def test_second_start_shows_last_known_tiles_before_any_answer_then_live(home, qtbot, monkeypatch, tmp_path):
    from hvconsole import app
    from hvconsole.ui.background import wait_parked

    # First start: the demo site answers, then the window closes (its state is written).
    window, session = start_window(qtbot)
    # The page (window.monitor) comes a moment after the site is open: once its first polls are out.
    qtbot.waitUntil(lambda: session.site is not None and window.monitor is not None
                    and window.monitor.tiles.rowCount() > 0
                    and all(h.reachable for h in window.monitor.hosts.rows()), timeout=WAIT_MS)
    qtbot.waitUntil(lambda: all(r.stale_reason is None for r in tiles(window)), timeout=WAIT_MS)
    # By VM id: a VM the demo live-migrates changes host between a look and the close.
    first_vms = {r.vm.id for r in tiles(window)}
    window.close()
    assert session.stop()
    path = last_known_file(paths.demo_data_dir())
    doc = json.loads(path.read_text(encoding="utf-8"))
    assert {v["id"] for h in doc["hosts"] for v in h["vms"]} == first_vms
    # A VM deleted on HV01 since: known last time, gone by the next answer.
    doc["hosts"][0]["vms"].append({"id": "retired-vm", "name": "RETIRED-01", "state": "Running"})
    path.write_text(json.dumps(doc), encoding="utf-8")

    # Second start, the site held back from opening: no poll can answer meanwhile.
    gate = threading.Event()
    real_open = app._open_demo

    def held_open(closing, speed, *rest):
        gate.wait(WAIT_MS / 1000)
        return real_open(closing, speed, *rest)
    monkeypatch.setattr(app, "_open_demo", held_open)
    window, session = start_window(qtbot)
    try:
        qtbot.waitUntil(lambda: window.monitor is not None
                        and window.monitor.tiles.rowCount() == len(first_vms) + 1, timeout=10_000)
        monitor, page = window.monitor, window.page
        shown = tiles(window)
        assert session.site is None and monitor.workers == {}          # nothing polled
        assert all(r.stale_reason.startswith(LAST_KNOWN_WORDS) for r in shown)
        assert all(r.findings == () for r in shown) and monitor.findings.rowCount() == 0
        assert all(h.reachable is None for h in monitor.hosts.rows())   # "Connecting…"
        assert window.status_text.text().startswith("Last known at ")
        assert page.tabs.tabText(0) == "Findings (connecting…)"      # not an all-clear
        assert "connecting" in window.status_text.text()
        assert window.stack.currentWidget() is page and page.tile_view.isVisible()
        page.grab().save(str(tmp_path / "last-known.png"))              # it paints

        gate.set()
        qtbot.waitUntil(lambda: session.site is not None and not monitor.last_known_hosts()
                        and all(h.reachable for h in monitor.hosts.rows()), timeout=WAIT_MS)
        qtbot.waitUntil(lambda: all(r.stale_reason is None for r in tiles(window)), timeout=WAIT_MS)
        assert window.monitor is monitor and window.page is page      # the same page went on, live
        assert {r.vm.id for r in tiles(window)} == first_vms  # RETIRED-01 is gone
        assert not window.status_text.text().startswith("Last known")
        assert "connecting" not in page.tabs.tabText(0)
    finally:
        gate.set()
        window.close()
        assert session.stop()
    assert wait_parked(10)


def test_configured_site_last_known_tiles_give_way_to_the_welcome_page(home, qtbot, monkeypatch):
    """The configured site's file is read the same way; when the inventory turns out to be
    empty by now, its last known tiles go and the welcome page is shown."""
    from datetime import UTC, datetime

    from hvconsole import app
    from hvconsole.app import GuiSession
    from hvconsole.core.snapshot import VmSample
    from hvconsole.monitoring.last_known import KnownHost, LastKnown, write_last_known
    from hvconsole.ui.main_window import MainWindow
    write_last_known(last_known_file(paths.data_dir()), LastKnown(label="Hosts", hosts=(
        KnownHost(name="HV01", address="hv01.lab", polled_at=datetime(2026, 11, 25, 9, 0, tzinfo=UTC),
                  vms=(VmSample(id="v1", name="APP-01", state="Running"),)),)))
    gate = threading.Event()
    real_read = app._read_configured

    def held_read(passwords):
        gate.wait(WAIT_MS / 1000)
        return real_read(passwords)
    monkeypatch.setattr(app, "_read_configured", held_read)
    window = MainWindow()
    qtbot.addWidget(window)
    window.show()
    session = GuiSession(window)
    try:
        session.open_configured()
        qtbot.waitUntil(lambda: window.monitor is not None and window.monitor.tiles.rowCount() == 1, timeout=10_000)
        assert window.monitor.tiles.row(0).stale_reason.startswith(LAST_KNOWN_WORDS)
        gate.set()
        qtbot.waitUntil(lambda: window.stack.currentWidget() is window.welcome, timeout=WAIT_MS)
        assert window.monitor is None and window.page is None
    finally:
        gate.set()
        window.close()
        assert session.stop()


def test_a_site_that_opens_before_the_last_known_read_waits_for_its_tiles(home, qtbot, monkeypatch):
    """The demo's own process can be up before the last known state is read: the opened
    site is held until those tiles show (else a second start shows nothing until the first
    answers), then the same page goes on, live."""
    from datetime import UTC, datetime

    from hvconsole import app
    from hvconsole.core.snapshot import VmSample
    from hvconsole.monitoring.last_known import KnownHost, LastKnown, write_last_known
    names = ["HV01", "HV02", "HV03", "HV04", "HV05"]        # the demo-patch site's hosts
    write_last_known(last_known_file(paths.demo_data_dir()), LastKnown(label="Demo site (simulated)", hosts=tuple(
        KnownHost(name=name, address="127.0.0.1", polled_at=datetime(2026, 11, 25, 9, 0, tzinfo=UTC),
                  vms=(VmSample(id=f"v-{name}", name=f"OLD-{name}", state="Running"),)) for name in names)))
    gate = threading.Event()
    real_read = app._read_last_known

    def held_read(demo):
        gate.wait(WAIT_MS / 1000)
        return real_read(demo)
    monkeypatch.setattr(app, "_read_last_known", held_read)
    window, session = start_window(qtbot)
    try:
        qtbot.waitUntil(lambda: bool(session._held_sites), timeout=WAIT_MS)    # opened first, held
        assert session.site is None and window.monitor is None
        gate.set()
        qtbot.waitUntil(lambda: window.monitor is not None and window.monitor.tiles.rowCount() > 0, timeout=10_000)
        monitor = window.monitor
        assert any((r.stale_reason or "").startswith(LAST_KNOWN_WORDS) for r in tiles(window))
        qtbot.waitUntil(lambda: session.site is not None and all(h.reachable for h in monitor.hosts.rows()),
                        timeout=WAIT_MS)
        assert window.monitor is monitor and session._held_sites == []
        qtbot.waitUntil(lambda: all(r.stale_reason is None for r in tiles(window)), timeout=WAIT_MS)
    finally:
        gate.set()
        window.close()
        assert session.stop()


def test_the_window_names_the_last_known_file_as_its_reader_does():
    # A first start learns there is no file without importing the reader (app._read_last_known).
    from hvconsole import app
    from hvconsole.monitoring import last_known
    assert app.LAST_KNOWN_FILE_NAME == last_known.FILE_NAME
