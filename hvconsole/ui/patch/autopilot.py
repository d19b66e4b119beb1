"""Walks the wizard the way an admin does (choose in the widgets, press Next), unattended:
used by ``save_wizard_screenshots``, the benchmark and the tests' child process. Waiting
keeps the GUI event loop turning (a nested ``QEventLoop``, not ``QTest.qWait``: PySide's
qWait keeps the GIL while it sleeps and starves every other Python thread), so background
work and queued signals arrive exactly as they do for a person at the screen."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QEventLoop, QTimer

from .state import TEST_RING
from .wizard import HOSTS, PACKAGE, PREFLIGHT, REVIEW, RUN, UPDATE, VERIFY, VMS, WINDOW

SHOT_NAMES = {UPDATE: "01-update", HOSTS: "02-hosts", PACKAGE: "03-package", PREFLIGHT: "04-preflight",
              VMS: "05-vms", WINDOW: "06-window", REVIEW: "07-review", RUN: "08-run", VERIFY: "09-verify"}


class WizardTimeout(RuntimeError):
    pass


def pump(ms: int) -> None:
    """Run the event loop for ``ms`` milliseconds (idle time releases the GIL)."""
    loop = QEventLoop()
    QTimer.singleShot(ms, loop.quit)
    loop.exec()


def wait_for(cond: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not cond():
        if time.monotonic() > deadline:
            raise WizardTimeout(f"timed out after {timeout_s:g} s waiting for {what}")
        pump(20)


class Autopilot:
    def __init__(self, wizard: Any, *, timeout_s: float = 120.0, shots: Path | None = None):
        self.wizard = wizard
        self.timeout_s = timeout_s
        self.shots = shots
        wizard.unattended = True

    @property
    def page(self) -> Any:
        return self.wizard.currentPage()

    def settle(self, page_id: int) -> Any:
        wait_for(lambda: self.wizard.currentId() == page_id, self.timeout_s, f"page {page_id}")
        page = self.wizard.page_of(page_id)
        wait_for(lambda: not page.busy, self.timeout_s, f"{page.title()} to finish its work")
        return page

    def shoot(self, page_id: int) -> None:
        if self.shots is not None:
            pump(50)
            self.wizard.grab().save(str(self.shots / f"{SHOT_NAMES[page_id]}.png"))

    def next(self, page_id: int) -> None:
        page = self.wizard.page_of(page_id)
        wait_for(page.isComplete, self.timeout_s, f"{page.title()} to be complete ({page.status.text()})")
        self.shoot(page_id)
        self.wizard.next()

    # -- the pages ---------------------------------------------------------------------------

    def choose_update(self, kb: str) -> None:
        page = self.settle(UPDATE)
        if not page.select_kb(kb):
            raise WizardTimeout(f"{kb} is not offered on the Update page")
        self.next(UPDATE)

    def choose_rings(self, rings: dict[str, str], parallel: int = 1) -> None:
        """``rings``: host -> TEST_RING or a production wave name; other hosts are left out."""
        page = self.settle(HOSTS)
        for host in page.combos:
            if page.combos[host].isEnabled():
                page.set_ring(host, rings.get(host, "not in this run"))
        page.parallel.setValue(parallel)
        self.next(HOSTS)

    def check_package(self) -> None:
        page = self.settle(PACKAGE)
        if page.state.package is None:
            page.check()
        self.settle(PACKAGE)
        self.next(PACKAGE)

    def preflight(self) -> Any:
        page = self.settle(PREFLIGHT)
        wait_for(lambda: len(page.state.preflight) == len(page._rows), self.timeout_s, "every pre-flight check")
        self.next(PREFLIGHT)
        return page

    def vms(self) -> None:
        self.settle(VMS)
        self.next(VMS)

    def window(self, soak_minutes: float) -> None:
        page = self.settle(WINDOW)
        page.soak.setValue(soak_minutes)
        page.contact.setText("on-call admin, +1 555 0100")
        page.compose()
        self.settle(WINDOW)
        self.next(WINDOW)

    def review_and_start(self) -> int:
        self.settle(REVIEW)
        self.next(REVIEW)
        self.settle(RUN)
        return self.wizard.state.run_id

    def walk_to_run(self, kb: str, rings: dict[str, str], soak_minutes: float) -> int:
        self.choose_update(kb)
        self.choose_rings(rings)
        self.check_package()
        self.preflight()
        self.vms()
        self.window(soak_minutes)
        return self.review_and_start()

    # -- the run -----------------------------------------------------------------------------

    def run_state(self) -> str:
        view = self.wizard.page_of(RUN).view
        return "" if view is None else str(view.state)

    def wait_state(self, states: set[str], timeout_s: float | None = None) -> str:
        wait_for(lambda: self.run_state() in states, timeout_s or self.timeout_s, f"run state in {sorted(states)}")
        return self.run_state()

    def press(self, action: str) -> None:
        self.wizard.page_of(RUN).act(action)

    def finish_run(self, timeout_s: float | None = None) -> str:
        return self.wait_state({"done", "failed", "cancelled"}, timeout_s)

    def verify(self) -> Any:
        self.wizard.next()
        page = self.settle(VERIFY)
        wait_for(lambda: page.report is not None, self.timeout_s, "the report")
        return page


def full_demo_run(wizard: Any, *, pilot: str = "HV01", production: list[str] | None = None,
                  soak_minutes: float = 1.0, timeout_s: float = 300.0, shots: Path | None = None,
                  on_state: Callable[[str], None] | None = None) -> Any:
    """The demo rollout: KB5061906 on ``pilot``, then production, promoted; returns the
    Verify page."""
    pilot_rings = {pilot: TEST_RING, **{h: "production wave 1" for h in (production or ["HV05"])}}
    ap = Autopilot(wizard, timeout_s=timeout_s, shots=shots)
    ap.walk_to_run("KB5061906", pilot_rings, soak_minutes)
    state = ap.wait_state({"awaiting-promotion", "done", "failed", "cancelled"})
    if on_state:
        on_state(state)
    if state == "awaiting-promotion":
        ap.shoot(RUN)          # the telling picture: test ring done, gate passed, "Promote" waiting
        ap.press("promote")
    ap.finish_run()
    return ap.verify()
