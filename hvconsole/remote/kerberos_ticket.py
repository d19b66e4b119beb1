"""Whether this computer's own Kerberos ticket has expired: asked of the local credential
cache, never of the network.

Why it is needed: an expired ticket-granting ticket does not always fail with "ticket
expired". MIT's KDC still honours a TGT for the clock skew it allows (5 minutes by default,
``clockskew`` in kdc.conf) after its end time, and issues a service ticket that ends when
the TGT did, i.e. in the past. The host then accepts or rejects that ticket, and the client
library's check of the host's answer fails, so pywinrm reports a *mutual authentication*
failure: "the host did not prove its identity", which sends the admin looking at the
host's service principal instead of running ``kinit``. Asking the cache first puts the
real cause in front.

On Windows the logon session's tickets are renewed by LSA and there is no cache to read
(SSPI; the ``gssapi`` package is not installed there), so the answer is "not known".
"""

from __future__ import annotations


def ticket_expired() -> bool:
    """True only when the default credential cache holds an initiator credential whose
    lifetime is over; False when it is valid, absent (that is "no ticket", told apart by the
    library's own message), or cannot be read."""
    try:
        import gssapi  # optional: the ``kerberos`` extra on Linux/macOS
        from gssapi.exceptions import ExpiredCredentialsError, GSSError
    except ImportError:
        return False
    try:
        lifetime = gssapi.Credentials(usage="initiate").lifetime
    except ExpiredCredentialsError:
        return True
    except GSSError:
        return False                        # no cache, no ticket, unreadable: not "expired"
    return lifetime is not None and lifetime <= 0
