"""The simulated site: its hosts and VMs, on one timeline (:class:`~.timeline.Timeline`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .clock import SimClock
from .timeline import Timeline

if TYPE_CHECKING:
    from .host import SimHost
    from .vm import SimVM


class SimSite(Timeline):
    """Hosts plus one timeline. All reads and changes hold :attr:`lock` (an RLock)."""

    def __init__(self, clock: SimClock | None = None, *, seed: int = 1, name: str = "site",
                 utc_offset_h: float = 1.0):
        super().__init__(clock, seed=seed, utc_offset_h=utc_offset_h)
        self.name = name
        self.hosts: dict[str, SimHost] = {}

    # -- inventory ----------------------------------------------------------------------

    def add_host(self, host: SimHost) -> SimHost:
        with self.lock:
            if host.name in self.hosts:
                raise ValueError(f"duplicate host {host.name!r}")
            host.attach(self, self.hosts)
            self.hosts[host.name] = host
            return host

    def host(self, name: str) -> SimHost:
        try:
            return self.hosts[name]
        except KeyError:
            raise KeyError(f"no host {name!r} in site {self.name!r}") from None

    def find_vm(self, name: str) -> tuple[SimHost, SimVM]:
        """The host currently running the VM called ``name`` (VMs move between hosts)."""
        with self.lock:
            for host in self.hosts.values():
                for vm in host.vms:
                    if vm.name == name:
                        return host, vm
        raise KeyError(f"no VM {name!r} in site {self.name!r}")

    def vm(self, name: str) -> SimVM:
        return self.find_vm(name)[1]
