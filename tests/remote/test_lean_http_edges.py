"""lean_http on answers a host (or something posing as one) may send besides the usual one:
split across reads, after a 100 Continue, error statuses, bodies that end other ways, and
numbers written with characters Python's int() reads but HTTP does not allow."""

from __future__ import annotations

import socket
import threading

import pytest
from requests.exceptions import ChunkedEncodingError
from urllib3.exceptions import ProtocolError

from hvconsole.remote import lean_http


def exchange(*parts: bytes, limit: int = 1 << 20) -> lean_http.Answer:
    """The answer to one request when the server sends ``parts`` one write at a time (each
    after the previous one has been read)."""
    client, server = socket.socketpair()
    reads: list[int] = []

    def after_read() -> None:
        reads.append(1)
        if len(reads) < len(parts):
            server.sendall(parts[len(reads)])
        elif len(reads) == len(parts):
            server.shutdown(socket.SHUT_WR)

    try:
        server.sendall(parts[0])
        client.settimeout(5)
        return lean_http.exchange(client, b"POST / HTTP/1.1\r\n\r\n", limit=limit, after_read=after_read)
    finally:
        client.close()
        server.close()


def answer_of(raw: bytes, limit: int = 1 << 20) -> lean_http.Answer:
    return exchange(raw, limit=limit)


def test_an_answer_split_across_reads_anywhere_reads_the_same():
    raw = b"HTTP/1.1 200 OK\r\nContent-Type: application/soap+xml\r\nContent-Length: 10\r\n\r\n0123456789"
    whole = answer_of(raw)
    for at in range(1, len(raw)):
        split = exchange(raw[:at], raw[at:])
        assert (split.status, split.headers, split.content, split.keep_alive) == \
               (whole.status, whole.headers, whole.content, whole.keep_alive), at


def test_a_100_continue_before_the_answer_is_skipped():
    answer = answer_of(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
    assert (answer.status, answer.content, answer.keep_alive) == (200, b"ok", True)


@pytest.mark.parametrize("status", [401, 500])
def test_error_statuses_take_the_short_way_with_their_body(status):
    answer = answer_of(b"HTTP/1.1 %d Err\r\nContent-Length: 5\r\n\r\nfault" % status)
    assert (answer.status, answer.content, answer.keep_alive) == (status, b"fault", True)


def test_connection_close_and_a_body_to_the_close():
    answer = answer_of(b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok")
    assert (answer.content, answer.keep_alive) == (b"ok", False)
    answer = answer_of(b"HTTP/1.1 200 OK\r\n\r\nto the end")
    assert (answer.content, answer.keep_alive) == (b"to the end", False)


def test_chunked_wins_over_a_content_length():
    answer = answer_of(b"HTTP/1.1 200 OK\r\nContent-Length: 99\r\nTransfer-Encoding: chunked\r\n\r\n"
                       b"2\r\nok\r\n0\r\n\r\n")
    assert (answer.content, answer.keep_alive) == (b"ok", True)


def test_two_answers_in_one_buffer_end_the_connection():
    answer = answer_of(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
    assert (answer.content, answer.keep_alive) == (b"ok", False)


def test_a_body_shorter_than_its_content_length_is_cut_off():
    with pytest.raises(ChunkedEncodingError):
        answer_of(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nok")


def test_a_content_length_over_the_limit_is_too_large():
    with pytest.raises(lean_http.TooLarge):
        answer_of(b"HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n0123456789a", limit=10)


# Characters str.isdigit() accepts in a Latin-1 header that are no HTTP digits (superscripts;
# int() refuses them with a ValueError), and a number too long for int() to read from text.
@pytest.mark.parametrize("length", ["\u00b2", "1\u00b9", " \u00b3 ", "2, \u00b2", "1" * 5000, "0" * 4999 + "2"])
def test_a_content_length_that_is_no_http_number_is_a_protocol_error(length):
    with pytest.raises(ProtocolError):
        answer_of(b"HTTP/1.1 200 OK\r\nContent-Length: " + length.encode("iso-8859-1") + b"\r\n\r\nok")


@pytest.mark.parametrize("code", ["\u00b200", "2\u00b90"])
def test_a_status_code_that_is_no_http_number_is_a_bad_status_line(code):
    with pytest.raises(ProtocolError):
        answer_of(b"HTTP/1.1 " + code.encode("iso-8859-1") + b" OK\r\nContent-Length: 2\r\n\r\nok")


def test_answers_are_not_changed_after_they_are_made():
    """Answer is no longer frozen (cheaper to make); nothing in the package assigns to one."""
    import pathlib
    import re

    import hvconsole
    root = pathlib.Path(hvconsole.__file__).parent
    assigned = re.compile(r"\banswer\.(status|headers|content|keep_alive)\s*=[^=]")
    hits = [p for p in root.rglob("*.py") if assigned.search(p.read_text(encoding="utf-8"))]
    assert hits == []


def test_exchanges_on_many_threads_do_not_share_state():
    raw = b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\n%04d"
    results: dict[int, bytes] = {}

    def one(i: int) -> None:
        results[i] = answer_of(raw % i).content

    threads = [threading.Thread(target=one, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == {i: b"%04d" % i for i in range(16)}
