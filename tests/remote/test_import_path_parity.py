"""Our WS-Man protocol base, transport base and exceptions (remote/wsman_protocol.py,
wsman_transport.py, wsman_errors.py) behave as pywinrm 0.5's, which they replace on the
Basic-auth path: the same faults surfaced from the same answers, the same requests session
settings, and pywinrm's own exceptions (raised by its code on the NTLM, Kerberos and
CredSSP paths) classified exactly as ours."""

from __future__ import annotations

import secrets
import warnings
from typing import Any

import pytest
import winrm.exceptions as theirs
from winrm.protocol import Protocol
from winrm.transport import Transport

from hvconsole.remote import errors
from hvconsole.remote import wsman_errors as ours
from hvconsole.remote.wsman_protocol import WsmanProtocol
from hvconsole.remote.wsman_transport import WsmanTransport

ENDPOINT = "http://127.0.0.1:5985/wsman"
S = "http://www.w3.org/2003/05/soap-envelope"
F = "http://schemas.microsoft.com/wbem/wsman/1/wsmanfault"
W = "http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/MSFT_WmiError"


def fault(code: str | None = None, sub: str | None = None, reason: str | None = "The shell was not found.",
          wsman: int | None = None, wmi: str | None = None, message: str = "") -> str:
    parts = [f'<s:Envelope xmlns:s="{S}"><s:Body><s:Fault>']
    if code:
        parts.append(f"<s:Code><s:Value>{code}</s:Value>")
        if sub:
            parts.append(f"<s:Subcode><s:Value>{sub}</s:Value></s:Subcode>")
        parts.append("</s:Code>")
    if reason is not None:
        parts.append(f'<s:Reason><s:Text xml:lang="en-US">{reason}</s:Text></s:Reason>')
    parts.append("<s:Detail>")
    if wsman is not None:
        parts.append(f'<f:WSManFault xmlns:f="{F}" Code="{wsman}"><f:Message>{message}</f:Message></f:WSManFault>')
    if wmi is not None:
        parts.append(f'<p:MSFT_WmiError xmlns:p="{W}"><p:error_Code>{wmi}</p:error_Code></p:MSFT_WmiError>')
    parts.append("</s:Detail></s:Fault></s:Body></s:Envelope>")
    return "".join(parts)


ANSWERS = [
    (500, fault("s:Receiver", "w:InvalidSelectors", wsman=2150858843, message="The request for the Windows "
                "Remote Shell with ShellId xyz failed because the shell was not found on the server.")),
    (500, fault("s:Receiver", "w:TimedOut", reason="The WS-Management service cannot complete the operation "
                "within the time specified in OperationTimeout.", wsman=2150858793)),
    (500, fault("s:Receiver", "w:QuotaLimit", wsman=2150859174, wmi="2150859174")),
    (500, fault("s:Sender", None, reason=None)),
    (400, fault(reason="", wsman=5)),
    (400, ""),
    (400, "<html>Bad Request</html>"),
    (400, "The shell was not found (InvalidSelectors)"),
    (500, "not xml at all <"),
    (503, f'<s:Envelope xmlns:s="{S}"><s:Body/></s:Envelope>'),
    (401, ""),
]


def _raised(protocol: Any, error: Exception) -> BaseException:
    def send(message: str | bytes) -> bytes:
        raise error
    protocol.transport.send_message = send
    with pytest.raises(Exception) as caught:
        protocol.send_message("<x/>")
    return caught.value


def _protocols() -> tuple[WsmanProtocol, Protocol]:
    password = secrets.token_urlsafe(8)
    return (WsmanProtocol(ENDPOINT, username="u", password=password, read_timeout_sec=27, operation_timeout_sec=17),
            Protocol(ENDPOINT, username="u", password=password, read_timeout_sec=27, operation_timeout_sec=17))


def _same_shape(a: BaseException, b: BaseException) -> None:
    assert type(a).__name__ == type(b).__name__
    assert str(a) == str(b) and a.args == b.args
    for name in ("code", "response", "reason", "fault_code", "fault_subcode", "wsman_fault_code", "wmierror_code",
                 "response_text", "message"):
        assert getattr(a, name, None) == getattr(b, name, None), name


@pytest.mark.parametrize(("status", "body"), ANSWERS)
def test_send_message_surfaces_the_same_faults_as_pywinrm(status: int, body: str) -> None:
    mine, pywinrms = _protocols()
    a = _raised(mine, ours.WinRMTransportError("http", status, body))
    b = _raised(pywinrms, theirs.WinRMTransportError("http", status, body))
    _same_shape(a, b)
    for judge in (errors.is_shell_gone, errors.is_quota, errors.is_bare_bad_request):
        assert judge(a) == judge(b)
    ca, cb = errors.classify(a, host="HV1", timeout_s=30), errors.classify(b, host="HV1", timeout_s=30)
    assert (ca.kind, ca.message, ca.wsman_code) == (cb.kind, cb.message, cb.wsman_code)


@pytest.mark.parametrize("name", ["WinRMError", "AuthenticationError", "InvalidCredentialsError",
                                  "BasicAuthDisabledError", "WinRMOperationTimeoutError"])
def test_pywinrm_exceptions_classify_as_ours(name: str) -> None:
    a, b = getattr(ours, name)("something failed"), getattr(theirs, name)("something failed")
    _same_shape(a, b)
    ca, cb = errors.classify(a, host="HV1"), errors.classify(b, host="HV1")
    assert (ca.kind, ca.message, ca.wsman_code) == (cb.kind, cb.message, cb.wsman_code)


def test_the_hierarchy_is_pywinrms() -> None:
    for name in ("WSManFaultError", "AuthenticationError", "InvalidCredentialsError", "BasicAuthDisabledError",
                 "WinRMTransportError", "WinRMOperationTimeoutError"):
        mine, pywinrms = getattr(ours, name), getattr(theirs, name)
        assert [c.__name__ for c in mine.__mro__] == [c.__name__ for c in pywinrms.__mro__]


def test_the_same_settings_are_refused() -> None:
    for kwargs in ({"operation_timeout_sec": 30, "read_timeout_sec": 30}, {"operation_timeout_sec": 0},
                   {"read_timeout_sec": "x"}, {"server_cert_validation": "maybe"},
                   {"message_encryption": "sometimes"}, {"username": None}, {"password": None},
                   {"transport": "certificate"}):
        args: dict[str, Any] = {"username": "u", "password": "p", **kwargs}
        with pytest.raises(Exception) as a:
            WsmanProtocol(ENDPOINT, **args)
        with pytest.raises(Exception) as b:
            Protocol(ENDPOINT, **args)
        assert type(a.value).__name__ == type(b.value).__name__ and str(a.value) == str(b.value)


@pytest.mark.parametrize("auth", ["plaintext", "basic", "ssl"])
@pytest.mark.parametrize(("validation", "ca", "proxy"), [
    ("validate", None, None), ("ignore", None, None), ("validate", "/etc/some-ca.pem", None),
    ("validate", "legacy_requests", "legacy_requests"), ("validate", None, "http://proxy.example:3128"),
])
def test_a_basic_session_is_built_as_pywinrm_builds_it(monkeypatch, auth: str, validation: str, ca: str | None,
                                                       proxy: str | None) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://env-proxy.example:8080")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/env-ca.pem")
    kwargs: dict[str, Any] = dict(username="u", password=secrets.token_urlsafe(8), auth_method=auth,
                                  server_cert_validation=validation, ca_trust_path=ca, proxy=proxy,
                                  read_timeout_sec=30)
    url = ENDPOINT.replace("http:", "https:") if auth == "ssl" else ENDPOINT
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")     # both warn of the environment's proxy and CA bundle
        a = WsmanTransport(url, **kwargs).build_session()
        b = Transport(url, **kwargs).build_session()
    assert type(a.auth) is type(b.auth) and vars(a.auth) == vars(b.auth)
    assert dict(a.headers) == dict(b.headers)
    assert a.proxies == b.proxies and a.verify == b.verify and a.cert == b.cert



@pytest.mark.parametrize("auth", ["plaintext", "basic", "ssl"])
@pytest.mark.parametrize("encryption", ["auto", "always", "never"])
def test_message_encryption_is_chosen_as_pywinrm_chooses_it(auth: str, encryption: str) -> None:
    # Basic cannot seal: 'always' is refused when the session is built, with pywinrm's text,
    # and the session stays built (pywinrm sets it first); 'auto' and 'never' send in clear.
    kwargs: dict[str, Any] = dict(username="u", password=secrets.token_urlsafe(8), auth_method=auth,
                                  message_encryption=encryption, ca_trust_path=None, proxy=None)
    url = ENDPOINT.replace("http:", "https:") if auth == "ssl" else ENDPOINT
    outcomes = []
    for transport in (WsmanTransport(url, **kwargs), Transport(url, **kwargs)):
        try:
            transport.build_session()
            raised = None
        except Exception as exc:
            raised = (type(exc).__name__, str(exc))
        outcomes.append((raised, transport.session is not None, transport.encryption))
    assert outcomes[0] == outcomes[1]
