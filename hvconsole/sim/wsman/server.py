"""The HTTP side of the endpoint: a threaded listener that can be closed and reopened.

One thread per connection (daemon threads), so a hung or slow request never blocks another
connection, and nothing here ever waits for a handler thread: ``Listener.close`` stops
accepting and shuts every open connection down, which wakes any handler blocked on a read.
TLS, when configured, is negotiated in the connection's own thread, never in the accept loop.

The HTTP/1.1 it speaks is the little WinRM needs (a POST with a Content-Length, keep-alive
connections, answers with a Content-Length), read and written here on ``socketserver``
rather than through ``http.server``: that module imports the HTTP client, and with it the
e-mail parser and ``ssl``, ~10-15 ms of a demo site process's start before its first line
(the window's first polls wait for that line). ``ssl`` itself is imported only by an
endpoint with TLS (:mod:`.tls`).
"""

from __future__ import annotations

import logging
import socket
import socketserver
import threading
import time
from contextlib import suppress
from typing import TYPE_CHECKING, Protocol, overload

if TYPE_CHECKING:
    import ssl

    from .auth import ConnectionAuth

log = logging.getLogger(__name__)

# Windows' HTTP.sys drops an idle keep-alive connection after two minutes.
IDLE_CONNECTION_TIMEOUT_S = 120.0
TLS_HANDSHAKE_TIMEOUT_S = 10.0
MAX_LINE_BYTES = 65536        # a request line or one header line (http.server's limit)
MAX_HEADERS = 100             # header lines in one request (http.server's limit)
_REASONS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden",
            404: "Not Found", 405: "Method Not Allowed", 413: "Payload Too Large",
            414: "URI Too Long", 431: "Request Header Fields Too Large", 500: "Internal Server Error",
            501: "Not Implemented", 503: "Service Unavailable", 505: "HTTP Version Not Supported"}
_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def http_date(when: float | None = None) -> str:
    """An HTTP Date header's value (RFC 9110's IMF-fixdate, English names whatever the locale)."""
    t = time.gmtime(when)
    return (f"{_DAYS[t.tm_wday]}, {t.tm_mday:02d} {_MONTHS[t.tm_mon - 1]} {t.tm_year} "
            f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} GMT")


class Headers:
    """A request's header fields by case-insensitive name; the first of a repeated name wins
    (as ``http.server``'s message did for ``get``)."""

    def __init__(self, fields: list[tuple[str, str]]) -> None:
        self._by_name: dict[str, str] = {}
        for name, value in fields:
            self._by_name.setdefault(name.lower(), value)

    @overload
    def get(self, name: str) -> str | None: ...

    @overload
    def get(self, name: str, default: str) -> str: ...

    def get(self, name: str, default: str | None = None) -> str | None:
        return self._by_name.get(name.lower(), default)


class _BadRequest(Exception):
    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


class RequestServer(Protocol):
    """Whoever answers the requests that arrive on a connection."""

    def serve(self, handler: WsmanHandler) -> None: ...

    def new_connection(self, handler: WsmanHandler) -> None: ...


class ConnectionSet:
    """Open sockets of one endpoint, so that they can all be cut at once."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._socks: set[socket.socket] = set()

    def add(self, sock: socket.socket) -> None:
        with self._lock:
            self._socks.add(sock)

    def discard(self, sock: socket.socket) -> None:
        with self._lock:
            self._socks.discard(sock)

    def __len__(self) -> int:
        with self._lock:
            return len(self._socks)

    def cut_all(self) -> None:
        with self._lock:
            socks = list(self._socks)
        for sock in socks:
            # socket.socket.shutdown, not SSLSocket.shutdown: no TLS goodbye, just EOF.
            with suppress(OSError):
                socket.socket.shutdown(sock, socket.SHUT_RDWR)


class WsmanHandler(socketserver.StreamRequestHandler):
    """One connection: its requests read and answered in turn until either end closes it."""

    server_version = "Microsoft-HTTPAPI/2.0"
    timeout = IDLE_CONNECTION_TIMEOUT_S
    # Buffered writes: status line, headers and body leave in one segment, which avoids the
    # Nagle/delayed-ACK stall (40 ms per request) of writing headers and body separately.
    wbufsize = 64 * 1024
    server: _HttpServer
    # Set by the endpoint when the connection opens (per-connection authentication state).
    connection_state: ConnectionAuth | None = None
    # The request being answered (set by _read_request).
    command = ""
    path = ""
    request_version = "HTTP/1.1"
    headers: Headers = Headers([])
    close_connection = True

    def setup(self) -> None:
        super().setup()
        self.server.request_server.new_connection(self)

    def handle(self) -> None:
        self.close_connection = True
        self._handle_one()
        while not self.close_connection:
            self._handle_one()

    def _handle_one(self) -> None:
        try:
            if not self._read_request():
                self.close_connection = True
                return
        except _BadRequest as bad:
            self.close_connection = True
            self.send_plain(bad.status, b"")
            return
        except TimeoutError:         # idle keep-alive connection: closed, as HTTP.sys does
            self.close_connection = True
            return
        if self.command == "POST":
            self.do_POST()
        elif self.command == "GET":
            self.do_GET()
        else:
            self.close_connection = True
            self.send_plain(501, b"")
        self.wfile.flush()

    def _read_request(self) -> bool:
        """Read a request line and its header fields; False when the peer closed instead."""
        line = self.rfile.readline(MAX_LINE_BYTES + 1)
        if not line:
            return False
        if len(line) > MAX_LINE_BYTES:
            raise _BadRequest(414)
        words = line.decode("iso-8859-1").rstrip("\r\n").split()
        if len(words) != 3 or not words[2].startswith("HTTP/"):
            raise _BadRequest(400)
        self.command, self.path, self.request_version = words
        if self.request_version not in ("HTTP/1.1", "HTTP/1.0"):
            raise _BadRequest(505)
        fields: list[tuple[str, str]] = []
        while True:
            line = self.rfile.readline(MAX_LINE_BYTES + 1)
            if len(line) > MAX_LINE_BYTES:
                raise _BadRequest(431)
            if line in (b"\r\n", b"\n", b""):
                break
            if len(fields) >= MAX_HEADERS:
                raise _BadRequest(431)
            name, colon, value = line.decode("iso-8859-1").partition(":")
            if not colon or not name or name != name.strip():
                raise _BadRequest(400)
            fields.append((name, value.strip()))
        self.headers = Headers(fields)
        connection = (self.headers.get("Connection") or "").lower()
        if self.request_version == "HTTP/1.0":
            self.close_connection = connection != "keep-alive"
        else:
            self.close_connection = connection == "close"
        # No 1xx answer to an HTTP/1.0 client (RFC 9110 15.2.1; http.server sent none either).
        if self.request_version != "HTTP/1.0" and (self.headers.get("Expect") or "").lower() == "100-continue":
            self.wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            self.wfile.flush()
        return True

    def do_POST(self) -> None:
        self.server.request_server.serve(self)

    def do_GET(self) -> None:
        self.send_plain(405, b"")

    def send_plain(self, status: int, body: bytes, headers: tuple[tuple[str, str], ...] = (),
                   content_type: str | None = None) -> None:
        lines = [f"HTTP/1.1 {status} {_REASONS.get(status, '')}".rstrip(),
                 f"Server: {self.server_version}", f"Date: {http_date()}"]
        for name, value in headers:
            lines.append(f"{name}: {value}")     # never Connection: set close_connection instead
        if content_type and body:
            lines.append(f"Content-Type: {content_type}")
        lines.append(f"Content-Length: {len(body)}")
        if self.close_connection:
            lines.append("Connection: close")
        self.wfile.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        if body:
            self.wfile.write(body)
        self.wfile.flush()


class _HttpServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True        # as http.server's: a reopened port binds at once
    request_queue_size = 64

    def __init__(self, address: tuple[str, int], family: socket.AddressFamily,
                 request_server: RequestServer, connections: ConnectionSet,
                 tls: ssl.SSLContext | None) -> None:
        self.address_family = family
        self.request_server = request_server
        self.connections = connections
        self.tls = tls
        self.closing = False
        super().__init__(address, WsmanHandler)

    def finish_request(self, request: socket.socket | tuple[bytes, socket.socket], client_address: tuple) -> None:
        # Runs in the connection's own thread (ThreadingMixIn).
        if not isinstance(request, socket.socket):
            # socketserver's type also covers a datagram server's (data, socket) pair.
            raise TypeError("a stream server's request is its accepted socket")
        if self.closing:        # accepted just before close(): a closed port answers nothing
            return
        conn: socket.socket = request
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.connections.add(conn)
        try:
            if self.tls is not None:
                self.connections.discard(conn)
                conn = self.tls.wrap_socket(request, server_side=True, do_handshake_on_connect=False)
                self.connections.add(conn)
                conn.settimeout(TLS_HANDSHAKE_TIMEOUT_S)
                try:
                    conn.do_handshake()
                except OSError as exc:          # ssl.SSLError is an OSError
                    log.debug("TLS handshake with %s failed: %s", client_address, exc)
                    return
            WsmanHandler(conn, client_address, self)
        finally:
            self.connections.discard(conn)
            if conn is not request:
                conn.close()

    def handle_error(self, request: object, client_address: tuple) -> None:
        # A client that disconnects mid-request is routine here (timeouts, fault tests).
        log.debug("connection from %s ended with an error", client_address, exc_info=True)


class Listener:
    """A listening socket and its accept thread; ``close`` frees the port immediately."""

    def __init__(self, bind: str, port: int, request_server: RequestServer,
                 connections: ConnectionSet, tls: ssl.SSLContext | None, name: str) -> None:
        family = socket.AF_INET6 if ":" in bind else socket.AF_INET
        self._server = _HttpServer((bind, port), family, request_server, connections, tls)
        self.port: int = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
            name=f"wsman-listener-{name or self.port}", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._server.closing = True
        self._server.shutdown()        # returns within one poll interval
        self._server.server_close()

