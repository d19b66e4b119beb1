"""Windows event log entries a simulated host writes, and the per-host log itself.

Which channel, provider, ID and level an occurrence gets is *data* (:data:`CATALOG`), so a
wrong guess is a one-line change. IDs tagged [V]/[S] in ``shared/reference/hyperv-notes.md``
are used as given; the ordinary Information IDs (VM started, saved, ...) follow the
Hyper-V-Worker 185xx family and are marked [U] below: plausible, not verified.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class EventKind:
    """Where an occurrence is logged and how it reads: channel, provider, ID, level, text."""

    log: str
    provider: str
    id: int
    level: str
    template: str   # str.format template; fields are plain text, never code
    # The field that is the event's first insertion string (%1), when the sim knows it.
    first_field: str | None = None


# The channels (Get-WinEvent -LogName) the catalog writes to.
WORKER = "Microsoft-Windows-Hyper-V-Worker-Admin"
VMMS = "Microsoft-Windows-Hyper-V-VMMS-Admin"
COMPUTE = "Microsoft-Windows-Hyper-V-Compute-Admin"
HIGH_AVAILABILITY = "Microsoft-Windows-Hyper-V-High-Availability-Admin"
SYSTEM = "System"

_W, _V, _C, _H = ("Microsoft-Windows-Hyper-V-Worker", "Microsoft-Windows-Hyper-V-VMMS",
                  "Microsoft-Windows-Hyper-V-Compute", "Microsoft-Windows-Hyper-V-High-Availability")
_FC = "Microsoft-Windows-FailoverClustering"
_VMID = " (Virtual machine ID {vm_id})"

CATALOG: dict[str, EventKind] = {
    # Ordinary VM life [U: IDs of the 185xx family]
    "vm_started": EventKind(WORKER, _W, 18500, "Information", "'{vm}' started successfully." + _VMID),
    "vm_turned_off": EventKind(WORKER, _W, 18502, "Information", "'{vm}' was turned off." + _VMID),
    "vm_shut_down": EventKind(WORKER, _W, 18504, "Information", "'{vm}' was shut down." + _VMID),
    "vm_saved": EventKind(WORKER, _W, 18510, "Information", "'{vm}' was saved." + _VMID),
    "vm_paused": EventKind(WORKER, _W, 18512, "Information", "'{vm}' was paused." + _VMID),
    "vm_reset": EventKind(WORKER, _W, 18514, "Information", "'{vm}' was reset." + _VMID),
    "vm_resumed": EventKind(WORKER, _W, 18516, "Information", "'{vm}' was resumed." + _VMID),
    "vm_restored": EventKind(WORKER, _W, 18596, "Information", "'{vm}' was restored successfully." + _VMID),
    # Guest trouble: 18560 [S], 18590 [U]
    "triple_fault": EventKind(WORKER, _W, 18560, "Critical",
                              "'{vm}' was reset because an unrecoverable error occurred on a virtual "
                              "processor that caused a triple fault." + _VMID),
    "guest_fatal": EventKind(WORKER, _W, 18590, "Critical",
                             "'{vm}' has encountered a fatal error. The guest operating system reported "
                             "that it failed with the following error codes: ErrorCode0: {code}." + _VMID),
    # The guest's crash dump after an NMI (recovery). On a real host the dump is written
    # inside the guest (its System log: 1001 BugCheck); the worker's 18590 above is what the
    # host sees. This host-side line stands for "the guest said it wrote a dump" [U].
    "guest_dump_written": EventKind(WORKER, _W, 18590, "Critical",
                                    "'{vm}' has encountered a fatal error and the guest operating system "
                                    "reported that it wrote a memory dump (bugcheck 0x80, NMI)." + _VMID),
    "worker_not_responding": EventKind(WORKER, _W, 18606, "Error",  # [U]
                                       "'{vm}' is not responding to requests from the Virtual Machine "
                                       "Management Service." + _VMID),
    # VMMS / Compute / HA [U]
    "vmms_op_timeout": EventKind(VMMS, _V, 19060, "Error",
                                 "'{vm}' failed to perform the operation: the operation timed out." + _VMID),
    "lm_started": EventKind(VMMS, _V, 20413, "Information",
                            "The Virtual Machine Management service initiated the live migration of "
                            "virtual machine '{vm}' to destination host '{dest}'." + _VMID),
    "lm_completed": EventKind(VMMS, _V, 20415, "Information",
                              "The Virtual Machine Management service completed the live migration of "
                              "virtual machine '{vm}'." + _VMID),
    "lm_arrived": EventKind(VMMS, _V, 20417, "Information",
                            "Virtual machine '{vm}' was live migrated from host '{source}'." + _VMID),
    "compute_error": EventKind(COMPUTE, _C, 12030, "Error",
                               "'{vm}' could not complete a compute operation: the hypervisor did not "
                               "respond in time." + _VMID),
    "ha_vm_unmonitored": EventKind(HIGH_AVAILABILITY, _H, 21502, "Error",
                                   "'Virtual Machine {vm}' is not responding to heartbeat requests from "
                                   "the cluster." + _VMID),
    # System [S]
    "kernel_power_41": EventKind(SYSTEM, "Microsoft-Windows-Kernel-Power", 41, "Critical",
                                 "The system has rebooted without cleanly shutting down first. This error "
                                 "could be caused if the system stopped responding, crashed, or lost "
                                 "power unexpectedly."),
    "unexpected_shutdown": EventKind(SYSTEM, "EventLog", 6008, "Error",
                                     "The previous system shutdown at {when} was unexpected."),
    "bugcheck": EventKind(SYSTEM, "Microsoft-Windows-WER-SystemErrorReporting", 1001, "Error",
                          "The computer has rebooted from a bugcheck. The bugcheck was: {code}."),
    "service_crashed_restart": EventKind(SYSTEM, "Service Control Manager", 7031, "Error",
                                         "The {service} service terminated unexpectedly. It has done "
                                         "this {count} time(s). The following corrective action will be "
                                         "taken in 60000 milliseconds: Restart the service."),
    "service_crashed": EventKind(SYSTEM, "Service Control Manager", 7034, "Error",
                                 "The {service} service terminated unexpectedly. It has done this "
                                 "{count} time(s)."),
    "planned_restart": EventKind(SYSTEM, "User32", 1074, "Information",
                                 "The process C:\\Windows\\system32\\shutdown.exe ({host}) has initiated "
                                 "the restart of computer {host} on behalf of user {user} for the "
                                 "following reason: Operating System: Hotfix (Planned)"),
    "eventlog_stopped": EventKind(SYSTEM, "EventLog", 6006, "Information", "The Event log service was stopped."),
    "eventlog_started": EventKind(SYSTEM, "EventLog", 6005, "Information", "The Event log service was started."),
    "os_started": EventKind(SYSTEM, "Microsoft-Windows-Kernel-General", 12, "Information",
                            "The operating system started at system time {when}."),
    "update_installed": EventKind(SYSTEM, "Microsoft-Windows-WindowsUpdateClient", 19, "Information",
                                  "Installation Successful: Windows successfully installed the following "
                                  "update: {title}"),
    "update_failed": EventKind(SYSTEM, "Microsoft-Windows-WindowsUpdateClient", 20, "Error",
                               "Installation Failure: Windows failed to install the following update with "
                               "error {code}: {title}"),
    # Failover clustering, in System [V] (Microsoft's "Failover Clustering system log events"
    # gives the levels: 1069/1205/1230 Error; 1135/1146/1177/1672 Critical). 1135 is written by
    # the surviving nodes; its first insertion string is the removed node.
    "cluster_node_removed": EventKind(SYSTEM, _FC, 1135, "Critical",
                                      "Cluster node '{node}' was removed from the active failover cluster "
                                      "membership.", first_field="node"),
    "cluster_node_quarantined": EventKind(SYSTEM, _FC, 1672, "Critical",
                                          "Cluster node '{node}' has been quarantined.", first_field="node"),
    "cluster_quorum_lost": EventKind(SYSTEM, _FC, 1177, "Critical",
                                     "The Cluster service is shutting down because quorum was lost."),
    "cluster_resource_failed": EventKind(SYSTEM, _FC, 1069, "Error",
                                         "Cluster resource 'Virtual Machine {vm}' of type 'Virtual Machine' "
                                         "in clustered role '{vm}' failed."),
    "cluster_rhs_terminated": EventKind(SYSTEM, _FC, 1146, "Critical",
                                        "The cluster Resource Hosting Subsystem (RHS) process was "
                                        "terminated and will be restarted."),
    "cluster_rhs_deadlock": EventKind(SYSTEM, _FC, 1230, "Error",
                                      "A component on the server did not respond in a timely fashion. This "
                                      "caused the cluster resource 'Virtual Machine {vm}' to exceed its "
                                      "time-out threshold."),
}


@dataclass(frozen=True, slots=True)
class SimEvent:
    t: float            # simulated seconds since the site's start, whole milliseconds
    kind: EventKind
    vm_id: str | None
    message: str
    first_insertion_string: str | None = None


class EventLog:
    """One host's events in time order, bounded (oldest dropped) like a real log."""

    def __init__(self, capacity: int = 4000):
        self._capacity = capacity
        self._events: list[SimEvent] = []
        self._times: list[float] = []

    def write(self, t: float, key: str, *, vm_id: str | None = None, **fields: object) -> SimEvent:
        kind = CATALOG[key]
        # Whole milliseconds: the bookmark travels as an ISO time with ms precision, and
        # "newer than the bookmark" must not return an event twice.
        t = round(t, 3)
        first = fields.get(kind.first_field) if kind.first_field else None
        event = SimEvent(t=t, kind=kind, vm_id=vm_id,
                         message=kind.template.format(vm_id=vm_id, **fields),
                         first_insertion_string=None if first is None else str(first))
        i = bisect.bisect_right(self._times, t)
        self._times.insert(i, t)
        self._events.insert(i, event)
        if len(self._events) > self._capacity * 2:
            del self._events[: self._capacity]
            del self._times[: self._capacity]
        return event

    def newest_after(self, after_t: float | None, max_events: int, until_t: float) -> list[SimEvent]:
        """The newest ``max_events`` events with ``after_t < t <= until_t``, oldest first."""
        if max_events <= 0:
            return []
        hi = bisect.bisect_right(self._times, until_t)
        lo = 0 if after_t is None else bisect.bisect_right(self._times, after_t)
        lo = max(lo, hi - max_events)
        return self._events[lo:hi]

    def __iter__(self) -> Iterator[SimEvent]:
        return iter(list(self._events))

    def __len__(self) -> int:
        return len(self._events)
