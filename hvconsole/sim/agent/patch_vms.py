"""``patch_drain`` and ``patch_restore``: emptying a host before its reboot, and putting its
VMs back afterwards (hyperv-notes §8), answered as the shipped scripts answer them.

Reality first: a VM is addressed by Id and looked at before anything is done to it. Drain
leaves alone what is not Running (reported as ``already <state>``), what is not on the
host, and what the host's own stop action is to handle (``host-default``). Restore starts
only what is Off or Saved and resumes only what is Paused.

The VM actions of one call run side by side (the script starts them ``-AsJob`` and then
waits for each within ``timeout_s``); each VM's result is read when its wait ends, so a VM
still Saving when the budget runs out is reported as such (``ok: false``, "run drain
again"). ``Stop-VM -Force`` gives a guest that does not answer five minutes, then turns it
off. One simplification: the real script drains the cluster node first and only then
starts the VM actions; the simulated host runs both at once (they concern different VMs),
so a simulated drain of a cluster node can finish sooner than a real one.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from ..model.host import SimHost
from ..model.timeline import action_calling
from ..model.vm import SimVM
from .host_agent import ScriptAnswer, ScriptFailure
from .patch_common import as_list, clamped_int, find_vm, finish, guid, host_name, is_true, prop, ps_string, vmms_failure

DRAIN_ACTIONS = ("save", "shutdown", "live-migrate", "host-default")
RESTORE_ACTIONS = ("start", "resume", "none")
RUNNING = ("Running", "RunningCritical")
# States a VM keeps through a host reboot without anything in flight.
RESTING = ("Off", "Saved", "Paused", "FastSaved", "Hibernated", "OffCritical", "SavedCritical",
           "PausedCritical", "FastSavedCritical")
SETTLES_TO = {"Saving": "Saved", "Stopping": "Off", "Starting": "Running"}
PER_VM_S = 0.25              # Get-VM -Id and the bookkeeping around one VM
CLUSTER_POLL_S = 2.0         # the script looks at the drain status every 2 s
OUT_OF_TIME = "still in progress when the time budget ran out; run drain again"


def _state_at(vm: SimVM, t_read: float, t_now: float) -> str | None:
    """What Get-VM will say about ``vm`` at ``t_read`` (None: it has left the host)."""
    end = vm.transition_end_t
    if vm.migrating:
        return None if end is not None and end <= t_read else vm.sample(t_now)["state"]
    if vm.state in SETTLES_TO and end is not None and end <= t_read:
        return SETTLES_TO[vm.state]
    return vm.sample(t_now)["state"]


# -- patch_drain -----------------------------------------------------------------------

def _read_drain_requests(raw: Mapping[str, Any]) -> list[tuple[str, str, str | None]]:
    requests = []
    for item in as_list(raw.get("vms")):
        vm_id = guid(prop(item, "id"))
        action = ps_string(prop(item, "action"))
        if action not in DRAIN_ACTIONS:
            raise ScriptFailure(f"action must be one of: {', '.join(DRAIN_ACTIONS)}", "params")
        destination = host_name(prop(item, "destination")) if action == "live-migrate" else None
        requests.append((vm_id, action, destination))
    return requests


def handle_drain(host: SimHost, raw: Mapping[str, Any], now: datetime) -> ScriptAnswer:
    requests = _read_drain_requests(raw)
    cluster_drain = is_true(raw.get("cluster_drain"))
    timeout_s = clamped_int(raw, "timeout_s", 900, 30, 7200)
    assert host.site is not None
    t0 = host.site.t_of(now)
    deadline = t0 + timeout_s
    cluster_doc: dict[str, Any] | None = None
    cluster_end, moved_by_drain = t0, set[str]()
    if cluster_drain:
        cluster_doc, cluster_end, moved_by_drain = _drain_cluster(host, t0, deadline)
    time_left = cluster_end < deadline
    works = [_start_action(host, vm_id, action, dest, t0, moved_by_drain, time_left)
             for vm_id, action, dest in requests]
    read_t = max(t0, cluster_end)
    rows = []
    for work in works:
        row, read_t = _complete_action(host, work, t0, read_t, deadline)
        rows.append(row)
    seconds = read_t - t0 + 0.5 + PER_VM_S * len(requests)
    return finish(host, {"cluster": cluster_doc, "vms": rows}, seconds)


def _drain_cluster(host: SimHost, t0: float, deadline: float) -> tuple[dict[str, Any], float, set[str]]:
    """Suspend-ClusterNode -Drain, then wait (polling) for Completed or Failed."""
    doc: dict[str, Any] = {"node": host.name.upper(), "state_before": None, "state_after": None,
                           "drain_status": None, "ok": False, "skipped_reason": None, "error": None}
    cluster = host.cluster
    if cluster is None:
        doc["error"] = "not a cluster node with a running cluster service"
        return doc, t0, set()
    doc["state_before"] = cluster.node_state
    if cluster.node_state == "Paused" and cluster.drain_status == "Completed":
        doc["skipped_reason"] = "already paused and drained"
    elif cluster.drain_status != "InProgress":
        host.drain()
    end = t0
    if cluster.drain_status == "InProgress" and cluster.drain_done_t is not None:
        polls = max(0.0, cluster.drain_done_t - t0) // CLUSTER_POLL_S + 1
        end = min(deadline, t0 + polls * CLUSTER_POLL_S)
    done = cluster.drain_status == "InProgress" and cluster.drain_done_t is not None and cluster.drain_done_t <= end
    status = "Completed" if done else cluster.drain_status
    doc.update(state_after=cluster.node_state, drain_status=status)
    doc["ok"] = cluster.node_state == "Paused" and status == "Completed"
    if not doc["ok"]:
        doc["error"] = f"node is {cluster.node_state}, drain {status}"
    moved = set(cluster.drained_away) if status == "Completed" else set()
    return doc, end, moved


class _Work:
    """One VM's request as started: its row so far and when its job ends (None: no job)."""

    def __init__(self, vm_id: str, action: str, vm: SimVM | None):
        self.vm = vm
        self.action = action
        self.row: dict[str, Any] = {"id": vm_id, "name": None, "action": action, "ok": False,
                                    "state_before": None, "state_after": None, "skipped_reason": None,
                                    "error": None}
        self.job_end: float | None = None
        self.has_job = False
        self.unreadable = False              # Get-VM itself failed (vmms not answering)


def _start_action(host: SimHost, vm_id: str, action: str, dest: str | None, t0: float,
                  moved_by_drain: set[str], time_left: bool) -> _Work:
    vm = find_vm(host, vm_id)
    work = _Work(vm_id, action, vm)
    row = work.row
    problem = vmms_failure(host, t0)
    if problem is not None:
        work.vm, work.unreadable, row["error"] = None, True, problem
        return work
    if vm is None or vm_id in moved_by_drain:       # the cluster drain has taken it by now
        work.vm = None
        row["skipped_reason"] = "not on this host"
        return work
    row.update(name=vm.name, state_before=vm.sample(t0)["state"])
    if action == "host-default":
        row["skipped_reason"] = f"left to the host automatic stop action ({vm.automatic_stop_action})"
    elif row["state_before"] not in RUNNING:
        row["skipped_reason"] = "already " + row["state_before"]
    elif not time_left:
        row["error"] = OUT_OF_TIME                  # the cluster drain used up the budget
    elif action == "save":
        work.has_job = vm.save()
        work.job_end = vm.transition_end_t
    elif action == "shutdown":
        work.has_job = vm.shutdown(force=True)
        work.job_end = vm.transition_end_t
    else:
        _start_migration(host, vm, dest or "", work)
    return work


CLUSTERED_NOT_PER_VM = ("a clustered VM moves only through the cluster: drain the node (cluster_drain), "
                        "it is not moved per VM")


def _start_migration(host: SimHost, vm: SimVM, dest: str, work: _Work) -> None:
    assert host.site is not None
    if vm.is_clustered:              # patch_drain.ps1: never a per-VM cluster move
        work.row["error"] = CLUSTERED_NOT_PER_VM
        return
    problem = host.remote_migration_problem(dest)
    if problem is not None:
        work.row["error"] = f"Virtual machine migration operation for '{vm.name}' failed at migration source. {problem}"
        return
    target = next((h for h in host.site_hosts.values() if h.name.lower() == dest.lower()), None)
    seconds = None if target is None or target is host else host.live_migrate(vm, target)
    if seconds is None:
        work.row["error"] = (f"Virtual machine migration operation for '{vm.name}' failed at migration source. "
                             f"Failed to establish a connection with host '{dest}'.")
        return
    work.has_job, work.job_end = True, host.site.t + seconds


def _complete_action(host: SimHost, work: _Work, t0: float, read_t: float,
                     deadline: float) -> tuple[dict[str, Any], float]:
    """Wait-Job within the budget, then read the VM again; returns the row and when it was read."""
    row = work.row
    if work.has_job:
        end = work.job_end if work.job_end is not None else float("inf")
        if end > deadline:
            row["error"] = OUT_OF_TIME
            read_t = deadline
        else:
            read_t = max(read_t, end)
    if work.unreadable:
        return row, read_t                          # Get-VM fails again: ok stays false
    state = None if work.vm is None else _state_at(work.vm, read_t, t0)
    row["state_after"] = state
    if state is None:
        row["ok"] = True                            # gone from this host: drained
    elif work.action == "host-default":
        row["ok"] = row["error"] is None
    elif work.action == "live-migrate" and row["skipped_reason"] is None:
        row["ok"] = False
    else:
        row["ok"] = state in RESTING
    if not row["ok"] and row["error"] is None:
        row["error"] = f"VM is {state} after {work.action}"
    return row, read_t


# -- patch_restore ---------------------------------------------------------------------

RESTORE_BUDGET_S = 600.0     # the script's own budget for all VMs together
STARTABLE = ("Off", "Saved", "FastSaved", "Hibernated", "OffCritical", "SavedCritical", "FastSavedCritical")
RESUMABLE = ("Paused", "PausedCritical")


def _failback(value: object) -> str:
    """Read-Failback: a mode name, true (Immediate) / false (NoFailback), null (Policy)."""
    if value is None:
        return "Policy"
    if isinstance(value, bool):
        return "Immediate" if value else "NoFailback"
    for mode in ("Immediate", "NoFailback", "Policy"):
        if ps_string(value).lower() == mode.lower():
            return mode
    raise ScriptFailure("failback must be true, false or one of: Immediate, NoFailback, Policy", "params")


def handle_restore(host: SimHost, raw: Mapping[str, Any], now: datetime) -> ScriptAnswer:
    """Resume the node first, then each VM one after the other within a 600 s budget.
    (The simulated host starts the VMs at once and times the answer as if one by one.)"""
    requests = []
    for item in as_list(raw.get("vms")):
        if item is None:
            continue
        vm_id = guid(prop(item, "id"))
        action = ps_string(prop(item, "action"))
        if action not in RESTORE_ACTIONS:
            raise ScriptFailure(f"action must be one of: {', '.join(RESTORE_ACTIONS)}", "params")
        requests.append((vm_id, action))
    cluster_resume = is_true(raw.get("cluster_resume"))
    failback = _failback(raw.get("failback"))
    assert host.site is not None
    t0 = host.site.t_of(now)
    deadline = t0 + RESTORE_BUDGET_S
    cluster_doc = _resume_cluster(host, failback, t0) if cluster_resume else None
    rows, clock_t = [], t0
    for vm_id, action in requests:
        row, clock_t = _restore_vm(host, vm_id, action, t0, clock_t, deadline)
        rows.append(row)
    seconds = clock_t - t0 + 0.5 + PER_VM_S * len(requests)
    return finish(host, {"cluster": cluster_doc, "vms": rows}, seconds)


def _restore_vm(host: SimHost, vm_id: str, action: str, t0: float, clock_t: float,
                deadline: float) -> tuple[dict[str, Any], float]:
    """One VM: (its row, the script's clock after it)."""
    row: dict[str, Any] = {"id": vm_id, "name": None, "action": action, "ok": False, "state_before": None,
                           "state_after": None, "skipped_reason": None, "error": None}
    problem = vmms_failure(host, t0)
    if problem is not None:
        row["error"] = problem
        return row, clock_t
    vm = find_vm(host, vm_id)
    if vm is None:
        row.update(ok=action == "none", skipped_reason="not on this host")
        return row, clock_t
    before = vm.sample(t0)["state"]
    row.update(name=vm.name, state_before=before)
    started = False
    if action == "none":
        row["skipped_reason"] = "no action asked"
    elif before in RUNNING:
        row["skipped_reason"] = "already " + before
    elif clock_t >= deadline:
        row["error"] = "not attempted: the time budget ran out; run restore again"
    elif action == "start" and before in STARTABLE:
        started = vm.start()
    elif action == "resume" and before in RESUMABLE:
        started = vm.resume()
    else:
        row["skipped_reason"] = f"{before} does not call for {action}"
    after = vm.sample(t0)["state"]
    if started:
        took = 0.0 if vm.transition_end_t is None else max(0.0, vm.transition_end_t - t0)
        if clock_t + took > deadline:
            row["error"] = "still in progress when the time budget ran out; run restore again"
            clock_t = deadline
        else:
            clock_t += took
        after = _state_at(vm, t0 + took, t0) or after
    row["state_after"] = after
    row["ok"] = action == "none" or after in RUNNING
    if not row["ok"] and row["error"] is None:
        row["error"] = f"VM is {after}"
    return row, clock_t


def _resume_cluster(host: SimHost, failback: str, t0: float) -> dict[str, Any]:
    """Resume-ClusterNode -Failback: with Immediate the VMs the drain moved away come back
    one after the other (the call does not wait for them)."""
    doc: dict[str, Any] = {"node": host.name.upper(), "state_before": None, "state_after": None,
                           "failback": failback, "ok": False, "skipped_reason": None, "error": None}
    cluster, site = host.cluster, host.site
    if cluster is None or site is None:
        doc["error"] = "not a cluster node with a running cluster service"
        return doc
    doc["state_before"] = cluster.node_state
    if cluster.node_state != "Paused":
        doc["skipped_reason"] = "node is " + cluster.node_state
    else:
        host.resume_node()
        if failback == "Immediate":
            _fail_back(host, cluster.drained_away, t0)
        cluster.drained_away = []
    doc["state_after"] = cluster.node_state
    doc["ok"] = cluster.node_state == "Up"
    if not doc["ok"]:
        doc["error"] = "node is " + cluster.node_state
    return doc


def _fail_back(host: SimHost, vm_ids: list[str], t0: float) -> None:
    site = host.site
    assert site is not None
    start = t0 + 1.0
    for vm_id in vm_ids:
        found = next(((h, v) for h in host.site_hosts.values() if h is not host for v in h.vms
                      if v.id == vm_id and v.state == "Running" and not v.migrating), None)
        if found is not None:
            source, vm = found
            seconds = source.migration_seconds(vm, start)
            site.at(start, action_calling(source.live_migrate, vm, host, seconds))
            start += seconds + 1.0
