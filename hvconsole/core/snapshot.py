"""The snapshot-v1 model: one poll of one Hyper-V host, as frozen dataclasses.

Field names follow ``contracts/snapshot-v1.schema.json`` one to one, so that
``to_dict`` writes exactly the contract and a recording made today replays later.
``None`` always means *unknown*, never zero. Times are aware UTC datetimes.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from .timeutil import format_time

SCHEMA_ID = "hvconsole.snapshot/1"
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class PollError:
    """Why a poll failed. ``kind`` is one of the contract's error kinds."""

    kind: str
    message: str
    elapsed_ms: int | None = None


@dataclass(frozen=True, slots=True)
class OsInfo:
    product: str | None = None
    build: int | None = None
    ubr: int | None = None
    display_version: str | None = None
    last_boot: datetime | None = None
    pending_reboot: bool | None = None
    hotfixes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ClusterInfo:
    name: str
    node_state: str = "Unknown"
    drain_status: str = "Unknown"
    # Cluster shared volumes protected by BitLocker (catalog applicability, e.g. KB5063877);
    # None = not reported. Optional, beyond the contract's listed fields.
    bitlocker_csvs: int | None = None


@dataclass(frozen=True, slots=True)
class HostResources:
    logical_processors: int | None = None
    cpu_total_run_pct: float | None = None
    cpu_guest_run_pct: float | None = None
    cpu_root_run_pct: float | None = None
    memory_total_mb: float | None = None
    memory_available_mb: float | None = None
    storage_read_bps: float | None = None
    storage_write_bps: float | None = None
    storage_latency_ms: float | None = None
    network_rx_bps: float | None = None
    network_tx_bps: float | None = None
    system_drive_free_mb: float | None = None
    # The raw counters storage_latency_ms is worked out from by the console, between two
    # polls (core/storage_latency.py); the host leaves storage_latency_ms null. Per virtual
    # storage device: (short digest of its instance name, Latency ticks, Latency_Base
    # operations). Optional, beyond the contract's listed fields.
    storage_latency_freq: float | None = None
    storage_latency_raw: tuple[tuple[str, int, int], ...] | None = None


@dataclass(frozen=True, slots=True)
class VmQuery:
    """The VM inventory call itself. ``ok=False`` with VMMS Running = VMMS wedged."""

    ok: bool
    elapsed_ms: int | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class CollectCost:
    """What one run of collect.ps1 cost the host (optional, snapshot-v1 minor addition):
    CPU time of its powershell.exe (start-up included), the process's peak working set,
    and the milliseconds each stage took. A host that does not report it has None."""

    cpu_ms: int | None = None
    peak_working_set_mb: float | None = None
    probes_ms: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class VmSample:
    id: str
    name: str
    state: str
    health: str | None = None
    heartbeat: str | None = None
    operational_status: tuple[str, ...] = ()
    cpu_pct: float | None = None
    vcpus: int | None = None
    memory_assigned_mb: float | None = None
    memory_demand_mb: float | None = None
    dynamic_memory: bool | None = None
    uptime_s: int | None = None
    automatic_start_action: str | None = None
    automatic_stop_action: str | None = None
    generation: int | None = None
    is_clustered: bool | None = None
    last_backup: datetime | None = None
    # A confidential (guest-state isolated) VM; None = not reported (catalog applicability,
    # e.g. KB5061906). Optional, beyond the contract's listed fields.
    confidential: bool | None = None


@dataclass(frozen=True, slots=True)
class HostEvent:
    time: datetime
    log: str
    id: int
    level: str
    provider: str | None = None
    vm_id: str | None = None
    message: str | None = None
    # The event's first insertion string (FailoverClustering 1135: the removed node).
    first_insertion_string: str | None = None


@dataclass(frozen=True, slots=True)
class Snapshot:
    host: str
    polled_at: datetime
    reachable: bool
    error: PollError | None = None
    host_time: datetime | None = None
    collect_ms: int | None = None
    os: OsInfo | None = None
    services: Mapping[str, str | None] | None = None
    cluster: ClusterInfo | None = None
    resources: HostResources | None = None
    vm_query: VmQuery | None = None
    vms: tuple[VmSample, ...] = ()
    events: tuple[HostEvent, ...] = ()
    collect_cost: CollectCost | None = None
    # Extra keys the sender added that this version does not know; kept so that a
    # parse → to_dict round trip loses nothing (forward compatibility).
    extra: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def vm_by_id(self, vm_id: str) -> VmSample | None:
        for vm in self.vms:
            if vm.id == vm_id:
                return vm
        return None

    def to_dict(self) -> dict[str, Any]:
        """The snapshot-v1 JSON object for this snapshot."""
        d: dict[str, Any] = dict(self.extra)
        d.update({
            "schema": SCHEMA_ID,
            "host": self.host,
            "polled_at": format_time(self.polled_at),
            "reachable": self.reachable,
            "error": None if self.error is None else {
                "kind": self.error.kind, "message": self.error.message,
                "elapsed_ms": self.error.elapsed_ms,
            },
            "host_time": _t(self.host_time),
            "collect_ms": self.collect_ms,
            "os": None if self.os is None else {
                "product": self.os.product, "build": self.os.build, "ubr": self.os.ubr,
                "display_version": self.os.display_version,
                "last_boot": _t(self.os.last_boot),
                "pending_reboot": self.os.pending_reboot,
                "hotfixes": list(self.os.hotfixes),
            },
            "services": None if self.services is None else dict(self.services),
            "cluster": None if self.cluster is None else {
                "name": self.cluster.name, "node_state": self.cluster.node_state,
                "drain_status": self.cluster.drain_status,
                **({} if self.cluster.bitlocker_csvs is None else {"bitlocker_csvs": self.cluster.bitlocker_csvs}),
            },
            "resources": None if self.resources is None else _resources_dict(self.resources),
            "vm_query": None if self.vm_query is None else _fields(self.vm_query),
            "vms": [_vm_dict(vm) for vm in self.vms],
            "events": [_event_dict(e) for e in self.events],
            # Written only when the host reported it, so older traces round-trip unchanged.
            **({} if self.collect_cost is None else {"collect_cost": {
                "cpu_ms": self.collect_cost.cpu_ms,
                "peak_working_set_mb": self.collect_cost.peak_working_set_mb,
                "probes_ms": dict(self.collect_cost.probes_ms)}}),
        })
        return d


def _t(dt: datetime | None) -> str | None:
    return None if dt is None else format_time(dt)


def _fields(obj: Any) -> dict[str, Any]:
    return {name: getattr(obj, name) for name in obj.__dataclass_fields__}


def _resources_dict(r: HostResources) -> dict[str, Any]:
    d = _fields(r)
    if r.storage_latency_raw is not None:       # JSON's lists, as the host sends them
        d["storage_latency_raw"] = [list(device) for device in r.storage_latency_raw]
    return d


def _vm_dict(vm: VmSample) -> dict[str, Any]:
    d = _fields(vm)
    d["operational_status"] = list(vm.operational_status)
    d["last_backup"] = _t(vm.last_backup)
    if vm.confidential is None:
        del d["confidential"]      # optional field: absent rather than null when unknown
    return d


def _event_dict(e: HostEvent) -> dict[str, Any]:
    d = {
        "time": format_time(e.time), "log": e.log, "provider": e.provider, "id": e.id,
        "level": e.level, "vm_id": e.vm_id, "message": e.message,
    }
    if e.first_insertion_string is not None:
        d["first_insertion_string"] = e.first_insertion_string
    return d


def positional_maker(cls: type[T]) -> Callable[..., T]:
    """A quicker constructor for a frozen slotted dataclass made for every VM at every
    poll: ``make(v0, v1, …)`` sets every field (``dataclasses.fields`` order, ``init=False``
    fields included) to the values given, unchecked, with no defaults and no
    ``__post_init__``. The dataclass's own ``__init__`` sets each field through
    ``object.__setattr__`` (a global and an attribute looked up per field); this sets the
    slots through their descriptors, bound once, in about half the time (a ``VmSample``:
    1.9 → 1.0 µs). The object made is the one ``cls(*values)`` makes (same fields,
    equality, hash, repr, pickling). Generated source, as ``dataclasses`` makes ``__init__``."""
    names = [f.name for f in dataclasses.fields(cls)]  # type: ignore[arg-type]
    if not names or getattr(cls, "__slots__", None) is None:
        raise TypeError(f"{cls.__name__}: a slotted dataclass with fields is needed")
    values = ", ".join(f"v{i}" for i in range(len(names)))
    bound = ", ".join(f"s{i}=s{i}" for i in range(len(names)))
    lines = [f"def make({values}, *, new=new, cls=cls, {bound}):", "    obj = new(cls)"]
    lines += [f"    s{i}(obj, v{i})" for i in range(len(names))]
    lines.append("    return obj")
    scope: dict[str, Any] = {"new": object.__new__, "cls": cls}
    scope.update({f"s{i}": getattr(cls, name).__set__ for i, name in enumerate(names)})
    exec("\n".join(lines), scope)  # our own text, no input in it
    make: Callable[..., T] = scope["make"]
    make.__name__ = make.__qualname__ = f"make_{cls.__name__}"
    return make


def unreachable(host: str, polled_at: datetime, kind: str, message: str,
                elapsed_ms: int | None = None) -> Snapshot:
    """The snapshot of a poll that failed: still data, never an exception."""
    return Snapshot(host=host, polled_at=polled_at, reachable=False,
                    error=PollError(kind=kind, message=message, elapsed_ms=elapsed_ms))
