"""Opening VM detail dialogs from the tile grid and keeping them current.

The dialog (:mod:`.vm_detail`) reads a ``SiteHistory``; here each host's history lives
with its poll worker (see ``host_worker``), so every read happens under that worker's
lock: on opening, on each tick that brought news of the VM's host, and when the admin
switches the dialog's time window. Dialogs are non-modal; one per VM.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QWidget

from ..monitor.monitor import Monitor, TickStats

log = logging.getLogger(__name__)


class VmDetailWindows(QObject):
    """See the module docstring."""

    def __init__(self, monitor: Monitor, parent_widget: QWidget,
                 window_s: Callable[[], int] | None = None):
        """``window_s()``: the time range a new dialog opens on (the main graphs' range)."""
        super().__init__(parent_widget)
        self._monitor = monitor
        self._parent = parent_widget
        self._window_s = window_s
        self._open: dict[str, Any] = {}     # vm_id -> dialog
        monitor.applied.connect(self._applied)

    def open(self, host: str, vm_id: str) -> Any:
        """Show the dialog of a VM (raising it if already open); None if unavailable."""
        dialog = self._open.get(vm_id)
        if dialog is not None:
            dialog.raise_()
            dialog.activateWindow()
            return dialog
        from .vm_detail import VmDetailDialog  # pyqtgraph plots: loaded on first use
        events, findings = self._events(host), self._findings()     # the models: outside the lock
        window_s = None if self._window_s is None else self._window_s()
        with self._monitor.site_history(host) as history:
            if history is None:
                return None
            dialog = VmDetailDialog(vm_id, host, history, events, findings, self._parent,
                                    lock=self._monitor.history_lock(host), window_s=window_s)
        dialog.finished.connect(lambda _result: self._open.pop(vm_id, None))
        self._open[vm_id] = dialog
        dialog.show()
        return dialog

    def close_all(self) -> None:
        for dialog in list(self._open.values()):
            dialog.close()
        self._open.clear()

    def _applied(self, stats: TickStats) -> None:
        for dialog in list(self._open.values()):
            if dialog.host in stats.hosts:
                self._refresh(dialog)

    def _refresh(self, dialog: Any) -> None:
        try:
            events, findings = self._events(dialog.host), self._findings()
            with self._monitor.site_history(dialog.host) as history:
                if history is not None:
                    dialog.update_from(history, events, findings)
        except Exception:  # a broken dialog must not break the tick
            log.exception("the VM detail dialog failed to refresh")

    def _events(self, host: str) -> list:
        model = self._monitor.events
        return [model.line(r).event for r in range(model.rowCount()) if model.line(r).host == host]

    def _findings(self) -> list:
        return [line.finding for line in self._monitor.findings.lines()]
