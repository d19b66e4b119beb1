"""A drain the console stopped waiting for may still be at work on the host.

A host runs a script to its end whatever became of the console that started it. After a
runner was killed or stopped while ``patch_drain`` ran, or lost that call's answer, the
script may still save, shut down or move VMs a while later (PowerShell starting, the
cluster node drained first, one Get-VM per VM). A restore that read such a VM as Running
would take it for "never touched", verify it, and the host would take it away right
after. So before the restore reads anything, :func:`wait_out_interrupted_drain` waits
until the last drain attempt cannot act any more: every VM it was to act on has left the
running states (the script acts on each VM once), or the host's clock has passed the end
of the drain's budget.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from hvconsole.core.enums import RUNNING_VM_STATES
from hvconsole.core.patch.journal import StepRecord
from hvconsole.core.patch.vocabulary import Phase, Step, StepOutcome
from hvconsole.core.snapshot import Snapshot
from hvconsole.core.timeutil import format_time, parse_time

from .context import HostContext
from .host_api import TIMEOUTS_S
from .waiting import hyperv_ready, wait_until

DRAINED = frozenset({"Off", "Saved"})
# What patch_drain.ps1 makes of the budget it is given (its own clamp).
SCRIPT_BUDGET_S = (30.0, 7200.0)
# How long after the drain's intent the script may start on the host: the call's own
# allowance on the wire. A command still undelivered by then is never run.
START_ALLOWANCE_S = TIMEOUTS_S["patch_drain"]


@dataclass(frozen=True, slots=True)
class InterruptedDrain:
    acted: frozenset[str]        # the VMs the drain was to act on itself
    cluster_drain: bool
    ends_by: datetime            # host time after which the script starts nothing more


def still_to_drain(snap: Snapshot, acted: Iterable[str], cluster_drain: bool) -> set[str]:
    """Ids of the VMs a drain has not taken off the running states yet."""
    acted = set(acted)
    left: set[str] = set()
    for vm in snap.vms:
        if (vm.id in acted and vm.state not in DRAINED) or (cluster_drain and vm.is_clustered
                                                            and vm.state in RUNNING_VM_STATES):
            left.add(vm.id)
    return left


def interrupted_drain(records: Iterable[StepRecord], budget_s: float) -> InterruptedDrain | None:
    """The host's last drain attempt when nothing proves its script has ended: in flight
    (the console stopped or was killed) or failed without the script's answer. None when
    the last attempt ended with an answer, or asked the host for nothing."""
    last = None
    for r in records:
        if r.step == Step.DRAIN and "actions" in r.intent:      # an attempt that called the host
            last = r
    if last is None or last.outcome in (StepOutcome.OK, StepOutcome.SKIPPED):
        return None
    if last.outcome == StepOutcome.FAILED and not (last.evidence or {}).get("error"):
        return None         # the script answered: it had ended
    actions = [a for a in last.intent.get("actions") or [] if isinstance(a, dict)]
    acted = frozenset(str(a.get("id")) for a in actions if a.get("action") != "host-default")
    cluster_drain = bool(last.intent.get("cluster_drain"))
    if not acted and not cluster_drain:
        return None
    # Journals written before the drain recorded the host's clock: the console's stands in.
    text = last.intent.get("host_time")
    started = parse_time(text) if isinstance(text, str) and text else last.started_at
    budget = float(last.intent.get("timeout_s") or budget_s)
    budget = min(SCRIPT_BUDGET_S[1], max(SCRIPT_BUDGET_S[0], budget))
    return InterruptedDrain(acted, cluster_drain, started + timedelta(seconds=START_ALLOWANCE_S + budget))


def wait_out_interrupted_drain(hc: HostContext) -> InterruptedDrain | None:
    """Wait (polling, bounded by the drain's budget) until an interrupted drain of this
    host cannot act any more; returns what was waited for, or None."""
    late = interrupted_drain(hc.records(), hc.run.options.drain_timeout_s)
    if late is None:
        return None

    def over(s: Snapshot) -> bool:
        if not s.reachable:
            return False
        if s.host_time is not None and s.host_time >= late.ends_by:
            return True
        return hyperv_ready(s) and not still_to_drain(s, late.acted, late.cluster_drain)
    first = hc.api.snapshot()
    if not first.reachable or over(first):
        return late       # a host that does not answer: the restore says so at once
    hc.run.say(hc.name, Step.RESTORE, Phase.INFO,
               f"an interrupted drain may still be at work on {hc.name}: the VMs are put back once it has "
               f"acted on them all or its time is up ({format_time(late.ends_by)} host time)")
    left_s = ((late.ends_by - first.host_time).total_seconds() if first.host_time is not None
              else START_ALLOWANCE_S + SCRIPT_BUDGET_S[1])
    wait_until(hc, over, max(0.0, left_s) + 2 * hc.run.options.settle_poll_s)
    return late
