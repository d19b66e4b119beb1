"""Bounded waits on a host: a reboot (gone, then back with a new last boot and a working
Hyper-V), and "until the snapshot says so" for VMs in transition.

Every wait has a deadline in host seconds converted to real time by the run's speed, polls
with fresh snapshots (``Collector.poll`` never raises: an unreachable host is data), and
stops early when the process is told to stop. Times compared are always the **host's**
(last boot against last boot), never this PC's clock against the host's.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from hvconsole.core.patch.vocabulary import Step
from hvconsole.core.snapshot import Snapshot

from .context import HostContext

# Two reads of LastBootUpTime may differ by rounding; a new boot is minutes later.
BOOT_TOLERANCE = timedelta(seconds=2)


class StopRequested(Exception):
    """The process is stopping (signal); the step is left in flight for resume."""


@dataclass(frozen=True, slots=True)
class RebootWait:
    back: bool                  # answered again with a new boot and Hyper-V working
    seen_down: bool             # stopped answering at some point (a reboot we watched)
    snapshot: Snapshot          # the last one read
    waited_real_s: float
    reason: str                 # for the journal: what the wait saw


def booted_since(snap: Snapshot, before: datetime | None) -> bool:
    """The host answers and reports a last boot later than ``before``."""
    boot = snap.os.last_boot if snap.reachable and snap.os else None
    return boot is not None and before is not None and boot > before + BOOT_TOLERANCE


def hyperv_ready(snap: Snapshot) -> bool:
    """WinRM answers before VMMS has started (hyperv-notes §3): wait for both."""
    vmms = (snap.services or {}).get("vmms")
    return snap.reachable and vmms == "Running" and snap.vm_query is not None and snap.vm_query.ok


def _sleep(hc: HostContext, real_s: float) -> None:
    if hc.run.control.stop.wait(real_s):
        raise StopRequested()


def wait_for_reboot(hc: HostContext, last_boot_before: datetime | None, timeout_host_s: float) -> RebootWait:
    """Wait until the host has rebooted (new last boot) and Hyper-V answers again."""
    opts = hc.run.options
    started = time.monotonic()
    deadline = started + opts.real(timeout_host_s)
    seen_down = False
    snap = hc.api.snapshot()
    while True:
        hc.still(Step.REBOOT, f"waiting for {hc.name} to come back ({'down' if not snap.reachable else 'answering'})",
                 started)
        if not snap.reachable:
            seen_down = True
        elif booted_since(snap, last_boot_before) and hyperv_ready(snap) and snap.os and snap.os.last_boot:
            # (booted_since already needs os.last_boot; said again so the text below is safe)
            return RebootWait(True, seen_down, snap, time.monotonic() - started,
                              f"back with last boot {snap.os.last_boot.isoformat()}")
        if time.monotonic() >= deadline:
            break
        _sleep(hc, opts.real(opts.reboot_poll_s))
        snap = hc.api.snapshot()
    if not snap.reachable:
        why = f"not answering ({snap.error.message if snap.error else 'no answer'})"
    elif not booted_since(snap, last_boot_before):
        why = "answering but never rebooted" if not seen_down else "answering with the old last boot"
    else:
        why = f"rebooted but Hyper-V is not ready (vmms {(snap.services or {}).get('vmms')})"
    return RebootWait(False, seen_down, snap, time.monotonic() - started,
                      f"did not come back within {timeout_host_s:.0f} s (host time): {why}")


def wait_for_down_or_boot(hc: HostContext, last_boot_before: datetime | None, grace_host_s: float) -> str:
    """After a reboot may already have been scheduled (resume of an in-flight reboot step):
    ``"down"`` or ``"rebooted"`` as soon as either is seen, ``"up"`` if neither happened
    within the grace period (then the reboot was never scheduled and may be asked for)."""
    opts = hc.run.options
    deadline = time.monotonic() + opts.real(grace_host_s)
    while True:
        snap = hc.api.snapshot()
        if not snap.reachable:
            return "down"
        if booted_since(snap, last_boot_before):
            return "rebooted"
        if time.monotonic() >= deadline:
            return "up"
        _sleep(hc, opts.real(opts.reboot_poll_s))


def wait_until(hc: HostContext, done: Callable[[Snapshot], bool], timeout_host_s: float,
               poll_host_s: float | None = None) -> tuple[bool, Snapshot]:
    """Poll until ``done(snapshot)``; returns (reached, last snapshot)."""
    opts = hc.run.options
    deadline = time.monotonic() + opts.real(timeout_host_s)
    poll = opts.real(poll_host_s if poll_host_s is not None else opts.settle_poll_s)
    while True:
        snap = hc.api.snapshot()
        if done(snap):
            return True, snap
        if time.monotonic() >= deadline:
            return False, snap
        _sleep(hc, poll)
