"""How to reach one host (:class:`Target`) and how a caller stops a call (:class:`CancelToken`).

A Target is plain configuration: it opens no connection. It refuses the combinations that
would put a password on the wire in clear text (Basic over HTTP to anything but this
machine), because pywinrm would otherwise do exactly that without a word.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import urlsplit

from hvconsole.core.inventory.fields import is_loopback as _inventory_is_loopback

# pywinrm's names (its Protocol takes exactly these literals).
TransportName = Literal["ntlm", "kerberos", "credssp", "ssl", "plaintext"]
CertValidation = Literal["validate", "ignore"]
TRANSPORTS: frozenset[str] = frozenset({"ntlm", "kerberos", "credssp", "ssl", "plaintext"})
CERT_VALIDATION: frozenset[str] = frozenset({"validate", "ignore"})


class TargetError(ValueError):
    """A Target that must not be used as configured (the message says why and what to do)."""


@dataclass(frozen=True)
class Target:
    """One host: inventory name, WS-Man URL and credentials. The password never appears
    in ``repr()``/``str()`` (so it cannot leak into a log line or a traceback)."""

    name: str
    url: str
    username: str
    password: str = field(repr=False)
    transport: TransportName = "ntlm"
    server_cert_validation: CertValidation = "validate"
    ca_trust_path: str | None = None
    # Poll through the collect loop (docs/winrm.md, "The collect loop"): off until the
    # checks listed there pass on a real host.
    collect_loop: bool = False

    def __post_init__(self) -> None:
        if not self.name or not self.name.strip():
            raise TargetError("a host needs a name")
        if self.transport not in TRANSPORTS:
            raise TargetError(f"unknown transport {self.transport!r} for {self.name}; "
                              f"use one of {', '.join(sorted(TRANSPORTS))}")
        if self.server_cert_validation not in CERT_VALIDATION:
            raise TargetError(f"server_cert_validation for {self.name} must be 'validate' or 'ignore'")
        parts = urlsplit(self.url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise TargetError(f"the address of {self.name} must look like "
                              f"http://host:5985/wsman or https://host:5986/wsman")
        if self.transport == "plaintext" and not is_loopback(parts.hostname):
            raise TargetError(
                f"{self.name}: the 'plaintext' transport sends the password unencrypted and is "
                f"only allowed to this machine (127.0.0.1); use ntlm, kerberos or credssp, "
                f"or ssl with an https:// address")
        if self.transport == "ssl" and parts.scheme != "https" and not is_loopback(parts.hostname):
            raise TargetError(f"{self.name}: the 'ssl' transport needs an https:// address")

    @property
    def hostname(self) -> str:
        """The host part of the URL (what the admin would ping)."""
        return urlsplit(self.url).hostname or self.url


def is_loopback(hostname: str) -> bool:
    """The inventory's loopback rule (``core.inventory.is_loopback``): one rule for both."""
    return _inventory_is_loopback(hostname)


class CancelToken:
    """Thread-safe "please stop" flag. A cancelled call stops at its next boundary
    (between two HTTP requests); a request in flight is stopped by the watchdog, which
    hears of the cancel through :meth:`on_cancel` rather than asking every tenth of a
    second (it did, and with fifty hosts polling that was ten wake-ups a second)."""

    __slots__ = ("_event", "_lock", "_listeners")

    def __init__(self) -> None:
        self._event = threading.Event()
        self._lock = threading.Lock()
        self._listeners: list[Callable[[], None]] = []

    def cancel(self) -> None:
        with self._lock:
            self._event.set()
            listeners, self._listeners = self._listeners, []
        for listener in listeners:
            try:
                listener()
            except Exception:   # one listener's failure must not keep the others from hearing
                logging.getLogger(__name__).exception("a cancel listener failed")

    def on_cancel(self, listener: Callable[[], None]) -> Callable[[], None]:
        """Call ``listener()`` (once, on the cancelling thread, so it must not block) when
        the token is cancelled; at once when it already is. Returns a function that
        unregisters it (harmless after it ran)."""
        with self._lock:
            if not self._event.is_set():
                self._listeners.append(listener)
                return lambda: self._forget(listener)
        listener()
        return _nothing

    def _forget(self, listener: Callable[[], None]) -> None:
        with self._lock, contextlib.suppress(ValueError):     # it ran already: nothing to take back
            self._listeners.remove(listener)

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def wait(self, timeout_s: float) -> bool:
        """Sleep up to ``timeout_s`` or until cancelled; True when cancelled."""
        return self._event.wait(max(0.0, timeout_s))


def _nothing() -> None:
    pass
