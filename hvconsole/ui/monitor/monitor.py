"""The monitor: the models the window shows, fed by the polling service one batch per
tick. No widgets here: everything it does can be tested without a screen.

Per batch: the newest tiles and host line of each host that answered, every finding
change and every new event of every result (in arrival order), then one update of each
model. History lives with each host's worker (see ``host_worker``); widgets borrow it
through :meth:`Monitor.host_history` / :meth:`Monitor.site_history`, which hold the worker's
lock for the block, and redraw later under :meth:`Monitor.history_lock`.
"""

from __future__ import annotations

import time
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from typing import Any, Iterator, Sequence

from PySide6.QtCore import QObject, Signal

from hvconsole.core.history import HostHistory, SiteHistory
from hvconsole.monitoring.host_worker import HostWorker, PollResult
from hvconsole.monitoring.maintenance_feed import MaintenanceFeed

from ..findings.events_model import EventsModel
from ..findings.findings_model import FindingsModel
from ..hosts.host_model import HostListModel
from .polling import DEFAULT_SHUTDOWN_WAIT_S, PollingService
from .tile_filter import TileFilterProxy
from .tile_model import ApplyStats, TileModel


@dataclass(frozen=True, slots=True)
class TickStats:
    """What one applied batch did, and how long it took on the GUI thread."""

    results: int
    hosts: tuple[str, ...]          # hosts with a new result in this tick
    tiles: ApplyStats
    new_findings: int
    new_events: int
    apply_ms: float


class Monitor(QObject):
    """Models + polling for one set of hosts."""

    applied = Signal(object)          # TickStats, after the models were updated
    new_critical = Signal(object)     # list of findings (re-emitted from the findings model)
    maintenance_changed = Signal()    # the set of hosts being patched changed

    def __init__(self, workers: Sequence[HostWorker], *, polling: PollingService | None = None,
                 maintenance: MaintenanceFeed | None = None,
                 parent: QObject | None = None, **polling_options: Any):
        super().__init__(parent)
        self.workers = {w.name: w for w in workers}
        # Hosts in a patch run's maintenance window; the workers read the same feed.
        shared = {id(w.maintenance): w.maintenance for w in workers if getattr(w, "maintenance", None)}
        self.maintenance = maintenance or (next(iter(shared.values())) if len(shared) == 1
                                           else MaintenanceFeed())
        self.tiles = TileModel(self)
        self.tile_proxy = TileFilterProxy(self.tiles, self)
        self.hosts = HostListModel([(w.name, w.address) for w in workers], self)
        self.findings = FindingsModel(parent=self)
        self.events = EventsModel(parent=self)
        self.polling = polling if polling is not None else PollingService(workers, parent=self,
                                                                          **polling_options)
        self.polling.batch_ready.connect(self.apply_batch)
        self.findings.new_critical.connect(self._new_critical)
        self.ticks = 0
        self.last_tick: TickStats | None = None

    def start(self) -> None:
        self.polling.start()

    def shutdown(self, wait_s: float = DEFAULT_SHUTDOWN_WAIT_S) -> bool:
        return self.polling.shutdown(wait_s)

    def host_names(self) -> list[str]:
        return list(self.workers)

    def apply_batch(self, batch: Sequence[PollResult]) -> TickStats:
        """Apply everything that arrived since the last tick, one model update each."""
        started = time.perf_counter()
        newest: dict[str, PollResult] = {}
        changed: list[Any] = []
        for result in batch:
            newest[result.host] = result   # a host polled twice in one tick: newest wins
            changed.extend(result.changed_findings)
        tile_stats = self.tiles.apply({host: r.tiles for host, r in newest.items()})
        self.hosts.apply(r.host_row for r in newest.values())
        fresh = self.findings.apply(changed)
        self.findings.refresh_seen(f for r in newest.values() for f in r.active_findings)
        new_events = 0
        for result in batch:
            if result.events:
                new_events += self.events.add(result.host, result.events,
                                              lambda vm_id, host=result.host: self._vm_name(host, vm_id))
        stats = TickStats(results=len(batch), hosts=tuple(newest), tiles=tile_stats,
                          new_findings=len(fresh), new_events=new_events,
                          apply_ms=(time.perf_counter() - started) * 1000.0)
        self.ticks += 1
        self.last_tick = stats
        self.maintenance.renew(self.clock())
        self.applied.emit(stats)
        return stats

    # -- patching ------------------------------------------------------------------------

    def clock(self) -> Any:
        """The pollers' clock (the simulated site's for the demo): what ``polled_at`` and
        the maintenance windows are compared with."""
        worker = next(iter(self.workers.values()), None)
        from hvconsole.core.timeutil import utcnow
        return (worker.clock if worker is not None else utcnow)()

    def set_maintenance(self, active: Sequence[Any]) -> set[str]:
        """The hosts in a patch run's maintenance window now (``ActiveMaintenance`` objects
        from the journal). Hosts whose state changed are polled at once, so their rows say
        "patching: <step>" (or stop saying it) without waiting for the next round."""
        changed = self.maintenance.update(active, self.clock())
        for host in changed:
            if host in self.workers:
                self.polling.poll_now(host)
            else:   # the journal may spell the name in another case
                match = next((h for h in self.workers if h.casefold() == host.casefold()), None)
                if match is not None:
                    self.polling.poll_now(match)
        if changed:
            self.maintenance_changed.emit()
        return changed

    def under_maintenance(self, host: str) -> bool:
        return self.maintenance.covers(host)

    def alerting(self, findings: Sequence[Any]) -> list[Any]:
        """The findings the window may alert about: none for a host being patched (its
        VMs are saved and restarted, its host reboots, on purpose)."""
        return [f for f in findings if not self.maintenance.covers(f.host)]

    def _new_critical(self, findings: Sequence[Any]) -> None:
        wanted = self.alerting(findings)
        if wanted:
            self.new_critical.emit(wanted)

    def _vm_name(self, host: str, vm_id: str) -> str | None:
        pos = self.tiles.position(host, vm_id)
        return None if pos is None else self.tiles.row(pos).vm.name

    def history_lock(self, host: str) -> AbstractContextManager[Any]:
        """What guards ``host``'s history against its poll worker: a widget that redraws on
        its own (a window toggle, a stored range arriving) takes it for the redraw. An
        unknown host has no writer, so nothing to hold."""
        worker = self.workers.get(host)
        return nullcontext() if worker is None else worker.history_lock

    @contextmanager
    def host_history(self, host: str) -> Iterator[HostHistory | None]:
        """``with monitor.host_history("HV01") as h:`` — the host's history, locked
        against its worker for the duration of the block (keep the block short)."""
        with self.site_history(host) as site:
            yield None if site is None else site.host(host)

    @contextmanager
    def site_history(self, host: str) -> Iterator[SiteHistory | None]:
        """Like :meth:`host_history`, for all its worker keeps (the host and its VMs): a VM
        window reads the VM and, while the host is silent, the host."""
        worker = self.workers.get(host)
        if worker is None:
            yield None
            return
        with worker.history_lock:
            yield worker.history
