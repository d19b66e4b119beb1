"""The endpoint's own HTTP/1.1 (read and written on socketserver): what a client sees on the
wire for requests pywinrm never sends, and keep-alive as pywinrm uses it."""

from __future__ import annotations

import base64
import socket

import pytest
from wsman_support import (  # noqa: F401 (fixtures)
    CREATE,
    Credentials,
    creds,
    endpoint,
    make_endpoint,
    runner,
    soap,
)

from hvconsole.sim.wsman import WsmanEndpoint
from hvconsole.sim.wsman.server import http_date

DEADLINE_S = 15.0


def _exchange(endpoint: WsmanEndpoint, raw: bytes) -> bytes:
    """Send ``raw``, read until the endpoint closes the connection."""
    with socket.create_connection(("127.0.0.1", endpoint.port), timeout=DEADLINE_S) as sock:
        sock.sendall(raw)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def _post(creds: Credentials, body: bytes, *, connection: str = "keep-alive", version: str = "HTTP/1.1") -> bytes:
    auth = base64.b64encode(f"{creds.username}:{creds.password}".encode()).decode()
    return (f"POST /wsman {version}\r\nHost: localhost\r\nAuthorization: Basic {auth}\r\n"
            f"Content-Type: application/soap+xml;charset=UTF-8\r\nConnection: {connection}\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode() + body


def _responses(data: bytes) -> list[tuple[str, dict[str, str], bytes]]:
    """Split what came back into (status line, headers by lower-case name, body)."""
    out = []
    while data:
        head, _, rest = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
        length = int(headers["content-length"])
        out.append((lines[0], headers, rest[:length]))
        data = rest[length:]
    return out


def test_keep_alive_answers_each_request_on_one_connection(endpoint: WsmanEndpoint, creds: Credentials) -> None:
    create = soap(CREATE, "<rsp:Shell><rsp:InputStreams>stdin</rsp:InputStreams></rsp:Shell>")
    raw = _post(creds, create) + _post(creds, create, connection="close")
    answers = _responses(_exchange(endpoint, raw))
    assert [status for status, _, _ in answers] == ["HTTP/1.1 200 OK"] * 2
    for _, headers, body in answers:
        assert headers["server"] == "Microsoft-HTTPAPI/2.0"
        assert headers["date"].endswith(" GMT") and body.startswith(b"<")
        assert headers["content-type"].startswith("application/soap+xml")
    assert answers[-1][1]["connection"] == "close"


def test_http_1_0_closes_after_one_answer(endpoint: WsmanEndpoint, creds: Credentials) -> None:
    create = soap(CREATE, "<rsp:Shell><rsp:InputStreams>stdin</rsp:InputStreams></rsp:Shell>")
    answers = _responses(_exchange(endpoint, _post(creds, create, connection="", version="HTTP/1.0")))
    assert [status for status, _, _ in answers] == ["HTTP/1.1 200 OK"]


@pytest.mark.parametrize(("raw", "status"), [
    (b"nonsense\r\n\r\n", "HTTP/1.1 400 Bad Request"),
    (b"POST /wsman HTTP/2.0\r\n\r\n", "HTTP/1.1 505 HTTP Version Not Supported"),
    (b"POST /wsman HTTP/1.1\r\nno colon here\r\n\r\n", "HTTP/1.1 400 Bad Request"),
    (b"POST /wsman HTTP/1.1\r\n" + b"X-A: b\r\n" * 101 + b"\r\n", "HTTP/1.1 431 Request Header Fields Too Large"),
    (b"POST /" + b"a" * 70000 + b" HTTP/1.1\r\n\r\n", "HTTP/1.1 414 URI Too Long"),
    (b"PUT /wsman HTTP/1.1\r\nContent-Length: 0\r\n\r\n", "HTTP/1.1 501 Not Implemented"),
])
def test_a_request_it_cannot_read_is_refused_and_the_connection_closed(
        endpoint: WsmanEndpoint, raw: bytes, status: str) -> None:
    answers = _responses(_exchange(endpoint, raw))
    assert [(s, h.get("connection")) for s, h, _ in answers] == [(status, "close")]


def test_get_is_not_allowed_and_the_connection_stays(endpoint: WsmanEndpoint, creds: Credentials) -> None:
    get = b"GET /wsman HTTP/1.1\r\nHost: localhost\r\n\r\n"
    answers = _responses(_exchange(endpoint, get + b"GET /wsman HTTP/1.1\r\nConnection: close\r\n\r\n"))
    assert [s for s, _, _ in answers] == ["HTTP/1.1 405 Method Not Allowed"] * 2


def test_http_date_is_english_whatever_the_locale() -> None:
    assert http_date(0) == "Thu, 01 Jan 1970 00:00:00 GMT"
    assert http_date(1_780_000_000) == "Thu, 28 May 2026 20:26:40 GMT"


def test_expect_100_continue_gets_the_interim_answer_before_the_final_one(
        endpoint: WsmanEndpoint, creds: Credentials) -> None:
    create = soap(CREATE, "<rsp:Shell><rsp:InputStreams>stdin</rsp:InputStreams></rsp:Shell>")
    raw = _post(creds, create, connection="close").replace(b"\r\n\r\n", b"\r\nExpect: 100-continue\r\n\r\n", 1)
    data = _exchange(endpoint, raw)
    assert data.startswith(b"HTTP/1.1 100 Continue\r\n\r\n")
    assert [s for s, _, _ in _responses(data.removeprefix(b"HTTP/1.1 100 Continue\r\n\r\n"))] == ["HTTP/1.1 200 OK"]


def test_an_http_1_0_client_gets_no_100_continue(endpoint: WsmanEndpoint, creds: Credentials) -> None:
    # RFC 9110 15.2.1: no 1xx answer to an HTTP/1.0 client, which cannot read one (http.server
    # sent none either); such a client sends its body without waiting.
    create = soap(CREATE, "<rsp:Shell><rsp:InputStreams>stdin</rsp:InputStreams></rsp:Shell>")
    raw = _post(creds, create, connection="", version="HTTP/1.0").replace(
        b"\r\n\r\n", b"\r\nExpect: 100-continue\r\n\r\n", 1)
    answers = _responses(_exchange(endpoint, raw))
    assert [s for s, _, _ in answers] == ["HTTP/1.1 200 OK"]
