""""Check this host…" in the host dialog (issue 17): the doctor runs for the host the
fields describe, with the password the connection test would use (typed, or the stored
one), against a simulated host behind a real WS-Management endpoint on loopback."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from hvconsole import paths
from hvconsole.core.inventory import HostBook, InventoryStore
from hvconsole.credentials import CredentialStore
from hvconsole.doctor.checks import CHECKS
from hvconsole.ui.doctor_dialog import DoctorDialog
from hvconsole.ui.hosts.host_dialog import HostDialog
from tests.integration import keyrings
from tests.integration.simhost import sim_endpoint

pytestmark = [pytest.mark.timeout(240),
              pytest.mark.qt_log_ignore(r"This plugin does not support propagateSizeHints")]
WAIT_MS = 150_000     # every doctor check on a loaded 2-core machine: generous


@pytest.fixture
def book(monkeypatch, tmp_path) -> HostBook:
    monkeypatch.setenv(paths.HOME_ENV, str(tmp_path))
    keyrings.install(monkeypatch)
    return HostBook(InventoryStore(paths.inventory_path()), CredentialStore())


def fill_for(d: HostDialog, sim, password: str = "") -> None:
    d.name_edit.setText("HV01")
    d.address_edit.setText(sim.bind)
    d.user_edit.setText(sim.user)
    d.port_spin.setValue(sim.port)
    d.transport_combo.setCurrentIndex(d.transport_combo.findData("plaintext"))
    d.password_edit.setText(password)


@pytest.mark.slow
def test_check_this_host_runs_the_doctor_for_the_typed_host_and_password(book, qtbot):
    with sim_endpoint() as sim:
        d = HostDialog(book, clock=sim.site.clock.now)
        qtbot.addWidget(d)
        fill_for(d, sim, sim.password)
        button = d.doctor_button
        # Beside "Test connection", in the same row.
        row = d.probe_panel.layout().itemAt(1).layout()
        assert row.indexOf(button) == row.indexOf(d.probe_panel.button) + 1
        qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
        doctor = d.doctor
        assert isinstance(doctor, DoctorDialog) and doctor.parent() is d
        assert doctor.isVisible() and doctor.windowModality() == Qt.WindowModality.WindowModal
        assert doctor.running          # started at once, on its own pool
        assert doctor.host.name == "HV01" and doctor.host.port == sim.port
        with qtbot.waitSignal(doctor.finished_checks, timeout=WAIT_MS) as done:
            pass
        report = done.args[0]
        assert report.ok, doctor.row_texts()
        assert {r[0] for r in doctor.row_texts()} <= {"pass", "n/a"}
        assert doctor.status.text() == f"All {len(CHECKS)} checks passed."
        # Closing the host dialog closes (and cancels) the doctor with it.
        d.reject()
        qtbot.waitUntil(lambda: d.doctor is None)


@pytest.mark.slow
def test_an_edited_host_is_checked_with_its_stored_password_and_a_wrong_one_is_named(book, qtbot):
    with sim_endpoint() as sim:
        d = HostDialog(book)
        qtbot.addWidget(d)
        fill_for(d, sim, sim.password)
        d._save()
        assert d.result() == HostDialog.DialogCode.Accepted
        # Editing it: the password field is empty ("unchanged"), the stored one is used.
        e = HostDialog(book, host_name="HV01")
        qtbot.addWidget(e)
        doctor = e.check_host()
        assert doctor is not None
        with qtbot.waitSignal(doctor.finished_checks, timeout=WAIT_MS) as done:
            pass
        assert done.args[0].ok, doctor.row_texts()
        doctor.close()
        # A wrong typed password: the doctor says so in the authentication line.
        e.password_edit.setText("not-the-password")
        doctor = e.check_host()
        with qtbot.waitSignal(doctor.finished_checks, timeout=WAIT_MS) as done:
            pass
        assert not done.args[0].ok
        failed = [r for r in doctor.row_texts() if r[0] == "fail"]
        assert failed and "auth" in (failed[0][1] + failed[0][2]).lower()
        e.reject()


def test_check_this_host_with_bad_fields_opens_nothing_and_says_what_to_fix(book, qtbot):
    d = HostDialog(book)
    qtbot.addWidget(d)
    d.name_edit.setText("HV01")
    d.address_edit.setText("has space.example")
    d.user_edit.setText("CORP\\admin")
    d.password_edit.setText("pw")
    assert d.check_host() is None and d.doctor is None
    assert d.problem.isVisibleTo(d) and d.probe_panel.status.text().endswith("Fix the highlighted field first.")
    # A new host without a password: nothing to check with.
    d.address_edit.setText("hv01.corp.example")
    d.password_edit.setText("")
    assert d.check_host() is None
    assert "Type the password to check this host." in d.probe_panel.status.text()
