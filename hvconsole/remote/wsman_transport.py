"""The WS-Man HTTP transport's base: pywinrm 0.5's ``winrm.transport.Transport`` (same
constructor, attributes, session settings and errors), with pywinrm imported only for the
auth stacks it carries.

pywinrm's transport module imports requests_ntlm and pyspnego, the vendored
requests_kerberos, requests_credssp and ``cryptography.x509`` as it loads, and any
``import winrm.<x>`` loads it (pywinrm's ``__init__`` imports its protocol, which imports
the transport): ~0.14 s of a first start's CPU that a host on Basic auth never uses. So a
session on Basic auth (``plaintext``, ``ssl`` without a client certificate) is built here,
as pywinrm builds it (a requests Session, HTTPBasicAuth, proxy and certificate checks from
the same settings); any other (NTLM, Kerberos, CredSSP, client certificates) is built by
pywinrm's own ``build_session`` and ``setup_encryption``, run on this object, with its
module imported when such a session is first built (on the poll worker, never at start).
Message encryption is then pywinrm's ``Encryption`` object, as before.
"""

from __future__ import annotations

import inspect
import os
import threading
import warnings
from importlib import metadata
from types import CodeType, ModuleType
from typing import Any

import requests
from requests.auth import HTTPBasicAuth

from .wsman_errors import InvalidCredentialsError, WinRMError, WinRMTransportError

# The auth methods this module builds sessions for itself (no client certificate).
BASIC_AUTHS = ("basic", "plaintext", "ssl")

_displayed_proxy_warning = False
_displayed_ca_trust_warning = False

# pywinrm has import cycles (its package imports its protocol, which imports its transport,
# which imports the package's exceptions): two threads importing it at the same moment can
# be handed a half-initialised module by CPython's import deadlock avoidance (docs/
# performance.md, "Startup, session 5"). Poll workers open their first sessions together,
# so its import is taken in turns. The lock is only ever taken outside any import (when a
# session is built), so no thread can hold an import lock while waiting for it.
_pywinrm_import = threading.Lock()


def pywinrm_transport() -> ModuleType:
    """pywinrm's transport module (and with it its auth stacks), imported on first use and
    checked to fit ours (:func:`check_pywinrm_fits`). A broken install (a missing or
    unloadable auth stack) used to stop the console at start; now it would surface on the
    first NTLM/Kerberos/CredSSP host, so it is named there (:class:`WinRMError`)."""
    module = _import_pywinrm()
    if module.Transport not in _fitting:
        check_pywinrm_fits(module.Transport)
        _fitting.add(module.Transport)
    return module


def _import_pywinrm() -> ModuleType:
    with _pywinrm_import:
        try:
            import winrm.transport
        except ImportError as exc:
            raise WinRMError(f"the NTLM, Kerberos and CredSSP logon support (pywinrm) could not be "
                             f"loaded: {exc}") from exc
    return winrm.transport


# pywinrm's build_session and setup_encryption run on our transport, which is not a
# subclass of pywinrm's: they find only what ours has. pywinrm's own history changed both
# (helpers on its Transport, another _send_message_request signature), and the project
# takes any pywinrm from 0.5 on, so the installed one is checked, once: what those two
# read on the transport (attributes, helpers, and what the helpers read in turn) must be
# on ours, and the methods of ours they call must take the parameters theirs take. A
# misfit is named (an admin can act on it) instead of an AttributeError deep in a logon;
# anything else a newer pywinrm adds does not matter to us and passes.
_DELEGATED = ("build_session", "setup_encryption")
_fitting: set[type] = set()      # pywinrm Transport classes found to fit


def check_pywinrm_fits(base: type) -> None:
    """Raise :class:`WinRMError` if pywinrm's transport class ``base``'s session building
    reads a setting or helper ours lacks, or calls a method of ours with other parameters."""
    ours = WsmanTransport("http://localhost:5985/wsman", username="fit-check", password="", auth_method="ntlm",
                          ca_trust_path=None, proxy=None)
    problems: list[str] = []
    theirs_take = inspect.signature(base).parameters
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in theirs_take.values())
    names = [n for n in inspect.signature(WsmanTransport.__init__).parameters if n != "self"]
    names += [n for n in theirs_take if n not in names]
    try:
        # A throwaway of theirs with the same settings: what its constructor sets (no network).
        theirs = base(**{n: getattr(ours, n) for n in names if hasattr(ours, n) and (takes_any or n in theirs_take)})
    except Exception as exc:       # a new required setting, another check: it does not fit
        problems.append(f"its transport takes other settings ({type(exc).__name__}: {exc})")
    else:
        read = _read_by(base, _DELEGATED)
        missing = sorted(n for n in read if hasattr(theirs, n) and not hasattr(ours, n))
        if missing:
            problems.append(f"its session building reads {', '.join(missing)}")
        for name in sorted(read | set(_DELEGATED)):
            mine = getattr(WsmanTransport, name, None)
            if callable(mine) and _parameters(getattr(base, name, None)) != _parameters(mine):
                problems.append(f"its {name} takes other arguments")
    if problems:
        raise WinRMError(f"pywinrm {_version()} is not supported by this console (it follows pywinrm 0.5): "
                         f"{'; '.join(problems)}; install pywinrm 0.5 (pip install 'pywinrm>=0.5,<0.6')")


def _read_by(base: type, methods: tuple[str, ...]) -> set[str]:
    """The names ``methods`` of ``base`` read (attributes and globals alike), and those read
    by the methods of ``base`` they name, in turn (not those ours has: ours run instead)."""
    read: set[str] = set()
    todo = list(methods)
    while todo:
        code = getattr(getattr(base, todo.pop(), None), "__code__", None)
        codes = [code] if code is not None else []
        while codes:
            current = codes.pop()
            codes += [c for c in current.co_consts if isinstance(c, CodeType)]
            for name in current.co_names:
                if name not in read:
                    read.add(name)
                    if callable(getattr(base, name, None)) and not hasattr(WsmanTransport, name):
                        todo.append(name)
    return read


def _parameters(function: Any) -> list[str] | None:
    return list(inspect.signature(function).parameters) if callable(function) else None


def _version() -> str:
    try:
        return metadata.version("pywinrm")
    except metadata.PackageNotFoundError:
        return "(version unknown)"


class WsmanTransport:
    """What ``winrm.transport.Transport`` is, for Basic auth without pywinrm; other auth
    methods are delegated to pywinrm's code (module docstring)."""

    def __init__(self, endpoint: str, username: str | None = None, password: str | None = None,
                 realm: None = None, service: str | None = None, keytab: None = None,
                 ca_trust_path: str | None = "legacy_requests", cert_pem: str | None = None,
                 cert_key_pem: str | None = None, read_timeout_sec: float | None = None,
                 server_cert_validation: str | None = "validate", kerberos_delegation: bool | str = False,
                 kerberos_hostname_override: str | None = None, auth_method: str = "auto",
                 message_encryption: str = "auto", credssp_disable_tlsv1_2: bool = False,
                 credssp_auth_mechanism: str = "auto", credssp_minimum_version: int = 2,
                 send_cbt: bool = True, proxy: str | None = "legacy_requests") -> None:
        self.endpoint = endpoint
        self.username = username
        self.password = password
        self.realm = realm
        self.service = service
        self.keytab = keytab
        self.ca_trust_path = ca_trust_path
        self.cert_pem = cert_pem
        self.cert_key_pem = cert_key_pem
        self.read_timeout_sec = read_timeout_sec
        self.server_cert_validation = server_cert_validation
        self.kerberos_hostname_override = kerberos_hostname_override
        self.message_encryption = message_encryption
        self.credssp_disable_tlsv1_2 = credssp_disable_tlsv1_2
        self.credssp_auth_mechanism = credssp_auth_mechanism
        self.credssp_minimum_version = credssp_minimum_version
        self.send_cbt = send_cbt
        self.proxy = proxy
        if server_cert_validation not in (None, "validate", "ignore"):
            raise WinRMError(f"invalid server_cert_validation mode: {server_cert_validation}")
        self.kerberos_delegation = kerberos_delegation if isinstance(kerberos_delegation, bool) \
            else _strtobool(str(kerberos_delegation))
        self.auth_method = auth_method
        self.default_headers = {"Content-Type": "application/soap+xml;charset=UTF-8",
                                "User-Agent": "Python WinRM client"}
        if server_cert_validation == "ignore":
            # The admin opted out of verification: no warning on every request. (pywinrm also
            # silences two warnings of urllib3 1.x that urllib3 2 no longer has.)
            from urllib3.exceptions import InsecureRequestWarning
            warnings.simplefilter("ignore", category=InsecureRequestWarning)
        if auth_method != "kerberos":
            if auth_method == "certificate" or (auth_method == "ssl" and (cert_pem or cert_key_pem)):
                if not cert_pem or not cert_key_pem:
                    raise InvalidCredentialsError("both cert_pem and cert_key_pem must be specified for cert auth")
                if not os.path.exists(cert_pem):
                    raise InvalidCredentialsError(f"cert_pem file not found ({cert_pem})")
                if not os.path.exists(cert_key_pem):
                    raise InvalidCredentialsError(f"cert_key_pem file not found ({cert_key_pem})")
            else:
                if not username:
                    raise InvalidCredentialsError(f"auth method {auth_method} requires a username")
                if password is None:
                    raise InvalidCredentialsError(f"auth method {auth_method} requires a password")
        self.session: requests.Session | None = None
        # pywinrm's Encryption, for the auth methods that seal messages (NTLM, Kerberos, CredSSP).
        self.encryption: Any = None
        if message_encryption not in ("auto", "always", "never"):
            raise WinRMError(f"invalid message_encryption arg: {message_encryption}. "
                             f"Should be 'auto', 'always', or 'never'")

    @property
    def builds_own_session(self) -> bool:
        """Basic auth without a client certificate: built here, without pywinrm."""
        return self.auth_method in BASIC_AUTHS and not (self.cert_pem or self.cert_key_pem)

    def build_session(self) -> requests.Session:
        if self.session:
            return self.session
        if not self.builds_own_session:
            # pywinrm's own session building, on this object: it reads the same attributes
            # and calls back this object's setup_encryption and _send_message_request.
            return pywinrm_transport().Transport.build_session(self)
        session = requests.Session()
        self._apply_settings(session)
        session.auth = HTTPBasicAuth(username=self.username or "", password=self.password or "")
        session.headers.update(self.default_headers)
        self.session = session
        if self.message_encryption == "always":
            raise WinRMError(f"message encryption is set to 'always' but the selected auth method "
                             f"{self.auth_method} does not support it")
        return session

    def _apply_settings(self, session: requests.Session) -> None:
        """Proxies and certificate verification, as pywinrm's ``build_session`` sets them."""
        global _displayed_proxy_warning, _displayed_ca_trust_warning
        proxies: dict[str, str] = {}
        if self.proxy is None:
            proxies["no_proxy"] = "*"
        elif self.proxy != "legacy_requests":
            proxies["http"] = proxies["https"] = self.proxy
        settings = session.merge_environment_settings(url=self.endpoint, proxies=proxies, stream=None,
                                                      verify=None, cert=None)
        found = settings["proxies"]
        if not _displayed_proxy_warning and self.proxy == "legacy_requests" and ("http" in found or "https" in found):
            message = ("'pywinrm' will use an environment defined proxy. This feature will be disabled in "
                       "the future, please specify it explicitly.")
            for scheme in ("http", "https"):
                if scheme in found:
                    message += f" {scheme.upper()} proxy {found[scheme]} discovered."
            _displayed_proxy_warning = True
            warnings.warn(message, DeprecationWarning, stacklevel=3)
        session.proxies = found
        session.verify = self.server_cert_validation == "validate"
        if not session.verify:
            return
        if self.ca_trust_path == "legacy_requests" and settings["verify"] is not None:
            session.verify = settings["verify"]
            if not _displayed_ca_trust_warning and session.verify is not True:
                message = ("'pywinrm' will use an environment variable defined CA Trust. This feature will be "
                           "disabled in the future, please specify it explicitly.")
                for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
                    if os.environ.get(name) is not None:
                        message += f" {name} contains {os.environ.get(name)}"
                        break
                _displayed_ca_trust_warning = True
                warnings.warn(message, DeprecationWarning, stacklevel=3)
        elif self.ca_trust_path is not None:
            session.verify = self.ca_trust_path

    def setup_encryption(self, session: requests.Session) -> None:
        """pywinrm's (called from its build_session): a blank message sets the security
        context up, then its ``Encryption`` seals and opens the messages."""
        pywinrm_transport().Transport.setup_encryption(self, session)

    def close_session(self) -> None:
        if not self.session:
            return
        self.session.close()
        self.session = None

    def send_message(self, message: str | bytes) -> bytes:
        session = self.build_session()
        if isinstance(message, str):
            message = message.encode("utf-8")   # urllib3 wants bytes on TLS retries
        if self.encryption:
            prepared = self.encryption.prepare_encrypted_request(session, self.endpoint, message)
        else:
            prepared = session.prepare_request(requests.Request("POST", self.endpoint, data=message))
        return self._get_message_response_text(self._send_message_request(session, prepared))

    def _send_message_request(self, session: requests.Session,
                              prepared_request: requests.PreparedRequest) -> requests.Response:
        try:
            response = session.send(prepared_request, timeout=self.read_timeout_sec)
            response.raise_for_status()
            return response
        except requests.HTTPError as ex:
            answer = ex.response
            assert answer is not None     # raise_for_status sets it
            if answer.status_code == 401:
                raise InvalidCredentialsError("the specified credentials were rejected by the server") from ex
            text = self._get_message_response_text(answer) if answer.content else b""
            raise WinRMTransportError("http", answer.status_code, text.decode()) from ex

    def _get_message_response_text(self, response: requests.Response) -> bytes:
        if self.encryption:
            return self.encryption.parse_encrypted_response(response)
        return response.content


def _strtobool(value: str) -> bool:
    value = value.lower()
    if value in ("true", "t", "yes", "y", "on", "1"):
        return True
    if value in ("false", "f", "no", "n", "off", "0"):
        return False
    raise ValueError(f"invalid truth value '{value}'")
