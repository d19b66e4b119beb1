"""Executes (or resumes) one patch run on a thread of its own and tells the GUI about it
only through queued signals.

``engine.execute`` blocks until the run ends, pauses for good or is stopped; it is run on
a plain Python thread owned by this object. Its progress callback is called on that
thread (and on the wave's worker threads): it only posts to the controller's mailbox
(``ui/mailbox.py``), which emits :attr:`progress` on the controller's own (GUI) thread — no
signal carries a Python object across threads. The engine reads pause/cancel from the journal between
steps; :meth:`stop` (closing the window) sets the engine's ``stop`` event, which ends the
run at the next wait, resumable from the journal.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal

from ..mailbox import Mailbox

log = logging.getLogger(__name__)


class RunController(QObject):
    # Not ``event``: that name is QObject's virtual event handler, which a signal would shadow.
    progress = Signal(object)       # vocabulary.ProgressEvent
    finished = Signal(object)       # the engine's RunResult
    failed = Signal(str)            # the run could not start or broke: one sentence

    def __init__(self, journal_path: Path, directory: Any, parent: QObject | None = None):
        super().__init__(parent)
        self.journal_path = journal_path
        self.directory = directory
        self.run_id: int | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        # (signal name, value) posted by the run's threads, emitted here on the GUI thread.
        self._mailbox = Mailbox(lambda item: getattr(self, item[0]).emit(item[1]), self)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self, run_id: int) -> None:
        if self.running:
            raise RuntimeError(f"run {self.run_id} is still executing in this window")
        self.run_id = run_id
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._execute, args=(run_id, self._stop),
                                        name=f"patch-run-{run_id}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop at the next wait (the run stays resumable)."""
        self._stop.set()

    def join(self, timeout_s: float) -> bool:
        if self._thread is not None:
            self._thread.join(timeout_s)
        return not self.running

    def _execute(self, run_id: int, stop: threading.Event) -> None:
        # On the run's own thread: nothing here touches a widget.
        from hvconsole.core.patch.journal import Journal
        from hvconsole.patch.engine import execute

        def progress(event: Any) -> None:
            self._post("progress", event)

        try:
            with Journal(self.journal_path) as journal:
                result = execute(journal, run_id, self.directory, progress=progress, stop=stop)
        except Exception as exc:  # EngineError, a journal failure, a bug: shown, never lost
            log.exception("patch run %s stopped", run_id)
            self._post("failed", str(exc) or type(exc).__name__)
            return
        self._post("finished", result)

    def _post(self, signal_name: str, value: Any) -> None:
        with contextlib.suppress(RuntimeError):     # the controller was deleted while the run went on
            self._mailbox.post((signal_name, value))
