"""What NTLM and Kerberos share on a WinRM connection: the ``Negotiate`` handshake's first
reading of the header, and the MS-WSMV 2.2.9.1.1 message encryption that follows it.

Both schemes authenticate the connection, not the request; after the handshake every body on
that keep-alive connection travels sealed in the framing pywinrm's ``winrm/encryption.py``
writes::

    --Encrypted Boundary\\r\\n
    \\tContent-Type: application/HTTP-SPNEGO-session-encrypted\\r\\n
    \\tOriginalContent: type=application/soap+xml;charset=UTF-8;Length=<plain length>\\r\\n
    --Encrypted Boundary\\r\\n
    \\tContent-Type: application/octet-stream\\r\\n
    <uint32 LE length><signature or wrap header><sealed bytes>--Encrypted Boundary--\\r\\n

The schemes differ only in the handshake itself and in how the payload after the octet-stream
header is wrapped (:meth:`SealedConnection._handshake`, ``_wrap``, ``_unwrap``).
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Protocol

import spnego

from .auth import SOAP_CONTENT_TYPE, Authenticated, BadMessage, Challenge, EncryptionRequired

PROTOCOL = "application/HTTP-SPNEGO-session-encrypted"
ENCRYPTED_CONTENT_TYPE = f'multipart/encrypted;protocol="{PROTOCOL}";boundary="Encrypted Boundary"'
END = b"--Encrypted Boundary--\r\n"
NEGOTIATE = Challenge(("Negotiate",))
NTLM_SIGNATURE = b"NTLMSSP\x00"

_BOUNDARY = b"--Encrypted Boundary\r\n"
_OCTET_STREAM = b"\tContent-Type: application/octet-stream\r\n"
_LENGTH = re.compile(rb"Length=(\d+)")


def frame(plain_length: int, payload: bytes) -> bytes:
    """The encrypted body around ``payload`` (length prefix, signature or header, sealed
    bytes) for a plain body of ``plain_length`` bytes."""
    return (
        _BOUNDARY
        + f"\tContent-Type: {PROTOCOL}\r\n".encode("ascii")
        + f"\tOriginalContent: type={SOAP_CONTENT_TYPE};Length={plain_length}\r\n".encode("ascii")
        + _BOUNDARY + _OCTET_STREAM
        + payload + END
    )


def unframe(body: bytes) -> tuple[bytes, int]:
    """The payload after the octet-stream header (to the end of the body, closing boundary
    included) and the declared plain length; :class:`BadMessage` if the framing is wrong."""
    first = body.find(_BOUNDARY)
    second = body.find(_BOUNDARY, first + len(_BOUNDARY))
    length = _LENGTH.search(body, first, second) if first >= 0 and second > first else None
    start = second + len(_BOUNDARY)
    if length is None or body[start:start + len(_OCTET_STREAM)] != _OCTET_STREAM:
        raise BadMessage("malformed multipart/encrypted body")
    return body[start + len(_OCTET_STREAM):], int(length.group(1))


class SealingScheme(Protocol):
    # Over plain HTTP a default Windows host (AllowUnencrypted=false) refuses bodies that are
    # not sealed; over HTTPS the TLS channel is the encryption.
    require_encryption: bool


class SealedConnection:
    """One connection of a scheme that authenticates the connection and then seals every
    body on it. Subclasses run the handshake and wrap or unwrap the payload."""

    def __init__(self, scheme: SealingScheme) -> None:
        self._scheme = scheme
        self._context: spnego.ContextProxy | None = None
        self._user: str | None = None
        self._seal_reply = False

    def authenticate(self, authorization: str | None, *, reject: bool) -> Authenticated | Challenge:
        if not authorization:
            # A request without the header on an authenticated connection is that user's.
            if self._user is not None and not reject:
                return Authenticated(self._user)
            self._forget()
            return NEGOTIATE
        scheme, _, encoded = authorization.partition(" ")
        try:
            token = base64.b64decode(encoded.strip(), validate=True)
        except (binascii.Error, ValueError):
            token = b""
        return self._handshake(scheme, token, reject=reject)

    def _handshake(self, scheme: str, token: bytes, *, reject: bool) -> Authenticated | Challenge:
        raise NotImplementedError

    def open_body(self, content_type: str, body: bytes) -> bytes:
        self._seal_reply = False
        if content_type.lower().startswith("multipart/encrypted"):
            if PROTOCOL.lower() not in content_type.lower() or self._context is None:
                raise BadMessage("not an SPNEGO-encrypted body")
            payload, plain_length = unframe(body)
            plain = self._unwrap(self._context, payload, plain_length)
            if len(plain) != plain_length:
                raise BadMessage("sealed length does not match the declared length")
            self._seal_reply = True     # a sealed request is answered sealed
            return plain
        if body and self._scheme.require_encryption:
            raise EncryptionRequired()
        return body

    def seal_body(self, body: bytes) -> tuple[bytes, str]:
        if not self._seal_reply or self._context is None:
            return body, SOAP_CONTENT_TYPE
        return frame(len(body), self._wrap(self._context, body)), ENCRYPTED_CONTENT_TYPE

    def _wrap(self, context: spnego.ContextProxy, body: bytes) -> bytes:
        """The payload sealing ``body``: length prefix, signature or header, sealed bytes."""
        raise NotImplementedError

    def _unwrap(self, context: spnego.ContextProxy, payload: bytes, plain_length: int) -> bytes:
        """The plain body from the payload :func:`unframe` found; :class:`BadMessage` if it
        cannot be opened."""
        raise NotImplementedError

    def _forget(self) -> None:
        self._context = None
        self._user = None
