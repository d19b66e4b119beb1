"""Which certificate authorities a host's HTTPS certificate is checked against.

Windows admins expect the console to trust what their workstation trusts: a WinRM HTTPS
listener usually carries a certificate from the company's own CA (Active Directory
Certificate Services), which Group Policy puts in every domain machine's store, and which
no public bundle (certifi) knows. So by default the operating system's trust store is used,
through ``truststore`` (Windows: CryptoAPI, macOS: Security framework, Linux: OpenSSL's
default paths, which ``SSL_CERT_FILE``/``SSL_CERT_DIR`` can point elsewhere).

A per-host CA bundle (inventory: ``ca_bundle``) still means exactly that bundle: an admin
who names one CA for a host pins the host to it, as before.
"""

from __future__ import annotations

import ssl

import truststore


def uses_os_store(server_cert_validation: str | None, ca_trust_path: str | None) -> bool:
    """True when a host's certificate is checked against the OS trust store (validation
    on and no CA bundle of its own)."""
    return server_cert_validation == "validate" and not ca_trust_path


def os_trust_context() -> ssl.SSLContext:
    """A fresh client context that verifies against the OS trust store (and the host name).
    One per connection pool: urllib3 sets options on the context it is given."""
    return truststore.SSLContext(ssl.PROTOCOL_TLS_CLIENT)


def client_context(*, verify: bool, ca_bundle: str | None) -> ssl.SSLContext:
    """The context a direct TLS handshake with a host uses (the connection test's TLS step),
    with the same trust the WinRM client applies: the CA bundle alone when one is given,
    else the OS store; no verification when the admin turned it off.
    Raises ``ssl.SSLError``/``OSError`` when the bundle cannot be loaded."""
    if not verify:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    if ca_bundle:
        return ssl.create_default_context(cafile=ca_bundle)
    return os_trust_context()
