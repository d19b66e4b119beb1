"""How the endpoint authenticates a connection and opens or seals message bodies.

An ``AuthScheme`` is chosen per endpoint (Basic, NTLM, Kerberos) and hands out one
``ConnectionAuth`` per TCP connection, because some schemes (NTLM) authenticate the connection
rather than the request and then encrypt every body on it. The HTTP layer only asks four
things: who is this (or which 401 challenge to send), what is the plain body, how to seal the
reply body, and whether the scheme keeps a secret on disk that must be removed.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from dataclasses import dataclass
from typing import Protocol

SOAP_CONTENT_TYPE = "application/soap+xml;charset=UTF-8"


@dataclass(frozen=True, slots=True)
class Authenticated:
    user: str
    # Sent with the reply to the request that completed the handshake: Kerberos' mutual
    # authentication (``Negotiate <AP-REP>``), which the client insists on.
    www_authenticate: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Challenge:
    """Answer with HTTP 401 and these ``WWW-Authenticate`` values."""

    www_authenticate: tuple[str, ...]


class EncryptionRequired(Exception):
    """An unencrypted body arrived where the scheme insists on message encryption."""


class BadMessage(Exception):
    """A body that claims to be encrypted but cannot be opened."""


class ConnectionAuth(Protocol):
    def authenticate(self, authorization: str | None, *, reject: bool) -> Authenticated | Challenge:
        """``reject``: the host refuses these credentials now (a changed password)."""
        ...

    def open_body(self, content_type: str, body: bytes) -> bytes: ...

    def seal_body(self, body: bytes) -> tuple[bytes, str]:
        """The reply body as sent, and its Content-Type."""
        ...


class AuthScheme(Protocol):
    name: str

    def for_connection(self, channel_binding: bytes | None) -> ConnectionAuth:
        """``channel_binding``: the TLS ``tls-server-end-point`` data, or None over HTTP."""
        ...

    def close(self) -> None: ...


def _same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode("utf-8"), b.encode("utf-8"))


class BasicAuth:
    """HTTP Basic: username and password with every request (only sane over TLS)."""

    name = "basic"
    CHALLENGE = Challenge(('Basic realm="WSMAN"',))

    def __init__(self, username: str, password: str) -> None:
        self._username = username
        self._password = password

    def for_connection(self, channel_binding: bytes | None) -> ConnectionAuth:
        return _BasicConnection(self)

    def close(self) -> None:
        pass

    def check(self, authorization: str | None) -> str | None:
        """The user name if the header carries the right credentials."""
        if not authorization:
            return None
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "basic":
            return None
        try:
            raw = base64.b64decode(token.strip(), validate=True)
        except (binascii.Error, ValueError):
            return None
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            text = raw.decode("latin-1")   # what requests sends for a str outside ASCII
        user, sep, password = text.partition(":")
        # Windows account names are case-insensitive; passwords are not.
        if not sep or not _same(user.casefold(), self._username.casefold()) or not _same(password, self._password):
            return None
        return user


class _BasicConnection:
    def __init__(self, scheme: BasicAuth) -> None:
        self._scheme = scheme

    def authenticate(self, authorization: str | None, *, reject: bool) -> Authenticated | Challenge:
        user = None if reject else self._scheme.check(authorization)
        return BasicAuth.CHALLENGE if user is None else Authenticated(user)

    def open_body(self, content_type: str, body: bytes) -> bytes:
        if content_type.lower().startswith("multipart/"):
            raise BadMessage("Basic authentication has no message encryption")
        return body

    def seal_body(self, body: bytes) -> tuple[bytes, str]:
        return body, SOAP_CONTENT_TYPE
