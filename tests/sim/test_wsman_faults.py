"""Every fault mode of the endpoint gives the pywinrm error a real host gives."""

from __future__ import annotations

import secrets
import socket
import threading

import pytest
import requests
from winrm.exceptions import InvalidCredentialsError, WSManFaultError

from hvconsole.sim.wsman import WsmanEndpoint
from wsman_support import (  # noqa: F401 (fixtures)
    ScriptedRunner,
    creds,
    endpoint,
    make_endpoint,
    make_protocol,
    protocol,
    runner,
)

# Generous bounds for waits that cannot be avoided; the tests never measure durations.
DEADLINE_S = 15.0


def _run(protocol) -> bytes:
    shell_id = protocol.open_shell()
    command_id = protocol.run_command(shell_id, "cmd.exe", ["/c echo hi"])
    out, _, _ = protocol.get_command_output(shell_id, command_id)
    protocol.cleanup_command(shell_id, command_id)
    protocol.close_shell(shell_id, close_session=False)
    return out


def test_refuse_is_a_real_connection_refused_and_clear_reopens_the_same_port(endpoint: WsmanEndpoint, protocol) -> None:
    assert _run(protocol) == b"hi\r\n"          # leaves a pooled keep-alive connection
    port = endpoint.port
    endpoint.faults.refuse()
    assert endpoint.faults.mode == "refuse"
    with pytest.raises(requests.exceptions.ConnectionError):
        protocol.open_shell()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=DEADLINE_S).close()
    endpoint.faults.clear()
    assert endpoint.port == port and endpoint.faults.mode == "none"
    assert _run(protocol) == b"hi\r\n"


def test_hang_gives_a_read_timeout_and_clear_recovers(endpoint: WsmanEndpoint, make_protocol) -> None:
    protocol = make_protocol(endpoint, read_timeout_sec=2, operation_timeout_sec=1)
    endpoint.faults.hang()
    with pytest.raises(requests.exceptions.ReadTimeout):
        protocol.open_shell()
    endpoint.faults.clear()
    assert _run(protocol) == b"hi\r\n"


def test_slow_beyond_the_read_timeout_is_a_read_timeout(endpoint: WsmanEndpoint, make_protocol) -> None:
    protocol = make_protocol(endpoint, read_timeout_sec=2, operation_timeout_sec=1)
    endpoint.faults.slow(30)
    with pytest.raises(requests.exceptions.ReadTimeout):
        protocol.open_shell()
    endpoint.faults.slow(0.05)
    assert endpoint.faults.mode == "slow" and endpoint.faults.slow_seconds == 0.05
    assert _run(protocol) == b"hi\r\n"


def test_unauthorized_mode_and_a_wrong_password_are_invalid_credentials(endpoint: WsmanEndpoint, protocol,
                                                                         make_protocol) -> None:
    endpoint.faults.unauthorized()
    with pytest.raises(InvalidCredentialsError):
        protocol.open_shell()
    endpoint.faults.clear()
    assert _run(protocol) == b"hi\r\n"
    with pytest.raises(InvalidCredentialsError):
        make_protocol(endpoint, password=secrets.token_urlsafe()).open_shell()
    assert endpoint.stats.get("http_401") == 2


@pytest.mark.parametrize(("kind", "code", "subcode"), [
    ("quota", 2150859173, "w:QuotaLimit"),
    ("invalid_selectors", 2150858843, "w:InvalidSelectors"),
    ("access_denied", 5, "w:AccessDenied"),
    ("encryption_required", 5, "w:AccessDenied"),
    ("invalid_parameter", 87, "w:InvalidParameter"),
])
def test_injected_soap_faults(endpoint: WsmanEndpoint, protocol, kind: str, code: int, subcode: str) -> None:
    endpoint.faults.fault_next(kind, count=2)
    for _ in range(2):
        with pytest.raises(WSManFaultError) as caught:
            protocol.open_shell()
        assert (caught.value.code, caught.value.wsman_fault_code, caught.value.fault_subcode) == (500, code, subcode)
    assert _run(protocol) == b"hi\r\n"           # the third request is served normally
    assert endpoint.stats.get("faults") == 2


def test_injected_quota_fault_on_a_command_is_the_operations_quota(endpoint: WsmanEndpoint, protocol) -> None:
    shell_id = protocol.open_shell()
    endpoint.faults.fault_next("quota")
    with pytest.raises(WSManFaultError) as caught:
        protocol.run_command(shell_id, "cmd.exe", ["/c echo hi"])
    assert caught.value.wsman_fault_code == 2150859174
    assert "1500 concurrent operations" in caught.value.response


def test_unknown_fault_kind_and_bad_arguments_are_refused(endpoint: WsmanEndpoint) -> None:
    with pytest.raises(ValueError):
        endpoint.faults.fault_next("gremlins")
    with pytest.raises(ValueError):
        endpoint.faults.fault_next("quota", count=0)
    with pytest.raises(ValueError):
        endpoint.faults.slow(-1)


def test_stop_returns_with_a_hung_client_and_the_client_is_cut_off(endpoint: WsmanEndpoint, make_protocol) -> None:
    protocol = make_protocol(endpoint, read_timeout_sec=60, operation_timeout_sec=20)
    endpoint.faults.hang()
    outcome: list[BaseException | str] = []

    def client() -> None:
        try:
            protocol.open_shell()
            outcome.append("answered")
        except BaseException as exc:   # noqa: BLE001 (recorded for the assertion)
            outcome.append(exc)

    thread = threading.Thread(target=client, daemon=True)
    thread.start()
    _wait_for(lambda: endpoint.stats.requests_total == 1)
    stopper = threading.Thread(target=endpoint.stop, daemon=True)
    stopper.start()
    stopper.join(DEADLINE_S)
    assert not stopper.is_alive(), "stop() blocked on a hung request"
    thread.join(DEADLINE_S)
    assert not thread.is_alive(), "the hung client was not cut off"
    assert isinstance(outcome[0], requests.exceptions.ConnectionError)
    endpoint.stop()                                # idempotent


def test_a_hung_endpoint_does_not_block_another(make_endpoint, make_protocol) -> None:
    hung, healthy = make_endpoint(), make_endpoint()
    hung.faults.hang()
    waiting = make_protocol(hung, read_timeout_sec=60, operation_timeout_sec=20)
    thread = threading.Thread(target=lambda: _swallow(waiting.open_shell), daemon=True)
    thread.start()
    _wait_for(lambda: hung.stats.requests_total == 1)
    assert _run(make_protocol(healthy)) == b"hi\r\n"
    # Another connection to the hung endpoint itself is accepted and read, then hangs too.
    assert hung.open_connections == 1
    hung.faults.clear()
    thread.join(DEADLINE_S)
    assert not thread.is_alive()


def test_only_loopback_addresses_can_be_bound(runner: ScriptedRunner) -> None:
    for bind in ("0.0.0.0", "192.168.1.10", "::", "example.org"):
        with pytest.raises(ValueError):
            WsmanEndpoint(runner, username="u", password=secrets.token_urlsafe(), bind=bind)


def test_ipv6_loopback(make_endpoint, make_protocol) -> None:
    if not socket.has_ipv6:
        pytest.skip("no IPv6 on this machine")
    try:
        endpoint = make_endpoint(bind="::1")
    except OSError:
        pytest.skip("::1 cannot be bound here")
    assert endpoint.url.startswith("http://[::1]:")
    assert _run(make_protocol(endpoint)) == b"hi\r\n"


def test_refuse_before_start_and_stop_before_start(runner: ScriptedRunner) -> None:
    WsmanEndpoint(runner, username="u", password=secrets.token_urlsafe()).stop()
    endpoint = WsmanEndpoint(runner, username="u", password=secrets.token_urlsafe())
    endpoint.faults.refuse()
    endpoint.start()
    try:
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", endpoint.port), timeout=DEADLINE_S).close()
    finally:
        endpoint.stop()


def _swallow(call) -> None:
    try:
        call()
    except Exception:   # noqa: BLE001 (only that it returns matters here)
        pass


def _wait_for(condition) -> None:
    event = threading.Event()
    for _ in range(int(DEADLINE_S / 0.01)):
        if condition():
            return
        event.wait(0.01)
    raise AssertionError("condition not reached in time")
