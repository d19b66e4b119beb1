"""The monitor: the models the window shows, fed by the polling service one batch per
tick. No widgets here: everything it does can be tested without a screen.

A monitor may start before its site is open (:meth:`Monitor.waiting`): it then knows its
hosts' names, shows the tiles they had when the window last ran
(:meth:`Monitor.show_last_known`, marked as such) and gets its poll workers later
(:meth:`Monitor.connect_workers`). A host's last known tiles give way to its first poll
that lists its VMs; until then they stay (an unreachable host still shows what it ran).

The polling service's batches are applied in shares that each fit one event-loop turn
(:mod:`.turn_shares`): a share's tiles in one turn, and, when it was heavy (many tiles on
screen changed, or new ones) or brings a finding or an event, its host lines, findings and
events a frame later in a turn of their own; the next share a frame after that. A quiet
tick of a few hosts is one turn, as before;
hosts' first results (every tile new) go :data:`FIRST_TILES_PER_TURN` tiles a turn. So no
turn holds the GUI thread for much more than a frame however many hosts answer at once.

Per batch: the newest tiles and host line of each host that answered, every finding
change and every new event of every result (in arrival order), then one update of each
model. History lives with each host's worker (see ``host_worker``); widgets borrow it
through :meth:`Monitor.host_history` / :meth:`Monitor.site_history`, which hold the worker's
lock for the block, and redraw later under :meth:`Monitor.history_lock`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, QTimer, Signal

from hvconsole.monitoring.maintenance_feed import MaintenanceFeed

from ..findings.events_model import EventsModel
from ..findings.findings_model import FindingsModel
from ..hosts.host_model import HostListModel
from .polling import DEFAULT_SHUTDOWN_WAIT_S, PollingService
from .tile_filter import TileFilterProxy
from .tile_model import ApplyStats, TileModel
from .turn_shares import take_share

if TYPE_CHECKING:   # the history and the workers (numpy) load with the site, not before
    from hvconsole.core.history import HostHistory, SiteHistory
    from hvconsole.monitoring.host_worker import HostWorker, PollResult
    from hvconsole.monitoring.rows import HostRow, TileRow

# One event-loop turn repaints at most TILES_PER_TURN tiles on screen that changed (~0.35 ms
# apiece with real hosts' tiles, their apply included) or FIRST_TILES_PER_TURN new ones
# (drawn for the first time, the grid laid out again: ~0.5 ms apiece). A share of at most
# SMALL_SHARE changed tiles on screen, and no finding or event, has its host lines, findings
# and events applied in the same turn; any other has them in a turn of their own (~3-9 ms
# with their repaint).
TILES_PER_TURN = 24
FIRST_TILES_PER_TURN = 16
SMALL_SHARE = 8
# The pause before the next turn: one frame, so that the turn's repaint (a posted event,
# run before any timer) is over when it comes and other events get their turn between.
# A shorter pause is already due when the repaint ends and runs straight after it.
TURN_PAUSE_MS = 16


@dataclass(frozen=True, slots=True)
class _TilesShown:
    """A share whose tiles are applied: what its host lines, findings and events need."""

    batch: list[PollResult]
    newest: dict[str, PollResult]
    stats: ApplyStats
    went_live: bool
    apply_ms: float


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
    last_known_changed = Signal()     # hosts showing last known tiles: some shown, or gone live

    def __init__(self, workers: Sequence[HostWorker], *, polling: PollingService | None = None,
                 maintenance: MaintenanceFeed | None = None,
                 parent: QObject | None = None, hosts: Sequence[tuple[str, str]] | None = None,
                 **polling_options: Any):
        super().__init__(parent)
        named = [(w.name, w.address) for w in workers] if hosts is None else list(hosts)
        self._names = [name for name, _ in named]
        self.workers: dict[str, HostWorker] = {}
        self.maintenance = maintenance or MaintenanceFeed()
        self.tiles = TileModel(self)
        self.tile_proxy = TileFilterProxy(self.tiles, self)
        self.hosts = HostListModel(named, self)
        self.findings = FindingsModel(parent=self)
        self.events = EventsModel(parent=self)
        self.polling: PollingService = PollingService([], parent=self)
        self.polling.batch_ready.connect(self._batch_arrived)
        self.findings.new_critical.connect(self._new_critical)
        self.ticks = 0
        self.last_tick: TickStats | None = None
        self.tick_clock: Any = None         # the pollers' clock when the last tick was applied
        # Hosts still showing their last known tiles, and when those were true (newest).
        self._last_known: set[str] = set()
        self.last_known_at: Any = None
        # Hosts whose first result has not been applied yet.
        self._first_pending = set(self._names)
        # Results waiting for their turn (oldest first), and a share whose tiles are shown
        # but whose host lines, findings and events wait for the next turn.
        self._waiting: list[PollResult] = []
        self._tiles_shown: _TilesShown | None = None
        self._turn_timer = QTimer(self)
        self._turn_timer.setSingleShot(True)
        self._turn_timer.setInterval(TURN_PAUSE_MS)
        self._turn_timer.timeout.connect(self._turn)
        # Which tile rows are on screen (set by the page; None: count every tile).
        self.shown_rows: Callable[[], range | None] | None = None
        # Tiles on screen by host, for the rows and the order they were counted for.
        self._on_screen: tuple[tuple[range, int], dict[str, int]] | None = None
        if hosts is None or workers:
            self.connect_workers(workers, polling=polling, maintenance=maintenance, **polling_options)

    @classmethod
    def waiting(cls, hosts: Sequence[tuple[str, str]], parent: QObject | None = None) -> Monitor:
        """A monitor for ``hosts`` (name, address) whose site is still opening: it shows
        last known tiles until :meth:`connect_workers` gives it its poll workers."""
        return cls([], hosts=hosts, parent=parent)

    def connect_workers(self, workers: Sequence[HostWorker], *, polling: PollingService | None = None,
                        maintenance: MaintenanceFeed | None = None, **polling_options: Any) -> None:
        """Poll with ``workers``, one per host this monitor shows, in the same order."""
        names = [w.name for w in workers]
        if self._names and names != self._names:
            raise ValueError("the workers are not the hosts this monitor shows")
        self._names = names
        self.workers = {w.name: w for w in workers}
        # Hosts in a patch run's maintenance window; the workers read the same feed.
        shared = {id(w.maintenance): w.maintenance for w in workers if getattr(w, "maintenance", None)}
        if maintenance is None and len(shared) == 1:
            maintenance = next(iter(shared.values()))
        if maintenance is not None:
            self.maintenance = maintenance
        if polling is not None:
            old, self.polling = self.polling, polling
            old.deleteLater()
        elif polling_options.keys() - {"interval_s", "intervals"}:      # tests' own runners, ticks
            old, self.polling = self.polling, PollingService(workers, parent=self, **polling_options)
            old.deleteLater()
        else:
            # The same service object as before: whoever holds it (the window, a dialog)
            # holds the one that polls.
            self.polling.add_workers(workers, **polling_options)
            return
        self.polling.batch_ready.connect(self._batch_arrived)

    def start(self) -> None:
        self.polling.start()

    def shutdown(self, wait_s: float = DEFAULT_SHUTDOWN_WAIT_S) -> bool:
        self._turn_timer.stop()
        self._waiting = []
        self._tiles_shown = None
        return self.polling.shutdown(wait_s)

    def host_names(self) -> list[str]:
        return list(self._names)

    # -- last known tiles ----------------------------------------------------------------

    def show_last_known(self, tiles: Mapping[str, Sequence[TileRow]], host_rows: Iterable[HostRow],
                        at: Any = None) -> set[str]:
        """Show the tiles and host lines the window last knew (``at``: when they were
        true, the newest), for the hosts of this monitor that have no result yet. They are
        models' rows only: nothing reaches the findings, the events or any worker.
        Returns the hosts shown so."""
        wanted = {h for h in tiles if h in self._first_pending}
        if not wanted:
            return set()
        self.tiles.apply({h: rows for h, rows in tiles.items() if h in wanted})
        self.hosts.apply(r for r in host_rows if r.name in wanted)
        self._last_known |= wanted
        self.last_known_at = at
        self.last_known_changed.emit()
        return wanted

    def last_known_hosts(self) -> set[str]:
        """Hosts whose tiles are still the last known ones (none answered with its VMs)."""
        return set(self._last_known)

    # -- results -------------------------------------------------------------------------

    def results_waiting(self) -> bool:
        """Results are waiting for their turn (hosts' first results, or the rest of a
        heavy tick): what the polling service delivered is not all applied yet."""
        return bool(self._waiting) or self._tiles_shown is not None

    def _batch_arrived(self, batch: Sequence[PollResult]) -> None:
        """A tick's results from the polling service: applied in this turn when no turn
        is pending, else after the ones already waiting."""
        self._waiting.extend(batch)
        if not self._turn_timer.isActive():
            self._turn()

    def _turn(self) -> None:
        """One turn's work: the held back rest of a share, or the next share's tiles (and
        its rest, when light); the next turn a frame later while anything waits."""
        shown, self._tiles_shown = self._tiles_shown, None
        if shown is not None:
            self._apply_rest(shown)
        elif self._waiting:
            # Weights in units of which a turn holds TILES_PER_TURN × FIRST_TILES_PER_TURN.
            weight = self._tile_weight()
            share, self._waiting, spent = take_share(self._waiting, weight,
                                                     TILES_PER_TURN * FIRST_TILES_PER_TURN)
            shown = self._apply_tiles(share)
            # A finding or an event costs its table's repaint (~2-5 ms): a turn of its own.
            if spent <= SMALL_SHARE * FIRST_TILES_PER_TURN and not any(
                    r.changed_findings or r.events for r in share):
                self._apply_rest(shown)
            else:
                self._tiles_shown = shown
        if self._waiting or self._tiles_shown is not None:
            self._turn_timer.start()

    def _tile_weight(self) -> Callable[[PollResult], int]:
        """What a result's tiles cost a turn: each of its host's tiles on screen (each may
        change) FIRST_TILES_PER_TURN units, a host's first tiles (new) TILES_PER_TURN units
        apiece, tiles off screen nothing."""
        changed, new = FIRST_TILES_PER_TURN, TILES_PER_TURN
        rows = self.shown_rows() if self.shown_rows is not None else None
        first, last_known = self._first_pending, self._last_known
        on_screen: dict[str, int] | None = None
        if rows is not None:
            # One look at the tiles on screen (a few dozen), not one per tile of each host,
            # and only when those rows or the VMs at them changed since the last look.
            seen = (rows, self.tiles.order_version)
            if self._on_screen is not None and self._on_screen[0] == seen:
                on_screen = self._on_screen[1]
            else:
                on_screen = {}
                row = self.tiles.row
                for i in rows:
                    host = row(i).host
                    on_screen[host] = on_screen.get(host, 0) + 1
                self._on_screen = (seen, on_screen)

        def weight(result: PollResult) -> int:
            host = result.host
            if host in first and host not in last_known:
                return new * len(result.tiles)
            if on_screen is None:
                return changed * len(result.tiles)
            return changed * on_screen.get(host, 0)
        return weight

    def apply_batch(self, batch: Sequence[PollResult]) -> TickStats:
        """Apply everything that arrived since the last tick, one model update each, now."""
        return self._apply_rest(self._apply_tiles(batch))

    def _apply_tiles(self, batch: Sequence[PollResult]) -> _TilesShown:
        """The tiles of the newest result of each host in ``batch``."""
        started = time.perf_counter()
        newest: dict[str, PollResult] = {}
        for result in batch:
            newest[result.host] = result   # a host polled twice in one tick: newest wins
        self._first_pending.difference_update(newest)
        tiles = {}
        went_live = False
        for host, r in newest.items():
            if host in self._last_known:
                if not r.tiles and not _lists_vms(r):
                    continue            # no VM list yet: the last known tiles stay
                self._last_known.discard(host)
                went_live = True
            tiles[host] = r.tiles
        stats = self.tiles.apply(tiles)
        return _TilesShown(batch=list(batch), newest=newest, stats=stats, went_live=went_live,
                           apply_ms=(time.perf_counter() - started) * 1000.0)

    def _apply_rest(self, shown: _TilesShown) -> TickStats:
        """The host lines, findings and events of a batch whose tiles are applied."""
        started = time.perf_counter()
        batch, newest = shown.batch, shown.newest
        self.hosts.apply(r.host_row for r in newest.values())
        fresh = self.findings.apply([f for result in batch for f in result.changed_findings])
        self.findings.refresh_seen(f for r in newest.values() for f in r.active_findings)
        new_events = 0
        for result in batch:
            if result.events:
                new_events += self.events.add(result.host, result.events, partial(self._vm_name, result.host))
        stats = TickStats(results=len(batch), hosts=tuple(newest), tiles=shown.stats,
                          new_findings=len(fresh), new_events=new_events,
                          apply_ms=shown.apply_ms + (time.perf_counter() - started) * 1000.0)
        self.ticks += 1
        self.last_tick = stats
        # Read once a tick: the window's status text says the same time.
        self.tick_clock = self.clock()
        self.maintenance.renew(self.tick_clock)
        if shown.went_live:
            self.last_known_changed.emit()
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


def _lists_vms(result: PollResult) -> bool:
    """The poll answered with the host's VM list (it may be empty: a host without VMs)."""
    snap = result.snapshot
    return bool(snap.reachable) and (snap.vm_query is None or bool(snap.vm_query.ok))

