"""Kerberos authentication (the ``Negotiate`` scheme) with WinRM message encryption, as a
domain-joined Windows host accepts it, using pyspnego's GSSAPI acceptor and a keytab.

What the client does (pywinrm 0.5, ``transport="kerberos"``, observed against MIT Kerberos):

* the first POST (empty body) carries ``Authorization: Negotiate <token>``: a raw Kerberos
  AP-REQ (pywinrm's vendored requests_kerberos), or SPNEGO from other clients; the acceptor
  protocol ``negotiate`` takes both (``kerberos`` would refuse SPNEGO);
* the answer must be 200 with ``WWW-Authenticate: Negotiate <AP-REP>`` (mutual
  authentication), or the client raises ``MutualAuthenticationError``;
* every later body on that keep-alive connection is sealed (MS-WSMV 2.2.9.1.1, the same
  ``application/HTTP-SPNEGO-session-encrypted`` framing as NTLM), its payload being
  ``<uint32 LE header length><GSS wrap header><encrypted data>``: pyspnego's
  ``wrap_winrm``/``unwrap_winrm`` (gss_wrap_iov, DCE style) produce and open exactly that.

The acceptor finds its key in the keytab named by ``KRB5_KTNAME``, which MIT reads when a
context acquires its credential. The variable is process-wide and every endpoint may have its
own keytab, so context creation and each handshake step run under one lock with it pointing
at this endpoint's keytab (``KRB5RCACHETYPE=none`` too: no replay cache file in /var/tmp).

A failed handshake (wrong key, a ticket for another service, a client clock too far off) is
answered 401 ``Negotiate``, as HTTP.sys does; pyspnego 0.12 reports an acceptor-side clock
skew as ``AttributeError`` rather than a GSS error, so any exception from a step counts as a
rejection.
"""

from __future__ import annotations

import base64
import logging
import os
import struct
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import spnego
from spnego.exceptions import SpnegoError

from .auth import Authenticated, BadMessage, Challenge, ConnectionAuth
from .sealing import END, NEGOTIATE, NTLM_SIGNATURE, SealedConnection

log = logging.getLogger(__name__)

_ENV_LOCK = threading.Lock()


@contextmanager
def _acceptor_env(keytab: str) -> Iterator[None]:
    """Point MIT Kerberos at ``keytab`` (and no replay cache) for one acceptor call."""
    wanted = {"KRB5_KTNAME": f"FILE:{keytab}", "KRB5RCACHETYPE": "none"}
    with _ENV_LOCK:
        previous = {name: os.environ.get(name) for name in wanted}
        os.environ.update(wanted)
        try:
            yield
        finally:
            for name, value in previous.items():
                if value is None:
                    del os.environ[name]
                else:
                    os.environ[name] = value


def _principal_user(principal: str) -> str:
    return principal.rpartition("@")[0] or principal


class KerberosAuth:
    """Kerberos under ``Negotiate`` for one endpoint whose service key is in ``keytab``.

    ``allowed``: the account allowed in (``user@REALM``, or ``user`` for any realm);
    compared case-insensitively as Windows compares account names. Any other principal the
    KDC vouches for is refused with 401, as a host refuses an account that is not in its
    Administrators or Remote Management Users group."""

    name = "kerberos"

    def __init__(self, keytab: str, allowed: str, *, require_encryption: bool) -> None:
        if not os.path.isfile(keytab):
            raise ValueError(f"no keytab at {keytab}")
        self._keytab = keytab
        self._allowed = allowed.casefold()
        self.require_encryption = require_encryption

    def for_connection(self, channel_binding: bytes | None) -> ConnectionAuth:
        return _KerberosConnection(self)

    def close(self) -> None:
        pass    # the keytab belongs to whoever created it (a domain join, a test's realm)

    def allows(self, principal: str) -> bool:
        wanted = self._allowed
        if "@" in wanted:
            return principal.casefold() == wanted
        return _principal_user(principal).casefold() == wanted

    def accept(self, token: bytes) -> tuple[spnego.ContextProxy, bytes | None]:
        """A new acceptor context stepped once with the client's first token; raises on
        any failure (see the module docstring)."""
        with _acceptor_env(self._keytab):
            context = spnego.server(protocol="negotiate")
            reply = context.step(token)
        return context, reply


class _KerberosConnection(SealedConnection):
    _scheme: KerberosAuth

    def _handshake(self, scheme: str, token: bytes, *, reject: bool) -> Authenticated | Challenge:
        # A Kerberos-only host: NTLM tokens (even inside "Negotiate") get nowhere, as on a
        # domain that disabled NTLM.
        if scheme.lower() not in ("negotiate", "kerberos") or not token or token.startswith(NTLM_SIGNATURE):
            self._forget()
            return NEGOTIATE
        self._forget()
        if reject:
            return NEGOTIATE
        try:
            context, reply = self._scheme.accept(token)
        except Exception as exc:  # see the module docstring: not only SpnegoError
            log.debug("Kerberos handshake refused: %s", exc)
            return NEGOTIATE
        if not context.complete:
            # Kerberos completes in one leg; a client that needs more is not one we speak to.
            return NEGOTIATE
        principal = context.client_principal or ""
        if not self._scheme.allows(principal):
            log.debug("Kerberos principal %s is not allowed on this host", principal)
            return NEGOTIATE
        self._context, self._user = context, principal
        mutual = (f"Negotiate {base64.b64encode(reply).decode('ascii')}",) if reply else ()
        return Authenticated(principal, www_authenticate=mutual)

    def _wrap(self, context: spnego.ContextProxy, body: bytes) -> bytes:
        wrapped = context.wrap_winrm(body)
        return struct.pack("<I", len(wrapped.header)) + wrapped.header + wrapped.data

    def _unwrap(self, context: spnego.ContextProxy, payload: bytes, plain_length: int) -> bytes:
        if not payload.endswith(END):
            raise BadMessage("malformed multipart/encrypted body")
        payload = payload[:-len(END)]
        if len(payload) < 4:
            raise BadMessage("no Kerberos wrap header")
        (header_len,) = struct.unpack("<I", payload[:4])
        header, sealed = payload[4:4 + header_len], payload[4 + header_len:]
        if len(header) != header_len:
            raise BadMessage("truncated Kerberos wrap header")
        try:
            return context.unwrap_winrm(header, sealed)
        except (SpnegoError, ValueError) as exc:
            raise BadMessage(f"cannot unseal: {exc}") from None
