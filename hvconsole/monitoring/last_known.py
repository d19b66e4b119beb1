"""The last known state of a site's hosts and VMs, kept from one run of the window to the next.

At start the window shows these tiles at once, dimmed and stamped "last known 14:02:11",
while it connects; each host's tiles turn live with its first answered poll (and a VM that
is gone by then disappears). They are only shown: they are built here, not by a poll
worker, so no finding is ever worked out from them and neither the freeze detector nor the
history sees them.

Why a file of its own (``last-known.json`` beside the site's history file): the history
keeps names and numeric series, not a VM's state, heartbeat or vCPUs nor a host's OS, and
decoding the newest chunk of every series at start would cost more than reading one small
document. It is written atomically by :class:`LastKnownRecorder`'s own thread, at most
every :data:`WRITE_EVERY_S` while polls come in and once more at close; a file that cannot
be read is ignored (the window then starts as if there were none). Qt-free.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hvconsole.core.atomic_file import atomic_write_text
from hvconsole.core.snapshot import Snapshot, VmSample

from .formatting import format_clock
from .rows import HostRow, TileRow
from .vmstate import state_group

log = logging.getLogger(__name__)

FILE_NAME = "last-known.json"
VERSION = 1
# At most one write this often while polls come in (and one at close): the file is a
# convenience for the next start, not a record, so losing the last seconds costs nothing.
WRITE_EVERY_S = 30.0
# A file larger than this is not ours to parse at start (2,000 VMs take ~0.5 MB).
MAX_BYTES = 16 * 2**20
LAST_KNOWN_WORDS = "last known"

# The VM fields a tile shows; the rest of a VmSample is left at its default.
_VM_FIELDS = ("id", "name", "state", "heartbeat", "cpu_pct", "vcpus", "memory_assigned_mb",
              "memory_demand_mb", "uptime_s")


@dataclass(frozen=True, slots=True)
class KnownHost:
    """One host as its newest answered poll left it."""

    name: str
    address: str
    polled_at: datetime
    os_product: str | None = None
    os_build: int | None = None
    os_ubr: int | None = None
    cluster: str | None = None
    vms: tuple[VmSample, ...] = ()


@dataclass(frozen=True, slots=True)
class LastKnown:
    """What a site's file holds: its label and its hosts, in the site's order."""

    label: str
    hosts: tuple[KnownHost, ...]

    def host(self, name: str) -> KnownHost | None:
        return next((h for h in self.hosts if h.name == name), None)


def last_known_file(folder: Path) -> Path:
    """The file in a data folder (the demo's own under ``demo/``, like its history)."""
    return Path(folder) / FILE_NAME


def stamp(host: KnownHost) -> str:
    """``last known 14:02:11`` (the date too when it is not today), in the hosts' clock."""
    return f"{LAST_KNOWN_WORDS} {format_clock(host.polled_at)}"


# -- rows -----------------------------------------------------------------------------------

def last_known_tiles(host: KnownHost) -> tuple[TileRow, ...]:
    """Tiles for ``host``'s VMs as last known: dimmed (the stale look), the state kept in
    the stamp ("last known 14:02:11 · Running"), no CPU figure, no sparkline, no finding."""
    when = stamp(host)
    seen: set[str] = set()
    rows = []
    for vm in host.vms:
        if vm.id in seen:
            continue
        seen.add(vm.id)
        rows.append(TileRow(host=host.name, vm=vm, cpu_history=(), stale_reason=f"{when} · {vm.state}"))
    return tuple(rows)


def last_known_host_row(host: KnownHost) -> HostRow:
    """The host list line while connecting: "Connecting…" (reachable unknown), with the OS
    and VM counts it had; no poll time (nothing was polled yet in this run)."""
    return HostRow(name=host.name, address=host.address, reachable=None,
                   os_product=host.os_product, os_build=host.os_build, os_ubr=host.os_ubr,
                   vm_total=len(host.vms),
                   vm_running=sum(1 for vm in host.vms if state_group(vm.state) == "Running"),
                   cluster=host.cluster)


# -- reading and writing --------------------------------------------------------------------

def read_last_known(path: Path) -> LastKnown | None:
    """The file's state, or None when there is none or it cannot be used (never raises:
    a bad file only costs the quick start). Bad hosts and VMs are left out one by one."""
    try:
        if path.stat().st_size > MAX_BYTES:
            log.warning("%s is too large to be a last-known file; ignored", path)
            return None
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        log.warning("the last known state cannot be read (%s); starting without it", exc)
        return None
    if not isinstance(doc, dict) or doc.get("version") != VERSION or not isinstance(doc.get("hosts"), list):
        return None
    hosts = []
    names: set[str] = set()
    for item in doc["hosts"]:
        host = _decode_host(item)
        if host is not None and host.name not in names:
            names.add(host.name)
            hosts.append(host)
    label = doc.get("label")
    return LastKnown(label=label if isinstance(label, str) else "", hosts=tuple(hosts))


def write_last_known(path: Path, state: LastKnown) -> None:
    doc = {"version": VERSION, "written_at": datetime.now(UTC).isoformat(),
           "label": state.label, "hosts": [_encode_host(h) for h in state.hosts]}
    atomic_write_text(path, json.dumps(doc, separators=(",", ":"), ensure_ascii=False))


def known_host(snap: Snapshot, address: str) -> KnownHost:
    os_info = snap.os
    return KnownHost(name=snap.host, address=address, polled_at=snap.polled_at,
                     os_product=None if os_info is None else os_info.product,
                     os_build=None if os_info is None else os_info.build,
                     os_ubr=None if os_info is None else os_info.ubr,
                     cluster=None if snap.cluster is None else snap.cluster.name,
                     vms=snap.vms)


def _encode_host(host: KnownHost) -> dict[str, Any]:
    return {"name": host.name, "address": host.address, "polled_at": host.polled_at.isoformat(),
            "os_product": host.os_product, "os_build": host.os_build, "os_ubr": host.os_ubr,
            "cluster": host.cluster,
            "vms": [{f: getattr(vm, f) for f in _VM_FIELDS} for vm in host.vms]}


def _decode_host(item: Any) -> KnownHost | None:
    if not isinstance(item, dict):
        return None
    name, address = item.get("name"), item.get("address")
    if not isinstance(name, str) or not name or not isinstance(address, str):
        return None
    try:
        polled_at = datetime.fromisoformat(item["polled_at"])
    except (KeyError, TypeError, ValueError):
        return None
    if polled_at.tzinfo is None:
        return None
    vms = item.get("vms")
    return KnownHost(name=name, address=address, polled_at=polled_at,
                     os_product=_opt(item.get("os_product"), str),
                     os_build=_opt(item.get("os_build"), int), os_ubr=_opt(item.get("os_ubr"), int),
                     cluster=_opt(item.get("cluster"), str),
                     vms=tuple(vm for vm in map(_decode_vm, vms if isinstance(vms, list) else ())
                               if vm is not None))


def _decode_vm(item: Any) -> VmSample | None:
    if not isinstance(item, dict):
        return None
    vm_id, name, state = item.get("id"), item.get("name"), item.get("state")
    if not (isinstance(vm_id, str) and vm_id and isinstance(name, str) and isinstance(state, str)):
        return None
    return VmSample(id=vm_id, name=name, state=state,
                    heartbeat=_opt(item.get("heartbeat"), str),
                    cpu_pct=_number(item.get("cpu_pct")), vcpus=_opt(item.get("vcpus"), int),
                    memory_assigned_mb=_number(item.get("memory_assigned_mb")),
                    memory_demand_mb=_number(item.get("memory_demand_mb")),
                    uptime_s=_opt(item.get("uptime_s"), int))


def _opt(value: Any, kind: type) -> Any:
    if isinstance(value, bool) and kind is not bool:
        return None
    return value if isinstance(value, kind) else None


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


# -- recording while the window polls -------------------------------------------------------

class LastKnownRecorder:
    """Keeps each host's newest answered snapshot (``observe``, called on the hosts' poll
    threads) and writes the file from a thread of its own, at most every ``every_s``
    while something changed, and once more at :meth:`close`. Hosts that did not answer in
    this run keep the state ``seed`` (the file read at start; without one, the thread reads
    the file itself first) had for them; hosts no longer in ``hosts`` are dropped."""

    def __init__(self, path: Path, label: str, hosts: Iterable[tuple[str, str]], *,
                 seed: LastKnown | None = None, every_s: float = WRITE_EVERY_S):
        self.path = path
        self._label = label
        self._addresses: Mapping[str, str] = dict(hosts)
        self._every_s = every_s
        self._lock = threading.Lock()
        self._known: dict[str, KnownHost | Snapshot] = {}
        self._seed = seed
        self._dirty = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="last-known-writer", daemon=True)
        self._thread.start()

    def observe(self, snap: Snapshot) -> None:
        """A poll's snapshot (any thread): kept only when it carries the host's VM list."""
        if not snap.reachable or (snap.vm_query is not None and not snap.vm_query.ok):
            return
        if snap.host not in self._addresses:
            return
        with self._lock:
            self._known[snap.host] = snap     # turned into a KnownHost only when written
            self._dirty = True

    def close(self, wait_s: float = 1.0) -> bool:
        """Write what changed since the last write and stop (bounded). True when done."""
        self._stop.set()
        self._thread.join(wait_s)
        return not self._thread.is_alive()

    def write_now(self) -> bool:
        """Write the file if something changed (on the calling thread). True if written."""
        with self._lock:
            if not self._dirty:
                return False
            self._dirty = False
            known = dict(self._known)
        hosts = []
        for name, address in self._addresses.items():
            item = known.get(name)
            if isinstance(item, Snapshot):
                item = known_host(item, address)
            if item is not None:
                hosts.append(item)
        try:
            write_last_known(self.path, LastKnown(label=self._label, hosts=tuple(hosts)))
        except OSError as exc:
            log.warning("the last known state could not be written: %s", exc)
            return False
        return True

    def _take_seed(self) -> None:
        seed = self._seed if self._seed is not None else read_last_known(self.path)
        self._seed = None
        if seed is None:
            return
        with self._lock:
            for host in seed.hosts:     # what this run's polls already brought wins
                if self._addresses.get(host.name) == host.address and host.name not in self._known:
                    self._known[host.name] = host

    def _run(self) -> None:
        self._take_seed()
        while not self._stop.wait(self._every_s):
            self.write_now()
        self.write_now()
