"""The HTTP side of the endpoint: a threaded listener that can be closed and reopened.

One thread per connection (daemon threads), so a hung or slow request never blocks another
connection, and nothing here ever waits for a handler thread: ``Listener.close`` stops
accepting and shuts every open connection down, which wakes any handler blocked on a read.
TLS, when configured, is negotiated in the connection's own thread, never in the accept loop.
"""

from __future__ import annotations

import logging
import socket
import ssl
import threading
from contextlib import suppress
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from .auth import ConnectionAuth

log = logging.getLogger(__name__)

# Windows' HTTP.sys drops an idle keep-alive connection after two minutes.
IDLE_CONNECTION_TIMEOUT_S = 120.0
TLS_HANDSHAKE_TIMEOUT_S = 10.0


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


class WsmanHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"          # keep-alive: NTLM authenticates the connection
    server_version = "Microsoft-HTTPAPI/2.0"
    sys_version = ""
    timeout = IDLE_CONNECTION_TIMEOUT_S
    # Buffered writes: status line, headers and body leave in one segment, which avoids the
    # Nagle/delayed-ACK stall (40 ms per request) of writing headers and body separately.
    wbufsize = 64 * 1024
    server: _HttpServer
    # Set by the endpoint when the connection opens (per-connection authentication state).
    connection_state: ConnectionAuth | None = None

    def setup(self) -> None:
        super().setup()
        self.server.request_server.new_connection(self)

    def do_POST(self) -> None:  # the name http.server calls
        self.server.request_server.serve(self)

    def do_GET(self) -> None:
        self.send_plain(405, b"")

    def send_plain(self, status: int, body: bytes, headers: tuple[tuple[str, str], ...] = (),
                   content_type: str | None = None) -> None:
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        if content_type and body:
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body:
            self.wfile.write(body)
        self.wfile.flush()

    def log_message(self, format: str, *args: object) -> None:  # the stdlib signature, parameter name included
        log.debug("%s %s", self.address_string(), format % args)


class _HttpServer(ThreadingHTTPServer):
    daemon_threads = True
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
                except (OSError, ssl.SSLError) as exc:
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

