"""One simulated Hyper-V host behind a real WS-Management endpoint on loopback, for the
connection-test, CLI and dialog tests: the product's real client code talks to it over
HTTP(S) with Basic or NTLM, exactly as it would to a Windows host."""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from hvconsole.core.inventory import Host
from hvconsole.sim.agent.host_agent import HostAgent
from hvconsole.sim.model import SimHost, SimSite
from hvconsole.sim.wsman.endpoint import WsmanEndpoint

USER = "demo"


@dataclass
class SimEndpoint:
    site: SimSite
    sim: SimHost
    endpoint: WsmanEndpoint
    password: str = field(repr=False)
    user: str = USER
    bind: str = "127.0.0.1"

    @property
    def port(self) -> int:
        return self.endpoint.port

    def host(self, *, name: str = "HV01", transport: str = "plaintext", **fields: Any) -> Host:
        """The inventory entry an admin would type for this endpoint."""
        fields.setdefault("address", self.bind)
        fields.setdefault("username", self.user)
        fields.setdefault("port", self.port)
        return Host(name=name, transport=transport, **fields)


@contextmanager
def sim_endpoint(*, auth: str = "basic", tls: Any = None, bind: str = "127.0.0.1",
                 user: str = USER, name: str = "HV01") -> Iterator[SimEndpoint]:
    """A started endpoint for one simulated host (answers without artificial latency);
    stopped on exit whatever happened."""
    site = SimSite(seed=7)
    sim = site.add_host(SimHost(name))
    password = secrets.token_urlsafe(16)
    endpoint = WsmanEndpoint(HostAgent(sim, site, latency_scale=0.0), username=user, password=password,
                             auth=auth, tls=tls, bind=bind, name=name)
    endpoint.start()
    try:
        yield SimEndpoint(site, sim, endpoint, password, user, bind)
    finally:
        endpoint.stop()


# Sockets holding the ports closed_port() handed out, for the life of the test process.
_HELD: list[socket.socket] = []


def closed_port() -> int:
    """A loopback port that refuses connections for the rest of this process: bound and never
    listened on (Linux answers a connect with RST), and kept bound. A port bound and then
    released could be handed by the OS to the next server a test starts, which then
    answered where "connection refused" was expected (seen once on CI)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    _HELD.append(s)
    return s.getsockname()[1]


@contextmanager
def served_site_process(home: Path, log: Path, site: str, speed: float, *, env: dict[str, str] | None = None,
                        start_timeout_s: float = 60.0) -> Iterator[subprocess.Popen]:
    """``hvconsole-sim serve --site SITE --state-file`` in a process of its own (so the site
    outlives whatever a test kills), yielded once its state file is in ``home``; ended with
    SIGTERM (then SIGKILL) afterwards. ``env`` is added to this process's environment."""
    with log.open("wb") as out:     # the child keeps its own copy of the descriptor
        proc = subprocess.Popen([sys.executable, "-m", "hvconsole.sim.cli", "serve", "--site", site,
                                 "--speed", str(speed), "--state-file"], stdout=out, stderr=subprocess.STDOUT,
                                env={**os.environ, **(env or {})})
    try:
        deadline = time.monotonic() + start_timeout_s
        while not (home / "demo-site.json").exists():
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.05)
        yield proc
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=20)
