"""NTLM with message encryption and HTTPS, each through a real handshake with pywinrm."""

from __future__ import annotations

import base64
import os
import secrets
import stat
import threading

import pytest
import requests
import spnego
from spnego.channel_bindings import GssChannelBindings
from winrm.exceptions import InvalidCredentialsError, WSManFaultError

from hvconsole.sim.wsman import WsmanEndpoint, issue_certificate
from hvconsole.sim.wsman.ntlm import NtlmAuth
from wsman_support import (  # noqa: F401 (fixtures)
    ScriptedRunner,
    creds,
    make_endpoint,
    make_protocol,
    runner,
)


def _run(protocol, text: str = "hi") -> bytes:
    shell_id = protocol.open_shell()
    command_id = protocol.run_command(shell_id, "cmd.exe", [f"/c echo {text}"])
    out, _, _ = protocol.get_command_output(shell_id, command_id)
    protocol.cleanup_command(shell_id, command_id)
    protocol.close_shell(shell_id, close_session=False)
    return out


@pytest.fixture(scope="module")
def tls(tmp_path_factory):
    return issue_certificate(tmp_path_factory.mktemp("tls"))


@pytest.mark.parametrize("encryption", ["auto", "always"])
def test_ntlm_with_message_encryption(make_endpoint, make_protocol, encryption: str) -> None:
    endpoint = make_endpoint(auth="ntlm")
    protocol = make_protocol(endpoint, transport="ntlm", message_encryption=encryption)
    assert _run(protocol) == b"hi\r\n"
    assert _run(protocol, "again") == b"again\r\n"
    soap_requests = sum(endpoint.stats.per_action.values())
    assert soap_requests == 10
    # Every WS-Man body went sealed both ways, and one connection carried the whole session.
    assert endpoint.stats.get("encrypted_requests") == soap_requests
    assert endpoint.stats.get("encrypted_replies") == soap_requests
    assert endpoint.stats.get("connections") == 1


def test_ntlm_faults_travel_sealed(make_endpoint, make_protocol) -> None:
    endpoint = make_endpoint(auth="ntlm")
    protocol = make_protocol(endpoint, transport="ntlm")
    shell_id = protocol.open_shell()
    endpoint.faults.fault_next("quota")
    with pytest.raises(WSManFaultError) as caught:
        protocol.run_command(shell_id, "cmd.exe", ["/c echo hi"])
    assert caught.value.wsman_fault_code == 2150859174
    assert endpoint.stats.get("encrypted_replies") == 2


def test_ntlm_unencrypted_over_http_is_refused_like_a_default_host(make_endpoint, make_protocol) -> None:
    endpoint = make_endpoint(auth="ntlm")
    protocol = make_protocol(endpoint, transport="ntlm", message_encryption="never")
    with pytest.raises(WSManFaultError) as caught:
        protocol.open_shell()
    assert caught.value.wsman_fault_code == 5
    assert "unencrypted traffic is disabled" in caught.value.response


def test_ntlm_wrong_password_and_unauthorized_mode(make_endpoint, make_protocol) -> None:
    endpoint = make_endpoint(auth="ntlm")
    with pytest.raises(InvalidCredentialsError):
        make_protocol(endpoint, transport="ntlm", password=secrets.token_urlsafe()).open_shell()
    endpoint.faults.unauthorized()
    with pytest.raises(InvalidCredentialsError):
        make_protocol(endpoint, transport="ntlm").open_shell()
    endpoint.faults.clear()
    assert _run(make_protocol(endpoint, transport="ntlm")) == b"hi\r\n"


def test_unauthorized_mode_cuts_an_already_authenticated_ntlm_session(make_endpoint, make_protocol) -> None:
    endpoint = make_endpoint(auth="ntlm")
    protocol = make_protocol(endpoint, transport="ntlm")
    shell_id = protocol.open_shell()
    endpoint.faults.unauthorized()
    with pytest.raises(InvalidCredentialsError):
        protocol.run_command(shell_id, "cmd.exe", ["/c echo hi"])


@pytest.mark.parametrize("username", ["Jürgen", "管理者", "SIMDOM\\hvadmin"])
def test_ntlm_non_ascii_and_domain_user_names(make_endpoint, make_protocol, username: str) -> None:
    password = secrets.token_urlsafe()
    endpoint = make_endpoint(auth="ntlm", username=username, password=password)
    protocol = make_protocol(endpoint, transport="ntlm", username=username, password=password)
    shell_id = protocol.open_shell()
    assert [s.owner for s in endpoint.shells()] == [username]
    protocol.close_shell(shell_id, close_session=False)


def test_basic_accepts_a_latin1_user_name(make_endpoint, make_protocol) -> None:
    password = secrets.token_urlsafe()
    endpoint = make_endpoint(username="Jürgen", password=password)
    # requests encodes a str user name as Latin-1 for Basic; Windows matches names without case.
    assert _run(make_protocol(endpoint, username="JÜRGEN", password=password)) == b"hi\r\n"


def test_two_ntlm_endpoints_same_user_different_passwords_in_parallel(make_endpoint, make_protocol,
                                                                     runner: ScriptedRunner) -> None:
    """Each endpoint has its own user file; the process-wide NTLM_USER_FILE must not mix them."""
    first, second = secrets.token_urlsafe(), secrets.token_urlsafe()
    endpoints = [make_endpoint(auth="ntlm", password=first), make_endpoint(auth="ntlm", password=second)]
    protocols = [make_protocol(ep, transport="ntlm", password=pw)
                 for _ in range(3) for ep, pw in zip(endpoints, (first, second))]
    results: list[bytes | BaseException] = []
    lock = threading.Lock()

    def work(protocol) -> None:
        for _ in range(3):
            try:
                outcome: bytes | BaseException = _run(protocol)
            except BaseException as exc:   # noqa: BLE001 (recorded for the assertion)
                outcome = exc
            with lock:
                results.append(outcome)

    threads = [threading.Thread(target=work, args=(p,), daemon=True) for p in protocols]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert results == [b"hi\r\n"] * 18
    assert "NTLM_USER_FILE" not in os.environ or not os.environ["NTLM_USER_FILE"].endswith(".users")


def test_ntlm_user_file_is_private_and_removed() -> None:
    auth = NtlmAuth("SIMDOM\\hvadmin", "pw-" + secrets.token_urlsafe(), require_encryption=True)
    path = auth._path
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert not path.startswith(os.getcwd())
    with open(path, encoding="utf-8") as f:
        assert f.read().startswith("SIMDOM:hvadmin:pw-")
    auth.close()
    assert not os.path.exists(path)
    with pytest.raises(ValueError):
        NtlmAuth("hvadmin", f"has:{secrets.token_urlsafe()}", require_encryption=True)


def test_https_validation_on_fails_clearly(make_endpoint, make_protocol, tls) -> None:
    endpoint = make_endpoint(tls=tls)
    assert endpoint.url.startswith("https://127.0.0.1:")
    protocol = make_protocol(endpoint, transport="ssl", server_cert_validation="validate")
    with pytest.raises(requests.exceptions.SSLError, match="CERTIFICATE_VERIFY_FAILED"):
        protocol.open_shell()


def test_https_with_the_ca_bundle(make_endpoint, make_protocol, tls) -> None:
    endpoint = make_endpoint(tls=tls)
    protocol = make_protocol(endpoint, transport="ssl", ca_trust_path=tls.ca_file)
    assert _run(protocol) == b"hi\r\n"
    with pytest.raises(InvalidCredentialsError):
        make_protocol(endpoint, transport="ssl", ca_trust_path=tls.ca_file,
                      password=secrets.token_urlsafe()).open_shell()


def test_https_with_validation_off(make_endpoint, make_protocol, tls) -> None:
    endpoint = make_endpoint(tls=tls)
    protocol = make_protocol(endpoint, transport="ssl", server_cert_validation="ignore")
    assert _run(protocol) == b"hi\r\n"


@pytest.mark.parametrize("send_cbt", [True, False])
def test_ntlm_over_https_with_channel_binding(make_endpoint, make_protocol, tls, send_cbt: bool) -> None:
    endpoint = make_endpoint(auth="ntlm", tls=tls)
    protocol = make_protocol(endpoint, transport="ntlm", ca_trust_path=tls.ca_file, send_cbt=send_cbt)
    assert _run(protocol) == b"hi\r\n"
    # Over HTTPS the TLS channel is the encryption: pywinrm's "auto" sends plain bodies.
    assert endpoint.stats.get("encrypted_requests") == 0


def test_plain_http_client_against_https_endpoint_gets_no_answer(make_endpoint, tls, creds) -> None:
    endpoint = make_endpoint(tls=tls)
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.post(endpoint.url.replace("https://", "http://"), data=b"<x/>", timeout=10,
                      auth=(creds.username, creds.password))


def test_unknown_auth_kind_is_refused(runner: ScriptedRunner) -> None:
    with pytest.raises(ValueError):
        WsmanEndpoint(runner, username="u", password=secrets.token_urlsafe(), auth="kerberos")


def test_ntlm_over_https_refuses_a_wrong_channel_binding(make_endpoint, tls, creds) -> None:
    """A man in the middle terminates TLS with its own certificate: the binding cannot match."""
    endpoint = make_endpoint(auth="ntlm", tls=tls)

    def handshake(application_data: bytes) -> int:
        client = spnego.client(creds.username, creds.password, protocol="ntlm",
                               options=spnego.NegotiateOptions.use_ntlm,
                               channel_bindings=GssChannelBindings(application_data=application_data))
        with requests.Session() as session:
            session.verify = tls.ca_file
            session.trust_env = False
            first = session.post(endpoint.url, data=b"", timeout=10, headers={
                "Authorization": "Negotiate " + base64.b64encode(client.step()).decode()})
            assert first.status_code == 401
            challenge = base64.b64decode(first.headers["WWW-Authenticate"].split(" ", 1)[1])
            second = session.post(endpoint.url, data=b"", timeout=10, headers={
                "Authorization": "Negotiate " + base64.b64encode(client.step(challenge)).decode()})
            return second.status_code

    assert handshake(tls.channel_binding()) == 200
    assert handshake(b"tls-server-end-point:" + bytes(32)) == 401
