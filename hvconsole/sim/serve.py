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
(:func:`write_state_file` here; reading it: :mod:`hvconsole.sim.state_file`, without the
simulator, so that the window can look before importing any of it).

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
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .agent.host_agent import HostAgent
from .model.clock import SimClock
from .model.host import SimHost
from .model.site import SimSite
from .scenarios.demo import build_demo_site, build_patch_demo_site
from .state_file import (  # noqa: F401  (the state file's reading, importable from here as before)
    STATE_FILE_NAME,
    default_state_file,
    pid_alive,
    read_state,
    read_state_file,
    remove_state_file,
)

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


# -- the state file (hvconsole.sim.state_file reads it) ----------------------------------

def state_document(served: ServedSite, *, site: str, speed: float) -> dict[str, Any]:
    """What a state file says about ``served``; also the first line a demo site's own process
    writes to the window through its pipe (hvconsole.sim.child)."""
    from hvconsole.core.timeutil import format_time, utcnow
    return {"pid": os.getpid(), "site": site, "speed": speed,
            # Where the site's clock stood at a wall-clock moment: another process (the window,
            # a patch run) follows the simulated time from these two (hvconsole.site).
            "sim_now": format_time(served.site.clock.now()), "written_at": format_time(utcnow()),
            "hosts": [{"host": h.name, "url": h.url, "user": h.user, "password": h.password}
                      for h in served.hosts]}


def write_state_file(path: Path, served: ServedSite, *, site: str, speed: float) -> None:
    """Write the state file atomically, readable by this user only (it holds passwords)."""
    # Imported here: its temporary-file machinery is not needed by a demo site's own process,
    # whose first line (the same document) goes through its pipe.
    from hvconsole.core.atomic_file import atomic_write_text
    doc = state_document(served, site=site, speed=speed)
    atomic_write_text(Path(path), json.dumps(doc, indent=1) + "\n")
