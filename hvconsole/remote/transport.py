"""The WinRM HTTP transport (pywinrm's, as ``wsman_transport.py`` has it) with what it
lacks: a bound on how much of an answer is read, one deadline for the whole exchange (body
included) that a cancel can cut short, a count of HTTP requests, and the OS trust store for
HTTPS.

pywinrm reads every answer whole (``session.send`` without ``stream``), so a host that
answers with gigabytes would exhaust memory before any check could run. Here the answer
is streamed and abandoned as soon as it passes ``max_body_bytes``.

A socket timeout bounds one read, not an answer: a host that declares a length and then
sends one byte every half second would keep a call alive for hours. So every request is
registered with the process-wide watchdog (``watchdog.py``) for its deadline and cancel
token; when either comes, the watchdog shuts this transport's sockets down, the blocked
read returns at once, and the call fails as a timeout (or as cancelled). The sockets are
known because this transport's connection pools create them through
``_TrackedConnection`` (urllib3's ``_new_conn``), which records each one.

Once the connection is set up (authenticated, and for NTLM the sealing keys agreed), the
shell's requests take a lean path (:class:`_SteadyLane`): the request is sealed (NTLM by
``ntlm_sealing``, Kerberos by pywinrm's own ``Encryption``) and written straight onto the
kept connection with a head made once, and the answer read by ``lean_http`` instead of
requests, urllib3 and http.client. The guarantees above hold on
both paths. Whatever is not steady state stays on requests: the handshake, a connection
that has to be made again (NTLM and Kerberos must log it on first), CredSSP and client
certificates.
"""

from __future__ import annotations

import contextlib
import select
import socket
import threading
import time
import weakref
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from requests.auth import HTTPBasicAuth
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ClosedPoolError

from . import lean_http, trust
from .errors import RemoteError, seconds_text
from .target import CancelToken
from .watchdog import WATCHDOG, Watch
from .wsman_errors import InvalidCredentialsError, WinRMTransportError
from .wsman_transport import WsmanTransport

if TYPE_CHECKING:
    from .ntlm_sealing import NtlmSealing

_CHUNK = 64 * 1024


class BoundedTransport(WsmanTransport):
    """A :class:`.wsman_transport.WsmanTransport` that streams answers with a size cap and a
    deadline, and counts the HTTP requests it sends (NTLM handshake legs included)."""

    def __init__(self, *args: Any, host_label: str = "the host", max_body_bytes: int = 32 * 2**20,
                 output_limit_bytes: int | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.host_label = host_label
        self.max_body_bytes = max_body_bytes
        # The limit the admin configured (decoded output); the body cap above is larger
        # because of base64 and the envelope, but messages speak of this one.
        self.output_limit_bytes = output_limit_bytes or max_body_bytes
        self.deadline: float | None = None   # time.monotonic() value; None = no deadline
        self.timeout_s: float | None = None  # the call's whole timeout, for messages
        self.cancel: CancelToken | None = None
        self.requests_sent = 0
        self.sockets = SocketSet()
        self._lane: _SteadyLane | None = None

    def send_message(self, message: str | bytes) -> bytes:
        if isinstance(message, str):
            message = message.encode("utf-8")
        lane = self._lane or self._open_lane()
        if lane is not None:
            answer = lane.send(message)
            if answer is not None:
                return answer
            if self.auth_method in _CONNECTION_LOGONS:
                # The kept connection is gone (the host drops one idle for 2 minutes). NTLM
                # and Kerberos log a connection on, and the sealing keys are that logon's:
                # sent as it is, the message would meet a 401, the auth would log the new
                # connection on and resend it sealed with the old keys (HTTP 400). So: a
                # new session, which logs on first and seals with the new keys. The shell
                # lives on the host, not on the connection.
                self.close_session()
        return super().send_message(message)

    def close_session(self) -> None:
        lane, self._lane = self._lane, None
        if lane is not None:
            lane.release()
        super().close_session()

    def _open_lane(self) -> _SteadyLane | None:
        """The lean path, once this transport's connection is set up and its auth lets
        every request go out alike; None until then (or never: Kerberos, CredSSP, ...)."""
        session = self.session
        if session is None or not getattr(session, "_hvc_equipped", False):
            return None
        adapter = session.get_adapter(self.endpoint)
        pool = getattr(adapter, "last_pool", None)
        if pool is None or session.cert or any(session.proxies.get(k) for k in ("http", "https", "all")):
            return None
        auth = session.auth
        if self.auth_method in _CONNECTION_LOGONS:
            # Logged on once requests_ntlm holds the session keys, or the Kerberos auth has
            # checked the host's answer (mutual authentication); from then on the connection
            # carries the logon and requests go out without an Authorization header.
            if getattr(auth, "session_security" if self.auth_method == "ntlm" else "auth_done", None) in (None, False):
                return None
            if self.encryption is not None and not hasattr(self.encryption, "_encrypt_message"):
                return None
        elif not isinstance(auth, HTTPBasicAuth) or self.encryption is not None:
            return None     # CredSSP, client certificates: requests throughout
        self._lane = _SteadyLane(self, session, pool)
        return self._lane

    def _send_message_request(self, session: requests.Session,
                              prepared_request: requests.PreparedRequest) -> requests.Response:
        self._equip(session)
        self.requests_sent += 1
        with self._watched():
            response = session.send(prepared_request, timeout=self.read_timeout_sec, stream=True)
            # requests_ntlm keeps the 401 challenge legs in history: they were requests too.
            self.requests_sent += len(response.history)
            self._load_body(response)
        if response.status_code == 401:
            raise InvalidCredentialsError("the specified credentials were rejected by the server")
        if response.status_code >= 400:
            text = self._get_message_response_text(response) if response.content else b""
            raise WinRMTransportError("http", response.status_code, text.decode("utf-8", "replace"))
        return response

    def _watched(self) -> _Watched:
        """One request under the watchdog: at the deadline or on cancel it shuts this
        transport's sockets down, and whatever that makes the request raise (or its answer,
        if it completed just then: the socket is gone) becomes the timeout or cancel error."""
        cancel = self.cancel
        if cancel is None:
            return _Watched(self, WATCHDOG.watch(self.deadline, None, self._stop))
        if type(cancel) is CancelToken:     # it tells the watchdog when it is cancelled
            return _Watched(self, WATCHDOG.watch(self.deadline, None, self._stop, token=cancel))
        # A subclass cancelled from outside (the patch run's stop event, a GUI worker's
        # event) never calls cancel(): the watchdog asks it every tenth of a second.
        return _Watched(self, WATCHDOG.watch(self.deadline, lambda: cancel.cancelled, self._stop))

    def _check_deadline(self) -> None:
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise self._stopped("timeout")

    def _load_body(self, response: requests.Response) -> None:
        """Read the body into ``response.content`` without ever holding more than the cap."""
        limit = self.max_body_bytes
        declared = response.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > limit:
            response.close()
            raise self._too_large()
        chunks: list[bytes] = []
        total = 0
        try:
            for chunk in response.iter_content(_CHUNK):
                total += len(chunk)
                if total > limit:
                    raise self._too_large()
                chunks.append(chunk)
                self._check_deadline()
        except BaseException:
            response.close()  # an unread rest must not go back to the connection pool
            raise
        # What requests itself does when it preloads a body (Response.content).
        response._content = b"".join(chunks)
        response._content_consumed = True

    def _equip(self, session: requests.Session) -> None:
        """Once per requests session (pywinrm builds it, and may send the NTLM set-up
        request from inside ``build_session``, which comes through here first): our own
        adapters, so that every socket is known and HTTPS trusts the OS store."""
        if getattr(session, "_hvc_equipped", False):
            return
        context = trust.os_trust_context() if (
            self.endpoint.lower().startswith("https")
            and trust.uses_os_store(self.server_cert_validation, self.ca_trust_path)) else None
        for prefix in ("http://", "https://"):
            session.mount(prefix, _WatchedAdapter(self.sockets, ssl_context=context))
        # pywinrm has already merged the environment's proxy settings for this endpoint into
        # session.proxies (build_session); with trust_env on, requests would look them up
        # again on every send (resolve_proxies: about 5 % of a poll's client CPU, measured).
        session.trust_env = False
        session._hvc_equipped = True  # type: ignore[attr-defined]

    def _stop(self, why: str) -> None:
        """Called by the watchdog (its own thread): end whatever this transport is reading."""
        self.sockets.shutdown_all()

    def _stopped(self, why: str) -> RemoteError:
        if why == "cancelled":
            return RemoteError("timeout", f"the call to {self.host_label} was cancelled", cancelled=True)
        within = f" within {seconds_text(self.timeout_s)}" if self.timeout_s is not None else " in time"
        return RemoteError("timeout", f"no answer from {self.host_label}{within}")

    def _too_large(self) -> RemoteError:
        return RemoteError("protocol", f"the answer from {self.host_label} is larger than "
                                       f"{megabytes(self.output_limit_bytes)}")


class _Watched:
    """``with transport._watched() as watch:`` (a class rather than a generator: it runs
    three times a poll, on a worker whose caches went cold while it waited)."""

    __slots__ = ("_transport", "_watch")

    def __init__(self, transport: BoundedTransport, watch: Watch) -> None:
        self._transport = transport
        self._watch = watch

    def __enter__(self) -> Watch:
        return self._watch

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: object) -> None:
        watch = self._watch
        watch.done()    # after this the watchdog no longer fires it: ``fired`` is final
        if exc is not None and not isinstance(exc, Exception):
            return      # KeyboardInterrupt, SystemExit: as they are
        if watch.fired is not None:
            raise self._transport._stopped(watch.fired) from None


class _SteadyLane:
    """The lean path of one set-up transport: the kept connection of the pool requests
    used, a request head rendered once by urllib3 itself (so the bytes on the wire are
    the same as requests would send), and pywinrm's own sealing and unsealing."""

    def __init__(self, transport: BoundedTransport, session: requests.Session, pool: Any) -> None:
        self.transport = transport
        self.pool = pool
        prepared = session.prepare_request(requests.Request("POST", transport.endpoint, data=b"-"))
        headers = dict(prepared.headers)
        encryption = transport.encryption
        self.marker = ""
        self.host = None
        if encryption is not None:
            # What pywinrm's Encryption.prepare_encrypted_request sets (NTLM: one part).
            headers["Content-Type"] = (f'multipart/encrypted;protocol="{encryption.protocol_string.decode()}";'
                                       f'boundary="Encrypted Boundary"')
            self.marker = f'protocol="{encryption.protocol_string.decode()}"'
            self.host = urlsplit(transport.endpoint).hostname
        # NTLM sealing done here rather than through pyspnego's per-message work
        # (ntlm_sealing.py); Kerberos and any other NTLM context keep pywinrm's.
        self.sealing: NtlmSealing | None = None
        if encryption is not None and transport.auth_method == "ntlm":
            # Imported here: it uses pywinrm's exceptions, loaded by now (the NTLM logon
            # was pywinrm's), and a Basic-auth client never needs it.
            from .ntlm_sealing import NtlmSealing
            self.sealing = NtlmSealing.of(getattr(getattr(session.auth, "session_security", None), "_context", None))
        headers["Content-Length"] = _LENGTH_MARK
        before, after = _rendered_head(pool, prepared.path_url, headers).split(_LENGTH_MARK.encode())
        self.head_before, self.head_after = before, after
        # The kept connection stays with the lane between requests instead of going back
        # to the pool and out again (a queue and urllib3's dropped-connection check each
        # time); it is looked at with one poll(0) of a poll object kept for its socket.
        self._conn: Any = None
        self._poller: Any = None
        self._polled: Any = None     # the socket the poller watches
        # A lane dropped without release() (a session nobody closed) closes its connection
        # when collected, as urllib3's pool does with the connections it holds.
        self._held: list[Any] = [None]
        weakref.finalize(self, _close_held, self._held)

    def _take(self) -> Any:
        """The connection for the next request, or None when there is no live one (the
        caller then takes the requests path, which connects and authenticates)."""
        conn, self._conn = self._conn, None
        self._held[0] = None
        if conn is None:
            try:
                conn = self.pool._get_conn()    # urllib3 closes a connection the host has dropped
            except ClosedPoolError:
                return None
            if conn.sock is None:
                self.pool._put_conn(conn)
                return None
            return conn
        sock = conn.sock
        if sock is None or self._dropped(sock):
            # What urllib3's pool does with a connection the host has dropped (readable
            # while idle: closed, or something the host should not have sent).
            conn.close()
            self.pool._put_conn(conn)
            return None
        return conn

    def _dropped(self, sock: Any) -> bool:
        """Is the idle kept socket readable (closed by the host, or sent something it
        should not have)? One poll(0) of a poll object kept for the socket; Windows has no
        select.poll (https://docs.python.org/3/library/select.html#select.poll: "not
        supported by all operating systems"), where a zero-timeout select() asks the same."""
        if not _HAS_POLL:
            return bool(select.select([sock], [], [], 0)[0])
        if self._polled is not sock:
            self._poller = select.poll()
            self._poller.register(sock, select.POLLIN)
            self._polled = sock
        return bool(self._poller.poll(0))

    def release(self) -> None:
        """Hand the kept connection back to the pool (closed): the session is closing."""
        conn, self._conn = self._conn, None
        self._held[0] = None
        self._poller = self._polled = None
        if conn is not None:
            conn.close()
            self.pool._put_conn(conn)

    def send(self, message: bytes) -> bytes | None:
        """Send ``message`` and return the answer's text, or None if the kept connection
        is gone (the caller takes the requests path, which connects and authenticates)."""
        t = self.transport
        conn = self._take()
        if conn is None:
            return None
        encryption = t.encryption
        sealing = self.sealing
        if sealing is not None:
            body = sealing.body(message)
        elif encryption is not None:
            body = encryption._encrypt_message(message, self.host) + encryption.MIME_BOUNDARY + b"--\r\n"
        else:
            body = message
        t.requests_sent += 1
        with t._watched() as watch:
            keep = False
            try:
                conn.sock.settimeout(t.read_timeout_sec)
                request = b"%s%d%s%s" % (self.head_before, len(body), self.head_after, body)
                answer = lean_http.exchange(conn.sock, request, limit=t.max_body_bytes,
                                            after_read=t._check_deadline)
                keep = answer.keep_alive
            except lean_http.TooLarge:
                raise t._too_large() from None
            finally:
                if not keep or watch.fired is not None:
                    conn.close()    # an unfinished or unwanted stream never serves another request
                    self.pool._put_conn(conn)
                else:
                    self._conn = self._held[0] = conn
        status = answer.status
        text = answer.content
        if encryption is not None and self.marker in answer.headers.get("content-type", ""):
            if sealing is not None:
                text = sealing.open_body(text)
            else:
                text = encryption._decrypt_response(_Content(text), self.host)
        if status == 401:
            raise InvalidCredentialsError("the specified credentials were rejected by the server")
        if status >= 400:
            raise WinRMTransportError("http", status, text.decode("utf-8", "replace"))
        return text


_HAS_POLL = hasattr(select, "poll")


def _close_held(held: list[Any]) -> None:
    conn = held[0]
    if conn is not None:
        conn.close()


_LENGTH_MARK = "0000000000"
# Auth methods that log the connection on (not each request).
_CONNECTION_LOGONS = ("ntlm", "kerberos")


class _Content:
    """What pywinrm's ``Encryption._decrypt_response`` reads of a response."""

    __slots__ = ("content",)

    def __init__(self, content: bytes) -> None:
        self.content = content


class _HeadRecorder:
    """A stand-in socket that keeps what urllib3 writes to it."""

    def __init__(self) -> None:
        self.data = bytearray()

    def sendall(self, data: bytes) -> None:
        self.data += data

    def settimeout(self, timeout: float | None) -> None:
        pass

    def close(self) -> None:
        pass


def _rendered_head(pool: Any, path: str, headers: dict[str, str | bytes]) -> bytes:
    """The request head urllib3 writes for this pool (its Host header rules included)."""
    conn = pool.ConnectionCls(host=pool.host, port=pool.port)
    conn.sock = _HeadRecorder()
    try:
        conn.request("POST", path, body=None, headers=headers)
        return bytes(conn.sock.data)
    finally:
        conn.sock = None


def megabytes(n: int) -> str:
    """``8 MB`` / ``512 KB``: a size as an admin reads it."""
    mb = n / 2**20
    return f"{mb:.0f} MB" if mb >= 1 else f"{n // 1024} KB"


class SocketSet:
    """The live sockets of one transport (weakly held: a closed connection drops out)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sockets: weakref.WeakSet[socket.socket] = weakref.WeakSet()

    def add(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.add(sock)

    def shutdown_all(self) -> None:
        """Shut every socket down for reading and writing. Another thread blocked in a read
        on one of them returns at once (end of stream). The fd itself is left to its owner
        to close; ``socket.socket.shutdown`` is called on the plain socket level so that a
        TLS socket is not unwrapped under the reading thread's feet."""
        with self._lock:
            sockets = list(self._sockets)
        for sock in sockets:
            with contextlib.suppress(OSError):   # already closed or never connected
                socket.socket.shutdown(sock, socket.SHUT_RDWR)


def _tracked(base: type[HTTPConnection], sockets: SocketSet) -> type[HTTPConnection]:
    """``base`` (urllib3's HTTP(S)Connection) recording each socket it opens in ``sockets``:
    the plain socket as soon as it is connected, and for HTTPS also the TLS socket that
    replaces it (wrapping detaches the plain socket object from its descriptor, so shutting
    the old object down would do nothing). During the TLS handshake itself only the
    per-read timeout applies."""

    def _new_conn(self: HTTPConnection) -> socket.socket:
        sock = base._new_conn(self)
        sockets.add(sock)
        return sock

    def connect(self: HTTPConnection) -> None:
        base.connect(self)
        if self.sock is not None:
            sockets.add(self.sock)

    return type(f"Tracked{base.__name__}", (base,), {"_new_conn": _new_conn, "connect": connect})


class _WatchedAdapter(HTTPAdapter):
    """requests' adapter whose pools make tracked connections; with ``ssl_context`` (the OS
    trust store) HTTPS verifies against that context alone, not certifi's bundle."""

    def __init__(self, sockets: SocketSet, *, ssl_context=None):  # type: ignore[no-untyped-def]
        # init_poolmanager runs inside HTTPAdapter.__init__: set what it needs first.
        self._sockets = sockets
        self._ssl_context = ssl_context
        self.last_pool: Any = None
        super().__init__()

    def get_connection_with_tls_context(self, *args: Any, **kwargs: Any) -> Any:
        # The pool requests sends through (with its TLS settings): the lean path uses its
        # kept, authenticated connection.
        pool = super().get_connection_with_tls_context(*args, **kwargs)
        self.last_pool = pool
        return pool

    def init_poolmanager(self, connections: int, maxsize: int, block: bool = False,
                         **pool_kwargs: Any) -> None:
        if self._ssl_context is not None:
            pool_kwargs["ssl_context"] = self._ssl_context
        super().init_poolmanager(connections, maxsize, block, **pool_kwargs)
        http = type("TrackedHTTPConnectionPool", (HTTPConnectionPool,),
                    {"ConnectionCls": _tracked(HTTPConnection, self._sockets)})
        https = type("TrackedHTTPSConnectionPool", (HTTPSConnectionPool,),
                     {"ConnectionCls": _tracked(HTTPSConnection, self._sockets)})
        self.poolmanager.pool_classes_by_scheme = {"http": http, "https": https}

    def cert_verify(self, conn: Any, url: str, verify: Any, cert: Any) -> None:
        super().cert_verify(conn, url, verify, cert)
        if self._ssl_context is not None and verify is True:
            # requests would add certifi's bundle to the context; the OS store is the trust.
            conn.ca_certs = None
            conn.ca_cert_dir = None
