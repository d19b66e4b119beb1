"""Raising one host's poll interval from its monitoring-cost line (issue 17 #3).

The cost line under the host graphs offers "Raise to 9 s" when polling costs the host more
than 5 % of one core. :class:`PollIntervalChanger` asks once for confirmation, saves the
host's ``poll_interval_s`` in the inventory (``hosts.json`` is written atomically, on a
background thread: the disk may be a slow network profile) and then switches only that
host's schedule in the polling service; every other host's worker, history and detector
state stay as they are. A site without an inventory (the demo) takes the change for this
session only, and the message says so.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QMessageBox, QWidget

from hvconsole.core.inventory import InventoryError

from ..background import TaskRunner

log = logging.getLogger(__name__)


def ask_to_raise(parent: QWidget | None, host: str, seconds: int, *, saved: bool) -> bool:
    """The one confirmation: Yes applies the new interval."""
    where = ("It is saved in the host list." if saved
             else "This site has no host list: it applies until the window closes.")
    answer = QMessageBox.question(
        parent, "Raise the poll interval",
        f"Poll {host} every {seconds} s from now on?\n\nEach poll starts PowerShell on the host; "
        f"polling less often costs it less CPU, and changes show up to {seconds} s later. {where}",
        QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
        QMessageBox.StandardButton.Yes)
    return answer == QMessageBox.StandardButton.Yes


class PollIntervalChanger(QObject):
    """Confirms, saves and applies a host's new poll interval (see the module docstring).

    ``polling``: the window's PollingService; ``book``: the site's HostBook, or None when
    the site has no inventory (the demo). ``message`` carries one sentence for the status
    bar: what was done, or why nothing was."""

    message = Signal(str)
    applied = Signal(str, int)      # host, seconds: the polling service has switched

    def __init__(self, polling: Any, book: Any | None, *, runner: TaskRunner | None = None,
                 confirm: Callable[..., bool] = ask_to_raise, parent: QObject | None = None):
        super().__init__(parent)
        self.polling = polling
        self.book = book
        self._confirm = confirm
        self._runner = runner if runner is not None else TaskRunner(parent=self)
        self._saving: set[str] = set()

    def request(self, host: str, seconds: int, parent: QWidget | None = None) -> None:
        """The admin clicked "Raise to ``seconds`` s" for ``host``."""
        if host not in self.polling.hosts or host in self._saving:
            return
        if not self._confirm(parent, host, seconds, saved=self.book is not None):
            return
        if self.book is None:
            self._apply(host, seconds)
            self.message.emit(f"{host} is polled every {seconds} s for this session only "
                              "(the demo site has no host list to save it in)")
            return
        self._saving.add(host)
        book = self.book
        self._runner.submit(lambda: save_interval(book, host, seconds),
                            lambda _host: self._saved(host, seconds),
                            lambda exc: self._failed(host, exc))

    def _saved(self, host: str, seconds: int) -> None:
        self._saving.discard(host)
        if host in self.polling.hosts:
            self._apply(host, seconds)
        self.message.emit(f"{host} is polled every {seconds} s from now on (saved in the host list)")

    def _failed(self, host: str, exc: BaseException) -> None:
        self._saving.discard(host)
        if isinstance(exc, (InventoryError, OSError)):
            reason = str(exc)
        else:
            log.error("saving the poll interval of %s failed", host, exc_info=exc)
            reason = "an internal error (see the log)"
        self.message.emit(f"The poll interval of {host} was not changed: {reason}")

    def _apply(self, host: str, seconds: int) -> None:
        self.polling.set_interval(host, float(seconds))
        self.applied.emit(host, seconds)

    def shutdown(self, deadline: float) -> bool:
        return self._runner.shutdown(deadline)


def save_interval(book: Any, host: str, seconds: int) -> Any:
    """Write ``host``'s new interval to the inventory (on a background thread). The book
    refuses to overwrite a file another hvconsole changed since it was read."""
    current = book.inventory.get(host)
    return book.update(current.name, current.with_changes(poll_interval_s=seconds))
