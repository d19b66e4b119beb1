"""Bounded in-memory history of what the pollers saw: per-host resource series, per-VM
CPU/memory series and state changes, and recent events, for graphs and sparklines.

Everything is preallocated NumPy (float64, NaN = unknown) so memory is fixed by the
window, not by how long the console runs: one :class:`RingBuffer` per host and per VM.
A ``None`` in a snapshot is *unknown* and is stored as NaN, never 0. A host that does not
answer, or a silence longer than a few poll intervals, is stored as a NaN row so a graph
shows a gap instead of drawing a straight line across time nobody measured.

Times are float seconds since the Unix epoch (UTC), which is what pyqtgraph's
``DateAxisItem`` expects. "Now" is always the newest ``polled_at`` seen, never the wall
clock, so replaying a trace gives the same history as watching it live.

The console's clock may be stepped (core.timeutil says the rule). Back by more than
``CLOCK_STEP_BACK_S``, the host's and its VMs' series are moved back so that their newest
row lies one poll spacing before the new poll (as the host's clock measured it, else one
poll interval), and go on from there: what was measured stays, labelled on the corrected
clock, instead of every new poll being dropped until the clock catches up (hours,
possibly). Forward, a silence is a gap, unless the host's clock says only an ordinary
spacing passed: then the console's clock jumped, and the series move forward the same way
instead of showing a gap of hours that nobody was away for.

Not thread-safe: whoever calls :meth:`SiteHistory.add` and whoever reads must share one
lock, and a reader that keeps arrays after releasing it asks for ``copy=True``.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from .snapshot import HostEvent, Snapshot, VmSample
from .timeutil import CLOCK_STEP_BACK_S

if TYPE_CHECKING:
    import numpy as np
else:
    class _NumpyOnFirstUse:
        """numpy, imported where this module first uses it (a ring buffer made, on a poll's
        answer): the window's poll workers are made, and their first polls sent, before
        numpy's ~0.1 s of imports, which then run while the hosts answer. The first use
        puts the real module in its place: no cost per use after it."""

        def __getattr__(self, name: str):
            import numpy
            globals()["np"] = numpy
            return getattr(numpy, name)

    np = _NumpyOnFirstUse()

DEFAULT_WINDOW_S = 3600.0
DEFAULT_POLL_INTERVAL_S = 5.0
# Head-room over window/interval: polls that finish a little early, and the NaN rows that
# mark gaps, must not push the oldest minutes of the window out of the buffer.
CAPACITY_MARGIN = 0.1
# A silence longer than this many poll intervals is drawn as a gap.
GAP_INTERVALS = 3.0
# Check for long-vanished VMs at most this often (snapshot time), not on every add.
PRUNE_EVERY_S = 60.0

NAN = math.nan

HOST_FIELDS: tuple[str, ...] = (
    "cpu_total_pct", "cpu_guest_pct", "cpu_root_pct",
    "memory_total_mb", "memory_used_mb", "memory_available_mb",
    "storage_read_bps", "storage_write_bps", "storage_latency_ms",
    "network_rx_bps", "network_tx_bps",
)
VM_FIELDS: tuple[str, ...] = ("cpu_pct", "memory_assigned_mb", "memory_demand_mb")


class RingBuffer:
    """A fixed-capacity time series: one time column and ``len(fields)`` value columns.

    ``append`` is O(1) and never allocates. Times must not go backwards (so that a window
    can be found by binary search). :meth:`view` returns read-only arrays in time order;
    they share memory with the buffer until it first wraps (and whenever the write
    position happens to be back at slot 0), otherwise they are one fresh copy. A shared
    view may change on the next append: copy it if you keep it across ticks.
    """

    __slots__ = ("fields", "_index", "_times", "_values", "_head", "_size", "_last_t",
                 "_last_is_gap", "_capacity", "_width", "shifts")

    def __init__(self, capacity: int, fields: Sequence[str]):
        if capacity < 2:
            raise ValueError("capacity must be at least 2")
        if not fields:
            raise ValueError("a ring buffer needs at least one value field")
        self.fields = tuple(fields)
        self._index = {name: i for i, name in enumerate(self.fields)}
        self._times = np.full(capacity, NAN, dtype=np.float64)
        # One row per field so that each field's window is a contiguous slice.
        self._values = np.full((len(self.fields), capacity), NAN, dtype=np.float64)
        self._head = 0   # slot the next append writes
        self._size = 0
        # Kept as Python values: checking them on every append is cheaper than numpy.
        self._last_t: float | None = None
        self._last_is_gap = False
        self._capacity = capacity
        self._width = len(self.fields)
        # How often :meth:`shift` moved the rows: a reader that keeps a copy of the newest
        # rows and only appends what came since must read everything again when it changes.
        self.shifts = 0

    @property
    def capacity(self) -> int:
        return self._capacity

    def __len__(self) -> int:
        return self._size

    @property
    def nbytes(self) -> int:
        """Bytes held by the arrays (fixed at construction)."""
        return self._times.nbytes + self._values.nbytes

    @property
    def last_time(self) -> float | None:
        return self._last_t

    def last_row_is_gap(self) -> bool:
        """True when the newest row is all NaN (already a gap marker)."""
        return self._last_is_gap

    def append(self, t: float, values: Sequence[float | None]) -> None:
        """Add one row; ``None`` (or NaN) is stored as NaN. Raises ValueError if ``t``
        is older than the newest row or ``values`` has the wrong length."""
        # Once per VM per poll (2,000 VMs at the largest site): plain Python checks, and
        # the row handed to NumPy as it is (NumPy stores None in a float array as NaN).
        if len(values) != self._width:
            raise ValueError(f"expected {self._width} values, got {len(values)}")
        if not math.isfinite(t):
            raise ValueError(f"time must be finite, got {t}")
        last = self._last_t
        if last is not None and t < last:
            raise ValueError(f"time goes backwards ({t} < {last})")
        h = self._head
        self._times[h] = t
        self._values[:, h] = values
        h += 1
        self._head = 0 if h == self._capacity else h
        self._last_t = float(t)
        gap = True
        for v in values:
            if v is not None and v == v:   # NaN is the only value != itself
                gap = False
                break
        self._last_is_gap = gap
        if self._size < self._capacity:
            self._size += 1

    def shift(self, dt: float) -> None:
        """Move every row's time by ``dt`` (the clock they were stamped with was stepped);
        the order, and so the binary search, stays valid."""
        if self._last_t is not None:
            self._times += dt    # unused slots are NaN and stay NaN
            self._last_t += dt
            self.shifts += 1

    def append_gap(self, t: float) -> None:
        """Add an all-NaN row at ``t``: a graph breaks its line there."""
        self.append(t, (None,) * len(self.fields))

    def view(self, *, copy: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """``(times, values)`` oldest first: shapes ``(n,)`` and ``(len(fields), n)``.
        ``copy=True`` guarantees arrays that no later append can change (for a reader
        that keeps them after releasing the lock another thread appends under)."""
        n, h = self._size, self._head
        if n == self.capacity and h != 0:
            times = np.concatenate((self._times[h:], self._times[:h]))
            values = np.concatenate((self._values[:, h:], self._values[:, :h]), axis=1)
        else:
            times, values = self._times[:n], self._values[:, :n]
            if copy:
                times, values = times.copy(), values.copy()
        return _read_only(times), _read_only(values)

    def since(self, t0: float, *, copy: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """Like :meth:`view`, restricted to rows with time >= ``t0``."""
        times, values = self.view(copy=copy)
        start = int(np.searchsorted(times, t0, side="left"))
        return times[start:], values[:, start:]

    def series(self, field: str, since: float | None = None) -> tuple[np.ndarray, np.ndarray]:
        """``(times, values)`` of one field, optionally from ``since`` on."""
        row = self._index[field]  # KeyError names the unknown field
        times, values = self.view() if since is None else self.since(since)
        return times, values[row]

    def latest(self, field: str) -> float | None:
        """The newest value of ``field``, or None when unknown or empty."""
        if self._size == 0:
            return None
        v = float(self._values[self._index[field], self._head - 1])
        return None if math.isnan(v) else v


def _read_only(a: np.ndarray) -> np.ndarray:
    v = a.view()
    v.flags.writeable = False
    return v


def _append_with_gap(buf: RingBuffer, t: float, values: Sequence[float | None],
                     gap_after_s: float) -> None:
    """Append, first marking a gap midway if the series has been silent too long."""
    last = buf.last_time
    if last is not None and t - last > gap_after_s and not buf.last_row_is_gap():
        buf.append_gap(last + (t - last) / 2.0)
    buf.append(t, values)


@dataclass(frozen=True, slots=True)
class VmTransition:
    """A change of a VM's state or heartbeat, as first seen by a poll."""

    time: datetime
    state: str
    heartbeat: str | None
    previous_state: str | None
    previous_heartbeat: str | None


class _RecentEvents:
    """The newest events of one host, bounded, without the duplicates that appear when
    consecutive polls both return the event at the bookmark boundary."""

    __slots__ = ("_events", "_keys")

    def __init__(self, limit: int):
        self._events: deque[HostEvent] = deque(maxlen=limit)
        self._keys: set[tuple] = set()

    @staticmethod
    def _key(e: HostEvent) -> tuple:
        return (e.time, e.log, e.id, e.provider, e.vm_id, e.message)

    def extend(self, events: Iterable[HostEvent]) -> None:
        for e in events:
            key = self._key(e)
            if key in self._keys:
                continue
            if len(self._events) == self._events.maxlen:
                self._keys.discard(self._key(self._events[0]))
            self._events.append(e)
            self._keys.add(key)

    def __iter__(self) -> Iterator[HostEvent]:
        return iter(self._events)


class HostHistory:
    """One host's resource series (fields :data:`HOST_FIELDS`) and current reachability."""

    __slots__ = ("name", "buffer", "last_snapshot", "last_reachable", "unreachable_since",
                 "vm_ids", "events", "_gap_after_s")

    def __init__(self, name: str, capacity: int, gap_after_s: float, events_limit: int):
        self.name = name
        self.buffer = RingBuffer(capacity, HOST_FIELDS)
        self.last_snapshot: Snapshot | None = None     # newest poll, reachable or not
        self.last_reachable: Snapshot | None = None    # newest poll that answered
        self.unreachable_since: datetime | None = None  # first failed poll of the current run
        self.vm_ids: frozenset[str] = frozenset()      # VMs in the newest answered poll
        self.events = _RecentEvents(events_limit)
        self._gap_after_s = gap_after_s

    @property
    def reachable(self) -> bool | None:
        """None before the first poll."""
        return None if self.last_snapshot is None else self.last_snapshot.reachable

    @property
    def last_time(self) -> float | None:
        """Epoch seconds of the newest poll (the right edge of the host's graphs)."""
        return None if self.last_snapshot is None else self.last_snapshot.polled_at.timestamp()

    def _add(self, snap: Snapshot) -> None:
        t = snap.polled_at.timestamp()
        self.last_snapshot = snap
        if not snap.reachable:
            if self.unreachable_since is None:
                self.unreachable_since = snap.polled_at
            if not self.buffer.last_row_is_gap():
                self.buffer.append_gap(t)
            return
        self.unreachable_since = None
        self.last_reachable = snap
        _append_with_gap(self.buffer, t, _host_row(snap), self._gap_after_s)
        self.events.extend(snap.events)


def _host_spacing(prev: Snapshot, snap: Snapshot, longest: float) -> float | None:
    """Seconds between two polls by the host's own clock when both carry it and it is an
    ordinary spacing (above 0, up to ``longest``); None otherwise."""
    if prev.host_time is None or snap.host_time is None:
        return None
    h = (snap.host_time - prev.host_time).total_seconds()
    return h if 0 < h <= longest else None


def _host_row(snap: Snapshot) -> tuple[float | None, ...]:
    r = snap.resources
    if r is None:
        return (None,) * len(HOST_FIELDS)
    used = None
    if r.memory_total_mb is not None and r.memory_available_mb is not None:
        used = r.memory_total_mb - r.memory_available_mb
    return (r.cpu_total_run_pct, r.cpu_guest_run_pct, r.cpu_root_run_pct,
            r.memory_total_mb, used, r.memory_available_mb,
            r.storage_read_bps, r.storage_write_bps, r.storage_latency_ms,
            r.network_rx_bps, r.network_tx_bps)


class VmHistory:
    """One VM's series (fields :data:`VM_FIELDS`), newest sample and recent transitions."""

    __slots__ = ("vm_id", "host", "latest", "last_seen", "vanished_at", "buffer",
                 "transitions", "_gap_after_s")

    def __init__(self, vm_id: str, host: str, capacity: int, gap_after_s: float,
                 transitions_limit: int):
        self.vm_id = vm_id
        self.host = host                              # host of the newest sample
        self.latest: VmSample | None = None
        self.last_seen: datetime | None = None        # polled_at of the newest sample
        self.vanished_at: datetime | None = None      # its host answered without it
        self.buffer = RingBuffer(capacity, VM_FIELDS)
        self.transitions: deque[VmTransition] = deque(maxlen=transitions_limit)
        self._gap_after_s = gap_after_s

    @property
    def name(self) -> str | None:
        return None if self.latest is None else self.latest.name

    def _add(self, host: str, polled_at: datetime, vm: VmSample, t: float) -> None:
        """``t``: ``polled_at`` as epoch seconds (worked out once per poll, not per VM)."""
        prev = self.latest
        if prev is None or prev.state != vm.state or prev.heartbeat != vm.heartbeat:
            self._transition(polled_at, vm, prev)
        self.host = host
        self.latest = vm
        self.last_seen = polled_at
        self.vanished_at = None
        _append_with_gap(self.buffer, t, (vm.cpu_pct, vm.memory_assigned_mb, vm.memory_demand_mb),
                         self._gap_after_s)

    def _transition(self, polled_at: datetime, vm: VmSample, prev: VmSample | None) -> None:
        self.transitions.append(VmTransition(
            time=polled_at, state=vm.state, heartbeat=vm.heartbeat,
            previous_state=None if prev is None else prev.state,
            previous_heartbeat=None if prev is None else prev.heartbeat))

    def _shift(self, dt: float) -> None:
        self.buffer.shift(dt)
        step = timedelta(seconds=dt)
        self.last_seen = None if self.last_seen is None else self.last_seen + step
        self.vanished_at = None if self.vanished_at is None else self.vanished_at + step

    def _mark_gap(self, t: float) -> None:
        last = self.buffer.last_time
        # After a live migration the new host may already have reported a later sample.
        if not self.buffer.last_row_is_gap() and (last is None or last <= t):
            self.buffer.append_gap(t)


class SiteHistory:
    """All hosts' and VMs' history for one site, sized to a time window.

    ``capacity`` defaults to ``window_s / poll_interval_s`` plus 10 %: 792 rows for an
    hour at 5 s. Faster polling than declared shortens the time covered, never grows
    memory. VMs whose host answered without them (deleted, migrated away) are forgotten
    ``forget_after_s`` (default: the window) later; VMs of an unreachable host are kept.
    """

    def __init__(self, *, window_s: float = DEFAULT_WINDOW_S,
                 poll_interval_s: float = DEFAULT_POLL_INTERVAL_S,
                 capacity: int | None = None, forget_after_s: float | None = None,
                 transitions_per_vm: int = 32, events_per_host: int = 500):
        if window_s <= 0 or poll_interval_s <= 0:
            raise ValueError("window_s and poll_interval_s must be positive")
        self.window_s = float(window_s)
        self.poll_interval_s = float(poll_interval_s)
        points = math.ceil(window_s / poll_interval_s)
        self.capacity = capacity if capacity is not None else points + math.ceil(points * CAPACITY_MARGIN)
        self.gap_after_s = GAP_INTERVALS * self.poll_interval_s
        self.forget_after_s = self.window_s if forget_after_s is None else float(forget_after_s)
        self._transitions_per_vm = transitions_per_vm
        self._events_per_host = events_per_host
        self._hosts: dict[str, HostHistory] = {}
        self._vms: dict[str, VmHistory] = {}
        self._last_prune: float | None = None
        self.dropped_out_of_order = 0
        self.clock_steps_back = 0   # polls that found the console's clock stepped back
        self.clock_steps_forward = 0    # ... or jumped forward (the host's clock says so)
        self.last_shift_s = 0.0     # how far the last add moved its host's rows (0: not at all)

    def set_poll_interval(self, poll_interval_s: float) -> None:
        """The hosts are now polled every ``poll_interval_s``: a silence is a gap only past
        GAP_INTERVALS of the new interval, for the series already here and those to come
        (raised live from 5 s to 20 s, every new point would otherwise look like a gap). The
        capacity stays: slower polling covers more time in the same memory."""
        if not poll_interval_s > 0:
            raise ValueError("poll_interval_s must be positive")
        self.poll_interval_s = float(poll_interval_s)
        self.gap_after_s = GAP_INTERVALS * self.poll_interval_s
        for host in self._hosts.values():
            host._gap_after_s = self.gap_after_s
        for vm in self._vms.values():
            vm._gap_after_s = self.gap_after_s

    # -- feeding ------------------------------------------------------------------------

    def add(self, snap: Snapshot) -> bool:
        """Route one snapshot into the host's and its VMs' series. Returns False (and
        records nothing) for a snapshot older than the host's newest one by less than
        ``CLOCK_STEP_BACK_S``; when the console's clock was stepped, the host's series move
        to meet the new poll (see the module docstring)."""
        self.last_shift_s = 0.0
        host = self._hosts.get(snap.host)
        if host is None:
            host = self._hosts[snap.host] = HostHistory(
                snap.host, self.capacity, self.gap_after_s, self._events_per_host)
        elif host.last_snapshot is not None:
            prev = host.last_snapshot
            dt = (snap.polled_at - prev.polled_at).total_seconds()
            if dt < 0:
                if -dt <= CLOCK_STEP_BACK_S:
                    self.dropped_out_of_order += 1
                    return False
                h = _host_spacing(prev, snap, self.gap_after_s)
                self.clock_steps_back += 1
                self._clock_stepped(host, dt - (self.poll_interval_s if h is None else h))
            elif dt > self.gap_after_s:
                h = _host_spacing(prev, snap, self.gap_after_s)
                if h is not None and dt - h > CLOCK_STEP_BACK_S:
                    self.clock_steps_forward += 1
                    self._clock_stepped(host, dt - h)
        previous_vm_ids = host.vm_ids
        host._add(snap)
        t = snap.polled_at.timestamp()
        if snap.reachable:
            self._add_vms(snap, previous_vm_ids)
        else:
            for vm_id in previous_vm_ids:  # unknown now: a gap, not a stale line
                vm = self._vms.get(vm_id)
                if vm is not None and vm.host == snap.host:
                    vm._mark_gap(t)
        self._maybe_prune(t)
        return True

    def _add_vms(self, snap: Snapshot, previous_vm_ids: frozenset[str]) -> None:
        seen = set()
        vms = self._vms
        name, at = snap.host, snap.polled_at
        t = at.timestamp()
        for sample in snap.vms:
            vm_id = sample.id.lower()  # the parser lowercases; hand-made snapshots may not
            if vm_id in seen:
                continue  # a VM listed twice in one poll: keep the first
            seen.add(vm_id)
            vm = vms.get(vm_id)
            if vm is None:
                vm = vms[vm_id] = VmHistory(
                    vm_id, name, self.capacity, self.gap_after_s, self._transitions_per_vm)
                vm._add(name, at, sample, t)
                continue
            buf = vm.buffer
            last = buf._last_t
            if last is not None and t < last:
                # Another host already reported it later, or a gap row was written after
                # this sample's time (a vanish or an outage seen by another host's worker
                # first).
                continue
            # What vm._add(name, at, sample, t) does, written out: once per VM per poll,
            # where each call and property read costs more than the work it wraps.
            prev = vm.latest
            if prev is None or prev.state != sample.state or prev.heartbeat != sample.heartbeat:
                vm._transition(polled_at=at, vm=sample, prev=prev)
            vm.host = name
            vm.latest = sample
            vm.last_seen = at
            vm.vanished_at = None
            if last is not None and t - last > vm._gap_after_s and not buf._last_is_gap:
                buf.append_gap(last + (t - last) / 2.0)
            buf.append(t, (sample.cpu_pct, sample.memory_assigned_mb, sample.memory_demand_mb))
        host = self._hosts[name]
        host.vm_ids = frozenset(seen)
        for vm_id in previous_vm_ids - seen:
            vm = self._vms.get(vm_id)
            if vm is not None and vm.host == snap.host and vm.vanished_at is None:
                vm.vanished_at = snap.polled_at
                vm._mark_gap(t)

    def _clock_stepped(self, host: HostHistory, dt: float) -> None:
        """The console's clock was stepped: move the host's rows and those of the VMs it
        reported by ``dt`` so that they lie before the new poll as they were measured."""
        self.last_shift_s = dt
        host.buffer.shift(dt)
        step = timedelta(seconds=dt)
        if host.unreachable_since is not None:
            host.unreachable_since += step
        # Keep the old snapshots: they are the newest the host sent (the GUI reads them);
        # only their place on the time axis moved. last_time is read from the new poll.
        for vm in self._vms.values():
            if vm.host == host.name:
                vm._shift(dt)
        self._last_prune = None

    def _maybe_prune(self, now: float) -> None:
        if self._last_prune is not None and 0 <= now - self._last_prune < PRUNE_EVERY_S:
            return
        self._last_prune = now
        cutoff = now - self.forget_after_s
        stale = [vm_id for vm_id, vm in self._vms.items()
                 if vm.vanished_at is not None and vm.vanished_at.timestamp() < cutoff]
        for vm_id in stale:
            del self._vms[vm_id]

    def remove_host(self, name: str) -> None:
        """Forget a host taken out of the inventory, and the VMs it last reported."""
        self._hosts.pop(name, None)
        for vm_id in [i for i, vm in self._vms.items() if vm.host == name]:
            del self._vms[vm_id]

    # -- reading ------------------------------------------------------------------------

    def host(self, name: str) -> HostHistory | None:
        return self._hosts.get(name)

    def host_names(self) -> list[str]:
        return sorted(self._hosts)

    def vm(self, vm_id: str) -> VmHistory | None:
        return self._vms.get(vm_id.lower())

    def vms(self, host: str | None = None) -> list[VmHistory]:
        """VM histories, of one host (by newest sample) or all."""
        return [vm for vm in self._vms.values() if host is None or vm.host == host]

    def events_for(self, vm_id: str | None = None, limit: int | None = None) -> list[HostEvent]:
        """Recent events (of one VM when ``vm_id`` is given), oldest first."""
        wanted = None if vm_id is None else vm_id.lower()
        out = [e for h in self._hosts.values() for e in h.events
               if wanted is None or e.vm_id == wanted]
        out.sort(key=lambda e: e.time)
        return out if limit is None else out[-limit:]

    @property
    def nbytes(self) -> int:
        """Bytes held by all ring buffers (the part that scales with hosts × VMs × window)."""
        return (sum(h.buffer.nbytes for h in self._hosts.values())
                + sum(vm.buffer.nbytes for vm in self._vms.values()))

    def __len__(self) -> int:
        """Number of VMs tracked."""
        return len(self._vms)
