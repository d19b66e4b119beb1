"""The window's side of patching (the seam with the main window): opens the wizard, owns
the run controller (one run executed by this process at a time), and watches the site's
patch journal every ~2 s OFF the GUI thread: hosts in an open maintenance window (whoever
executes the run), runs that were interrupted (a banner: Resume / Review) and runs that
another process executes (a banner: Watch, with Pause/Cancel on the Run page)."""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtWidgets import QAbstractButton, QMessageBox, QWidget

from ..background import TaskRunner
from . import services
from .banner import BannerBoard, RunBanner
from .run_controller import RunController
from .state import TEST_RING, WizardState

POLL_MS = 2000


class PatchSession(QObject):
    maintenance_changed = Signal(object)   # list[ActiveMaintenance]
    runs_changed = Signal()

    def __init__(self, site: Any, window: QWidget, add_banner: Callable[[QWidget], None],
                 parent: QObject | None = None):
        super().__init__(parent)
        self.site = site
        self.window = window
        self.add_banner = add_banner
        self.directory = site.directory()
        self.planning = services.PlanningService(self.directory, services.load_site_catalog())
        self.tasks = TaskRunner(parent=self)
        self.controller = RunController(site.journal_path, self.directory, self)
        self.controller.finished.connect(self._on_finished)
        self.controller.failed.connect(self._on_failed)
        self.board = BannerBoard(add_banner)
        self.wizards: list[Any] = []
        self.maintenance: list[Any] = []
        self.last_error: str | None = None
        self._runs_seen: tuple = ()
        self._reader: services.Journal | None = None
        self._reader_lock = threading.Lock()
        self._polling = False
        self._close_when_finished = False
        self._timer = QTimer(self)
        self._timer.setInterval(POLL_MS)
        self._timer.timeout.connect(self.poll)
        self._timer.start()
        QTimer.singleShot(0, self.poll)

    # -- the seam with the window ---------------------------------------------------------------

    def open_wizard(self, kb: str | None = None, hosts: list[str] | None = None) -> QWidget:
        from .wizard import PatchWizard
        state = WizardState(catalog=self.planning.catalog)
        state.draft.kb = kb
        if hosts:
            state.draft.pilot = list(hosts[:1])
            state.draft.waves = [("production wave 1", list(hosts[1:]))] if hosts[1:] else []
        return self._show(PatchWizard(self, state))

    def show_run(self, run_id: int) -> None:
        from .wizard import PatchWizard
        state = WizardState(catalog=self.planning.catalog, run_id=run_id)
        self._show(PatchWizard(self, state, start_at_run=True))

    def confirm_close(self) -> bool:
        run_id = self.controller.run_id     # set before the run's thread starts
        if run_id is None or not self.controller.running:
            return True
        choice = self.ask_close()
        if choice == "pause":
            # Already ending: stopping is enough, resume continues it.
            with contextlib.suppress(services.ControlError):
                self.request(run_id, "pause")
            self.controller.stop()
            return True
        if choice == "cancel":
            self.request(run_id, "cancel")
            self._close_when_finished = True
            self.show_run(run_id)
            return False
        return False

    def ask_close(self) -> str:
        """pause | cancel | stay (a dialog; tests replace it)."""
        box = QMessageBox(QMessageBox.Icon.Warning, "A patch run is executing",
                          f"Run {self.controller.run_id} is being executed by this window.", parent=self.window)
        box.setInformativeText("Keep it paused: it stops after the step under way and the next start offers to "
                               "resume it.\nCancel safely: hosts under way are put back (VMs as they were), then "
                               "the window closes.")
        pause = box.addButton("Keep paused for later", QMessageBox.ButtonRole.AcceptRole)
        cancel = box.addButton("Cancel safely", QMessageBox.ButtonRole.DestructiveRole)
        box.addButton("Stay", QMessageBox.ButtonRole.RejectRole)
        box.exec()
        choices: dict[QAbstractButton, str] = {pause: "pause", cancel: "cancel"}
        return choices.get(box.clickedButton(), "stay")

    def shutdown(self, wait_s: float) -> bool:
        deadline = time.monotonic() + wait_s
        self._timer.stop()
        for w in list(self.wizards):
            with contextlib.suppress(RuntimeError):     # already deleted by Qt
                w.shutdown(0.1)
        self.controller.stop()
        ok = self.controller.join(max(0.0, deadline - time.monotonic()))
        ok = self.tasks.shutdown(deadline) and ok
        with self._reader_lock:
            if self._reader is not None and ok:
                self._reader.close()
                self._reader = None
        return ok

    # -- runs -------------------------------------------------------------------------------------

    @property
    def executing(self) -> bool:
        """True while this process executes a run (replacing the site or closing would stop it)."""
        return self.controller.running

    def start_run(self, plan: Any) -> int:
        if self.controller.running:
            raise RuntimeError(f"run {self.controller.run_id} is still executing in this window")
        with services.Journal(self.site.journal_path) as journal:
            run_id = services.create_run(journal, plan)
        self.controller.start(run_id)
        self.runs_changed.emit()
        return run_id

    def resume(self, run_id: int) -> None:
        view = self.read_view(run_id)
        if view.executing_pid:
            self.request(run_id, "continue")
            return
        self.controller.start(run_id)
        self.board.drop("interrupted", run_id)
        self.runs_changed.emit()

    def request(self, run_id: int, action: str) -> str:
        with services.Journal(self.site.journal_path) as journal:
            return services.request(journal, run_id, action)

    def executes(self, run_id: int | None) -> bool:
        return self.controller.running and self.controller.run_id == run_id

    # -- reading the journal (pool threads only) --------------------------------------------------

    def _journal(self) -> services.Journal:
        with self._reader_lock:
            if self._reader is None:
                self._reader = services.Journal(self.site.journal_path)
            return self._reader

    def read_view(self, run_id: int) -> Any:
        return services.run_view(self._journal(), run_id)

    def read_report(self, run_id: int) -> dict:
        from hvconsole.core.patch.report import build_report
        return build_report(self._journal(), run_id)

    def poll(self) -> None:
        if self._polling:
            return
        self._polling = True

        def read() -> tuple[list, list, list]:
            j = self._journal()
            return services.open_maintenance(j), services.interrupted_runs(j), services.active_runs(j)

        def failed(exc: BaseException) -> None:
            self._polling = False
            self.last_error = f"cannot read the patch journal: {exc}"
        try:
            self.tasks.submit(read, self._polled, failed)
        except RuntimeError:
            self._polling = False       # shut down

    def _polled(self, result: tuple[list, list, list]) -> None:
        self._polling = False
        maintenance, interrupted, active = result
        if [(m.run_id, m.host, m.step) for m in maintenance] != [(m.run_id, m.host, m.step) for m in self.maintenance]:
            self.maintenance = list(maintenance)
            self.maintenance_changed.emit(self.maintenance)
        mine = self.controller.run_id if self.controller.running else None
        seen = (tuple((r.run_id, str(r.state), r.host, r.step) for r in interrupted),
                tuple((r.run_id, str(r.state), r.executing_pid) for r in active))
        if seen != self._runs_seen:
            self._runs_seen = seen
            self.runs_changed.emit()
        self.board.sync("interrupted", [r for r in interrupted if r.run_id != mine], self._interrupted_banner,
                        lambda r: self._banner_text("interrupted", r))
        self.board.sync("elsewhere", [r for r in active if r.run_id != mine and r.executing_pid != os.getpid()],
                        self._elsewhere_banner, lambda r: self._banner_text("elsewhere", r))

    def _banner_text(self, kind: str, r: Any) -> str:
        if kind == "interrupted":
            where = f" at {r.host} · {r.step}" if r.host else ""
            return f"Run {r.run_id} ({r.kb}) was interrupted{where}."
        return (f"Run {r.run_id} ({r.kb}) is being executed by another process (pid {r.executing_pid}); "
                f"it is {r.state}.")

    def _interrupted_banner(self, r: Any) -> RunBanner:
        return RunBanner(self._banner_text("interrupted", r),
                         [("Resume", lambda: self._resume_from_banner(r.run_id)),
                          ("Review", lambda: self.show_run(r.run_id))])

    def _elsewhere_banner(self, r: Any) -> RunBanner:
        return RunBanner(self._banner_text("elsewhere", r), [("Watch", lambda: self.show_run(r.run_id))])

    def _resume_from_banner(self, run_id: int) -> None:
        try:
            self.resume(run_id)
        except (RuntimeError, services.ControlError, services.JournalError) as exc:
            QMessageBox.warning(self.window, "Cannot resume", str(exc))
            return
        self.show_run(run_id)

    # -- the controller's signals (GUI thread) ---------------------------------------------------

    def _on_finished(self, result: Any) -> None:
        self.runs_changed.emit()
        self.poll()
        if self._close_when_finished:
            self._close_when_finished = False
            self.window.close()

    def _on_failed(self, message: str) -> None:
        self.last_error = f"run {self.controller.run_id} stopped: {message}"
        self.runs_changed.emit()

    def _show(self, wizard: Any) -> QWidget:
        self.wizards.append(wizard)
        wizard.destroyed.connect(lambda *_: self.wizards.remove(wizard) if wizard in self.wizards else None)
        wizard.show()
        return wizard


__all__ = ["PatchSession", "TEST_RING"]
