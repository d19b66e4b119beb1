"""The drain and restore steps: empty a host of running VMs before its reboot, and put
every VM back in the state it had before, with the proof.

The drain intent records every VM's state as read just before acting; the **first** drain
intent of a host is the truth about "before" (``steps.prior_vm_states``), because a retry
would see the VMs the console itself saved as Saved. Only running VMs are acted on; a VM
already saved, stopped or moved is left alone, so running the drain again changes nothing.
A VM that moved (live migration, cluster drain) counts as restored when it runs on the host
it moved to: it is looked up there, never assumed. A drain cut off mid-way (the console
killed or stopped, its answer lost) may still act on the host: the restore first waits it
out (``drain_fence``).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict
from typing import Any

from hvconsole.core.enums import RUNNING_VM_STATES, TRANSITIONAL_VM_STATES
from hvconsole.core.patch.steps import PriorVm, prior_vm_states, restore_actions, vms_not_restored
from hvconsole.core.patch.vocabulary import Step, StepOutcome
from hvconsole.core.snapshot import Snapshot, VmSample
from hvconsole.core.timeutil import format_time
from hvconsole.remote.errors import RemoteError

from .context import HostContext
from .drain_fence import still_to_drain, wait_out_interrupted_drain
from .waiting import hyperv_ready, wait_until

RUNNING = RUNNING_VM_STATES
FAILBACK = "Immediate"      # Resume-ClusterNode -Failback Immediate: VMs go home at once
_VERB = {"save": "save", "shutdown": "shut down", "live-migrate": "live-migrate", "host-default": "leave to the host"}


def cluster_of(hc: HostContext) -> dict[str, Any] | None:
    pre = hc.last_ok(Step.PREFLIGHT)
    cluster = (pre.evidence or {}).get("cluster") if pre else None
    return cluster if isinstance(cluster, dict) else None


def _settled(snap: Snapshot, ids: set[str] | None = None) -> bool:
    return hyperv_ready(snap) and not any(
        vm.state in TRANSITIONAL_VM_STATES for vm in snap.vms if ids is None or vm.id in ids)


# -- drain ---------------------------------------------------------------------------------

def drain(hc: HostContext) -> str:
    opts, plan = hc.run.options, hc.run.plan
    _, snap = wait_until(hc, _settled, opts.settle_timeout_s)
    if not hyperv_ready(snap):
        h = hc.begin(Step.DRAIN, {"read": _why(snap)}, "reading the VMs")
        return h.finish(StepOutcome.FAILED, f"cannot read the VMs of {hc.name}: {_why(snap)}; nothing was changed")
    node = cluster_of(hc) is not None
    actions: list[dict[str, str | None]] = []
    acted: set[str] = set()         # the VMs the console moves itself ("host-default" ones are the host's)
    counts: Counter[str] = Counter()
    for vm in snap.vms:
        if vm.state not in RUNNING or (node and vm.is_clustered):
            continue       # not running: left as found; clustered on a node: the cluster drain moves it
        handling = plan.handling_for(vm.id)
        actions.append({"id": vm.id, "action": handling.action, "destination": handling.destination})
        counts[handling.action] += 1
        if handling.action != "host-default":
            acted.add(vm.id)
    prior = [{"id": vm.id, "name": vm.name, "state": vm.state, "heartbeat": vm.heartbeat,
              "is_clustered": vm.is_clustered} for vm in snap.vms]
    names = {vm.id: vm.name for vm in snap.vms}
    plan_text = ", ".join(f"{_VERB[k]} {n}" for k, n in sorted(counts.items())) or "no running VM to move"
    if node:
        plan_text += "; drain the cluster node"
    # The host's clock and the budget bound how long the script may act if this call is
    # cut off (drain_fence): a restore then waits that long at most.
    host_time = format_time(snap.host_time) if snap.host_time is not None else None
    h = hc.begin(Step.DRAIN, {"vms": prior, "actions": actions, "cluster_drain": node, "host_time": host_time,
                              "timeout_s": opts.drain_timeout_s}, plan_text)
    if not actions and not node:
        return h.finish(StepOutcome.OK, "no running VM on the host", after=_states(snap.vms), not_drained=[])
    try:
        answer = hc.api.drain(actions, node, opts.drain_timeout_s)
    except RemoteError as err:
        answer = {"vms": [], "cluster": None, "error": err.message}

    def drained(s: Snapshot) -> bool:
        return s.reachable and not still_to_drain(s, acted, node)
    done, after = wait_until(hc, drained, opts.drain_timeout_s)
    left = ([names.get(i, i) for i in sorted(still_to_drain(after, acted, node))] if after.reachable
            else ["(host not answering)"])
    evidence = {"vms": answer.get("vms", []), "cluster": answer.get("cluster"), "after": _states(after.vms),
                "not_drained": left, "error": answer.get("error")}
    if done:
        return h.finish(StepOutcome.OK, f"drained: {plan_text}", **evidence)
    return h.finish(StepOutcome.FAILED, f"still running after {opts.drain_timeout_s:.0f} s: {', '.join(left)}"
                    + (f" ({answer['error']})" if answer.get("error") else ""), **evidence)


# -- restore -------------------------------------------------------------------------------

def restore(hc: HostContext) -> str:
    opts = hc.run.options
    prior = prior_vm_states(hc.records())
    cluster = cluster_of(hc)
    if not prior and cluster is None:
        h = hc.begin(Step.RESTORE, {"actions": []}, "nothing was drained")
        return h.finish(StepOutcome.SKIPPED, "no VM was drained on this host")
    ids = set(prior)
    # A drain cut off mid-way may still act: what the host shows now is not yet the truth.
    late = wait_out_interrupted_drain(hc)
    first = hc.api.snapshot()
    # After a failure (e.g. a host that never came back) an unreachable host is reported at
    # once; otherwise it gets the settle time (vmms may still be starting after a boot).
    patience = opts.reboot_poll_s * 3 if hc.failure_path and not first.reachable else opts.settle_timeout_s
    _, snap = wait_until(hc, lambda s: _settled(s, ids), patience)
    if not hyperv_ready(snap):
        down = [p.name for p in prior.values() if p.state in RUNNING]
        h = hc.begin(Step.RESTORE, {"read": _why(snap)}, "reading the VMs")
        return h.finish(StepOutcome.FAILED,
                        f"cannot restore: {_why(snap)}; VMs that were running: {', '.join(down) or 'none'}",
                        not_restored=down)
    current, where = vms_everywhere(hc, prior, snap)
    actions = restore_actions(prior, current)
    todo = [{"id": a.vm_id, "action": a.action} for a in actions if a.action in ("start", "resume")]
    resume_node = cluster is not None and snap.cluster is not None and snap.cluster.node_state == "Paused"
    intent = {"actions": [asdict(a) for a in actions], "cluster_resume": resume_node, "failback": FAILBACK,
              "after_interrupted_drain": format_time(late.ends_by) if late else None}
    text = f"start/resume {len(todo)} VM(s)" + ("; resume the cluster node" if resume_node else "")
    h = hc.begin(Step.RESTORE, intent, text)
    answer: dict[str, Any] = {"vms": []}
    if todo or resume_node:
        try:
            answer = hc.api.restore(todo, resume_node, FAILBACK, opts.settle_timeout_s)
        except RemoteError as err:
            answer = {"vms": [], "error": err.message}

    def restored(s: Snapshot) -> bool:
        return s.reachable and not vms_not_restored(prior, vms_everywhere(hc, prior, s)[0])
    done, after = wait_until(hc, restored, opts.settle_timeout_s)
    current, where = vms_everywhere(hc, prior, after) if after.reachable else ([], {})
    missing = vms_not_restored(prior, current)
    evidence = {"answer": answer.get("vms", []), "vms": _states(current, where), "not_restored": missing,
                "error": answer.get("error")}
    if done:
        moved = sorted({h_ for h_ in where.values() if h_ != hc.name})
        return h.finish(StepOutcome.OK, f"all {len(prior)} VM(s) in their prior state"
                        + (f" (some running on {', '.join(moved)})" if moved else ""), **evidence)
    return h.finish(StepOutcome.FAILED, f"not back in their prior state: {', '.join(missing)}", **evidence)


def vms_everywhere(hc: HostContext, prior: dict[str, PriorVm], snap: Snapshot) -> tuple[list[VmSample], dict[str, str]]:
    """This host's VMs plus the prior VMs found on the hosts they may have moved to."""
    vms = list(snap.vms)
    where = {vm.id: hc.name for vm in vms}
    missing = set(prior) - set(where)
    for peer_name in _peer_names(hc) if missing else ():
        api = hc.peer(peer_name)
        peer_snap = api.snapshot() if api is not None else None
        if peer_snap is None or not peer_snap.reachable:
            continue
        for vm in peer_snap.vms:
            if vm.id in missing:
                vms.append(vm)
                where[vm.id] = peer_name
                missing.discard(vm.id)
    return vms, where


def _peer_names(hc: HostContext) -> list[str]:
    plan = hc.run.plan
    names = [h.destination for h in (plan.vm_default, *plan.vm_overrides.values()) if h.destination]
    cluster = cluster_of(hc) or {}
    names += [str(n.get("name")) for n in cluster.get("other_nodes") or [] if isinstance(n, dict) and n.get("name")]
    seen: dict[str, str] = {}
    for n in names:
        if n.casefold() != hc.name.casefold():
            seen.setdefault(n.casefold(), n)
    return list(seen.values())


def _states(vms: list[VmSample] | tuple[VmSample, ...], where: dict[str, str] | None = None) -> list[dict[str, Any]]:
    return [{"id": vm.id, "name": vm.name, "state": vm.state, "heartbeat": vm.heartbeat,
             **({"host": where.get(vm.id)} if where else {})} for vm in vms]


def _why(snap: Snapshot) -> str:
    if not snap.reachable:
        return f"not answering ({snap.error.message if snap.error else 'no answer'})"
    vmms = (snap.services or {}).get("vmms")
    if vmms != "Running":
        return f"vmms is {vmms}"
    if snap.vm_query is not None and not snap.vm_query.ok:
        return f"the VM query fails ({snap.vm_query.error or 'no reason given'})"
    return "VMs still in transition"
