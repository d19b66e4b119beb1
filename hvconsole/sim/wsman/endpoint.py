"""A simulated Windows host's WinRM listener on loopback: HTTP, authentication, faults.

Unmodified pywinrm talks to it as to a real host. Commands go to a ``ProcessRunner``; the
endpoint itself knows nothing of Hyper-V. See docs/architecture.md ("The simulated site").
"""

from __future__ import annotations

import ipaddress
import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from .auth import (
    SOAP_CONTENT_TYPE,
    Authenticated,
    AuthScheme,
    BadMessage,
    BasicAuth,
    EncryptionRequired,
)
from .control import EndpointStats, FaultControl
from .faults import encryption_required
from .replies import fault_response
from .runner import ProcessRunner
from .server import ConnectionSet, Listener, WsmanHandler
from .service import Caller, ShellService
from .shells import (
    IDLE_TIMEOUT_S,
    MAX_OPERATIONS_PER_USER,
    MAX_SHELL_RUN_TIME_S,
    MAX_SHELLS_PER_USER,
    ShellInfo,
    ShellTable,
)
from .soap import RequestError, parse_request

if TYPE_CHECKING:
    # cryptography's X.509 (~20 ms to import) only for HTTPS endpoints, which bring a TlsConfig.
    from .tls import TlsConfig

log = logging.getLogger(__name__)

# Far above any WS-Man envelope (Windows caps MaxEnvelopeSize at 500 KB); refuses junk early.
MAX_BODY_BYTES = 16 * 1024 * 1024


def _loopback_only(bind: str) -> str:
    if bind == "localhost":
        return "127.0.0.1"
    try:
        address = ipaddress.ip_address(bind)
    except ValueError:
        raise ValueError(f"bind must be a loopback IP address, not {bind!r}") from None
    if not address.is_loopback:
        raise ValueError(f"the simulated endpoint only binds to loopback, not {bind}")
    return str(address)


class WsmanEndpoint:
    """One simulated host's WS-Management endpoint. ``start()``, use ``url``, ``stop()``.

    ``auth``: ``basic``, ``ntlm`` or ``kerberos``. For Kerberos, ``keytab`` holds the key of
    the host's ``HTTP/<name>`` service principal and ``username`` is the one principal let
    in (``user@REALM``); the password is unused (the KDC checked it)."""

    def __init__(self, runner: ProcessRunner, *, username: str, password: str,
                 bind: str = "127.0.0.1", port: int = 0, name: str = "",
                 auth: str = "basic", tls: TlsConfig | None = None, keytab: str | None = None,
                 max_shells_per_user: int = MAX_SHELLS_PER_USER,
                 max_operations_per_user: int = MAX_OPERATIONS_PER_USER,
                 idle_timeout_s: float = IDLE_TIMEOUT_S,
                 max_shell_run_time_s: float = MAX_SHELL_RUN_TIME_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._bind = _loopback_only(bind)
        self._requested_port = port
        self.name = name
        self._tls = tls
        self._auth: AuthScheme = _make_auth(auth, username, password, tls, keytab)
        self.faults = FaultControl(self._set_listening)
        self.stats = EndpointStats()
        self._shells = ShellTable(runner, max_shells_per_user=max_shells_per_user,
                                  max_operations_per_user=max_operations_per_user,
                                  idle_timeout_s=idle_timeout_s,
                                  max_shell_run_time_s=max_shell_run_time_s, clock=clock)
        self._connections = ConnectionSet()
        self._lock = threading.Lock()
        self._listener: Listener | None = None
        self._service: ShellService | None = None
        self._state = "new"        # new -> running -> stopped
        self.port = 0

    # -- lifecycle ------------------------------------------------------------------------

    @property
    def url(self) -> str:
        if not self.port:
            raise RuntimeError("the endpoint has no URL before start()")
        host = f"[{self._bind}]" if ":" in self._bind else self._bind
        scheme = "https" if self._tls else "http"
        return f"{scheme}://{host}:{self.port}/wsman"

    def start(self) -> None:
        with self._lock:
            if self._state != "new":
                raise RuntimeError(f"endpoint already {self._state}")
            listener = self._open_listener(self._requested_port)
            self.port = listener.port
            self._listener = listener
            self._service = ShellService(self._shells, self.faults, self.stats,
                                         address=self.url, machine=self._bind)
            self._state = "running"
        if self.faults.mode == "refuse":   # refuse() was called before start()
            self._set_listening(False)

    def stop(self) -> None:
        """Idempotent; returns promptly even with hung or slow requests in progress."""
        with self._lock:
            if self._state == "stopped":
                return
            self._state = "stopped"
            listener, self._listener = self._listener, None
        self.faults.close()                 # wakes hung and slowed handlers
        if listener is not None:
            listener.close()
        self._connections.cut_all()
        self._shells.close_all()
        self._auth.close()

    def __enter__(self) -> WsmanEndpoint:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- inspection and host-level events -----------------------------------------------

    def shells(self) -> list[ShellInfo]:
        return self._shells.infos()

    def reset_shells(self) -> None:
        """Forget every shell and end every process, as a reboot or WinRM restart does."""
        self._shells.close_all()

    @property
    def open_connections(self) -> int:
        return len(self._connections)

    # -- listener management (FaultControl refuse/clear) ----------------------------------

    def _open_listener(self, port: int) -> Listener:
        ssl_context = self._tls.server_context() if self._tls else None
        return Listener(self._bind, port, self, self._connections, ssl_context, self.name)

    def _set_listening(self, listening: bool) -> None:
        with self._lock:
            if self._state != "running":
                return
            if listening and self._listener is None:
                self._listener = self._open_listener(self.port)   # the same port again
            elif not listening and self._listener is not None:
                self._listener.close()
                self._listener = None
                # A host that is down resets its established connections too.
                self._connections.cut_all()

    # -- RequestServer: called from connection threads ------------------------------------

    def new_connection(self, handler: WsmanHandler) -> None:
        binding = self._tls.channel_binding() if self._tls else None
        handler.connection_state = self._auth.for_connection(binding)
        self.stats.count("connections")

    def serve(self, handler: WsmanHandler) -> None:
        self.stats.count("requests_total")
        try:
            length = int(handler.headers.get("Content-Length", "0"))
        except ValueError:
            length = -1
        if not 0 <= length <= MAX_BODY_BYTES:
            handler.close_connection = True
            handler.send_plain(400, b"")
            return
        body = handler.rfile.read(length)
        mode = self.faults.mode
        if mode == "hang":
            # Read it, never answer it: when released, drop the connection unanswered.
            self.faults.wait_while_hung()
            handler.close_connection = True
            return
        if handler.path.split("?", 1)[0].rstrip("/").lower() != "/wsman":
            self._reply(handler, 404, b"")
            return
        conn = handler.connection_state
        assert conn is not None         # new_connection set it when the connection opened
        outcome = conn.authenticate(handler.headers.get("Authorization"), reject=mode == "unauthorized")
        auth_headers = tuple(("WWW-Authenticate", v) for v in outcome.www_authenticate)
        if not isinstance(outcome, Authenticated):
            self.stats.count("http_401")
            self._reply(handler, 401, b"", headers=auth_headers)
            return
        content_type = handler.headers.get("Content-Type", "")
        if content_type.lower().startswith("multipart/encrypted"):
            self.stats.count("encrypted_requests")
        try:
            plain = conn.open_body(content_type, body)
        except EncryptionRequired:
            self._reply_unencrypted_refusal(handler, body)
            return
        except BadMessage as exc:
            log.debug("undecodable body from %s: %s", handler.client_address, exc)
            self._reply(handler, 400, b"")
            return
        if not plain:
            # The empty POST pywinrm sends to finish authentication before encrypting.
            self._reply(handler, 200, b"", headers=auth_headers)
            return
        try:
            request = parse_request(plain)
        except RequestError as exc:
            log.debug("unreadable request from %s: %s", handler.client_address, exc)
            self._reply(handler, 400, b"")
            return
        assert self._service is not None
        reply = self._service.handle(request, Caller(outcome.user, handler.client_address[0]))
        if not reply.body:          # a bare status (HTTP 400 for an ended shell): nothing to seal
            self._reply(handler, reply.status, b"", headers=auth_headers)
            return
        sealed, sealed_type = conn.seal_body(reply.body)
        if sealed_type != SOAP_CONTENT_TYPE:
            self.stats.count("encrypted_replies")
        self._reply(handler, reply.status, sealed, headers=auth_headers, content_type=sealed_type)

    def _reply_unencrypted_refusal(self, handler: WsmanHandler, body: bytes) -> None:
        try:
            relates_to = parse_request(body).message_id
        except RequestError:
            self._reply(handler, 400, b"")
            return
        self.stats.count("faults")
        spec = encryption_required()
        self._reply(handler, spec.http_status, fault_response(relates_to, spec, self._bind),
                    content_type=SOAP_CONTENT_TYPE)

    def _reply(self, handler: WsmanHandler, status: int, body: bytes, *,
               headers: tuple[tuple[str, str], ...] = (), content_type: str | None = None) -> None:
        if not self.faults.delay_reply():
            handler.close_connection = True      # stopping: leave unanswered
            return
        handler.send_plain(status, body, headers, content_type)


def _make_auth(kind: str, username: str, password: str, tls: TlsConfig | None,
               keytab: str | None) -> AuthScheme:
    if kind == "basic":
        return BasicAuth(username, password)
    if kind == "ntlm":
        from .ntlm import NtlmAuth  # pyspnego is only needed for NTLM endpoints

        return NtlmAuth(username, password, require_encryption=tls is None)
    if kind == "kerberos":
        if not keytab:
            raise ValueError("a Kerberos endpoint needs the keytab of its HTTP/<host> service principal")
        from .kerberos import KerberosAuth  # gssapi is only needed for Kerberos endpoints

        # The password is unused: the KDC checked it when the client got its ticket.
        return KerberosAuth(keytab, username, require_encryption=tls is None)
    raise ValueError(f"unknown auth {kind!r}; use 'basic', 'ntlm' or 'kerberos'")
