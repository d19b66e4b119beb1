"""What ``audit.ps1`` read on one host, checked and turned into frozen records.

The answer is the ``$defs/answer`` part of ``tests/fixtures/contracts/audit-v1.schema.json``.
Every field is checked for its type here (a host that answers garbage gets one clear
:class:`AuditFormatError` naming the field, never a traceback further on); unknown extra
fields are ignored, as a newer script may send more.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..timeutil import parse_time

AUDIT_VERSION = 1


class AuditFormatError(ValueError):
    def __init__(self, field: str, problem: str):
        super().__init__(f"{field}: {problem}")
        self.field, self.problem = field, problem


@dataclass(frozen=True, slots=True)
class Checkpoint:
    name: str
    created: datetime | None
    depth: int
    type: str | None


@dataclass(frozen=True, slots=True)
class Disk:
    path: str
    type: str | None
    size_mb: float | None
    file_size_mb: float | None
    volume: str | None


@dataclass(frozen=True, slots=True)
class VmFacts:
    id: str
    name: str
    state: str | None
    generation: int | None
    config_version: str | None
    vcpus: int | None
    memory_startup_mb: float | None
    dynamic_memory: bool | None
    memory_minimum_mb: float | None
    memory_maximum_mb: float | None
    memory_assigned_mb: float | None
    memory_demand_mb: float | None
    automatic_start_action: str | None
    automatic_start_delay_s: int | None
    automatic_stop_action: str | None
    checkpoint_type: str | None
    checkpoints: tuple[Checkpoint, ...]
    merge_in_progress: bool | None
    ic_heartbeat: bool | None
    ic_shutdown: bool | None
    ic_state: str | None
    ic_version: str | None
    disks: tuple[Disk, ...]
    is_clustered: bool | None
    last_backup: datetime | None

    @property
    def running(self) -> bool:
        return (self.state or "").startswith("Running")


@dataclass(frozen=True, slots=True)
class Volume:
    path: str
    label: str | None
    size_mb: float | None
    free_mb: float | None
    is_system: bool


@dataclass(frozen=True, slots=True)
class NumaNode:
    node: int
    logical_processors: int | None
    memory_mb: float | None


@dataclass(frozen=True, slots=True)
class BpaResult:
    rule_id: str | None
    severity: str | None
    category: str | None
    title: str | None
    problem: str | None
    impact: str | None
    resolution: str | None


@dataclass(frozen=True, slots=True)
class HostFacts:
    computer_name: str
    host_time: datetime
    audit_ms: int
    product: str | None
    build: int | None
    ubr: int | None
    last_boot: datetime | None
    pending_reboot: bool | None
    pending_reboot_since: datetime | None
    logical_processors: int | None
    numa_nodes: tuple[NumaNode, ...]
    memory_total_mb: float | None
    memory_available_mb: float | None
    memory_reserve_mb: float | None
    system_drive: str | None
    supported_config_version: str | None
    volumes: tuple[Volume, ...]
    cluster_name: str | None
    node_state: str | None
    drain_status: str | None
    clustered: bool
    vm_query_ok: bool
    vm_query_error: str | None
    vms: tuple[VmFacts, ...]
    bpa_available: bool
    bpa_error: str | None
    bpa_results: tuple[BpaResult, ...]
    warnings: tuple[str, ...]


# -- field readers ------------------------------------------------------------------------

def _obj(raw: object, field: str) -> Mapping[str, Any]:
    if not isinstance(raw, Mapping):
        raise AuditFormatError(field, "must be an object")
    return raw


def _list(raw: object, field: str) -> list[Any]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise AuditFormatError(field, "must be an array")
    return raw


def _str(raw: Mapping[str, Any], key: str, field: str, *, required: bool = False) -> str | None:
    value = raw.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str):
        raise AuditFormatError(f"{field}.{key}", "must be text")
    return value


def _int(raw: Mapping[str, Any], key: str, field: str) -> int | None:
    value = raw.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != int(value):
        raise AuditFormatError(f"{field}.{key}", f"must be a whole number, not {str(value)[:40]!r}")
    return int(value)


def _num(raw: Mapping[str, Any], key: str, field: str) -> float | None:
    value = raw.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value or value < 0:
        raise AuditFormatError(f"{field}.{key}", f"must be a number of at least 0, not {str(value)[:40]!r}")
    return float(value)


def _bool(raw: Mapping[str, Any], key: str, field: str) -> bool | None:
    value = raw.get(key)
    if value is None:
        return None
    if not isinstance(value, bool):
        raise AuditFormatError(f"{field}.{key}", "must be true or false")
    return value


def _time(raw: Mapping[str, Any], key: str, field: str) -> datetime | None:
    value = raw.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise AuditFormatError(f"{field}.{key}", "must be an ISO time")
    try:
        return parse_time(value)
    except ValueError:
        raise AuditFormatError(f"{field}.{key}", f"is not a time: {value[:40]!r}") from None


# -- the answer ---------------------------------------------------------------------------

def parse_audit(doc: object) -> HostFacts:
    """The checked facts of one audit answer; raises :class:`AuditFormatError`."""
    doc = _obj(doc, "answer")
    if doc.get("audit_version") != AUDIT_VERSION:
        raise AuditFormatError("audit_version", f"must be {AUDIT_VERSION}, not {str(doc.get('audit_version'))[:20]!r}")
    host_time = _time(doc, "host_time", "answer")
    if host_time is None:
        raise AuditFormatError("host_time", "is missing")
    host = _obj(doc.get("host"), "host")
    os_ = _obj(host.get("os"), "host.os")
    cluster = host.get("cluster")
    cluster = None if cluster is None else _obj(cluster, "host.cluster")
    query = _obj(doc.get("vm_query"), "vm_query")
    ok = _bool(query, "ok", "vm_query")
    bpa = _obj(doc.get("bpa"), "bpa")
    warnings = _list(doc.get("warnings"), "warnings")
    if not all(isinstance(w, str) for w in warnings):
        raise AuditFormatError("warnings", "must be an array of text")
    return HostFacts(
        computer_name=_str(host, "computer_name", "host", required=True) or "",
        host_time=host_time,
        audit_ms=_int(doc, "audit_ms", "answer") or 0,
        product=_str(os_, "product", "host.os"), build=_int(os_, "build", "host.os"),
        ubr=_int(os_, "ubr", "host.os"), last_boot=_time(os_, "last_boot", "host.os"),
        pending_reboot=_bool(os_, "pending_reboot", "host.os"),
        pending_reboot_since=_time(os_, "pending_reboot_since", "host.os"),
        logical_processors=_int(host, "logical_processors", "host"),
        numa_nodes=tuple(_numa(n, f"host.numa_nodes[{i}]")
                         for i, n in enumerate(_list(host.get("numa_nodes"), "host.numa_nodes"))),
        memory_total_mb=_num(host, "memory_total_mb", "host"),
        memory_available_mb=_num(host, "memory_available_mb", "host"),
        memory_reserve_mb=_num(host, "memory_reserve_mb", "host"),
        system_drive=_str(host, "system_drive", "host"),
        supported_config_version=_str(host, "supported_config_version", "host"),
        volumes=tuple(_volume(v, f"host.volumes[{i}]")
                      for i, v in enumerate(_list(host.get("volumes"), "host.volumes"))),
        cluster_name=None if cluster is None else _str(cluster, "name", "host.cluster"),
        node_state=None if cluster is None else _str(cluster, "node_state", "host.cluster"),
        drain_status=None if cluster is None else _str(cluster, "drain_status", "host.cluster"),
        clustered=cluster is not None,
        vm_query_ok=bool(ok), vm_query_error=_str(query, "error", "vm_query"),
        vms=tuple(_vm(v, f"vms[{i}]") for i, v in enumerate(_list(doc.get("vms"), "vms"))),
        bpa_available=bool(_bool(bpa, "available", "bpa")), bpa_error=_str(bpa, "error", "bpa"),
        bpa_results=tuple(_bpa(r, f"bpa.results[{i}]") for i, r in enumerate(_list(bpa.get("results"), "bpa.results"))),
        warnings=tuple(warnings),
    )


def _numa(raw: object, field: str) -> NumaNode:
    raw = _obj(raw, field)
    return NumaNode(_int(raw, "node", field) or 0, _int(raw, "logical_processors", field),
                    _num(raw, "memory_mb", field))


def _volume(raw: object, field: str) -> Volume:
    raw = _obj(raw, field)
    return Volume(_str(raw, "path", field, required=True) or "", _str(raw, "label", field),
                  _num(raw, "size_mb", field), _num(raw, "free_mb", field), bool(_bool(raw, "is_system", field)))


def _bpa(raw: object, field: str) -> BpaResult:
    raw = _obj(raw, field)
    rule = raw.get("rule_id")
    return BpaResult(None if rule is None else str(rule)[:80], _str(raw, "severity", field),
                     _str(raw, "category", field), _str(raw, "title", field), _str(raw, "problem", field),
                     _str(raw, "impact", field),
                     _str(raw, "resolution", field))


def _vm(raw: object, field: str) -> VmFacts:
    raw = _obj(raw, field)
    ic = raw.get("integration_services")
    ic = {} if ic is None else _obj(ic, f"{field}.integration_services")
    icf = f"{field}.integration_services"
    return VmFacts(
        id=(_str(raw, "id", field, required=True) or "").lower(),
        name=_str(raw, "name", field, required=True) or "",
        state=_str(raw, "state", field), generation=_int(raw, "generation", field),
        config_version=_str(raw, "config_version", field), vcpus=_int(raw, "vcpus", field),
        memory_startup_mb=_num(raw, "memory_startup_mb", field), dynamic_memory=_bool(raw, "dynamic_memory", field),
        memory_minimum_mb=_num(raw, "memory_minimum_mb", field),
        memory_maximum_mb=_num(raw, "memory_maximum_mb", field),
        memory_assigned_mb=_num(raw, "memory_assigned_mb", field),
        memory_demand_mb=_num(raw, "memory_demand_mb", field),
        automatic_start_action=_str(raw, "automatic_start_action", field),
        automatic_start_delay_s=_int(raw, "automatic_start_delay_s", field),
        automatic_stop_action=_str(raw, "automatic_stop_action", field),
        checkpoint_type=_str(raw, "checkpoint_type", field),
        checkpoints=tuple(_checkpoint(c, f"{field}.checkpoints[{i}]")
                          for i, c in enumerate(_list(raw.get("checkpoints"), f"{field}.checkpoints"))),
        merge_in_progress=_bool(raw, "merge_in_progress", field),
        ic_heartbeat=_bool(ic, "heartbeat", icf), ic_shutdown=_bool(ic, "shutdown", icf),
        ic_state=_str(ic, "state", icf), ic_version=_str(ic, "version", icf),
        disks=tuple(_disk(d, f"{field}.disks[{i}]") for i, d in enumerate(_list(raw.get("disks"), f"{field}.disks"))),
        is_clustered=_bool(raw, "is_clustered", field), last_backup=_time(raw, "last_backup", field),
    )


def _checkpoint(raw: object, field: str) -> Checkpoint:
    raw = _obj(raw, field)
    return Checkpoint(_str(raw, "name", field) or "", _time(raw, "created", field),
                      max(1, _int(raw, "depth", field) or 1), _str(raw, "type", field))


def _disk(raw: object, field: str) -> Disk:
    raw = _obj(raw, field)
    return Disk(_str(raw, "path", field, required=True) or "", _str(raw, "type", field), _num(raw, "size_mb", field),
                _num(raw, "file_size_mb", field), _str(raw, "volume", field))
