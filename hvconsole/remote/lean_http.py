"""One HTTP/1.1 request and its answer on a socket that is already connected, without the
requests, urllib3 and http.client layers.

In a shell's steady state every request is a POST to the same endpoint over the same kept
connection (NTLM authenticates the connection, not the request), so the request head can be
made once and a request is one ``sendall``. Per request, requests' session and adapter work
(settings merging, hooks, cookies, redirect checks), urllib3's pool and response objects and
http.client's header parsing (an ``email`` parser per answer) came to about 1 ms of CPU, more
than the sealing, the XML and the JSON of a poll together. What is left here is what HTTP/1.1
itself asks of a client: the status line, the headers, and the three ways a body ends
(Content-Length, chunked, connection close), with a cap on its size and a check after every
read (the caller's deadline).

Failures are raised as the exceptions the requests path raises for the same event, so that
``errors.classify`` words them the same: a connection closed before the answer is urllib3's
``ProtocolError`` ("closed the connection"), a body cut off is requests'
``ChunkedEncodingError``, a socket timeout stays a ``TimeoutError``.
"""

from __future__ import annotations

import http.client
import socket
import zlib
from collections.abc import Callable
from dataclasses import dataclass

from requests.exceptions import ChunkedEncodingError, ContentDecodingError
from urllib3.exceptions import ProtocolError

# 64 KB a read: a larger buffer is above malloc's mmap threshold, and mapping and unmapping
# it costs more than the extra reads it saves (~30 µs a read, measured on loopback).
_RECV = 64 * 1024
# http.client's limits: a header line of 64 KB, 100 headers.
MAX_HEAD_BYTES = 64 * 1024
MAX_HEADERS = 100


# Not frozen: a frozen dataclass sets each field through object.__setattr__ (four calls an
# answer, three answers a poll); nothing changes an Answer after it is made.
@dataclass(slots=True)
class Answer:
    status: int
    headers: dict[str, str]     # names in lower case; repeated headers joined with ", "
    content: bytes              # decoded (Content-Encoding) body
    keep_alive: bool            # the connection may carry the next request


class TooLarge(Exception):
    """The body is larger than the caller's cap (raised before it is all read)."""


def exchange(sock: socket.socket, request: bytes, *, limit: int, after_read: Callable[[], None],
             head_only: bool = False) -> Answer:
    """Send ``request`` (head and body, as bytes) and read one answer. ``after_read`` runs
    after every read (it raises to stop, e.g. past a deadline); bodies over ``limit`` bytes
    raise :class:`TooLarge`. ``head_only``: the request was HEAD (no body follows)."""
    sock.sendall(request)
    reader = _Reader(sock, after_read)
    while True:
        version, status, headers = reader.head()
        if not 100 <= status < 200 or status == 101:
            break   # 1xx interim answers (100 Continue) are skipped, as http.client does
    get = headers.get
    # The usual answer (HTTP/1.1, no Connection header, a plain Content-Length, no
    # Content-Encoding) takes the shortest way through each step below.
    keep = True if version == "HTTP/1.1" and "connection" not in headers else _keeps_alive(version, headers)
    transfer = get("transfer-encoding")
    if head_only or status in (204, 304) or 100 <= status < 200:
        raw = b""
    elif transfer is not None and "chunked" in transfer.lower():
        raw = reader.chunked(limit)
    elif (length_text := get("content-length")) is not None:
        # isdigit() alone also takes Latin-1's superscript digits, which int() refuses.
        usual = len(length_text) < 19 and length_text.isascii() and length_text.isdigit()
        length = int(length_text) if usual else _content_length(length_text)
        if length > limit:
            raise TooLarge
        raw = reader.exactly(length)
    else:
        raw = reader.until_close(limit)
        keep = False
    if reader.pending():
        keep = False        # bytes past the answer: the stream is not where HTTP says it is
    coding = get("content-encoding")
    return Answer(status, headers, raw if coding is None else _decoded(raw, coding, limit), keep)


class _Reader:
    __slots__ = ("_sock", "_after_read", "_buf")

    def __init__(self, sock: socket.socket, after_read: Callable[[], None]) -> None:
        self._sock = sock
        self._after_read = after_read
        self._buf = bytearray()

    def _fill(self) -> bool:
        data = self._sock.recv(_RECV)
        self._after_read()
        if not data:
            return False
        self._buf += data
        return True

    def pending(self) -> bool:
        return bool(self._buf)

    def head(self) -> tuple[str, int, dict[str, str]]:
        buf = self._buf
        start = 0
        while True:
            end = buf.find(b"\r\n\r\n", max(0, start - 3))
            if end >= 0:
                break
            if len(buf) > MAX_HEAD_BYTES:
                raise ProtocolError("Connection aborted.", http.client.LineTooLong("header section"))
            start = len(buf)
            if not self._fill():
                raise ProtocolError("Connection aborted.", http.client.RemoteDisconnected(
                    "Remote end closed connection without response"))
        lines = buf[:end].decode("iso-8859-1").split("\r\n")
        del buf[:end + 4]
        version, _, rest = lines[0].partition(" ")
        code = rest[:3]
        if not version.startswith("HTTP/") or not (code.isascii() and code.isdigit()):
            raise ProtocolError("Connection aborted.", http.client.BadStatusLine(lines[0]))
        if len(lines) > MAX_HEADERS + 1:
            raise ProtocolError("Connection aborted.", http.client.HTTPException("got more than 100 headers"))
        headers: dict[str, str] = {}
        last = ""
        for line in lines[1:]:
            if line[:1] in (" ", "\t") and last:        # an obsolete folded continuation
                headers[last] += " " + line.strip()
                continue
            name, _, value = line.partition(":")
            last = name.strip().lower()
            value = value.strip()
            headers[last] = f"{headers[last]}, {value}" if last in headers else value
        return version, int(code), headers

    def exactly(self, length: int) -> bytes:
        buf = self._buf
        while len(buf) < length:
            if not self._fill():
                raise _cut_off(len(buf), length)
        if len(buf) == length:      # the usual end of an answer: all of the buffer
            self._buf = bytearray()
            return bytes(buf)
        body = bytes(buf[:length])
        del buf[:length]
        return body

    def until_close(self, limit: int) -> bytes:
        while len(self._buf) <= limit:
            if not self._fill():
                break
        if len(self._buf) > limit:
            raise TooLarge
        body = bytes(self._buf)
        self._buf.clear()
        return body

    def line(self) -> bytes:
        buf = self._buf
        while (end := buf.find(b"\r\n")) < 0:
            if len(buf) > MAX_HEAD_BYTES:
                raise ChunkedEncodingError(ProtocolError("chunk line too long"))
            if not self._fill():
                raise _cut_off(len(buf), None)
        line = bytes(buf[:end])
        del buf[:end + 2]
        return line

    def chunked(self, limit: int) -> bytes:
        parts: list[bytes] = []
        total = 0
        while True:
            size_text = self.line().split(b";", 1)[0].strip()
            try:
                size = int(size_text, 16)
            except ValueError:
                raise ChunkedEncodingError(ProtocolError(f"invalid chunk length {size_text!r}")) from None
            if size == 0:
                while self.line():      # trailers, up to the empty line
                    pass
                return b"".join(parts)
            total += size
            if total > limit:
                raise TooLarge
            parts.append(self.exactly(size))
            if self.line():
                raise ChunkedEncodingError(ProtocolError("a chunk did not end where its length says"))


def _keeps_alive(version: str, headers: dict[str, str]) -> bool:
    tokens = {t.strip().lower() for t in headers.get("connection", "").split(",")}
    if version == "HTTP/1.0":
        return "keep-alive" in tokens
    return "close" not in tokens


def _content_length(text: str) -> int:
    values = {v.strip() for v in text.split(",")}
    if len(values) == 1 and (value := values.pop()).isascii() and value.isdigit():
        try:
            return int(value)
        except ValueError:
            pass    # more digits than int() reads from text (sys.get_int_max_str_digits)
    raise ProtocolError("Connection aborted.", http.client.HTTPException(f"bad Content-Length {text!r}"))


def _cut_off(got: int, expected: int | None) -> ChunkedEncodingError:
    return ChunkedEncodingError(ProtocolError(
        "Connection broken: IncompleteRead", http.client.IncompleteRead(b"", expected and expected - got)))


def _decoded(raw: bytes, encoding: str, limit: int) -> bytes:
    """The body without its Content-Encoding (what requests accepts: gzip, deflate), never
    more than ``limit`` + 1 bytes of it."""
    coding = encoding.strip().lower()
    if not raw or coding in ("", "identity"):
        return raw
    if coding in ("gzip", "x-gzip"):
        wbits = [16 + zlib.MAX_WBITS]
    elif coding == "deflate":
        wbits = [zlib.MAX_WBITS, -zlib.MAX_WBITS]   # zlib-wrapped, or raw as some servers send
    else:
        raise ContentDecodingError(f"unsupported Content-Encoding {encoding!r}")
    for bits in wbits:
        try:
            body = zlib.decompressobj(bits).decompress(raw, limit + 1)
        except zlib.error:
            continue
        if len(body) > limit:
            raise TooLarge
        return body
    raise ContentDecodingError(f"the {coding} body could not be decoded")
