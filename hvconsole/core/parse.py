"""Tolerant parser from snapshot-v1 JSON (or what Windows PowerShell 5.1 makes of it)
to the frozen model in :mod:`hvconsole.core.snapshot`.

Accepted quirks (hyperv-notes §9): enum integers as well as names, ``\\/Date(ms)\\/`` as
well as ISO times, a lone object where a list is expected, the ``{"value": [...],
"Count": n}`` wrapper, a TimeSpan object for uptime, numbers sent as strings, ``null``
metrics (kept as unknown). Anything else that is wrong raises :class:`SnapshotFormatError`
naming the field, never a bare KeyError or TypeError.
"""

from __future__ import annotations

import functools
import itertools
import json
import math
import operator
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, TypeVar

from . import enums
from .snapshot import (
    SCHEMA_ID,
    ClusterInfo,
    CollectCost,
    HostEvent,
    HostResources,
    OsInfo,
    PollError,
    Snapshot,
    VmQuery,
    VmSample,
    positional_maker,
)
from .timeutil import parse_time

T = TypeVar("T")

_KNOWN_TOP = frozenset({
    "schema", "host", "polled_at", "reachable", "error", "host_time", "collect_ms", "os",
    "services", "cluster", "resources", "vm_query", "vms", "events", "collect_cost",
})


_MISSING = object()
_OPERATIONAL_STATUSES = frozenset(enums.OPERATIONAL_STATUS_BY_INT.values())
_START_ACTIONS = frozenset(enums.START_ACTION_BY_INT.values())
_STOP_ACTIONS = frozenset(enums.STOP_ACTION_BY_INT.values())
# Integers below this convert to float and back exactly, so they can be taken as they are.
_EXACT = 2**53
# A VM object's fields as collect.ps1 always sends them (``confidential`` is optional),
# taken out in one call; the order of VmSample's fields.
_VM_FIELDS = operator.itemgetter(
    "id", "name", "state", "health", "heartbeat", "operational_status", "cpu_pct", "vcpus",
    "memory_assigned_mb", "memory_demand_mb", "dynamic_memory", "uptime_s",
    "automatic_start_action", "automatic_stop_action", "generation", "is_clustered", "last_backup")
_make_vm = positional_maker(VmSample)
# A VM's usual operational status list (["Ok"]) as one shared tuple per name: one object
# fewer a VM a poll for the garbage collector to go through, equal to tuple(ops).
_ONE_STATUS = {name: (name,) for name in _OPERATIONAL_STATUSES}


class SnapshotFormatError(ValueError):
    """A snapshot that cannot be understood. ``field`` is a dotted path, e.g. ``vms[3].state``."""

    def __init__(self, field: str, problem: str):
        self.field = field
        self.problem = problem
        super().__init__(f"{field}: {problem}" if field else problem)


def parse_snapshot_json(text: str | bytes) -> Snapshot:
    """Parse one JSON document (one trace line, one collector answer)."""
    try:
        obj = json.loads(text)
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError, digit-count limit
        raise SnapshotFormatError("", f"not valid JSON ({str(exc)[:120]})") from None
    except RecursionError:
        raise SnapshotFormatError("", "JSON nested too deeply") from None
    return parse_snapshot(obj)


def parse_snapshot(obj: object) -> Snapshot:
    """Parse a decoded JSON object into a :class:`Snapshot`."""
    o = _obj(obj, "")
    schema = o.get("schema")
    if schema is not None and schema != SCHEMA_ID:
        shown = repr(schema[:60]) if isinstance(schema, str) else _kind(schema)
        raise SnapshotFormatError("schema", f"unsupported schema {shown}, expected {SCHEMA_ID!r}")
    host = _req_str(o, "host", "")
    if not host:
        raise SnapshotFormatError("host", "must not be empty")
    reachable = _bool(_req(o, "reachable", ""), "reachable")
    if reachable is None:
        raise SnapshotFormatError("reachable", "must be true or false")
    return Snapshot(
        host=host,
        polled_at=_req_time(o, "polled_at", ""),
        reachable=reachable,
        error=_opt(o, "error", "", _error),
        host_time=_time(o.get("host_time"), "host_time"),
        collect_ms=_int(o.get("collect_ms"), "collect_ms"),
        os=_opt(o, "os", "", _os),
        services=_opt(o, "services", "", _services),
        cluster=_opt(o, "cluster", "", _cluster),
        resources=_opt(o, "resources", "", _resources),
        vm_query=_opt(o, "vm_query", "", _vm_query),
        # Each VM's path ("vms[3]") is only written out for an error message.
        vms=tuple(map(_vm, _list(o.get("vms"), "vms"), itertools.count())),
        events=tuple(_event(e, f"events[{i}]") for i, e in enumerate(_list(o.get("events"), "events"))),
        collect_cost=_opt(o, "collect_cost", "", _collect_cost),
        extra={k: v for k, v in o.items() if k not in _KNOWN_TOP},
    )


# -- sections ---------------------------------------------------------------------------

def _error(o: Mapping[str, Any], p: str) -> PollError:
    kind = _req_str(o, "kind", p)
    if kind not in enums.ERROR_KINDS:
        raise SnapshotFormatError(f"{p}.kind", f"unknown error kind {kind[:40]!r}")
    return PollError(kind=kind, message=_str(o.get("message"), f"{p}.message") or "",
                     elapsed_ms=_int(o.get("elapsed_ms"), f"{p}.elapsed_ms"))


def _os(o: Mapping[str, Any], p: str) -> OsInfo:
    hotfixes = []
    for i, h in enumerate(_list(o.get("hotfixes"), f"{p}.hotfixes")):
        if isinstance(h, Mapping):  # Get-HotFix objects passed through whole
            h = h.get("HotFixID") or h.get("hotfix_id")
        if not isinstance(h, str):
            raise SnapshotFormatError(f"{p}.hotfixes[{i}]", "expected a KB id string")
        h = h.strip().upper()
        if h:
            hotfixes.append(h)
    return OsInfo(
        product=_str(o.get("product"), f"{p}.product"),
        build=_int(o.get("build"), f"{p}.build"),
        ubr=_int(o.get("ubr"), f"{p}.ubr"),
        display_version=_str(o.get("display_version"), f"{p}.display_version"),
        last_boot=_time(o.get("last_boot"), f"{p}.last_boot"),
        pending_reboot=_bool(o.get("pending_reboot"), f"{p}.pending_reboot"),
        hotfixes=tuple(hotfixes),
    )


def _services(o: Mapping[str, Any], p: str) -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for name, status in o.items():
        if isinstance(status, Mapping):  # a whole Get-Service object
            status = status.get("Status")
        out[str(name)] = _enum(status, f"{p}.{name}", enums.SERVICE_STATUS_BY_INT,
                               enums.SERVICE_STATUSES, unknown="Unknown")
    return out


def _cluster(o: Mapping[str, Any], p: str) -> ClusterInfo:
    return ClusterInfo(
        name=_str(o.get("name"), f"{p}.name") or "",
        node_state=_enum(o.get("node_state"), f"{p}.node_state", enums.CLUSTER_NODE_STATE_BY_INT,
                         frozenset(enums.CLUSTER_NODE_STATE_BY_INT.values()), unknown="Unknown") or "Unknown",
        drain_status=_enum(o.get("drain_status"), f"{p}.drain_status", enums.DRAIN_STATUS_BY_INT,
                           frozenset(enums.DRAIN_STATUS_BY_INT.values()) | {"Unknown"},
                           unknown="Unknown") or "Unknown",
        bitlocker_csvs=_int(o.get("bitlocker_csvs"), f"{p}.bitlocker_csvs"),
    )


def _resources(o: Mapping[str, Any], p: str) -> HostResources:
    kw: dict[str, Any] = {}
    get = o.get
    for name in HostResources.__dataclass_fields__:
        # The well-formed value as it is; the converter (and the field's path) otherwise.
        if name == "logical_processors":
            kw[name] = _int_at(get(name), p, name)
        elif name == "storage_latency_raw":
            kw[name] = _storage_raw(get(name), f"{p}.{name}")
        else:
            kw[name] = _num_at(get(name), p, name)
    return HostResources(**kw)


_UINT32 = 2**32
_RAW_KEY_MAX = 32          # collect.ps1 sends 10 hex digits
_RAW_DEVICES_MAX = 4096    # far above any host's virtual disks: bounds what one answer can hold


def _storage_raw(v: object, p: str) -> tuple[tuple[str, int, int], ...] | None:
    """Per virtual storage device ``[key, Latency, Latency_Base]`` (core/storage_latency.py).
    The key is the host's digest of the instance name: only ever compared, so a short
    string is all it must be; the counters are uint32."""
    if v is None:
        return None
    if type(v) is not list:
        raise SnapshotFormatError(p, f"expected a list, got {_kind(v)}")
    if len(v) > _RAW_DEVICES_MAX:
        raise SnapshotFormatError(p, "too many devices")
    out = []
    for i, d in enumerate(v):
        if type(d) is list and len(d) == 3:
            # A device as collect.ps1 sends it, taken in one test (36 of them a poll).
            key, ticks, ops = d
            if (type(key) is str and 0 < len(key) <= _RAW_KEY_MAX and type(ticks) is int and type(ops) is int
                    and 0 <= ticks < _UINT32 and 0 <= ops < _UINT32):
                out.append((key, ticks, ops))
                continue
        if type(d) is not list or len(d) != 3 or type(d[0]) is not str or not 0 < len(d[0]) <= _RAW_KEY_MAX:
            raise SnapshotFormatError(f"{p}[{i}]", "expected [key, ticks, operations]")
        key, ticks, ops = d
        if type(ticks) is not int or type(ops) is not int:
            ticks, ops = _int(ticks, f"{p}[{i}][1]"), _int(ops, f"{p}[{i}][2]")
        if ticks is None or ops is None or not (0 <= ticks < _UINT32 and 0 <= ops < _UINT32):
            raise SnapshotFormatError(f"{p}[{i}]", "counter outside uint32")
        out.append((key, ticks, ops))
    return tuple(out)


def _vm_query(o: Mapping[str, Any], p: str) -> VmQuery:
    ok = _bool(_req(o, "ok", p), f"{p}.ok")
    if ok is None:
        raise SnapshotFormatError(f"{p}.ok", "must be true or false")
    return VmQuery(ok=ok, elapsed_ms=_int(o.get("elapsed_ms"), f"{p}.elapsed_ms"),
                   error=_str(o.get("error"), f"{p}.error"))


def _collect_cost(o: Mapping[str, Any], p: str) -> CollectCost:
    """collect.ps1's own cost; a negative figure is a broken counter, kept as unknown."""
    def non_negative(v: float | None) -> float | None:
        return None if v is None or v < 0 else v
    cpu = non_negative(_int(o.get("cpu_ms"), f"{p}.cpu_ms"))
    raw = o.get("probes_ms")
    probes: dict[str, int | None] = {}
    if raw is not None:
        where = f"{p}.probes_ms"
        probes = {str(k): _int_at(v, where, k) for k, v in _obj(raw, where).items()}
    return CollectCost(cpu_ms=None if cpu is None else int(cpu),
                       peak_working_set_mb=non_negative(_num(o.get("peak_working_set_mb"), f"{p}.peak_working_set_mb")),
                       probes_ms={k: v for k, v in probes.items() if v is not None and v >= 0})


def _vm(raw: object, p: str | int) -> VmSample:
    """The hot path of every poll (40 VMs a host). A VM object as collect.ps1 writes it
    (every field there, each already its well-formed JSON type, or null where null is
    allowed) is taken as it comes in one pass; anything else goes through
    :func:`_vm_tolerant`, which converts what it can and names the field it cannot.
    Same results either way (tests/unit/test_parse_fast_path.py holds the two together).
    ``p``: the VM's path, or its index in ``vms`` (the path is then written out only
    when it is needed)."""
    if type(raw) is not dict:
        return _vm_tolerant(raw, _vm_path(p))
    try:
        (vm_id, name, state, health, heartbeat, ops, cpu, vcpus, assigned, demand, dynamic,
         uptime, start, stop, generation, clustered, backup) = _VM_FIELDS(raw)
    except KeyError:
        return _vm_tolerant(raw, _vm_path(p))
    confidential = raw.get("confidential")
    # Each test below is what the tolerant path takes as it is; the checks of type come
    # first, so that an unhashable value never reaches a set's "in".
    if not (type(vm_id) is str and type(name) is str
            and type(state) is str and state in enums.VM_STATES
            and (health is None or (type(health) is str and health in enums.HEALTHS))
            and (heartbeat is None or (type(heartbeat) is str and heartbeat in enums.HEARTBEATS))
            and (ops is None or (type(ops) is list
                                 and all(type(s) is str and s in _OPERATIONAL_STATUSES for s in ops)))
            and (vcpus is None or (type(vcpus) is int and -_EXACT < vcpus < _EXACT))
            and (dynamic is None or type(dynamic) is bool)
            and (uptime is None or (type(uptime) is int and 0 <= uptime < _EXACT))
            and (start is None or (type(start) is str and start in _START_ACTIONS))
            and (stop is None or (type(stop) is str and stop in _STOP_ACTIONS))
            and (generation is None or (type(generation) is int and -_EXACT < generation < _EXACT))
            and (clustered is None or type(clustered) is bool)
            and (confidential is None or type(confidential) is bool)):
        return _vm_tolerant(raw, _vm_path(p))
    cpu, assigned, demand = _plain_num(cpu), _plain_num(assigned), _plain_num(demand)
    if cpu is _MISSING or assigned is _MISSING or demand is _MISSING:
        return _vm_tolerant(raw, _vm_path(p))
    # Every other field is well formed, so a bad backup time is the first error either way.
    if backup is not None:
        backup = _backup_time(backup, p)
    # Every status was checked to be a known name above.
    statuses = () if not ops else _ONE_STATUS[ops[0]] if len(ops) == 1 else tuple(ops)
    return _make_vm(vm_id.lower(), name, state, health, heartbeat, statuses, cpu, vcpus,
                    assigned, demand, dynamic, uptime, start, stop, generation, clustered,
                    backup, confidential)


def _vm_path(p: str | int) -> str:
    return p if type(p) is str else f"vms[{p}]"


# Last backup times as parsed, by their text: a VM's last backup is the same text at
# every poll until the next backup, and parsing it is the dearest field of a VM.
_BACKUP_TIMES: dict[str, datetime] = {}
_BACKUP_TIMES_MAX = 8192


def _backup_time(v: object, p: str | int) -> datetime | None:
    known = _BACKUP_TIMES.get(v) if type(v) is str else None
    if known is not None:
        return known
    parsed = _time(v, f"{_vm_path(p)}.last_backup")
    if type(v) is str and parsed is not None:
        if len(_BACKUP_TIMES) >= _BACKUP_TIMES_MAX:
            _BACKUP_TIMES.clear()   # a bound, not an LRU: texts rarely change
        _BACKUP_TIMES[v] = parsed
    return parsed


def _plain_num(v: object) -> Any:
    """A number field as the tolerant path would take it as it is (NaN and Inf: unknown),
    or _MISSING: "let the tolerant path see it"."""
    if type(v) is float:
        return v if v - v == 0.0 else None
    if type(v) is int and -_EXACT < v < _EXACT:
        return float(v)
    return None if v is None else _MISSING


def _vm_tolerant(raw: object, p: str) -> VmSample:
    # Each field is taken as it comes when it is already the well-formed JSON type, and
    # only otherwise goes through the tolerant converter, which then builds the field's
    # path for its error.
    o = raw if type(raw) is dict else _obj(raw, p)
    get = o.get
    v = get("state", _MISSING)
    if type(v) is str and v in enums.VM_STATES:
        state = v
    else:
        named = _enum(_req(o, "state", p), f"{p}.state", enums.VM_STATE_BY_INT, enums.VM_STATES, unknown=None)
        if named is None:
            raise SnapshotFormatError(f"{p}.state", "must not be null")
        state = named
    ops = []
    for i, s in enumerate(_list(get("operational_status"), f"{p}.operational_status")):
        name = s if type(s) is str and s in _OPERATIONAL_STATUSES else \
            _enum(s, f"{p}.operational_status[{i}]", enums.OPERATIONAL_STATUS_BY_INT, _OPERATIONAL_STATUSES,
                  unknown=None)
        if name is not None:
            ops.append(name)
    vm_id = get("id")
    name = get("name")
    return VmSample(
        id=vm_id.lower() if type(vm_id) is str else _req_str(o, "id", p).lower(),
        name=name if type(name) is str else _req_str(o, "name", p),
        state=state,
        health=_enum_at(get("health"), p, "health", enums.HEALTH_BY_INT, enums.HEALTHS, "Unknown"),
        heartbeat=_enum_at(get("heartbeat"), p, "heartbeat", enums.HEARTBEAT_BY_INT, enums.HEARTBEATS, None),
        operational_status=tuple(ops),
        cpu_pct=_num_at(get("cpu_pct"), p, "cpu_pct"),
        vcpus=_int_at(get("vcpus"), p, "vcpus"),
        memory_assigned_mb=_num_at(get("memory_assigned_mb"), p, "memory_assigned_mb"),
        memory_demand_mb=_num_at(get("memory_demand_mb"), p, "memory_demand_mb"),
        dynamic_memory=_bool_at(get("dynamic_memory"), p, "dynamic_memory"),
        uptime_s=_uptime_at(get("uptime_s"), p),
        automatic_start_action=_enum_at(get("automatic_start_action"), p, "automatic_start_action",
                                        enums.START_ACTION_BY_INT, _START_ACTIONS, None),
        automatic_stop_action=_enum_at(get("automatic_stop_action"), p, "automatic_stop_action",
                                       enums.STOP_ACTION_BY_INT, _STOP_ACTIONS, None),
        generation=_int_at(get("generation"), p, "generation"),
        is_clustered=_bool_at(get("is_clustered"), p, "is_clustered"),
        last_backup=None if (backup := get("last_backup")) is None else _time(backup, f"{p}.last_backup"),
        confidential=_bool_at(get("confidential"), p, "confidential"),
    )


def _event(raw: object, p: str) -> HostEvent:
    o = _obj(raw, p)
    level = _enum(_req(o, "level", p), f"{p}.level", enums.EVENT_LEVEL_BY_INT, enums.EVENT_LEVELS, unknown=None)
    if level not in enums.EVENT_LEVELS:
        raise SnapshotFormatError(f"{p}.level", f"unknown event level {str(level)[:40]!r}")
    event_id = _int(_req(o, "id", p), f"{p}.id")
    if event_id is None:
        raise SnapshotFormatError(f"{p}.id", "must not be null")
    vm_id = _str(o.get("vm_id"), f"{p}.vm_id")
    return HostEvent(
        time=_req_time(o, "time", p), log=_req_str(o, "log", p), id=event_id, level=level,
        provider=_str(o.get("provider"), f"{p}.provider"),
        vm_id=vm_id.lower() if vm_id else None,
        message=_str(o.get("message"), f"{p}.message"),
        first_insertion_string=_str(o.get("first_insertion_string"), f"{p}.first_insertion_string"),
    )


# -- scalar helpers ---------------------------------------------------------------------

def _path(p: str, key: str) -> str:
    return f"{p}.{key}" if p else key


def _obj(v: object, p: str) -> Mapping[str, Any]:
    if not isinstance(v, Mapping):
        raise SnapshotFormatError(p, f"expected an object, got {_kind(v)}")
    return v


def _list(v: object, p: str) -> list[Any]:
    """A list, tolerating PS 5.1: a lone object, the value/Count wrapper, null or empty."""
    if v is None:
        return []
    if isinstance(v, list):
        return v
    if isinstance(v, Mapping):
        if "value" in v and isinstance(v.get("value"), list) and set(v) <= {"value", "Count", "count"}:
            return v["value"]
        return [v]
    if isinstance(v, str) and not v.strip():
        return []  # ConvertTo-Json of an empty pipeline
    if isinstance(v, str):
        return [v]  # a single scalar where a list of scalars was meant
    raise SnapshotFormatError(p, f"expected a list, got {_kind(v)}")


def _req(o: Mapping[str, Any], key: str, p: str) -> Any:
    if key not in o:
        raise SnapshotFormatError(_path(p, key), "missing")
    return o[key]


def _req_str(o: Mapping[str, Any], key: str, p: str) -> str:
    v = _str(_req(o, key, p), _path(p, key))
    if v is None:
        raise SnapshotFormatError(_path(p, key), "must not be null")
    return v


def _req_time(o: Mapping[str, Any], key: str, p: str) -> datetime:
    v = _time(_req(o, key, p), _path(p, key))
    if v is None:
        raise SnapshotFormatError(_path(p, key), "must not be null")
    return v


def _opt(o: Mapping[str, Any], key: str, p: str, conv: Callable[[Mapping[str, Any], str], T]) -> T | None:
    v = o.get(key)
    if v is None:
        return None
    path = _path(p, key)
    return conv(_obj(v, path), path)


def _str(v: object, p: str) -> str | None:
    if v is None:
        return None
    if isinstance(v, str):
        return v
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        if isinstance(v, int) and not -10**30 < v < 10**30:
            # str() of an int over 4,300 digits raises ValueError; no host sends such text.
            raise SnapshotFormatError(p, "number out of range")
        return str(v)
    raise SnapshotFormatError(p, f"expected text, got {_kind(v)}")


def _num(v: object, p: str) -> float | None:
    if v is None:
        return None
    if isinstance(v, bool):
        raise SnapshotFormatError(p, "expected a number, got a boolean")
    if isinstance(v, str):
        text = v
        try:
            v = float(text.strip())
        except (ValueError, OverflowError):
            raise SnapshotFormatError(p, f"expected a number, got {text[:40]!r}") from None
    if not isinstance(v, (int, float)):
        raise SnapshotFormatError(p, f"expected a number, got {_kind(v)}")
    try:
        f = float(v)
    except OverflowError:
        raise SnapshotFormatError(p, "number out of range") from None
    if math.isnan(f) or math.isinf(f):
        return None  # a counter that could not be read; unknown, not zero
    return f


def _int(v: object, p: str) -> int | None:
    f = _num(v, p)
    if f is None:
        return None
    if abs(f) > 2**63:
        raise SnapshotFormatError(p, "number out of range")
    return round(f)


def _bool(v: object, p: str) -> bool | None:
    if v is None or isinstance(v, bool):
        return v
    if isinstance(v, int) and v in (0, 1):
        return bool(v)
    if isinstance(v, str) and v.strip().lower() in ("true", "false"):
        return v.strip().lower() == "true"
    raise SnapshotFormatError(p, f"expected true or false, got {_kind(v)}")


def _time(v: object, p: str) -> datetime | None:
    if v is None:
        return None
    if isinstance(v, Mapping) and "DateTime" in v:  # PS 5.1 sometimes wraps with value/DateTime
        v = v.get("value") or v.get("DateTime")
    try:
        return parse_time(v)
    except ValueError as exc:
        raise SnapshotFormatError(p, str(exc)) from None


def _uptime(v: object, p: str) -> int | None:
    if isinstance(v, Mapping):  # a TimeSpan serialised whole
        if "TotalSeconds" in v:
            v = v["TotalSeconds"]
        elif "Ticks" in v:
            ticks = _num(v["Ticks"], f"{p}.Ticks")
            v = None if ticks is None else ticks / 10_000_000
        else:
            raise SnapshotFormatError(p, "expected seconds or a TimeSpan object")
    n = _int(v, p)
    if n is not None and n < 0:
        raise SnapshotFormatError(p, "must not be negative")
    return n


# -- fast paths: the well-formed value as it is, anything else through the converter ----

def _num_at(v: object, p: str, key: str) -> float | None:
    if type(v) is float:
        return v if v - v == 0.0 else None  # NaN and Inf: a counter that could not be read
    if type(v) is int and -_EXACT < v < _EXACT:
        return float(v)
    return None if v is None else _num(v, f"{p}.{key}")


def _int_at(v: object, p: str, key: str) -> int | None:
    if type(v) is int and -_EXACT < v < _EXACT:
        return v
    return None if v is None else _int(v, f"{p}.{key}")


def _bool_at(v: object, p: str, key: str) -> bool | None:
    if v is None or type(v) is bool:
        return v
    return _bool(v, f"{p}.{key}")


def _uptime_at(v: object, p: str) -> int | None:
    if type(v) is int and 0 <= v < _EXACT:
        return v
    return _uptime(v, f"{p}.uptime_s")


def _enum_at(v: object, p: str, key: str, by_int: Mapping[int, str], names: frozenset[str],
             unknown: str | None) -> str | None:
    if type(v) is str and v in names:
        return v
    return None if v is None else _enum(v, f"{p}.{key}", by_int, names, unknown=unknown)


def _enum(v: object, p: str, by_int: Mapping[int, str], names: frozenset[str], *, unknown: str | None) -> str | None:
    """A name from ``names``; integers through ``by_int``. Unknown values become
    ``unknown`` (or, when that is None, are kept as given if text) rather than failing a
    whole poll on a value a newer Windows added."""
    if v is None:
        return None
    if isinstance(v, bool):
        raise SnapshotFormatError(p, "expected a name, got a boolean")
    if isinstance(v, (int, float)):
        if isinstance(v, int) and abs(v) > 2**63:
            raise SnapshotFormatError(p, "number out of range")
        if isinstance(v, float) and not math.isfinite(v):
            raise SnapshotFormatError(p, "expected a name, got a non-finite number")
        if int(v) in by_int:
            return by_int[int(v)]
        if unknown is not None:
            return unknown
        return str(int(v))
    if isinstance(v, str):
        s = v.strip()
        if s in names:
            return s
        folded = _folded(names).get(s.lower())
        if folded:
            return folded
        if s.lstrip("-").isdecimal() and s.isascii() and len(s) <= 20:
            return _enum(int(s), p, by_int, names, unknown=unknown)
        if not s:
            return None
        return unknown if unknown is not None else s
    raise SnapshotFormatError(p, f"expected a name, got {_kind(v)}")


@functools.lru_cache(maxsize=64)
def _folded(names: frozenset[str]) -> dict[str, str]:
    """Each name by its lower case, made once per table rather than per value."""
    return {n.lower(): n for n in names}


def _kind(v: object) -> str:
    if v is None:
        return "null"
    return {dict: "an object", list: "a list", str: "text", bool: "a boolean",
            int: "a number", float: "a number"}.get(type(v), type(v).__name__)
