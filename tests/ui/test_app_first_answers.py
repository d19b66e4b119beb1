"""A first start's polls leave before the health check, the history file and the page are
made (app.POLLS_AWAY_MS later): answers that come back before then (hosts that refuse the
connection at once) must still count, and a site replaced meanwhile must stop polling."""

from __future__ import annotations

import pytest

from hvconsole.remote.target import Target
from hvconsole.site import Site

WAIT_MS = 20_000


@pytest.fixture()
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("HVCONSOLE_HOME", str(tmp_path))
    return tmp_path


def refusing_site(*names: str) -> Site:
    # Nothing listens on port 1: each poll fails at once, long before the 40 ms are up.
    return Site(kind="configured", label="Hosts", targets=[
        Target(name=n, url="http://127.0.0.1:1/wsman", username="u", password="p", transport="plaintext")
        for n in names])


def start_window(qtbot, monkeypatch, *, away_ms: int):
    from hvconsole import app
    from hvconsole.ui.main_window import MainWindow
    # The hosts' second polls must not come during the test (they would hide what the
    # first ones did); the health check etc. are made well after the first answers.
    monkeypatch.setattr(app, "CONFIGURED_POLL_INTERVAL_S", 3600.0)
    monkeypatch.setattr(app, "POLLS_AWAY_MS", away_ms)
    window = MainWindow()
    qtbot.addWidget(window)
    window.show()
    return window, app.GuiSession(window)


def test_the_health_check_starts_after_first_answers_that_came_before_it_was_made(home, qtbot, monkeypatch):
    from hvconsole.ui.background import wait_parked
    from hvconsole.ui.health import HealthService
    started: list[HealthService] = []
    real_start = HealthService.start

    def start(self):
        started.append(self)
        real_start(self)
    monkeypatch.setattr(HealthService, "start", start)
    window, session = start_window(qtbot, monkeypatch, away_ms=3000)
    site = refusing_site("HV01", "HV02")
    session._configured_loaded(site)
    # Both hosts' first (failed) polls are applied before the health check exists.
    monitor = None

    def both_answered() -> bool:
        nonlocal monitor
        monitor = session._unshown_monitor or window.monitor
        return monitor is not None and monitor.ticks > 0 and not monitor._first_pending
    qtbot.waitUntil(both_answered, timeout=WAIT_MS)
    assert session.health is None
    qtbot.waitUntil(lambda: session.health is not None and window.page is not None, timeout=WAIT_MS)
    # Its audits start with the first round it missed, not an interval later.
    qtbot.waitUntil(lambda: started == [session.health], timeout=WAIT_MS)
    # So do the host graphs (made once the first answers are shown).
    page = window.page
    qtbot.waitUntil(lambda: page._graphs is not None, timeout=WAIT_MS)
    window.close()
    assert session.stop()
    assert wait_parked(10)


def test_a_site_replaced_before_its_page_was_built_stops_polling(home, qtbot, monkeypatch):
    from hvconsole.ui.background import wait_parked
    window, session = start_window(qtbot, monkeypatch, away_ms=60_000)
    first = refusing_site("HV01")
    session._configured_loaded(first)
    qtbot.waitUntil(lambda: session._unshown_monitor is not None, timeout=WAIT_MS)
    old = session._unshown_monitor
    # Replaced (a host edited, say) before its page was built: the new site's page is
    # built at once, and the first site's monitor stops, not polling its hosts until the
    # window closes.
    session._configured_loaded(refusing_site("HV02"))
    assert session.site is not first and first.closed
    assert not old.polling._running
    assert session._unshown_monitor is None or session._unshown_monitor is not old
    window.close()
    assert session.stop()
    assert wait_parked(10)


@pytest.mark.parametrize("how", ["replaced", "closed"])
def test_a_site_gone_before_its_page_was_built_leaves_quietly(home, qtbot, monkeypatch, how):
    # The monitor stopped (and deleted) when its site went; the health check, history and
    # page that were to follow it are not made, and nothing touches the deleted monitor.
    from hvconsole.ui.background import wait_parked
    window, session = start_window(qtbot, monkeypatch, away_ms=300)
    session._configured_loaded(refusing_site("HV01"))
    qtbot.waitUntil(lambda: session._unshown_monitor is not None, timeout=WAIT_MS)
    old = session._unshown_monitor
    if how == "replaced":
        session._configured_loaded(refusing_site("HV02"))
    else:
        window.close()
        assert session.stop()
    assert not old.polling._running
    qtbot.wait(600)                         # past POLLS_AWAY_MS, the monitor deleted meanwhile
    assert session.history_writer is None or how == "replaced"
    if how == "replaced":
        assert window.page is not None and window.monitor.host_names() == ["HV02"]
        window.close()
        assert session.stop()
    assert wait_parked(10)
