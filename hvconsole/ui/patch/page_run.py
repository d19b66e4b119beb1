"""Page 8, *Run*: the run as the journal tells it (``run_view``, refreshed off the GUI
thread every second): per host a step timeline, overall progress, the soak countdown with
the gate's live verdict, a live log, and the admin's controls. Pause and Cancel act
between steps (an install or reboot under way finishes first); after the test ring passes
its gate the run waits for "Promote to production" or "Halt"."""

from __future__ import annotations

import contextlib
from typing import Any

from PySide6.QtCore import QTimer
from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWizard,
)

from hvconsole.patch.text import clean

from .page_base import BAD_COLOR, MUTED_COLOR, OK_COLOR, WizardPageBase
from .run_table import RunTable, soak_line
from .services import AWAITING_PROMOTION, FINISHED_STATES, ControlError

REFRESH_MS = 1000
LOG_LINES = 2000


class RunPage(WizardPageBase):
    def __init__(self, parent: Any = None):
        super().__init__("Run", "Pause and Cancel act between steps: an install or a reboot under way always "
                         "finishes first. Closing this wizard does not stop the run.", parent)
        self.setButtonText(QWizard.WizardButton.CancelButton, "Close")
        self.header = QLabel()
        self.header.setWordWrap(True)
        self.progress = QProgressBar()
        self.soak = QLabel()
        self.soak.setWordWrap(True)
        self.timeline = RunTable()
        self.log = QPlainTextEdit(readOnly=True)
        self.log.setMaximumBlockCount(LOG_LINES)
        self.log.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.log.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.buttons: dict[str, QPushButton] = {}
        row = QHBoxLayout()
        for key, text in (("pause", "Pause"), ("continue", "Continue"), ("cancel", "Cancel run…"),
                          ("promote", "Promote to production"), ("halt", "Halt after the test ring"),
                          ("resume", "Resume")):
            b = QPushButton(text)
            b.clicked.connect(lambda _=False, k=key: self.act(k))
            self.buttons[key] = b
            row.addWidget(b)
        row.addStretch(1)
        layout = QVBoxLayout(self)
        for w in (self.header, self.progress, self.soak):
            layout.addWidget(w)
        layout.addWidget(self.timeline.table, 2)
        layout.addLayout(row)
        layout.addWidget(self.log, 3)
        layout.addWidget(self.status)
        self.view: Any = None
        self._last_event = 0
        self._dirty = False
        self._connected = False
        self._was_complete = False
        self._timer = QTimer(self)
        self._timer.setInterval(REFRESH_MS)
        self._timer.timeout.connect(self.refresh)
        self._in_flight = False

    def initializePage(self) -> None:
        self.view = None
        self._was_complete = False
        self._last_event = 0
        self.log.clear()
        self._show_buttons(None)
        # The engine's progress events arrive as queued signals: each one asks for a fresh
        # view at once instead of at the next tick.
        if not self._connected:
            self.wiz.session.controller.progress.connect(self._progressed)
            self._connected = True
        self.refresh()
        self._timer.start()

    def cleanupPage(self) -> None:
        self._timer.stop()
        if self._connected:
            self._connected = False
            with contextlib.suppress(RuntimeError, TypeError):     # the session went first
                self.wiz.session.controller.progress.disconnect(self._progressed)

    def _progressed(self, _event: Any) -> None:
        self.refresh()

    def add_log(self, ev: Any) -> None:
        self.log.appendPlainText(f"{ev.at:%H:%M:%S}  {clean(ev.host, 24):<8} {ev.step:<15} "
                                 f"{ev.phase:<9} {clean(ev.text)}")

    def refresh(self) -> None:
        if self.state.run_id is None or self.wiz is None or self.wiz.cancel_event.is_set():
            return          # no run yet, or the wizard is closing (a queued progress event came late)
        if self._in_flight:
            self._dirty = True          # one more read when this one is back
            return
        self._in_flight, self._dirty = True, False
        session, run_id = self.wiz.session, self.state.run_id

        def shown(view: Any) -> None:
            self._in_flight = False
            self.show_view(view)
            if self._dirty:
                self.refresh()

        def failed(exc: BaseException) -> None:
            self._in_flight = False
            self.say(f"Cannot read the run from the journal: {exc}", BAD_COLOR)
        self.wiz.tasks.submit(lambda: session.read_view(run_id), shown, failed)

    def show_view(self, view: Any) -> None:
        self.view = view
        self.timeline.show(view)
        percent = round(view.progress_fraction * 100)
        if self.progress.value() != percent:
            self.progress.setValue(percent)
        state = str(view.state)
        who = ("executed by this window" if self.wiz.session.executes(view.run_id)
               else f"executed by process {view.executing_pid}" if view.executing_pid
               else "not being executed")
        text = f"<b>Run {view.run_id}</b>: {view.kb}, <b>{state}</b> ({who})"
        if view.reason:
            text += f"<br>{_esc(view.reason)}"
        pending = [h for h in view.hosts if h.pending_reboot]
        if pending:
            text += (f"<br><span style='color:{BAD_COLOR}'><b>Pending a reboot: "
                     f"{_esc(', '.join(h.host for h in pending))}.</b> The update is installed there but not in "
                     "effect until the host restarts; its VMs are back as they were.<br>"
                     + "<br>".join(_esc(h.advice) for h in pending if h.advice) + "</span>")
        if self.header.text() != text:
            self.header.setText(text)
        self._show_soak(view.soak, state)
        for ev in view.events:
            if ev.id > self._last_event:
                self.add_log(ev)
                self._last_event = ev.id
        self._show_buttons(view)
        if self.isComplete() != self._was_complete:
            # Only on a change: the wizard re-lays out its buttons on every completeChanged
            # (tens of ms of GUI-thread time per call, measured by benchmarks/wizard_run.py).
            self._was_complete = self.isComplete()
            self.completeChanged.emit()

    def _show_soak(self, soak: Any, state: str) -> None:
        text = ""
        if soak is not None:
            line, color = soak_line(soak, state)
            text = f"<span style='color:{color}'>{_esc(line)}</span>"
        if self.soak.text() != text:
            self.soak.setText(text)

    def _executed(self) -> bool:
        view = self.view
        return view is not None and (bool(view.executing_pid) or self.wiz.session.executes(view.run_id))

    def _show_buttons(self, view: Any) -> None:
        state = str(view.state) if view else ""
        live = view is not None and state not in FINISHED_STATES
        executed = self._executed()
        show = {"pause": live and executed and state in ("running", "planned"),
                "continue": live and executed and state == "paused",
                "cancel": live and state != "cancelling",
                "promote": state == AWAITING_PROMOTION, "halt": state == AWAITING_PROMOTION,
                "resume": live and not executed}
        for key, b in self.buttons.items():
            if b.isVisibleTo(self) != show[key]:
                b.setVisible(show[key])

    def act(self, action: str) -> None:
        run_id, session = self.state.run_id, self.wiz.session
        if action == "cancel" and not self._confirm_cancel():
            return
        try:
            if action == "resume":
                session.resume(run_id)
                self.say("Resumed: the run goes on from what the journal and the hosts say.", OK_COLOR)
            else:
                nobody = not self._executed()
                state = session.request(run_id, action)
                if nobody and action in ("cancel", "promote", "halt"):
                    # Nobody executes the run (its window closed): this window carries the
                    # answer out, as `hvconsole patch cancel|promote|halt` does for a dead runner.
                    session.resume(run_id)
                self.say(_DONE.get(action, "{state}").format(state=state), MUTED_COLOR)
        except (ControlError, RuntimeError) as exc:
            self.say(str(exc), BAD_COLOR)
        self.refresh()

    def _confirm_cancel(self) -> bool:
        if self.wiz.unattended:
            return True
        answer = QMessageBox.question(self, "Cancel the run", "Cancel this run? A step under way finishes first; "
                                      "then every host that was started is put back: VMs as they were, alerts on. "
                                      "A host whose install already ran stays pending a reboot.")
        return answer == QMessageBox.StandardButton.Yes

    def isComplete(self) -> bool:
        return self.view is not None and str(self.view.state) in FINISHED_STATES


_DONE = {"pause": "Pause requested: the run stops before its next step.",
         "continue": "The run continues.",
         "cancel": "Cancel requested: after the step under way, started hosts are put back.",
         "promote": "Promoted: production starts.",
         "halt": "Halted: production is not started; the run ends cancelled."}


def _esc(text: Any) -> str:
    import html
    return html.escape(clean(text, 2000))
