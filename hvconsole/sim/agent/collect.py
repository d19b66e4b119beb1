"""The simulated answer of ``collect.ps1``: one host as the collection script reports it.

Output is the host part of snapshot-v1 plus ``events_bookmark`` (docs/architecture.md):
names rather than enum integers, ISO UTC times, printed the way Windows PowerShell 5.1
``ConvertTo-Json -Compress`` prints (``< > ' &`` escaped as ``\\u003c`` ...), one document
and a CRLF. Times come from the host's own, slightly wrong, clock. On the wire the document
travels as the script writes it: ``HVCZ1:`` and base64 of gzip of its UTF-8 text
(:func:`wire_answer`), so the demo and the tests go through the client's decoder.
"""

from __future__ import annotations

import base64
import gzip
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from hvconsole.core.poll_budget import VM_QUERY_MAX_MS, VM_QUERY_MIN_MS, vm_query_budget_ms
from hvconsole.core.timeutil import format_time, parse_time

from ..model.events import SimEvent
from ..model.host import SimHost
from ..model.load import jitter
from .host_agent import ScriptAnswer, ScriptFailure, register_script_handler

# Defaults and bounds exactly as collect.ps1's Get-IntParam applies them (it clamps).
MAX_EVENTS = (100, 0, 1000)
# collect.ps1's default and clamp for vm_query_timeout_ms (core/poll_budget.py).
VM_QUERY_TIMEOUT_MS = (vm_query_budget_ms(), VM_QUERY_MIN_MS, VM_QUERY_MAX_MS)
NO_BOOKMARK_LOOKBACK_S = 3600.0     # collect.ps1 reads the last 60 minutes on a first poll
MESSAGE_MAX = 600
HYPERV_CHANNELS = frozenset(f"Microsoft-Windows-Hyper-V-{c}-Admin" for c in (
    "VMMS", "Worker", "Compute", "Hypervisor", "StorageVSP", "High-Availability"))
# collect.ps1's $systemSources: which provider may report which System event id.
SYSTEM_SOURCES = {
    "Microsoft-Windows-Kernel-Power": {41}, "EventLog": {6008},
    "Microsoft-Windows-WER-SystemErrorReporting": {1001}, "BugCheck": {1001},
    "Service Control Manager": {7031, 7034},
    "Microsoft-Windows-FailoverClustering": {1069, 1135, 1146, 1177, 1205, 1230, 1672},
}
_PS_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "'": "\\u0027", "&": "\\u0026"}


@dataclass(frozen=True, slots=True)
class CollectParams:
    events_since: datetime | None
    max_events: int
    vm_query_timeout_ms: int

    @classmethod
    def from_json(cls, params: Mapping[str, Any]) -> CollectParams:
        since = params.get("events_since")
        since_dt: datetime | None = None
        if since:
            try:
                since_dt = parse_time(str(since))
            except ValueError as exc:
                raise ScriptFailure(f"String was not recognized as a valid DateTime. ({exc})", "params") from None
        return cls(since_dt, _int_param(params, "max_events", *MAX_EVENTS),
                   _int_param(params, "vm_query_timeout_ms", *VM_QUERY_TIMEOUT_MS))


def _int_param(params: Mapping[str, Any], key: str, default: int, low: int, high: int) -> int:
    """[int] conversion then clamping, as the script does; what [int] rejects fails it."""
    value = params.get(key)
    if value is None:
        return default
    try:
        number = round(float(value))
    except (TypeError, ValueError, OverflowError):
        raise ScriptFailure(f'Cannot convert value "{str(value)[:40]}" to type "System.Int32".', "params") from None
    return min(high, max(low, number))


def wanted_event(event: SimEvent) -> bool:
    """The channels and System sources collect.ps1 reads; everything else stays unseen."""
    if event.kind.log == "System":
        return event.kind.id in SYSTEM_SOURCES.get(event.kind.provider, ())
    return event.kind.log in HYPERV_CHANNELS


def ps_json(doc: object) -> str:
    """JSON as Windows PowerShell 5.1 writes it (compressed, HTML-ish characters escaped)."""
    text = json.dumps(doc, ensure_ascii=False, separators=(",", ":"))
    # < > ' & occur only inside strings in JSON text, so replacing them keeps it valid.
    for char, escaped in _PS_ESCAPES.items():
        text = text.replace(char, escaped)
    return text


def wire_answer(json_text: str) -> bytes:
    """The answer as collect.ps1 writes it: the compressed form of remote/answer.py.
    Level 6 is zlib's default and near what .NET's GZipStream (CompressionLevel.Optimal)
    produces; ``mtime=0`` keeps the bytes the same for the same document."""
    packed = gzip.compress(json_text.encode("utf-8"), compresslevel=6, mtime=0)
    return b"HVCZ1:" + base64.b64encode(packed)


def collect_document(host: SimHost, params: CollectParams, t: float) -> tuple[dict[str, Any], float]:
    """The collect output at simulated second ``t`` and how long producing it took (s)."""
    site = host.site
    assert site is not None
    skew = host.clock_skew_s

    def host_time(t_: float) -> str:
        return format_time(site.time_of(t_ + skew))

    samples = [vm.sample(t) for vm in host.vms]
    vm_query, query_s = _vm_query(host, params, t, len(samples))
    events = _events(host, params, t)
    seconds = (0.17 + 0.004 * len(samples) + 0.0004 * len(events)) * jitter(host.seed ^ 44, t, 0.85, 1.25, grain_s=0.5)
    # The VM query runs alongside the rest; a wedged VMMS makes it the long pole.
    seconds = max(seconds * host.slow_factor, query_s + 0.03)
    reasons = ["CBS", "PendingFileRename"] if host.pending_reboot else []
    doc = {
        "host_time": host_time(t),
        "collect_ms": int(seconds * 1000),
        "os": {
            "product": host.product, "build": host.build, "ubr": host.ubr,
            "display_version": host.display_version, "last_boot": host_time(host.last_boot_t),
            "pending_reboot": host.pending_reboot, "pending_reboot_reasons": reasons,
            "hotfixes": sorted(host.hotfixes),
        },
        "services": host.services(t),
        "cluster": None if host.cluster is None else {
            "name": host.cluster.name, "node_state": host.cluster.node_state,
            "drain_status": host.cluster.drain_status, "bitlocker_csvs": host.cluster.bitlocker_csvs,
        },
        "resources": host.resources(t, samples),
        "vm_query": vm_query,
        "vms": [_vm_out(s, host_time) for s in samples] if vm_query["ok"] else [],
        "events": [{"time": host_time(e.t), "log": e.kind.log, "provider": e.kind.provider,
                    "id": e.kind.id, "level": e.kind.level,
                    "vm_id": None if e.kind.log == "System" else e.vm_id,   # only Hyper-V XML has VmId
                    "message": _clip(e.message),
                    "first_insertion_string": e.first_insertion_string} for e in events],
        "events_bookmark": host_time(events[-1].t) if events else (
            None if params.events_since is None else format_time(params.events_since)),
        "warnings": [],
        "collect_cost": _collect_cost(host, t, seconds, query_s, len(samples), len(events)),
    }
    return doc, seconds


# Stages of collect.ps1 ($stageEnds) and their share of the time not spent waiting for
# the VM query. Plausible figures, not measurements: a real host's answer replaces them.
_STAGE_SHARES = (("params", 0.02), ("vm_query_start", 0.10), ("services", 0.08), ("os", 0.14),
                 ("resources", 0.40), ("events", 0.24))


def _collect_cost(host: SimHost, t: float, seconds: float, query_s: float, vms: int, events: int) -> dict[str, Any]:
    """What collect.ps1 reports about its own cost (``collect_cost``). An estimate, not a
    measurement: Windows PowerShell 5.1 spends a few hundred milliseconds of CPU starting
    (.NET, the console host, module auto-loading) before the script runs; each VM adds
    Get-VM and CIM work, each event its formatting. The first real host replaces this."""
    total_ms = seconds * 1000.0
    query_ms = query_s * 1000.0
    cluster_ms = 0 if host.cluster is None else int(40 * jitter(host.seed ^ 48, t, 0.8, 1.3, grain_s=0.5))
    rest_ms = max(0.0, total_ms - cluster_ms - query_ms * 0.5)
    stages = {name: int(rest_ms * share) for name, share in _STAGE_SHARES}
    stages["vm_query"] = max(0, int(total_ms) - sum(stages.values()) - cluster_ms)
    stages["cluster"] = cluster_ms
    cpu_ms = (310.0 + 7.5 * vms + 0.6 * events) * jitter(host.seed ^ 46, t, 0.9, 1.2, grain_s=0.5)
    working_set_mb = (92.0 + 0.35 * vms) * jitter(host.seed ^ 47, t, 0.97, 1.06, grain_s=0.5)
    return {"cpu_ms": int(cpu_ms * host.slow_factor ** 0.5), "peak_working_set_mb": round(working_set_mb, 1),
            "probes_ms": stages}


def _vm_query(host: SimHost, params: CollectParams, t: float, count: int) -> tuple[dict[str, Any], float]:
    problem = host.vm_query_problem(t)
    if problem == "wedged":
        elapsed = params.vm_query_timeout_ms + int(jitter(host.seed ^ 42, t, 1, 25, grain_s=0.5))
        return {"ok": False, "elapsed_ms": elapsed,
                "error": f"timeout after {params.vm_query_timeout_ms} ms"}, elapsed / 1000.0
    if problem == "vmms-starting":
        elapsed = int(jitter(host.seed ^ 43, t, 180, 420))
        return {"ok": False, "elapsed_ms": elapsed,
                "error": f"Get-VM: Hyper-V encountered an error trying to access an object on computer "
                         f"'{host.name}' because the object was not found. Verify that the Virtual "
                         "Machine Management service on the computer is running."}, elapsed / 1000.0
    elapsed = int((60 + 3 * count) * jitter(host.seed ^ 41, t, 0.8, 1.5, grain_s=0.5) * host.slow_factor)
    return {"ok": True, "elapsed_ms": elapsed, "error": None}, elapsed / 1000.0


def _events(host: SimHost, params: CollectParams, t: float) -> list[SimEvent]:
    site = host.site
    assert site is not None
    if params.events_since is None:
        after = t - NO_BOOKMARK_LOOKBACK_S
    else:
        # Event times are whole milliseconds; half a millisecond keeps "strictly after the
        # bookmark" exact despite float arithmetic.
        after = site.t_of(params.events_since) - host.clock_skew_s + 0.0005
    if params.max_events <= 0:
        return []
    # A margin for the few events the script does not read (6005, 1074, ...).
    found = [e for e in host.events.newest_after(after, params.max_events * 2 + 20, t) if wanted_event(e)]
    found = found[-params.max_events:]
    found.sort(key=lambda e: (e.t, e.kind.log, e.kind.id))
    return found


def _clip(message: str) -> str:
    return message if len(message) <= MESSAGE_MAX else message[:MESSAGE_MAX] + "..."


def _vm_out(sample: dict[str, Any], host_time: Any) -> dict[str, Any]:
    out = {k: v for k, v in sample.items() if k != "last_backup_t"}
    backup_t = sample.get("last_backup_t")
    out["last_backup"] = None if backup_t is None else host_time(backup_t)
    return out


def handle_collect(host: SimHost, params: Mapping[str, Any], now: datetime) -> ScriptAnswer:
    """The registered handler for ``collect.ps1``."""
    site = host.site
    assert site is not None
    parsed = CollectParams.from_json(params)
    t = site.t_of(now)
    doc, seconds = collect_document(host, parsed, t)
    # [Console]::Out.Write: the compressed document and no newline. A wedged VMMS is the
    # script's timed-out (abandoned) VM query: a loop ends after this answer.
    return ScriptAnswer(stdout=wire_answer(ps_json(doc)), stderr=b"",
                        exit_code=0, duration_s=seconds, abandoned=host.vm_query_problem(t) == "wedged")


register_script_handler("collect", handle_collect)
