"""The add/edit host dialog: the same validation as the inventory, Save writing the file
and the password store together, Test connection off the GUI thread (cancellable, the
verdict and its fix shown inline), and the remove confirmation."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QDialog, QMessageBox

from hvconsole import paths
from hvconsole.core.inventory import Host, HostBook, InventoryStore, Transport
from hvconsole.credentials import SERVICE, CredentialStore, Secret, SessionOnlyStore
from hvconsole.ui import background
from hvconsole.ui.hosts.host_dialog import HostDialog
from hvconsole.ui.hosts.host_dialog_remove import confirm_and_remove
from tests.integration import keyrings
from tests.integration.simhost import sim_endpoint

pytestmark = [
    pytest.mark.timeout(90),
    # The offscreen platform plugin says this for every shown dialog; it is not ours to fix.
    pytest.mark.qt_log_ignore(r"This plugin does not support propagateSizeHints"),
]


@pytest.fixture
def memory(monkeypatch, tmp_path: Path):
    monkeypatch.setenv(paths.HOME_ENV, str(tmp_path))
    return keyrings.install(monkeypatch)


@pytest.fixture
def book(memory) -> HostBook:
    return HostBook(InventoryStore(paths.inventory_path()), CredentialStore())


@pytest.fixture
def password() -> str:
    return secrets.token_urlsafe(16)


def sample_host(name: str) -> Host:
    return Host(name=name, address="hv01.corp.example", username="CORP\\hvadmin")


def dialog(qtbot, book: HostBook, **kw) -> HostDialog:
    d = HostDialog(book, **kw)
    qtbot.addWidget(d)
    return d


def fill(d: HostDialog, *, name="HV01", address="hv01.corp.example", user="CORP\\hvadmin", password="",
         transport: str | None = None, port: int = 0) -> None:
    d.name_edit.setText(name)
    d.address_edit.setText(address)
    d.user_edit.setText(user)
    d.password_edit.setText(password)
    d.port_spin.setValue(port)
    if transport:
        d.transport_combo.setCurrentIndex(d.transport_combo.findData(transport))


def save(d: HostDialog) -> None:
    d.buttons.button(d.buttons.StandardButton.Save).click()


def test_add_saves_the_host_to_the_file_and_the_password_to_the_keyring(qtbot, book, memory, password) -> None:
    d = dialog(qtbot, book)
    assert d.windowTitle() == "Add host" and "OS keyring" in d.store_note.text()
    fill(d, password=password)
    d.group_combo.setCurrentText("pilot")
    save(d)
    assert d.result() == QDialog.DialogCode.Accepted
    host = d.saved_host
    assert (host.name, host.group, host.transport) == ("HV01", "pilot", Transport.NTLM)
    assert memory.entries == {(SERVICE, host.id): password}
    assert password not in paths.inventory_path().read_text(encoding="utf-8")
    assert [h.name for h in InventoryStore(paths.inventory_path()).load().inventory] == ["HV01"]


@pytest.mark.parametrize("fields, says, widget", [
    ({"address": "hv 01"}, "Address: 'hv 01' is not a valid DNS name", "address_edit"),
    ({"user": "CORP\\a\\b"}, "Username:", "user_edit"),
    ({"address": "10.0.0.5", "transport": "plaintext"}, "only to this PC", "transport_combo"),
    ({"name": "  "}, "Name: must not be empty", "name_edit"),
])
def test_bad_fields_are_named_and_nothing_is_written(qtbot, book, memory, password, fields, says, widget) -> None:
    d = dialog(qtbot, book)
    d.show()
    fill(d, password=password, **fields)
    save(d)
    assert d.result() != QDialog.DialogCode.Accepted and d.saved_host is None
    assert not d.problem.isHidden() and says in d.problem.text()
    assert d.focusWidget() is getattr(d, widget)
    assert memory.entries == {} and not paths.inventory_path().exists()


def test_duplicate_name_and_missing_password(qtbot, book, password) -> None:
    book.add(sample_host("HV01"), Secret(password))
    d = dialog(qtbot, book)
    fill(d, name="hv01", address="10.0.0.2", password=password)
    save(d)
    assert "already exists" in d.problem.text() and d.saved_host is None
    fill(d, name="HV02", address="10.0.0.2", password="")
    save(d)
    assert "type the password" in d.problem.text().lower() and len(book.inventory) == 1


def test_https_options_and_the_visible_no_verify_warning(qtbot, book, password, tmp_path: Path) -> None:
    d = dialog(qtbot, book)
    d.show()
    fill(d, password=password, transport="ntlm")
    assert d.tls_box.isHidden() and d.port_spin.specialValueText() == "default (5985)"
    d.transport_combo.setCurrentIndex(d.transport_combo.findData("https"))
    assert d.tls_box.isVisible() and d.port_spin.specialValueText() == "default (5986)"
    assert d.no_verify_warning.isHidden()
    d.validate_none.setChecked(True)
    assert d.no_verify_warning.isVisible() and "pose as this host" in d.no_verify_warning.text()
    d.validate_bundle.setChecked(True)
    assert d.no_verify_warning.isHidden() and d.ca_edit.isEnabled()
    save(d)
    assert "choose the CA bundle file" in d.problem.text()
    ca = tmp_path / "ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\n", encoding="ascii")
    d.ca_edit.setText(str(ca))
    save(d)
    assert d.saved_host.ca_bundle == str(ca) and d.saved_host.verify_tls is True


def test_edit_renames_keeps_the_secret_or_replaces_it(qtbot, book, memory, password) -> None:
    host = book.add(sample_host("HV01"), Secret(password))
    d = dialog(qtbot, book, host_name="hv01")
    assert d.windowTitle() == "Edit host – HV01" and d.name_edit.text() == "HV01"
    assert d.password_edit.text() == "" and "unchanged" in d.password_edit.placeholderText()
    d.name_edit.setText("HV01-renamed")
    save(d)
    assert d.saved_host.id == host.id and memory.entries == {(SERVICE, host.id): password}
    new_password = secrets.token_urlsafe(16)
    d2 = dialog(qtbot, book, host_name="HV01-renamed")
    d2.password_edit.setText(new_password)
    save(d2)
    assert memory.entries == {(SERVICE, host.id): new_password}


def test_session_only_store_says_so_and_keeps_nothing_in_the_keyring(qtbot, memory, password) -> None:
    session = SessionOnlyStore(reason="No OS keyring is available on this PC.")
    book = HostBook(InventoryStore(paths.inventory_path()), session)
    d = dialog(qtbot, book)
    assert "this session only" in d.store_note.text() and "No OS keyring" in d.store_note.text()
    fill(d, password=password)
    save(d)
    assert session.get(d.saved_host.id) == Secret(password) and memory.entries == {}


# -- Test connection ------------------------------------------------------------------------

def test_test_connection_runs_in_the_background_and_shows_the_verdict(qtbot, book, password) -> None:
    with sim_endpoint(auth="ntlm") as sim:
        d = dialog(qtbot, book)
        fill(d, address="127.0.0.1", user=sim.user, password=sim.password, transport="ntlm", port=sim.port)
        with qtbot.waitSignal(d.probe_panel.result_shown, timeout=30000) as got:
            d.probe_panel.button.click()
            assert d.probe_panel.running and "Cancel" in d.probe_panel.button.text()
        assert got.args[0].ok
        assert d.probe_panel.status.text().startswith("✔ Connected to HV01")
        assert d.probe_panel.hint.isHidden() and not d.probe_panel.running

        d.password_edit.setText(sim.password + "-typo")
        assert "Checks the name" in d.probe_panel.status.text()       # editing clears the verdict
        with qtbot.waitSignal(d.probe_panel.result_shown, timeout=30000):
            d.probe_panel.button.click()
        assert "rejected the user name or password" in d.probe_panel.status.text()
        assert d.probe_panel.hint.text().startswith("Fix: check the password")
        assert sim.password not in d.probe_panel.status.text() + d.probe_panel.hint.text()


def test_edit_mode_tests_with_the_stored_password(qtbot, book) -> None:
    with sim_endpoint() as sim:
        book.add(sim.host(), Secret(sim.password))
        d = dialog(qtbot, book, host_name="HV01")
        with qtbot.waitSignal(d.probe_panel.result_shown, timeout=30000) as got:
            d.probe_panel.button.click()
        assert got.args[0].ok


def test_cancel_returns_at_once_and_the_late_answer_is_ignored(qtbot, book) -> None:
    with sim_endpoint() as sim:
        sim.endpoint.faults.hang()
        d = dialog(qtbot, book, probe_timeout_s=3)
        fill(d, address="127.0.0.1", user=sim.user, password=sim.password, transport="plaintext", port=sim.port)
        shown = []
        d.probe_panel.result_shown.connect(shown.append)
        d.probe_panel.button.click()
        assert d.probe_panel.running                   # click() returned while the host hangs
        timer = QTimer()
        timer.setSingleShot(True)
        with qtbot.waitSignal(timer.timeout, timeout=5000):   # and the event loop keeps running
            timer.start(20)
        qtbot.waitUntil(lambda: sim.endpoint.stats.requests_total > 0, timeout=10000)
        d.probe_panel.button.click()                                  # Cancel
        assert not d.probe_panel.running and d.probe_panel.status.text() == "Test cancelled."
        assert d.probe_panel.button.text() == "&Test connection"
        qtbot.waitUntil(lambda: d.probe_panel._runner.pending == 0, timeout=20000)
        qtbot.wait(50)
        assert shown == [] and d.probe_panel.status.text() == "Test cancelled."
        sim.endpoint.faults.clear()


def test_closing_during_a_hung_test_does_not_wait(qtbot, book) -> None:
    with sim_endpoint() as sim:
        sim.endpoint.faults.hang()
        d = dialog(qtbot, book, probe_timeout_s=20)
        fill(d, address="127.0.0.1", user=sim.user, password=sim.password, transport="plaintext", port=sim.port)
        d.probe_panel.button.click()
        qtbot.waitUntil(lambda: sim.endpoint.stats.requests_total > 0, timeout=10000)
        d.reject()
        assert d.result() == QDialog.DialogCode.Rejected and not d.probe_panel.running
        sim.endpoint.faults.clear()
    assert background.wait_parked(30)   # the endpoint stopped: the parked worker finished


def test_invalid_fields_stop_the_test_before_it_starts(qtbot, book) -> None:
    d = dialog(qtbot, book)
    fill(d, address="not valid!")
    d.probe_panel.button.click()
    assert not d.probe_panel.running and "Fix the highlighted field" in d.probe_panel.status.text()
    fill(d)
    d.probe_panel.button.click()
    assert not d.probe_panel.running and "Type the password" in d.probe_panel.status.text()


def test_host_data_is_shown_as_plain_text(qtbot, book, password) -> None:
    d = dialog(qtbot, book)
    assert d.probe_panel.status.textFormat() == Qt.TextFormat.PlainText
    assert d.problem.textFormat() == Qt.TextFormat.PlainText
    fill(d, name="<b>HV01</b><img src=x>", address="bad address", password=password)
    save(d)
    assert "bad address" in d.problem.text() and d.problem.textFormat() == Qt.TextFormat.PlainText


# -- remove ---------------------------------------------------------------------------------

def click(name: str):
    def ask(box: QMessageBox) -> None:
        assert box.textFormat() == Qt.TextFormat.PlainText
        target = next(b for b in box.buttons() if b.objectName() == name or b.text() == name)
        target.click()
    return ask


def test_remove_asks_and_deletes_host_and_password(qtbot, book, memory, password) -> None:
    host = book.add(sample_host("<i>HV01</i>"), Secret(password))
    assert confirm_and_remove(book, "<i>HV01</i>", ask=click("Cancel")) is False
    assert len(book.inventory) == 1 and len(memory.entries) == 1
    seen = []

    def remove(box: QMessageBox) -> None:
        seen.append(box.text() + " " + box.informativeText())
        assert box.defaultButton().text() == "Cancel"
        click("removeButton")(box)

    assert confirm_and_remove(book, "<i>hv01</i>", ask=remove) is True
    assert "Remove <i>HV01</i> from the console?" in seen[0] and "OS keyring" in seen[0]
    assert len(book.inventory) == 0 and memory.entries == {}
    assert host.name not in paths.inventory_path().read_text(encoding="utf-8")


def _clipped(d: HostDialog) -> list[str]:
    """Names of the visible word-wrapped labels shorter than their text needs."""
    from PySide6.QtWidgets import QLabel
    return [f"{w.objectName() or w.text()[:30]}: {w.height()} < {w.heightForWidth(w.width())}"
            for w in d.findChildren(QLabel)
            if w.isVisible() and w.wordWrap() and w.height() < w.heightForWidth(w.width())]


def test_the_dialog_grows_instead_of_clipping_its_paragraphs(qtbot, memory):
    """Issue 10 #15: the keyring paragraph and the error lines were clipped mid-glyph when
    the dialog's content grew (HTTPS box, a long problem, a long test verdict)."""
    long_reason = ("No OS keyring is available on this PC (keyring found no usable backend). On Linux, "
                   "run a Secret Service (GNOME Keyring or KWallet) in your desktop session and unlock it.")
    book = HostBook(InventoryStore(paths.inventory_path()), SessionOnlyStore(reason=long_reason))
    d = dialog(qtbot, book)
    d.show()
    qtbot.waitUntil(lambda: d.store_note.isVisible())
    assert _clipped(d) == []
    https = next(i for i in range(d.transport_combo.count())
                 if Transport(d.transport_combo.itemData(i)).uses_tls)
    d.transport_combo.setCurrentIndex(https)
    d.validate_none.setChecked(True)
    qtbot.waitUntil(lambda: d.no_verify_warning.isVisible())
    qtbot.waitUntil(lambda: _clipped(d) == [], timeout=5000)
    fill(d, name="HV01", address="fe80::1%" + "x" * 40, password="")
    qtbot.mouseClick(d.buttons.button(d.buttons.StandardButton.Save), Qt.MouseButton.LeftButton)
    assert d.problem.isVisible()
    d.probe_panel.show_problem("The host answered, but " + "the account lacks the rights it needs; " * 6)
    qtbot.waitUntil(lambda: _clipped(d) == [], timeout=5000)
    # and the admin cannot shrink it into clipping again
    assert d.minimumHeight() >= d.layout().totalHeightForWidth(d.width()) - 1
