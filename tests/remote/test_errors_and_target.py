"""The error taxonomy (classify) on the exceptions the libraries really raise, and the
Target's refusals."""

from __future__ import annotations

import errno
import secrets
import socket
import ssl
import xml.etree.ElementTree as ET

import pytest
import requests
import urllib3.exceptions as u3
from winrm.exceptions import (InvalidCredentialsError, WinRMError, WinRMOperationTimeoutError,
                              WinRMTransportError, WSManFaultError)

from hvconsole.remote.errors import RemoteError, classify, is_quota, is_shell_gone, scrub
from hvconsole.remote.target import CancelToken, Target, TargetError
from wsman_replay import fault_answer


def _requests_connection_error(reason: BaseException) -> requests.exceptions.ConnectionError:
    # How requests really wraps a urllib3 failure: ConnectionError(MaxRetryError(reason=...)).
    return requests.exceptions.ConnectionError(u3.MaxRetryError(None, "/wsman", reason))


def _caused_by(exc: BaseException, cause: BaseException) -> BaseException:
    # urllib3 raises NewConnectionError(...) from the socket's OSError.
    exc.__cause__ = cause
    return exc


def _fault(code: int, subcode: str, text: str) -> WSManFaultError:
    return WSManFaultError(code=500, message="Bad HTTP response returned from server. Code 500",
                           response=fault_answer(code, subcode, text), reason=text,
                           fault_subcode=subcode, wsman_fault_code=code)


@pytest.mark.parametrize("exc, kind, words", [
    (_requests_connection_error(_caused_by(u3.NewConnectionError(None, "Failed to establish a new connection"),
                                           ConnectionRefusedError(errno.ECONNREFUSED, "Connection refused"))),
     "refused", "HV01 refused the connection"),
    (_requests_connection_error(u3.NewConnectionError(None, "Failed to establish a new connection")),
     "refused", "HV01 cannot be reached"),
    (requests.exceptions.ConnectionError(ConnectionRefusedError(errno.ECONNREFUSED, "refused")),
     "refused", "refused the connection"),
    (_requests_connection_error(u3.NameResolutionError("hv01.example", None, socket.gaierror(-2, "Name or service not known"))),
     "refused", "could not be resolved"),
    (_requests_connection_error(OSError(errno.EHOSTUNREACH, "No route to host")),
     "refused", "cannot be reached on the network"),
    (requests.exceptions.ConnectionError(u3.ProtocolError("Connection aborted.", ConnectionResetError(104, "reset"))),
     "refused", "closed the connection"),
    (requests.exceptions.ConnectTimeout(u3.MaxRetryError(None, "/wsman", u3.ConnectTimeoutError("timed out"))),
     "timeout", "no connection to HV01 within 30 s"),
    (requests.exceptions.ReadTimeout("read timed out"), "timeout", "no answer from HV01 within 30 s"),
    # A read timeout while streaming a body: requests re-raises it as a ConnectionError.
    (requests.exceptions.ConnectionError(u3.ReadTimeoutError(None, "/wsman", "Read timed out.")),
     "timeout", "no answer from HV01"),
    (socket.timeout("timed out"), "timeout", "no answer"),
    (WinRMOperationTimeoutError(), "timeout", "operation timed out on the host"),
    (InvalidCredentialsError("the specified credentials were rejected by the server"),
     "auth", "HV01 rejected the user name or password"),
    (WinRMTransportError("http", 403, ""), "auth", "HTTP 403"),
    (requests.exceptions.SSLError(u3.MaxRetryError(None, "/wsman", u3.SSLError(
        ssl.SSLCertVerificationError(1, "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed")))),
     "tls", "TLS certificate of HV01"),
    (requests.exceptions.SSLError(u3.MaxRetryError(None, "/wsman", u3.SSLError(ssl.SSLError(1, "wrong version number")))),
     "tls", "TLS handshake with HV01 failed"),
    (_fault(2150858843, "w:InvalidSelectors", "The request contained invalid selectors."),
     "fault", "WS-Management fault 2150858843 (0x8033805B): The request contained invalid selectors."),
    (WinRMTransportError("http", 500, "<html>oops</html>"), "protocol", "unexpected HTTP 500"),
    (ET.ParseError("syntax error"), "protocol", "not XML"),
    (StopIteration(), "protocol", "unexpected WS-Management answer"),
    (requests.exceptions.ChunkedEncodingError("broken chunk"), "protocol", "cut off"),
    (WinRMError("requested auth method is kerberos, but pykerberos is not installed"),
     "protocol", "pykerberos is not installed"),
])
def test_classify_maps_library_errors_to_contract_kinds(exc, kind, words):
    err = classify(exc, host="HV01", timeout_s=30, elapsed_ms=1234)
    assert err.kind == kind
    assert words in err.message
    assert err.elapsed_ms == 1234


def test_fault_carries_its_code_and_quota_and_gone_are_recognised():
    quota = _fault(2150859174, "w:QuotaLimit", "maximum number of 15 concurrent operations")
    gone = _fault(2150858843, "w:InvalidSelectors", "invalid selectors")
    assert classify(quota).wsman_code == 2150859174
    assert is_quota(quota) and not is_shell_gone(quota)
    assert is_shell_gone(gone) and not is_quota(gone)
    assert not is_quota(ValueError("quota"))


def test_a_remote_error_passes_through_and_secrets_are_scrubbed():
    leaked = secrets.token_urlsafe(12)
    original = RemoteError("script", f"collect failed for user admin / pw {leaked}")
    assert classify(original) is original
    assert leaked not in original.scrubbed(leaked).message
    assert scrub("x" * 1000).endswith("…") and len(scrub("x" * 1000)) <= 400
    with pytest.raises(ValueError):
        RemoteError("weird", "not a contract kind")


def test_target_hides_the_password_and_refuses_plaintext_off_loopback():
    secret = secrets.token_urlsafe(16)
    t = Target("HV01", "http://127.0.0.1:5985/wsman", "admin", secret, transport="plaintext")
    assert secret not in repr(t) and secret not in str(t)
    assert t.hostname == "127.0.0.1"
    with pytest.raises(TargetError, match="only allowed to this machine"):
        Target("HV01", "http://hv01.corp.example:5985/wsman", "admin", secret, transport="plaintext")
    with pytest.raises(TargetError, match="https"):
        Target("HV01", "http://hv01.corp.example:5985/wsman", "admin", secret, transport="ssl")
    with pytest.raises(TargetError, match="unknown transport"):
        Target("HV01", "http://hv01:5985/wsman", "admin", secret, transport="basic")
    with pytest.raises(TargetError, match="must look like"):
        Target("HV01", "hv01:5985", "admin", secret)
    Target("HV01", "http://[::1]:5985/wsman", "admin", secret, transport="plaintext")
    Target("HV01", "https://hv01:5986/wsman", "admin", secret, transport="ssl",
           server_cert_validation="validate", ca_trust_path="/etc/ssl/site-ca.pem")


def test_cancel_token_is_visible_across_threads():
    import threading
    token = CancelToken()
    assert not token.cancelled and not token.wait(0)
    threading.Timer(0.01, token.cancel).start()
    assert token.wait(30)
    assert token.cancelled


@pytest.mark.parametrize(("host", "loopback"), [
    ("localhost", True), ("LOCALHOST", True), ("127.0.0.2", True), ("[::1]", True), ("::1", True),
    # Names that need DNS never count, however much they look like this machine.
    ("localhost.", False), ("LOCALHOST.", False), ("localhost.localdomain", False),
    ("localhost.hv01.corp.example", False), ("127.0.0.1.nip.example", False),
    ("hv01.corp.example", False), ("10.0.0.1", False), ("", False),
])
def test_only_literal_loopback_and_localhost_are_loopback(host, loopback):
    from hvconsole.remote.target import is_loopback
    assert is_loopback(host) == loopback


@pytest.mark.parametrize("address", ["localhost.", "LocalHost."])
def test_basic_over_http_to_a_name_that_needs_dns_is_refused(address):
    """The path a configured host takes (inventory host -> target): a trailing-dot
    localhost would let DNS decide where a clear-text password goes."""
    from hvconsole.core.inventory import Host, Transport
    from hvconsole.remote.probe import target_for
    secret = secrets.token_urlsafe(16)
    try:
        host = Host(name="HV01", address=address, username="admin", transport=Transport.PLAINTEXT)
    except ValueError:
        return   # the inventory refused it already: just as good
    with pytest.raises(TargetError, match="only allowed to this machine") as info:
        target_for(host, secret)
    assert secret not in str(info.value)


@pytest.mark.parametrize(("host", "loopback"), [
    ("localhost", True), ("127.0.0.2", True), ("[::1]", True), ("::1", True),
    ("localhost.localdomain", False), ("hv01.corp.example", False), ("10.0.0.1", False),
    ("localhost.", False), ("LOCALHOST.", False),
])
def test_inventory_and_client_agree_on_what_loopback_is(host, loopback):
    from hvconsole.core.inventory import is_loopback as inventory_rule
    from hvconsole.remote.target import is_loopback as client_rule
    assert client_rule(host) == loopback
    assert inventory_rule(host.strip("[]")) == loopback
