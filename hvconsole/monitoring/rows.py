"""View state: immutable rows the Qt models show, built off the GUI thread.

A poll worker turns one snapshot (plus the detector's verdict and a few recent CPU values)
into :class:`TileRow` and :class:`HostRow` objects; the GUI thread only swaps them into its
models. Everything a model's ``data()`` or a delegate's ``paint()`` needs is precomputed
here (sort key, filter fields, worst finding, display texts, sparkline geometry), and an
unchanged VM keeps its row object, so the GUI thread's per-VM work is an identity test.
Qt-free, so it is tested without a screen.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import KW_ONLY, InitVar, dataclass, field
from datetime import datetime
from typing import Any, NamedTuple, cast

from hvconsole.core.snapshot import Snapshot, VmSample, positional_maker

from .formatting import format_duration, format_mem_pair
from .host_compliance import UNKNOWN_NOT_POLLED, HostCompliance
from .spark_geometry import spark_batch, spark_runs
from .vmstate import GROUP_RUNNING, SEVERITY_RANK, heartbeat_is_bad, heartbeat_text, state_group

# CPU points per tile sparkline: 3 minutes at the default 5 s interval.
SPARK_POINTS = 36

# Problems first: critical findings, then warnings, then VMs we cannot see right now
# (host unreachable), then everything else. Lower sorts first.
RANK_CRITICAL = 0
RANK_WARNING = 1
RANK_STALE = 2
RANK_NORMAL = 3


@dataclass(frozen=True, slots=True)
class TileFinding:
    """What a tile shows of one active finding on its VM."""

    kind: str
    severity: str
    first_seen: datetime | None
    evidence: tuple[str, ...]


class TileTexts(NamedTuple):
    """The strings a tile shows, formatted once on the worker thread. A named tuple, not
    a frozen dataclass: one is made for every running VM at every poll, and a tuple is
    made in a fifth of the time (immutable and compared by value either way)."""

    status: str
    cpu: str
    memory: str
    heartbeat: str
    heartbeat_bad: bool
    uptime: str
    vcpus: str


# "CPU 41 %" for every whole percent: the figure changes at nearly every poll of a running
# VM, and a lookup costs a fifth of formatting it (round() and "{:.0f}" round alike).
_CPU_TEXTS = tuple(f"CPU {i} %" for i in range(101))


def _cpu_text(cpu_pct: float) -> str:
    if 0 <= cpu_pct <= 100:
        return _CPU_TEXTS[round(cpu_pct)]
    return f"CPU {cpu_pct:.0f} %"


def _same_uptime_text(a: int | None, b: int | None) -> bool:
    """Whether ``format_duration`` shows ``a`` and ``b`` alike, for the usual case (both
    over a day: the text counts whole hours); False means "format it again"."""
    return a is not None and b is not None and a >= 86400 and b >= 86400 and a // 3600 == b // 3600


def tile_texts(vm: VmSample, group: str, stale_reason: str | None,
               patching: str | None = None, previous: TileRow | None = None) -> TileTexts:
    """``previous``: this VM's row of the poll before; a text whose inputs did not change
    is taken from it instead of being formatted again (every VM's row is rebuilt on
    every poll, since its CPU and uptime move)."""
    running = group == GROUP_RUNNING
    live = running and stale_reason is None
    status = vm.state if stale_reason is None else stale_reason
    if patching is not None:
        # The host is in a patch run's maintenance window: say so where the state is
        # shown (a saved VM or an unreachable host is expected now, not a problem).
        status = f"{patching} · {status}"
    old = None if previous is None else previous.texts
    if previous is not None and old is not None:
        was = previous.vm
        memory = old.memory if (was.memory_assigned_mb == vm.memory_assigned_mb
                                and was.memory_demand_mb == vm.memory_demand_mb) else None
        heartbeat = old.heartbeat if (was.heartbeat == vm.heartbeat and was.state == vm.state) else None
        # A running VM's uptime grows at every poll; its text changes once an hour.
        uptime = old.uptime if (was.state == vm.state and _same_uptime_text(was.uptime_s, vm.uptime_s)) else None
        vcpus = old.vcpus if was.vcpus == vm.vcpus else None
    else:
        memory = heartbeat = uptime = vcpus = None
    cpu_pct = vm.cpu_pct
    return TileTexts(
        status,
        _cpu_text(cpu_pct) if cpu_pct is not None and live else "CPU —",
        memory or "Mem " + format_mem_pair(vm.memory_assigned_mb, vm.memory_demand_mb),
        heartbeat or "♥ " + heartbeat_text(vm.heartbeat, vm.state),
        heartbeat_is_bad(vm.heartbeat) and stale_reason is None,
        uptime or "Up " + (format_duration(vm.uptime_s) if vm.uptime_s or running else "—"),
        vcpus if vcpus is not None else (f"{vm.vcpus} vCPU" if vm.vcpus else ""),
    )


@dataclass(frozen=True, slots=True)
class TileRow:
    """One VM tile. Equality is value equality; :func:`build_tile_rows` uses it (on the
    worker thread) to hand back the previous object for an unchanged VM, which is how the
    tile model knows, by identity, not to repaint it."""

    host: str
    vm: VmSample
    cpu_history: tuple[float, ...]          # oldest first, NaN = unknown
    findings: tuple[TileFinding, ...] = ()  # active, worst first
    stale_reason: str | None = None         # set when the host did not answer this poll
    patching: str | None = None             # "patching: install" while the host is in a patch run
    # Derived in __post_init__ so that the GUI thread never recomputes them.
    vm_id: str = field(default="", init=False)
    rank: int = field(default=RANK_NORMAL, init=False)
    sort_key: tuple = field(default=(), init=False)
    name_folded: str = field(default="", init=False)
    group: str = field(default="", init=False)
    texts: TileTexts = field(init=False, repr=False)       # set by __post_init__ (and _make_tile)
    spark: tuple = field(default=(), init=False, repr=False)   # see spark_geometry
    # What the tile's slow-changing part shows (name, state, host, status, vCPUs, stale or
    # not, the worst finding's severity; see tile_look): the poll before's own tuple while
    # equal, so that the GUI thread tells a tile whose only change is its live figures by
    # an identity test (it then repaints only those).
    look: tuple = field(default=(), init=False, repr=False)
    # Not stored, not compared: what build_tile_rows already knows. ``spark_given``: the
    # sparkline geometry of ``cpu_history``, worked out for a whole host at once;
    # ``previous``: this VM's row of the poll before, whose texts are reused where their
    # inputs did not change. The row is the same with or without them.
    _: KW_ONLY
    spark_given: InitVar[tuple | None] = None
    previous: InitVar[TileRow | None] = None

    def __post_init__(self, spark_given: tuple | None, previous: TileRow | None) -> None:
        rank, sort_key, folded, group, texts = _derived(
            self.host.casefold(), self.vm, self.findings, self.stale_reason, self.patching, previous)
        object.__setattr__(self, "vm_id", self.vm.id)
        object.__setattr__(self, "rank", rank)
        object.__setattr__(self, "name_folded", folded)
        object.__setattr__(self, "group", group)
        object.__setattr__(self, "sort_key", sort_key)
        object.__setattr__(self, "texts", texts)
        object.__setattr__(self, "spark", spark_runs(self.cpu_history, SPARK_POINTS)
                           if spark_given is None else spark_given)
        object.__setattr__(self, "look", tile_look(self.host, self.vm, self.findings, self.stale_reason, texts,
                                                   previous))

    @property
    def key(self) -> tuple[str, str]:
        return (self.host, self.vm_id)

    @property
    def severity(self) -> str | None:
        """The worst active finding's severity, or None."""
        return self.findings[0].severity if self.findings else None

    @property
    def is_problem(self) -> bool:
        return self.rank < RANK_NORMAL


def _derived(host_folded: str, vm: VmSample, findings: tuple[TileFinding, ...], stale_reason: str | None,
             patching: str | None, previous: TileRow | None) -> tuple[int, tuple, str, str, TileTexts]:
    """A tile row's derived fields (rank, sort key, folded name, group, texts) from its
    inputs; ``previous`` (this VM's row of the poll before) lends what did not change."""
    if findings:
        rank = min(SEVERITY_RANK.get(f.severity, RANK_WARNING) for f in findings)
    elif stale_reason is not None and patching is None:
        # A host in a patch run is expected to go quiet: not a problem to sort first.
        rank = RANK_STALE
    else:
        rank = RANK_NORMAL
    # The name's folded form from the previous row when the name is the same.
    folded = (previous.name_folded if previous is not None and previous.vm.name == vm.name
              else vm.name.casefold())
    group = state_group(vm.state)
    sort_key = (rank, folded, host_folded, vm.id)
    if previous is not None and previous.sort_key == sort_key:
        # Same place in the order: share the key object, so that the GUI thread sees
        # "order unchanged" with an identity test.
        sort_key = previous.sort_key
    return rank, sort_key, folded, group, tile_texts(vm, group, stale_reason, patching, previous)


def _live_texts(old: TileRow, vm: VmSample, stale_reason: str | None) -> TileTexts:
    """``tile_texts(vm, old.group, stale_reason, note, old)`` for a VM whose name, state,
    heartbeat and vCPUs are those of ``old.vm``, on the same host, stale reason and note:
    the status, heartbeat and vCPU texts are the previous row's, the CPU, memory and
    uptime texts formatted or reused on its terms."""
    texts = old.texts
    was = old.vm
    running = old.group == GROUP_RUNNING
    cpu_pct = vm.cpu_pct
    assigned, demand, uptime = vm.memory_assigned_mb, vm.memory_demand_mb, vm.uptime_s
    return TileTexts(
        texts.status,
        _cpu_text(cpu_pct) if cpu_pct is not None and running and stale_reason is None else "CPU —",
        texts.memory if (was.memory_assigned_mb == assigned and was.memory_demand_mb == demand)
        else "Mem " + format_mem_pair(assigned, demand),
        texts.heartbeat,
        texts.heartbeat_bad,
        texts.uptime if _same_uptime_text(was.uptime_s, uptime)
        else "Up " + (format_duration(uptime) if uptime or running else "—"),
        texts.vcpus,
    )


def tile_look(host: str, vm: VmSample, findings: tuple[TileFinding, ...], stale_reason: str | None,
              texts: TileTexts, previous: TileRow | None) -> tuple:
    """A tile row's ``look``: what its slow-changing part shows, the previous row's tuple
    when equal (see TileRow.look)."""
    look = (vm.name, vm.state, host, texts.status, texts.vcpus, stale_reason is not None,
            findings[0].severity if findings else None)
    if previous is not None and previous.look == look:
        return previous.look
    return look


# TileRow's fields in order (init=False ones included), set without its __init__: see
# build_tile_rows.
_make_tile = positional_maker(TileRow)


@dataclass(frozen=True, slots=True)
class HostRow:
    """One line of the host list."""

    name: str
    address: str
    reachable: bool | None                 # None: not polled yet
    error_kind: str | None = None
    error_message: str | None = None
    os_product: str | None = None
    os_build: int | None = None
    os_ubr: int | None = None
    pending_reboot: bool | None = None
    poll_ms: float | None = None           # wall time of the last poll, as the console saw it
    polled_at: datetime | None = None
    unreachable_since: datetime | None = None
    vm_total: int = 0
    vm_running: int = 0
    critical: int = 0
    warning: int = 0
    vm_query_ok: bool | None = None
    vm_query_error: str | None = None
    cpu_pct: float | None = None
    memory_used_pct: float | None = None
    cluster: str | None = None
    host_findings: tuple[TileFinding, ...] = ()   # findings about the host itself
    compliance: HostCompliance = UNKNOWN_NOT_POLLED
    patching: str | None = None            # "patching: install" (a patch run's maintenance window)
    cert_check_off: bool = False           # HTTPS without certificate validation (issue 10 #10)
    # What polling costs the host (collect.ps1 measures itself, issue 17 #3): "monitoring
    # costs 0.4 s of CPU per poll, 8 % of one core at 5 s", and a longer interval to use
    # when that is a lot (else ""). None: the host has not reported a cost.
    monitoring_cost: str | None = None
    cost_suggestion: str = ""
    # The interval the suggestion names, in whole seconds within the inventory's range,
    # when it is longer than the host's interval now (the "Raise to 9 s" action); else None.
    suggested_interval_s: int | None = None


def tile_findings(findings: Iterable[Any]) -> dict[str | None, tuple[TileFinding, ...]]:
    """Group active detector findings by VM id (None = the host itself), worst first."""
    grouped: dict[str | None, list[TileFinding]] = {}
    for f in findings:
        if not getattr(f, "active", True):
            continue
        grouped.setdefault(f.vm_id, []).append(TileFinding(
            kind=str(f.kind), severity=str(f.severity), first_seen=f.first_seen,
            evidence=tuple(str(e) for e in f.evidence)))
    return {vm_id: tuple(sorted(items, key=_finding_order))
            for vm_id, items in grouped.items()}


def _finding_order(f: TileFinding) -> tuple:
    # Worst first; among equals the oldest (the one that has been true longest) first.
    first = f.first_seen.timestamp() if f.first_seen is not None else 0.0
    return (SEVERITY_RANK.get(f.severity, 9), first, f.kind)


def build_tile_rows(host: str, vms: Sequence[VmSample], cpu_histories: dict[str, tuple[float, ...]],
                    findings_by_vm: dict[str | None, tuple[TileFinding, ...]],
                    stale_reason: str | None,
                    previous: dict[str, TileRow] | None = None,
                    patching: str | None = None,
                    vm_notes: dict[str, str] | None = None) -> tuple[TileRow, ...]:
    """Tiles for one host's VMs. ``vms`` is the newest answered poll's list (or the last
    one we had, with ``stale_reason``, while the host does not answer). A row equal to
    the one in ``previous`` is returned as that same object, so that the GUI thread can
    tell "unchanged" by identity instead of comparing every field. ``vm_notes``: VMs under
    their own maintenance window (a recovery step), shown like a patched host's note."""
    # First what each VM's row is made of, and whether the previous row already is it:
    # a row's derived fields follow from these inputs alone, so equal inputs mean an
    # equal row, and the previous object is reused without building a new one.
    # ``live``: the previous row differs only in the live figures (see below).
    todo: list[tuple[int, VmSample, tuple[float, ...], tuple[TileFinding, ...], str | None,
                     TileRow | None, bool]] = []
    rows: list[TileRow | None] = []
    seen: set[str] = set()
    for vm in vms:
        vm_id = vm.id
        if vm_id in seen:
            continue  # a VM listed twice in one poll: show it once
        seen.add(vm_id)
        history = cpu_histories.get(vm_id, ())
        findings = findings_by_vm.get(vm_id, ())
        note = vm_notes.get(vm_id, patching) if vm_notes else patching
        old = None if previous is None else previous.get(vm_id)
        live = False
        if old is not None and old.host == host and old.stale_reason == stale_reason and old.patching == note:
            if old.cpu_history == history and old.findings == findings and old.vm == vm:
                rows.append(old)
                continue
            was = old.vm
            live = (was.name == vm.name and was.state == vm.state and was.heartbeat == vm.heartbeat
                    and was.vcpus == vm.vcpus and was.id == vm_id and old.findings == findings)
        todo.append((len(rows), vm, history, findings, note, old, live))
        rows.append(None)  # its place, filled below
    sparks = spark_batch([item[2] for item in todo], SPARK_POINTS)
    host_folded = host.casefold()
    for (i, vm, history, findings, note, old, live), spark in zip(todo, sparks, strict=True):
        if spark is None:   # a series the batch leaves alone (a gap, too short)
            spark = spark_runs(history, SPARK_POINTS)
        if live and old is not None:
            # Only the live figures moved (a running VM's CPU, memory, uptime: nearly
            # every row at every poll): rank, sort key, folded name, group, look and
            # every other text follow from inputs equal to the previous row's, so they
            # are its own objects, as _derived and tile_look would hand them back.
            rows[i] = _make_tile(host, vm, history, findings, stale_reason, note, vm.id, old.rank,
                                 old.sort_key, old.name_folded, old.group, _live_texts(old, vm, stale_reason),
                                 spark, old.look)
            continue
        # What TileRow(host=…, vm=…, …, spark_given=spark, previous=old) makes, with the
        # fields set straight into its slots (a row is made for every running VM at every
        # poll; its dataclass __init__ and __post_init__ set each field twice as slowly).
        rank, sort_key, folded, group, texts = _derived(host_folded, vm, findings, stale_reason, note, old)
        rows[i] = _make_tile(host, vm, history, findings, stale_reason, note, vm.id, rank, sort_key,
                             folded, group, texts, spark, tile_look(host, vm, findings, stale_reason, texts, old))
    return tuple(cast(list[TileRow], rows))  # every place is filled by now


def vm_maintenance_notes(registry: Any, host: str, at: datetime) -> dict[str, str]:
    """``{vm_id: reason}`` for the VMs of ``host`` under their own maintenance window at
    ``at`` (a recovery step in progress says "recovery: Turn off"), from a
    ``core.maintenance.MaintenanceRegistry``; usually empty."""
    key = host.casefold()
    return {w.vm_id: w.reason for w in registry.windows()
            if w.vm_id is not None and w.host.casefold() == key and w.covers(at)}


def build_host_row(name: str, address: str, snap: Snapshot | None, last_answer: Snapshot | None,
                   poll_ms: float | None, unreachable_since: datetime | None,
                   findings_by_vm: dict[str | None, tuple[TileFinding, ...]], *,
                   compliance: HostCompliance = UNKNOWN_NOT_POLLED, patching: str | None = None,
                   cert_check_off: bool = False, cost: Any = None) -> HostRow:
    """The host list line after a poll. OS, VM counts and resources come from the newest
    poll that answered, so an unreachable host still says what it was running. ``cost``: the
    host's ``remote.monitoring_cost.MonitoringCost`` from its recent polls (or None)."""
    severities = [f.severity for items in findings_by_vm.values() for f in items]
    base = last_answer
    os = base.os if base is not None else None
    res = base.resources if base is not None else None
    mem_pct = None
    if res is not None and res.memory_total_mb and res.memory_available_mb is not None:
        mem_pct = 100.0 * (res.memory_total_mb - res.memory_available_mb) / res.memory_total_mb
    vms = base.vms if base is not None else ()
    # Running VMs counted by state name: state_group once per distinct state, not per VM.
    states = [vm.state for vm in vms]
    running = sum(states.count(state) for state in set(states) if state_group(state) == GROUP_RUNNING)
    suggestion = "" if cost is None else cost.suggestion()
    return HostRow(
        name=name, address=address,
        reachable=None if snap is None else snap.reachable,
        error_kind=None if snap is None or snap.error is None else snap.error.kind,
        error_message=None if snap is None or snap.error is None else snap.error.message,
        os_product=None if os is None else os.product,
        os_build=None if os is None else os.build,
        os_ubr=None if os is None else os.ubr,
        pending_reboot=None if os is None else os.pending_reboot,
        poll_ms=poll_ms,
        polled_at=None if snap is None else snap.polled_at,
        unreachable_since=unreachable_since,
        vm_total=len(vms),
        vm_running=running,
        critical=severities.count("critical"),
        warning=severities.count("warning"),
        vm_query_ok=None if snap is None or snap.vm_query is None else snap.vm_query.ok,
        vm_query_error=None if snap is None or snap.vm_query is None else snap.vm_query.error,
        cpu_pct=None if res is None else res.cpu_total_run_pct,
        memory_used_pct=mem_pct,
        cluster=None if base is None or base.cluster is None else base.cluster.name,
        host_findings=findings_by_vm.get(None, ()),
        compliance=compliance, patching=patching, cert_check_off=cert_check_off,
        monitoring_cost=None if cost is None else cost.text(),
        cost_suggestion=suggestion,
        suggested_interval_s=suggested_interval(cost, suggestion),
    )


def suggested_interval(cost: Any, suggestion: str | None = None) -> int | None:
    """The longer interval the cost line offers (see HostRow.suggested_interval_s).
    ``suggestion``: ``cost.suggestion()`` when the caller has it already."""
    if cost is None or not (cost.suggestion() if suggestion is None else suggestion):
        return None
    from hvconsole.core.inventory.fields import MAX_POLL_INTERVAL_S, MIN_POLL_INTERVAL_S
    from hvconsole.remote.monitoring_cost import HIGH_SHARE, interval_for_share
    seconds = int(min(MAX_POLL_INTERVAL_S, max(MIN_POLL_INTERVAL_S,
                                              interval_for_share(cost.cpu_s_per_poll, HIGH_SHARE))))
    return seconds if seconds > cost.interval_s else None
