"""The one place that builds a site: the hosts the console talks to, how fast their clock
runs, where their patch runs are journalled, and what the admin must be told about them.

Two kinds:

* **configured** (:func:`open_configured_site`): the admin's inventory (``hosts.json``)
  with each host's password from the OS keyring. Real time, the real patch journal.
* **demo** (:func:`open_demo_site`): the simulated site on loopback: a running
  ``hvconsole-sim serve --state-file`` when there is one (it outlives a killed runner),
  else one started in this process, or (the window) in a process of its own that the
  window's pipe keeps alive (:func:`start_demo_process`, ``hvconsole.sim.child``). Its own
  clock and speed, and its own patch journal under the data folder's ``demo/``, so a demo
  run never shows up among real runs.

This is the only product module outside ``hvconsole.sim`` that imports the simulator; the
window, the command lines and the patch engine get a :class:`Site` (or the
:class:`~hvconsole.patch.sites.HostDirectory` it makes) and never know which kind it is.

Opening a site reads the keyring, binds sockets or waits for the demo's process: callers
run it off the GUI thread. Importing this module is light (no patch engine, no WinRM
client): the window imports it first thing to start the demo's process.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from hvconsole import paths

if TYPE_CHECKING:
    from hvconsole.core.inventory.book import HostBook
    from hvconsole.patch.sites import HostDirectory, SiteError
    from hvconsole.remote.target import Target
    from hvconsole.sim.child import DemoProcess

log = logging.getLogger(__name__)

DEMO_LABEL = "Demo site (simulated)"
CONFIGURED_LABEL = "Configured hosts"
CLOSE_WAIT_S = 10.0        # a simulated site that does not stop in this long is left to exit with us

def __getattr__(name: str) -> Any:
    """``SiteError`` and ``HostDirectory`` on first use: the window imports this module at
    its very start (to start the demo's process), before the patch engine and the WinRM
    client it pulls in, which are imported off the GUI thread."""
    if name in ("SiteError", "HostDirectory"):
        from hvconsole.patch import sites
        return getattr(sites, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["Site", "SiteError", "open_demo_site", "open_configured_site", "journal_path",
           "served_targets", "site_for_served", "DEMO_LABEL", "CONFIGURED_LABEL"]


def journal_path(demo: bool) -> Path:
    """The patch journal of the configured hosts (``<data dir>/patch-journal.sqlite``) or
    of the simulated demo site (``<data dir>/demo/patch-journal.sqlite``)."""
    return paths.patch_journal_path(demo=demo)


@dataclass
class Site:
    """The hosts of one site and what goes with them. ``problems`` are hosts left out (one
    sentence each); ``warnings`` are hosts that are in but weaker than they should be
    (certificate checking off). Neither is ever raised: showing them is the caller's job."""

    kind: Literal["configured", "demo"]
    label: str
    targets: list[Target]
    speed: float = 1.0                                  # host seconds per real second
    clock: Callable[[], datetime] | None = None         # the hosts' clock; None = real time
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    journal_path: Path = field(default_factory=lambda: journal_path(False))
    book: HostBook | None = None
    simulated: bool = False
    description: str = ""                               # for messages: "the embedded demo-patch site"
    # The in-process simulated site (hvconsole.sim.serve.ServedSite): tests and the demo
    # reach the simulated hosts through it. None for configured hosts or another process's site.
    embedded: Any = field(default=None, repr=False)
    _closer: Callable[[], None] | None = field(default=None, repr=False)
    # The demo's own process: DemoProcess.when_ended (see :meth:`when_ended`).
    _end_watch: Callable[[Callable[[str], None]], None] | None = field(default=None, repr=False)
    _close_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _closed: bool = field(default=False, repr=False)
    _stopped: threading.Event = field(default_factory=threading.Event, repr=False)

    def names(self) -> list[str]:
        return [t.name for t in self.targets]

    def target(self, name: str) -> Target | None:
        """The host ``name`` (case-insensitive, as Windows names are), or None."""
        key = name.casefold()
        return next((t for t in self.targets if t.name.casefold() == key), None)

    def directory(self) -> HostDirectory:
        """The hosts for the patch engine and the planning service. The site keeps owning
        the hosts: closing the directory does not stop them, :meth:`close` does."""
        from hvconsole.patch.sites import HostDirectory
        return HostDirectory(list(self.targets), speed=self.speed,
                             description=self.description or self.label)

    def when_ended(self, callback: Callable[[str], None]) -> None:
        """``callback(sentence)`` (from another thread) if the process serving this site
        ends while it is open: the demo's own process killed or crashed. Nothing for the
        other kinds (configured hosts, a site served in this process or by
        ``hvconsole-sim serve``)."""
        if self._end_watch is not None:
            self._end_watch(callback)

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self, wait_s: float = CLOSE_WAIT_S) -> bool:
        """Stop an embedded simulated site (nothing to do for the others). Idempotent and
        bounded: a stop that hangs is left to a daemon thread after ``wait_s`` so it never
        keeps the window or a command from exiting. True when everything stopped."""
        with self._close_lock:
            if self._closed:
                return self._stopped.is_set()
            self._closed = True
            closer, self._closer = self._closer, None
        done = self._stopped
        if closer is None:
            done.set()
            return True

        def stop() -> None:
            try:
                closer()
            except Exception:   # a failing stop must not hide the caller's own outcome
                log.exception("stopping the simulated site failed")
            finally:
                done.set()

        threading.Thread(target=stop, name="site-close", daemon=True).start()
        if not done.wait(wait_s):
            log.warning("the simulated site did not stop within %.0f s", wait_s)
            return False
        return True

    def __enter__(self) -> Site:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# -- configured hosts --------------------------------------------------------------------

def open_configured_site(book: HostBook | None = None, *, only: Iterable[str] | None = None,
                         allow_session_only: bool = True) -> Site:
    """The inventory's hosts (or only the names in ``only``) with their passwords from the
    keyring (``book``'s store if given). A host that cannot be reached as configured (no
    password, a keyring error, an address a target refuses) is one problem and left out;
    the others are in. A command line passes ``allow_session_only=False``: it cannot keep
    a password for a session, so a missing keyring is one problem with its reason."""
    from hvconsole.core.inventory import InventoryError
    from hvconsole.credentials import CredentialStoreError
    from hvconsole.remote.configured import load_configured

    try:
        configured = load_configured(book, only=list(only) if only is not None else None,
                                     allow_session_only=allow_session_only)
    except (CredentialStoreError, InventoryError) as exc:   # a keyring that fails, an unreadable hosts.json
        return Site(kind="configured", label=CONFIGURED_LABEL, targets=[], problems=[str(exc)],
                    journal_path=journal_path(False), description="the host inventory")
    return Site(kind="configured", label=CONFIGURED_LABEL, targets=configured.targets,
                problems=configured.problems, warnings=configured.warnings,
                journal_path=journal_path(False), book=configured.book,
                description="the host inventory")


# -- the simulated demo site -------------------------------------------------------------

def served_elsewhere() -> dict[str, Any] | None:
    """The state of a running ``hvconsole-sim serve --state-file`` (preferred to starting a
    demo site: it outlives a killed runner), or None. Reads one small file; no simulator."""
    from hvconsole.sim.state_file import default_state_file, read_state
    return read_state(default_state_file())


def start_demo_process(*, speed: float = 1.0, name: str = "demo-patch") -> DemoProcess | None:
    """Start the demo site's own process now, or None when a running ``hvconsole-sim serve
    --state-file`` is there (it is used instead). Cheap for the caller: the child imports,
    builds and serves the site on another core; :func:`open_demo_site` with ``process=``
    waits for it (off the GUI thread). A SiteError when it cannot be started at all."""
    from hvconsole.sim.child import DemoProcess
    if served_elsewhere() is not None:
        return None
    _check_demo(name, speed)
    try:
        return DemoProcess.spawn(name, speed)
    except OSError as exc:
        raise _site_error(f"its process could not be started: {exc.strerror or exc}") from None


def serve_demo_child(argv: list[str]) -> int:
    """The child's end of :func:`start_demo_process` (``hvconsole --serve-demo-child``)."""
    from hvconsole.sim.child_serve import main  # the child's end only, not the window's
    return main(argv)


def open_demo_site(*, speed: float = 1.0, name: str = "demo-patch",
                   closing: threading.Event | None = None, embedded: bool = True,
                   process: DemoProcess | bool = False) -> Site:
    """The simulated demo site. A running ``hvconsole-sim serve --state-file`` is used when
    there is one (its own site and speed apply; closing this Site leaves it running);
    otherwise ``name`` ("demo": 4 hosts, 40 VMs, a freeze at 35 s; "demo-patch": the demo
    plus a second host on the regressed build, the fix's package staged on both) starts at
    ``speed`` and :meth:`Site.close` stops it: in this process, or with ``process`` in a
    process of its own (True: started now; or the one :func:`start_demo_process` started),
    whose first answer this call waits for, at most ``sim.child.READY_TIMEOUT_S``.

    ``embedded=False``: never start one (an existing run must go on against the site it
    started on); raises :class:`SiteError` when none is running. ``closing``: set by a
    window that closed while the site was starting; the site is then stopped again and the
    returned Site is already closed (``site.closed``)."""
    state = served_elsewhere()
    if state is not None:
        if process is not True and process:
            process.stop(0.0)          # started before the state file was there: not needed
        return _served_elsewhere(state)
    if not embedded:
        raise _site_error("no simulated site is running: a demo run goes on only against the `hvconsole-sim "
                          "serve --state-file` process it started against; the demo site of the command or "
                          "window that started it ended with that command or window")
    _check_demo(name, speed)
    if closing is not None and closing.is_set():
        if process is not True and process:
            process.stop(0.0)
        raise _site_error("the demo site was not started: the window is closing")
    if process:
        site = _open_demo_process(process, name=name, speed=speed, closing=closing)
    else:
        from hvconsole.sim import serve
        try:
            served = serve.start_demo(speed=speed, site=name)
        except OSError as exc:
            raise _site_error(f"the simulated site cannot listen on this machine: {exc}") from None
        site = site_for_served(served, description=f"the embedded {name} site", owned=True)
    if closing is not None and closing.is_set():
        site.close()
    return site


def _site_error(message: str) -> Exception:
    from hvconsole.patch.sites import SiteError
    return SiteError(message)


def _check_demo(name: str, speed: float) -> None:
    from hvconsole.sim.child import DEMO_SITE_NAMES
    if name not in DEMO_SITE_NAMES:
        raise _site_error(f"no demo site {name!r}; choose one of {', '.join(sorted(DEMO_SITE_NAMES))}")
    if not (speed > 0 and math.isfinite(speed)):
        raise _site_error(f"the demo speed must be a positive number, not {speed:g}")


def _open_demo_process(process: DemoProcess | bool, *, name: str, speed: float,
                       closing: threading.Event | None) -> Site:
    """The demo site served by a child process (see hvconsole.sim.child), once it answers."""
    from hvconsole.sim.child import DemoProcess, DemoProcessError
    child = process if isinstance(process, DemoProcess) else start_demo_process(speed=speed, name=name)
    if child is None:                  # a state file appeared meanwhile
        state = served_elsewhere()
        if state is None:
            raise _site_error("the simulated site served by another process has just ended")
        return _served_elsewhere(state)
    try:
        doc = child.ready(cancel=closing)
    except DemoProcessError as exc:
        raise _site_error(str(exc)) from None
    try:
        site = _served_elsewhere(doc, description=f"the {name} site served by process {child.pid}",
                                 closer=child.stop, end_watch=child.when_ended)
    except Exception as exc:           # hosts a Target refuses (not loopback): not our child's line
        child.stop()
        raise _site_error(f"its process said nothing usable ({exc})") from None
    return site


def site_for_served(served: Any, *, description: str = "a simulated site", owned: bool = False) -> Site:
    """A demo Site for a simulated site served in this process (``hvconsole.sim.serve``'s
    ``ServedSite``; tests serve their own scenarios). ``owned``: :meth:`Site.close` stops it."""
    clock = served.site.clock
    return Site(kind="demo", label=DEMO_LABEL, targets=served_targets(served.hosts),
                speed=clock.speed if clock.speed > 0 else 1.0, clock=clock.now,
                journal_path=journal_path(True), simulated=True, description=description,
                embedded=served, _closer=served.stop if owned else None)


def served_targets(hosts: Iterable[Any]) -> list[Target]:
    """Targets for simulated hosts (objects with name, url, user, password, as a
    ``ServedHost`` or a state-file entry gives them). The simulated endpoints speak Basic
    over HTTP on loopback: pywinrm's "plaintext", which a Target allows there only."""
    from hvconsole.remote.target import Target
    return [Target(name=h.name, url=h.url, username=h.user, password=h.password,
                   transport=getattr(h, "transport", "plaintext")) for h in hosts]


@dataclass(frozen=True)
class DemoModel:
    """The demo site's hosts and VMs as built, at simulated time 0 and not served: what
    ``hvconsole history seed-demo`` writes a past for, so that past matches the demo."""
    site: Any          # hvconsole.sim.model.SimSite
    freeze_vm: str     # the VM the demo's story freezes (on the regressed build)


def demo_model() -> DemoModel:
    """The model of the "demo" site (4 hosts, 40 VMs), built without a clock running or a
    socket bound."""
    from hvconsole.sim.scenarios.demo import FREEZE_VM, build_demo_site

    return DemoModel(site=build_demo_site(), freeze_vm=FREEZE_VM)


@dataclass(frozen=True)
class _StateHost:
    name: str
    url: str
    user: str
    password: str = field(repr=False)


def _served_elsewhere(state: dict[str, Any], *, description: str = "",
                      closer: Callable[[], Any] | None = None,
                      end_watch: Callable[[Callable[[str], None]], None] | None = None) -> Site:
    """The site of a running ``hvconsole-sim serve --state-file`` (read with
    ``state_file.read_state``, which has checked its shape and that its process lives), or
    of the demo's own process (its first line, the same document; ``closer`` stops it,
    ``end_watch`` tells when it ends unasked)."""
    hosts = [_StateHost(h["host"], h["url"], h["user"], h["password"]) for h in state["hosts"]]
    try:
        speed = float(state.get("speed") or 1.0)
    except (TypeError, ValueError):
        speed = 1.0
    return Site(kind="demo", label=DEMO_LABEL, targets=served_targets(hosts),
                speed=speed if speed > 0 else 1.0, clock=_state_clock(state, speed),
                journal_path=journal_path(True), simulated=True,
                description=description or f"the simulated site {state.get('site', '')!s} served by process "
                                           f"{state['pid']}",
                _closer=closer, _end_watch=end_watch)


def _state_clock(state: dict[str, Any], speed: float) -> Callable[[], datetime] | None:
    """The serving process's simulated clock, when its state file says where that clock
    stood at a wall-clock moment (``sim_now`` at ``written_at``); else None (real time)."""
    from hvconsole.core.timeutil import parse_time

    try:
        sim_then = parse_time(state["sim_now"])
        wall_then = parse_time(state["written_at"])
    except (KeyError, ValueError):
        return None

    def now() -> datetime:
        return sim_then + timedelta(seconds=(datetime.now(UTC) - wall_then).total_seconds() * speed)
    return now
