"""Serve a simulated site: one WS-Management endpoint per host on loopback, plus a ticker.

Used by ``hvconsole-sim serve``, the GUI's ``--demo``, tests and benchmarks. Each host's
endpoint runs commands through that host's :class:`~hvconsole.sim.agent.host_agent.HostAgent`.
The ticker runs the site's timeline in the background and keeps each endpoint's fault
mode in step with its host: a host that is down refuses connections (and forgets its
shells, as a reboot does), a hung host accepts requests and never answers, a host back up
answers again. Faults set by hand on an endpoint stay until the host's condition changes.

A site served by ``hvconsole-sim serve --state-file`` can be found by another process (the
patch CLI, whose runner a test may SIGKILL while the hosts live on): the state file says
which process serves it, at what speed, and each host's URL and credentials
(:func:`write_state_file`, :func:`read_state_file`, :func:`default_state_file`).

A test that does not measure latency can shorten the simulated hosts' own latencies
(powershell.exe start-up, Get-VM, a script's run time) in a site served by another process
(``hvconsole-sim serve``, ``--demo``) with the environment variable
``HVCONSOLE_SIM_LATENCY_SCALE`` (a factor from 0 to 1; 0 answers at once): it is the
default ``latency_scale`` of :func:`serve_site`. Unset, the hosts keep their latencies.
It is a knob for tests and benchmarks, never for an admin's demo.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hvconsole.core.atomic_file import atomic_write_text

from .agent.host_agent import HostAgent
from .model.clock import SimClock
from .model.host import SimHost
from .model.site import SimSite
from .scenarios.demo import build_demo_site, build_patch_demo_site

if TYPE_CHECKING:
    from .wsman import WsmanEndpoint

log = logging.getLogger(__name__)
TICK_S = 0.2          # real seconds between two looks at the site's host conditions
LATENCY_SCALE_ENV = "HVCONSOLE_SIM_LATENCY_SCALE"


def latency_scale_from_env() -> float:
    """``HVCONSOLE_SIM_LATENCY_SCALE`` as a factor in [0, 1]; 1 (the hosts' own latencies)
    when unset. A value that is not such a number is a ValueError naming the variable: a
    test that meant to speed the site up must not silently run it at full latency."""
    raw = os.environ.get(LATENCY_SCALE_ENV, "").strip()
    if not raw:
        return 1.0
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    if not 0.0 <= value <= 1.0:          # also false for NaN
        raise ValueError(f"{LATENCY_SCALE_ENV}={raw[:40]!r}: expected a number from 0 to 1")
    return value


@dataclass
class ServedHost:
    name: str
    url: str
    user: str
    password: str = field(repr=False)
    endpoint: WsmanEndpoint = field(repr=False)
    sim: SimHost = field(repr=False)


def _endpoint_class() -> type[WsmanEndpoint]:
    """The WS-Man endpoint class (imported late: the GUI imports this module early)."""
    from .wsman import WsmanEndpoint
    return WsmanEndpoint


class ServedSite:
    """A running site. ``stop()`` (or leaving the ``with`` block) ends everything."""

    def __init__(self, site: SimSite, hosts: list[ServedHost], *, latency_scale: float = 1.0):
        self.site = site
        self.hosts = hosts
        self.latency_scale = latency_scale       # what the hosts' agents multiply their latencies by
        self._applied: dict[str, str] = {}
        self._sync_lock = threading.Lock()      # the ticker and a test may sync at once
        self._stop = threading.Event()
        self._ticker = threading.Thread(target=self._run_ticker, name=f"sim-ticker-{site.name}", daemon=True)

    def host(self, name: str) -> ServedHost:
        for served in self.hosts:
            if served.name == name:
                return served
        raise KeyError(f"no served host {name!r}")

    def start(self) -> None:
        self.sync()
        self._ticker.start()

    def sync(self) -> None:
        """Advance the site to now and apply host conditions to the endpoints."""
        with self._sync_lock:
            self._sync_locked()

    def _sync_locked(self) -> None:
        with self.site.lock:
            self.site.advance()
            wanted = {served.name: served.sim.reachability() for served in self.hosts}
        for served in self.hosts:
            condition = wanted[served.name]
            if self._applied.get(served.name) == condition:
                continue
            faults = served.endpoint.faults
            if condition == "down":
                faults.refuse()
                served.endpoint.reset_shells()      # a reboot forgets every shell
            elif condition == "hung":
                faults.hang()
            else:
                faults.clear()
            # Recorded only once applied: a failed reopen (port taken) is retried next tick.
            self._applied[served.name] = condition

    def _run_ticker(self) -> None:
        while not self._stop.wait(TICK_S):
            try:
                self.sync()
            except Exception:   # the ticker must outlive a bad tick; the next one retries
                log.exception("simulated site ticker failed")

    def stop(self) -> None:
        self._stop.set()
        if self._ticker.is_alive():
            self._ticker.join(timeout=5.0)
        for served in self.hosts:
            served.endpoint.stop()

    def __enter__(self) -> ServedSite:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def serve_site(site: SimSite, *, base_port: int = 0, username: str = "demo",
               password: str | None = None, latency_scale: float | None = None) -> ServedSite:
    """Start one endpoint per host (ports ``base_port + i``, or free ports when 0). A
    ``base_port`` whose hosts would run past 65535 is a ValueError before anything listens;
    a port already taken is the endpoint's OSError (EADDRINUSE), every endpoint closed.
    ``latency_scale`` multiplies the hosts' latencies; None takes it from the environment
    (:func:`latency_scale_from_env`, 1 when unset)."""
    if not isinstance(base_port, int) or not 0 <= base_port <= 65535 or \
            (base_port and base_port + len(site.hosts) - 1 > 65535):
        raise ValueError(f"base_port {base_port!r}: the {len(site.hosts)} hosts need ports within 1-65535 "
                         "(or 0 for free ports)")
    if latency_scale is None:
        latency_scale = latency_scale_from_env()
    endpoint_class = _endpoint_class()
    secret = password if password is not None else secrets.token_urlsafe(16)
    hosts: list[ServedHost] = []
    try:
        for i, sim in enumerate(site.hosts.values()):
            agent = HostAgent(sim, site, latency_scale=latency_scale)
            endpoint = endpoint_class(agent, username=username, password=secret,
                                      port=base_port + i if base_port else 0, name=sim.name)
            endpoint.start()
            hosts.append(ServedHost(sim.name, endpoint.url, username, secret, endpoint, sim))
        served = ServedSite(site, hosts, latency_scale=latency_scale)
        served.start()
    except BaseException:
        for h in hosts:
            h.endpoint.stop()
        raise
    return served


DEMO_SITES = {"demo": build_demo_site, "demo-patch": build_patch_demo_site}


def start_demo(*, seed: int = 1, speed: float = 1.0, base_port: int = 0, site: str = "demo") -> ServedSite:
    """The demo site (``demo.build_demo_site``, or ``site="demo-patch"`` for the one with a
    second host on the regressed build) running in real time × ``speed``."""
    return serve_site(DEMO_SITES[site](seed, SimClock(speed=speed)), base_port=base_port)


# -- the state file --------------------------------------------------------------------

STATE_FILE_NAME = "demo-site.json"
_HOST_KEYS = ("host", "url", "user", "password")


def default_state_file() -> Path:
    """``$HVCONSOLE_HOME/demo-site.json``, else the platform's per-user runtime folder
    (``$XDG_RUNTIME_DIR/hvconsole`` on Linux): a place that is private and that a reboot
    clears, as it should for a file naming a process and holding passwords."""
    from hvconsole import paths  # late: keeps this module light for the GUI

    home = os.environ.get(paths.HOME_ENV, "").strip()
    if home:
        return Path(home).expanduser() / STATE_FILE_NAME
    import warnings

    import platformdirs
    with warnings.catch_warnings():
        # Without XDG_RUNTIME_DIR platformdirs falls back to /tmp/runtime-<uid> and says so;
        # that fallback is fine here, and a warning would only alarm the admin.
        warnings.simplefilter("ignore", UserWarning)
        return platformdirs.user_runtime_path(paths.APP_NAME, appauthor=False) / STATE_FILE_NAME


def write_state_file(path: Path, served: ServedSite, *, site: str, speed: float) -> None:
    """Write the state file atomically, readable by this user only (it holds passwords)."""
    from hvconsole.core.timeutil import format_time, utcnow
    doc = {"pid": os.getpid(), "site": site, "speed": speed,
           # Where the site's clock stood at a wall-clock moment: another process (the window,
           # a patch run) follows the simulated time from these two (hvconsole.site).
           "sim_now": format_time(served.site.clock.now()), "written_at": format_time(utcnow()),
           "hosts": [{"host": h.name, "url": h.url, "user": h.user, "password": h.password} for h in served.hosts]}
    atomic_write_text(Path(path), json.dumps(doc, indent=1) + "\n")


def remove_state_file(path: Path) -> bool:
    """Remove the state file if this process wrote it (never another server's)."""
    state = read_state(path, check_pid=False)
    if state is None or state.get("pid") != os.getpid():
        return False
    Path(path).unlink(missing_ok=True)
    return True


def read_state(path: Path | None = None, *, check_pid: bool = True) -> dict[str, Any] | None:
    """The whole state document, or None when the file is missing, unreadable, not a state
    file, or (with ``check_pid``) names a process that is no longer running."""
    try:
        doc = json.loads(Path(path or default_state_file()).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    if not isinstance(doc, dict) or not isinstance(doc.get("pid"), int) or not isinstance(doc.get("hosts"), list):
        return None
    if not all(isinstance(h, dict) and all(isinstance(h.get(k), str) for k in _HOST_KEYS) for h in doc["hosts"]):
        return None
    if check_pid and not pid_alive(doc["pid"]):
        return None
    return doc


def read_state_file(path: Path | None = None) -> list[dict] | None:
    """The served hosts (``host``, ``url``, ``user``, ``password``) of a running
    ``hvconsole-sim serve --state-file``; None when there is none or it has died."""
    state = read_state(path)
    return None if state is None else list(state["hosts"])


def pid_alive(pid: int) -> bool:
    """Is process ``pid`` running (a zombie is not)?"""
    if pid <= 0:
        return False
    if sys.platform == "win32":
        return _pid_alive_windows(pid)
    try:
        os.kill(pid, 0)              # signal 0: existence check only
    except ProcessLookupError:
        return False
    except PermissionError:
        return True                  # exists, owned by someone else
    try:                             # Linux: a killed child not yet reaped is a zombie
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


# Windows only, behind sys.platform (which mypy understands: on Linux it skips this block).
if sys.platform == "win32":
    def _pid_alive_windows(pid: int) -> bool:
        # os.kill(pid, 0) would *terminate* the process on Windows: ask the kernel instead.
        import ctypes

        kernel32 = ctypes.windll.kernel32
        handle = kernel32.OpenProcess(0x1000, False, pid)      # PROCESS_QUERY_LIMITED_INFORMATION
        if not handle:
            return kernel32.GetLastError() == 5                # access denied: it exists
        try:
            code = ctypes.c_ulong()
            if not kernel32.GetExitCodeProcess(handle, ctypes.byref(code)):
                return True
            return code.value == 259                           # STILL_ACTIVE
        finally:
            kernel32.CloseHandle(handle)
