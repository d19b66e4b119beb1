"""The "Check this host" dialog: the doctor's checks appear line by line while they run on
a background pool (the GUI thread keeps turning), a fault shows its fix, Cancel stops at the
next check, and "Save diagnostic bundle…" writes the zip off the GUI thread. Against a
simulated host behind a real WS-Management endpoint on loopback."""

from __future__ import annotations

import threading
import zipfile

import pytest
from PySide6.QtCore import QTimer

from hvconsole.credentials import Secret
from hvconsole.doctor.checks import CHECKS
from hvconsole.ui.doctor_dialog import DoctorDialog
from tests.integration.simhost import sim_endpoint

pytestmark = pytest.mark.timeout(180)
WAIT_MS = 120_000     # a loaded 2-core machine: generous, the checks end far sooner


def make(qtbot, sim, **kw) -> DoctorDialog:
    d = DoctorDialog(sim.host(), lambda: Secret(sim.password), clock=sim.site.clock.now, **kw)
    qtbot.addWidget(d)
    return d


def test_a_healthy_host_fills_every_line_with_pass(qtbot):
    with sim_endpoint() as sim:
        d = make(qtbot, sim)
        assert [r[0] for r in d.row_texts()] == ["waiting"] * len(CHECKS)
        lines_seen = []
        d.line_shown.connect(lambda result: lines_seen.append(result.key))
        with qtbot.waitSignal(d.finished_checks, timeout=WAIT_MS) as done:
            d.start()
            assert d.running and not d.save_button.isEnabled() and d.cancel_button.isEnabled()
    report = done.args[0]
    assert report.ok and lines_seen == [c.key for c in CHECKS]       # live, in order
    assert {r[0] for r in d.row_texts()} <= {"pass", "n/a"}
    assert d.status.text() == f"All {len(CHECKS)} checks passed."
    assert d.save_button.isEnabled() and not d.running


def test_the_gui_thread_turns_while_a_hung_host_is_checked_and_cancel_ends_it(qtbot):
    with sim_endpoint() as sim:
        sim.endpoint.faults.hang()
        d = make(qtbot, sim)
        ticks = []
        timer = QTimer()
        timer.timeout.connect(lambda: ticks.append(threading.get_ident()))
        timer.start(20)
        d.start()
        qtbot.waitUntil(lambda: len(ticks) >= 10, timeout=WAIT_MS)   # the event loop is free
        assert d.running
        d.cancel()
        timer.stop()
        assert not d.running and "cancelled" in d.status.text()
        sim.endpoint.faults.clear()


def test_a_fault_shows_its_fix_and_the_bundle_is_saved_off_the_gui_thread(qtbot, tmp_path):
    with sim_endpoint() as sim:
        sim.sim.system_drive_free_mb = 1500
        d = make(qtbot, sim)
        with qtbot.waitSignal(d.finished_checks, timeout=WAIT_MS):
            d.start()
        disk = next(r for r in d.row_texts() if r[1] == "System drive free space")
        assert disk[0] == "fail" and "Fix: " in disk[2] and "StartComponentCleanup" in disk[2]
        assert d.status.text().startswith("1 of ") and "System drive free space" in d.status.text()
        out = tmp_path / "bundle.zip"
        with qtbot.waitSignal(d.bundle_saved, timeout=WAIT_MS) as saved:
            d.save_bundle(out, redact_names=True)
    assert saved.args[0] == out and "Diagnostic bundle saved" in d.status.text()
    with zipfile.ZipFile(out) as zf:
        text = "".join(zf.read(n).decode("utf-8") for n in zf.namelist())
        assert "README.txt" in zf.namelist()
    assert sim.password not in text and "HV01" not in text


def test_a_password_that_cannot_be_read_is_one_line(qtbot):
    def locked():
        raise RuntimeError("the keyring is locked")
    with sim_endpoint() as sim:
        d = DoctorDialog(sim.host(), locked)
        qtbot.addWidget(d)
        d.start()
        qtbot.waitUntil(lambda: not d.running, timeout=WAIT_MS)
    assert d.status.text() == "The checks could not run: the keyring is locked"
