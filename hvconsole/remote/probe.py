"""The connection test: can this PC manage Hyper-V on this host with these credentials?

WinRM's own answers ("Code 500", "credentials rejected") rarely say what to fix. The probe
therefore walks the path a connection takes, one step at a time, and stops at the first
step that fails, so that each outcome names the broken link and one fix an admin would
act on:

1. resolve the name (DNS);
2. open TCP to the WinRM port;
3. for HTTPS, complete a TLS handshake with the same trust settings the real client uses;
4. authenticate and run ``probe.ps1`` through the real :class:`HostSession`;
5. judge the answer: administrator? Hyper-V module present? vmms running?

Every step shares one overall deadline and honours a cancel token between steps. The
outcomes are :class:`Outcome`; ``docs/hosts-and-credentials.md`` explains each one.
"""

from __future__ import annotations

import errno
import ipaddress
import logging
import os
import re
import socket
import ssl
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from ..core.inventory import Host, Transport
from ..core.inventory.book import Password
from . import answer, trust
from .errors import (
    KRB_CLOCK_SKEW,
    KRB_MUTUAL,
    KRB_NO_KDC,
    KRB_NO_TICKET,
    KRB_UNKNOWN_SPN,
    NTLM_NOT_OFFERED,
    RemoteError,
)
from .session import HostSession
from .target import CancelToken, Target, TransportName
from .wsman_errors import WinRMError
from .wsman_transport import pywinrm_transport

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT_S = 30.0
CONNECT_TIMEOUT_S = 10.0   # one TCP attempt; a firewall that drops packets costs this long
_WAIT_SLICE_S = 0.1        # how often a wait looks at the cancel token

# WS-Management fault codes (winerror.h, MS-WSMV) the probe explains.
WSMAN_ACCESS_DENIED = 5
WSMAN_REMOTE_SHELLS_NOT_ALLOWED = 2150859180   # 0x803381AC AllowRemoteShellAccess = false
QUOTA_CODES = frozenset({
    2150858815,                                 # 0x8033803F quota limit
    2150859173, 2150859174, 2150859175,         # max shells, max operations, user quota
    2150859176, 2150859179,                     # system quota, max shell users
    *range(2150859236, 2150859243),             # plug-in (PowerShell) quotas *_PPQ
})


class Outcome(StrEnum):
    OK = "ok"
    VMMS_NOT_RUNNING = "vmms-not-running"
    NO_HYPERV_ROLE = "no-hyperv-role"
    NO_HYPERV_MODULE = "no-hyperv-module"
    NOT_ADMIN = "not-admin"
    NAME_NOT_RESOLVED = "name-not-resolved"
    UNREACHABLE = "unreachable"
    REFUSED = "refused"
    TIMEOUT = "timeout"
    TLS = "tls"
    CREDENTIALS_REJECTED = "credentials-rejected"
    KERBEROS_NO_TICKET = "kerberos-no-ticket"
    KERBEROS_CLOCK_SKEW = "kerberos-clock-skew"
    KERBEROS_NO_KDC = "kerberos-no-kdc"
    KERBEROS_SPN = "kerberos-spn"
    ACCESS_DENIED = "access-denied"
    ENCRYPTION_POLICY = "encryption-policy"
    QUOTA = "quota"
    WSMAN_FAULT = "wsman-fault"
    NOT_WINRM = "not-winrm"
    SCRIPT_FAILED = "script-failed"
    CLIENT_SETUP = "client-setup"
    CANCELLED = "cancelled"


# Outcomes after which the host can be monitored, though something deserves attention.
WARNING_OUTCOMES = frozenset({Outcome.VMMS_NOT_RUNNING})


@dataclass(frozen=True)
class ProbeResult:
    outcome: Outcome
    message: str                  # what happened, one line, never a password
    hint: str                     # what to do about it, one line ("" when all is well)
    step: str                     # resolve | connect | tls | winrm | checks | setup
    elapsed_ms: int
    facts: Mapping[str, Any] = field(default_factory=dict)   # probe.ps1's answer, if any
    wsman_code: int | None = None

    @property
    def ok(self) -> bool:
        return self.outcome is Outcome.OK

    @property
    def severity(self) -> str:
        """``ok``, ``warning`` (usable), ``error`` (not usable) or ``cancelled``."""
        if self.outcome is Outcome.OK:
            return "ok"
        if self.outcome is Outcome.CANCELLED:
            return "cancelled"
        return "warning" if self.outcome in WARNING_OUTCOMES else "error"

    def to_dict(self) -> dict[str, Any]:
        return {"outcome": self.outcome.value, "severity": self.severity, "message": self.message,
                "hint": self.hint, "step": self.step, "elapsed_ms": self.elapsed_ms,
                "wsman_code": self.wsman_code, "facts": dict(self.facts)}


class _Stop(Exception):
    """Internal: a step failed; carries the outcome to report."""

    def __init__(self, outcome: Outcome, message: str, hint: str, step: str, *, wsman_code: int | None = None):
        super().__init__(message)
        self.outcome, self.message, self.hint, self.step = outcome, message, hint, step
        self.wsman_code = wsman_code


def kerberos_principal(username: str) -> str:
    """The Kerberos principal for an inventory user name, as Windows forms it: a UPN
    ``user@corp.example`` names the realm in upper case (``user@CORP.EXAMPLE``: AD realms
    are the DNS domain upper-cased and MIT compares principals case-sensitively), and
    ``CORP\\user`` becomes ``user`` in this PC's default realm (krb5.conf
    ``default_realm``; on a domain member, its own domain), since a NetBIOS domain name is
    not a realm."""
    _domain, sep, user = username.rpartition("\\")
    if sep:
        return user
    user, sep, realm = username.rpartition("@")
    return f"{user}@{realm.upper()}" if sep else username


# The inventory's transport as pywinrm names it: HTTPS is NTLM inside TLS, Basic inside TLS
# is pywinrm's "ssl"; the others carry the same name.
_PYWINRM_TRANSPORT: dict[Transport, TransportName] = {
    Transport.NTLM: "ntlm", Transport.KERBEROS: "kerberos", Transport.CREDSSP: "credssp",
    Transport.HTTPS: "ntlm", Transport.HTTPS_BASIC: "ssl", Transport.PLAINTEXT: "plaintext",
}


def target_for(host: Host, password: Password | str) -> Target:
    """The remote :class:`Target` for an inventory host and its password (a
    :class:`hvconsole.credentials.Secret` or text).

    For Kerberos the password is not used to log on: pywinrm takes the ticket of
    ``kerberos_principal(username)`` from this PC's ticket cache (the Windows logon, or
    ``kinit`` on Linux), as ``Enter-PSSession`` without ``-Credential`` does. The password
    still travels in the Target (for NTLM hosts it is needed, and it is scrubbed from every
    error message) but never leaves this process for a Kerberos host (docs/kerberos.md)."""
    secret = password if isinstance(password, str) else password.reveal()
    transport = _PYWINRM_TRANSPORT[host.transport]
    username = kerberos_principal(host.username) if host.transport is Transport.KERBEROS else host.username
    return Target(name=host.name, url=host.url, username=username, password=secret,
                  transport=transport,
                  server_cert_validation="validate" if host.verify_tls else "ignore",
                  ca_trust_path=host.ca_bundle)


def _probe_session(target: Target) -> HostSession:
    # Only probe.ps1 travels with the shell: 2 KB instead of every shipped script's body.
    return HostSession(target, scripts=("probe",))


def probe_host(host: Host, password: Password | str, *, timeout_s: float = DEFAULT_TIMEOUT_S,
               cancel: CancelToken | None = None,
               session_factory: Callable[[Target], HostSession] | None = None) -> ProbeResult:
    """Run the connection test; never raises for anything the host or network does."""
    if session_factory is None:
        session_factory = _probe_session
    started = time.monotonic()
    run = _ProbeRun(host, started + timeout_s, timeout_s, cancel)
    step = "setup"
    try:
        _check_client_setup(host)
        step = "resolve"
        addresses = run.resolve()
        step = "connect"
        sock = run.connect(addresses)
        step = "tls"
        try:
            if host.transport.uses_tls:
                run.handshake(sock)
        finally:
            sock.close()
        step = "winrm"
        facts = run.run_probe_script(target_for(host, password), session_factory)
        step = "checks"
        outcome, message, hint = judge(host, facts)
        return ProbeResult(outcome, message, hint, step, _ms(started), facts)
    except _Stop as stop:
        if cancel is not None and cancel.cancelled:
            # A request cannot be interrupted half-way; whatever ended it, the admin asked to stop.
            return ProbeResult(Outcome.CANCELLED, "the connection test was cancelled", "", stop.step, _ms(started))
        return ProbeResult(stop.outcome, stop.message, stop.hint, stop.step, _ms(started),
                           wsman_code=stop.wsman_code)
    except Exception as exc:  # a bug or an unforeseen library error: still an answer, not a crash
        log.error("connection test of %s failed unexpectedly at step %s", host.name, step, exc_info=True)
        return ProbeResult(Outcome.CLIENT_SETUP, f"the connection test failed unexpectedly at step {step} "
                           f"({type(exc).__name__})", "please report this; the log has details", step,
                           _ms(started))


# The logons pywinrm's code makes (NTLM, inside HTTPS too; Kerberos; CredSSP).
_PYWINRM_LOGONS = (Transport.NTLM, Transport.HTTPS, Transport.KERBEROS, Transport.CREDSSP)


def _check_client_setup(host: Host) -> None:
    # pywinrm (and the auth stacks it carries) only for the transports that need them. It
    # is imported on first use, not at start: a broken install, or a pywinrm this console
    # does not fit, is named here rather than as a host that does not speak WinRM.
    if host.transport in _PYWINRM_LOGONS:
        try:
            pywinrm = pywinrm_transport()
        except WinRMError as exc:
            raise _Stop(Outcome.CLIENT_SETUP, str(exc), "reinstall the console's packages "
                        "(`pip install --force-reinstall 'pywinrm>=0.5,<0.6'`)", "setup") from None
    if host.transport is Transport.KERBEROS and not pywinrm.HAVE_KERBEROS:
        raise _Stop(Outcome.CLIENT_SETUP, "Kerberos support is not installed on this PC",
                    "install it (`pip install 'pywinrm[kerberos]'`) or choose the ntlm transport", "setup")
    if host.transport is Transport.KERBEROS and _is_ip_address(host.address):
        # The ticket is for the service principal HTTP/<name>; nobody registers one for an
        # address, so the KDC could only answer "server not found" (Windows would silently
        # try NTLM instead, which a Kerberos host entry is meant to avoid).
        raise _Stop(Outcome.CLIENT_SETUP, f"Kerberos cannot log on to an IP address ({host.address})",
                    "enter the host's DNS name as registered in its service principal name "
                    "(`setspn -L HOSTNAME` lists them, e.g. HTTP/hv01.corp.example)", "setup")
    if host.transport is Transport.CREDSSP and not pywinrm.HAVE_CREDSSP:
        raise _Stop(Outcome.CLIENT_SETUP, "CredSSP support is not installed on this PC",
                    "install it (`pip install 'pywinrm[credssp]'`) or choose the ntlm transport", "setup")
    if host.ca_bundle and not os.path.isfile(host.ca_bundle):
        raise _Stop(Outcome.CLIENT_SETUP, f"the CA bundle {host.ca_bundle} does not exist on this PC",
                    "export the CA certificate as a PEM file and give its path", "setup")


class _ProbeRun:
    """The steps of one probe, sharing a deadline and a cancel token."""

    def __init__(self, host: Host, deadline: float, timeout_s: float, cancel: CancelToken | None):
        self.host, self.deadline, self.timeout_s, self.cancel = host, deadline, timeout_s, cancel
        self.where = f"{host.address}:{host.effective_port}"

    def remaining(self, step: str) -> float:
        if self.cancel is not None and self.cancel.cancelled:
            raise _Stop(Outcome.CANCELLED, "the connection test was cancelled", "", step)
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise _Stop(Outcome.TIMEOUT, f"the connection test ran out of time ({self.timeout_s:.0f} s) "
                        f"at step {step}", "check the network path to the host and try again", step)
        return left

    def resolve(self) -> list[tuple]:
        """getaddrinfo has no timeout of its own: run it aside and stop waiting in time."""
        port = self.host.effective_port
        box: dict[str, Any] = {}

        def lookup() -> None:
            try:
                box["result"] = socket.getaddrinfo(self.host.address, port, type=socket.SOCK_STREAM)
            except OSError as exc:
                box["error"] = exc

        worker = threading.Thread(target=lookup, name=f"probe-dns-{self.host.name}", daemon=True)
        worker.start()
        while worker.is_alive():
            worker.join(min(_WAIT_SLICE_S, self.remaining("resolve")))
        if "error" in box:
            raise _Stop(Outcome.NAME_NOT_RESOLVED, f"the name {self.host.address} could not be resolved "
                        f"({_oserror_text(box['error'])})",
                        "check the spelling and this PC's DNS server (`nslookup NAME`); if the host is not in "
                        "DNS, enter its IP address", "resolve")
        return box["result"]

    def connect(self, addresses: list[tuple]) -> socket.socket:
        failures: list[OSError] = []
        for family, type_, proto, _, sockaddr in addresses:
            attempt_s = min(CONNECT_TIMEOUT_S, self.remaining("connect"))
            sock = socket.socket(family, type_, proto)
            sock.settimeout(attempt_s)
            try:
                sock.connect(sockaddr)
                return sock
            except OSError as exc:
                sock.close()
                failures.append(exc)
        self.remaining("connect")  # a cancel during the attempts wins over their errors
        port = self.host.effective_port
        if any(isinstance(e, ConnectionRefusedError) for e in failures):
            fix = ("run `winrm quickconfig -transport:https` on the host (needs a server certificate) and open "
                   f"TCP {port} in its firewall") if self.host.transport.uses_tls else \
                  f"run `Enable-PSRemoting` on the host or open TCP {port} in its firewall"
            raise _Stop(Outcome.REFUSED, f"WinRM refused the connection on {self.where}", fix, "connect")
        if any(isinstance(e, (TimeoutError, socket.timeout)) for e in failures):
            raise _Stop(Outcome.TIMEOUT, f"no answer from {self.where} within "
                        f"{min(CONNECT_TIMEOUT_S, self.timeout_s):.0f} s (packets are dropped on the way)",
                        f"check that the host is up and that firewalls between here and it allow TCP {port}",
                        "connect")
        detail = _oserror_text(failures[-1]) if failures else "no address to try"
        raise _Stop(Outcome.UNREACHABLE, f"{self.where} cannot be reached ({detail})",
                    "check the address, and this PC's network or VPN connection to the host", "connect")

    def handshake(self, sock: socket.socket) -> None:
        """The TLS handshake the real client will do, with the same trust settings
        (``remote.trust``: the OS trust store, or the host's own CA bundle alone), so its
        verdict is the client's."""
        host = self.host
        try:
            context = trust.client_context(verify=host.verify_tls, ca_bundle=host.ca_bundle)
        except (ssl.SSLError, OSError) as exc:
            raise _Stop(Outcome.CLIENT_SETUP, f"the CA bundle could not be loaded ({_oserror_text(exc)})",
                        "give a PEM file holding the CA certificate(s)", "tls") from None
        sock.settimeout(self.remaining("tls"))
        try:
            with context.wrap_socket(sock, server_hostname=host.address.split("%", 1)[0]):
                pass
        except ssl.SSLCertVerificationError as exc:
            reason = exc.verify_message or "it could not be verified"
            raise _Stop(Outcome.TLS, f"the host's TLS certificate was not accepted: {reason}",
                        "the issuing CA must be trusted by this PC (on a domain member, Group Policy puts "
                        "the Active Directory CA in the machine's trusted roots) or given as the host's CA "
                        "bundle (a PEM file); the certificate must name the address you entered",
                        "tls") from None
        except TimeoutError:
            raise _Stop(Outcome.TIMEOUT, f"{self.where} accepted TCP but did not complete a TLS handshake",
                        "check that this port is the WinRM HTTPS listener (`winrm enumerate "
                        "winrm/config/listener` on the host)", "tls") from None
        except (ssl.SSLError, OSError) as exc:
            raise _Stop(Outcome.TLS, f"no TLS session with {self.where} ({_oserror_text(exc)})",
                        "this port does not seem to speak HTTPS: WinRM HTTPS listens on 5986, plain HTTP on "
                        "5985 (choose the ntlm transport for that)", "tls") from None

    def run_probe_script(self, target: Target, session_factory: Callable[[Target], HostSession]
                         ) -> dict[str, Any]:
        session = session_factory(target)
        try:
            result = session.run_script("probe", {}, timeout_s=self.remaining("winrm"), cancel=self.cancel)
            return answer.json_document(result, host=self.host.name, script="probe")
        except RemoteError as err:
            raise _explain_remote_error(self.host, err, self.where) from None
        finally:
            session.close()


def _explain_remote_error(host: Host, err: RemoteError, where: str) -> _Stop:
    """Turn the client's error into the outcome an admin can act on."""
    code = err.wsman_code
    text = err.message
    if err.cancelled:
        return _Stop(Outcome.CANCELLED, "the connection test was cancelled", "", "winrm")
    if err.kind == "auth" and err.cause is not None and host.transport is Transport.KERBEROS:
        return _explain_kerberos(host, err)
    if err.kind == "auth" and err.cause == NTLM_NOT_OFFERED:
        return _Stop(Outcome.CREDENTIALS_REJECTED, err.message,
                     "the host or its domain refuses NTLM: choose the kerberos transport and enter the host's "
                     "DNS name (docs/kerberos.md)", "winrm")
    if err.kind == "auth":
        if host.transport in (Transport.PLAINTEXT, Transport.HTTPS_BASIC):
            fix = ("Basic authentication works only with local accounts and must be enabled on the host "
                   "(`Set-Item WSMan:\\localhost\\Service\\Auth\\Basic $true`); check the user name and password")
        elif host.transport is Transport.KERBEROS:
            # The KDC issued a ticket, but the host could not use it: its key differs from
            # the one the KDC has (a host rebuilt or renamed, a duplicate SPN), or the host's
            # own clock is off.
            fix = ("the host refused a valid Kerberos ticket: check that HTTP/" + host.address + " is registered "
                   "to this host's computer account only (`setspn -Q HTTP/" + host.address + "`), that the host's "
                   "clock is within 5 minutes of the domain's, and that the account may use WinRM on it")
            return _Stop(Outcome.CREDENTIALS_REJECTED, f"{host.name} refused the Kerberos ticket of "
                         f"{kerberos_principal(host.username)}", fix, "winrm")
        else:
            fix = ("check the password and the user name form (DOMAIN\\user or user@domain); the account may "
                   "also be locked out or its password expired")
        return _Stop(Outcome.CREDENTIALS_REJECTED, f"{host.name} rejected the user name or password "
                     f"for {host.username}", fix, "winrm")
    if err.kind == "fault":
        lowered = text.lower()
        if code in QUOTA_CODES or "quota" in lowered or "maximum number" in lowered:
            return _Stop(Outcome.QUOTA, f"{host.name} refused a new WinRM shell: a quota is exhausted ({text})",
                         "close stale sessions by restarting WinRM on the host (`Restart-Service WinRM`) or "
                         "raise `WSMan:\\localhost\\Shell\\MaxShellsPerUser`", "winrm", wsman_code=code)
        if "encrypt" in lowered:
            fix = ("use the ntlm or https transport: this host (rightly) refuses unencrypted traffic"
                   if host.transport is Transport.PLAINTEXT else
                   "use the https transport, or check the host's `WSMan:\\localhost\\Service\\AllowUnencrypted` "
                   "and encryption Group Policy")
            return _Stop(Outcome.ENCRYPTION_POLICY, f"{host.name} refused the message encryption in use ({text})",
                         fix, "winrm", wsman_code=code)
        if code == WSMAN_ACCESS_DENIED or "access is denied" in lowered or "access denied" in lowered:
            return _Stop(Outcome.ACCESS_DENIED, f"{host.name} accepted the password but denied WinRM access "
                         f"to {host.username}",
                         "add the account to the host's local Administrators group; a local (non-domain) "
                         "account also needs the LocalAccountTokenFilterPolicy=1 registry value (remote UAC)",
                         "winrm", wsman_code=code)
        if code == WSMAN_REMOTE_SHELLS_NOT_ALLOWED:
            return _Stop(Outcome.WSMAN_FAULT, f"{host.name} does not allow remote shells ({text})",
                         "enable them: `Set-Item WSMan:\\localhost\\Shell\\AllowRemoteShellAccess $true` or the "
                         "Group Policy \"Allow Remote Shell Access\"", "winrm", wsman_code=code)
        return _Stop(Outcome.WSMAN_FAULT, text, "look the code up with `winrm helpmsg <code>` on any Windows PC; "
                     "`Restart-Service WinRM` on the host clears most transient faults", "winrm", wsman_code=code)
    if err.kind == "timeout":
        return _Stop(Outcome.TIMEOUT, f"{where} accepted the connection but WinRM did not answer in time ({text})",
                     "the WinRM service or the host may be hung or overloaded: check it from its console and "
                     "restart WinRM (`Restart-Service WinRM`)", "winrm")
    if err.kind == "tls":
        return _Stop(Outcome.TLS, text, "give the issuing CA's PEM file as the CA bundle, or check the "
                     "host's HTTPS listener certificate", "winrm")
    if err.kind == "refused":
        # TCP to this port worked a moment ago, so this is not a firewall: something on the
        # port dropped the WinRM request, typically an HTTPS listener spoken to in plain HTTP.
        fix = ("check that the WinRM service runs (`Get-Service WinRM`) and that this port is its listener"
               if host.transport.uses_tls else
               "if this port is the HTTPS listener (usually 5986), choose the https transport; otherwise "
               "check that the WinRM service runs (`Get-Service WinRM`)")
        return _Stop(Outcome.NOT_WINRM, f"{where} accepted TCP but dropped the WinRM request ({text})", fix,
                     "winrm")
    if err.kind == "script":
        return _Stop(Outcome.SCRIPT_FAILED, text, "PowerShell on the host could not run the check: see the "
                     "Windows PowerShell event log on the host", "winrm")
    return _Stop(Outcome.NOT_WINRM, f"the answer from {where} is not what WinRM sends ({text})",
                 "check the port: WinRM listens on 5985 (HTTP) and 5986 (HTTPS), and no proxy or other web "
                 "service may sit in between", "winrm")


def _explain_kerberos(host: Host, err: RemoteError) -> _Stop:
    """The Kerberos causes (``errors.classify_kerberos``), each with what the admin must do."""
    principal = kerberos_principal(host.username)
    if err.cause == KRB_NO_TICKET:
        # The principal Kerberos looked for (the realm filled in from krb5.conf) if the
        # error names it, else the user name as configured.
        named = re.search(r"ticket for (\S+@\S+) to", err.message)
        who = named.group(1) if named else principal if "@" in principal else f"{principal}@YOUR.REALM"
        return _Stop(Outcome.KERBEROS_NO_TICKET, err.message,
                     f"log on to Windows with a domain account, or on Linux/macOS run `kinit {who}` "
                     f"(a ticket lasts about 10 hours); the user name must be the account that holds the ticket",
                     "winrm")
    if err.cause == KRB_CLOCK_SKEW:
        return _Stop(Outcome.KERBEROS_CLOCK_SKEW, err.message,
                     "the clocks of this computer and the host (or its domain controller) differ by more than "
                     "5 minutes: sync them (`w32tm /resync` on Windows, NTP/chrony on Linux)", "winrm")
    if err.cause == KRB_NO_KDC:
        return _Stop(Outcome.KERBEROS_NO_KDC, err.message,
                     "the realm has no KDC this PC can reach: check the realm in the user name and krb5.conf "
                     "([realms], [domain_realm]) or that this PC is a member of (or trusts) the host's domain, "
                     "and that the domain controllers answer on TCP/UDP 88", "winrm")
    if err.cause == KRB_UNKNOWN_SPN:
        return _Stop(Outcome.KERBEROS_SPN, err.message,
                     f"enter the host's name exactly as in its service principal name (`setspn -L` on the host "
                     f"lists them, e.g. HTTP/{host.address.lower()}); an alias (CNAME) or IP address has none "
                     f"unless one was registered", "winrm")
    if err.cause == KRB_MUTUAL:
        return _Stop(Outcome.CREDENTIALS_REJECTED, err.message,
                     "the host could not prove it holds the key of its service principal: check that the "
                     "name points to the right host and that its computer account is healthy", "winrm")
    return _Stop(Outcome.CREDENTIALS_REJECTED, err.message,
                 "check `klist` for a valid ticket, the realm in the user name and the host's DNS name", "winrm")


def _is_ip_address(address: str) -> bool:
    try:
        ipaddress.ip_address(address.strip("[]").split("%", 1)[0])
        return True
    except ValueError:
        return False


def judge(host: Host, facts: Mapping[str, Any]) -> tuple[Outcome, str, str]:
    """What the probe script's answer means for managing Hyper-V on this host."""
    user = facts.get("user") or host.username
    failed = [str(c) for c in facts.get("checks_failed") or ()]
    if facts.get("is_admin") is None or facts.get("hyperv_module") is None:
        return (Outcome.SCRIPT_FAILED, f"{host.name} answered, but the checks could not run "
                f"({', '.join(failed) or 'no result'})", "see the Windows PowerShell event log on the host")
    if not facts["is_admin"]:
        return (Outcome.NOT_ADMIN, f"connected to {host.name} as {user}, but not as an administrator",
                f"add {user} to the host's local Administrators group (`Add-LocalGroupMember -Group "
                "Administrators -Member ACCOUNT`): monitoring and patching need it")
    vmms = facts.get("vmms")
    if not facts["hyperv_module"]:
        fix = ("install the Hyper-V PowerShell module: `Install-WindowsFeature Hyper-V-PowerShell`"
               if vmms else "is this a Hyper-V host? `Install-WindowsFeature Hyper-V -IncludeManagementTools`")
        return Outcome.NO_HYPERV_MODULE, f"{host.name} lacks the Hyper-V PowerShell module", fix
    if vmms is None:
        return (Outcome.NO_HYPERV_ROLE, f"{host.name} has no Hyper-V Virtual Machine Management service (vmms)",
                "is this a Hyper-V host? Install the role: `Install-WindowsFeature Hyper-V -IncludeManagementTools`")
    os_info = facts.get("os") or {}
    build = ".".join(str(os_info[k]) for k in ("build", "ubr") if os_info.get(k) is not None)
    about = ", ".join(p for p in (str(os_info.get("product") or ""), build,
                                  f"PowerShell {facts.get('ps_version')}" if facts.get("ps_version") else "") if p)
    if vmms != "Running":
        return (Outcome.VMMS_NOT_RUNNING, f"connected to {host.name} ({about}), but vmms is {vmms}",
                "start it on the host (`Start-Service vmms`): VMs cannot be listed until it runs")
    return Outcome.OK, f"connected to {host.name} as {user} ({about}); Hyper-V is ready", ""


def _oserror_text(exc: BaseException) -> str:
    if isinstance(exc, socket.gaierror):
        return exc.strerror or str(exc)
    if isinstance(exc, ssl.SSLError):
        return exc.reason or exc.strerror or type(exc).__name__
    if isinstance(exc, OSError) and exc.errno in (errno.EHOSTUNREACH, errno.ENETUNREACH):
        return "no route to the host"
    return (exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)) or type(exc).__name__


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
