"""Host-level rules: a host that stops answering, a wedged VMMS, host event categories,
and the correlation that turns several VMs going bad together into one host finding.

Reasons and thresholds: docs/freeze-detection.md (hyperv-notes §3 indicators 6-7, §4).
"""

from __future__ import annotations

from .findings import CRITICAL, WARNING, Verdict
from .host_track import ANSWERED_KINDS, HostTrack
from .text import clean, clock, duration, names, polls
from .thresholds import Thresholds

WHAT_KIND_MEANS = {
    "timeout": "timeout: nothing answers at all (host hung, powered off, or the network to it is down)",
    "refused": "refused: the host is up but WinRM is not listening (rebooting, or the service stopped)",
    "auth": "the host answers but rejects the credentials",
    "tls": "the host answers but the TLS handshake fails",
    "fault": "the host answers with WS-Management faults",
    "protocol": "the host answers with something that is not WS-Management",
    "script": "the host answers but the collection script fails on it",
}


def reachability(h: HostTrack, t: float, th: Thresholds) -> Verdict | None:
    since = h.down_since
    if since is None or h.down_polls < th.unreachable_polls or t - since < th.unreachable_s:
        return None
    lasted = t - since
    kinds = h.down_kinds
    last_kind, message, elapsed_ms = h.last_error or ("unknown", "", None)
    if set(kinds) <= ANSWERED_KINDS:
        kind, severity = "host-poll-failing", WARNING
    else:
        kind = "host-unreachable"
        severity = CRITICAL if h.answered and lasted >= th.host_down_critical_s else WARNING
    answered, answered_t = h.answered, h.answered_t

    def build() -> list[str]:
        counts = ", ".join(f"{n} {k}" for k, n in sorted(kinds.items(), key=lambda kv: (-kv[1], kv[0])))
        lines = [f"polls failing since {clock(since, t)} ({polls(h.down_polls)}, {duration(lasted)}): {counts}",
                 WHAT_KIND_MEANS.get(last_kind, f"last error kind: {last_kind}")]
        detail = clean(message)
        after = f" after {elapsed_ms} ms" if elapsed_ms is not None else ""
        if detail or after:
            lines.append(f"last error ({last_kind}){after}: {detail or 'no message'}")
        if answered and answered_t is not None:
            lines.append(f"last answered at {clock(answered_t, t)}")
        else:
            lines.append("has not answered once since polling began: check the address and credentials")
        return lines

    return Verdict(kind, severity, (severity, last_kind), build)


def back_note(h: HostTrack, t: float) -> str:
    """The line added when an unreachable host answers again: did it reboot meanwhile?"""
    before, now = h.boot_before_down, h.last_boot
    if now is not None and before is not None and now > before:
        return f"answered again at {clock(t)}; last boot {clock(now.timestamp(), t)}: it rebooted meanwhile"
    return f"answered again at {clock(t)}" + ("; no reboot since" if now is not None else "")


def vmms(h: HostTrack, t: float, th: Thresholds) -> Verdict | None:
    since = h.query_since
    if since is None or h.query_polls < th.vmms_polls or t - since < th.vmms_s:
        return None
    status = h.vmms_status or "unknown"
    if status == "StartPending" and t - since < th.vmms_start_pending_s:
        return None  # VMMS still starting after a boot: WinRM answers before it is ready
    wedged = status in ("Running", "unknown")
    kind, severity = ("vmms-unresponsive", CRITICAL) if wedged else ("vmms-not-running", WARNING)
    n, error, elapsed = h.query_polls, clean(h.query_error), h.query_elapsed_ms

    def build() -> list[str]:
        after = f" after {elapsed} ms" if elapsed is not None else ""
        lines = [f"VM query failing since {clock(since, t)} ({polls(n)}, {duration(t - since)}) "
                 f"while vmms says {status}",
                 f"last VM query error{after}: {error or 'no message'}"]
        lines.append("VMMS is wedged: the VMs may still run, but nothing can be seen or managed"
                     if wedged else "the Hyper-V management service is not running")
        return lines + _recent_host_events(h, t, th)

    return Verdict(kind, severity, (kind, status), build)


def host_events(h: HostTrack, category: str, t: float, th: Thresholds) -> Verdict | None:
    recent = h.events[category]
    if t - recent.last_received > th.event_active_s:
        return None
    lines = list(recent.lines)
    return Verdict(category, WARNING, recent.count, lambda: lines)


def _recent_host_events(h: HostTrack, t: float, th: Thresholds, limit: int = 3) -> list[str]:
    lines: list[str] = []
    for recent in h.events.values():
        if t - recent.last_received <= th.event_active_s:
            lines.extend(recent.lines)
    return lines[-limit:]


def host_wide(h: HostTrack, bad: list[tuple[float, str, str]], running: int, t: float,
              th: Thresholds) -> Verdict | None:
    """``bad``: (onset, VM name, signal) of each VM with a debounced freeze signal now.
    Fires on the largest group whose onsets lie within ``host_wide_window_s``."""
    if len(bad) < 2:
        return None
    bad.sort()
    best_lo, best_n, lo = 0, 0, 0
    for hi in range(len(bad)):
        while bad[hi][0] - bad[lo][0] > th.host_wide_window_s:
            lo += 1
        if hi - lo + 1 > best_n:
            best_lo, best_n = lo, hi - lo + 1
    group = bad[best_lo:best_lo + best_n]
    enough = best_n >= th.host_wide_min_vms or best_n >= max(2.0, th.host_wide_min_fraction * running)
    if not enough:
        return None
    first, last = group[0][0], group[-1][0]
    vm_names = frozenset(name for _, name, _ in group)

    def build() -> list[str]:
        signals: dict[str, int] = {}
        for _, _, signal in group:
            signals[signal] = signals.get(signal, 0) + 1
        lines = [f"{best_n} of {max(running, best_n)} running VMs on {clean(h.name, 60)} went bad within "
                 f"{duration(last - first)} from {clock(first, t)}: {names(vm_names)}",
                 "signals: " + ", ".join(f"{s} ({n})" for s, n in sorted(signals.items())),
                 "VMs failing together point at the host (hypervisor, storage, a bad update), not the guests"]
        return lines + _recent_host_events(h, t, th)

    return Verdict("host-wide-failure", CRITICAL, vm_names, build)
