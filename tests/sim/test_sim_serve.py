"""serve_site / start_demo end to end: pywinrm against the simulated endpoints, and the
ticker that turns host conditions (hung, rebooting, back) into endpoint behaviour."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Callable

import jsonschema
import pytest


import winrm  # noqa: E402

from hvconsole.core.snapshot import SCHEMA_ID  # noqa: E402
from hvconsole.remote.answer import answer_text  # noqa: E402
from hvconsole.remote.collector import Collector  # noqa: E402
from hvconsole.remote.loader import prepare_call, shell_environment  # noqa: E402
from hvconsole.remote.target import Target  # noqa: E402
from hvconsole.sim.scenarios.freeze import SCENARIOS  # noqa: E402
from hvconsole.sim.serve import ServedHost, serve_site, start_demo  # noqa: E402

SCHEMA = json.loads((Path(__file__).parents[1] / "fixtures/contracts/snapshot-v1.schema.json").read_text())
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA, format_checker=jsonschema.FormatChecker())


def collector(h: ServedHost, timeout_s: float = 20.0) -> Collector:
    return Collector(Target(name=h.name, url=h.url, username=h.user, password=h.password, transport="plaintext"),
                     timeout_s=timeout_s, operation_timeout_s=2)


def wait_for(condition: Callable[[], bool], deadline_s: float = 10.0) -> bool:
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def test_demo_answers_pywinrm_with_the_collect_contract() -> None:
    with start_demo(seed=1) as served:
        assert [h.name for h in served.hosts] == ["HV01", "HV02", "HV03", "HV04"]
        assert len({h.url for h in served.hosts}) == 4 and all(h.url.startswith("http://127.0.0.1:") for h in served.hosts)
        h = served.host("HV02")
        assert h.password not in repr(h) and len(h.password) >= 16
        # plain HTTP on loopback: no certificate to validate (and no CA-bundle deprecation warning)
        protocol = winrm.Protocol(h.url, transport="plaintext", username=h.user, password=h.password,
                                  server_cert_validation="ignore")
        shell = protocol.open_shell(env_vars=shell_environment(), codepage=65001)
        try:
            call = prepare_call("collect", {"events_since": None, "max_events": 100, "vm_query_timeout_ms": 5000})
            command = protocol.run_command(shell, call.command, [call.arguments])
            stdout, stderr, code = protocol.get_command_output(shell, command)
            protocol.cleanup_command(shell, command)
        finally:
            protocol.close_shell(shell)
    assert code == 0
    doc = json.loads(answer_text(stdout.decode(), host="HV02", script="collect"))   # the client's decoding
    doc.pop("events_bookmark")
    doc.update({"schema": SCHEMA_ID, "host": "HV02", "polled_at": doc["host_time"], "reachable": True, "error": None})
    VALIDATOR.validate(doc)
    assert "FS-Büro-01" in [v["name"] for v in doc["vms"]]       # UTF-8 through codepage 65001


def test_wrong_password_is_refused() -> None:
    with serve_site(SCENARIOS["idle-vm"].build(), latency_scale=0.0) as served:
        h = served.host("HV01")
        bad = Collector(Target(name="HV01", url=h.url, username=h.user, password=h.password + "x",
                               transport="plaintext"), timeout_s=10)
        try:
            snap = bad.poll()
        finally:
            bad.close()
    assert not snap.reachable and snap.error is not None and snap.error.kind == "auth"


def _two_free_ports() -> int:
    """A base port whose successor is free too (other tests grab ephemeral ports meanwhile)."""
    import socket
    for _ in range(50):
        with socket.socket() as a, socket.socket() as b:
            a.bind(("127.0.0.1", 0))
            base = a.getsockname()[1]
            try:
                b.bind(("127.0.0.1", base + 1))
            except OSError:
                continue
            return base
    raise RuntimeError("no two consecutive free ports on loopback")


def test_fixed_ports_and_given_credentials() -> None:
    import secrets
    secret = secrets.token_urlsafe(8)
    for attempt in range(5):
        base = _two_free_ports()
        try:
            served = serve_site(SCENARIOS["live-migration"].build(), base_port=base, username="lab", password=secret)
        except OSError:
            continue  # taken between the probe and the bind: try other ports
        with served:
            assert [h.url for h in served.hosts] == [f"http://127.0.0.1:{base}/wsman", f"http://127.0.0.1:{base + 1}/wsman"]
            assert {(h.user, h.password) for h in served.hosts} == {("lab", secret)}
        return
    raise AssertionError("could not bind two consecutive ports in 5 attempts")


def test_hung_host_stops_answering_and_comes_back() -> None:
    scenario = SCENARIOS["host-hung"]
    site = scenario.build()
    with serve_site(site, latency_scale=0.0) as served:
        h = served.host("HV01")
        c = collector(h, timeout_s=3.0)
        try:
            assert c.poll().reachable
            site.clock.advance(scenario.onset_s + 1)
            assert wait_for(lambda: h.endpoint.faults.mode == "hang")       # the ticker did it
            snap = c.poll()
            assert not snap.reachable and snap.error is not None and snap.error.kind == "timeout"
            site.host("HV01").unhang()
            assert wait_for(lambda: h.endpoint.faults.mode == "none")
        finally:
            c.close()
        c2 = collector(h)
        try:
            assert c2.poll().reachable
        finally:
            c2.close()


def test_rebooting_host_refuses_then_answers_with_a_new_last_boot() -> None:
    site = SCENARIOS["idle-vm"].build()
    host = site.host("HV01")
    with serve_site(site, latency_scale=0.0) as served:
        h = served.host("HV01")
        c = collector(h, timeout_s=10.0)
        try:
            before = c.poll()
            assert before.reachable and before.os is not None
            host.reboot(down_s=120)
            site.clock.advance(70)
            served.sync()
            assert h.endpoint.faults.mode == "refuse"
            down = c.poll()
            assert not down.reachable and down.error is not None and down.error.kind == "refused"
            site.clock.advance(200)
            served.sync()
            assert h.endpoint.faults.mode == "none"
            after = c.poll()
        finally:
            c.close()
    assert after.reachable, after.error
    assert after.os is not None and after.os.last_boot is not None and before.os.last_boot is not None
    assert after.os.last_boot > before.os.last_boot


def test_stop_ends_every_endpoint_and_is_idempotent() -> None:
    served = start_demo(seed=2)
    urls = [h.url for h in served.hosts]
    served.stop()
    served.stop()
    import requests
    with pytest.raises(requests.ConnectionError):
        requests.post(urls[0], data=b"", timeout=2)


@pytest.mark.parametrize("port", [-1, 70000, 65535])
def test_a_base_port_out_of_range_is_refused_before_anything_listens(port: int) -> None:
    from datetime import datetime, timezone

    from hvconsole.sim.model.clock import SimClock
    from hvconsole.sim.scenarios.demo import build_demo_site

    site = build_demo_site(1, SimClock.manual(datetime(2026, 11, 25, tzinfo=timezone.utc)))
    with pytest.raises(ValueError, match="need ports within 1-65535"):
        serve_site(site, base_port=port)


@pytest.mark.parametrize("value,scale", [(None, 1.0), ("", 1.0), ("0", 0.0), ("0.25", 0.25), ("1", 1.0)])
def test_latency_scale_comes_from_the_environment_when_not_given(monkeypatch, value, scale) -> None:
    """``HVCONSOLE_SIM_LATENCY_SCALE`` is how a test shortens the latencies of a site served
    by another process (``hvconsole-sim serve``); an explicit argument still wins."""
    from hvconsole.sim.serve import LATENCY_SCALE_ENV
    if value is None:
        monkeypatch.delenv(LATENCY_SCALE_ENV, raising=False)
    else:
        monkeypatch.setenv(LATENCY_SCALE_ENV, value)
    with serve_site(SCENARIOS["idle-vm"].build()) as served:
        assert served.latency_scale == scale
    with serve_site(SCENARIOS["idle-vm"].build(), latency_scale=0.5) as served:
        assert served.latency_scale == 0.5


@pytest.mark.parametrize("value", ["fast", "-0.1", "1.5", "nan"])
def test_a_bad_latency_scale_in_the_environment_is_refused_before_anything_listens(monkeypatch, value) -> None:
    from hvconsole.sim.serve import LATENCY_SCALE_ENV
    monkeypatch.setenv(LATENCY_SCALE_ENV, value)
    with pytest.raises(ValueError, match=LATENCY_SCALE_ENV):
        serve_site(SCENARIOS["idle-vm"].build())
