"""Hand Python objects from any thread to the GUI thread without putting them in a signal.

A queued signal with ``object`` arguments makes PySide hold Python references in a Qt
event built on the sending thread and released on the receiving one. From plain Python
threads (the patch run's thread, the post-patch watch) and pool threads this is where
PySide6 6.8+ has crashed (PYSIDE-3124); a test worker of ours aborted once while a pool
thread was inside such an emit. A :class:`Mailbox` keeps the objects in a deque under a
lock on the Python side and sends only an argument-less signal, whose slot on the
receiving thread takes them out in order and calls ``deliver`` with each.
"""

from __future__ import annotations

import contextlib
import threading
from collections import deque
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Signal, Slot


class Mailbox(QObject):
    """Create it on the receiving (GUI) thread; :meth:`post` from any thread."""

    _posted = Signal()

    def __init__(self, deliver: Callable[[Any], None], parent: QObject | None = None):
        super().__init__(parent)
        self._deliver = deliver
        self._items: deque[Any] = deque()
        self._lock = threading.Lock()
        # Auto connection: queued from another thread, direct on the receiving thread.
        self._posted.connect(self._drain)

    def post(self, item: Any) -> None:
        with self._lock:
            self._items.append(item)
        with contextlib.suppress(RuntimeError):  # the receiver was deleted while the sender went on: nobody listens
            self._posted.emit()

    @Slot()
    def _drain(self) -> None:
        # One emit per post, but a drain takes everything queued so far: later drains
        # find the deque empty, and the order of posts is kept.
        while True:
            with self._lock:
                if not self._items:
                    return
                item = self._items.popleft()
            self._deliver(item)
