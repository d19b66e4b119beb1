"""The host dialog's "Poll every" field: empty means the default, a value is saved in the
inventory and shown again when the host is edited, and going back to "default" clears it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hvconsole import paths
from hvconsole.core.inventory import Host, HostBook, InventoryStore
from hvconsole.credentials import CredentialStore, Secret
from hvconsole.ui.hosts.host_dialog import HostDialog
from tests.integration import keyrings

pytestmark = [pytest.mark.qt_log_ignore(r"This plugin does not support propagateSizeHints")]


@pytest.fixture
def book(monkeypatch, tmp_path: Path) -> HostBook:
    monkeypatch.setenv(paths.HOME_ENV, str(tmp_path))
    keyrings.install(monkeypatch)
    return HostBook(InventoryStore(paths.inventory_path()), CredentialStore())


def saved_interval(name: str):
    doc = json.loads(paths.inventory_path().read_text(encoding="utf-8"))
    return next(h for h in doc["hosts"] if h["name"] == name).get("poll_interval_s", "absent")


def dialog(qtbot, book: HostBook, **kw) -> HostDialog:
    d = HostDialog(book, **kw)
    qtbot.addWidget(d)
    return d


def save(d: HostDialog) -> None:
    d.buttons.button(d.buttons.StandardButton.Save).click()


def test_the_poll_interval_field_round_trips_through_the_inventory(qtbot, book) -> None:
    book.add(Host(name="HV01", address="hv01.corp.example", username="CORP\\hvadmin"), Secret("pw"))
    d = dialog(qtbot, book, host_name="HV01")
    assert d.interval_spin.text() == "default"           # no interval of its own yet
    assert d.interval_spin.minimum() == 4 and d.interval_spin.maximum() == 3600
    d.interval_spin.setValue(30)
    save(d)
    assert saved_interval("HV01") == 30
    d2 = dialog(qtbot, book, host_name="HV01")
    assert d2.interval_spin.value() == 30
    d2.interval_spin.setValue(d2.interval_spin.minimum())  # back to "default"
    save(d2)
    assert saved_interval("HV01") == "absent"


def saved_loop(name: str):
    doc = json.loads(paths.inventory_path().read_text(encoding="utf-8"))
    return next(h for h in doc["hosts"] if h["name"] == name).get("collect_loop", "absent")


def test_the_collect_loop_box_round_trips_through_the_inventory_and_is_off_for_a_new_host(qtbot, book) -> None:
    new = dialog(qtbot, book)
    assert not new.loop_check.isChecked()                   # off by default (docs/winrm.md)
    book.add(Host(name="HV01", address="hv01.corp.example", username="CORP\\hvadmin"), Secret("pw"))
    d = dialog(qtbot, book, host_name="HV01")
    assert not d.loop_check.isChecked()
    d.loop_check.setChecked(True)
    save(d)
    assert saved_loop("HV01") is True
    d2 = dialog(qtbot, book, host_name="HV01")
    assert d2.loop_check.isChecked()
    d2.interval_spin.setValue(60)                           # other edits keep it
    save(d2)
    assert saved_loop("HV01") is True
    d3 = dialog(qtbot, book, host_name="HV01")
    d3.loop_check.setChecked(False)
    save(d3)
    assert saved_loop("HV01") == "absent"
