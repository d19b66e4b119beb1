"""GUI entry point: ``hvconsole`` (the configured hosts, or the welcome page when there are
none) and ``hvconsole --demo``.

The window is shown first; the inventory and the keyring are read, or the demo site
starts, on a background thread and the window switches to the monitoring page when that
is done, so first paint never waits for either.
``--screenshot PATH --after S`` saves a PNG of the window after S seconds and exits
(works with ``QT_QPA_PLATFORM=offscreen``).
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from typing import Any

from PySide6.QtCore import QObject, QTimer
from PySide6.QtWidgets import QApplication

from .ui import theme
from .ui.background import TaskRunner, parked_pools, wait_parked
from .ui.main_window import MainWindow

log = logging.getLogger(__name__)

DEMO_LABEL = "Demo site (simulated)"
STARTING_TEXT = "Starting the simulated demo site on this computer…"
DEMO_POLL_INTERVAL_S = 5.0
DEMO_POLL_TIMEOUT_S = 10.0
CONFIGURED_POLL_INTERVAL_S = 5.0
CONFIGURED_POLL_TIMEOUT_S = 30.0
READING_TEXT = "Reading the host inventory and the credential store…"
# Closing waits this long for hosts that are mid-poll, then lets their threads go.
CLOSE_WAIT_S = 1.0
# How long a thread may run Python before the interpreter lets another one in (default
# 5 ms). Poll workers parse and analyse on their threads; a shorter turn means the GUI
# thread waits less for the interpreter while they do.
SWITCH_INTERVAL_S = 0.002
SITE_STOP_WAIT_S = 3.0
SCREENSHOT_SIZE = (1600, 1000)


class GuiSession(QObject):
    """What one run of the window has started (the demo site, the monitor), and stopping
    it all again in bounded time."""

    def __init__(self, window: MainWindow):
        super().__init__(window)
        self.window = window
        self.site: Any = None
        self._starter = TaskRunner()
        self._starting = False
        # Set when the window closes; a site that finishes starting after that is stopped
        # on the starter's thread, since its result is no longer delivered.
        self._closing = threading.Event()
        self.book: Any = None           # the configured site's HostBook, once read
        window.welcome.open_demo.connect(self.open_demo)
        window.welcome.add_host.connect(self.add_host)
        window.edit_host.connect(self.edit_host)
        window.remove_host.connect(self.remove_host)
        window.closing.connect(self._closing.set)

    # -- the configured site ------------------------------------------------------------

    def open_configured(self) -> None:
        """Read the inventory and passwords (off the GUI thread), then monitor those hosts
        or show the welcome page when there are none."""
        if self.site is not None or self._closing.is_set():
            return
        self.window.show_starting(READING_TEXT)
        from .remote.configured import load_configured, open_book
        passwords = self.book.passwords if self.book is not None else None
        # A fresh read of the inventory (the CLI may have changed it), but the same password
        # store: passwords typed "for this session only" must survive the reload.
        self._starter.submit(lambda: load_configured(open_book(passwords=passwords)),
                             self._configured_loaded, self._configured_failed)

    def _configured_loaded(self, configured: Any) -> None:
        if self._closing.is_set() or self.site is not None:
            return
        self.book = configured.book
        self.window.detach()
        if configured.empty or not configured.targets:
            self.window.show_welcome()
            self.window.set_host_actions(True, can_edit=not configured.empty)
        else:
            from .ui.host_worker import worker_for_target
            from .ui.monitor import Monitor
            workers = [worker_for_target(t, timeout_s=CONFIGURED_POLL_TIMEOUT_S,
                                         poll_interval_s=CONFIGURED_POLL_INTERVAL_S)
                       for t in configured.targets]
            monitor = Monitor(workers, interval_s=CONFIGURED_POLL_INTERVAL_S, parent=self)
            n = len(workers)
            self.window.attach(monitor, f"{n} host{'s' if n != 1 else ''}")
            self.window.set_host_actions(True, can_edit=True)
            monitor.start()
        if configured.problems:
            # Shown over the status bar for a while: hosts left out, and why.
            self.window.statusBar().showMessage("; ".join(configured.problems), 60_000)
        else:
            self.window.statusBar().clearMessage()

    def _configured_failed(self, exc: BaseException) -> None:
        log.error("reading the host inventory failed", exc_info=exc)
        self.window.show_error(f"The host inventory could not be read: {exc}")

    def _dialog_book(self) -> Any:
        if self.book is None:
            from .remote.configured import open_book
            self.book = open_book()
        return self.book

    def add_host(self) -> None:
        self.edit_host(None)

    def edit_host(self, name: str | None) -> None:
        """The host dialog (add when ``name`` is None); a saved change reloads the site."""
        from .ui.host_dialog import HostDialog
        dialog = HostDialog(self._dialog_book(), host_name=name, parent=self.window)
        if dialog.exec() == HostDialog.DialogCode.Accepted:
            self.open_configured()

    def remove_host(self, name: str) -> None:
        from .ui.host_dialog_remove import confirm_and_remove
        if confirm_and_remove(self._dialog_book(), name, self.window):
            self.open_configured()

    # -- the demo site ------------------------------------------------------------------

    def open_demo(self) -> None:
        if self.site is not None or self._starting or self._closing.is_set():
            return
        self._starting = True
        self.window.welcome.set_busy("Starting the demo site…")
        self.window.show_starting(STARTING_TEXT)
        closing = self._closing
        self._starter.submit(lambda: _start_demo_site(closing), self._site_started, self._site_failed)

    def _site_started(self, site: Any) -> None:
        self._starting = False
        if site is None or self._closing.is_set():
            if site is not None:
                _stop_site(site)
            return
        self.site = site
        self.window.detach()                 # the configured hosts, if they were shown
        self.window.set_host_actions(False)  # the demo's hosts are not the inventory's
        from .ui.monitor import Monitor  # numpy & co. load after first paint
        workers = demo_workers(site)
        monitor = Monitor(workers, interval_s=DEMO_POLL_INTERVAL_S, parent=self)
        self.window.attach(monitor, DEMO_LABEL)
        monitor.start()

    def _site_failed(self, exc: BaseException) -> None:
        self._starting = False
        log.error("the demo site did not start", exc_info=exc)
        self.window.show_error(f"The demo site could not start: {exc}")

    def stop(self) -> bool:
        """Stop the demo site (bounded). True when everything stopped in time."""
        self._closing.set()
        clean = self._starter.shutdown(time.monotonic() + 0.5)
        if self.site is not None:
            clean = _stop_site(self.site) and clean
            self.site = None
        return clean

    def screenshot_and_quit(self, path: str) -> None:
        app = QApplication.instance()
        ok = self.window.grab().save(path, "PNG")
        if not ok:
            print(f"hvconsole: could not write the screenshot to {path}", file=sys.stderr)
        assert app is not None
        app.exit(0 if ok else 1)


def _start_demo_site(closing: threading.Event) -> Any:
    """On a background thread: building the site and binding its endpoints takes a
    moment. Returns None (and stops the site again) if the window closed meanwhile."""
    from .sim.serve import start_demo
    site = start_demo()
    if closing.is_set():
        site.stop()
        return None
    return site


def _stop_site(site: Any) -> bool:
    """``site.stop()`` with a bound: a stop that hangs must not keep the process alive."""
    done = threading.Event()

    def stop() -> None:
        try:
            site.stop()
        except Exception:
            log.exception("stopping the demo site failed")
        finally:
            done.set()

    threading.Thread(target=stop, name="demo-site-stop", daemon=True).start()
    return done.wait(SITE_STOP_WAIT_S)


def demo_workers(site: Any, *, poll_interval_s: float = DEMO_POLL_INTERVAL_S,
                 timeout_s: float = DEMO_POLL_TIMEOUT_S) -> list:
    """One poll worker per simulated host, with the real client stack (WinRM to the
    loopback endpoints; Basic over HTTP, which a Target allows only to this machine).
    ``polled_at`` follows the site's clock, so the freeze detector runs in simulated time
    (a demo or test running the clock faster detects sooner)."""
    from .remote.configured import served_targets
    from .ui.host_worker import worker_for_target
    sim_clock = getattr(getattr(site, "site", None), "clock", None)
    clock = getattr(sim_clock, "now", None)
    return [worker_for_target(target, timeout_s=timeout_s, poll_interval_s=poll_interval_s, clock=clock)
            for target in served_targets(site.hosts)]


def _initial_size(app: QApplication, screenshot: bool) -> tuple[int, int]:
    """Most of the screen, up to 1600×1000. A screenshot is always 1600×1000, whatever
    the screen (offscreen has a small virtual one), so that screenshots compare."""
    screen = app.primaryScreen()
    if screenshot or screen is None:
        return SCREENSHOT_SIZE
    geo = screen.availableGeometry()
    return min(1600, int(geo.width() * 0.92)), min(1000, int(geo.height() * 0.92))


def run_gui(demo: bool = False, screenshot: str | None = None, after: float = 10.0) -> int:
    """Open the window; returns the process exit code."""
    sys.setswitchinterval(SWITCH_INTERVAL_S)
    app = QApplication.instance() or QApplication([sys.argv[0] if sys.argv else "hvconsole"])
    assert isinstance(app, QApplication)
    app.setApplicationName("hvconsole")
    app.setApplicationDisplayName("hvconsole")
    app.setDesktopFileName("hvconsole")  # Wayland matches the window to hvconsole.desktop
    theme.apply_theme(app)
    window = MainWindow()
    session = GuiSession(window)
    window.resize(*_initial_size(app, bool(screenshot)))
    if demo:
        window.show_starting(STARTING_TEXT)
        QTimer.singleShot(0, session.open_demo)  # once the window is up
    else:
        window.show_starting(READING_TEXT)
        QTimer.singleShot(0, session.open_configured)
    window.show()
    if screenshot:
        QTimer.singleShot(max(0, int(after * 1000)), lambda: session.screenshot_and_quit(screenshot))
    code = app.exec()
    clean = window.shutdown(CLOSE_WAIT_S)
    clean = session.stop() and clean
    if not clean and parked_pools() and not wait_parked(0.5):
        # A poll thread is blocked in a network read of a hung host. Python would wait
        # for it at exit (Qt joins pool threads on destruction); the user asked to quit.
        log.warning("exiting without waiting for hosts that do not answer")
        sys.stdout.flush()
        sys.stderr.flush()
        logging.shutdown()
        os._exit(code)
    return code
