"""One unauthenticated WS-Management request, to see what listens on a host's WinRM port
and which authentication schemes it offers (``hvconsole doctor``'s listener check).

A WinRM listener answers a POST to ``/wsman`` without credentials with HTTP 401 and one
``WWW-Authenticate`` header per scheme it accepts (``Negotiate``, ``Kerberos``, ``Basic``,
``CredSSP``; Basic and CredSSP only when enabled in ``WSMan:\\localhost\\Service\\Auth``).
The request carries no password and no body, so it changes nothing on the host.
"""

from __future__ import annotations

import http.client
import socket
import ssl
from dataclasses import dataclass, field

from hvconsole.core.inventory import Host, Transport
from hvconsole.remote import trust

# The schemes a transport can log on with (any one offered is enough). pywinrm's ntlm and
# https transports send "Negotiate" carrying NTLM; "NTLM" alone is not offered by WinRM.
SCHEMES_FOR = {
    Transport.NTLM: ("negotiate", "ntlm"),
    Transport.HTTPS: ("negotiate", "ntlm"),
    Transport.KERBEROS: ("negotiate", "kerberos"),
    Transport.CREDSSP: ("credssp",),
    Transport.HTTPS_BASIC: ("basic",),
    Transport.PLAINTEXT: ("basic",),
}
_ENABLE_HINT = {
    "basic": "`Set-Item WSMan:\\localhost\\Service\\Auth\\Basic $true` on the host",
    "credssp": "`Enable-WSManCredSSP -Role Server` on the host",
    "negotiate": "`Set-Item WSMan:\\localhost\\Service\\Auth\\Negotiate $true` on the host",
    "kerberos": "`Set-Item WSMan:\\localhost\\Service\\Auth\\Kerberos $true` on the host",
    "ntlm": "`Set-Item WSMan:\\localhost\\Service\\Auth\\Negotiate $true` on the host",
}


@dataclass(frozen=True)
class ListenerFinding:
    ok: bool
    fault: str                  # "" | wrong-port-scheme | auth-scheme | not-winrm | no-answer
    detail: str
    fix: str = ""
    offered: tuple[str, ...] = field(default_factory=tuple)
    status: int | None = None


def check_listener(host: Host, timeout_s: float) -> ListenerFinding:
    """What the port answers to an anonymous WS-Management POST; never raises."""
    where = f"{host.address}:{host.effective_port}"
    try:
        status, offered = _anonymous_post(host, timeout_s)
    except TimeoutError:
        return ListenerFinding(False, "no-answer", f"{where} accepted TCP but sent no HTTP answer within "
                               f"{timeout_s:.0f} s", "the WinRM service or the host may be hung or overloaded: "
                               "check it from its console and restart WinRM (`Restart-Service WinRM`)")
    except ssl.SSLError as exc:
        return ListenerFinding(False, "wrong-port-scheme", f"no TLS session with {where} ({exc.reason or exc})",
                               "this port does not seem to speak HTTPS: WinRM HTTPS listens on 5986, plain HTTP on "
                               "5985 (choose the ntlm transport for that)")
    except (OSError, http.client.HTTPException) as exc:
        if not host.transport.uses_tls and _speaks_tls(host, timeout_s):
            return ListenerFinding(False, "wrong-port-scheme", f"{where} is an HTTPS listener, but this host entry "
                                   f"speaks plain HTTP to it", "choose the https transport for this port (WinRM "
                                   "HTTPS listens on 5986), or give the HTTP listener's port (5985)")
        return ListenerFinding(False, "not-winrm", f"{where} accepted TCP but dropped the WinRM request "
                               f"({type(exc).__name__})", "check that the WinRM service runs (`Get-Service WinRM`) "
                               "and that this port is its listener (`winrm enumerate winrm/config/listener`)")
    if status != 401 or not offered:
        return ListenerFinding(False, "not-winrm", f"{where} answered HTTP {status} without offering a WinRM "
                               f"logon: this is not a WinRM listener", "check the port: WinRM listens on 5985 "
                               "(HTTP) and 5986 (HTTPS), and no proxy or other web service may sit in between",
                               offered, status)
    wanted = SCHEMES_FOR[host.transport]
    shown = ", ".join(_title(s) for s in offered)
    if any(s in wanted for s in offered):
        return ListenerFinding(True, "", f"WinRM listens on {where} and offers {shown}", "", offered, status)
    fix = (f"enable {_title(wanted[0])} authentication ({_ENABLE_HINT[wanted[0]]}) or choose a transport the "
           f"host offers" + (" (ntlm or kerberos for Negotiate)" if "negotiate" in offered else ""))
    return ListenerFinding(False, "auth-scheme", f"{where} offers {shown}, not {_title(wanted[0])} as the "
                           f"{host.transport.value} transport needs", fix, offered, status)


def _anonymous_post(host: Host, timeout_s: float) -> tuple[int, tuple[str, ...]]:
    address = host.address.split("%", 1)[0]
    if host.transport.uses_tls:
        context = trust.client_context(verify=host.verify_tls, ca_bundle=host.ca_bundle)
        conn: http.client.HTTPConnection = http.client.HTTPSConnection(address, host.effective_port,
                                                                       timeout=timeout_s, context=context)
    else:
        conn = http.client.HTTPConnection(address, host.effective_port, timeout=timeout_s)
    try:
        conn.request("POST", "/wsman", body=b"", headers={
            "Content-Type": "application/soap+xml;charset=UTF-8", "Content-Length": "0",
            "User-Agent": "Python WinRM client"})
        response = conn.getresponse()
        offered = tuple(v.split(None, 1)[0].lower() for v in response.headers.get_all("WWW-Authenticate") or ()
                        if v.strip())
        response.read(65536)
        return response.status, offered
    finally:
        conn.close()


def _speaks_tls(host: Host, timeout_s: float) -> bool:
    """Does the port complete a TLS handshake (certificate not judged: only the protocol)?"""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    try:
        address = (host.address.split("%", 1)[0], host.effective_port)
        with socket.create_connection(address, timeout=timeout_s) as raw, context.wrap_socket(raw):
            return True
    except (OSError, ssl.SSLError):
        return False


def _title(scheme: str) -> str:
    return {"ntlm": "NTLM", "credssp": "CredSSP"}.get(scheme, scheme.capitalize())
