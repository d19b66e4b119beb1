"""Which hosts are being patched right now, as the window knows it.

The patch journal is the truth (a run executed by this window or by ``hvconsole patch run``
in a terminal): the patch session reads its open maintenance windows
(``hvconsole.patch.watch.open_maintenance``) and the window hands them here. From here
they reach:

- the freeze detector of every poll worker, through :attr:`MaintenanceFeed.registry` (a
  :class:`~hvconsole.core.maintenance.MaintenanceRegistry`, the same suppression the patch
  engine's own registry gives: no new findings, open ones end with a maintenance note);
- the rows the workers build ("patching: install" on the host line and its tiles);
- the window's alerts (tray and banner stay quiet for these hosts).

Written on the GUI thread, read on the workers' threads: every read and write holds the
lock. Qt-free.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from hvconsole.core.maintenance import MaintenanceRegistry

# A registry window must end some time (a dead workflow must not silence a host forever);
# the journal decides when it really ends, so the window is long and renewed while the
# journal still says "in maintenance".
HOLD = timedelta(hours=24)
RENEW_BEFORE = timedelta(hours=12)


@dataclass(frozen=True, slots=True)
class HostPatching:
    host: str
    run_id: int | None
    step: str

    @property
    def text(self) -> str:
        return f"patching: {self.step}"


def _key(host: str) -> str:
    return host.casefold()      # Windows host names ignore case


class MaintenanceFeed:
    """See the module docstring."""

    def __init__(self, registry: MaintenanceRegistry | None = None):
        self.registry = registry if registry is not None else MaintenanceRegistry()
        self._lock = threading.Lock()
        self._hosts: dict[str, HostPatching] = {}
        self._until: datetime | None = None

    def update(self, active: Iterable[Any], now: datetime) -> set[str]:
        """Replace the set of hosts under maintenance with ``active`` (objects with
        ``host``, ``step`` and ``run_id``, e.g. ``ActiveMaintenance``). ``now`` is the
        pollers' clock (the simulated site's for the demo). Returns the hosts whose
        patching text changed (as spelled in ``active`` or as before)."""
        fresh: dict[str, HostPatching] = {}
        for item in active:
            host = str(item.host)
            fresh[_key(host)] = HostPatching(host, getattr(item, "run_id", None), str(item.step))
        with self._lock:
            old = self._hosts
            self._hosts = fresh
            until = now + HOLD
            self._until = until
        changed = {p.host for k, p in fresh.items() if old.get(k) != p}
        changed |= {p.host for k, p in old.items() if k not in fresh}
        for k, p in old.items():
            if k not in fresh:
                self.registry.end(p.host)
        for p in fresh.values():
            self._begin(p, until, now)
        return changed

    def renew(self, now: datetime) -> None:
        """Keep the registry's windows open while the journal says maintenance goes on.
        The detector measures each window's length on the host's poll clock from when it
        was begun; ``now`` is the console's clock, which may have been stepped back since
        (then the end looks further away than ``HOLD``): renewed then too, or the window
        would run out, watched, before ``now`` came near enough to renew it."""
        with self._lock:
            if (self._until is None or not self._hosts
                    or RENEW_BEFORE < self._until - now <= HOLD):
                return
            self._until = until = now + HOLD
            hosts = list(self._hosts.values())
        for p in hosts:
            self._begin(p, until, now)

    def _begin(self, p: HostPatching, until: datetime, now: datetime) -> None:
        reason = f"patch run {p.run_id}: {p.step}" if p.run_id is not None else f"patching: {p.step}"
        # begun: which side of a step of the console's clock ``until`` was written on.
        self.registry.begin(p.host, until=until, reason=reason, begun=now)

    def patching(self, host: str) -> HostPatching | None:
        with self._lock:
            return self._hosts.get(_key(host))

    def covers(self, host: str) -> bool:
        return self.patching(host) is not None

    def hosts(self) -> list[HostPatching]:
        with self._lock:
            return list(self._hosts.values())
