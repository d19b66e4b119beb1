"""Findings (the findings-v1 contract) and the book that opens, updates and ends them.

A *slot* is one question asked about one entity (host, or host + VM): "is its heartbeat
lost?", "is it unreachable?". Each slot holds at most one open finding. Every poll a rule
either *holds* the slot with a :class:`Verdict` or *clears* it. The book turns that into
findings that appear, change (severity or evidence signature) or end, and builds evidence
sentences only then: a finding that merely lasts another poll costs two assignments.

A finding ends after ``recovery_polls`` clear polls in a row (one good poll after a freeze
proves nothing either), at once when a host answers again or the entity enters maintenance,
and after ``recovery_polls`` polls without it when a VM leaves its host's inventory. When a
slot's kind changes (``heartbeat-lost`` becomes ``heartbeat-lost-cpu-flat``) the old
finding ends, noting what superseded it, and a new one opens.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from ..timeutil import format_time
from .text import clock

SCHEMA_ID = "hvconsole.findings/1"
CRITICAL = "critical"
WARNING = "warning"

# Stable machine names (findings-v1 ``kind``) and what each means. docs/freeze-detection.md
# explains each rule; a test checks that every kind here is documented there.
KINDS: dict[str, str] = {
    "heartbeat-lost": "heartbeat LostCommunication/Error while Running, sustained",
    "heartbeat-lost-cpu-flat": "heartbeat lost and CPU flat near 0 %: guest halted",
    "heartbeat-lost-cpu-pegged": "heartbeat lost and vCPUs pegged: guest spinning",
    "heartbeat-not-restored": "a VM that had a heartbeat restarted and has none after the boot grace "
                              "(critical after a guest crash with no sign of a boot)",
    "uptime-stalled": "Running but uptime does not advance: worker not updating, VM not running",
    "vm-critical-state": "*Critical state, health CriticalFailure or OperationalStatus CommunicationTimedOut/Failed",
    "vm-degraded": "health MajorFailure or OperationalStatus Degraded/PredictiveFailure",
    "applications-critical": "heartbeat OkApplicationsCritical: an application problem, not a freeze",
    "stuck-transition": "a transitional state (Starting, Stopping, Saving, ...) lasting too long",
    "restart-loop": "a VM that restarts again and again (crash resets or uptime resets)",
    "guest-crash-events": "Worker-Admin 18560 triple-fault reset or 18590 guest fatal error",
    "hyperv-error-events": "other Critical/Error events in the Hyper-V channels",
    "host-unreachable": "a host that answered before stops answering (timeout or refused)",
    "host-poll-failing": "a host answers but polls fail (authentication, TLS, fault, script)",
    "vmms-unresponsive": "the VM query fails while the vmms service says Running: VMMS wedged",
    "vmms-not-running": "the vmms service is not Running (or not installed)",
    "host-wide-failure": "several VMs on one host went bad together: a host-level problem",
    "host-crash-events": "System 41/6008/1001 (host crashed or rebooted uncleanly), 7031/7034 (service died)",
    "cluster-failure-events": "FailoverClustering 1069/1146/1230/1205/1135/1672/1177",
}


@dataclass(frozen=True, slots=True)
class Finding:
    """One conclusion about one host (``vm_id=None``) or VM, as findings-v1 writes it."""

    host: str
    vm_id: str | None
    vm_name: str | None
    kind: str
    severity: str
    first_seen: datetime
    last_seen: datetime
    active: bool
    evidence: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "host": self.host, "vm_id": self.vm_id, "vm_name": self.vm_name,
            "kind": self.kind, "severity": self.severity,
            "first_seen": format_time(self.first_seen), "last_seen": format_time(self.last_seen),
            "active": self.active, "evidence": list(self.evidence),
        }


def sort_key(f: Finding | _Open) -> tuple:
    """Order of appearance, then host, VM and kind: the same for live and replay."""
    return (f.first_seen, f.host.casefold(), (f.vm_name or "").casefold(), f.vm_id or "", f.kind)


def document(findings: Iterable[Finding]) -> dict[str, Any]:
    """The findings-v1 JSON object."""
    return {"schema": SCHEMA_ID, "findings": [f.to_dict() for f in sorted(findings, key=sort_key)]}


class Verdict(NamedTuple):
    """What a rule concluded this poll. ``signature`` is compared with the open finding's:
    when it differs, ``build`` is called for fresh evidence and the finding has changed."""

    kind: str
    severity: str
    signature: Hashable
    build: Callable[[], list[str]]


class _Open:
    """An open finding: mutable while it lasts, frozen into :class:`Finding` on demand."""

    __slots__ = ("host", "vm_id", "vm_name", "kind", "severity", "first_seen", "last_seen",
                 "evidence", "signature", "clear_polls", "_frozen")

    def __init__(self, host: str, vm_id: str | None, vm_name: str | None, v: Verdict,
                 at: datetime) -> None:
        self.host, self.vm_id, self.vm_name = host, vm_id, vm_name
        self.kind, self.severity, self.signature = v.kind, v.severity, v.signature
        self.first_seen = self.last_seen = at
        self.evidence = tuple(v.build())
        self.clear_polls = 0
        self._frozen: Finding | None = None

    def change(self, v: Verdict, vm_name: str | None) -> None:
        self.severity, self.signature, self.vm_name = v.severity, v.signature, vm_name
        self.evidence = tuple(v.build())
        self._frozen = None

    def freeze(self, active: bool = True, note: str | None = None) -> Finding:
        f = self._frozen
        if note is None and f is not None and f.last_seen == self.last_seen and f.active == active:
            return f
        evidence = self.evidence if note is None else (*self.evidence, note)
        f = Finding(self.host, self.vm_id, self.vm_name, self.kind, self.severity,
                    self.first_seen, self.last_seen, active, evidence)
        if note is None:
            self._frozen = f
        return f


Slots = dict[str, _Open]


class FindingBook:
    """All open findings, a bounded history of ended ones, and this poll's changes."""

    def __init__(self, recovery_polls: int, history_limit: int) -> None:
        self._recovery = recovery_polls
        self._open: set[_Open] = set()
        self._order: list[_Open] | None = None  # open findings sorted; None = re-sort
        self._ended: deque[Finding] = deque(maxlen=history_limit)
        self.dropped = 0  # ended findings pushed out of the bounded history
        self.changes: list[Finding] = []

    def hold(self, slots: Slots, slot: str, host: str, vm_id: str | None, vm_name: str | None,
             v: Verdict, at: datetime) -> None:
        rec = slots.get(slot)
        if rec is not None and rec.kind != v.kind:
            self._close(slots, slot, rec, f"superseded by {v.kind} at {clock(at.timestamp())}")
            rec = None
        if rec is None:
            rec = _Open(host, vm_id, vm_name, v, at)
            slots[slot] = rec
            self._open.add(rec)
            self._order = None
            self.changes.append(rec.freeze())
            return
        rec.last_seen = at
        rec.clear_polls = 0
        if rec.signature != v.signature or rec.severity != v.severity or rec.vm_name != vm_name:
            if rec.vm_name != vm_name:
                self._order = None
            rec.change(v, vm_name)
            self.changes.append(rec.freeze())

    def clear(self, slots: Slots, slot: str) -> None:
        """The slot's condition did not hold this poll."""
        rec = slots.get(slot)
        if rec is not None:
            rec.clear_polls += 1
            if rec.clear_polls >= self._recovery:
                self._close(slots, slot, rec, None)

    def close(self, slots: Slots, slot: str, note: str | None) -> None:
        """End one finding now: its condition is over beyond doubt (the host answered)."""
        rec = slots.get(slot)
        if rec is not None:
            self._close(slots, slot, rec, note)

    def close_all(self, slots: Slots, note: str | None) -> None:
        """End every finding of an entity now (it went away, or entered maintenance)."""
        for slot, rec in list(slots.items()):
            self._close(slots, slot, rec, note)

    def _close(self, slots: Slots, slot: str, rec: _Open, note: str | None) -> None:
        del slots[slot]
        self._open.discard(rec)
        self._order = None
        ended = rec.freeze(active=False, note=note)
        if len(self._ended) == self._ended.maxlen:
            self.dropped += 1
        self._ended.append(ended)
        self.changes.append(ended)

    def active(self) -> list[Finding]:
        # Called every GUI tick: sort only when the set of open findings changed.
        if self._order is None:
            self._order = sorted(self._open, key=sort_key)
        return [rec.freeze() for rec in self._order]

    def all(self) -> list[Finding]:
        return sorted([*self._ended, *(rec.freeze() for rec in self._open)], key=sort_key)
