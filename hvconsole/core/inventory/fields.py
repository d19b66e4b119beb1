"""Fields of an inventory host: the transports, and one validator per field that
normalises the admin's input or raises :class:`HostValidationError` naming the field and
saying, in admin words, what to type instead.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
import uuid
from collections.abc import Mapping
from enum import StrEnum

HTTP_PORT = 5985
HTTPS_PORT = 5986
MAX_NAME_LENGTH = 64
MAX_GROUP_LENGTH = 64
MAX_USERNAME_LENGTH = 256
MAX_PATH_LENGTH = 1024


class Transport(StrEnum):
    """How the client talks to the host's WinRM service."""

    NTLM = "ntlm"                # NTLM with WinRM message encryption over HTTP (default)
    KERBEROS = "kerberos"        # Kerberos with message encryption over HTTP (domain only)
    CREDSSP = "credssp"          # CredSSP (delegates the credential to the host)
    HTTPS = "https"              # NTLM inside TLS, the HTTPS listener (5986)
    HTTPS_BASIC = "https-basic"  # Basic inside TLS: local accounts only, Basic must be enabled
    PLAINTEXT = "plaintext"      # Basic over plain HTTP: only to this PC (the demo site)

    @property
    def uses_tls(self) -> bool:
        return self in (Transport.HTTPS, Transport.HTTPS_BASIC)

    @property
    def default_port(self) -> int:
        return HTTPS_PORT if self.uses_tls else HTTP_PORT


TRANSPORT_LABELS: Mapping[Transport, str] = {
    Transport.NTLM: "NTLM, encrypted messages over HTTP (recommended)",
    Transport.KERBEROS: "Kerberos, encrypted messages over HTTP (domain accounts)",
    Transport.CREDSSP: "CredSSP (the host receives your credential)",
    Transport.HTTPS: "HTTPS listener, NTLM inside TLS",
    Transport.HTTPS_BASIC: "HTTPS listener, Basic inside TLS (local accounts)",
    Transport.PLAINTEXT: "Plain HTTP with Basic, this PC only (demo)",
}

# Columns of the CSV export, in order; also the keys of one JSON host entry (plus "id").
FIELDS = ("name", "address", "port", "transport", "username", "group", "ca_bundle", "verify_tls",
          "poll_interval_s", "collect_loop")
# Optional columns: exported only when some host sets them (absent = the default).
OPTIONAL_FIELDS = ("poll_interval_s", "collect_loop")
# The per-host poll interval (optional; absent = the window's default). Every poll starts
# one powershell.exe on the host (remote/monitoring_cost.py), so below 5 s monitoring
# itself becomes load; above an hour a frozen VM would go unnoticed for too long.
MIN_POLL_INTERVAL_S = 5
MAX_POLL_INTERVAL_S = 3600
# Column or key names that would mean someone tried to put a secret into a file.
SECRET_KEYS = frozenset({"password", "passwd", "pwd", "secret", "credential", "credentials"})


class InventoryError(ValueError):
    """Anything wrong with the inventory, in words an admin can act on."""


class HostValidationError(InventoryError):
    def __init__(self, field_name: str, problem: str):
        self.field = field_name
        self.problem = problem
        super().__init__(f"{field_name}: {problem}")


class DuplicateHostError(InventoryError):
    pass


class UnknownHostError(InventoryError):
    pass


class InventoryConflictError(InventoryError):
    pass


def new_host_id() -> str:
    return uuid.uuid4().hex


_DNS_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")
# An IPv6 zone (scope) id: an interface name or index as Windows and Linux name them
# ("Ethernet0" is not one: Windows zones are interface indexes such as %12; Linux uses
# names like eth0 or enp0s3). Anything else (spaces, CR/LF, ESC, bidi controls, "]@host")
# would end up inside a URL and a terminal line, so it is refused (RFC 6874 allows
# unreserved characters only).
_ZONE_ID = re.compile(r"^(?:[A-Za-z0-9_.-]{1,64}|[0-9]{1,10})$")
_LOOKS_NUMERIC = re.compile(r"^[0-9.]+$")
_USER_FORBIDDEN = set('"/\\[]:;|=,+*?<>')
_DOMAIN_FORBIDDEN = set('\\/:*?"<>|')


def text_field(value: object, field_name: str) -> str:
    """The stripped text of a field read from a file or a form; a non-text value (a number
    or a list in a hand-edited hosts.json) is a validation error, not a crash."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise HostValidationError(field_name, f"must be text, not {type(value).__name__}")
    return value.strip()


def _has_control(text: str) -> bool:
    # Cc = control, Cf = invisible format characters (zero-width joiners, bidi overrides):
    # both let two names look identical on screen while differing underneath.
    return any(unicodedata.category(ch) in ("Cc", "Cf") for ch in text)


def validate_name(name: str) -> str:
    name = text_field(name, "name")
    if not name:
        raise HostValidationError("name", "must not be empty")
    if len(name) > MAX_NAME_LENGTH:
        raise HostValidationError("name", f"at most {MAX_NAME_LENGTH} characters")
    if _has_control(name):
        raise HostValidationError("name", "contains control or invisible characters")
    return name


def validate_address(address: str) -> str:
    """A DNS name, an IPv4 or an IPv6 address (brackets allowed); returned normalised."""
    text = text_field(address, "address")
    if not text:
        raise HostValidationError("address", "must not be empty")
    if "://" in text or "/" in text:
        raise HostValidationError("address", "give the host name or IP only, without http:// or a path")
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    if ":" in text:
        bare, sep, zone = text.partition("%")
        if sep and not _ZONE_ID.match(zone):
            raise HostValidationError(
                "address", "the IPv6 zone after % must be an interface name or number (letters, digits, "
                           "_ . -; at most 64), e.g. fe80::1%12 or fe80::1%eth0")
        try:
            return str(ipaddress.IPv6Address(bare)) + sep + zone
        except ValueError:
            raise HostValidationError(
                "address",
                f"{shown_value(text)} is not a valid IPv6 address (to give a port, use the port field)") from None
    if _LOOKS_NUMERIC.match(text):
        try:
            return str(ipaddress.IPv4Address(text))
        except ValueError:
            raise HostValidationError("address", f"{shown_value(text)} is not a valid IPv4 address") from None
    if not text.isascii():
        raise HostValidationError("address", "use the ASCII (punycode, xn--...) form of an international name")
    name = text[:-1] if text.endswith(".") else text
    if len(name) > 253:
        raise HostValidationError("address", "a DNS name has at most 253 characters")
    for label in name.split("."):
        if not _DNS_LABEL.match(label):
            raise HostValidationError(
                "address", f"{shown_value(text)} is not a valid DNS name (letters, digits and hyphens between dots; "
                           "no spaces or underscores)")
    return text


def is_loopback(address: str) -> bool:
    """True only for ``localhost`` and literal loopback addresses (127.0.0.0/8, ::1): the
    places a clear-text password may go without anything on the network deciding where.
    A name that needs DNS never qualifies: ``localhost.`` (trailing dot) is a fully
    qualified name that the resolver looks up like any other (RFC 6761 asks resolvers to
    answer it with loopback, but nothing enforces that), and ``localhost.localdomain`` can
    go through search domains. The one rule for the inventory and the client
    (``remote.target.is_loopback`` is this function)."""
    name = address.strip("[]")
    if name.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(name.split("%", 1)[0]).is_loopback
    except ValueError:
        return False


def validate_port(port: object) -> int | None:
    if port is None or port == "":
        return None
    if isinstance(port, bool) or not isinstance(port, (int, str)):
        raise HostValidationError("port", f"must be a whole number, not {type(port).__name__}")
    if isinstance(port, str) and len(port.strip()) > 10:
        raise HostValidationError("port", f"{shown_value(port)} is not a port number (1 to 65535)")
    try:
        value = int(str(port).strip())
    except ValueError:
        raise HostValidationError("port", f"{shown_value(port)} is not a number") from None
    if not 1 <= value <= 65535:
        raise HostValidationError("port", "must be between 1 and 65535")
    return value


def validate_poll_interval(value: object) -> int | None:
    """Whole seconds between two polls of the host, or None for the default. Accepts a
    number or its text (a CSV cell, a form field); "" means the default."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    problem = f"must be a whole number of seconds from {MIN_POLL_INTERVAL_S} to {MAX_POLL_INTERVAL_S}"
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise HostValidationError("poll_interval_s", f"{problem}, not {type(value).__name__}")
    if isinstance(value, str):
        text = value.strip().removesuffix("s").strip()
        if len(text) > 10 or not text.isdigit():
            raise HostValidationError("poll_interval_s", f"{shown_value(value)}: {problem}")
        seconds = int(text)
    elif isinstance(value, float):
        if not value.is_integer():
            raise HostValidationError("poll_interval_s", problem)
        seconds = int(value)
    else:
        seconds = value
    if not MIN_POLL_INTERVAL_S <= seconds <= MAX_POLL_INTERVAL_S:
        raise HostValidationError("poll_interval_s", problem)
    return seconds


def validate_username(username: str) -> str:
    """``DOMAIN\\user``, ``.\\user``, ``user@domain`` or a bare local account name."""
    user = text_field(username, "username")
    if not user:
        raise HostValidationError("username", "must not be empty (DOMAIN\\user or user@domain)")
    if len(user) > MAX_USERNAME_LENGTH or _has_control(user):
        raise HostValidationError("username", "too long or contains control characters")
    if "\\" in user:
        domain, _, account = user.partition("\\")
        if not domain or not account or "\\" in account or "@" in account:
            raise HostValidationError("username", "use DOMAIN\\user (one backslash) or user@domain")
        if _DOMAIN_FORBIDDEN & set(domain):
            raise HostValidationError("username", f"the domain part {domain!r} contains a character Windows forbids")
    elif "@" in user:
        account, _, domain = user.partition("@")
        if not account or not domain or "@" in domain or " " in domain:
            raise HostValidationError("username", "a UPN looks like user@domain.example")
    else:
        account = user
    if _USER_FORBIDDEN & set(account):
        raise HostValidationError("username", f"the account name {account!r} contains a character Windows forbids "
                                              '(" / \\ [ ] : ; | = , + * ? < >)')
    return user


def validate_group(group: str | None) -> str | None:
    group = text_field(group, "group")
    if not group:
        return None
    if len(group) > MAX_GROUP_LENGTH or _has_control(group):
        raise HostValidationError("group", f"at most {MAX_GROUP_LENGTH} printable characters")
    return group


def validate_path(path: object, field_name: str) -> str | None:
    """A file path typed by the admin (the CA bundle): printable text of sane length."""
    text = text_field(path, field_name)
    if not text:
        return None
    if len(text) > MAX_PATH_LENGTH or _has_control(text):
        raise HostValidationError(field_name, f"at most {MAX_PATH_LENGTH} printable characters")
    return text


def parse_bool(value: object, field_name: str) -> bool:
    if isinstance(value, bool):
        return value
    if not isinstance(value, (int, str)) or (isinstance(value, int) and value not in (0, 1)):
        raise HostValidationError(field_name, f"{shown_value(value)} is not true or false")
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "y", ""):
        return True
    if text in ("0", "false", "no", "n"):
        return False
    raise HostValidationError(field_name, f"{shown_value(value)} is not true or false")


def shown_value(value: object, limit: int = 60) -> str:
    """A bad value quoted for a message: repr (so control characters show as escapes, not
    as terminal commands) and cut, so a megabyte of junk is not echoed back."""
    if not isinstance(value, str):
        return type(value).__name__
    text = repr(value[:limit])
    return text[:-1] + "…" + text[-1] if len(value) > limit else text
