"""One host's poll, from the network to view rows, run on that host's worker thread.

A :class:`HostWorker` owns everything one host needs between polls: its Collector (one
WinRM session, created lazily on the worker thread and closed there), its freeze
detector, its bounded history and a few recent CPU values per VM for the tile
sparklines. ``poll_once`` does all per-VM work (parse, detect, history, rows) so that the
GUI thread only swaps finished rows into its models.

Thread rules: ``poll_once`` and ``close`` run on the host's worker thread, one at a time.
The GUI thread may read :attr:`history` only while holding :attr:`history_lock`
(``SiteHistory`` is not thread-safe; the lock is held for well under a millisecond per
poll). Qt-free, so it is unit-tested without threads or a screen.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from hvconsole.core.history import SiteHistory
from hvconsole.core.snapshot import HostEvent, Snapshot, VmSample, unreachable
from hvconsole.core.storage_latency import StorageLatency
from hvconsole.core.timeutil import utcnow
from hvconsole.remote.monitoring_cost import MonitoringCost, cost_of_polls

from .host_compliance import UNKNOWN_NOT_POLLED, CatalogSource, HostCompliance, summarize
from .maintenance_feed import MaintenanceFeed
from .rows import SPARK_POINTS, HostRow, TileRow, build_host_row, build_tile_rows, tile_findings, vm_maintenance_notes

log = logging.getLogger(__name__)
# One NaN object for "unknown" so that unchanged sparklines compare equal by identity
# (float('nan') != float('nan'), but a tuple compares identical items as equal).
UNKNOWN = math.nan
# The monitoring cost shown per host is the median of this many recent polls' own cost.
COST_POLLS = 12


class CollectorLike(Protocol):
    def poll(self, cancel: Any = None) -> Snapshot: ...
    def close(self) -> None: ...


class DetectorLike(Protocol):
    def feed(self, snapshot: Snapshot) -> list[Any]: ...
    def active(self) -> list[Any]: ...


@dataclass(frozen=True, slots=True)
class PollResult:
    """What one poll delivers to the GUI thread."""

    host: str
    snapshot: Snapshot
    tiles: tuple[TileRow, ...]
    host_row: HostRow
    changed_findings: tuple[Any, ...]   # detector findings that appeared, changed or cleared
    events: tuple[HostEvent, ...]
    poll_ms: float
    # Every finding active after this poll, with its current last_seen (the detector
    # reports a finding as "changed" only when its evidence changes, not when it lasts).
    active_findings: tuple[Any, ...] = ()


class HostWorker:
    """See the module docstring. ``collector_factory()`` and ``detector_factory()`` are
    called on the worker thread, on first use."""

    def __init__(self, name: str, address: str, *,
                 collector_factory: Callable[[], CollectorLike],
                 detector_factory: Callable[[], DetectorLike],
                 poll_interval_s: float = 5.0,
                 clock: Callable[[], datetime] = utcnow,
                 maintenance: MaintenanceFeed | None = None,
                 catalog: CatalogSource | None = None,
                 cert_check_off: bool = False):
        self.name = name
        self.address = address
        self._collector_factory = collector_factory
        self._detector_factory = detector_factory
        self.clock = clock
        # Shared with the other workers and the window (thread-safe); None: not patched.
        self.maintenance = maintenance
        self._catalog = catalog
        self.cert_check_off = cert_check_off
        self._compliance: HostCompliance = UNKNOWN_NOT_POLLED
        self._compliance_os: Any = None                 # the OsInfo it was computed from
        self._collector: CollectorLike | None = None
        self._detector: DetectorLike | None = None
        self.history = SiteHistory(poll_interval_s=poll_interval_s)
        self.history_lock = threading.Lock()
        # The persistent history (core.historydb.HistoryWriter, set by the window): each
        # poll is queued there too; queuing never waits on the disk.
        self.history_writer: Any = None
        self._last_answer: Snapshot | None = None       # newest poll with a VM list
        self._unreachable_since: datetime | None = None
        self._cpu: dict[str, deque[float]] = {}
        self._tiles: dict[str, TileRow] = {}           # last rows, reused when unchanged
        self._retired: dict[str, TileRow] = {}         # the rows before those (see poll_once)
        self._closed = False
        self.poll_interval_s = poll_interval_s
        # The host's own interval in real seconds (the inventory's poll_interval_s), which
        # the window's and the agent's schedulers use instead of their default; None: theirs.
        self.scheduled_interval_s: float | None = None
        self._costs: deque[Any] = deque(maxlen=COST_POLLS)   # collect_cost of recent polls
        self._storage_latency = StorageLatency()       # latency from this poll and the last
        # Called with every snapshot on this thread (e.g. the health check's observe);
        # replaced as a whole tuple from the GUI thread, so no lock is needed to read it.
        self.observers: tuple[Callable[[Snapshot], None], ...] = ()

    # -- on the worker thread ------------------------------------------------------------

    def poll_once(self, cancel: Any = None) -> PollResult:
        """Poll the host once and build everything the GUI shows about it."""
        started = time.monotonic()
        snap = self._collect(cancel)
        poll_ms = (time.monotonic() - started) * 1000.0
        snap = self._storage_latency.apply(snap)
        changed, active = self._detect(snap)
        self._notify(snap)
        with self.history_lock:
            self.history.add(snap)
            shift_s = self.history.last_shift_s
        writer = self.history_writer
        if writer is not None:
            writer.add(snap, changed)

        vm_list_ok = snap.reachable and (snap.vm_query is None or snap.vm_query.ok)
        if shift_s and self._unreachable_since is not None:
            # The console's clock was stepped and the history moved the host's rows: "since"
            # moves with them, or the row would say down since a time still to come.
            self._unreachable_since += timedelta(seconds=shift_s)
        if snap.reachable:
            self._unreachable_since = None
        elif self._unreachable_since is None:
            self._unreachable_since = snap.polled_at
        if vm_list_ok:
            self._last_answer = snap
            stale_reason = None
        else:
            stale_reason = _stale_reason(snap)
        vms = self._last_answer.vms if self._last_answer is not None else ()
        self._update_sparklines(vms, snap if vm_list_ok else None)
        answered = snap if snap.reachable else self._last_answer
        patching = self.maintenance.patching(self.name) if self.maintenance is not None else None
        patching_text = None if patching is None else patching.text

        by_vm = tile_findings(active)
        # A VM in a recovery step says so on its tile (the detector is silenced for it).
        notes = (None if self.maintenance is None
                 else vm_maintenance_notes(self.maintenance.registry, self.name, snap.polled_at))
        tiles = build_tile_rows(self.name, vms, {k: tuple(v) for k, v in self._cpu.items()},
                                by_vm, stale_reason, self._tiles, patching=patching_text,
                                vm_notes=notes)
        # Keep the previous rows one poll longer: by the next poll the GUI has replaced
        # them, so they are freed here, on this thread, instead of on the GUI thread in
        # the middle of a tick (freeing 2,000 rows costs a few milliseconds).
        self._retired = self._tiles
        self._tiles = {t.vm_id: t for t in tiles}
        host_row = build_host_row(self.name, self.address, snap, answered,
                                  poll_ms, self._unreachable_since, by_vm,
                                  compliance=self._assess(answered), patching=patching_text,
                                  cert_check_off=self.cert_check_off, cost=self._cost(snap))
        return PollResult(host=self.name, snapshot=snap, tiles=tiles, host_row=host_row,
                          changed_findings=tuple(changed), events=tuple(snap.events),
                          poll_ms=poll_ms, active_findings=tuple(active))

    def close(self) -> None:
        """Close the host's session (on the worker thread: closing talks to the host)."""
        self._closed = True
        collector, self._collector = self._collector, None
        if collector is not None:
            try:
                collector.close()
            except Exception:  # best effort: the window is closing
                log.debug("%s: closing the collector failed", self.name, exc_info=True)

    # -- internals -----------------------------------------------------------------------

    def _collect(self, cancel: Any) -> Snapshot:
        try:
            if self._collector is None:
                self._collector = self._collector_factory()
            return self._collector.poll(cancel)
        except Exception as exc:
            # The collector promises not to raise; if it does anyway, polling must go on
            # and the host must show why, not vanish from the window.
            log.exception("%s: poll raised", self.name)
            return unreachable(self.name, self.clock(), "protocol",
                               f"polling failed inside the console ({type(exc).__name__})")

    def _assess(self, answered: Snapshot | None) -> HostCompliance:
        """The Compliance column, worked out again only when the host's OS facts change."""
        if self._catalog is None:
            return self._compliance
        os_info = None if answered is None else answered.os
        if answered is not None and os_info is not None and os_info == self._compliance_os:
            return self._compliance
        try:
            catalog, problem = self._catalog.get()
            self._compliance = summarize(self.name, answered, catalog, problem)
        except Exception:   # a compliance bug must not stop the tiles from updating
            log.exception("%s: compliance failed", self.name)
            return self._compliance
        self._compliance_os = os_info
        return self._compliance

    def _notify(self, snap: Snapshot) -> None:
        for observe in self.observers:
            try:
                observe(snap)
            except Exception:   # an observer's bug must not stop the tiles from updating
                log.exception("%s: a snapshot observer failed", self.name)

    def _cost(self, snap: Snapshot) -> MonitoringCost | None:
        """What polling costs the host, from the cost collect.ps1 reports about itself."""
        if snap.collect_cost is not None:
            self._costs.append(snap.collect_cost)
        try:
            return cost_of_polls(self._costs, self.poll_interval_s)
        except ValueError:      # no usable interval: say nothing rather than something wrong
            return None

    def _detect(self, snap: Snapshot) -> tuple[list[Any], list[Any]]:
        try:
            if self._detector is None:
                self._detector = self._detector_factory()
            changed = list(self._detector.feed(snap))
            return changed, list(self._detector.active())
        except Exception:
            # A detector bug must not stop the tiles from updating; it is logged in full.
            log.exception("%s: freeze detector failed on a snapshot", self.name)
            return [], []

    def _update_sparklines(self, vms: tuple[VmSample, ...], answered: Snapshot | None) -> None:
        live = {vm.id for vm in vms}
        for vm_id in [k for k in self._cpu if k not in live]:
            del self._cpu[vm_id]
        for vm in vms:
            points = self._cpu.get(vm.id)
            if points is None:
                points = self._cpu[vm.id] = deque(maxlen=SPARK_POINTS)
            if answered is None or vm.cpu_pct is None:
                points.append(UNKNOWN)  # a gap in the line, not a drop to zero
            else:
                points.append(float(vm.cpu_pct))


def _stale_reason(snap: Snapshot) -> str:
    if not snap.reachable:
        if snap.error is not None:
            return f"host unreachable ({snap.error.kind})"
        return "host unreachable"
    return "VM list unavailable (VMMS not answering)"


def worker_for_target(target: Any, *, timeout_s: float = 10.0, poll_interval_s: float = 5.0,
                      clock: Callable[[], datetime] | None = None,
                      detector_factory: Callable[[], DetectorLike] | None = None,
                      maintenance: MaintenanceFeed | None = None,
                      catalog: CatalogSource | None = None,
                      scheduled_interval_s: float | None = None) -> HostWorker:
    """A worker that polls ``target`` (a ``hvconsole.remote.target.Target``) with the real
    Collector and freeze detector. ``clock`` stamps ``polled_at`` (the simulated site
    passes its own clock so that detection runs in simulated time). ``maintenance`` (shared
    by all workers of a window) silences the detector for hosts being patched; ``catalog``
    feeds the Compliance column; ``scheduled_interval_s`` is the host's own poll interval
    (see :attr:`HostWorker.scheduled_interval_s`)."""
    def make_collector() -> CollectorLike:
        # Imported here, on the worker thread: the WinRM stack is not needed for first paint.
        from hvconsole.remote.collector import Collector
        kwargs: dict[str, Any] = {"timeout_s": timeout_s}
        if clock is not None:
            kwargs["clock"] = clock
        return Collector(target, **kwargs)

    def make_detector() -> DetectorLike:
        from hvconsole.core.detector import Detector
        return Detector(maintenance=None if maintenance is None else maintenance.registry)

    worker = HostWorker(target.name, target.hostname, collector_factory=make_collector,
                        detector_factory=detector_factory or make_detector,
                        poll_interval_s=poll_interval_s, clock=clock or utcnow,
                        maintenance=maintenance, catalog=catalog,
                        cert_check_off=certificate_check_off(target))
    worker.scheduled_interval_s = scheduled_interval_s
    return worker


def certificate_check_off(target: Any) -> bool:
    """HTTPS with the server certificate not validated (the inventory's "lab only" choice)."""
    return (str(getattr(target, "url", "")).lower().startswith("https:")
            and getattr(target, "server_cert_validation", "validate") == "ignore")
