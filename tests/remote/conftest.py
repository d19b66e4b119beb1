"""Fixtures for the WinRM client tests: credentials generated per run, a replay server
(see wsman_replay.py) and a simulated WS-Man endpoint that are always stopped, a port
nobody listens on, and the snapshot-v1 schema validator."""

from __future__ import annotations

import base64
import json
import re
import secrets
import threading
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Callable, Iterator

import jsonschema
import pytest

from hvconsole.remote.target import Target
from hvconsole.sim.wsman.endpoint import WsmanEndpoint
from tests.integration.simhost import closed_port as unused_loopback_port
from wsman_replay import ReplayServer, Step, make_handler


@pytest.fixture
def password() -> str:
    return secrets.token_urlsafe(16)


@pytest.fixture
def replay(password: str) -> Iterator[Callable[[list[Step]], tuple[ReplayServer, Target]]]:
    """Start a replay server for a list of steps; returns (server state, Target)."""
    servers: list[tuple[ThreadingHTTPServer, ReplayServer, threading.Thread]] = []

    def start(steps: list[Step], *, check_auth: bool = True) -> tuple[ReplayServer, Target]:
        state = ReplayServer(url="", steps=list(steps))
        httpd = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(state))
        httpd.daemon_threads = True
        port = httpd.server_address[1]
        state.url = f"http://127.0.0.1:{port}/wsman"
        if check_auth:
            token = base64.b64encode(f"hvc-test:{password}".encode()).decode()
            state.require_auth = f"Basic {token}"
        thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                  name="replay-server", daemon=True)
        thread.start()
        servers.append((httpd, state, thread))
        target = Target(name="HV-TEST", url=state.url, username="hvc-test", password=password,
                        transport="plaintext")
        return state, target

    yield start
    for httpd, state, thread in servers:
        state.stop_event.set()
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


@pytest.fixture
def closed_port() -> int:
    """A loopback port with nothing listening (connection refused)."""
    return unused_loopback_port()


@pytest.fixture(scope="session")
def snapshot_validator():
    """A jsonschema validator for contracts/snapshot-v1."""
    path = Path(__file__).resolve().parents[1] / "fixtures" / "contracts" / "snapshot-v1.schema.json"
    schema = json.loads(path.read_text(encoding="utf-8"))
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    # jsonschema checks "date-time" only with an optional package; check RFC 3339 here.
    checker = jsonschema.FormatChecker()
    rfc3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")
    checker.checks("date-time")(lambda value: not isinstance(value, str) or bool(rfc3339.match(value)))
    return cls(schema, format_checker=checker)


@pytest.fixture
def scripted_endpoint(password: str):
    """Start a simulated WS-Man endpoint serving a ProcessRunner; returns (endpoint, Target).
    ``auth`` is "basic" (Target transport plaintext, or ssl with ``tls``) or "ntlm"."""
    endpoints = []

    def start(runner, *, auth: str = "basic", tls=None, name: str = "HV-SIM", **kw):
        endpoint = WsmanEndpoint(runner, username="hvc-admin", password=password, auth=auth,
                                 tls=tls, name=name, **kw)
        endpoint.start()
        endpoints.append(endpoint)
        transport = "ntlm" if auth == "ntlm" else ("ssl" if tls else "plaintext")
        target = Target(name=name, url=endpoint.url, username="hvc-admin", password=password,
                        transport=transport)
        return endpoint, target

    yield start
    for endpoint in endpoints:
        endpoint.stop()
