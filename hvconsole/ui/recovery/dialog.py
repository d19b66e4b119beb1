"""The Recover… dialog: one VM (or its host's VMMS), evidence first, gentle before hard.

Every network call (opening the incident, each step) runs on a pool thread through
:class:`~hvconsole.ui.background.TaskRunner`; the engine's progress comes back through a
queued signal, so the GUI thread never waits on a host. One step at a time: the buttons
are disabled while one runs, and "Cancel step" stops the call in flight.

The buttons are the rules' offers (``hvconsole.core.recovery.rules``): a step is enabled
only when the rules allow it now, and a hard step (NMI, Turn off, Reset, End worker,
Restart VMMS) only while the VM's name (the host's, for VMMS) is typed in the confirmation
box; the engine checks both again, so no click path skips them. Every name from a host is
shown as plain text.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from hvconsole.core.maintenance import MaintenanceRegistry
from hvconsole.core.recovery import rules
from hvconsole.core.recovery.observe import Observation
from hvconsole.monitoring.formatting import format_duration, format_pct

from ..background import TaskRunner
from ..mailbox import Mailbox

log = logging.getLogger(__name__)

# The order the steps are listed in: the order they are tried.
ORDER = (rules.CAPTURE, rules.NMI, rules.RESTART_VMMS, rules.SHUTDOWN, rules.TURN_OFF, rules.RESET,
         rules.END_WORKER, rules.START, rules.VERIFY)
CLOSE_WAIT_S = 2.0          # then the pool is parked: a hung host never holds the window
NMI_NOTE = ("A Windows guest writes a dump on an NMI only when it is set to bugcheck on one "
            "(HKLM\\SYSTEM\\CurrentControlSet\\Control\\CrashControl NMICrashDump = 1, with a dump type "
            "configured); otherwise the interrupt is ignored.")
UNREACHABLE_TEXT = ("The host does not answer WinRM: the console can neither read nor act on it. What is left is "
                    "out of band: the server's management controller (iDRAC, iLO, XClarity, IPMI/BMC) for its "
                    "console, power state and a power cycle, or someone at the machine. A power cycle stops every "
                    "VM on the host the hard way.")


def _plain(label: QLabel) -> QLabel:
    label.setTextFormat(Qt.TextFormat.PlainText)
    label.setWordWrap(True)
    return label


class RecoveryDialog(QDialog):
    """See the module docstring. ``engine_factory(progress)`` builds the engine (tests
    pass their own); by default it is made from ``site``."""

    step_done = Signal(str, str)          # step, outcome (for the window and tests)

    def __init__(self, site: Any, host: str, vm_id: str, *, finding: Any = None, vm_name: str | None = None,
                 maintenance: MaintenanceRegistry | None = None, parent: QWidget | None = None,
                 engine_factory: Any = None, finding_open: Any = None):
        super().__init__(parent)
        self.setWindowTitle("Recover")
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, False)
        self.host_name = host
        self.vm_id = vm_id
        self._finding = _finding_dict(finding)
        self.vm_name = vm_name or (self._finding or {}).get("vm_name")
        # The engine's progress, posted on its thread, delivered here (ui/mailbox.py).
        self._relay = Mailbox(lambda item: self._on_progress(*item), self)
        self._runner = TaskRunner(parent=self)
        self.busy = False
        self.engine: Any = None
        self.error: str | None = None
        self.observation: Observation | None = None
        self.log_lines: list[str] = []
        self._deadline: float | None = None
        self._current: str | None = None

        def default_factory(progress: Any) -> Any:
            from hvconsole.recovery.sites import engine_for
            return engine_for(site, host, vm_id, vm_name=self.vm_name, finding=self._finding,
                              maintenance=maintenance, progress=progress, finding_open=finding_open)
        self._factory = engine_factory or default_factory

        self.title = _plain(QLabel(f"Recover {self.vm_name or vm_id} on {host}"))
        font = QFont(self.title.font())
        font.setPointSizeF(font.pointSizeF() * 1.3)
        font.setBold(True)
        self.title.setFont(font)
        self.banner = _plain(QLabel(""))
        self.banner.setVisible(False)
        self.state_label = _plain(QLabel("Reading the host…"))
        self.capture_box = QCheckBox("Capture evidence first (read-only; recommended)")
        self.capture_box.setChecked(True)
        self.capture_box.toggled.connect(lambda _=False: self._refresh())

        grid = QGridLayout()
        self.step_buttons: dict[str, QPushButton] = {}
        self.step_reasons: dict[str, QLabel] = {}
        for row, step in enumerate(ORDER):
            button = QPushButton(rules.TITLES[step] + (" …" if step in rules.HARD_STEPS else ""))
            button.setEnabled(False)
            button.clicked.connect(lambda _=False, s=step: self.run_step(s))
            reason = _plain(QLabel(""))
            grid.addWidget(button, row, 0)
            grid.addWidget(reason, row, 1)
            self.step_buttons[step] = button
            self.step_reasons[step] = reason
        grid.setColumnStretch(1, 1)

        self.risk_label = _plain(QLabel(""))
        self.confirm_label = _plain(QLabel(""))
        self.confirm_edit = QLineEdit()
        self.confirm_edit.setPlaceholderText("type the name to enable the hard steps")
        self.confirm_edit.textChanged.connect(lambda _="": self._refresh())
        self.countdown = _plain(QLabel(""))
        self.next_button = QPushButton("Next step")
        self.next_button.setDefault(True)
        self.next_button.clicked.connect(self.next_step)
        self.cancel_button = QPushButton("Cancel step")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel_step)
        self.close_incident_button = QPushButton("Close incident")
        self.close_incident_button.setToolTip("End this recovery without a verified VM (it stays in the journal)")
        self.close_incident_button.setEnabled(False)
        self.close_incident_button.clicked.connect(self.close_incident)
        self.before_after = _plain(QLabel(""))
        self.record_label = _plain(QLabel(""))
        self.record_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.log_view = QPlainTextEdit()
        self.log_view.setReadOnly(True)
        self.log_view.setMaximumBlockCount(2000)

        buttons = QHBoxLayout()
        buttons.addWidget(self.next_button)
        buttons.addWidget(self.cancel_button)
        buttons.addStretch(1)
        buttons.addWidget(self.close_incident_button)
        close = QPushButton("Close")
        close.clicked.connect(self.close)
        buttons.addWidget(close)

        layout = QVBoxLayout(self)
        layout.addWidget(self.title)
        layout.addWidget(self.banner)
        layout.addWidget(self.state_label)
        layout.addWidget(self.capture_box)
        layout.addLayout(grid)
        layout.addWidget(_plain(QLabel(NMI_NOTE)))
        layout.addWidget(self.risk_label)
        layout.addWidget(self.confirm_label)
        layout.addWidget(self.confirm_edit)
        layout.addWidget(self.countdown)
        layout.addWidget(self.log_view, 1)
        layout.addWidget(self.before_after)
        layout.addWidget(self.record_label)
        layout.addLayout(buttons)
        self.resize(760, 720)

        self._timer = QTimer(self)
        self._timer.setInterval(500)
        self._timer.timeout.connect(self._tick)
        self._start()

    # -- opening -------------------------------------------------------------------------

    def _start(self) -> None:
        self._set_busy(True, None)
        relay = self._relay

        def work() -> Any:
            engine = self._factory(lambda kind, data: relay.post((kind, dict(data))))
            engine.open()
            return engine
        self._runner.submit(work, self._opened, self._failed)

    def _opened(self, engine: Any) -> None:
        self.engine = engine
        self.vm_name = engine.vm_name or self.vm_name
        self.title.setText(f"Recover {self.vm_name or self.vm_id} on {self.host_name} (incident {engine.incident_id})")
        if engine.continued:
            last = engine.interrupted[-1] if engine.interrupted else None
            text = f"An unfinished recovery of this VM (incident {engine.incident_id}) was picked up."
            if last is not None:
                text += (f" It stopped during \u201c{rules.TITLES[last.step]}\u201d; the host was read again and "
                         "that step is not repeated blindly: " + str((last.evidence or {}).get("summary") or ""))
            self.banner.setText(text)
            self.banner.setVisible(True)
            self._log(text)
        self._set_busy(False, None)
        self._show(engine.observation)

    # -- steps ---------------------------------------------------------------------------

    def proposed(self) -> str | None:
        """The step "Next step" runs: the evidence first (unless unticked), then the rules'
        recommendation."""
        if self.engine is None or self.observation is None:
            return None
        offers = self.engine.offers(self.observation)
        captured = any(s == rules.CAPTURE and o == rules.OK for s, o in self.engine.history())
        if self.capture_box.isChecked() and not captured and offers[rules.CAPTURE].allowed:
            return rules.CAPTURE
        return next((o.step for o in offers.values() if o.recommended), None)

    def next_step(self) -> None:
        step = self.proposed()
        if step is not None:
            self.run_step(step)

    def run_step(self, step: str) -> None:
        """Run ``step`` in the background. The engine decides again (fresh read, rules,
        confirmation); a refusal is shown, never raised."""
        if self.busy or self.engine is None:
            return
        typed = self.confirm_edit.text() if step in rules.HARD_STEPS else None
        self._set_busy(True, step)
        self._log(f"{rules.TITLES[step]}: started")
        engine = self.engine
        self._runner.submit(lambda: engine.run(step, typed), self._step_finished, self._step_failed)

    def cancel_step(self) -> None:
        if self.engine is not None and self.busy:
            self.engine.cancel()
            self._log("cancel asked: the call in flight stops at its next boundary")

    def close_incident(self) -> None:
        if self.engine is None or self.busy:
            return
        engine = self.engine
        self._set_busy(True, None)
        self._runner.submit(lambda: engine.close_incident(), lambda _r: self._after_close(), self._failed)

    def _after_close(self) -> None:
        self._log("incident closed without a verified recovery")
        self._set_busy(False, None)
        self._show_record()

    def _step_finished(self, result: Any) -> None:
        self._set_busy(False, None)
        self._log(f"{rules.TITLES[result.step]}: {result.outcome}: {result.summary}")
        if result.step in rules.HARD_STEPS:
            self.confirm_edit.clear()   # every hard step is confirmed on its own
        if result.observation is not None:
            self._show(result.observation)
        else:
            self._refresh()
        self._show_record()
        if result.step == rules.VERIFY and result.outcome == rules.OK:
            self._show_before_after()
        self.step_done.emit(result.step, result.outcome)

    def _step_failed(self, error: BaseException) -> None:
        self._set_busy(False, None)
        self.error = str(error) or type(error).__name__
        self._log("not done: " + self.error)
        self._refresh()

    def _failed(self, error: BaseException) -> None:
        self._set_busy(False, None)
        self.error = str(error) or type(error).__name__
        self.state_label.setText("The recovery could not start: " + self.error)
        self._log(self.state_label.text())

    # -- showing -------------------------------------------------------------------------

    def _show(self, obs: Observation | None) -> None:
        from hvconsole.recovery.engine import describe
        self.observation = obs
        if obs is None:
            return
        text = describe(obs)
        if obs.situation == "unreachable":
            text += "\n\n" + UNREACHABLE_TEXT
        elif obs.situation == "vmms-wedged":
            text += ("\n\nVMMS is wedged: VM queries time out. Restarting the service leaves running VMs running "
                     "(each has its own worker process); the checks before and after are the same Get-VM query.")
        self.state_label.setText(text)
        self._refresh()

    def _refresh(self) -> None:
        engine, obs = self.engine, self.observation
        if engine is None or obs is None:
            return
        offers = engine.offers(obs)
        proposed = self.proposed()
        typed = self.confirm_edit.text()
        name = self.vm_name or obs.vm_name
        for step, button in self.step_buttons.items():
            offer = offers[step]
            confirmed = rules.confirmed(step, typed, self.host_name, name)
            button.setEnabled(not self.busy and offer.allowed and confirmed)
            f = button.font()
            f.setBold(step == proposed)
            button.setFont(f)
            reason = offer.reason
            if offer.allowed and step in rules.HARD_STEPS and not confirmed:
                reason += " (type the name below to enable)"
            self.step_reasons[step].setText(reason)
        hard = [s for s in ORDER if s in rules.HARD_STEPS and offers[s].allowed]
        self.risk_label.setText("\n".join(f"{rules.TITLES[s]}: {rules.RISKS[s]}" for s in hard))
        if hard:
            names = {rules.typeable(rules.confirmation_name(s, self.host_name, name) or "") for s in hard}
            self.confirm_label.setText("To confirm a hard step, type exactly: " + " or ".join(sorted(names)))
        else:
            self.confirm_label.setText("")
        self.next_button.setEnabled(not self.busy and proposed is not None
                                    and (proposed not in rules.HARD_STEPS
                                         or rules.confirmed(proposed, typed, self.host_name, name)))
        self.next_button.setText("Next step" if proposed is None else f"Next: {rules.TITLES[proposed]}")
        self.close_incident_button.setEnabled(not self.busy)

    def _set_busy(self, busy: bool, step: str | None) -> None:
        self.busy = busy
        self._current = step
        self.cancel_button.setEnabled(busy and step is not None)
        if busy:
            for button in self.step_buttons.values():
                button.setEnabled(False)
        self.next_button.setEnabled(not busy)
        if not busy:
            self._deadline = None
            self._timer.stop()
            self.countdown.setText("")
            self._refresh()

    def _on_progress(self, kind: str, data: Mapping[str, Any]) -> None:
        if kind == "step-started":
            self._deadline = time.monotonic() + float(data.get("deadline_s") or 0)
            self._timer.start()
            self._tick()
        elif kind == "countdown":
            obs = data.get("observation")
            remaining = float(data.get("remaining_s") or 0)
            self._deadline = time.monotonic() + remaining
            if isinstance(obs, Observation):
                from hvconsole.recovery.engine import describe
                self.countdown.setText(f"{rules.TITLES[rules.VERIFY]}: {describe(obs)}; "
                                       f"giving up in {remaining:.0f} s")

    def _tick(self) -> None:
        if self._deadline is None or self._current is None:
            return
        left = max(0.0, self._deadline - time.monotonic())
        if self._current != rules.VERIFY:
            self.countdown.setText(f"{rules.TITLES[self._current]}: at most {left:.0f} s more")

    def _show_record(self) -> None:
        paths = getattr(self.engine, "record_paths", None)
        if paths:
            self.record_label.setText(f"Incident record: {paths[1]}  (JSON: {paths[0]})")

    def _show_before_after(self) -> None:
        actions = self.engine.journal.actions(self.engine.incident_id)
        reads = [a.evidence.get("observation") for a in actions if a.evidence and a.evidence.get("observation")]
        if not reads:
            return

        def line(o: Mapping[str, Any]) -> str:
            uptime = o.get("uptime_s")
            cpu = o.get("cpu_pct")
            return (f"{o.get('state')}, heartbeat {o.get('heartbeat') or 'none'}, "
                    f"uptime {format_duration(uptime if isinstance(uptime, (int, float)) else None)}, "
                    f"CPU {format_pct(cpu if isinstance(cpu, (int, float)) else None)}")
        self.before_after.setText(f"Before: {line(reads[0])}\nAfter: {line(reads[-1])}")

    def _log(self, text: str) -> None:
        self.log_lines.append(text)
        self.log_view.appendPlainText(text)

    # -- closing -------------------------------------------------------------------------

    def closeEvent(self, event: Any) -> None:
        if self.engine is not None and self.busy:
            self.engine.cancel()
        self._timer.stop()
        engine = self.engine
        if engine is not None:
            self._runner.run_last(engine.host.close)    # deletes the shell: network, so not here
        self._runner.shutdown(time.monotonic() + CLOSE_WAIT_S)
        super().closeEvent(event)


def _finding_dict(finding: Any) -> dict[str, Any] | None:
    if finding is None:
        return None
    if isinstance(finding, Mapping):
        return dict(finding)
    to_dict = getattr(finding, "to_dict", None)
    return dict(to_dict()) if callable(to_dict) else None


def open_recovery(parent: QWidget | None, site: Any, host: str, vm_id: str, finding: Any = None, *,
                  maintenance: MaintenanceRegistry | None = None, vm_name: str | None = None,
                  finding_open: Any = None) -> RecoveryDialog:
    """Open the Recover… dialog for one VM (non-modal) and return it. ``maintenance``: the
    window's registry (the detector is silenced for that VM while a step runs);
    ``finding_open()``: whether the window's detector still has an open finding for the VM
    (Verify then waits for it to clear; called off the GUI thread, must not block)."""
    dialog = RecoveryDialog(site, host, vm_id, finding=finding, vm_name=vm_name, maintenance=maintenance,
                            parent=parent, finding_open=finding_open)
    dialog.show()
    return dialog
