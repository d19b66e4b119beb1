"""The simulated answers of the recovery scripts (``remote/scripts/recover_*.ps1``,
docs/recovery.md "Script contract"), registered with the host agent.

Each handler checks its parameters as its script does, reads the VM (by id) or the vmms
service first and acts only when the state calls for it, exactly like the script, so a
call repeated after a console crash does nothing twice. Every action really applied is
appended to ``host.recovery_actions`` (time, action, vm id): the tests count host actions
there, not in anything the console wrote.

What the sim models for recovery (sim/model/vm.py, host.py): a hung guest whose
shutdown service does not answer (``SimVM.hang``), a VM stuck in Stopping whose worker
ignores Turn Off (``stick("Stopping")`` plus ``worker_hung``) and goes Off only when its
worker is ended, a wedged VMMS that answers again after a restart
(``SimHost.restart_vmms``), and an NMI that makes a Windows guest write a dump.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from ..model.host import SimHost
from ..model.load import unit
from ..model.vm import SimVM
from .host_agent import ScriptAnswer, ScriptFailure, register_script_handler
from .patch_common import clamped_int, find_vm, finish, guid, host_time, params_error, ps_int, ps_string, vmms_failure

VM_ACTIONS = ("nmi", "shutdown", "turn_off", "reset", "start")
RUNNING = ("Running", "RunningCritical")
RESTING = ("Off", "Saved", "OffCritical", "SavedCritical", "FastSaved", "FastSavedCritical")
# PrimaryStatusDescription of an integration service, from the heartbeat the model keeps.
_IC_STATUS = {"LostCommunication": "Lost Communication", "NoContact": "No Contact", "Paused": "Paused"}
VMMS_BASE_PID = 2900
WORKER_STUCK_S = 60.0        # how long a hung worker leaves Stop-VM -TurnOff waiting before it gives up


def _t(host: SimHost, now: datetime) -> float:
    assert host.site is not None
    return host.site.t_of(now)


def _record(host: SimHost, t: float, action: str, vm_id: str | None) -> None:
    host.recovery_actions.append((t, action, vm_id))


def _vmms_pid(host: SimHost) -> int:
    """vmms.exe's process id: a new one after every restart of the service or the host."""
    restarts = sum(1 for _, action, _ in host.recovery_actions if action == "restart_vmms")
    return VMMS_BASE_PID + 4 * (restarts + 97 * host.reboots)


def _ic_status(sample: Mapping[str, Any]) -> str | None:
    heartbeat = sample.get("heartbeat")
    if heartbeat is None:
        return None
    return "OK" if str(heartbeat).startswith("Ok") else _IC_STATUS.get(str(heartbeat), str(heartbeat))


def _vm_doc(vm: SimVM, t: float) -> dict[str, Any]:
    sample = vm.sample(t)
    ops = [str(o) for o in sample.get("operational_status") or []]
    status = "Operating normally" if ops in (["Ok"], []) else ", ".join(ops)
    shutdown = None
    if vm.guest != "appliance" and sample["state"] not in RESTING:
        answers = vm._guest_answers(t) and sample["state"] in RUNNING
        shutdown = {"enabled": vm.ic_shutdown_enabled,
                    "status": "OK" if answers else (_ic_status(sample) or "No Contact")}
    return {"id": vm.id, "name": vm.name, "state": sample["state"], "status": status,
            "operational_status": ops, "heartbeat": _ic_status(sample), "shutdown_service": shutdown,
            "uptime_s": sample["uptime_s"], "cpu_pct": sample["cpu_pct"]}


def _worker_doc(host: SimHost, vm: SimVM, t: float) -> dict[str, Any] | None:
    sample = vm.sample(t)
    if sample["state"] in RESTING:
        return None
    uptime = float(sample["uptime_s"])
    cpu_share = float(sample["cpu_pct"]) / 100.0 * vm.vcpus
    return {"pid": vm.worker_pid, "started_at": host_time(host, t - uptime - 2.0),
            "cpu_s": round(uptime * 0.02 + cpu_share * 30.0, 1),
            "threads": 28 + vm.vcpus * 2 + (6 if vm.worker_hung else 0),
            "handles": 900 + int(unit(vm.seed, 71) * 600)}


def _events(host: SimHost, vm_id: str, since: datetime | None, max_events: int, t: float) -> list[dict[str, Any]]:
    if max_events <= 0:
        return []
    assert host.site is not None
    after = None if since is None else host.site.t_of(since) - host.clock_skew_s
    rows = [e for e in host.events.newest_after(after, 100_000, t)
            if e.vm_id == vm_id and e.kind.log.startswith("Microsoft-Windows-Hyper-V-")
            and ("Worker" in e.kind.log or "VMMS" in e.kind.log)]
    rows = rows[-max_events:]
    return [{"time": host_time(host, e.t), "log": e.kind.log, "id": e.kind.id, "level": e.kind.level,
             "message": e.message} for e in rows]


def _since(value: object) -> datetime | None:
    if value in (None, ""):
        return None
    from hvconsole.core.timeutil import parse_time
    try:
        return parse_time(ps_string(value))
    except ValueError:
        raise params_error(f'String "{ps_string(value)[:40]}" was not recognized as a valid DateTime.') from None


# -- recover_inspect -------------------------------------------------------------------

def handle_inspect(host: SimHost, raw: Mapping[str, Any], now: datetime) -> ScriptAnswer:
    vm_id = guid(raw.get("vm_id"))
    max_events = clamped_int(raw, "max_events", 50, 0, 500)
    timeout_ms = clamped_int(raw, "vm_query_timeout_ms", 10000, 500, 120000)
    since = _since(raw.get("events_since"))
    t = _t(host, now)
    services = host.services(t)
    vmms = {"status": {"Running": "Running", "Stopped": "Stopped", "StartPending": "Start Pending"}.get(
                str(services.get("vmms")), str(services.get("vmms"))),
            "process_id": 0 if services.get("vmms") == "Stopped" else _vmms_pid(host),
            "started_at": None, "error": None}
    vm = find_vm(host, vm_id)
    problem = vmms_failure(host, t)
    if problem is not None and host.vm_query_problem(t) == "wedged":
        query = {"ok": False, "elapsed_ms": timeout_ms + 12, "error": f"timeout after {timeout_ms} ms"}
        seconds = timeout_ms / 1000.0
        vm_doc = None
    elif problem is not None:
        query = {"ok": False, "elapsed_ms": 240, "error": problem}
        seconds, vm_doc = 0.4, None
    else:
        query = {"ok": True, "elapsed_ms": 90 + 3 * len(host.vms), "error": None}
        seconds = 0.5 + 0.01 * len(host.vms)
        vm_doc = None if vm is None else _vm_doc(vm, t)
    worker = None if vm is None else _worker_doc(host, vm, t)
    doc = {"host_time": host_time(host, t), "vm_id": vm_id, "vmms": vmms, "vm_query": query, "vm": vm_doc,
           "worker": worker, "events": _events(host, vm_id, since, max_events, t)}
    return finish(host, doc, seconds)


# -- recover_vm ------------------------------------------------------------------------

# The actions with no special case: the states the VM must be in, the call, the seconds it
# takes when the VM accepts it (None: Wait-Job until the transition ends or the budget is
# spent) and the error when it does not (None: nothing to say).
_PLAIN_ACTIONS: dict[str, tuple[tuple[str, ...], Callable[[SimVM], bool], float | None, str | None]] = {
    "reset": (RUNNING, SimVM.reset, 1.0, None),
    "start": (RESTING, SimVM.start, None, None),
    "nmi": (RUNNING, SimVM.inject_nmi, 0.5, "The virtual machine's worker did not accept the interrupt."),
}

def handle_vm(host: SimHost, raw: Mapping[str, Any], now: datetime) -> ScriptAnswer:
    vm_id = guid(raw.get("vm_id"))
    action = ps_string(raw.get("action"))
    if action not in VM_ACTIONS:
        raise params_error(f"action must be one of: {', '.join(VM_ACTIONS)}")
    wait_s = 120 if raw.get("wait_s") is None else min(900, max(5, ps_int(raw["wait_s"], "wait_s")))
    t = _t(host, now)
    problem = vmms_failure(host, t)
    if problem is not None:
        raise ScriptFailure(problem, "read")
    row: dict[str, Any] = {"id": vm_id, "name": None, "action": action, "done": False, "state_before": None,
                           "state_after": None, "skipped_reason": None, "error": None, "elapsed_ms": None}
    vm = find_vm(host, vm_id)
    seconds = 0.6
    if vm is None:
        row["skipped_reason"] = "not on this host"
        row["elapsed_ms"] = int(seconds * 1000)
        return finish(host, row, seconds)
    before = vm.sample(t)["state"]
    row.update(name=vm.name, state_before=before)
    if action == "shutdown":
        status = _vm_doc(vm, t)["shutdown_service"] if before in RUNNING else None
        if before not in RUNNING:
            row["skipped_reason"] = f"VM is {before}"
        elif status is None or status["status"] != "OK":
            row["skipped_reason"] = ("the guest does not answer its shutdown service ("
                                     f"{'' if status is None else status['status']})")
        elif vm.shutdown():
            _record(host, t, action, vm_id)
            seconds += _wait(vm, t, wait_s, row)
        else:
            row["error"] = "The virtual machine did not respond to the shutdown request."
    elif action == "turn_off":
        if before in RESTING:
            row["skipped_reason"] = f"VM is {before}"
        elif vm.worker_hung:
            _record(host, t, action, vm_id)   # asked for: the worker never acts on it
            if wait_s <= WORKER_STUCK_S:
                seconds += wait_s
                row["error"] = f"still in progress after {wait_s} s"
            else:
                seconds += WORKER_STUCK_S
                row["error"] = ("'" + vm.name + "' failed to change state. The operation cannot be performed "
                                "while the object is in its current state.")
        elif vm.turn_off():
            _record(host, t, action, vm_id)
            seconds += 1.0
            row["done"] = True
    else:
        needed, call, cost, refused = _PLAIN_ACTIONS[action]
        if before not in needed:
            row["skipped_reason"] = f"VM is {before}"
        elif call(vm):
            _record(host, t, action, vm_id)
            if cost is None:
                seconds += _wait(vm, t, wait_s, row)
            else:
                seconds += cost
                row["done"] = True
        elif refused is not None:
            row["error"] = refused
    row["elapsed_ms"] = int(seconds * 1000)
    answer = finish(host, row, seconds)
    # The state after is read when the script ends (the manual clock has moved there).
    end_t = t + seconds * host.slow_factor
    row["state_after"] = _state_at(vm, end_t)
    return _reprint(answer, row)


def _wait(vm: SimVM, t: float, wait_s: int, row: dict[str, Any]) -> float:
    """Wait-Job -Timeout: until the transition ends or the budget is spent."""
    end = vm.transition_end_t
    if end is not None and end - t <= wait_s:
        row["done"] = True
        return max(0.0, end - t) + 0.2
    row["error"] = f"still in progress after {wait_s} s"
    return float(wait_s)


def _state_at(vm: SimVM, t: float) -> str:
    end = vm.transition_end_t
    settles = {"Stopping": "Off", "Starting": "Running", "Saving": "Saved"}
    if vm.state in settles and end is not None and end <= t and not vm.worker_hung:
        return settles[vm.state]
    return vm.sample(t)["state"]


def _reprint(answer: ScriptAnswer, doc: Mapping[str, Any]) -> ScriptAnswer:
    from .collect import ps_json
    return ScriptAnswer(ps_json(doc).encode("utf-8"), answer.stderr, answer.exit_code, answer.duration_s)


# -- recover_worker --------------------------------------------------------------------

def handle_worker(host: SimHost, raw: Mapping[str, Any], now: datetime) -> ScriptAnswer:
    vm_id = guid(raw.get("vm_id"))
    expected = None if raw.get("expected_pid") is None else ps_int(raw["expected_pid"], "expected_pid")
    t = _t(host, now)
    problem = vmms_failure(host, t)
    if problem is not None:
        raise ScriptFailure(problem, "read")
    vm = find_vm(host, vm_id)
    row: dict[str, Any] = {"id": vm_id, "name": None, "pid": None, "ended": False, "state_before": None,
                           "state_after": None, "skipped_reason": None, "error": None}
    seconds = 0.8
    if vm is None:
        row["skipped_reason"] = "not on this host"
        return finish(host, row, seconds)
    before = vm.sample(t)["state"]
    worker = _worker_doc(host, vm, t)
    row.update(name=vm.name, state_before=before, pid=None if worker is None else worker["pid"])
    if before in RESTING:
        row["skipped_reason"] = f"VM is {before}"
    elif worker is None:
        row["skipped_reason"] = "no worker process carries this VM id"
    elif expected is not None and expected != worker["pid"]:
        row["skipped_reason"] = f"the worker is process {worker['pid']}, not {expected} as read before: read again"
    elif vm.end_worker():
        _record(host, t, "end_worker", vm_id)
        row["ended"] = True
        seconds += 2.0
    row["state_after"] = vm.sample(t)["state"]
    return finish(host, row, seconds)


# -- recover_vmms ----------------------------------------------------------------------

def handle_vmms(host: SimHost, raw: Mapping[str, Any], now: datetime) -> ScriptAnswer:
    expected = None if raw.get("expected_pid") is None else ps_int(raw["expected_pid"], "expected_pid")
    timeout_ms = clamped_int(raw, "vm_query_timeout_ms", 15000, 500, 120000)
    t = _t(host, now)
    pid_before = _vmms_pid(host)
    status_before = str(host.services(t).get("vmms"))
    doc: dict[str, Any] = {"status_before": status_before, "pid_before": pid_before, "restarted": False,
                           "status_after": None, "pid_after": None, "vm_query": None, "skipped_reason": None,
                           "error": None}
    seconds = 0.5
    if expected is not None and expected != pid_before:
        doc["skipped_reason"] = (f"vmms is process {pid_before}, not {expected} as read before: "
                                 "it was restarted already")
    else:
        # The script waits until the service is Running again (stopping a wedged service,
        # starting a fresh one): that time is the answer's duration, and the model has the
        # service answering from the call on, so what the caller reads next is true.
        host.restart_vmms(ready_after_s=0.0)
        doc["restarted"] = True
        seconds += 6.0 + 8.0 * unit(host.seed, 27, int(t))
    problem = host.vm_query_problem(t)
    doc["status_after"] = str(host.services(t).get("vmms"))
    doc["pid_after"] = _vmms_pid(host)
    if problem == "wedged":
        doc["vm_query"] = {"ok": False, "elapsed_ms": timeout_ms, "error": f"timeout after {timeout_ms} ms"}
        seconds += timeout_ms / 1000.0
    else:
        doc["vm_query"] = {"ok": True, "elapsed_ms": 120 + 3 * len(host.vms), "error": None, "vms": len(host.vms)}
    return finish(host, doc, seconds)


HANDLERS = {"recover_inspect": handle_inspect, "recover_vm": handle_vm, "recover_worker": handle_worker,
            "recover_vmms": handle_vmms}
for _name, _handler in HANDLERS.items():
    register_script_handler(_name, _handler)
