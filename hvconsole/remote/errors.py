"""The error taxonomy of remote calls: every failure becomes one :class:`RemoteError` whose
``kind`` is one of the snapshot contract's error kinds and whose ``message`` is one sentence
an admin can act on ("no answer from HV01 within 30 s"), never a traceback and never a
password.

:func:`classify` maps what requests, urllib3, ssl, socket and the WinRM client raise. Their
exceptions nest (requests wraps urllib3's MaxRetryError, which holds the socket error in
``reason``), so the cause chain is searched, most specific kind first. The client's WinRM
exceptions are its own (``wsman_errors.py``, so that a Basic-auth host never imports
pywinrm); pywinrm's classes of the same names, raised by its code on the NTLM, Kerberos and
CredSSP paths, are recognised alike (:func:`_alike`).
"""

from __future__ import annotations

import errno
import re
import socket
import ssl
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from typing import TypeVar

import requests
import urllib3.exceptions as u3

from hvconsole.core.enums import ERROR_KINDS

from .kerberos_ticket import ticket_expired
from .wsman_errors import (
    AuthenticationError,
    WinRMError,
    WinRMOperationTimeoutError,
    WinRMTransportError,
    WSManFaultError,
)

KINDS = ERROR_KINDS   # the snapshot contract's error kinds
MAX_MESSAGE_CHARS = 400

# WS-Management fault codes (MS-WSMV / winerror.h) the client reacts to.
WSMAN_OPERATION_TIMEOUT = 2150858793    # 0x80338029: idle Receive, retry
WSMAN_INVALID_SELECTORS = 2150858843    # 0x8033805B: shell or command id unknown (gone)
WSMAN_QUOTA_MAX_SHELLS = 2150859173     # 0x803381A5: too many shells for this user
WSMAN_QUOTA_MAX_OPERATIONS = 2150859174  # 0x803381A6: the user's operations quota is spent
#                                         (a text shell counts every command until deleted)


# Windows' own words for a shell or command that no longer exists (the InvalidSelectors
# fault's texts), found in the body of an answer that is not a SOAP fault.
_SHELL_GONE_TEXTS = ("invalidselectors", "shell was not found", "shell no longer exists",
                     "command identifier that does not exist")

# Finer causes of an ``auth`` error when the transport is Kerberos (``RemoteError.cause``):
# each needs a different fix from the admin, none of which is "check the password".
KRB_NO_TICKET = "kerberos-no-ticket"        # no ticket for the account here, or it expired
KRB_CLOCK_SKEW = "kerberos-clock-skew"      # clocks differ by more than the 5 minutes allowed
KRB_NO_KDC = "kerberos-no-kdc"              # the realm has no KDC this PC can find or reach
KRB_UNKNOWN_SPN = "kerberos-unknown-spn"    # the KDC knows no HTTP/<host> service principal
KRB_MUTUAL = "kerberos-mutual"              # the host did not prove it holds the service key
KRB_FAILED = "kerberos-failed"              # any other Kerberos failure (its text is kept)
# The host answered an NTLM logon without an NTLM challenge: it (or its domain) accepts
# Kerberos only, as hardened domains configure ("Network security: Restrict NTLM").
NTLM_NOT_OFFERED = "ntlm-not-offered"
KERBEROS_CAUSES = frozenset({KRB_NO_TICKET, KRB_CLOCK_SKEW, KRB_NO_KDC, KRB_UNKNOWN_SPN, KRB_MUTUAL,
                             KRB_FAILED})


class RemoteError(Exception):
    """A remote call failed. ``kind`` is a snapshot-v1 error kind; ``cause`` optionally
    narrows it (one of :data:`KERBEROS_CAUSES`) for whoever explains the error."""

    def __init__(self, kind: str, message: str, *, wsman_code: int | None = None,
                 elapsed_ms: int | None = None, cancelled: bool = False, cause: str | None = None):
        if kind not in KINDS:
            raise ValueError(f"unknown error kind {kind!r}")
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.wsman_code = wsman_code
        self.elapsed_ms = elapsed_ms
        self.cancelled = cancelled
        self.cause = cause

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return f"RemoteError({self.kind!r}, {self.message!r}, wsman_code={self.wsman_code})"

    def with_elapsed(self, elapsed_ms: int) -> RemoteError:
        """This error with the call's duration filled in (kept if already known)."""
        if self.elapsed_ms is None:
            self.elapsed_ms = elapsed_ms
        return self

    def scrubbed(self, *secrets: str | None) -> RemoteError:
        """This error with every given secret removed from the message."""
        self.message = scrub(self.message, *secrets)
        self.args = (self.message,)
        return self


def scrub(text: str, *secrets: str | None) -> str:
    """``text`` with each non-empty secret replaced by ``***`` and the length bounded."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    if len(text) > MAX_MESSAGE_CHARS:
        text = text[: MAX_MESSAGE_CHARS - 1] + "…"
    return text


def classify(exc: BaseException, *, host: str = "the host", timeout_s: float | None = None,
             elapsed_ms: int | None = None) -> RemoteError:
    """Map any exception from a WinRM call to a :class:`RemoteError`.

    ``host`` names the host in the message; ``timeout_s`` is the deadline the call had
    (for "no answer within N s").
    """
    if isinstance(exc, RemoteError):
        return exc.with_elapsed(elapsed_ms) if elapsed_ms is not None else exc
    err = _classify(exc, host, timeout_s)
    err.elapsed_ms = elapsed_ms
    return err


def fault_reason(exc: WSManFaultError) -> str:
    """The human part of a WS-Man fault: the WSManFault message if present, else the
    SOAP reason, whitespace collapsed."""
    text = exc.reason or ""
    try:
        root = ET.fromstring(exc.response) if exc.response else None
    except ET.ParseError:
        root = None
    if root is not None:
        for node in root.iter():
            if node.tag.endswith("}Message") and "wsmanfault" in node.tag:
                inner = " ".join(t.strip() for t in node.itertext() if t.strip())
                if inner:
                    text = inner
                    break
    return " ".join(text.split()) or "no reason given"


def is_shell_gone(exc: BaseException) -> bool:
    """A fault meaning the shell (or command) no longer exists on the host: InvalidSelectors,
    or an HTTP 400 whose body says so in Windows' words."""
    if isinstance(exc, _alike(WinRMTransportError)) and exc.code == 400:
        text = (exc.response_text or "").lower()
        return any(words in text for words in _SHELL_GONE_TEXTS)
    if not isinstance(exc, _alike(WSManFaultError)):
        return False
    sub = (exc.fault_subcode or "").lower()
    return exc.wsman_fault_code == WSMAN_INVALID_SELECTORS or sub.endswith("invalidselectors")


def is_bare_bad_request(exc: BaseException) -> bool:
    """An HTTP 400 that carries no WS-Management fault (pywinrm turns one with a SOAP fault
    into a WSManFaultError). Windows answers this to requests in a shell past its
    MaxShellRunTime (https://github.com/diyan/pywinrm/issues/325) or idle too long
    (https://github.com/diyan/pywinrm/issues/377); the session decides from context
    whether it means "shell gone" (``session.py``, "Shell recycling")."""
    return isinstance(exc, _alike(WinRMTransportError)) and exc.code == 400 and not is_shell_gone(exc)


def is_quota(exc: BaseException) -> bool:
    """A fault meaning a per-user or per-shell quota is spent (a new shell may help)."""
    if not isinstance(exc, _alike(WSManFaultError)):
        return False
    sub = (exc.fault_subcode or "").lower()
    return (exc.wsman_fault_code in (WSMAN_QUOTA_MAX_SHELLS, WSMAN_QUOTA_MAX_OPERATIONS)
            or sub.endswith("quotalimit") or "quota" in (exc.reason or "").lower())


# -- internals ---------------------------------------------------------------------------

_E = TypeVar("_E", bound=BaseException)


def _alike(cls: type[_E]) -> tuple[type[_E], ...]:
    """Our WinRM exception class and, once pywinrm is loaded, pywinrm's class of the same
    name (same attributes; its code raises it on the NTLM, Kerberos and CredSSP paths).
    Until its exceptions module is loaded no pywinrm exception can exist, so looking it up
    in ``sys.modules`` is enough and imports nothing."""
    theirs = getattr(sys.modules.get("winrm.exceptions"), cls.__name__, None)
    return (cls, theirs) if theirs is not None else (cls,)


def _classify(exc: BaseException, host: str, timeout_s: float | None) -> RemoteError:
    within = f" within {seconds_text(timeout_s)}" if timeout_s is not None else ""
    causes = list(_causes(exc))

    fault = _first(causes, *_alike(WSManFaultError))
    if fault is not None:
        code = fault.wsman_fault_code
        where = f"WS-Management fault {code} (0x{code:08X})" if code is not None else \
            f"a WS-Management fault (HTTP {fault.code})"
        return RemoteError("fault", f"{host} answered with {where}: {fault_reason(fault)}",
                           wsman_code=code)
    if _first(causes, *_alike(WinRMOperationTimeoutError)) is not None:
        return RemoteError("timeout", f"no answer from {host}{within} (operation timed out on the host)",
                           wsman_code=WSMAN_OPERATION_TIMEOUT)
    kerberos = next((c for c in causes if _is_kerberos_error(c)), None)
    if kerberos is not None:
        return classify_kerberos(kerberos, host=host)
    # requests_ntlm raises PermissionError("Access denied: Server did not respond with NTLM
    # challenge token"): an OSError, but nothing to do with the network.
    if any(isinstance(c, PermissionError) and "ntlm challenge" in str(c).lower() for c in causes):
        return RemoteError("auth", f"{host} does not accept NTLM logons (Kerberos only)", cause=NTLM_NOT_OFFERED)
    if _first(causes, *_alike(AuthenticationError)) is not None:
        return RemoteError("auth", f"{host} rejected the user name or password")
    transport_err = _first(causes, *_alike(WinRMTransportError))
    if transport_err is not None:
        if transport_err.code in (401, 403):
            return RemoteError("auth", f"{host} refused access (HTTP {transport_err.code})")
        return RemoteError("protocol", f"{host} gave an unexpected HTTP {transport_err.code} answer "
                                       f"that is not a WS-Management fault")

    # TLS before connection errors: requests.SSLError is a ConnectionError.
    cert = _first(causes, ssl.SSLCertVerificationError)
    if cert is not None:
        detail = getattr(cert, "verify_message", None) or "verification failed"
        return RemoteError("tls", f"the TLS certificate of {host} was not accepted: {detail}")
    if _first(causes, ssl.SSLError, requests.exceptions.SSLError, u3.SSLError) is not None:
        return RemoteError("tls", f"the TLS handshake with {host} failed")

    # Timeouts before refusals: urllib3's NewConnectionError subclasses ConnectTimeoutError,
    # and a read timeout while streaming a body surfaces as requests.ConnectionError.
    if _first(causes, requests.exceptions.ConnectTimeout) is not None or \
            any(isinstance(c, u3.ConnectTimeoutError) and not isinstance(c, u3.NewConnectionError)
                for c in causes):
        return RemoteError("timeout", f"no connection to {host}{within}")
    if _first(causes, requests.exceptions.ReadTimeout, u3.ReadTimeoutError, socket.timeout,
              TimeoutError) is not None:
        return RemoteError("timeout", f"no answer from {host}{within}")

    if _first(causes, u3.NameResolutionError, socket.gaierror) is not None:
        return RemoteError("refused", f"the name of {host} could not be resolved")
    if _first(causes, ConnectionRefusedError) is not None or _errno_in(causes, {errno.ECONNREFUSED}):
        return RemoteError("refused", f"{host} refused the connection (is WinRM running and the port open?)")
    if _errno_in(causes, {errno.ENETUNREACH, errno.EHOSTUNREACH, errno.EHOSTDOWN}):
        return RemoteError("refused", f"{host} cannot be reached on the network")
    if _first(causes, ConnectionResetError, ConnectionAbortedError, BrokenPipeError) is not None or \
            _first(causes, u3.ProtocolError) is not None:
        return RemoteError("refused", f"{host} closed the connection")
    if _first(causes, u3.NewConnectionError, requests.exceptions.ConnectionError, ConnectionError) is not None:
        return RemoteError("refused", f"{host} cannot be reached")

    if _first(causes, ET.ParseError) is not None:
        return RemoteError("protocol", f"{host} gave an answer that is not XML")
    if _first(causes, StopIteration, AssertionError, KeyError, IndexError) is not None:
        return RemoteError("protocol", f"{host} gave an unexpected WS-Management answer")
    if _first(causes, requests.exceptions.ChunkedEncodingError, requests.exceptions.ContentDecodingError) is not None:
        return RemoteError("protocol", f"the answer from {host} was cut off or garbled")
    if _first(causes, *_alike(WinRMError)) is not None:
        return RemoteError("protocol", f"the WinRM exchange with {host} failed: {exc}")
    if _first(causes, OSError) is not None:
        return RemoteError("refused", f"{host} cannot be reached ({type(exc).__name__})")
    return RemoteError("protocol", f"talking to {host} failed unexpectedly ({type(exc).__name__})")


def _is_kerberos_error(exc: BaseException) -> bool:
    """pywinrm's vendored requests_kerberos errors (matched by name: importing that package
    needs pykerberos, which a PC without Kerberos support lacks), and pyspnego's/gssapi's
    GSS errors."""
    name = type(exc).__name__
    module = type(exc).__module__ or ""
    return (name in ("KerberosExchangeError", "MutualAuthenticationError") and "kerberos" in module) or \
        (name == "GSSError" and module.startswith(("gssapi", "kerberos", "spnego")))


# MIT Kerberos (krb5/error_tables/krb5_err.et, k5e1_err.et) and Heimdal word these the same;
# the texts reach us inside pykerberos' exception args, e.g. (("Unspecified GSS failure...",
# 851968), ("Can't find client principal admin@CORP.EXAMPLE in cache collection", -1765328243)).
_NO_TICKET_TEXTS = ("can't find client principal", "no credentials cache found", "no kerberos credentials",
                    "credentials cache file", "no credentials were supplied", "matching credential not found")
_EXPIRED_TEXTS = ("ticket expired", "credential has expired", "credentials have expired")
_NO_KDC_TEXTS = ("cannot find kdc for", "cannot contact any kdc", "cannot resolve network address for kdc",
                 "cannot resolve servers for kdc")
_QUOTED_REALM = re.compile(r"""realm ["']([^"']+)["']""")
_SERVER_PRINCIPAL = re.compile(r"Server (\S+) not found in Kerberos database", re.IGNORECASE)
_CLIENT_PRINCIPAL = re.compile(r"(?:client principal |Client ')([^'\s]+)", re.IGNORECASE)


def classify_kerberos(exc: BaseException, *, host: str = "the host") -> RemoteError:
    """A Kerberos failure as an ``auth`` error with its :data:`cause` and one sentence."""
    text = _flatten(exc)
    lowered = text.lower()
    if any(t in lowered for t in _EXPIRED_TEXTS) or ticket_expired():
        # First: an expired ticket can surface as any of the failures below (see
        # kerberos_ticket), and its fix is always the same one command.
        return RemoteError("auth", f"this computer's Kerberos ticket has expired, so it cannot log on to {host}",
                           cause=KRB_NO_TICKET)
    if type(exc).__name__ == "MutualAuthenticationError":
        return RemoteError("auth", f"{host} did not prove its identity (Kerberos mutual authentication "
                                   f"failed)", cause=KRB_MUTUAL)
    if "clock skew" in lowered:
        return RemoteError("auth", f"Kerberos refused the login to {host}: the clocks of this computer and "
                                   f"the domain differ by more than the 5 minutes Kerberos allows",
                           cause=KRB_CLOCK_SKEW)
    if any(t in lowered for t in _NO_KDC_TEXTS):
        found = _QUOTED_REALM.search(text)
        realm = f"the realm {found.group(1)}" if found else "the Kerberos realm"
        return RemoteError("auth", f"no domain controller (KDC) for {realm} could be found or reached "
                                   f"from this computer", cause=KRB_NO_KDC)
    server = _SERVER_PRINCIPAL.search(text)
    if server is not None and server.group(1).lower().startswith("krbtgt/"):
        # The ticket for the host's realm must come from a trust the user's realm does not
        # have: the host's name maps (krb5.conf [domain_realm], or AD) to a foreign realm.
        foreign = server.group(1)[len("krbtgt/"):].partition("@")[0]
        return RemoteError("auth", f"the realm {foreign} of {host} has no KDC this computer's realm can "
                                   f"reach (no trust between the realms)", cause=KRB_NO_KDC)
    if server is not None:
        return RemoteError("auth", f"the domain knows no service principal {server.group(1)} for {host}",
                           cause=KRB_UNKNOWN_SPN)
    if any(t in lowered for t in _NO_TICKET_TEXTS) or ("client" in lowered and "not found in kerberos" in lowered):
        who = _CLIENT_PRINCIPAL.search(text)
        whom = f" for {who.group(1)}" if who else ""
        return RemoteError("auth", f"this computer has no Kerberos ticket{whom} to log on to {host} with",
                           cause=KRB_NO_TICKET)
    return RemoteError("auth", f"Kerberos authentication to {host} failed: {_gss_minor(text)}", cause=KRB_FAILED)


def _flatten(exc: BaseException) -> str:
    """Every string inside an exception's args (pykerberos nests tuples), in order."""
    parts: list[str] = []

    def walk(value: object) -> None:
        if isinstance(value, str):
            parts.append(value)
        elif isinstance(value, (tuple, list)):
            for item in value:
                walk(item)
        elif isinstance(value, BaseException):
            walk(value.args)
    walk(exc)
    return " ".join(parts) or type(exc).__name__


def _gss_minor(text: str) -> str:
    """The readable part of a GSS error, without the generic major-status preamble."""
    cleaned = text.replace("Unspecified GSS failure.  Minor code may provide more information", "")
    cleaned = re.sub(r"\(\s*\(\s*'',?\s*-?\d+\)\s*\)", "", cleaned)
    return " ".join(cleaned.split())[:200] or "no detail"


def _causes(exc: BaseException, depth: int = 0) -> Iterator[BaseException]:
    """``exc`` and everything it wraps: ``reason`` (urllib3), exception args (requests),
    ``__cause__`` and ``__context__``."""
    if depth > 8:
        return
    yield exc
    seen: list[BaseException] = []
    for inner in (getattr(exc, "reason", None), *getattr(exc, "args", ()), exc.__cause__, exc.__context__):
        if isinstance(inner, BaseException) and inner is not exc and all(inner is not s for s in seen):
            seen.append(inner)
            yield from _causes(inner, depth + 1)


def _first(causes: list[BaseException], *types: type[_E]) -> _E | None:
    for c in causes:
        if isinstance(c, types):
            return c
    return None


def _errno_in(causes: list[BaseException], codes: set[int]) -> bool:
    return any(isinstance(c, OSError) and c.errno in codes for c in causes)


def seconds_text(s: float) -> str:
    """``30 s``, ``1.5 s``: a duration as the messages write it."""
    return f"{s:.0f} s" if s >= 10 or float(s).is_integer() else f"{s:.1f} s"
