"""Where a patch run's hosts come from: the admin's inventory (passwords from the OS
keyring), or a simulated site that ``hvconsole.site`` (the only place that wires the
simulator) has opened.

A :class:`HostDirectory` maps host names to WinRM :class:`~hvconsole.remote.target.Target`
objects and knows the site's speed (host seconds per real second: 1 for real hosts, the
speed-up of a simulated site). It makes the :class:`~hvconsole.patch.host_api.PatchHost`
(own shell, own collector) each worker thread uses, and the SMB stager.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from hvconsole.remote.collector import Collector
from hvconsole.remote.session import HostSession
from hvconsole.remote.target import CancelToken, Target

from .host_api import PatchHost
from .staging import SmbStager


class SiteError(RuntimeError):
    """The hosts cannot be reached as asked (the message says what to do)."""


@dataclass
class HostDirectory:
    targets: list[Target]
    speed: float = 1.0
    description: str = ""
    smb_port: int = 445
    smb_server: str | None = None            # send SMB here instead of each host's address
    smb_credentials: tuple[str, str] | None = field(default=None, repr=False)   # else each host's own
    poll_timeout_s: float = 30.0
    closer: Callable[[], None] | None = field(default=None, repr=False)   # stops an in-process site

    def names(self) -> list[str]:
        return [t.name for t in self.targets]

    def target(self, name: str) -> Target:
        key = name.casefold()
        for t in self.targets:
            if t.name.casefold() == key:
                return t
        raise KeyError(f"no host {name!r} among {', '.join(self.names()) or 'no hosts'}")

    def patch_host(self, name: str, cancel: CancelToken | None = None) -> PatchHost:
        target = self.target(name)
        return PatchHost(target.name, HostSession(target),
                         Collector(target, timeout_s=self.poll_timeout_s), cancel=cancel)

    def collector(self, name: str) -> Collector:
        return Collector(self.target(name), timeout_s=self.poll_timeout_s)

    def stager(self) -> SmbStager:
        server, credentials = self.smb_server, self.smb_credentials
        return SmbStager(self.target, port=self.smb_port,
                         server_for=(lambda t: server) if server else None,
                         credentials=(lambda t: credentials) if credentials else None)

    def close(self) -> None:
        if self.closer is not None:
            closer, self.closer = self.closer, None
            closer()


def from_inventory(only: Iterable[str] | None = None) -> HostDirectory:
    """Every inventory host (or only the named ones) with its password from the keyring.
    Unlike monitoring, a patch run refuses to start with any host it cannot reach."""
    from hvconsole.credentials import CredentialStoreError
    from hvconsole.remote.configured import load_configured

    try:
        configured = load_configured(only=list(only) if only is not None else None,
                                     allow_session_only=False)
    except CredentialStoreError as exc:
        raise SiteError(str(exc)) from None
    if configured.problems:
        raise SiteError("; ".join(configured.problems))
    if not configured.targets:
        raise SiteError("no hosts in the inventory; add them with `hvconsole hosts add`, or use --demo")
    return HostDirectory(configured.targets, description="the host inventory")
