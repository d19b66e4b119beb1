"""The connection test against a real WS-Management endpoint (the simulated host) over
loopback: every outcome an admin can meet, each with its message and fix, and never the
password in any of them."""

from __future__ import annotations

import json
import secrets
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import winrm.transport

from hvconsole.credentials import Secret
from hvconsole.remote import probe as probe_module
from hvconsole.remote.probe import Outcome, judge, probe_host, target_for
from hvconsole.remote.target import CancelToken
from hvconsole.sim.agent import host_agent
from hvconsole.sim.agent.probe import ProbeProfile, set_probe_profile
from hvconsole.sim.agent.host_agent import ScriptFailure
from hvconsole.sim.wsman.tls import issue_certificate
from tests.integration.simhost import closed_port, sim_endpoint

pytestmark = pytest.mark.timeout(60)


def run(host, password: str, **kw):
    result = probe_host(host, Secret(password), **kw)
    shown = json.dumps(result.to_dict(), ensure_ascii=False)
    assert password not in shown, "the password leaked into the probe result"
    return result


@pytest.fixture(scope="module")
def tls(tmp_path_factory):
    return issue_certificate(tmp_path_factory.mktemp("tls"))


# -- it works -----------------------------------------------------------------------------

@pytest.mark.parametrize("auth, transport", [("basic", "plaintext"), ("ntlm", "ntlm")])
def test_ok_reports_what_the_host_is(auth: str, transport: str) -> None:
    with sim_endpoint(auth=auth) as sim:
        result = run(sim.host(transport=transport), sim.password, timeout_s=20)
    assert result.outcome is Outcome.OK and result.ok and result.severity == "ok"
    assert result.step == "checks" and result.hint == ""
    assert result.facts["os"]["build"] == sim.sim.build and result.facts["is_admin"] is True
    assert f"{sim.sim.build}.{sim.sim.ubr}" in result.message and "Hyper-V is ready" in result.message


def test_ntlm_with_a_non_ascii_account() -> None:
    with sim_endpoint(auth="ntlm", user="Jörg") as sim:
        assert run(sim.host(transport="ntlm"), sim.password, timeout_s=20).outcome is Outcome.OK


# -- credentials and rights ---------------------------------------------------------------

@pytest.mark.parametrize("auth, transport, hint", [
    ("basic", "plaintext", "Basic authentication works only with local accounts"),
    ("ntlm", "ntlm", "DOMAIN\\user"),
])
def test_wrong_password_is_credentials_rejected(auth: str, transport: str, hint: str) -> None:
    with sim_endpoint(auth=auth) as sim:
        wrong = sim.password + "-typo"
        result = run(sim.host(transport=transport), wrong, timeout_s=20)
        assert sim.password not in json.dumps(result.to_dict())
    assert result.outcome is Outcome.CREDENTIALS_REJECTED and result.step == "winrm"
    assert "rejected the user name or password for demo" in result.message and hint in result.hint


def test_not_an_administrator() -> None:
    with sim_endpoint() as sim:
        set_probe_profile(sim.sim, ProbeProfile(user="CORP\\helpdesk", is_admin=False, in_hyperv_admins=False))
        result = run(sim.host(), sim.password, timeout_s=20)
    assert result.outcome is Outcome.NOT_ADMIN and result.severity == "error"
    assert "CORP\\helpdesk" in result.message and "Administrators" in result.hint


@pytest.mark.parametrize("profile, outcome, fix", [
    (ProbeProfile(hyperv_module=False), Outcome.NO_HYPERV_MODULE, "Hyper-V-PowerShell"),
    (ProbeProfile(hyperv_module=False, hyperv_role=False), Outcome.NO_HYPERV_MODULE, "is this a Hyper-V host"),
    (ProbeProfile(hyperv_role=False), Outcome.NO_HYPERV_ROLE, "Install-WindowsFeature Hyper-V"),
])
def test_missing_hyperv_pieces(profile: ProbeProfile, outcome: Outcome, fix: str) -> None:
    with sim_endpoint() as sim:
        set_probe_profile(sim.sim, profile)
        result = run(sim.host(), sim.password, timeout_s=20)
    assert result.outcome is outcome and fix in result.hint


# -- network ------------------------------------------------------------------------------

def test_refused_port_says_enable_psremoting() -> None:
    port = closed_port()
    with sim_endpoint() as sim:
        result = run(sim.host(port=port), sim.password, timeout_s=10)
    assert result.outcome is Outcome.REFUSED and result.step == "connect"
    assert "Enable-PSRemoting" in result.hint and f"TCP {port}" in result.hint


def test_endpoint_that_went_away_is_refused() -> None:
    with sim_endpoint() as sim:
        sim.endpoint.faults.refuse()
        result = run(sim.host(), sim.password, timeout_s=10)
    assert result.outcome is Outcome.REFUSED


def test_unknown_name_is_name_not_resolved(monkeypatch) -> None:
    def no_such_name(*args, **kwargs):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(probe_module.socket, "getaddrinfo", no_such_name)
    with sim_endpoint() as sim:
        result = run(sim.host(address="localhost"), sim.password, timeout_s=10)
    assert result.outcome is Outcome.NAME_NOT_RESOLVED and result.step == "resolve"
    assert "could not be resolved" in result.message and "nslookup" in result.hint


def test_hung_winrm_is_a_timeout_after_connecting() -> None:
    with sim_endpoint() as sim:
        sim.endpoint.faults.hang()
        result = run(sim.host(), sim.password, timeout_s=2)
        sim.endpoint.faults.clear()
    assert result.outcome is Outcome.TIMEOUT and result.step == "winrm"
    assert "accepted the connection" in result.message and "Restart-Service WinRM" in result.hint


def test_non_winrm_web_server_on_the_port() -> None:
    class NotWinrm(BaseHTTPRequestHandler):
        def do_POST(self):
            body = b"<html><body>Not Found</body></html>"
            self.send_response(404)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), NotWinrm)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        with sim_endpoint() as sim:
            result = run(sim.host(port=server.server_address[1]), sim.password, timeout_s=10)
    finally:
        server.shutdown()
        server.server_close()
    assert result.outcome is Outcome.NOT_WINRM and "5985" in result.hint


# -- WS-Management faults -----------------------------------------------------------------

@pytest.mark.parametrize("fault, outcome, code, fix", [
    ("quota", Outcome.QUOTA, 2150859173, "MaxShellsPerUser"),
    ("access_denied", Outcome.ACCESS_DENIED, 5, "LocalAccountTokenFilterPolicy"),
    ("encryption_required", Outcome.ENCRYPTION_POLICY, 5, "use the ntlm or https transport"),
])
def test_faults_are_told_apart_by_code_and_text(fault: str, outcome: Outcome, code: int, fix: str) -> None:
    with sim_endpoint() as sim:
        sim.endpoint.faults.fault_next(fault, count=10)   # also covers a retry on a fresh shell
        result = run(sim.host(), sim.password, timeout_s=10)
    assert result.outcome is outcome and result.wsman_code == code and fix in result.hint


def test_script_failure_on_the_host(monkeypatch) -> None:
    def broken(host, params, now):
        raise ScriptFailure("Get-Module : the module cache is corrupt", "probe")

    monkeypatch.setitem(host_agent._HANDLERS, "probe", broken)
    with sim_endpoint() as sim:
        result = run(sim.host(), sim.password, timeout_s=10)
    assert result.outcome is Outcome.SCRIPT_FAILED and "module cache is corrupt" in result.message


# -- TLS ------------------------------------------------------------------------------------

@pytest.mark.parametrize("auth, transport", [("ntlm", "https"), ("basic", "https-basic")])
def test_https_with_the_ca_bundle_or_without_validation(tls, auth: str, transport: str) -> None:
    with sim_endpoint(auth=auth, tls=tls) as sim:
        assert run(sim.host(transport=transport, ca_bundle=tls.ca_file), sim.password,
                   timeout_s=20).outcome is Outcome.OK
        assert run(sim.host(transport=transport, address="localhost", ca_bundle=tls.ca_file), sim.password,
                   timeout_s=20).outcome is Outcome.OK
        unverified = sim.host(transport=transport, verify_tls=False)
        assert unverified.tls_unverified and run(unverified, sim.password, timeout_s=20).ok


def test_https_with_an_unknown_ca_is_a_tls_problem(tls) -> None:
    with sim_endpoint(auth="ntlm", tls=tls) as sim:
        result = run(sim.host(transport="https"), sim.password, timeout_s=10)
    assert result.outcome is Outcome.TLS and result.step == "tls"
    assert "not accepted" in result.message and "CA bundle" in result.hint


def test_https_certificate_for_another_name_is_a_tls_problem(tls) -> None:
    with sim_endpoint(auth="ntlm", tls=tls, bind="127.0.0.2") as sim:   # the certificate names 127.0.0.1
        result = run(sim.host(transport="https", ca_bundle=tls.ca_file), sim.password, timeout_s=10)
    assert result.outcome is Outcome.TLS and "mismatch" in result.message


def test_https_to_a_plain_http_listener(tls) -> None:
    with sim_endpoint(auth="ntlm") as sim:
        result = run(sim.host(transport="https", verify_tls=False), sim.password, timeout_s=10)
    assert result.outcome is Outcome.TLS and "5986" in result.hint


def test_plain_http_to_an_https_listener(tls) -> None:
    with sim_endpoint(auth="ntlm", tls=tls) as sim:
        result = run(sim.host(transport="ntlm"), sim.password, timeout_s=10)
    assert result.outcome is Outcome.NOT_WINRM and "choose the https transport" in result.hint


def test_missing_ca_bundle_file(tmp_path: Path) -> None:
    with sim_endpoint() as sim:
        result = run(sim.host(transport="https", ca_bundle=str(tmp_path / "nope.pem")), sim.password)
    assert result.outcome is Outcome.CLIENT_SETUP and result.step == "setup"


# -- client side, cancelling, robustness --------------------------------------------------

def test_kerberos_without_its_library_is_a_setup_problem(monkeypatch) -> None:
    monkeypatch.setattr(winrm.transport, "HAVE_KERBEROS", False)
    with sim_endpoint() as sim:
        result = run(sim.host(transport="kerberos", username="demo@corp.example"), sim.password)
    assert result.outcome is Outcome.CLIENT_SETUP and "pywinrm[kerberos]" in result.hint


def test_cancel_before_start_and_during_a_hang() -> None:
    with sim_endpoint() as sim:
        token = CancelToken()
        token.cancel()
        assert run(sim.host(), sim.password, cancel=token).outcome is Outcome.CANCELLED

        sim.endpoint.faults.hang()
        token = CancelToken()
        box = {}
        worker = threading.Thread(target=lambda: box.update(r=run(sim.host(), sim.password, timeout_s=3,
                                                                  cancel=token)))
        worker.start()
        deadline = time.monotonic() + 10
        while sim.endpoint.stats.requests_total == 0 and time.monotonic() < deadline:
            time.sleep(0.02)
        token.cancel()
        worker.join(20)
        sim.endpoint.faults.clear()
    assert not worker.is_alive() and box["r"].outcome is Outcome.CANCELLED
    assert box["r"].severity == "cancelled"


def test_an_unexpected_client_error_is_still_an_answer() -> None:
    def exploding(target):
        raise ValueError("boom")

    with sim_endpoint() as sim:
        result = run(sim.host(), sim.password, session_factory=exploding)
    assert result.outcome is Outcome.CLIENT_SETUP and "unexpectedly" in result.message


def test_target_for_maps_transports_and_hides_the_password(tls) -> None:
    password = secrets.token_urlsafe(12)
    with sim_endpoint() as sim:
        cases = {
            "plaintext": ("plaintext", "http://", "validate", None),
            "https": ("ntlm", "https://", "validate", tls.ca_file),
            "https-basic": ("ssl", "https://", "ignore", None),
        }
        for transport, (expected, scheme, validation, ca) in cases.items():
            extra = {"ca_bundle": ca} if ca else ({"verify_tls": False} if validation == "ignore" else {})
            target = target_for(sim.host(transport=transport, **extra), Secret(password))
            assert (target.transport, target.server_cert_validation, target.ca_trust_path) == \
                   (expected, validation, ca)
            assert target.url.startswith(scheme) and target.password == password
            assert password not in repr(target)


def test_judge_warns_when_vmms_is_not_running_and_fails_on_unknowns() -> None:
    with sim_endpoint() as sim:
        host = sim.host()
    facts = {"user": "HV01\\demo", "is_admin": True, "hyperv_module": True, "vmms": "StartPending",
             "os": {"product": "Windows Server 2025 Datacenter", "build": 26100, "ubr": 4652}}
    outcome, message, hint = judge(host, facts)
    assert outcome is Outcome.VMMS_NOT_RUNNING and "StartPending" in message and "Start-Service vmms" in hint
    outcome, message, _ = judge(host, {"is_admin": None, "hyperv_module": True, "checks_failed": ["identity"]})
    assert outcome is Outcome.SCRIPT_FAILED and "identity" in message


# -- Kerberos: what each failure means and what to do (end to end: tests/integration/test_kerberos.py)

def _kerberos_exchange_error(*args):
    """An exception shaped like pywinrm's vendored requests_kerberos.KerberosExchangeError
    (importing the real one needs pykerberos)."""
    import requests

    cls = type("KerberosExchangeError", (requests.exceptions.RequestException,),
               {"__module__": "winrm.vendor.requests_kerberos.exceptions"})
    return cls(*args)


# Texts as pywinrm 0.5 / pykerberos / MIT Kerberos 1.20 write them (observed, and the table in
# docs/kerberos.md).
_GSS = "authGSSClientStep() failed: (('Unspecified GSS failure.  Minor code may provide more information', 851968), "
KERBEROS_TEXTS = [
    ("authGSSClientInit() failed: (('Unspecified GSS failure.  Minor code may provide more information', 851968), "
     "(\"Can't find client principal admin@HVTEST.LOCAL in cache collection\", -1765328243))",
     "kerberos-no-ticket", Outcome.KERBEROS_NO_TICKET, "kinit admin@HVTEST.LOCAL"),
    (_GSS + "('No Kerberos credentials available (default cache: FILE:/tmp/krb5cc_0)', -1765328243))",
     "kerberos-no-ticket", Outcome.KERBEROS_NO_TICKET, "kinit"),
    ("authGSSClientStep() failed: (('The referenced credential has expired', 720896), ('Ticket expired', "
     "-1765328352))", "kerberos-no-ticket", Outcome.KERBEROS_NO_TICKET, "kinit"),
    (_GSS + "('Clock skew too great', -1765328347))", "kerberos-clock-skew", Outcome.KERBEROS_CLOCK_SKEW,
     "differ by more than 5 minutes"),
    (_GSS + "('Cannot contact any KDC for realm \\'HVTEST.LOCAL\\'', -1765328228))", "kerberos-no-kdc",
     Outcome.KERBEROS_NO_KDC, "krb5.conf"),
    (_GSS + "('Cannot find KDC for realm \"CORP.EXAMPLE\"', -1765328230))", "kerberos-no-kdc",
     Outcome.KERBEROS_NO_KDC, "domain"),
    (_GSS + "('Server krbtgt/ELSEWHERE.TEST@HVTEST.LOCAL not found in Kerberos database', -1765328377))",
     "kerberos-no-kdc", Outcome.KERBEROS_NO_KDC, "krb5.conf"),
    (_GSS + "('Server HTTP/hv09.hvtest.local@HVTEST.LOCAL not found in Kerberos database', -1765328377))",
     "kerberos-unknown-spn", Outcome.KERBEROS_SPN, "setspn -L"),
]


@pytest.mark.parametrize("text, cause, outcome, fix", KERBEROS_TEXTS)
def test_kerberos_failures_are_classified(text: str, cause: str, outcome: Outcome, fix: str) -> None:
    from hvconsole.remote.errors import classify

    err = classify(_kerberos_exchange_error(text), host="HV01")
    assert err.kind == "auth" and err.cause == cause, err
    assert "Unspecified GSS failure" not in err.message and len(err.message) < 200


def test_kerberos_explanations_need_no_network() -> None:
    """Each cause's outcome and fix, through the probe's WinRM step (no DNS or TCP needed)."""
    from hvconsole.core.inventory import Host
    from hvconsole.remote.errors import classify

    host = Host(name="HV01", address="hv01.hvtest.local", username="CORP\\admin", transport="kerberos")
    run_ = probe_module._ProbeRun(host, time.monotonic() + 10, 10, None)
    for text, cause, outcome, fix in KERBEROS_TEXTS:
        err = classify(_kerberos_exchange_error(text), host="HV01")

        class FailingSession:
            def run_script(self, *args, **kwargs):
                raise err

            def close(self) -> None:
                pass

        with pytest.raises(probe_module._Stop) as stop:
            run_.run_probe_script(target_for(host, Secret("x")), lambda target: FailingSession())
        assert stop.value.outcome is outcome and fix in stop.value.hint, (text, stop.value.hint)
    # Without a realm in the user name, the hint still names the command with a placeholder.
    err = classify(_kerberos_exchange_error(KERBEROS_TEXTS[1][0]), host="HV01")
    assert "kinit admin@YOUR.REALM" in probe_module._explain_remote_error(host, err, "x").hint


def test_a_mutual_authentication_failure_and_a_refused_ticket_are_credentials_problems() -> None:
    import requests

    from hvconsole.core.inventory import Host
    from hvconsole.remote.errors import RemoteError, classify

    mutual = type("MutualAuthenticationError", (requests.exceptions.RequestException,),
                  {"__module__": "winrm.vendor.requests_kerberos.exceptions"})("Unable to authenticate")
    err = classify(mutual, host="HV01")
    assert err.kind == "auth" and err.cause == "kerberos-mutual"
    host = Host(name="HV01", address="hv01.hvtest.local", username="admin@hvtest.local", transport="kerberos")
    stop = probe_module._explain_remote_error(host, err, "hv01:5985")
    assert stop.outcome is Outcome.CREDENTIALS_REJECTED and "service principal" in stop.hint
    # HTTP 401 after a ticket was sent: the host could not use it (stale keytab, its clock).
    refused = probe_module._explain_remote_error(
        host, RemoteError("auth", "HV01 rejected the user name or password"), "hv01:5985")
    assert refused.outcome is Outcome.CREDENTIALS_REJECTED
    assert "Kerberos ticket of admin@HVTEST.LOCAL" in refused.message and "setspn -Q HTTP/hv01" in refused.hint


@pytest.mark.parametrize("username, principal", [
    ("admin@corp.example", "admin@CORP.EXAMPLE"),
    ("Admin@Corp.Example", "Admin@CORP.EXAMPLE"),
    ("CORP\\admin", "admin"),
    ("admin", "admin"),
])
def test_kerberos_principal_follows_windows(username: str, principal: str) -> None:
    from hvconsole.core.inventory import Host

    assert probe_module.kerberos_principal(username) == principal
    if "@" in username or "\\" in username:
        host = Host(name="HV01", address="hv01.corp.example", username=username, transport="kerberos")
        target = target_for(host, Secret("pw"))
        assert target.transport == "kerberos" and target.username == principal


def test_kerberos_to_an_ip_address_is_a_setup_problem() -> None:
    if not winrm.transport.HAVE_KERBEROS:
        pytest.skip("pywinrm's Kerberos support (pykerberos) is not installed")
    with sim_endpoint() as sim:
        result = run(sim.host(transport="kerberos", username="demo@corp.example"), sim.password)
    assert result.outcome is Outcome.CLIENT_SETUP and result.step == "setup"
    assert "IP address" in result.message and "setspn -L" in result.hint


def test_a_host_that_refuses_ntlm_is_told_apart_from_a_network_problem() -> None:
    """requests_ntlm raises PermissionError (an OSError) when the 401 carries no NTLM
    challenge: a Kerberos-only host, not an unreachable one."""
    import requests

    from hvconsole.core.inventory import Host
    from hvconsole.remote.errors import classify

    exc = requests.exceptions.ConnectionError(
        PermissionError("Access denied: Server did not respond with NTLM challenge token"))
    err = classify(exc, host="HV01")
    assert (err.kind, err.cause) == ("auth", "ntlm-not-offered") and "Kerberos only" in err.message
    host = Host(name="HV01", address="hv01.corp.example", username="CORP\\admin", transport="ntlm")
    stop = probe_module._explain_remote_error(host, err, "hv01:5985")
    assert stop.outcome is Outcome.CREDENTIALS_REJECTED and "kerberos transport" in stop.hint
    # Any other PermissionError is still a local/network problem, not a logon one.
    assert classify(PermissionError(13, "Permission denied"), host="HV01").kind == "refused"


@pytest.mark.parametrize(("transport", "username"), [("kerberos", "demo@corp.example"), ("ntlm", "demo")])
def test_a_pywinrm_that_cannot_be_loaded_is_a_setup_problem(monkeypatch, transport: str, username: str) -> None:
    # pywinrm is imported when an NTLM/Kerberos/CredSSP host is first reached (not at start):
    # a broken install is named there, with what to do, not "failed unexpectedly".
    monkeypatch.setitem(sys.modules, "winrm.transport", None)
    with sim_endpoint(auth="ntlm") as sim:
        result = run(sim.host(transport=transport, username=username), sim.password)
    assert result.outcome is Outcome.CLIENT_SETUP, result
    assert "could not be loaded" in result.message and "pip install" in result.hint
