"""GUI entry point: ``hvconsole`` (the configured hosts, or the welcome page when there are
none) and ``hvconsole --demo``.

The window is shown first; the site (:mod:`hvconsole.site`: the inventory and the keyring,
or the simulated demo site) is opened on a background thread and the window switches to
the monitoring page when that is done, so first paint never waits for either. With
``--demo`` the simulated site is served by a process of its own, started as the window
first shows (the other core builds and serves it while this one imports the WinRM client;
``hvconsole.site.start_demo_process``). Meanwhile the site's last known hosts and VMs
(``monitoring/last_known.py``, written while the window last ran) are read on another and
shown at once, dimmed and stamped "last known"; each host's tiles turn live with its first
answer. Once a site is open, the patch wizard's session is made for it (when this build
has the wizard).
``--screenshot PATH --after S`` saves a PNG of the window after S seconds and exits;
``--wizard-screenshots DIR`` walks the patch wizard through a demo run and exits with its
code (both work with ``QT_QPA_PLATFORM=offscreen``).
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import logging
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtWidgets import QApplication

from .ui import theme
from .ui.background import TaskRunner, parked_pools, wait_parked
from .ui.main_window import MainWindow

log = logging.getLogger(__name__)

DEMO_LABEL = "Demo site (simulated)"
DEMO_SITE_NAME = "demo-patch"
STARTING_TEXT = "Starting the simulated demo site on this computer…"
DEMO_POLL_INTERVAL_S = 5.0
# A fast demo clock polls more often (in real seconds), down to this, so that a poll still
# covers a sensible stretch of simulated time for the freeze detector.
DEMO_MIN_POLL_INTERVAL_S = 1.0
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
# Closing writes the history still queued (at most a few seconds of polls) within this.
HISTORY_CLOSE_WAIT_S = 3.0
# Closing writes the last known hosts and VMs (one small file) within this.
LAST_KNOWN_CLOSE_WAIT_S = 1.0
# The host graphs (~0.1 s of imports, on a background thread) are made once the
# first answers are shown, and this long after: the tiles' first paint comes first.
GRAPHS_AFTER_TILES_MS = 50
# The health check, the history file and the page are made this long after the first polls
# leave: the hosts' threads open their shells and send their commands in ~20-40 ms when the
# interpreter is theirs; the answers take the hosts ~0.45 s more, so nothing waits for this.
POLLS_AWAY_MS = 40
# The preparation's imports wait at most this long for the demo's process to be started.
SPAWN_WAIT_S = 0.5
SCREENSHOT_SIZE = (1600, 1000)
WIZARD_SCREENSHOT_SPEED = 60.0
class SnapshotRelay:
    """A poll worker observer that holds snapshots until its target exists, then hands
    them on in order (any thread); once closed without a target it drops them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._target: Any = None
        self._held: list[Any] = []
        self._closed = False

    def __call__(self, snap: Any) -> None:
        with self._lock:
            target = self._target
            if target is None:
                if not self._closed:
                    self._held.append(snap)
                return
        target(snap)

    def connect(self, target: Any) -> None:
        """Hand the held snapshots to ``target`` (under the lock: a newer one cannot pass
        them), then every later one."""
        with self._lock:
            held, self._held = self._held, []
            for snap in held:
                target(snap)
            self._target = target

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._held = []


class AppliedHosts:
    """The hosts of the results a monitor applies (GUI thread), until :meth:`stop`."""

    def __init__(self, monitor: Any) -> None:
        self._monitor = monitor
        self._hosts: set[str] = set()
        monitor.applied.connect(self._applied)

    def _applied(self, stats: Any) -> None:
        self._hosts.update(stats.hosts)

    def stop(self) -> frozenset[str]:
        """No more; the hosts seen so far."""
        if self._monitor is not None:
            self._monitor.applied.disconnect(self._applied)
            self._monitor = None
        return frozenset(self._hosts)


class GuiSession(QObject):
    """What one run of the window has opened (a site, its monitor, its patch session), and
    closing it all again in bounded time."""

    # (site, sentence) from the thread watching the demo's own process: it ended unasked.
    _site_process_ended = Signal(object, str)

    def __init__(self, window: MainWindow, *, demo_speed: float = 1.0, demo_process: Any = False):
        super().__init__(window)
        self.window = window
        self.site: Any = None
        self.demo_speed = demo_speed
        # The demo site in a process of its own (hvconsole.site.start_demo_process): False
        # serves it in this process (tests serve their own sites so), True starts one when
        # the demo opens (run_gui), or one started already. Started before the window was
        # built, it took the window's share of a busy machine: first paint 0.26 -> 0.4 s.
        self._demo_process = demo_process
        self._site_process_ended.connect(self._process_ended)
        self.patch_session: Any = None
        self.health: Any = None         # the site's HealthService (ui.health), once its catalog is read
        self._starter = TaskRunner()
        self._starting = False
        # Set when the window closes; a site that finishes opening after that is closed
        # on the starter's thread, since its result is no longer delivered.
        self._closing = threading.Event()
        self.book: Any = None           # the configured site's HostBook, once read
        self.interval_changer: Any = None  # ui.hosts.poll_interval.PollIntervalChanger of the shown site
        self.history_writer: Any = None  # the site's history file (core.historydb), if it opened
        self.last_known: Any = None      # the site's monitoring.last_known.LastKnownRecorder
        # The monitor showing the last known tiles while its site opens, and for which
        # kind of site ("demo" or "configured"); the state read for it (seeds the recorder).
        self._waiting: tuple[Any, str] | None = None
        self._last_known_read_for: str | None = None
        self._last_known_reading = False
        self._held_sites: list[tuple[Any, Any]] = []    # opened while that read was under way
        self._last_known_state: Any = None
        # The site catalog, read (and the page's and workers' modules imported) on a
        # background thread while the first site opens; taken by the first site shown.
        self._catalog: Any = None
        # The CatalogSource that preparation is reading, as soon as it exists: a site that
        # opens before the read is done shares it (one read, not two at once).
        self._catalog_reading: list[Any] = []
        self._page_shown_before = False
        self._preparing = False
        self._prepared = False
        self._on_site_shown: list[Any] = []
        self._on_patch_session: list[Any] = []
        self._unshown_monitor: Any = None     # polling, its page not built yet (see stop)
        window.welcome.open_demo.connect(self.open_demo)
        window.welcome.add_host.connect(self.add_host)
        window.edit_host.connect(self.edit_host)
        window.remove_host.connect(self.remove_host)
        window.closing.connect(self._closing.set)

    def when_site_shown(self, callback: Any) -> None:
        """Call ``callback(site)`` once the monitor has shown the site's first answers."""
        self._on_site_shown.append(callback)

    def when_patch_session_made(self, callback: Any) -> None:
        """Call ``callback()`` once the shown site's patch session is made (or found not
        to be in this build): at once if it is. A fast demo's first answers can come
        before it (it is made while the first polls are out)."""
        if self.patch_session is not None:
            callback()
        else:
            self._on_patch_session.append(callback)

    # -- the configured site ------------------------------------------------------------

    def open_configured(self) -> None:
        """Read the inventory and passwords (off the GUI thread), then monitor those hosts
        or show the welcome page when there are none."""
        if self._closing.is_set() or (self.site is not None and self.site.kind == "demo"):
            return
        if not self._may_replace_site():
            self.window.statusBar().showMessage(
                "The host list is reloaded when the patch run executing here has ended", 60_000)
            return
        self.window.show_starting(READING_TEXT)
        self._show_last_known("configured")
        self._prepare()
        passwords = self.book.passwords if self.book is not None else None
        # A fresh read of the inventory (the CLI may have changed it), but the same password
        # store: passwords typed "for this session only" must survive the reload.
        self._starter.submit(lambda: _read_configured(passwords), self._configured_loaded,
                             self._configured_failed)

    def _configured_loaded(self, site: Any) -> None:
        if self._closing.is_set() or (self.site is not None and self.site.kind == "demo"):
            site.close()
            return
        if self._hold_site(site, self._configured_loaded):
            return
        self.book = site.book
        self._drop_site()
        waiting = self._take_waiting(site)
        inventory_empty = site.book is None or len(site.book.inventory) == 0
        if not site.targets:
            self.window.show_welcome()
            self.window.set_host_actions(True, can_edit=not inventory_empty)
        else:
            self._monitor_site(site, CONFIGURED_POLL_INTERVAL_S, CONFIGURED_POLL_TIMEOUT_S, waiting)
            self.window.set_host_actions(True, can_edit=True)
        notes = [*site.problems, *site.warnings]
        if notes:
            # Shown over the status bar for a while: hosts left out or weakly protected.
            self.window.statusBar().showMessage("; ".join(notes), 60_000)
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
        from .ui.hosts.host_dialog import HostDialog
        dialog = HostDialog(self._dialog_book(), host_name=name, parent=self.window)
        if dialog.exec() == HostDialog.DialogCode.Accepted:
            self.open_configured()

    def remove_host(self, name: str) -> None:
        from .ui.hosts.host_dialog_remove import confirm_and_remove
        if confirm_and_remove(self._dialog_book(), name, self.window):
            self.open_configured()

    # -- the demo site ------------------------------------------------------------------

    def open_demo(self) -> None:
        if (self.site is not None and self.site.kind == "demo") or self._starting or self._closing.is_set():
            return
        if not self._may_replace_site():
            self.window.statusBar().showMessage(
                "The demo site opens when the patch run executing here has ended", 60_000)
            return
        self._starting = True
        self.window.welcome.set_busy("Starting the demo site…")
        self.window.show_starting(STARTING_TEXT)
        closing, speed = self._closing, self.demo_speed
        process, self._demo_process = self._demo_process, bool(self._demo_process)   # a started one is used once
        # The preparation's imports (the WinRM client) wait until the demo's process is
        # started (a few ms): it then builds its site on the other core meanwhile, rather
        # than once the starter thread gets its turn among them.
        spawned = threading.Event()
        if process is not True:
            spawned.set()               # nothing to start: an in-process site, or one started already
        self._starter.submit(lambda: _open_demo(closing, speed, process, spawned),
                             self._site_started, self._site_failed)
        self._show_last_known("demo")
        self._prepare(after=spawned)

    def _site_started(self, site: Any) -> None:
        if site is not None and not self._closing.is_set() and self._hold_site(site, self._site_started):
            return                      # still "starting": shown after the last known tiles
        self._starting = False
        if site is None or site.closed or self._closing.is_set():
            if site is not None:
                site.close(SITE_STOP_WAIT_S)
            return
        self._drop_site()
        waiting = self._take_waiting(site)   # else the configured hosts, if shown, go
        self.window.set_host_actions(False)  # the demo's hosts are not the inventory's
        interval = max(DEMO_MIN_POLL_INTERVAL_S, DEMO_POLL_INTERVAL_S / max(site.speed, 1.0))
        self._monitor_site(site, interval, DEMO_POLL_TIMEOUT_S, waiting)
        site.when_ended(lambda sentence: self._site_process_ended.emit(site, sentence))

    def _process_ended(self, site: Any, sentence: str) -> None:
        """The demo's own process ended while its site is shown (killed, crashed): its
        hosts turn "not answering" at their next polls; this says why, until another
        message replaces it. The process is not started again behind the admin's back."""
        if self.site is not site or self._closing.is_set():
            return
        log.warning("%s", sentence)
        self.window.statusBar().showMessage(
            f"{sentence[:1].upper()}{sentence[1:]}: its hosts no longer answer. "
            "Start hvconsole again for a new demo site.")

    def _site_failed(self, exc: BaseException) -> None:
        self._starting = False
        log.error("the demo site did not start", exc_info=exc)
        self._take_waiting(None)        # its last known tiles go: nothing will turn them live
        self.window.show_error(f"The demo site could not start: {exc}")

    # -- the last known hosts and VMs ---------------------------------------------------------

    def _show_last_known(self, kind: str) -> None:
        """Read the last known state of the ``kind`` site (off the GUI thread) and show it
        at once, unless a site or its tiles are shown by then. The monitoring page's modules
        are imported on that thread too, while the GUI thread is free."""
        if self.window.monitor is not None or self._waiting is not None:
            return
        self._last_known_read_for = kind
        self._last_known_reading = True

        def failed(exc: BaseException) -> None:
            log.warning("the last known state was not shown: %s", exc)
            self._last_known_reading = False
            self._release_held_sites()
        self._starter.submit(lambda: _read_last_known(kind == "demo"),
                             lambda read: self._last_known_read(kind, read), failed)

    def _hold_site(self, site: Any, then: Any) -> bool:
        """Hold an opened site (True) and call ``then(site)`` once the last known state of
        its kind is shown and the preparation's imports are done. A site opened before
        (the demo's own process is quick) would drop those tiles, and a second start
        would show nothing until the first answers; and the GUI thread would wait for
        the client's imports, with the last known tiles not yet painted."""
        if not site.targets:            # nothing to monitor: the welcome page, at once
            return False
        reading = self._last_known_reading and self._last_known_read_for == site.kind
        if not reading and not self._prepare_pending():
            return False
        self._held_sites.append((site, then))
        return True

    def _prepare_pending(self) -> bool:
        return self._preparing and not self._prepared

    def _release_held_sites(self) -> None:
        """Each held site is offered again (held again if it must still wait)."""
        held, self._held_sites = self._held_sites, []
        for site, then in held:
            then(site)

    def _last_known_read(self, kind: str, read: Any) -> None:
        try:
            self._show_read_last_known(kind, read)
        finally:
            self._last_known_reading = False
            self._release_held_sites()

    def _show_read_last_known(self, kind: str, read: Any) -> None:
        if (read is None or self._closing.is_set() or self._last_known_read_for != kind
                or self.site is not None or self.window.monitor is not None):
            return
        self._page_shown_before = True
        from .ui.monitor.monitor import Monitor
        state, tiles, host_rows, newest = read
        self._last_known_state = state
        monitor = Monitor.waiting([(h.name, h.address) for h in state.hosts], parent=self)
        self.window.attach(monitor, state.label or (DEMO_LABEL if kind == "demo" else "Hosts"))
        monitor.show_last_known(tiles, host_rows, newest)
        self.window.show_last_known()
        self._waiting = (monitor, kind)

    def _graphs_after_first_answers(self, monitor: Any, page: Any) -> None:
        """The page's host graphs once the first answers are shown: their module is imported
        off the GUI thread meanwhile (importing it there would compete with the site's
        start and the first polls for the interpreter, which the tiles wait for)."""
        def build(_result: Any = None) -> None:
            shown: Any = self.window.page
            if shown is not page or self._closing.is_set():
                return
            self._share_history_store()
            QTimer.singleShot(GRAPHS_AFTER_TILES_MS, shown.build_graphs)

        def first_answers(_stats: Any) -> None:
            monitor.applied.disconnect(first_answers)
            self._starter.submit(_import_graphs, build, lambda _exc: build())
        if monitor.ticks:                   # a first start's page comes after the polls left
            self._starter.submit(_import_graphs, build, lambda _exc: build())
            return
        monitor.applied.connect(first_answers)

    def _prepare(self, after: threading.Event | None = None) -> None:
        """While the first site opens: its catalog and the modules its workers need, on a
        background thread (see _prepare_site_view), once ``after`` is set (or a moment)."""
        if self._preparing or self.window.monitor is not None:
            return
        self._preparing = True

        def prepared(catalog: Any) -> None:
            self._catalog_reading.clear()   # read: a later site reads the catalog afresh
            if self.site is None:           # else the shown site read its own
                self._catalog = catalog
            done()

        def failed(exc: BaseException) -> None:
            log.warning("preparing the monitoring page failed: %s", exc)
            done()                          # the GUI thread imports what is missing

        def done() -> None:
            self._prepared = True
            self._release_held_sites()
            if MONITOR_MODULE not in sys.modules and not self._closing.is_set():
                # While the site still opens (the demo's process may be building its
                # site): the monitor's modules, which the GUI thread imports as the first
                # polls leave when the site is open by now.
                self._starter.submit(lambda: _import(MONITOR_MODULE), lambda _r: None, lambda _exc: None)
        reading = self._catalog_reading
        self._starter.submit(lambda: _prepare_site_view(reading, after), prepared, failed)

    def _take_waiting(self, site: Any) -> Any:
        """The monitor showing last known tiles, when it shows exactly ``site``'s hosts
        (it goes on with them); otherwise whatever is shown is detached, and None."""
        waiting, self._waiting = self._waiting, None
        self._last_known_read_for = None      # a read still under way is no longer wanted
        monitor: Any = None if waiting is None else waiting[0]
        shows = None if monitor is None else monitor.host_names()
        if (waiting is not None and site is not None and self.window.monitor is monitor
                and waiting[1] == site.kind and shows == [t.name for t in site.targets]):
            return monitor
        self.window.detach()
        return None

    def _record_last_known(self, site: Any, workers: list) -> None:
        """Every answered poll of ``site`` also updates its last-known file (written by the
        recorder's own thread, at most every 30 s and at close)."""
        from . import paths
        from .monitoring.last_known import LastKnownRecorder, last_known_file
        self._close_last_known()
        state, self._last_known_state = self._last_known_state, None
        path = last_known_file(paths.site_data_dir(site.simulated))
        recorder = self.last_known = LastKnownRecorder(
            path, site.label, [(w.name, w.address) for w in workers], seed=state)
        for worker in workers:
            worker.observers += (recorder.observe,)

    def _close_last_known(self) -> bool:
        recorder, self.last_known = self.last_known, None
        return True if recorder is None else recorder.close(LAST_KNOWN_CLOSE_WAIT_S)

    # -- either ---------------------------------------------------------------------------

    def _monitor_site(self, site: Any, interval_s: float, timeout_s: float, waiting: Any = None) -> None:
        """Poll ``site``'s hosts in the window and give it a patch session and its history
        file; ``waiting``: the monitor already showing these hosts' last known tiles."""
        _import(*CLIENT_MODULES, *WORKER_MODULES)     # imported already, unless still under way
        from .monitoring.host_compliance import CatalogSource
        from .monitoring.workers import site_workers
        self.site = site
        # One read of the site catalog for polling and health (read already, if the
        # preparation finished before the site opened).
        read, self._catalog = self._catalog, None
        catalog = read or (self._catalog_reading[0] if self._catalog_reading else None) or \
            CatalogSource()
        workers = site_workers(site, poll_interval_s=interval_s, timeout_s=timeout_s, catalog=catalog)
        self._record_last_known(site, workers)
        # Polling starts before the page is built and the patch session made: the first
        # answers take the hosts a while (a shell, powershell.exe's start, the collection),
        # and that is when the GUI thread builds the rest. Results reach the monitor only
        # through the event loop, after this call. It starts once the catalog is read (off
        # the GUI thread; the first poll needs it anyway), so that the health check sees
        # every snapshot from the first; the page waits for that too (built before, it held
        # the GUI thread when the read came in, and the polls left that much later).
        # A page that replaces another (a reload, the demo after the configured hosts) is
        # built at once, as before, so that the window never shows no page in between.
        page_at_once = self._page_shown_before
        self._page_shown_before = True
        monitor: Any = None
        if waiting is not None or page_at_once:
            monitor = self._monitor_for(site, workers, interval_s, waiting)
            if page_at_once:
                self._show_page(site, monitor, waiting)

        def start(read_ok: bool) -> None:
            nonlocal monitor
            if self.site is not site or self._closing.is_set():
                return                          # replaced or closing meanwhile
            relay, monitor = self._start_polling(site, workers, interval_s, monitor)
            # Hosts that answer before the health check and the page exist (refused at
            # once, say): those wait for their first round and would miss it.
            answered = AppliedHosts(monitor)
            # The rest once the polls' requests are out: run now, its imports (the health
            # check's, numpy and the history store's, the page's) took the interpreter from
            # the hosts' threads while they opened their shells and sent their commands.
            QTimer.singleShot(POLLS_AWAY_MS, lambda: self._after_polls_away(
                site, monitor, workers, catalog if read_ok else None, relay, page_at_once, waiting,
                answered))
        if read is not None:
            start(True)
        else:
            self._starter.submit(catalog.get, lambda _r: start(True), lambda _exc: start(False))

    def _monitor_for(self, site: Any, workers: list, interval_s: float, waiting: Any,
                     polling: Any = None) -> Any:
        """The monitor of ``site``'s hosts: the one showing their last known tiles, given the
        workers, or a new one (polling with ``polling`` when given)."""
        _import(MONITOR_MODULE)                  # under the startup imports' lock
        from .ui.monitor.monitor import Monitor
        if waiting is not None:
            monitor = waiting
            monitor.connect_workers(workers, interval_s=interval_s)     # + each host's own interval
        elif polling is not None:
            monitor = Monitor(workers, polling=polling, parent=self)
            polling.setParent(monitor)
            # Not the window's until its page is built: closing before that stops it here.
            self._unshown_monitor = monitor
        else:
            monitor = Monitor(workers, interval_s=interval_s, parent=self)
        if self._on_site_shown:
            callbacks, self._on_site_shown = self._on_site_shown, []

            def first_tick(_stats: Any) -> None:
                monitor.applied.disconnect(first_tick)
                for callback in callbacks:
                    callback(site)
            monitor.applied.connect(first_tick)
        return monitor

    def _start_polling(self, site: Any, workers: list, interval_s: float, monitor: Any) -> tuple[SnapshotRelay, Any]:
        """The first polls leave; then the monitor is made, when there is none yet (its
        modules, ~40 ms of imports, need not come before the polls: results reach it only
        through the event loop, after this call). The health check, made later, still
        sees every snapshot from the first: the returned relay holds what comes before."""
        relay = SnapshotRelay()
        for worker in workers:
            worker.observers += (relay,)
        if monitor is not None:
            monitor.start()
            return relay, monitor
        from .ui.monitor.polling import PollingService
        polling = PollingService(workers, interval_s=interval_s, parent=self)
        polling.start()
        return relay, self._monitor_for(site, workers, interval_s, None, polling)

    def _after_polls_away(self, site: Any, monitor: Any, workers: list, catalog: Any,
                          relay: SnapshotRelay, page_at_once: bool, waiting: Any,
                          answered: AppliedHosts) -> None:
        """Once the first polls' requests are out: the health check, the history file and
        the page (unless shown already). ``answered``: the hosts whose results the monitor
        applied since the polls left."""
        if self.site is not site or self._closing.is_set():
            relay.close()                       # replaced or closing meanwhile (its monitor
            return                              # stopped and deleted: see _drop_site, stop)
        hosts = answered.stop()
        try:
            if catalog is not None:
                self._start_health(site, monitor, catalog, relay, answered=hosts)
        except Exception:                       # the health check must not stop monitoring
            log.exception("the health check could not start")
        finally:
            relay.close()                       # nothing more to hold, whatever happened
        self._open_history(site, workers)
        if not page_at_once:
            self._show_page(site, monitor, waiting)

    def _show_page(self, site: Any, monitor: Any, waiting: Any) -> None:
        """The site's page (the one showing its last known tiles, if any), with what goes
        with it."""
        if waiting is not None:
            page = self.window.page
            self.window.set_site_label(site.label)
        else:
            # On a first start the page's modules are imported here, while the first polls
            # are out (before, they competed with the site's start for the interpreter).
            page = self.window.attach(monitor, site.label)
        if self._unshown_monitor is monitor:
            self._unshown_monitor = None        # the window's now: its shutdown stops it
        self.window.set_site(site)      # Recover… acts on its hosts
        self._page_shown(site, monitor, page)

    def _page_shown(self, site: Any, monitor: Any, page: Any) -> None:
        """What goes with the site's page once it shows: its graphs (after the first
        answers), the interval offers, the patch session."""
        self._graphs_after_first_answers(monitor, page)
        self._offer_interval_changes(site, monitor, page)
        self._make_patch_session(site)

    def _make_patch_session(self, site: Any) -> None:
        """The site's patch session, once its module is imported (off the GUI thread, while
        the first polls are out: the first tiles do not wait for it)."""
        from .ui import patch_entry

        def make(_result: Any = None) -> None:
            if self.site is not site or self._closing.is_set():
                return
            self.patch_session = patch_entry.make_session(site, self.window)
            self.window.set_patch_session(self.patch_session, site.journal_path)
            callbacks, self._on_patch_session = self._on_patch_session, []
            for callback in callbacks:
                callback()
        if not patch_entry.wizard_available() or patch_entry.SESSION_MODULE in sys.modules:
            make()
            return
        self._starter.submit(_import_patch_session, make, lambda _exc: make())

    def _offer_interval_changes(self, site: Any, monitor: Any, page: Any) -> None:
        """"Raise to 9 s" under a host's graphs: confirmed, saved in the site's inventory
        (none for the demo: this session only), then that host alone is rescheduled."""
        from .ui.hosts.poll_interval import PollIntervalChanger
        changer = PollIntervalChanger(monitor.polling, getattr(site, "book", None),
                                      runner=self._starter, parent=page)
        page.raise_interval_requested.connect(lambda host, seconds: changer.request(host, seconds, self.window))
        changer.message.connect(lambda text: self.window.statusBar().showMessage(text, 30_000))
        self.interval_changer = changer

    def _start_health(self, site: Any, monitor: Any, catalog: Any, relay: SnapshotRelay,
                      answered: frozenset[str] = frozenset()) -> None:
        """The health check of ``site``'s hosts (issue 14), fed every poll's snapshot; its
        audits start once every host has answered (or failed) its first poll, so that the
        first audit already knows each host's build and pending reboot, then every 15 min.
        ``answered``: hosts whose first results were applied before this (the relay holds
        their snapshots for it)."""
        from .core.timeutil import utcnow
        from .ui.health import HealthService
        updates = getattr(catalog.get()[0], "updates", ())     # read already: no I/O here
        clock = site.clock or utcnow            # maintenance windows are in the hosts' clock
        registry = monitor.maintenance.registry
        health = self.health = HealthService(
            site.targets, updates=updates, clock=clock, parent=self,
            in_maintenance=lambda host: registry.covers(host, None, clock()))
        relay.connect(health.observe)
        self.window.set_health(health)
        waiting = set(monitor.host_names()) - answered
        if not waiting:
            health.start()
            return

        def first_round(stats: Any) -> None:
            waiting.difference_update(stats.hosts)
            if not waiting:
                monitor.applied.disconnect(first_round)
                if self.health is health:
                    health.start()
        monitor.applied.connect(first_round)

    def _stop_health(self) -> None:
        health, self.health = self.health, None
        if health is not None:
            self.window.set_health(None)
            health.stop()                       # cancels its audits (bounded)
            health.deleteLater()

    def _may_replace_site(self) -> bool:
        """Before the shown site is replaced (a host was edited, the demo opened): not
        while a patch run executes in this window (replacing the site would stop it)."""
        return not bool(getattr(self.patch_session, "executing", False))

    def _drop_site(self) -> bool:
        """Shut the current patch session down and close the current site (bounded)."""
        clean = True
        session, self.patch_session = self.patch_session, None
        if session is not None:
            self.window.set_patch_session(None)
            try:
                clean = bool(session.shutdown(CLOSE_WAIT_S))
            except Exception:
                log.exception("the patch session did not shut down cleanly")
                clean = False
        self._stop_health()
        self.window.set_site(None)      # closes its Recover… dialogs
        clean = self._stop_unshown_monitor() and clean
        site, self.site = self.site, None
        if site is not None:
            clean = site.close(SITE_STOP_WAIT_S) and clean
        clean = self._close_history() and clean
        clean = self._close_last_known() and clean
        self.window.clear_banners()     # they spoke about the site that is gone
        return clean

    def _stop_unshown_monitor(self) -> bool:
        """Stop the monitor polling a site whose page was not built yet (replaced or closed
        within POLLS_AWAY_MS): the window's own shutdown stops only the monitor it shows."""
        unshown, self._unshown_monitor = self._unshown_monitor, None
        if unshown is None or unshown is self.window.monitor:
            return True
        clean = bool(unshown.shutdown(CLOSE_WAIT_S))
        unshown.deleteLater()
        return clean

    def stop(self) -> bool:
        """Close the site (bounded). True when everything stopped in time."""
        self._closing.set()
        held, self._held_sites = self._held_sites, []
        for opened, _then in held:          # opened, never shown
            opened.close(SITE_STOP_WAIT_S)
        started, self._demo_process = self._demo_process, False
        if started is not True and started:
            started.stop(0.0)           # started for a demo that was never opened
        clean = self._starter.shutdown(time.monotonic() + 0.5)
        clean = self._stop_unshown_monitor() and clean     # closed before its page was built
        # The window's shutdown already stopped the patch session; this only closes the site.
        self.patch_session = None
        self._stop_health()
        self.window.set_site(None)      # closes its Recover… dialogs
        site, self.site = self.site, None
        if site is not None:
            clean = site.close(SITE_STOP_WAIT_S) and clean
        clean = self._close_last_known() and clean
        return self._close_history() and clean

    # -- the history file ------------------------------------------------------------------

    def _open_history(self, site: Any, workers: list) -> None:
        """The site's history file, opened off the GUI thread once its first polls are out
        (opening it imports the history store and may wait for a file another process
        writes, or for a share: before, the first polls waited for that). It is there
        long before the first answers; one that comes later misses only those."""
        closing = self._closing

        def opened(result: tuple[Any, Any]) -> None:
            _site, writer = result
            if self.site is not site or self._closing.is_set():
                _close_writer(writer)
                return
            self._attach_history(writer, workers)
        self._starter.submit(lambda: _after_polls_left(site, closing), opened,
                             lambda exc: log.warning("the history file was not opened: %s", exc))

    def _attach_history(self, writer: Any, workers: list) -> None:
        """Every poll of the site also goes into its history file, written in batches by
        the writer's thread; the graphs read 1 day / 7 days / 90 days from it (told once
        they are made, see _share_history_store: it imports the graphs' module)."""
        self._close_history()
        if writer is None:
            return
        self.history_writer = writer
        if "hvconsole.ui.hosts.stored_history" in sys.modules:
            self._share_history_store()
        for worker in workers:
            worker.history_writer = writer

    def _share_history_store(self) -> None:
        from .ui.hosts import stored_history
        writer = self.history_writer
        stored_history.set_store(None if writer is None else writer.path)

    def _close_history(self) -> bool:
        """Write what is queued and close the file (bounded). True when done in time."""
        writer, self.history_writer = self.history_writer, None
        if writer is None:
            return True
        stored = sys.modules.get("hvconsole.ui.hosts.stored_history")
        if stored is not None:
            stored.set_store(None)
        return writer.close(HISTORY_CLOSE_WAIT_S)

    def screenshot_and_quit(self, path: str) -> None:
        app = QApplication.instance()
        ok = self.window.grab().save(path, "PNG")
        if not ok:
            print(f"hvconsole: could not write the screenshot to {path}", file=sys.stderr)
        assert app is not None
        app.exit(0 if ok else 1)

    def wizard_screenshots_and_quit(self, out_dir: Path) -> None:
        """The wizard's unattended demo walk, one PNG per page; exits with its code."""
        from .ui import patch_entry
        app = QApplication.instance()
        try:
            code = patch_entry.save_wizard_screenshots(self.patch_session, out_dir)
        except Exception as exc:
            log.exception("the wizard screenshots failed")
            print(f"hvconsole: the wizard screenshots failed: {exc}", file=sys.stderr)
            code = 1
        assert app is not None
        app.exit(code)


# The client stack and the workers' modules are imported by the page's preparation and,
# when it is not done yet, by the GUI thread as the site opens: they take turns, a group
# of modules at a time. Two threads importing a package with import cycles at the same
# moment can see it half initialised (CPython's import deadlock avoidance: "cannot import
# name ... from partially initialized module"); pywinrm, the first such package here, is no
# longer among them (the client imports it for its first NTLM/Kerberos/CredSSP session, in
# turns of its own); the turns stay because they cost nothing uncontended and keep any
# other such package safe here. The last known state's
# read does not wait for them: a second start shows its tiles first.
_startup_imports = threading.RLock()


def _import(*modules: str) -> None:
    with _startup_imports:
        for module in modules:
            importlib.import_module(module)


# monitoring.last_known.FILE_NAME, named here so that a first start learns there is none
# without importing the reader (tests/ui/test_last_known_start.py checks they agree).
LAST_KNOWN_FILE_NAME = "last-known.json"
# The configured hosts' reader (hvconsole.remote.configured) is not among them: it brings
# the keyring's stack (~65 ms of imports), which the demo never needs; a configured site
# imports it where it is opened (_read_configured).
CLIENT_MODULES = ("hvconsole.remote.collector",)
# The monitor's own modules (~40 ms) are not among them: a first start makes its monitor
# once the first polls are out (GuiSession._start_polling).
WORKER_MODULES = ("hvconsole.monitoring.workers", "hvconsole.monitoring.host_compliance")
MONITOR_MODULE = "hvconsole.ui.monitor.monitor"


def _read_configured(passwords: Any) -> Any:
    """On a background thread: the inventory and the keyring. The first read opens the
    keyring only if a host needs a password (an empty inventory never prompts to unlock
    one); a reload keeps the session's password store."""
    _import("hvconsole.site", *CLIENT_MODULES, "hvconsole.remote.configured")
    from .site import open_configured_site
    if passwords is None:
        return open_configured_site()
    from .remote.configured import open_book
    return open_configured_site(open_book(passwords=passwords))


def _after_polls_left(site: Any, closing: threading.Event) -> tuple[Any, Any]:
    """On a background thread once the first polls are out: numpy (the answers' ring
    buffers and sparklines use it: ~0.1 s of imports, here while the hosts answer rather
    than on a poll thread with the first answer), then the site's history file."""
    _import("numpy")
    return _with_history(site, closing)


def _with_history(site: Any, closing: threading.Event) -> tuple[Any, Any]:
    """On a background thread, with the site: its history file (the demo's own under
    ``demo/``) opened for writing, or None (no hosts to poll, or a file that cannot be used,
    which costs only the long graph ranges). Opening may wait: up to the file's busy timeout
    while another process writes it, and on the network when the home is on a share."""
    if site is None or not site.targets or closing.is_set():
        return site, None
    from . import paths
    from .core.historydb import HistoryDbError, HistoryWriter, history_file
    path = history_file(paths.site_data_dir(site.simulated))
    try:
        return site, HistoryWriter(path)
    except (HistoryDbError, OSError) as exc:
        log.warning("the history file cannot be used: %s", exc)
        return site, None


def _read_last_known(demo: bool) -> Any:
    """On a background thread: the site's last known state and the rows that show it, as
    ``(state, tiles by host, host rows, newest time)``, or None (no file, or nothing in it).
    With a state, the monitoring page's modules are imported here too (the GUI thread needs
    them next); without one (a first start) the GUI thread imports them as it builds the
    page, once the first polls are out: imported here they competed with the site's start
    for the interpreter, which the first tiles wait for."""
    from . import paths
    if not (paths.site_data_dir(demo) / LAST_KNOWN_FILE_NAME).exists():
        # A first start: nothing to show, and the reader's modules (~0.1 s of the one
        # interpreter) would only compete with the client's, which the first polls wait for.
        return None
    from .monitoring.last_known import last_known_file, last_known_host_row, last_known_tiles, read_last_known
    state = read_last_known(last_known_file(paths.site_data_dir(demo)))
    if state is None or not state.hosts:
        return None
    from .ui.monitor import monitor_page  # noqa: F401  (imported here, off the GUI thread)
    tiles = {h.name: last_known_tiles(h) for h in state.hosts}
    return (state, tiles, [last_known_host_row(h) for h in state.hosts],
            max(h.polled_at for h in state.hosts))


def _prepare_site_view(reading: list[Any], after: threading.Event | None = None) -> Any:
    """On a background thread while the first site opens: the modules the poll workers
    need (the WinRM client, the monitoring modules, the site catalog's light reader; not
    the monitor's, numpy, the keyring's stack, the page, the patch session or the graphs:
    they come while the site opens or the first polls are out, or after their answers), imported
    here so that the GUI thread never waits for them, and the site catalog read once (the
    source put in ``reading`` first). Returns the read ``CatalogSource``. ``after``: set
    once the demo's process is started (waited for at most SPAWN_WAIT_S)."""
    if after is not None:
        after.wait(SPAWN_WAIT_S)
    _import(*CLIENT_MODULES)
    _import(*WORKER_MODULES)
    from .monitoring.host_compliance import CatalogSource
    catalog = CatalogSource()
    reading.append(catalog)             # a site opening meanwhile shares this read
    catalog.get()
    return catalog


def _import_patch_session() -> None:
    """On a background thread: the patch session's module (the wizard's services), when
    this build has the wizard; a failure is said by make_session."""
    from .ui import patch_entry
    if patch_entry.wizard_available():
        with contextlib.suppress(Exception):
            _import(patch_entry.SESSION_MODULE)


def _import_graphs() -> None:
    """On a background thread: the host graphs' module (~0.1 s of imports; pyqtgraph
    comes only with a VM window's plots)."""
    _import("hvconsole.ui.hosts.host_graphs")


def _close_writer(writer: Any) -> None:
    """A history writer opened for a site that is not shown after all."""
    if writer is not None:
        writer.close(HISTORY_CLOSE_WAIT_S)


def _open_demo(closing: threading.Event, speed: float, process: Any = False,
               spawned: threading.Event | None = None) -> Any:
    """On a background thread: building the site and binding its endpoints takes a
    moment, or waiting for its own process (``process``: see GuiSession) to serve it.
    ``spawned`` is set once that process is started (or failed to). Returns None (the
    site stopped again) if the window closed meanwhile."""
    try:
        from .site import open_demo_site, start_demo_process
        if process is True and not closing.is_set():
            # None: a running hvconsole-sim serve is there, which open_demo_site finds.
            process = start_demo_process(speed=speed, name=DEMO_SITE_NAME) or True
    finally:
        if spawned is not None:
            spawned.set()
    site = open_demo_site(speed=speed, name=DEMO_SITE_NAME, closing=closing, process=process)
    if closing.is_set() or site.closed:
        site.close(SITE_STOP_WAIT_S)
        return None
    return site


def demo_workers(served: Any, *, poll_interval_s: float = DEMO_POLL_INTERVAL_S,
                 timeout_s: float = DEMO_POLL_TIMEOUT_S, catalog: Any = None) -> list:
    """Poll workers for a simulated site served in this process (tests serve their own)."""
    from .monitoring.workers import site_workers
    from .site import site_for_served
    return site_workers(site_for_served(served), poll_interval_s=poll_interval_s,
                        timeout_s=timeout_s, catalog=catalog)


def _initial_size(app: QApplication, screenshot: bool) -> tuple[int, int]:
    """Most of the screen, up to 1600×1000. A screenshot is always 1600×1000, whatever
    the screen (offscreen has a small virtual one), so that screenshots compare."""
    screen = app.primaryScreen()
    if screenshot or screen is None:
        return SCREENSHOT_SIZE
    geo = screen.availableGeometry()
    return min(1600, int(geo.width() * 0.92)), min(1000, int(geo.height() * 0.92))


def freeze_startup_objects() -> None:
    """Take everything alive once the first answers are shown (modules, Qt wrappers,
    the window, the first rows) out of the garbage collector's sight. A full
    collection walked all of it on whichever thread allocated, the GUI thread's longest
    pause (~100 ms); now it walks only what was made since (docs.python.org: gc.freeze)."""
    gc.freeze()


def run_gui(demo: bool = False, screenshot: str | None = None, after: float = 10.0, *,
            demo_speed: float | None = None, wizard_screenshots: str | None = None) -> int:
    """Open the window; returns the process exit code."""
    from .ui.platform_check import check_platform
    hint = check_platform()
    if hint is not None:
        # Qt would abort with a misleading message; say what is missing (and try anyway:
        # the check can be wrong on an unusual system).
        print(hint, file=sys.stderr)
    if wizard_screenshots:
        demo = True
        if demo_speed is None:
            demo_speed = WIZARD_SCREENSHOT_SPEED
    sys.setswitchinterval(SWITCH_INTERVAL_S)
    app = QApplication.instance() or QApplication([sys.argv[0] if sys.argv else "hvconsole"])
    assert isinstance(app, QApplication)
    app.setApplicationName("hvconsole")
    app.setApplicationDisplayName("hvconsole")
    app.setDesktopFileName("hvconsole")  # Wayland matches the window to hvconsole.desktop
    theme.apply_theme(app)
    window = MainWindow()
    # The demo in a process of its own however it opens: --demo, or the welcome page's
    # button of a window started without it (a new admin's first demo).
    session = GuiSession(window, demo_speed=demo_speed if demo_speed is not None else 1.0,
                         demo_process=True)
    window.resize(*_initial_size(app, bool(screenshot or wizard_screenshots)))
    if demo:
        window.show_starting(STARTING_TEXT)
        QTimer.singleShot(0, session.open_demo)  # once the window is up
    else:
        window.show_starting(READING_TEXT)
        QTimer.singleShot(0, session.open_configured)
    window.show()
    if screenshot:
        QTimer.singleShot(max(0, int(after * 1000)), lambda: session.screenshot_and_quit(screenshot))
    session.when_site_shown(lambda _site: freeze_startup_objects())
    if wizard_screenshots:
        out_dir = Path(wizard_screenshots)
        session.when_site_shown(lambda _site: session.when_patch_session_made(
            lambda: QTimer.singleShot(0, lambda: session.wizard_screenshots_and_quit(out_dir))))
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
