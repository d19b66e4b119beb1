"""The per-VM rules: from a :class:`~.vm_track.VmTrack` to verdicts for its slots.

Each rule reads the run counters the track keeps and either returns a :class:`Verdict`
(the finding holds this poll) or None. Evidence is a closure, called by the book only when
the finding opens or its signature changes. Reasons and thresholds: docs/freeze-detection.md.
"""

from __future__ import annotations

from datetime import datetime

from ..enums import TRANSITIONAL_VM_STATES
from .events import GUEST_CRASH, HYPERV_ERROR, RecentEvents
from .findings import CRITICAL, WARNING, FindingBook, Slots, Verdict
from .text import clock, duration, pct_range, polls
from .thresholds import Thresholds
from .vm_track import NO_HEARTBEAT, RUNNING, VmTrack

SAVING_STATES = frozenset({"Saving", "FastSaving"})
CPU_KINDS = frozenset({"heartbeat-lost-cpu-flat", "heartbeat-lost-cpu-pegged"})


class VmContext:
    """What every VM rule needs about the poll being evaluated."""

    __slots__ = ("t", "clock", "host_clock", "th")

    def __init__(self, t: float, clock: float, host_clock: bool, th: Thresholds) -> None:
        self.t, self.clock, self.host_clock, self.th = t, clock, host_clock, th


def heartbeat(vt: VmTrack, c: VmContext) -> Verdict | None:
    th, t = c.th, c.t
    if vt.state != RUNNING:
        return None
    if vt.lost_since is None:
        return _not_restored(vt, c)
    lost_since = vt.lost_since
    lasted = t - lost_since
    if vt.lost_polls < th.heartbeat_lost_polls or lasted < th.heartbeat_lost_s:
        return None
    cpu = vt.cpu
    kind, why = "heartbeat-lost", ""
    if len(cpu) >= th.cpu_window_polls:
        lo, hi = min(cpu), max(cpu)
        spinning = _spinning_vcpus(lo, hi, vt.vcpus, th)
        if hi <= th.cpu_flat_max_pct:
            kind, why = "heartbeat-lost-cpu-flat", "flat near 0: the guest is halted"
        elif spinning is not None:
            kind, why = "heartbeat-lost-cpu-pegged", spinning
    held = vt.slots.get("heartbeat")
    if kind == "heartbeat-lost" and held is not None and held.kind in CPU_KINDS:
        # The CPU already proved halted/spinning in this outage; one odd sample since
        # does not undo that (and must not flip the finding back and forth).
        kind = held.kind
    crash = vt.crash_events
    crashed = crash is not None and t - crash.last_received <= th.crash_escalation_s
    long_lost = lasted >= th.heartbeat_lost_critical_s
    severity = CRITICAL if (kind != "heartbeat-lost" or crashed or long_lost) else WARNING
    signature = (severity, long_lost, crash.count if crash is not None and crashed else 0)

    def build() -> list[str]:
        lines = [f"heartbeat {vt.lost_hb} since {clock(lost_since, t)} "
                 f"({polls(vt.lost_polls)}, {duration(lasted)}) while Running"]
        if cpu:
            lines.append(f"CPU {pct_range(cpu)} over the last {polls(len(cpu))}"
                         + (f" ({why})" if why else ""))
        if long_lost:
            lines.append(f"lost for more than {duration(th.heartbeat_lost_critical_s)} "
                         "without a restart")
        if vt.up_last is not None and not vt.stall_polls:
            lines.append(f"uptime {vt.up_last} s and advancing: the VM runs, the guest does not answer")
        if crashed and crash:
            lines.extend(crash.lines)
        return lines

    return Verdict(kind, severity, signature, build)


def _spinning_vcpus(lo: float, hi: float, vcpus: int | None, th: Thresholds) -> str | None:
    """Pegged: every sample near 100 %; or steady at k/vcpus of the VM (k vCPUs spinning
    while the others halt), which a guest deadlocked on a spinlock shows."""
    if lo >= th.cpu_pegged_min_pct:
        return "pegged: the guest is spinning"
    if vcpus and vcpus > 1 and hi - lo <= th.cpu_steady_band_pct:
        for k in range(1, vcpus):
            level = 100.0 * k / vcpus
            if level - th.cpu_steady_band_pct <= lo and hi <= level + th.cpu_steady_band_pct:
                return f"steady at {k} of {vcpus} vCPUs: {k} spinning"
    return None


def _not_restored(vt: VmTrack, c: VmContext) -> Verdict | None:
    """A VM whose heartbeat worked, restarted, and shows none since. After a guest crash
    reset (18560/18590) with no sign of a boot (no heartbeat, CPU flat) it is critical
    once the heartbeat has been gone as long as a lost heartbeat may be: the restart's
    boot grace must not hide a VM that never comes back. Otherwise a warning later."""
    th, t = c.th, c.t
    if (vt.hb != NO_HEARTBEAT or not vt.hb_ok_ever or vt.hb_back or vt.started_at is None
            or t < vt.migrate_until):
        return None
    started = vt.started_at
    waited = t - started
    crash = vt.crash_events
    # The crash that caused this restart: received around or after it (the reset follows
    # the event at once; the event arrives with the next poll).
    crashed = crash is not None and crash.last_received >= started - th.crash_escalation_s
    cpu = vt.cpu
    flat = len(cpu) >= th.cpu_window_polls and max(cpu) <= th.cpu_flat_max_pct
    never_booted = crashed and flat and waited >= th.heartbeat_lost_critical_s
    if not never_booted and waited < th.heartbeat_restore_s:
        return None
    severity = CRITICAL if never_booted else WARNING

    def build() -> list[str]:
        lines = [f"restarted at {clock(started, t)}; heartbeat NoContact {duration(waited)} later"]
        if never_booted and crash is not None:
            lines.append(f"CPU {pct_range(cpu)} over the last {polls(len(cpu))}: no sign of a boot")
            lines.append("the restart followed a guest crash and the guest never came back:")
            lines.extend(crash.lines)
        else:
            lines.append("the heartbeat worked before the restart: the guest may be stuck while booting")
        return lines

    return Verdict("heartbeat-not-restored", severity, (started, severity), build)


def uptime(vt: VmTrack, c: VmContext) -> Verdict | None:
    th = c.th
    ref = vt.up_ref_uptime
    if vt.state != RUNNING or ref is None or vt.stall_polls < th.uptime_stall_polls:
        return None
    span = c.clock - vt.up_ref_clock
    if span < th.uptime_stall_s or c.t < vt.migrate_until:
        return None
    now_up, since = vt.up_last, vt.up_ref_t

    def build() -> list[str]:
        which = "host" if c.host_clock else "poll"
        return [f"uptime {ref} s at {clock(since, c.t)}, {now_up} s at {clock(c.t)}: advanced "
                f"{(now_up or 0) - ref} s in {duration(span)} of {which} time while Running",
                "a running VM's uptime always advances: its worker is not updating (hung) or the VM is not running"]

    return Verdict("uptime-stalled", CRITICAL, since, build)


def critical_state(vt: VmTrack, c: VmContext) -> Verdict | None:
    th = c.th
    if (vt.crit_since is None or vt.crit_polls < th.critical_state_polls
            or c.t - vt.crit_since < th.critical_state_s):
        return None
    return _run_verdict("vm-critical-state", CRITICAL, vt.crit_why, vt.crit_since, vt.crit_polls, vt, c)


def degraded(vt: VmTrack, c: VmContext) -> Verdict | None:
    if vt.warn_since is None or vt.warn_polls < c.th.warning_state_polls:
        return None
    return _run_verdict("vm-degraded", WARNING, vt.warn_why, vt.warn_since, vt.warn_polls, vt, c)


def applications(vt: VmTrack, c: VmContext) -> Verdict | None:
    if vt.apps_since is None or vt.apps_polls < c.th.warning_state_polls:
        return None
    v = _run_verdict("applications-critical", WARNING, vt.apps_why, vt.apps_since, vt.apps_polls, vt, c)
    build = v.build
    note = "the guest answers: an application inside reports a problem, the VM is not frozen"
    return v._replace(build=lambda: [*build(), note])


def _run_verdict(kind: str, severity: str, why: tuple[str, ...], since: float, n: int,
                 vt: VmTrack, c: VmContext) -> Verdict:
    t = c.t

    def build() -> list[str]:
        lines = [f"{'; '.join(why)} since {clock(since, t)} ({polls(n)}, {duration(t - since)})"]
        if vt.hb:
            lines.append(f"state {vt.state}, heartbeat {vt.hb}")
        return lines

    return Verdict(kind, severity, why, build)


def stuck_transition(vt: VmTrack, c: VmContext) -> Verdict | None:
    state, th, t = vt.state, c.th, c.t
    if state not in TRANSITIONAL_VM_STATES:
        return None
    if state == "Stopping":
        limit, because = th.stopping_stuck_s, "Stop-VM -Force waits 5 min before forcing"
    elif state in SAVING_STATES:
        limit, because = th.saving_stuck_s, "saving writes the VM's memory to disk"
    else:
        limit, because = th.transition_stuck_s, "this transition normally takes seconds"
    lasted = t - vt.state_since
    if lasted < limit:
        return None
    since = vt.state_since
    at_least = "" if vt.state_start_seen else "at least "

    def build() -> list[str]:
        return [f"state {state} since {at_least}{clock(since, t)} ({duration(lasted)})",
                f"limit {duration(limit)} ({because}); Microsoft lists a VM stuck in a "
                "transitional state as a problem to act on"]

    return Verdict("stuck-transition", CRITICAL, (state, since), build)


def restart_loop(vt: VmTrack, c: VmContext) -> Verdict | None:
    """Restarting again and again (a triple fault early in every boot): each restart alone
    looks like a guest reboot, together they are a VM that never comes up."""
    th, t = c.th, c.t
    restarts = [r for r in vt.restarts or () if r >= t - th.restart_loop_window_s]
    crash = vt.crash_events
    crashes = crash.within(c.clock - th.restart_loop_window_s) if crash is not None else 0
    if len(restarts) < th.restart_loop_count and crashes < th.crash_loop_count:
        return None

    def build() -> list[str]:
        lines = []
        if restarts:
            lines.append(f"restarted {len(restarts)} times since {clock(restarts[0], t)} "
                         f"(uptime reset at {', '.join(clock(r, t) for r in restarts)})")
        if crashes and crash is not None:
            lines.append(f"{crashes} crash resets within {duration(th.restart_loop_window_s)}; newest:")
            lines.extend(list(crash.lines)[-2:])
        lines.append("the guest does not stay up: a restart loop, not a single reboot")
        return lines

    return Verdict("restart-loop", CRITICAL, None, build)


def guest_crash_events(vt: VmTrack, c: VmContext) -> Verdict | None:
    return _events_verdict(vt.crash_events, GUEST_CRASH, c)


def hyperv_error_events(vt: VmTrack, c: VmContext) -> Verdict | None:
    return _events_verdict(vt.events, HYPERV_ERROR, c)


def _events_verdict(recent: RecentEvents | None, kind: str, c: VmContext) -> Verdict | None:
    if recent is None or c.t - recent.last_received > c.th.event_active_s:
        return None
    lines = list(recent.lines)
    return Verdict(kind, WARNING, recent.count, lambda: lines)


def evaluate(book: FindingBook, host: str, vt: VmTrack, c: VmContext, at: datetime) -> None:
    """Hold or clear each of the VM's slots for this poll. A rule runs only when its
    signal is present or its slot is open (the slot name is stable; a rule may answer with
    different kinds): a frozen VM costs a few microseconds per poll, not nine rule calls."""
    slots = vt.slots
    if vt.state == RUNNING or "heartbeat" in slots:
        _apply(book, slots, "heartbeat", heartbeat(vt, c), host, vt, at)
    if vt.stall_polls or "uptime" in slots:
        _apply(book, slots, "uptime", uptime(vt, c), host, vt, at)
    if vt.crit_since is not None or "critical-state" in slots:
        _apply(book, slots, "critical-state", critical_state(vt, c), host, vt, at)
    if vt.warn_since is not None or "degraded" in slots:
        _apply(book, slots, "degraded", degraded(vt, c), host, vt, at)
    if vt.apps_since is not None or "applications" in slots:
        _apply(book, slots, "applications", applications(vt, c), host, vt, at)
    if vt.state in TRANSITIONAL_VM_STATES or "transition" in slots:
        _apply(book, slots, "transition", stuck_transition(vt, c), host, vt, at)
    if vt.restarts or vt.crash_events is not None or "restarts" in slots:
        _apply(book, slots, "restarts", restart_loop(vt, c), host, vt, at)
    if vt.crash_events is not None:
        _apply(book, slots, GUEST_CRASH, guest_crash_events(vt, c), host, vt, at)
    if vt.events is not None:
        _apply(book, slots, HYPERV_ERROR, hyperv_error_events(vt, c), host, vt, at)


def _apply(book: FindingBook, slots: Slots, slot: str, v: Verdict | None, host: str,
           vt: VmTrack, at: datetime) -> None:
    if v is not None:
        book.hold(slots, slot, host, vt.vm_id, vt.name, v, at)
    elif slot in slots:
        book.clear(slots, slot)


def freeze_onset(vt: VmTrack, c: VmContext) -> tuple[float, str] | None:
    """When this VM went bad and how, for host-wide correlation: the debounced signals
    that point at a frozen VM (not warnings, not slow transitions)."""
    th, t = c.th, c.t
    onsets = []
    if (vt.lost_since is not None and vt.lost_polls >= th.heartbeat_lost_polls
            and t - vt.lost_since >= th.heartbeat_lost_s and vt.state == RUNNING):
        onsets.append((vt.lost_since, f"heartbeat {vt.lost_hb}"))
    if (vt.crit_since is not None and vt.crit_polls >= th.critical_state_polls
            and t - vt.crit_since >= th.critical_state_s):
        onsets.append((vt.crit_since, vt.crit_why[0]))
    if (vt.state == RUNNING and vt.up_ref_uptime is not None
            and vt.stall_polls >= th.uptime_stall_polls and c.clock - vt.up_ref_clock >= th.uptime_stall_s):
        onsets.append((vt.up_ref_t, "uptime stalled"))
    return min(onsets) if onsets else None
