"""The patch wizard: a ``QWizard`` with one small page module per step of issue 9 (after
Picard's setup wizard) over one plain state object (:class:`~.state.WizardState`, after
virt-manager's ``_GuestData``). Background work goes through the wizard's TaskRunner; the
run itself belongs to the :class:`~.session.PatchSession`, so closing the wizard never
stops a run."""

from __future__ import annotations

import threading
import time
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QWizard

from ..background import TaskRunner
from .page_hosts import HostsPage
from .page_package import PackagePage
from .page_preflight import PreflightPage
from .page_review import ReviewPage
from .page_run import RunPage
from .page_update import UpdatePage
from .page_verify import VerifyPage
from .page_vms import VmsPage
from .page_window import WindowPage
from .state import WizardState

UPDATE, HOSTS, PACKAGE, PREFLIGHT, VMS, WINDOW, REVIEW, RUN, VERIFY = range(9)
PAGE_CLASSES = (UpdatePage, HostsPage, PackagePage, PreflightPage, VmsPage, WindowPage, ReviewPage, RunPage,
                VerifyPage)


class PatchWizard(QWizard):
    def __init__(self, session: Any, state: WizardState, *, start_at_run: bool = False, parent: Any = None):
        super().__init__(parent)
        self.setWindowFlag(Qt.WindowType.Window, True)
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
        self.setWindowTitle(f"Patch wizard — {session.site.label}")
        self.setWizardStyle(QWizard.WizardStyle.ModernStyle)
        self.setOption(QWizard.WizardOption.NoBackButtonOnLastPage, True)
        self.setOption(QWizard.WizardOption.NoCancelButtonOnLastPage, True)
        self.resize(1040, 720)
        self.session = session
        self.state = state
        self.planning = session.planning
        self.tasks = TaskRunner(parent=self)
        self.cancel_event = threading.Event()
        self.unattended = False          # screenshots and tests: no confirmation dialogs
        self.pages: dict[int, Any] = {}
        for page_id, cls in enumerate(PAGE_CLASSES):
            page = cls()
            self.pages[page_id] = page
            self.setPage(page_id, page)
        if start_at_run:
            self.setStartId(RUN)
        self.finished.connect(self._closed)

    def page_of(self, page_id: int) -> Any:
        return self.pages[page_id]

    def start_run(self, plan: Any) -> int:
        """The commit (Review page): the session creates the run and executes it."""
        return self.session.start_run(plan)

    def _closed(self, *_: Any) -> None:
        self.shutdown(2.0)

    def shutdown(self, wait_s: float) -> bool:
        self.cancel_event.set()
        self.pages[VERIFY].stop_watch()
        self.pages[RUN].cleanupPage()
        return self.tasks.shutdown(time.monotonic() + wait_s)
