"""remote/ntlm_sealing.py seals and opens NTLM messages byte for byte as pyspnego (through
pywinrm's Encryption and requests_ntlm's shim) does, on the same context state."""

from __future__ import annotations

import copy
import hmac
import os
import secrets
import types

import pytest
import spnego
from requests_ntlm.requests_ntlm import ShimSessionSecurity
from spnego._ntlm_raw.crypto import rc4init, sealkey
from winrm.encryption import Encryption
from winrm.exceptions import WinRMError

from hvconsole.remote.ntlm_sealing import NtlmSealing, _HmacMd5

USER, PASSWORD = "bench", secrets.token_urlsafe(16)      # made up at run time
MESSAGES = [b"", b"<s:Envelope/>", os.urandom(3000), ("<x>\u00e9\u4e2d</x>" * 5000).encode("utf-8"), os.urandom(70_000)]


@pytest.fixture
def contexts(tmp_path, monkeypatch):
    """A client and a server NTLM context after a completed handshake (pyspnego both)."""
    users = tmp_path / "users"
    users.write_text(f":{USER}:{PASSWORD}\n", encoding="utf-8")
    monkeypatch.setenv("NTLM_USER_FILE", str(users))
    client = spnego.client(USER, PASSWORD, hostname="host", service="HTTP", protocol="ntlm")
    server = spnego.server(protocol="ntlm", options=spnego.NegotiateOptions.use_ntlm)
    token = client.step()
    while not client.complete:
        token = client.step(server.step(token))
    if not server.complete:
        server.step(token)
    assert client.complete and server.complete
    return client, server


def twin(context):
    """A second context in the same state as ``context`` (neither has sealed anything yet):
    same keys and counters, its own RC4 streams from the same sealing keys."""
    assert context._NTLMProxy__seq_num_out == context._NTLMProxy__seq_num_in == 0
    other = copy.copy(context)
    flags, key = context._context_attr, context.session_key
    other._handle_out = rc4init(sealkey(flags, key, "initiate"))
    other._handle_in = rc4init(sealkey(flags, key, "accept"))
    return other


def encryption_of(context) -> Encryption:
    """pywinrm's NTLM Encryption over ``context``, as requests_ntlm hands it over."""
    session = types.SimpleNamespace(auth=types.SimpleNamespace(session_security=ShimSessionSecurity(context)))
    return Encryption(session, "ntlm")  # type: ignore[arg-type]


def test_the_usual_context_is_taken_over(contexts):
    client, _ = contexts
    assert NtlmSealing.of(client) is not None


def test_requests_are_sealed_as_pywinrm_seals_them(contexts):
    client, server = contexts
    theirs = encryption_of(client)
    ours = NtlmSealing.of(twin(client))
    assert ours is not None
    for message in MESSAGES:
        expected = theirs._encrypt_message(message, "host") + theirs.MIME_BOUNDARY + b"--\r\n"
        assert ours.body(message) == expected
        # and the host opens it (its sequence numbers advance with ours)
        payload = expected.split(b"application/octet-stream\r\n", 1)[1][4:-len(b"--Encrypted Boundary--\r\n")]
        assert server.unwrap(payload).data == message


def test_answers_are_opened_as_pywinrm_opens_them(contexts):
    client, server = contexts
    theirs = encryption_of(client)
    ours = NtlmSealing.of(twin(client))
    assert ours is not None
    sender = encryption_of(server)
    for message in MESSAGES:
        body = sender._encrypt_message(message, "host") + sender.MIME_BOUNDARY + b"--\r\n"
        assert ours.open_body(body) == theirs._decrypt_response(types.SimpleNamespace(content=body), "host") \
            == message


def test_an_answer_of_two_parts_is_opened_part_by_part(contexts):
    client, server = contexts
    ours = NtlmSealing.of(client)
    assert ours is not None
    sender = encryption_of(server)
    body = sender._encrypt_message(b"first", "host") + sender._encrypt_message(b"second", "host") \
        + sender.MIME_BOUNDARY + b"--\r\n"
    assert ours.open_body(body) == b"firstsecond"


def test_ours_and_pyspnego_can_take_turns_on_one_context(contexts):
    """The RC4 streams and sequence numbers are the context's own: sealing by either keeps
    both in step with the host."""
    client, server = contexts
    ours = NtlmSealing.of(client)
    assert ours is not None
    for i, message in enumerate(MESSAGES * 2):
        if i % 2:
            signature, sealed = ours.seal(message)
            wrapped = signature + sealed
        else:
            wrapped = client.wrap(message).data
        assert server.unwrap(wrapped).data == message
        answer = server.wrap(message[::-1]).data
        plain = ours.unseal(answer[:16], answer[16:]) if i % 3 else client.unwrap(answer).data
        assert plain == message[::-1]


@pytest.mark.parametrize("where", ["signature", "sealed", "length"])
def test_an_altered_answer_is_refused(contexts, where):
    client, server = contexts
    ours = NtlmSealing.of(client)
    assert ours is not None
    sender = encryption_of(server)
    body = bytearray(sender._encrypt_message(b"<answer>payload</answer>", "host") + sender.MIME_BOUNDARY + b"--\r\n")
    if where == "length":
        at = body.index(b"Length=") + len(b"Length=")
        body[at:at + 2] = b"99"
    else:
        start = body.index(b"application/octet-stream\r\n") + len(b"application/octet-stream\r\n") + 4
        body[start + (5 if where == "signature" else 20)] ^= 0x01
    with pytest.raises(WinRMError):
        ours.open_body(bytes(body))


@pytest.mark.parametrize("payload", [b"", b"\x10\x00", b"\xff\xff\xff\xff" + b"x" * 40,
                                     b"\x10\x00\x00\x00" + b"x" * 8, b"\x00\x01\x00\x00" + b"x" * 40])
def test_a_malformed_payload_is_refused_in_words(contexts, payload):
    # A cut or garbled answer says what is wrong (WinRMError), never a struct or index error.
    client, _ = contexts
    ours = NtlmSealing.of(client)
    assert ours is not None
    head = b"--Encrypted Boundary\r\n\tContent-Type: application/HTTP-SPNEGO-session-encrypted\r\n" \
           b"\tOriginalContent: type=application/soap+xml;charset=UTF-8;Length=5\r\n"
    body = head + b"--Encrypted Boundary\r\n\tContent-Type: application/octet-stream\r\n" + payload \
        + b"--Encrypted Boundary--\r\n"
    with pytest.raises(WinRMError):
        ours.open_body(body)


def test_other_contexts_stay_on_pywinrm(contexts):
    client, _ = contexts
    assert NtlmSealing.of(None) is None
    assert NtlmSealing.of(types.SimpleNamespace(complete=True)) is None
    without_ess = copy.copy(client)
    without_ess._context_attr = int(client._context_attr) & ~0x00080000
    assert NtlmSealing.of(without_ess) is None
    unfinished = spnego.client(USER, PASSWORD, hostname="host", service="HTTP", protocol="ntlm")
    assert NtlmSealing.of(unfinished) is None


@pytest.mark.parametrize("key_length", [0, 1, 16, 63, 64, 65, 200])
def test_the_prepared_hmac_is_hmac_md5(key_length):
    """The key's blocks hashed once give RFC 2104's HMAC-MD5, for any key length."""
    key = os.urandom(key_length)
    mac = _HmacMd5(key)
    for message in MESSAGES:
        seq = os.urandom(4)
        assert mac.digest(seq, message) == hmac.digest(key, seq + message, "md5")
        assert mac.digest(seq, message) == hmac.digest(key, seq + message, "md5")     # reusable
