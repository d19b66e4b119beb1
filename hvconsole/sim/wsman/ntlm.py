"""NTLM authentication with WinRM message encryption, using pyspnego's acceptor.

The handshake runs on one keep-alive connection (``Negotiate`` tokens in 401 replies); after
it, every body on that connection travels sealed (``sealing``: the MS-WSMV framing shared
with Kerberos), its payload being ``<uint32 LE signature length><signature><sealed bytes>``.

pyspnego's acceptor reads its user database from the file named by the ``NTLM_USER_FILE``
environment variable (lines ``DOMAIN:USER:PASSWORD``), looked up when the context is created
and again when the client's AUTHENTICATE message is checked. The variable is process-wide and
every endpoint has its own private file, so those two calls run under one lock with the
variable pointing at the right file, and nothing else in this module reads it.
"""

from __future__ import annotations

import base64
import os
import struct
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress

import spnego
from spnego.channel_bindings import GssChannelBindings
from spnego.exceptions import SpnegoError

from .auth import Authenticated, BadMessage, Challenge, ConnectionAuth
from .sealing import NEGOTIATE, NTLM_SIGNATURE, SealedConnection

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
        self.require_encryption = require_encryption

    def for_connection(self, channel_binding: bytes | None) -> ConnectionAuth:
        return _NtlmConnection(self, channel_binding)

    def close(self) -> None:
        with suppress(FileNotFoundError):
            os.unlink(self._path)

    def new_context(self) -> spnego.ContextProxy:
        with _user_file(self._path):
            return spnego.server(protocol="ntlm", options=spnego.NegotiateOptions.use_ntlm)

    def step(self, context: spnego.ContextProxy, token: bytes,
             channel_binding: bytes | None = None) -> bytes | None:
        bindings = GssChannelBindings(application_data=channel_binding) if channel_binding else None
        with _user_file(self._path):
            return context.step(token, channel_bindings=bindings)


class _NtlmConnection(SealedConnection):
    _scheme: NtlmAuth

    def __init__(self, scheme: NtlmAuth, channel_binding: bytes | None) -> None:
        super().__init__(scheme)
        self._binding = channel_binding

    def _handshake(self, scheme: str, token: bytes, *, reject: bool) -> Authenticated | Challenge:
        if scheme.lower() not in ("negotiate", "ntlm") or not token.startswith(NTLM_SIGNATURE):
            self._forget()
            return NEGOTIATE
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
                return NEGOTIATE
            self._user = self._context.client_principal or ""
            return Authenticated(self._user)
        self._forget()
        return NEGOTIATE

    def _wrap(self, context: spnego.ContextProxy, body: bytes) -> bytes:
        wrapped = context.wrap(body, encrypt=True).data
        signature, sealed = wrapped[:16], wrapped[16:]
        return struct.pack("<I", len(signature)) + signature + sealed

    def _unwrap(self, context: spnego.ContextProxy, payload: bytes, plain_length: int) -> bytes:
        (sig_len,) = struct.unpack("<I", payload[:4])
        # RC4 sealing keeps the length, so the declared length finds the end without
        # searching the ciphertext for the closing boundary.
        sealed = payload[4:4 + sig_len + plain_length]
        try:
            return context.unwrap(sealed).data
        except SpnegoError as exc:
            raise BadMessage(f"cannot unseal: {exc}") from None


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
