"""The "Test connection" part of the host dialog: a button, a cancel, and the verdict with
its fix, shown inline.

The probe runs on a background pool through :class:`~hvconsole.ui.background.TaskRunner`
(the GUI thread never touches the network or the keyring). Cancel marks the token and
returns the dialog to normal at once: a WinRM request cannot be interrupted half-way, so
the worker finishes on its own and its late answer is ignored (each run has a number,
and only the current run's answer is shown).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from hvconsole.core.inventory import Host
from hvconsole.remote.target import CancelToken

from ..background import TaskRunner

if TYPE_CHECKING:
    from hvconsole.remote.probe import ProbeResult

ProbeFn = Callable[..., "ProbeResult"]
DEFAULT_TIMEOUT_S = 30.0

# Text colour per verdict (the same red/amber the findings use; green for "all good").
_COLOURS = {"ok": "#1e7e34", "warning": "#9a6700", "error": "#c62828", "cancelled": "#5f6368",
            "idle": "#5f6368", "busy": "#1f4e8c"}
_MARKS = {"ok": "✔", "warning": "⚠", "error": "✖"}
IDLE_TEXT = "Checks the name, the WinRM port, TLS, the account and its rights on the host."


def _plain_label(parent: QWidget) -> QLabel:
    label = QLabel(parent)
    label.setTextFormat(Qt.TextFormat.PlainText)   # host data is data, never markup
    label.setWordWrap(True)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    return label


class ProbePanel(QWidget):
    """Runs the connection test for what the dialog currently holds."""

    result_shown = Signal(object)      # the ProbeResult just displayed (tests wait on it)

    def __init__(self, parent: QWidget | None = None, *, runner: Any = None,
                 probe: ProbeFn | None = None, timeout_s: float = DEFAULT_TIMEOUT_S):
        super().__init__(parent)
        self._runner = runner if runner is not None else TaskRunner(parent=self)
        self._probe = probe
        self._timeout_s = timeout_s
        self._token: CancelToken | None = None
        self._run = 0                   # number of the run whose answer is awaited

        self.button = QPushButton("&Test connection", self)
        self.button.setObjectName("testConnection")
        self.status = _plain_label(self)
        self.status.setObjectName("probeStatus")
        self.hint = _plain_label(self)
        self.hint.setObjectName("probeHint")
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.button)
        row.addWidget(self.status, 1)
        self.hint.setContentsMargins(4, 0, 0, 0)
        line = QFrame(self)
        line.setFrameShape(QFrame.Shape.HLine)
        line.setFrameShadow(QFrame.Shadow.Sunken)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 4, 0, 4)
        layout.addWidget(line)
        layout.addLayout(row)
        layout.addWidget(self.hint)
        self.clear()

    @property
    def running(self) -> bool:
        return self._token is not None

    def start(self, host: Host, password: Callable[[], Any]) -> None:
        """Test ``host``; ``password()`` is called on the worker thread (it may read the
        keyring, which can block on an unlock prompt) and returns a Secret."""
        self.cancel(silent=True)
        self._run += 1
        run, token = self._run, CancelToken()
        self._token = token

        def work() -> ProbeResult:
            probe = self._probe
            if probe is None:  # imported here, on the worker: the dialog opens without pywinrm
                from hvconsole.remote.probe import probe_host
                probe = probe_host
            return probe(host, password(), timeout_s=self._timeout_s, cancel=token)

        self.button.setText("Cancel &test")
        self._show("busy", f"Testing {host.address}:{host.effective_port} "
                                f"(up to {self._timeout_s:.0f} s)…", "")
        self._runner.submit(work, lambda r: self._deliver(run, r), lambda e: self._failed(run, e))

    def cancel(self, *, silent: bool = False) -> None:
        if self._token is None:
            return
        self._token.cancel()
        self._token = None
        self._run += 1                  # the running test's answer is no longer wanted
        self.button.setText("&Test connection")
        if not silent:
            self._show("cancelled", "Test cancelled.", "")

    def clear(self) -> None:
        """Forget a shown verdict (not a running test)."""
        if not self.running:
            self._show("idle", IDLE_TEXT, "")

    def show_problem(self, message: str) -> None:
        """A reason the test could not start (e.g. a field is invalid)."""
        self._show("error", message, "")

    def shutdown(self) -> None:
        """Stop without waiting: the dialog is closing (a panel is not reused afterwards)."""
        self.cancel(silent=True)
        self._runner.shutdown(time.monotonic())

    def _deliver(self, run: int, result: ProbeResult) -> None:
        if run != self._run:
            return                      # cancelled or superseded meanwhile
        self._token = None
        self.button.setText("&Test connection")
        self._show(result.severity, result.message[:1].upper() + result.message[1:],
                   f"Fix: {result.hint}" if result.hint else "")
        self.result_shown.emit(result)

    def _failed(self, run: int, error: BaseException) -> None:
        if run != self._run:
            return
        self._token = None
        self.button.setText("&Test connection")
        self._show("error", str(error) or type(error).__name__, "")
        self.result_shown.emit(None)

    def _show(self, severity: str, message: str, hint: str) -> None:
        colour = _COLOURS.get(severity, _COLOURS["error"])
        self.status.setStyleSheet(f"color: {colour};")
        mark = _MARKS.get(severity)
        self.status.setText(f"{mark} {message}" if mark and message else message)
        self.hint.setText(hint)
        self.hint.setVisible(bool(hint))
