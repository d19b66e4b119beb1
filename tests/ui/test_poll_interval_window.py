"""Raising one host's poll interval from the cost line under its graphs (issue 17 #3): in the
real window on the embedded demo site (no inventory: this session only), and the saving
path against a real inventory file (saved off the GUI thread, a conflicting file refused)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox

from hvconsole.core.inventory import Host, HostBook, Inventory, InventoryStore
from hvconsole.ui.hosts import poll_interval
from hvconsole.ui.monitor.polling import PollingService

pytestmark = pytest.mark.slow


def test_raise_from_the_cost_line_switches_only_that_host(qtbot, monkeypatch) -> None:
    from hvconsole.app import GuiSession
    from hvconsole.ui.background import wait_parked
    from hvconsole.ui.main_window import MainWindow

    asked: list[str] = []

    def yes(parent, title, text, *args):
        asked.append(text)
        return QMessageBox.StandardButton.Yes
    monkeypatch.setattr(poll_interval.QMessageBox, "question", staticmethod(yes))

    window = MainWindow()
    qtbot.addWidget(window)
    session = GuiSession(window)
    window.show_welcome()
    window.resize(1280, 800)
    window.show()
    qtbot.mouseClick(window.welcome.demo_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.page is not None, timeout=30_000)
    page, polling = window.page, window.monitor.polling
    panel = page.host_panel
    # The demo's hosts spend ~0.4 s of CPU per poll: over 5 % of a core at its 5 s interval.
    qtbot.waitUntil(lambda: panel.raise_button.isVisible(), timeout=60_000)
    host = panel.cost_line.text().split(":", 1)[0]
    seconds = int(panel.raise_button.text().removeprefix("Raise to ").removesuffix(" s"))
    assert f"raise the poll interval to {seconds} s" in panel.cost_line.text()
    old_interval = polling.interval(host)
    assert seconds > old_interval
    workers_before = {name: polling.worker(name) for name in polling.hosts}
    intervals_before = {name: polling.interval(name) for name in polling.hosts}
    history_before = {name: w.history for name, w in workers_before.items()}

    qtbot.mouseClick(panel.raise_button, Qt.MouseButton.LeftButton)

    assert len(asked) == 1 and host in asked[0] and f"{seconds} s" in asked[0]
    assert polling.interval(host) == seconds
    worker = polling.worker(host)
    assert worker.scheduled_interval_s == seconds
    assert worker.poll_interval_s == pytest.approx(seconds)      # the demo runs at speed 1
    # Nothing was rebuilt: every worker (and its history) is the object it was.
    assert {name: polling.worker(name) for name in polling.hosts} == workers_before
    assert all(polling.worker(n) is workers_before[n] and polling.worker(n).history is history_before[n]
               for n in polling.hosts)
    assert {n: polling.interval(n) for n in polling.hosts if n != host} == \
        {n: i for n, i in intervals_before.items() if n != host}
    assert "for this session only" in window.statusBar().currentMessage()
    # The next poll of that host is at most the new interval away (plus jitter), and the
    # cost line now speaks of the new interval. The simulated cost jitters from poll to
    # poll, so its median may still ask for a second or two more: any offer left is
    # measured against the new interval.
    assert polling.due_in_ms(host) <= seconds * 1000 * 1.2
    qtbot.waitUntil(lambda: f"at {seconds} s" in panel.cost_line.text(), timeout=3 * seconds * 1000 + 30_000)
    if panel.raise_button.isVisible():
        assert int(panel.raise_button.text().removeprefix("Raise to ").removesuffix(" s")) > seconds

    window.close()
    assert session.stop()
    assert wait_parked(10)


# -- saving to the inventory -------------------------------------------------------------------

class StubWorker:
    def __init__(self, name: str):
        self.name = name
        self.poll_interval_s = 5.0
        self.scheduled_interval_s: float | None = None

    def close(self) -> None:
        pass


def configured(tmp_path: Path) -> tuple[HostBook, PollingService]:
    path = tmp_path / "hosts.json"
    store = InventoryStore(path)
    store.load()
    store.save(Inventory([Host(name=n, address=f"{n.lower()}.corp.example", username="CORP\\u")
                          for n in ("HV01", "HV02")]))
    book = HostBook(InventoryStore(path), None)
    polling = PollingService([StubWorker("HV01"), StubWorker("HV02")], interval_s=5.0)
    return book, polling


def test_a_confirmed_raise_is_saved_then_applied(qtbot, tmp_path: Path) -> None:
    book, polling = configured(tmp_path)
    changer = poll_interval.PollIntervalChanger(polling, book, confirm=lambda *a, **k: True)
    with qtbot.waitSignal(changer.message, timeout=10_000) as said:
        changer.request("HV01", 9)
    assert "saved in the host list" in said.args[0]
    doc = json.loads((tmp_path / "hosts.json").read_text(encoding="utf-8"))
    assert {h["name"]: h.get("poll_interval_s") for h in doc["hosts"]} == {"HV01": 9, "HV02": None}
    assert polling.interval("HV01") == 9 and polling.interval("HV02") == 5
    assert polling.worker("HV01").poll_interval_s == pytest.approx(9)
    assert changer.shutdown(time.monotonic() + 10)


def test_cancel_changes_nothing_and_a_conflicting_file_is_not_overwritten(qtbot, tmp_path: Path) -> None:
    book, polling = configured(tmp_path)
    before = (tmp_path / "hosts.json").read_bytes()
    no = poll_interval.PollIntervalChanger(polling, book, confirm=lambda *a, **k: False)
    no.request("HV01", 9)
    assert polling.interval("HV01") == 5 and (tmp_path / "hosts.json").read_bytes() == before

    # Another hvconsole (the command line) changed the file since this window read it.
    (tmp_path / "hosts.json").write_bytes(before + b"\n")
    changer = poll_interval.PollIntervalChanger(polling, book, confirm=lambda *a, **k: True)
    with qtbot.waitSignal(changer.message, timeout=10_000) as said:
        changer.request("HV01", 9)
    assert said.args[0].startswith("The poll interval of HV01 was not changed:")
    assert "changed by another hvconsole" in said.args[0]
    assert polling.interval("HV01") == 5
