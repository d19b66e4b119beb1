"""lean_http's short ways for the usual answer give what the general steps give."""

from __future__ import annotations

import socket

import pytest
from urllib3.exceptions import ProtocolError

from hvconsole.remote import lean_http


def exchange(raw: bytes) -> lean_http.Answer:
    client, server = socket.socketpair()
    try:
        server.sendall(raw)
        server.shutdown(socket.SHUT_WR)
        client.settimeout(5)
        return lean_http.exchange(client, b"POST / HTTP/1.1\r\n\r\n", limit=1 << 20, after_read=lambda: None)
    finally:
        client.close()
        server.close()


@pytest.mark.parametrize("raw, keep", [
    (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", True),
    (b"HTTP/1.1 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok", True),
    (b"HTTP/1.1 200 OK\r\nConnection: Keep-Alive, Close\r\nContent-Length: 2\r\n\r\nok", False),
    (b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok", True),
    (b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok", False),
    (b"HTTP/1.1 200 OK\r\nContent-Length:  2 \r\n\r\nok", True),        # spaces around the value
    (b"HTTP/1.1 200 OK\r\nContent-Length: 2, 2\r\n\r\nok", True),       # repeated, equal
    (b"HTTP/1.1 200 OK\r\nContent-Encoding: identity\r\nContent-Length: 2\r\n\r\nok", True),
    (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokMORE", False),     # bytes past the answer
])
def test_the_usual_and_the_unusual_answer(raw, keep):
    answer = exchange(raw)
    assert (answer.status, answer.content, answer.keep_alive) == (200, b"ok", keep)


@pytest.mark.parametrize("length", [b"2, 3", b"-2", b"two", b"0x2"])
def test_a_bad_content_length_is_refused(length):
    with pytest.raises(ProtocolError):
        exchange(b"HTTP/1.1 200 OK\r\nContent-Length: " + length + b"\r\n\r\nok")


def test_a_body_read_whole_leaves_the_reader_empty_for_the_next_chunk():
    raw = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n3\r\nabc\r\n0\r\n\r\n"
    assert exchange(raw).content == b"okabc"
