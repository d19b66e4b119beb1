"""``hvconsole`` without --demo: the window reads the host inventory and the keyring off the
GUI thread and monitors those hosts; with none it shows the welcome page with "Add host"."""

from __future__ import annotations

import secrets
import sys
from pathlib import Path

import pytest

from hvconsole import paths
from hvconsole.app import GuiSession
from hvconsole.core.inventory import Host, InventoryStore
from hvconsole.core.inventory.book import HostBook
from hvconsole.credentials import CredentialStore, Secret
from hvconsole.sim.scenarios.freeze import SCENARIOS
from hvconsole.sim.serve import serve_site
from hvconsole.ui.main_window import MainWindow

sys.path.insert(0, str(Path(__file__).parents[1] / "integration"))
from keyrings import install  # noqa: E402

pytestmark = pytest.mark.slow


@pytest.fixture()
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("HVCONSOLE_HOME", str(tmp_path))
    return tmp_path


@pytest.fixture()
def session(qtbot):
    window = MainWindow()
    qtbot.addWidget(window)
    window.resize(1280, 800)
    window.show()
    gui = GuiSession(window)
    yield gui
    window.close()
    gui.stop()


def test_no_hosts_shows_the_welcome_page_with_add_host(home, monkeypatch, session, qtbot):
    install(monkeypatch)
    session.open_configured()
    qtbot.waitUntil(lambda: session.window.stack.currentWidget() is session.window.welcome, timeout=10_000)
    assert session.window.welcome.add_button.isEnabled()
    assert session.window.add_host_action.isEnabled()
    assert not session.window.edit_host_action.isEnabled()


def test_configured_hosts_are_monitored_and_a_host_without_password_is_named(home, monkeypatch, session, qtbot):
    backend = install(monkeypatch)
    password = secrets.token_urlsafe(12)
    served = serve_site(SCENARIOS["idle-vm"].build(), username="lab", password=password, latency_scale=0.0)
    try:
        book = HostBook(InventoryStore(paths.inventory_path()), CredentialStore(backend))
        for served_host in served.hosts:
            port = int(served_host.url.rsplit(":", 1)[1].split("/")[0])
            book.add(Host(name=served_host.name, address="127.0.0.1", port=port, username="lab",
                          transport="plaintext"), Secret(password))
        book.add(Host(name="HV-NOPASS", address="127.0.0.1", port=1, username="lab", transport="plaintext"), None)
        session.open_configured()
        window = session.window
        qtbot.waitUntil(lambda: window.monitor is not None, timeout=10_000)
        assert sorted(window.monitor.host_names()) == sorted(h.name for h in served.hosts)
        assert "HV-NOPASS: no password saved" in window.statusBar().currentMessage()
        assert window.edit_host_action.isEnabled() and window.remove_host_action.isEnabled()
        # Tiles arrive from the real collector over WinRM.
        qtbot.waitUntil(lambda: window.monitor.tile_proxy.rowCount() > 0, timeout=30_000)
        # The host list changes (removed on the command line meanwhile): reopening swaps the monitor.
        book.remove("HV-NOPASS")
        first = window.monitor
        session.open_configured()
        qtbot.waitUntil(lambda: window.monitor is not None and window.monitor is not first, timeout=10_000)
        assert window.statusBar().currentMessage() == ""
    finally:
        session.window.close()
        served.stop()
