"""The freeze detector: snapshots in, findings out, the same code live and in replay.

Feed it each snapshot as the pollers deliver it (the GUI tick, the patch workflow's soak
check) or a whole trace through :func:`detect`. Time comes only from the snapshots'
``polled_at`` (and ``host_time`` for uptime), never the wall clock, so the same trace gives
the same findings however fast it is fed. ``polled_at`` is the console's clock, which may
be stepped: each host's polls are spaced by :class:`~.poll_clock.PollClock`, which does
not count a step (either way) as time watched. Memory is bounded: a few counters and a small
CPU window per VM, state of VMs and hosts that disappear is dropped after a while, and the
history of ended findings is capped. Not thread-safe: one owner thread feeds and reads.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from types import MappingProxyType
from typing import Any

from ..maintenance import MaintenanceRegistry, MaintenanceWindow
from ..snapshot import Snapshot
from . import host_rules, vm_rules
from .events import GUEST_CRASH, HOST_CATEGORIES, HYPERV_ERROR, RecentEvents, classify, describe
from .findings import Finding, FindingBook, Slots, Verdict, document
from .host_track import HostTrack
from .text import clean, clock
from .thresholds import DEFAULT_THRESHOLDS, Thresholds
from .vm_track import UP_STATES, VmTrack

HISTORY_LIMIT = 10_000  # ended findings kept for all()/document(); older ones are counted
SWEEP_EVERY_S = 60.0  # how often (trace time) to look for hosts that stopped being polled
_NO_WINDOWS: Mapping[str, MaintenanceWindow] = MappingProxyType({})


class Detector:
    """Freeze detection over a stream of snapshots from any number of hosts."""

    def __init__(self, thresholds: Thresholds | None = None,
                 maintenance: MaintenanceRegistry | None = None, *,
                 history_limit: int = HISTORY_LIMIT) -> None:
        self.thresholds = th = thresholds or DEFAULT_THRESHOLDS
        th.validate()
        self.maintenance = maintenance
        self._book = FindingBook(th.recovery_polls, history_limit)
        self._hosts: dict[str, HostTrack] = {}
        self._now = float("-inf")
        self._next_sweep = float("-inf")
        self.ignored = 0  # snapshots not after the previous poll of the same host
        # Polls at which the console's clock had jumped (or it had not watched for long).
        self.clock_steps = 0
        self.snapshots = 0
        self.vm_samples = 0

    # -- public API -----------------------------------------------------------------------

    def feed(self, snap: Snapshot) -> list[Finding]:
        """Take one snapshot; return the findings that appeared, changed or ended with it.
        A snapshot that is not newer than the previous one of its host is ignored."""
        wall = snap.polled_at.timestamp()
        h = self._hosts.get(snap.host)
        if h is None:
            h = self._hosts[snap.host] = HostTrack(snap.host)
        steps = h.clock.steps
        t_or_none = h.clock.advance(wall, None if snap.host_time is None else snap.host_time.timestamp())
        if t_or_none is None:
            self.ignored += 1
            return []
        t = t_or_none
        self.clock_steps += h.clock.steps - steps
        book = self._book
        changes: list[Finding] = []
        book.changes = changes
        self.snapshots += 1
        self._now = max(self._now, t)
        at = snap.polled_at
        first_poll = h.polls == 0
        came_back = h.down_since is not None and snap.reachable
        inventory_ok = h.observe(snap, t)
        if came_back and "reach" in h.slots:
            book.close(h.slots, "reach", host_rules.back_note(h, t))
        # Windows are measured on the host's poll clock, not by polled_at (window_clock).
        host_window, covered = ((None, _NO_WINDOWS) if self.maintenance is None
                                else h.windows.covering(self.maintenance.host_windows(snap.host), h.clock, t))
        host_note = None
        if host_window is not None:
            window, until_t = host_window
            host_note = (f"{clean(h.name, 60)} under maintenance at {clock(t)}: "
                         f"{clean(window.reason)} (until {clock(until_t, t)})")
            book.close_all(h.slots, host_note)
        self._evaluate(h, snap, t, at, inventory_ok, first_poll, host_note, covered)
        if self._now >= self._next_sweep:
            self._sweep(self._now)
        return changes

    def active(self, host: str | None = None) -> list[Finding]:
        """Findings holding now (of one host, for a soak check after patching it)."""
        found = self._book.active()
        return found if host is None else [f for f in found if f.host == host]

    def all(self) -> list[Finding]:
        return self._book.all()

    def document(self) -> dict[str, Any]:
        """The findings-v1 document of everything found so far (ended ones included)."""
        return document(self._book.all())

    @property
    def dropped_findings(self) -> int:
        return self._book.dropped

    # -- one poll -------------------------------------------------------------------------

    def _evaluate(self, h: HostTrack, snap: Snapshot, t: float, at: datetime,
                  inventory_ok: bool, first_poll: bool, host_note: str | None,
                  vm_windows: Mapping[str, MaintenanceWindow]) -> None:
        """Observe everything the snapshot says; hold or clear findings unless the whole
        host is under maintenance (``host_note``), in which case tracks stay current (so
        nothing fires on stale data when the window ends) but no finding is held."""
        th, book = self.thresholds, self._book
        if snap.host_time is not None:
            ctx = vm_rules.VmContext(t, snap.host_time.timestamp(), True, th)
        else:
            ctx = vm_rules.VmContext(t, t, False, th)
        covered = _NO_WINDOWS if host_note is not None else vm_windows
        # How old an event is: by the host's clock, else by the console's as it is now.
        age_ref = ctx.clock if snap.host_time is not None else snap.polled_at.timestamp()
        touched = self._take_events(h, snap, t, age_ref, covered, host_note) if snap.events else None
        bad: list[tuple[float, str, str]] = []
        running = 0
        if inventory_ok:
            running = self._observe_vms(h, snap, ctx, at, covered, host_note, first_poll, touched, bad)
        elif touched:
            for vt in touched:
                vm_rules.evaluate(book, h.name, vt, ctx, at)
        if host_note is not None:
            return
        slots = h.slots
        if not snap.reachable:
            _decide(book, slots, "reach", host_rules.reachability(h, t, th), h.name, at)
        else:
            _decide(book, slots, "vmms", host_rules.vmms(h, t, th), h.name, at)
        if inventory_ok:
            _decide(book, slots, "wide", host_rules.host_wide(h, bad, running, t, th), h.name, at)
        for category in HOST_CATEGORIES:
            if category in slots or h.events[category].count:
                _decide(book, slots, category, host_rules.host_events(h, category, t, th), h.name, at)

    def _observe_vms(self, h: HostTrack, snap: Snapshot, ctx: vm_rules.VmContext, at: datetime,
                     covered: Mapping[str, MaintenanceWindow], host_note: str | None, first_poll: bool,
                     touched: set[VmTrack] | None, bad: list[tuple[float, str, str]]) -> int:
        """The hot loop: one :meth:`VmTrack.observe` per VM; rules only for VMs where
        something is unusual or a finding is open. Returns how many VMs are running."""
        th, book, tracks = self.thresholds, self._book, h.vms
        t, clk, host_clock = ctx.t, ctx.clock, ctx.host_clock
        running = 0
        for vm in snap.vms:
            vt = tracks.get(vm.id)
            if vt is None:
                vt = tracks[vm.id] = VmTrack(vm.id, vm.name, th.cpu_window_polls)
                if not first_poll and vm.uptime_s is not None and vm.uptime_s >= th.boot_grace_s:
                    # Arrived already running: migrated here. Its heartbeat may still blip.
                    vt.migrate_until = t + th.migration_grace_s
            if vt.observe(vm, t, clk, host_clock, th) or vt.slots or (touched and vt in touched):
                if host_note is not None or vm.id in covered:
                    if vt.slots:
                        book.close_all(vt.slots, host_note or _vm_note(covered[vm.id], at))
                else:
                    vm_rules.evaluate(book, h.name, vt, ctx, at)
                    onset = vm_rules.freeze_onset(vt, ctx)
                    if onset is not None:
                        bad.append((onset[0], vt.name, onset[1]))
            if vt.state in UP_STATES:
                running += 1
        self.vm_samples += len(snap.vms)
        if len(tracks) > len(snap.vms):
            self._missing_vms(h, snap, t)
        return running

    def _missing_vms(self, h: HostTrack, snap: Snapshot, t: float) -> None:
        """VMs the (trusted) inventory no longer lists: end their findings after
        ``recovery_polls``, forget them after ``vm_forget_s``."""
        present = {vm.id for vm in snap.vms}
        th, book = self.thresholds, self._book
        for vm_id, vt in list(h.vms.items()):
            if vm_id in present:
                continue
            vt.missing_polls += 1
            if vt.missing_polls == 1:
                vt.missing_since = t
            if vt.missing_polls >= th.recovery_polls and vt.slots:
                book.close_all(vt.slots, f"{clean(vt.name, 60)} no longer listed on "
                               f"{clean(h.name, 60)} since {clock(vt.missing_since)} "
                               "(migrated, removed or renamed)")
            if t - vt.missing_since >= th.vm_forget_s:
                del h.vms[vm_id]

    def _take_events(self, h: HostTrack, snap: Snapshot, t: float, ref: float,
                     covered: Mapping[str, MaintenanceWindow], host_note: str | None) -> set[VmTrack]:
        """File new events under their host or VM; returns the VMs that got some. Events
        of an entity under maintenance are marked seen and dropped: they were expected."""
        touched: set[VmTrack] = set()
        max_age = self.thresholds.event_max_age_s
        for event in snap.events:
            if not h.seen.first_time(event) or host_note is not None or event.vm_id in covered:
                continue
            if ref - event.time.timestamp() > max_age:  # old news (first poll reads back an hour)
                continue
            found = classify(event)
            if found is None:
                continue
            category, meaning = found
            line = describe(event, meaning, t)
            when = event.time.timestamp()
            vt = h.vms.get(event.vm_id) if event.vm_id else None
            if vt is not None and category in (GUEST_CRASH, HYPERV_ERROR):
                if category == GUEST_CRASH:
                    vt.crash_events = vt.crash_events or RecentEvents()
                    vt.crash_events.add(line, when, t)
                else:
                    vt.events = vt.events or RecentEvents()
                    vt.events.add(line, when, t)
                touched.add(vt)
            else:
                # Host events, and VM events for a VM this host does not list.
                h.events[HYPERV_ERROR if category == GUEST_CRASH else category].add(line, when, t)
        return touched

    # -- housekeeping -----------------------------------------------------

    def _sweep(self, now: float) -> None:
        """Drop hosts with no poll for ``host_forget_s`` of trace time (removed from the
        inventory, or a trace that moved on), ending their findings."""
        self._next_sweep = now + SWEEP_EVERY_S
        limit = self.thresholds.host_forget_s
        for name, h in list(self._hosts.items()):
            if now - h.last_t < limit:
                continue
            note = f"no poll of {clean(name, 60)} since {clock(h.last_t, now)}"
            self._book.close_all(h.slots, note)
            for vt in h.vms.values():
                self._book.close_all(vt.slots, note)
            del self._hosts[name]


def _vm_note(window: MaintenanceWindow, at: datetime) -> str:
    return f"VM under maintenance at {clock(at.timestamp())}: {clean(window.reason)}"


def _decide(book: FindingBook, slots: Slots, slot: str, verdict: Verdict | None, host: str,
            at: datetime) -> None:
    if verdict is not None:
        book.hold(slots, slot, host, None, None, verdict, at)
    elif slot in slots:
        book.clear(slots, slot)


def detect(snapshots: Iterable[Snapshot], thresholds: Thresholds | None = None,
           maintenance: MaintenanceRegistry | None = None) -> list[Finding]:
    """Replay: feed every snapshot, return all findings (ended and still active)."""
    d = Detector(thresholds, maintenance)
    for snap in snapshots:
        d.feed(snap)
    return d.all()
