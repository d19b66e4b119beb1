""""Check this host": the doctor's checks of one host, shown line by line as they finish,
and "Save diagnostic bundle…" once they are done (docs/doctor.md).

Everything that touches the network, the keyring or the disk runs on a background pool
(:class:`~hvconsole.ui.background.TaskRunner`); each finished check reaches the GUI thread
through a queued signal. Cancel marks the token: a WinRM request cannot be interrupted
half-way, so the worker stops at the next check boundary, and a late answer of a cancelled
or superseded run is ignored (each run has a number). Closing the dialog cancels and never
waits for the host.

The dialog knows nothing of where the host comes from: the window passes the inventory
entry, a callable that returns its password (called on the worker: the keyring may block on
an unlock prompt), the hosts' clock, and optionally a callable that returns the host's
recent snapshots for the bundle.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ..core.inventory import Host
from ..core.timeutil import utcnow
from ..remote.target import CancelToken
from .background import TaskRunner
from .mailbox import Mailbox

_MARKS = {"pass": "✔ Pass", "fail": "✖ Fail", "not-run": "– Not run", "n/a": "n/a", "waiting": "…"}
_COLOURS = {"pass": "#1e7e34", "fail": "#c62828", "not-run": "#5f6368", "n/a": "#5f6368", "waiting": "#1f4e8c"}
COLUMN_RESULT, COLUMN_CHECK, COLUMN_FOUND = range(3)


class DoctorDialog(QDialog):
    """Runs ``hvconsole doctor`` for one host and shows it live."""

    finished_checks = Signal(object)    # the DoctorReport shown (tests and the window wait on it)
    line_shown = Signal(object)         # each CheckResult of the current run, as its row is filled
    bundle_saved = Signal(object)       # the Path written, or the exception that stopped it

    def __init__(self, host: Host, password: Callable[[], Any], *, clock: Callable[[], datetime] | None = None,
                 snapshots: Callable[[], Iterable[Any]] | None = None, runner: Any = None,
                 parent: QWidget | None = None):
        super().__init__(parent)
        from ..doctor.checks import CHECKS
        self._checks = CHECKS
        self.host, self._password, self._clock, self._snapshots = host, password, clock, snapshots
        self._runner = runner if runner is not None else TaskRunner(parent=self)
        # Each finished check, posted on the worker's thread, shown here (ui/mailbox.py).
        self._relay = Mailbox(lambda item: self._live_line(*item), self)
        self._token: CancelToken | None = None
        self._run = 0
        self._secret: Any = None            # kept for the bundle's scrubbing only, never shown
        self._log_lines: list[str] = []
        self.report: Any = None

        self.setWindowTitle(f"Check {host.name}")
        self.setObjectName("doctorDialog")
        self.resize(900, 560)
        self.heading = _plain_label(self)
        self.heading.setText(f"{host.name}: {host.url} as {host.username} ({host.transport.value}). "
                             "Read-only: nothing on the host is changed.")
        self.table = QTableWidget(len(CHECKS), 3, self)
        self.table.setObjectName("doctorChecks")
        self.table.setHorizontalHeaderLabels(["Result", "Check", "What was found / what to do"])
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setWordWrap(True)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(COLUMN_RESULT, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(COLUMN_CHECK, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(COLUMN_FOUND, QHeaderView.ResizeMode.Stretch)
        self.status = _plain_label(self)
        self.status.setObjectName("doctorStatus")

        self.redact = QCheckBox("Replace host, user and VM &names with placeholders", self)
        self.save_button = QPushButton("&Save diagnostic bundle…", self)
        self.save_button.setObjectName("saveBundle")
        self.save_button.clicked.connect(self._ask_where_to_save)
        self.again_button = QPushButton("Check &again", self)
        self.again_button.clicked.connect(self.start)
        self.cancel_button = QPushButton("&Cancel checks", self)
        self.cancel_button.clicked.connect(lambda: self.cancel())
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.reject)
        row = QHBoxLayout()
        row.addWidget(self.cancel_button)
        row.addWidget(self.again_button)
        row.addStretch(1)
        row.addWidget(self.redact)
        row.addWidget(self.save_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.heading)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.status)
        layout.addLayout(row)
        layout.addWidget(buttons)
        self._reset_rows()
        self._set_running(False)

    # -- running -------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._token is not None

    def start(self) -> None:
        """Run every check again (a running one is cancelled first). Returns at once."""
        self.cancel(silent=True)
        self._run += 1
        run, token = self._run, CancelToken()
        self._token = token
        self.report = None
        self._reset_rows()
        relay, host = self._relay, self.host
        clock = self._clock if self._clock is not None else utcnow

        def work() -> Any:
            # On a pool thread: the keyring, the network, the log capture.
            from ..doctor.bundle import capture_log
            from ..doctor.checks import run_doctor
            secret = self._password()

            def emit(result: Any) -> None:
                relay.post((run, result))       # the dialog gone: dropped, nobody is listening
            with capture_log() as lines:
                report = run_doctor(host, secret, clock=clock, cancel=token, on_result=emit)
            # Handed to the GUI thread with the report: the bundle scrubs this password.
            return report, (secret.reveal() if hasattr(secret, "reveal") else secret), list(lines)

        self._set_running(True)
        self.status.setText(f"Checking {host.name}… (each check has its own deadline)")
        self._runner.submit(work, lambda outcome: self._done(run, outcome), lambda exc: self._failed(run, exc))

    def cancel(self, *, silent: bool = False) -> None:
        if self._token is None:
            return
        self._token.cancel()
        self._token = None
        self._run += 1                  # the running check's late answers are no longer wanted
        self._set_running(False)
        if not silent:
            self.status.setText("Checks cancelled: the lines without a result did not run.")

    def _live_line(self, run: int, result: Any) -> None:
        """A check as it finishes (not the catch-up pass at the end)."""
        if run == self._run:
            self._show_line(run, result)
            self.line_shown.emit(result)

    def _show_line(self, run: int, result: Any) -> None:
        if run != self._run:
            return
        row = next((i for i, c in enumerate(self._checks) if c.key == result.key), None)
        if row is None:
            return
        verdict = result.verdict.value
        found = result.detail + (f"\nFix: {result.fix}" if result.fix else "")
        self._set_row(row, verdict, result.title, found)
        done = sum(1 for i in range(self.table.rowCount()) if self._verdict_at(i) != "waiting")
        self.status.setText(f"Checking {self.host.name}… {done} of {len(self._checks)} checks done")

    def _done(self, run: int, outcome: tuple[Any, Any, list[str]]) -> None:
        if run != self._run:
            return
        report, self._secret, self._log_lines = outcome
        self._token = None
        self.report = report
        for result in report.results:       # any line a dropped signal missed
            self._show_line(run, result)
        self._set_running(False)
        self.status.setText(report.summary()[:1].upper() + report.summary()[1:] + ".")
        self.finished_checks.emit(report)

    def _failed(self, run: int, error: BaseException) -> None:
        if run != self._run:
            return
        self._token = None
        self._set_running(False)
        self.status.setText(f"The checks could not run: {error or type(error).__name__}")

    # -- the bundle ----------------------------------------------------------------------

    def _ask_where_to_save(self) -> None:
        if self.report is None:
            return
        stamp = time.strftime("%Y%m%d-%H%M%S")
        suggested = str(Path.home() / f"hvconsole-{'host' if self.redact.isChecked() else self.host.name}-{stamp}.zip")
        path, _ = QFileDialog.getSaveFileName(self, "Save diagnostic bundle", suggested, "Zip files (*.zip)")
        if path:
            self.save_bundle(Path(path), redact_names=self.redact.isChecked())

    def save_bundle(self, path: Path, *, redact_names: bool = False) -> None:
        """Write the bundle of the last finished run to ``path`` in the background;
        ``bundle_saved`` says how it went."""
        report = self.report
        if report is None:
            raise RuntimeError("no finished checks to save")
        host, secret, log_lines, snapshots = self.host, self._secret, list(self._log_lines), self._snapshots

        def work() -> Path:
            from .. import paths
            from ..doctor.bundle import BundleInput, write_bundle
            recent = list(snapshots()) if snapshots is not None else []
            return write_bundle(path, BundleInput(report=report, host=host, password=secret, snapshots=recent,
                                                  log_lines=log_lines, log_dir=paths.log_dir()),
                                redact_names=redact_names)

        self.save_button.setEnabled(False)
        self.status.setText(f"Saving the diagnostic bundle to {path}…")
        self._runner.submit(work, self._saved, self._saved)

    def _saved(self, outcome: Any) -> None:
        self.save_button.setEnabled(self.report is not None and not self.running)
        if isinstance(outcome, BaseException):
            reason = getattr(outcome, "strerror", None) or str(outcome) or type(outcome).__name__
            self.status.setText(f"The bundle could not be saved: {reason}")
        else:
            self.status.setText(f"Diagnostic bundle saved: {outcome}. Attach it to the bug report; "
                                "no password is in it.")
        self.bundle_saved.emit(outcome)

    # -- closing -------------------------------------------------------------------------

    def done(self, code: int) -> None:   # every way of closing ends here
        self.cancel(silent=True)
        self._runner.shutdown(time.monotonic())
        super().done(code)

    # -- rows ----------------------------------------------------------------------------

    def _reset_rows(self) -> None:
        for row, check in enumerate(self._checks):
            self._set_row(row, "waiting", check.title, "")

    def _set_row(self, row: int, verdict: str, title: str, found: str) -> None:
        mark = QTableWidgetItem(_MARKS.get(verdict, verdict))
        mark.setData(Qt.ItemDataRole.UserRole, verdict)
        mark.setForeground(QColor(_COLOURS.get(verdict, "#000000")))
        self.table.setItem(row, COLUMN_RESULT, mark)
        self.table.setItem(row, COLUMN_CHECK, QTableWidgetItem(title))
        item = QTableWidgetItem(found)      # plain text: host data is data, never markup
        item.setToolTip(found)
        self.table.setItem(row, COLUMN_FOUND, item)
        self.table.resizeRowToContents(row)

    def _set_running(self, running: bool) -> None:
        self.cancel_button.setEnabled(running)
        self.again_button.setEnabled(not running)
        self.save_button.setEnabled(not running and self.report is not None)
        self.redact.setEnabled(not running)

    def row_texts(self) -> list[tuple[str, str, str]]:
        """What the table shows, row by row (verdict key, check, found): for tests."""
        return [(self._verdict_at(r), self._text_at(r, COLUMN_CHECK), self._text_at(r, COLUMN_FOUND))
                for r in range(self.table.rowCount())]

    # A row's cells are all set together (_set_row); "" stands for one not set yet.
    def _verdict_at(self, row: int) -> str:
        item = self.table.item(row, COLUMN_RESULT)
        return "" if item is None else str(item.data(Qt.ItemDataRole.UserRole))

    def _text_at(self, row: int, column: int) -> str:
        item = self.table.item(row, column)
        return "" if item is None else item.text()


def _plain_label(parent: QWidget) -> QLabel:
    label = QLabel(parent)
    label.setTextFormat(Qt.TextFormat.PlainText)
    label.setWordWrap(True)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    return label
