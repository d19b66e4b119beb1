"""Telling the admin about a new critical finding when the window is not in front:
a tray notification where the desktop has a system tray, always the ``notified`` signal
(the window shows a banner from it, tests observe it).

Notification bodies are plain text: VM and host names go in as typed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QSystemTrayIcon

from hvconsole.monitoring.finding_words import evidence_words, kind_words

NOTIFY_MS = 15000
MAX_LISTED = 5


def notification_text(findings: Sequence[Any]) -> tuple[str, str]:
    """Title and body for new critical findings."""
    if len(findings) == 1:
        f = findings[0]
        what = f"VM {f.vm_name or f.vm_id} on {f.host}" if f.vm_id else f"Host {f.host}"
        title = "Critical: " + ("possible frozen VM" if f.vm_id else "host problem")
        body = f"{what}: {kind_words(f.kind)}"
        if f.evidence:
            body += "\n" + evidence_words(str(f.evidence[0]))
        return title, body
    title = f"{len(findings)} new critical findings"
    lines = [f"{f.host} / {f.vm_name or f.vm_id or 'host'}: {kind_words(f.kind)}" for f in findings[:MAX_LISTED]]
    if len(findings) > MAX_LISTED:
        lines.append(f"… and {len(findings) - MAX_LISTED} more")
    return title, "\n".join(lines)


class Notifier(QObject):
    """See the module docstring. ``activated`` fires when the admin clicks the tray icon
    or its message (the window brings itself to the front)."""

    notified = Signal(str, str)
    activated = Signal()

    def __init__(self, icon: QIcon, parent: QObject | None = None):
        super().__init__(parent)
        self._tray: QSystemTrayIcon | None = None
        if QSystemTrayIcon.isSystemTrayAvailable() and not icon.isNull():
            tray = QSystemTrayIcon(icon, self)
            tray.setToolTip("hvconsole")
            tray.messageClicked.connect(self.activated)
            tray.activated.connect(lambda _reason: self.activated.emit())
            tray.show()
            self._tray = tray

    def critical_findings(self, findings: Sequence[Any]) -> None:
        if not findings:
            return
        title, body = notification_text(findings)
        if self._tray is not None and QSystemTrayIcon.supportsMessages():
            self._tray.showMessage(title, body, QSystemTrayIcon.MessageIcon.Critical, NOTIFY_MS)
        self.notified.emit(title, body)

    def close(self) -> None:
        if self._tray is not None:
            self._tray.hide()
