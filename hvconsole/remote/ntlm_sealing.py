"""NTLM message sealing for a WinRM connection's steady state, without pyspnego's
per-message work.

After the NTLM handshake (done by requests_ntlm through pyspnego) every body on the
connection travels sealed (MS-WSMV 2.2.9.1.1). pyspnego's ``wrap`` and ``unwrap`` do for
each message a dozen Python ``enum.Flag`` operations (its context attributes are mapped
flag by flag on every call) around three native calls; that cost as much CPU as the RC4
and HMAC-MD5 over a 50 KB answer themselves. Here the same NTLMv2 sealing is done
directly, with the keys, RC4 streams and sequence numbers of the context pyspnego set up:

* seal (MS-NLMP 3.4.3, "Message Confidentiality"): RC4 of the message with the client's
  sealing handle, then the signature;
* signature with extended session security (MS-NLMP 3.4.4.2, "With Extended Session
  Security"): version 1, the first 8 bytes of HMAC-MD5(SigningKey, SeqNum || Message),
  RC4'd with the same handle when the key exchange flag was negotiated, and SeqNum;
  SeqNum counts the messages of each direction (connection-oriented).

The RC4 handles and the sequence numbers stay pyspnego's own objects and fields (read and
advanced here), so the context remains right if anything else seals on it. Only the
common case is taken over: an ``NTLMProxy`` context that negotiated signing, sealing and
extended session security (pyspnego's client asks for all three; the handshake's flags say
whether the host granted them, and this module checks them). Anything
else (no extended session security, a GSSAPI or SSPI context, Kerberos) stays on pywinrm's
``Encryption`` (:func:`NtlmSealing.of` returns None). tests/remote/test_ntlm_sealing.py
checks the bytes against pyspnego's, both ways.
"""

from __future__ import annotations

import hashlib
import hmac
import struct
from typing import Any

from winrm.exceptions import WinRMError

# MS-NLMP 2.2.2.5 NEGOTIATE flags.
_SIGN = 0x00000010
_SEAL = 0x00000020
_EXTENDED_SESSION_SECURITY = 0x00080000
_KEY_EXCH = 0x40000000

_VERSION = b"\x01\x00\x00\x00"      # NTLMSSP_MESSAGE_SIGNATURE.Version
_SIGNATURE_LENGTH = b"\x10\x00\x00\x00"     # MS-WSMV 2.2.9.1.1: uint32 LE, then the signature

# pyspnego's NTLMProxy keeps its sequence numbers in private (name-mangled) fields.
_SEQ_OUT = "_NTLMProxy__seq_num_out"
_SEQ_IN = "_NTLMProxy__seq_num_in"

PROTOCOL = b"application/HTTP-SPNEGO-session-encrypted"
_BOUNDARY = b"--Encrypted Boundary"
_PART_HEAD = (_BOUNDARY + b"\r\n\tContent-Type: " + PROTOCOL
              + b"\r\n\tOriginalContent: type=application/soap+xml;charset=UTF-8;Length=")
_PAYLOAD_HEAD = b"\r\n" + _BOUNDARY + b"\r\n\tContent-Type: application/octet-stream\r\n" + _SIGNATURE_LENGTH
_END = _BOUNDARY + b"--\r\n"
_OCTET_STREAM = b"\tContent-Type: application/octet-stream\r\n"


class NtlmSealing:
    """Seals requests and opens answers on one NTLM-authenticated connection."""

    __slots__ = ("_context", "_seal", "_open", "_mac_out", "_mac_in", "_key_exch")

    def __init__(self, context: Any) -> None:
        self._context = context
        self._seal = context._handle_out.update
        self._open = context._handle_in.update
        self._mac_out = _HmacMd5(context._sign_key_out)
        self._mac_in = _HmacMd5(context._sign_key_in)
        self._key_exch = bool(int(context._context_attr) & _KEY_EXCH)

    @classmethod
    def of(cls, context: Any) -> NtlmSealing | None:
        """The sealing of ``context`` (pyspnego's NTLM context after a completed handshake),
        or None when it is not the case done here."""
        if type(context).__name__ != "NTLMProxy" or not getattr(context, "complete", False):
            return None
        try:
            flags = int(context._context_attr)
            ready = (context._handle_out is not None and context._handle_in is not None
                     and isinstance(context._sign_key_out, bytes) and isinstance(context._sign_key_in, bytes)
                     and isinstance(getattr(context, _SEQ_OUT), int) and isinstance(getattr(context, _SEQ_IN), int))
        except (AttributeError, TypeError, ValueError):
            return None     # another pyspnego: its own wrap and unwrap
        needed = _SIGN | _SEAL | _EXTENDED_SESSION_SECURITY
        return cls(context) if ready and flags & needed == needed else None

    def seal(self, message: bytes) -> tuple[bytes, bytes]:
        """The signature (16 bytes) and the sealed message; advances the outgoing stream."""
        context = self._context
        seq_num = getattr(context, _SEQ_OUT)
        setattr(context, _SEQ_OUT, seq_num + 1)
        sealed = self._seal(message)     # the message first: one RC4 stream for both
        seq = struct.pack("<I", seq_num)
        checksum = self._mac_out.digest(seq, message)[:8]
        if self._key_exch:
            checksum = self._seal(checksum)
        return _VERSION + checksum + seq, sealed

    def unseal(self, signature: bytes, sealed: bytes) -> bytes:
        """The message sealed in ``sealed``, checked against ``signature``; raises
        WinRMError when they do not match."""
        context = self._context
        seq_num = getattr(context, _SEQ_IN)
        setattr(context, _SEQ_IN, seq_num + 1)
        message = self._open(sealed)
        seq = struct.pack("<I", seq_num)
        checksum = self._mac_in.digest(seq, message)[:8]
        if self._key_exch:
            checksum = self._open(checksum)
        if not hmac.compare_digest(signature, _VERSION + checksum + seq):
            raise WinRMError("the answer's NTLM signature does not match its content "
                             "(altered on the way, or out of step with the connection)")
        return message

    def body(self, message: bytes) -> bytes:
        """The request body: ``message`` sealed in the MS-WSMV 2.2.9.1.1 multipart framing,
        byte for byte what pywinrm's ``Encryption`` sends (closing boundary included)."""
        signature, sealed = self.seal(message)
        return b"%s%d%s%s%s%s" % (_PART_HEAD, len(message), _PAYLOAD_HEAD, signature, sealed, _END)

    def open_body(self, content: bytes) -> bytes:
        """The plain answer in an encrypted body, read as pywinrm's
        ``Encryption._decrypt_response`` reads it: pairs of a header part (with the plain
        ``Length=``) and a payload part, each payload opened in turn and checked against
        its length."""
        parts = [part for part in content.split(_BOUNDARY + b"\r\n") if part]
        if len(parts) % 2:
            raise WinRMError("the encrypted answer has a header without its payload")
        message = []
        for i in range(0, len(parts), 2):
            header, payload = parts[i], parts[i + 1]
            _, found, length_text = header.strip().partition(b"Length=")
            if not found or not length_text.isdigit():
                raise WinRMError("the encrypted answer's header has no plain length")
            if payload.endswith(_END):
                payload = payload[:-len(_END)]
            if payload.startswith(_OCTET_STREAM):
                payload = payload[len(_OCTET_STREAM):]
            if len(payload) < 4:
                raise WinRMError("the encrypted answer's payload is cut short")
            (signature_length,) = struct.unpack_from("<i", payload)
            if signature_length != 16 or len(payload) < 4 + signature_length:
                # MS-WSMV 2.2.9.1.1: NTLM's signature is 16 bytes; anything else is not an
                # answer this connection sealed (and would be misread as one).
                raise WinRMError("the encrypted answer's signature length is not NTLM's")
            plain = self.unseal(payload[4:4 + signature_length], payload[4 + signature_length:])
            if len(plain) != int(length_text):
                raise WinRMError("Encrypted length from server does not match the expected size, "
                                 "message has been tampered with")
            message.append(plain)
        return b"".join(message)


class _HmacMd5:
    """HMAC-MD5 (RFC 2104) under one key, with the key's padded inner and outer blocks
    hashed once: ``hmac.digest`` sets the key up again for every message (an OpenSSL MAC
    fetched and keyed per call), and needs the sequence number and the message joined
    into one copy first. Here a message costs two hash copies and its own bytes."""

    __slots__ = ("_inner", "_outer")

    def __init__(self, key: bytes) -> None:
        if len(key) > _MD5_BLOCK:
            key = hashlib.md5(key).digest()
        key = key.ljust(_MD5_BLOCK, b"\0")
        self._inner = hashlib.md5(key.translate(_IPAD))
        self._outer = hashlib.md5(key.translate(_OPAD))

    def digest(self, seq: bytes, message: bytes) -> bytes:
        """HMAC-MD5(key, seq || message)."""
        inner = self._inner.copy()
        inner.update(seq)
        inner.update(message)
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.digest()


_MD5_BLOCK = 64
_IPAD = bytes(b ^ 0x36 for b in range(256))
_OPAD = bytes(b ^ 0x5C for b in range(256))
