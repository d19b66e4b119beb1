"""The transport's lean steady-state path (remote/transport.py, remote/lean_http.py): once a
connection is set up, the shell's requests bypass requests/urllib3/http.client. What must not
change: the bytes on the wire, the answers, the deadline and cancel, the size cap, the
request count, and what happens when the host drops the kept connection."""

from __future__ import annotations

import contextlib
import dataclasses
import gzip
import json
import socket
import threading
import time
import zlib
from pathlib import Path

import pytest
import requests.adapters
from requests.exceptions import ChunkedEncodingError, ContentDecodingError
from scripted_host import ScriptedRunner, good_answer
from urllib3.exceptions import ProtocolError

from hvconsole.remote import lean_http
from hvconsole.remote.collector import Collector
from hvconsole.remote.errors import classify
from hvconsole.remote.target import CancelToken

EXAMPLE = Path(__file__).resolve().parents[1] / "fixtures" / "contracts" / "example-trace.jsonl"


def host_doc() -> dict:
    doc = json.loads(EXAMPLE.read_text(encoding="utf-8").splitlines()[0])
    for key in ("schema", "host", "polled_at", "reachable", "error"):
        doc.pop(key)
    return doc


def runner() -> ScriptedRunner:
    return ScriptedRunner(lambda params: good_answer(host_doc()))


class Relay:
    """A TCP relay in front of an endpoint that keeps every byte the client sent."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.sent = bytearray()
        self._lock = threading.Lock()
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True, name="relay-accept").start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
            threading.Thread(target=self._pump, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, False), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, record: bool) -> None:
        try:
            while data := src.recv(65536):
                if record:
                    with self._lock:
                        self.sent += data
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)

    def requests(self) -> list[tuple[bytes, bytes]]:
        """(head, body) of every request sent, in order."""
        with self._lock:
            data = bytes(self.sent)
        out = []
        while data:
            head, _, rest = data.partition(b"\r\n\r\n")
            length = next(int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                          if line.lower().startswith(b"content-length:"))
            out.append((head, rest[:length]))
            data = rest[length:]
        return out

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def adapter_sends(monkeypatch):
    """How many requests went through requests' HTTPAdapter (the non-lean path)."""
    count = [0]
    original = requests.adapters.HTTPAdapter.send

    def counting(self, request, *args, **kwargs):
        count[0] += 1
        return original(self, request, *args, **kwargs)

    monkeypatch.setattr(requests.adapters.HTTPAdapter, "send", counting)
    return count


def _without_length(head: bytes) -> bytes:
    return b"\r\n".join(line for line in head.split(b"\r\n") if not line.lower().startswith(b"content-length:"))


@pytest.mark.parametrize("auth", ["basic", "ntlm"])
def test_steady_requests_skip_requests_and_send_the_same_bytes(scripted_endpoint, adapter_sends, auth):
    endpoint, target = scripted_endpoint(runner(), auth=auth)
    relay = Relay(endpoint.port)
    try:
        relayed = dataclasses.replace(target, url=f"http://127.0.0.1:{relay.port}/wsman")
        c = Collector(relayed, timeout_s=20)
        assert c.poll().reachable
        through_requests = adapter_sends[0]
        for _ in range(3):
            before = c.session.requests_sent
            snap = c.poll()
            assert snap.reachable, snap.error
            assert c.session.requests_sent - before == 3        # still counted
        assert adapter_sends[0] == through_requests              # none went through requests
        assert endpoint.stats.requests_total == c.session.requests_sent
        sent = relay.requests()
        # The Create went through requests on the logged-on connection; every later request
        # has the very same head, Content-Length aside (NTLM: no more Authorization).
        create = next(i for i, (head, body) in enumerate(sent)
                      if body and b"Authorization: Negotiate" not in head and b"Authorization: NTLM" not in head)
        reference = _without_length(sent[create][0])
        assert all(_without_length(head) == reference for head, _ in sent[create + 1:])
        assert len(sent) - create - 1 == 3 + 3 * 3               # the first poll's call, then 3 polls
        if auth == "ntlm":
            assert b"multipart/encrypted" in reference and endpoint.stats.get("encrypted_requests") >= 10
            # sealed by remote/ntlm_sealing.py, not through pyspnego's wrap (a pyspnego whose
            # context it does not know would fall back silently, and cost more)
            assert c.session._protocol.transport._lane.sealing is not None
        c.close()
    finally:
        relay.close()


def test_basic_over_https_takes_the_lean_path_too(scripted_endpoint, adapter_sends, tmp_path):
    from hvconsole.sim.wsman.tls import issue_certificate
    tls = issue_certificate(tmp_path / "tls")
    endpoint, target = scripted_endpoint(runner(), tls=tls)
    target = dataclasses.replace(target, ca_trust_path=tls.ca_file)
    c = Collector(target, timeout_s=20)
    assert c.poll().reachable
    through_requests = adapter_sends[0]
    assert c.poll().reachable and c.poll().reachable
    assert adapter_sends[0] == through_requests
    assert endpoint.stats.get("connections") == 1
    c.close()


@pytest.mark.parametrize("auth", ["basic", "ntlm"])
def test_a_kept_connection_the_host_dropped_costs_no_poll(scripted_endpoint, auth):
    """The host drops a connection idle for 2 minutes. NTLM must log the new one on before
    sealing with its keys (sent on as before, the poll failed with HTTP 400)."""
    endpoint, target = scripted_endpoint(runner(), auth=auth)
    c = Collector(target, timeout_s=20)
    assert c.poll().reachable
    endpoint._connections.cut_all()
    time.sleep(0.1)
    for _ in range(2):
        snap = c.poll()
        assert snap.reachable, snap.error
    assert endpoint.stats.per_action["Create"] == 1          # the same shell throughout
    assert endpoint.stats.get("connections") == 2
    if auth == "ntlm":      # the new logon's keys, sealed by ntlm_sealing.py
        assert c.session._protocol.transport._lane.sealing is not None
    c.close()


def test_without_select_poll_as_on_windows_a_dropped_connection_is_still_found(scripted_endpoint, monkeypatch):
    """Windows has no select.poll: the kept connection is looked at with select() there."""
    from hvconsole.remote import transport
    monkeypatch.setattr(transport, "_HAS_POLL", False)
    endpoint, target = scripted_endpoint(runner(), auth="ntlm")
    c = Collector(target, timeout_s=20)
    assert c.poll().reachable and c.poll().reachable           # the kept connection, looked at
    assert endpoint.stats.get("connections") == 1
    endpoint._connections.cut_all()
    time.sleep(0.1)
    snap = c.poll()
    assert snap.reachable, snap.error
    assert endpoint.stats.get("connections") == 2
    c.close()


def test_a_steady_request_ends_at_the_deadline_and_on_cancel(scripted_endpoint):
    endpoint, target = scripted_endpoint(runner())
    c = Collector(target, timeout_s=2)
    assert c.poll().reachable
    endpoint.faults.slow(30)
    started = time.monotonic()
    snap = c.poll()
    assert snap.error.kind == "timeout" and "within 2 s" in snap.error.message
    assert time.monotonic() - started < 3.0
    endpoint.faults.clear()
    assert c.poll().reachable                                  # a new shell, a new connection
    endpoint.faults.slow(30)
    token = CancelToken()
    threading.Timer(0.3, token.cancel).start()
    started = time.monotonic()
    snap = c.poll(token)
    assert "cancelled" in snap.error.message and time.monotonic() - started < 1.5
    endpoint.faults.clear()
    c.close()


# -- lean_http on its own, against scripted answers ------------------------------------

def answer_of(raw: bytes, *, limit: int = 1 << 20, close_after: bool = True, chunks: int = 1):
    client, server = socket.socketpair()
    got = bytearray()

    def serve() -> None:
        got.extend(server.recv(65536))
        step = -(-len(raw) // chunks) if raw else 1
        for i in range(0, len(raw), step):
            server.sendall(raw[i:i + step])
            time.sleep(0.001)
        if close_after:
            server.shutdown(socket.SHUT_RDWR)

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    client.settimeout(5)
    try:
        return lean_http.exchange(client, b"POST /wsman HTTP/1.1\r\n\r\n", limit=limit, after_read=lambda: None)
    finally:
        t.join(5)
        client.close()
        server.close()
        assert bytes(got) == b"POST /wsman HTTP/1.1\r\n\r\n"


def test_content_length_answer_keeps_the_connection():
    a = answer_of(b"HTTP/1.1 200 OK\r\nContent-Type: x\r\nContent-Length: 5\r\n\r\nhello", close_after=False, chunks=7)
    assert (a.status, a.content, a.keep_alive, a.headers["content-type"]) == (200, b"hello", True, "x")


def test_chunked_answer_with_extensions_and_trailers():
    raw = b"HTTP/1.1 500 Internal\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n2\r\nde\r\n0\r\nT: 1\r\n\r\n"
    a = answer_of(raw, chunks=9)
    assert (a.status, a.content, a.keep_alive) == (500, b"abcde", True)


@pytest.mark.parametrize("raw", [
    b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok",
    b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok",
    b"HTTP/1.1 200 OK\r\n\r\nok",                               # ends with the connection
    b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokEXTRA",
])
def test_answers_after_which_the_connection_is_not_reused(raw):
    a = answer_of(raw)
    assert (a.status, a.content, a.keep_alive) == (200, b"ok", False)


def test_repeated_and_folded_headers():
    a = answer_of(b"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Negotiate\r\nWWW-Authenticate: NTLM\r\n"
                  b"X-Long: one\r\n two\r\nContent-Length: 0\r\n\r\n")
    assert a.headers["www-authenticate"] == "Negotiate, NTLM" and a.headers["x-long"] == "one two"


@pytest.mark.parametrize("encoding, body", [
    ("gzip", gzip.compress(b"<xml/>", mtime=0)),
    ("deflate", zlib.compress(b"<xml/>")),
    ("deflate", zlib.compress(b"<xml/>")[2:-4]),                 # raw deflate, as some servers send
])
def test_compressed_bodies_are_decoded(encoding, body):
    a = answer_of(b"HTTP/1.1 200 OK\r\nContent-Encoding: %s\r\nContent-Length: %d\r\n\r\n%s"
                  % (encoding.encode(), len(body), body))
    assert a.content == b"<xml/>"


@pytest.mark.parametrize("raw", [
    b"HTTP/1.1 200 OK\r\nContent-Length: 2000\r\n\r\n",                                  # declared
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + (b"100\r\n" + b"a" * 256 + b"\r\n") * 8,
    b"HTTP/1.1 200 OK\r\n\r\n" + b"a" * 2000,                                             # until close
    b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n%s"
    % (len(gzip.compress(b"a" * 5000, mtime=0)), gzip.compress(b"a" * 5000, mtime=0)),       # inflates past it
])
def test_bodies_over_the_limit_are_refused(raw):
    with pytest.raises(lean_http.TooLarge):
        answer_of(raw, limit=1000)


@pytest.mark.parametrize("raw, error, kind", [
    (b"", ProtocolError, "refused"),                                     # closed before answering
    (b"HTTP/1.1 200 OK\r\nContent-Le", ProtocolError, "refused"),         # mid-head
    (b"garbage\r\n\r\n", ProtocolError, "refused"),
    (b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", ChunkedEncodingError, None),   # cut off
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", ChunkedEncodingError, None),
    (b"HTTP/1.1 200 OK\r\nContent-Encoding: br\r\nContent-Length: 1\r\n\r\nx", ContentDecodingError, "protocol"),
])
def test_broken_answers_raise_what_the_requests_path_raises(raw, error, kind):
    with pytest.raises(error) as caught:
        answer_of(raw)
    if kind is not None:
        assert classify(caught.value, host="HV").kind == kind


def test_after_read_can_stop_the_exchange():
    client, server = socket.socketpair()
    server.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nabc")

    def stop() -> None:
        raise TimeoutError("past the deadline")

    with pytest.raises(TimeoutError):
        lean_http.exchange(client, b"x", limit=1000, after_read=stop)
    client.close()
    server.close()


# -- Kerberos: a real KDC on loopback, client and endpoint in a child process ----------

KERBEROS_CHILD = r"""
import json, socket, sys, time
import requests.adapters
from hvconsole.remote.collector import Collector
from hvconsole.remote.target import Target
from hvconsole.sim.wsman.endpoint import WsmanEndpoint
sys.path.insert(0, "tests/remote")
from scripted_host import ScriptedRunner, good_answer
principal, keytab, host_name, doc = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
_resolve = socket.getaddrinfo
socket.getaddrinfo = lambda host, *a, **k: _resolve("127.0.0.1" if host == host_name else host, *a, **k)
sends = [0]
original = requests.adapters.HTTPAdapter.send
def counting(self, *a, **k):
    sends[0] += 1
    return original(self, *a, **k)
requests.adapters.HTTPAdapter.send = counting
endpoint = WsmanEndpoint(ScriptedRunner(lambda p: good_answer(doc)), username=principal, password="",
                         auth="kerberos", keytab=keytab, name="HV01")
endpoint.start()
c = Collector(Target("HV01", f"http://{host_name}:{endpoint.port}/wsman", principal, "", transport="kerberos"),
              timeout_s=20)
out = {"first": c.poll().reachable}
before, sealed = sends[0], endpoint.stats.get("encrypted_requests")
out["steady"] = [c.poll().reachable for _ in range(3)]
out["steady_through_requests"] = sends[0] - before
out["steady_sealed"] = endpoint.stats.get("encrypted_requests") - sealed
endpoint._connections.cut_all()
time.sleep(0.1)
out["after_drop"] = [(s.reachable, s.error and s.error.message) for s in (c.poll(), c.poll())]
out["creates"] = endpoint.stats.per_action["Create"]
c.close()
endpoint.stop()
print(json.dumps(out))
"""


def test_kerberos_takes_the_lean_path_sealed_and_survives_a_dropped_connection(tmp_path):
    import subprocess
    import sys

    from tests.integration import kdc
    missing = kdc.missing()
    if missing:
        pytest.skip(missing)
    realm = kdc.start(tmp_path / "realm")
    try:
        ccache = tmp_path / "ccache"
        got = realm.kinit(ccache)
        assert got.returncode == 0, got.stderr
        done = subprocess.run([sys.executable, "-c", KERBEROS_CHILD, realm.principal, str(realm.keytab),
                               realm.service_host, json.dumps(host_doc())],
                              env=realm.client_env(ccache), cwd=Path(__file__).resolve().parents[2],
                              capture_output=True, text=True, timeout=120)
    finally:
        realm.stop()
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout)
    assert out["first"] and out["steady"] == [True] * 3
    assert out["steady_through_requests"] == 0 and out["steady_sealed"] == 9
    assert out["after_drop"] == [[True, None], [True, None]] and out["creates"] == 1


@pytest.mark.parametrize("auth", ["basic", "ntlm"])
def test_the_lane_keeps_one_connection_and_closing_hands_it_back_closed(scripted_endpoint, auth):
    _, target = scripted_endpoint(runner(), auth=auth)
    c = Collector(target, timeout_s=20)
    try:
        assert c.poll().reachable
        assert c.poll().reachable
        transport = c.session._protocol.transport
        lane = transport._lane
        kept = lane._conn
        assert kept is not None and kept.sock is not None
        sock = kept.sock
        for _ in range(2):
            assert c.poll().reachable
        assert lane._conn is kept and kept.sock is sock     # the same TCP connection throughout
    finally:
        c.close()
    assert transport._lane is None and lane._conn is None
    assert kept.sock is None                                 # closed, not left to the collector
