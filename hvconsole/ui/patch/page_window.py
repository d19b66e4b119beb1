"""Page 6, *Window and notice*: when the maintenance window starts, how long the test ring
soaks and what its health gate demands, and the stakeholder notice (edit it, copy it,
save it as .eml, or open it in the mail client)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from PySide6.QtCore import QDateTime, QUrl
from PySide6.QtGui import QDesktopServices, QGuiApplication
from PySide6.QtWidgets import (
    QDateTimeEdit,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
)

from .notice_mail import eml_bytes, mailto_url
from .page_base import BAD_COLOR, OK_COLOR, WizardPageBase

GATE_TEXT = ("The test ring passes its health gate when, over the whole soak, the freeze detector raised no "
             "critical finding on it, and at its end every host answers, every VM's heartbeat is back and every "
             "VM is in its prior state. Production then waits for you to press “Promote to production”.")


class WindowPage(WizardPageBase):
    def __init__(self, parent: Any = None):
        super().__init__("Window and notice", "When the work starts, how long the test ring is watched, and "
                         "what the people who use the VMs are told.", parent)
        self.start = QDateTimeEdit(calendarPopup=True)
        self.start.setDisplayFormat("yyyy-MM-dd HH:mm")
        self.soak = QDoubleSpinBox(minimum=0.5, maximum=24 * 60, decimals=1, suffix=" min")
        self.contact = QLineEdit(placeholderText="who to call, e.g. the on-call admin's phone")
        self.mail_to = QLineEdit(placeholderText="recipients for the mail (optional)")
        gate = QLabel(GATE_TEXT)
        gate.setWordWrap(True)
        form = QFormLayout()
        form.addRow("Window starts (local time)", self.start)
        form.addRow("Soak of the test ring", self.soak)
        form.addRow("Health gate", gate)
        form.addRow("Contact", self.contact)
        form.addRow("Mail to", self.mail_to)
        self.notice = QPlainTextEdit()
        self.copy_button = QPushButton("Copy")
        self.save_button = QPushButton("Save as .eml…")
        self.mail_button = QPushButton("Open in mail client")
        self.compose_button = QPushButton("Compose again")
        self.copy_button.clicked.connect(self.copy)
        self.save_button.clicked.connect(self._save_dialog)
        self.mail_button.clicked.connect(self.open_mail)
        self.compose_button.clicked.connect(self.compose)
        buttons = QHBoxLayout()
        for b in (self.compose_button, self.copy_button, self.save_button, self.mail_button):
            buttons.addWidget(b)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(QLabel("Notice"))
        layout.addWidget(self.notice, 1)
        layout.addLayout(buttons)
        layout.addWidget(self.status)
        self.soak.valueChanged.connect(lambda v: setattr(self.state.draft, "soak_minutes", v))
        self.start.dateTimeChanged.connect(self._start_changed)

    def initializePage(self) -> None:
        draft = self.state.draft
        start = draft.window_start
        self.start.setDateTime(QDateTime.fromSecsSinceEpoch(int(start.timestamp())) if start
                               else QDateTime.currentDateTime())
        self.soak.setValue(draft.soak_minutes)
        self.contact.setText(draft.contact)
        if not draft.notice:
            self.compose()
        else:
            self.notice.setPlainText(draft.notice)

    def _start_changed(self, value: QDateTime) -> None:
        # From the instant, not toPython(): the same moment, typed (its stub says object).
        self.state.draft.window_start = datetime.fromtimestamp(value.toMSecsSinceEpoch() / 1000, UTC)

    def compose(self) -> None:
        state, planning = self.state, self.wiz.planning
        self._start_changed(self.start.dateTime())
        state.draft.contact = self.contact.text().strip()
        state.draft.notice = ""
        plan = self.plan_or_say()
        if plan is None:
            return
        snaps = dict(state.snaps)
        contact = state.draft.contact
        self.run_off_thread(lambda cancel: planning.review(plan, snaps, contact=contact), self._composed,
                            "composing the notice")

    def _composed(self, review: Any) -> None:
        self.notice.setPlainText(review.notice)
        self.say("The notice is composed from the plan; edit it as you like before it is stored with the run.")

    def copy(self) -> None:
        QGuiApplication.clipboard().setText(self.notice.toPlainText())
        self.say("Notice copied to the clipboard.", OK_COLOR)

    def save_eml(self, path: Path) -> None:
        path.write_bytes(eml_bytes(self.notice.toPlainText(), self.mail_to.text().strip()))
        self.say(f"Saved {path.name}: open it in your mail client to send it.", OK_COLOR)

    def _save_dialog(self) -> None:
        name, _ = QFileDialog.getSaveFileName(self, "Save the notice", "maintenance-notice.eml", "Mail (*.eml)")
        if name:
            try:
                self.save_eml(Path(name))
            except OSError as exc:
                self.say(f"Cannot save the notice: {exc}", BAD_COLOR)

    def open_mail(self) -> bool:
        ok = QDesktopServices.openUrl(QUrl(mailto_url(self.notice.toPlainText(), self.mail_to.text().strip())))
        if not ok:
            self.say("No mail client answered; copy the notice or save it as .eml instead.", BAD_COLOR)
        return ok

    def validatePage(self) -> bool:
        draft = self.state.draft
        self._start_changed(self.start.dateTime())
        draft.soak_minutes = self.soak.value()
        draft.contact = self.contact.text().strip()
        draft.notice = self.notice.toPlainText()
        draft.confirm_promotion = True     # in the window, production starts only when the admin says so
        return True

    def isComplete(self) -> bool:
        return not self.busy
