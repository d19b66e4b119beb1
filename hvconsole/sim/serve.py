"""Serve a simulated site: one WS-Management endpoint per host on loopback, plus a ticker.

Used by ``hvconsole-sim serve``, the GUI's ``--demo``, tests and benchmarks. Each host's
endpoint runs commands through that host's :class:`~hvconsole.sim.host_agent.HostAgent`.
The ticker runs the site's timeline in the background and keeps each endpoint's fault
mode in step with its host: a host that is down refuses connections (and forgets its
shells, as a reboot does), a hung host accepts requests and never answers, a host back up
answers again. Faults set by hand on an endpoint stay until the host's condition changes.
"""

from __future__ import annotations

import logging
import secrets
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .clock import SimClock
from .demo import build_demo_site
from .host_agent import HostAgent
from .model_host import SimHost
from .model_site import SimSite

if TYPE_CHECKING:
    from .wsman import WsmanEndpoint

log = logging.getLogger(__name__)
TICK_S = 0.2          # real seconds between two looks at the site's host conditions


@dataclass
class ServedHost:
    name: str
    url: str
    user: str
    password: str = field(repr=False)
    endpoint: "WsmanEndpoint" = field(repr=False)
    sim: SimHost = field(repr=False)


def _endpoint_class() -> Any:
    """The WS-Man endpoint class (imported late: the GUI imports this module early)."""
    from .wsman import WsmanEndpoint
    return WsmanEndpoint


class ServedSite:
    """A running site. ``stop()`` (or leaving the ``with`` block) ends everything."""

    def __init__(self, site: SimSite, hosts: list[ServedHost]):
        self.site = site
        self.hosts = hosts
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
            self._applied[served.name] = condition
            faults = served.endpoint.faults
            if condition == "down":
                faults.refuse()
                served.endpoint.reset_shells()      # a reboot forgets every shell
            elif condition == "hung":
                faults.hang()
            else:
                faults.clear()

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

    def __enter__(self) -> "ServedSite":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def serve_site(site: SimSite, *, base_port: int = 0, username: str = "demo",
               password: str | None = None, latency_scale: float = 1.0) -> ServedSite:
    """Start one endpoint per host (ports ``base_port + i``, or free ports when 0)."""
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
        served = ServedSite(site, hosts)
        served.start()
    except BaseException:
        for h in hosts:
            h.endpoint.stop()
        raise
    return served


def start_demo(*, seed: int = 1, speed: float = 1.0, base_port: int = 0) -> ServedSite:
    """The demo site (``demo.build_demo_site``) running in real time × ``speed``."""
    return serve_site(build_demo_site(seed, SimClock(speed=speed)), base_port=base_port)
