"""NTLM authentication with WinRM message encryption, using pyspnego's acceptor.

The handshake runs on one keep-alive connection (``Negotiate`` tokens in 401 replies); after
it, every body on that connection travels sealed in the MS-WSMV 2.2.9.1.1 framing that
pywinrm's ``winrm/encryption.py`` writes::

    --Encrypted Boundary\\r\\n
    \\tContent-Type: application/HTTP-SPNEGO-session-encrypted\\r\\n
    \\tOriginalContent: type=application/soap+xml;charset=UTF-8;Length=<plain length>\\r\\n
    --Encrypted Boundary\\r\\n
    \\tContent-Type: application/octet-stream\\r\\n
    <uint32 LE signature length><signature><sealed bytes>--Encrypted Boundary--\\r\\n

pyspnego's acceptor reads its user database from the file named by the ``NTLM_USER_FILE``
environment variable (lines ``DOMAIN:USER:PASSWORD``), looked up when the context is created
and again when the client's AUTHENTICATE message is checked. The variable is process-wide and
every endpoint has its own private file, so those two calls run under one lock with the
variable pointing at the right file, and nothing else in this module reads it.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
import struct
import tempfile
import threading
from contextlib import contextmanager
from typing import Iterator

import spnego
from spnego.channel_bindings import GssChannelBindings
from spnego.exceptions import SpnegoError

from .auth import (
    SOAP_CONTENT_TYPE,
    Authenticated,
    BadMessage,
    Challenge,
    ConnectionAuth,
    EncryptionRequired,
)

PROTOCOL = "application/HTTP-SPNEGO-session-encrypted"
ENCRYPTED_CONTENT_TYPE = f'multipart/encrypted;protocol="{PROTOCOL}";boundary="Encrypted Boundary"'
_BOUNDARY = b"--Encrypted Boundary\r\n"
_END = b"--Encrypted Boundary--\r\n"
_OCTET_STREAM = b"\tContent-Type: application/octet-stream\r\n"
_LENGTH = re.compile(rb"Length=(\d+)")
_NEGOTIATE = Challenge(("Negotiate",))
_NTLM_SIGNATURE = b"NTLMSSP\x00"

_USER_FILE_LOCK = threading.Lock()


@contextmanager
def _user_file(path: str) -> Iterator[None]:
    """Point pyspnego at ``path`` for the duration of one acceptor call."""
    with _USER_FILE_LOCK:
        previous = os.environ.get("NTLM_USER_FILE")
        os.environ["NTLM_USER_FILE"] = path
        try:
            yield
        finally:
            if previous is None:
                del os.environ["NTLM_USER_FILE"]
            else:
                os.environ["NTLM_USER_FILE"] = previous


def _write_user_file(username: str, password: str) -> str:
    domain, sep, user = username.rpartition("\\")
    for part in (domain, user, password):
        # pyspnego splits lines on ':' and skips any line that does not have three fields.
        if ":" in part or "\n" in part or "\r" in part:
            raise ValueError("NTLM user names and passwords cannot contain ':' or line breaks here")
    fd, path = tempfile.mkstemp(prefix="hvc-ntlm-", suffix=".users")   # mode 0600
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(f"{domain if sep else ''}:{user}:{password}\n")
    return path


class NtlmAuth:
    """NTLM (under the ``Negotiate`` scheme, as Windows offers it) for one endpoint."""

    name = "ntlm"

    def __init__(self, username: str, password: str, *, require_encryption: bool) -> None:
        self._path = _write_user_file(username, password)
        # Over plain HTTP a default Windows host (AllowUnencrypted=false) refuses bodies that
        # are not sealed; over HTTPS the TLS channel is the encryption.
        self.require_encryption = require_encryption

    def for_connection(self, channel_binding: bytes | None) -> ConnectionAuth:
        return _NtlmConnection(self, channel_binding)

    def close(self) -> None:
        try:
            os.unlink(self._path)
        except FileNotFoundError:
            pass

    def new_context(self) -> spnego.ContextProxy:
        with _user_file(self._path):
            return spnego.server(protocol="ntlm", options=spnego.NegotiateOptions.use_ntlm)

    def step(self, context: spnego.ContextProxy, token: bytes,
             channel_binding: bytes | None = None) -> bytes | None:
        bindings = GssChannelBindings(application_data=channel_binding) if channel_binding else None
        with _user_file(self._path):
            return context.step(token, channel_bindings=bindings)


class _NtlmConnection:
    def __init__(self, scheme: NtlmAuth, channel_binding: bytes | None) -> None:
        self._scheme = scheme
        self._binding = channel_binding
        self._context: spnego.ContextProxy | None = None
        self._user: str | None = None
        self._seal_reply = False

    def authenticate(self, authorization: str | None, *, reject: bool) -> Authenticated | Challenge:
        if not authorization:
            if self._user is not None and not reject:
                return Authenticated(self._user)
            self._forget()
            return _NEGOTIATE
        scheme, _, encoded = authorization.partition(" ")
        try:
            token = base64.b64decode(encoded.strip(), validate=True)
        except (binascii.Error, ValueError):
            token = b""
        if scheme.lower() not in ("negotiate", "ntlm") or not token.startswith(_NTLM_SIGNATURE):
            self._forget()
            return _NEGOTIATE
        message_type = struct.unpack("<I", token[8:12])[0] if len(token) >= 12 else 0
        if message_type == 1:                       # NEGOTIATE: answer with a CHALLENGE
            self._forget()
            self._context = self._scheme.new_context()
            challenge = self._scheme.step(self._context, token) or b""
            return Challenge((f"{scheme} {base64.b64encode(challenge).decode('ascii')}",))
        if message_type == 3 and self._context is not None and not reject:
            # Windows' default CbtHardeningLevel "Relaxed": a channel binding the client sent
            # must match the TLS channel; a client that sent none is still accepted.
            binding = self._binding if _has_channel_binding(token) else None
            try:
                self._scheme.step(self._context, token, binding)
            except SpnegoError:
                self._forget()
                return _NEGOTIATE
            self._user = self._context.client_principal or ""
            return Authenticated(self._user)
        self._forget()
        return _NEGOTIATE

    def open_body(self, content_type: str, body: bytes) -> bytes:
        self._seal_reply = False
        if content_type.lower().startswith("multipart/encrypted"):
            if PROTOCOL.lower() not in content_type.lower() or self._context is None:
                raise BadMessage("not an SPNEGO-encrypted body")
            plain = self._unseal(body)
            self._seal_reply = True
            return plain
        if body and self._scheme.require_encryption:
            raise EncryptionRequired()
        return body

    def seal_body(self, body: bytes) -> tuple[bytes, str]:
        if not self._seal_reply or self._context is None:
            return body, SOAP_CONTENT_TYPE
        wrapped = self._context.wrap(body, encrypt=True).data
        signature, sealed = wrapped[:16], wrapped[16:]
        framed = (
            _BOUNDARY
            + f"\tContent-Type: {PROTOCOL}\r\n".encode("ascii")
            + f"\tOriginalContent: type={SOAP_CONTENT_TYPE};Length={len(body)}\r\n".encode("ascii")
            + _BOUNDARY + _OCTET_STREAM
            + struct.pack("<I", len(signature)) + signature + sealed + _END
        )
        return framed, ENCRYPTED_CONTENT_TYPE

    def _unseal(self, body: bytes) -> bytes:
        assert self._context is not None
        first = body.find(_BOUNDARY)
        second = body.find(_BOUNDARY, first + len(_BOUNDARY))
        length = _LENGTH.search(body, first, second) if first >= 0 and second > first else None
        start = second + len(_BOUNDARY)
        if length is None or body[start:start + len(_OCTET_STREAM)] != _OCTET_STREAM:
            raise BadMessage("malformed multipart/encrypted body")
        payload = body[start + len(_OCTET_STREAM):]
        (sig_len,) = struct.unpack("<I", payload[:4])
        plain_len = int(length.group(1))
        # RC4 sealing keeps the length, so the declared length finds the end without
        # searching the ciphertext for the closing boundary.
        sealed = payload[4:4 + sig_len + plain_len]
        try:
            plain = self._context.unwrap(sealed).data
        except SpnegoError as exc:
            raise BadMessage(f"cannot unseal: {exc}") from None
        if len(plain) != plain_len:
            raise BadMessage("sealed length does not match the declared length")
        return plain

    def _forget(self) -> None:
        self._context = None
        self._user = None


_AV_EOL, _AV_CHANNEL_BINDINGS = 0, 10


def _has_channel_binding(authenticate: bytes) -> bool:
    """Whether an NTLMv2 AUTHENTICATE message carries a non-zero MsvAvChannelBindings."""
    try:
        nt_len, _, nt_offset = struct.unpack("<HHI", authenticate[20:28])
        response = authenticate[nt_offset:nt_offset + nt_len]
        # NTProofStr (16) + RespType, HiRespType, reserved (8) + timestamp (8) + client
        # challenge (8) + reserved (4), then the AV pairs.
        pos = 16 + 28
        while pos + 4 <= len(response):
            av_id, av_len = struct.unpack("<HH", response[pos:pos + 4])
            if av_id == _AV_EOL:
                return False
            if av_id == _AV_CHANNEL_BINDINGS:
                return response[pos + 4:pos + 4 + av_len].strip(b"\x00") != b""
            pos += 4 + av_len
    except struct.error:
        pass
    return False
