"""What ``recover_inspect.ps1`` said about one VM, as the rules read it.

The answer is the host's truth at one moment; every step is decided from a fresh one (the
engine reads before each step), never from what the console remembers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

RUNNING = frozenset({"Running", "RunningCritical"})
RESTING = frozenset({"Off", "Saved", "OffCritical", "SavedCritical", "FastSaved", "FastSavedCritical"})
TRANSITIONS = frozenset({"Stopping", "Starting", "Saving", "Pausing", "Resuming", "Resetting",
                         "StoppingCritical", "StartingCritical"})


@dataclass(frozen=True)
class Observation:
    reachable: bool                      # the host answered at all
    vmms_ok: bool                        # Get-VM answered within its budget
    vmms_status: str | None = None
    vmms_pid: int | None = None
    vm_found: bool = False
    vm_name: str | None = None
    state: str | None = None
    status: str | None = None
    heartbeat: str | None = None         # "OK", "Lost Communication", "No Contact", None
    shutdown_status: str | None = None   # the shutdown integration service: "OK" when it answers
    uptime_s: int | None = None
    cpu_pct: int | None = None
    worker_pid: int | None = None
    worker: Mapping[str, Any] | None = None
    events: tuple[Mapping[str, Any], ...] = ()
    host_time: str | None = None
    error: str | None = None             # why the host could not be read
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False)

    @property
    def situation(self) -> str:
        """unreachable | vmms-wedged | gone | off | stuck | paused | frozen | booting | healthy"""
        if not self.reachable:
            return "unreachable"
        if not self.vmms_ok:
            return "vmms-wedged"
        if not self.vm_found:
            return "gone"
        if self.state in RESTING:
            return "off"
        if self.state in TRANSITIONS:
            return "stuck"
        if str(self.state).startswith("Paused"):
            return "paused"
        if self.state == "Running" and self.heartbeat == "OK":
            return "healthy"
        if self.state == "Running" and self.heartbeat == "No Contact" and (self.uptime_s or 0) < 300:
            return "booting"
        return "frozen"

    @property
    def shutdown_answers(self) -> bool:
        return self.state in RUNNING and self.shutdown_status == "OK"

    def summary(self) -> dict[str, Any]:
        """The fields the journal and the incident record keep for each read."""
        return {"situation": self.situation, "host_time": self.host_time, "vmms_ok": self.vmms_ok,
                "vmms_status": self.vmms_status, "vmms_pid": self.vmms_pid, "vm_name": self.vm_name,
                "state": self.state, "status": self.status, "heartbeat": self.heartbeat,
                "shutdown_service": self.shutdown_status, "uptime_s": self.uptime_s, "cpu_pct": self.cpu_pct,
                "worker": dict(self.worker) if self.worker else None, "error": self.error}


def unreachable(error: str) -> Observation:
    return Observation(reachable=False, vmms_ok=False, error=error)


def from_inspect(doc: Mapping[str, Any]) -> Observation:
    """An Observation from the recover_inspect document (shape checked loosely: a field
    missing is None, never an exception)."""
    query = _mapping(doc.get("vm_query")) or {}
    vmms = _mapping(doc.get("vmms")) or {}
    vm = _mapping(doc.get("vm"))
    worker = _mapping(doc.get("worker"))
    shutdown = None if vm is None else _mapping(vm.get("shutdown_service"))
    events = doc.get("events")
    if isinstance(events, Mapping) and isinstance(events.get("value"), list):
        events = events["value"]            # PowerShell 5.1's wrapped array
    if isinstance(events, Mapping):
        events = [events]                    # a lone item prints without brackets
    return Observation(
        reachable=True, vmms_ok=bool(query.get("ok")), vmms_status=_str(vmms.get("status")),
        vmms_pid=_int(vmms.get("process_id")), vm_found=vm is not None,
        vm_name=None if vm is None else _str(vm.get("name")),
        state=None if vm is None else _str(vm.get("state")), status=None if vm is None else _str(vm.get("status")),
        heartbeat=None if vm is None else _str(vm.get("heartbeat")),
        shutdown_status=None if shutdown is None or not shutdown.get("enabled", True) else _str(shutdown.get("status")),
        uptime_s=None if vm is None else _int(vm.get("uptime_s")),
        cpu_pct=None if vm is None else _int(vm.get("cpu_pct")),
        worker_pid=None if worker is None else _int(worker.get("pid")), worker=worker,
        events=tuple(e for e in (events or []) if isinstance(e, Mapping)),
        host_time=_str(doc.get("host_time")), error=None if query.get("ok") else _str(query.get("error")),
        raw=dict(doc))


def _mapping(value: object) -> Mapping[str, Any] | None:
    """A JSON object of the answer, or None for anything else (absent, null, a list)."""
    return value if isinstance(value, Mapping) else None


def _str(value: object) -> str | None:
    return None if value is None else str(value)


def _int(value: Any) -> int | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
