"""Turning snapshots into stored history: raw samples, 1-minute and 15-minute aggregates,
annotations, and retention. Used by one thread at a time (:class:`.writer.HistoryWriter`'s).

Per series the ingest keeps, in memory, the current raw chunk (five minutes of samples),
the minute being accumulated and the quarter-hour being accumulated, plus the hour chunk
and the day chunk those land in. A finished minute is written into its hour chunk and
folded into the quarter-hour (min of the minimums, max of the maximums, the mean weighted
by sample count). :meth:`Ingest.apply` writes every dirty chunk of a batch in one
transaction, so a crash loses at most the samples of the batch being written and the
aggregate of the minute in progress (its samples are in the raw chunk).

"Now" is the newest sample time seen, never the wall clock: retention and tiers follow
the hosts' clock, as the in-memory history does.

Sample times are ``polled_at``, the console's wall clock, which may be stepped while it
runs (core.timeutil says the rule). A poll older than its series' newest by a few seconds
(up to ``CLOCK_STEP_BACK_S``) is out of order and dropped, counted. Older by more, the
console's clock went back: the series finishes what it was accumulating and goes on at
the new times, written into the chunks that cover them beside what they already hold
(in time order; a bucket's aggregate merged with the one there), and "now" follows. The
file keeps what the clock said, both times: nothing is dropped until the clock catches up.
"""

from __future__ import annotations

import logging
import math
import sqlite3
import warnings
from array import array
from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np

from ..history import HOST_FIELDS, VM_FIELDS, _host_row
from ..snapshot import Snapshot
from ..timeutil import CLOCK_STEP_BACK_S
from . import codec
from .schema import MINUTE, QUARTER, RAW, TIERS, Tier

log = logging.getLogger(__name__)

NAN = math.nan
RETENTION_EVERY_S = 60.0
HOST_KINDS = tuple(codec.field_kind(f) for f in HOST_FIELDS)
VM_KINDS = tuple(codec.field_kind(f) for f in VM_FIELDS)


def kinds_for(series_kind: str) -> tuple[str, ...]:
    return HOST_KINDS if series_kind == "host" else VM_KINDS


def fields_for(series_kind: str) -> tuple[str, ...]:
    return HOST_FIELDS if series_kind == "host" else VM_FIELDS


@dataclass
class Annotation:
    t: float
    host: str
    vm_id: str | None
    category: str        # finding, state, patch, recovery
    kind: str
    severity: str | None
    text: str


class _Acc:
    """min / max / weighted sum / count of each field over one bucket."""

    __slots__ = ("bucket", "mins", "maxs", "sums", "ns", "count")

    def __init__(self, bucket: int, nf: int):
        self.bucket = bucket
        self.mins = [math.inf] * nf
        self.maxs = [-math.inf] * nf
        self.sums = [0.0] * nf
        self.ns = [0] * nf
        self.count = 0

    def add_sample(self, values: Sequence[float]) -> None:
        """One poll's values (NaN: unknown), the bucket's sample count included: the
        minute accumulators take a sample of every series at every poll, so this is
        :meth:`add` without the weights and the extremes of an aggregate."""
        mins, maxs, sums, ns = self.mins, self.maxs, self.sums, self.ns
        for i, v in enumerate(values):
            if v != v:  # NaN
                continue
            if v < mins[i]:
                mins[i] = v
            if v > maxs[i]:
                maxs[i] = v
            sums[i] += v
            ns[i] += 1
        self.count += 1

    def add(self, values: Sequence[float], weight_n: Sequence[int] | None = None,
            mins: Sequence[float] | None = None, maxs: Sequence[float] | None = None) -> None:
        for i, v in enumerate(values):
            if v != v:  # NaN
                continue
            n = 1 if weight_n is None else weight_n[i]
            if n <= 0:
                continue
            lo = v if mins is None else mins[i]
            hi = v if maxs is None else maxs[i]
            if lo < self.mins[i]:
                self.mins[i] = lo
            if hi > self.maxs[i]:
                self.maxs[i] = hi
            self.sums[i] += v * n
            self.ns[i] += n

    def result(self) -> tuple[list[float], list[float], list[float], list[int]]:
        mins, means, maxs = [], [], []
        for i, n in enumerate(self.ns):
            if n:
                mins.append(self.mins[i])
                maxs.append(self.maxs[i])
                means.append(self.sums[i] / n)
            else:
                mins.append(NAN)
                maxs.append(NAN)
                means.append(NAN)
        return mins, means, maxs, list(self.ns)


class _AggChunk:
    __slots__ = ("start", "counts", "stats", "dirty")

    def __init__(self, start: int, counts: np.ndarray, stats: np.ndarray):
        self.start, self.counts, self.stats, self.dirty = start, counts, stats, False


class _Series:
    """What the ingest holds in memory for one series. The raw chunk in progress is kept
    as the arrays its encoding is made of (offsets, then the values row after row), so
    that writing it again at every flush costs two copies, not a NumPy round trip."""

    __slots__ = ("id", "kind", "nf", "last_t", "raw_start", "raw_offsets", "raw_values",
                 "raw_dirty", "minute", "quarter", "hour_chunk", "day_chunk")

    def __init__(self, sid: int, kind: str):
        self.id, self.kind = sid, kind
        self.nf = len(fields_for(kind))
        self.last_t: float | None = None
        self.raw_start: int | None = None
        self.raw_offsets = array(codec.U32)
        self.raw_values = array("f")
        self.raw_dirty = False
        self.minute: _Acc | None = None
        self.quarter: _Acc | None = None
        self.hour_chunk: _AggChunk | None = None
        self.day_chunk: _AggChunk | None = None


@dataclass
class IngestStats:
    samples: int = 0
    dropped_out_of_order: int = 0
    clock_steps_back: int = 0      # polls that found the console's clock stepped back
    batches: int = 0
    chunks_written: int = 0
    annotations: int = 0
    chunks_deleted: int = 0
    last_batch_ms: float = 0.0


class Ingest:
    """See the module docstring. ``conn`` is this thread's own connection."""

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn
        self._series: dict[tuple[str, str], _Series] = {}
        self._meta: dict[int, _SeriesMeta] = {}
        self._pending: dict[tuple[int, int, int], bytes] = {}
        self._touched: dict[int, tuple[str, str, float]] = {}   # series id → host, name, last_seen
        self._annotations: list[Annotation] = []
        self._vm_state: dict[str, tuple[str, str | None]] = {}
        self._open_findings: set[tuple] = set()
        self._now: float | None = None
        self._last_retention: float | None = None
        self.stats = IngestStats()

    # -- one batch ------------------------------------------------------------------------

    def apply(self, snapshots: Iterable[Snapshot] = (), findings: Iterable[Any] = (),
              annotations: Iterable[Annotation] = (), *, finish: bool = False) -> None:
        """Add everything, then write it in one transaction. ``finish``: also close the
        minute and quarter-hour in progress (on shutdown)."""
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            for snap in snapshots:
                self.add_snapshot(snap)
            for f in findings:
                self.add_finding(f)
            self._annotations.extend(annotations)
            if finish:
                for s in self._series.values():
                    self._finish_minute(s)
                    self._finish_quarter(s)
            self._write_pending()
            if self._now is not None:
                # The right edge of every graph and of an export's "--since 10m".
                self.conn.execute("INSERT OR REPLACE INTO meta VALUES ('newest', ?)", (repr(self._now),))
            self._maybe_retain()
            self.conn.execute("COMMIT")
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.stats.batches += 1

    # -- samples ---------------------------------------------------------------------------

    def add_snapshot(self, snap: Snapshot) -> None:
        t = snap.polled_at.timestamp()
        host = self._get("host", snap.host.casefold(), snap.host, snap.host, t)
        if host.last_t is not None and t < host.last_t:
            if host.last_t - t <= CLOCK_STEP_BACK_S:
                # An older poll of this host (a worker replaced while one was in flight):
                # the whole snapshot is dropped, its VM states included.
                self.stats.dropped_out_of_order += 1
                return
            self.stats.clock_steps_back += 1
            self._now = t       # the right edge of the graphs follows the clock back
        at = _At(t)     # every sample of a poll shares its time: where it lands is worked out once
        self._add(host, at, _floats(_host_row(snap)) if snap.reachable else [NAN] * host.nf)
        if not snap.reachable:
            return
        seen: set[str] = set()
        for vm in snap.vms:
            vm_id = vm.id.lower()
            if vm_id in seen:
                continue
            seen.add(vm_id)
            s = self._get("vm", vm_id, snap.host, vm.name, t)
            self._add(s, at, _floats((vm.cpu_pct, vm.memory_assigned_mb, vm.memory_demand_mb)))
            self._note_state(snap.host, vm_id, vm.name, vm.state, vm.heartbeat, t)

    def _add(self, s: _Series, at: _At, vals: list[float]) -> None:
        """One sample (NaN: unknown) into the raw chunk and the minute in progress."""
        t = at.t
        if s.last_t is not None and t < s.last_t:
            if s.last_t - t <= CLOCK_STEP_BACK_S:
                self.stats.dropped_out_of_order += 1
                return
            self._clock_went_back(s)
        s.last_t = t
        if self._now is None or t > self._now:
            self._now = t
        self.stats.samples += 1
        if s.raw_start != at.raw_start:
            self._flush_raw(s)
            s.raw_start, s.raw_offsets, s.raw_values = at.raw_start, array(codec.U32), array("f")
            self._load_raw(s)
        offsets = s.raw_offsets
        if offsets and at.offset_ms < offsets[-1]:
            # Back in a chunk that holds later samples (the clock went back): in time order.
            i = bisect_right(offsets, at.offset_ms)
            offsets.insert(i, at.offset_ms)
            s.raw_values[i * s.nf:i * s.nf] = array("f", vals)
        else:
            offsets.append(at.offset_ms)
            s.raw_values.extend(vals)
        s.raw_dirty = True
        acc = s.minute
        if acc is not None and acc.bucket != at.minute:
            self._finish_minute(s)
            acc = None
        if acc is None:
            acc = s.minute = _Acc(at.minute, s.nf)
        acc.add_sample(vals)

    def _clock_went_back(self, s: _Series) -> None:
        """Store the minute and quarter in progress and the raw chunk, and start the series
        again at the earlier time (see the module docstring)."""
        self._finish_minute(s)
        self._finish_quarter(s)
        self._flush_raw(s)
        s.raw_start, s.raw_offsets, s.raw_values = None, array(codec.U32), array("f")

    def _finish_minute(self, s: _Series) -> None:
        acc, s.minute = s.minute, None
        stored = self._store(s, MINUTE, acc)
        if acc is None or stored is None:
            return
        t0, (mins, means, maxs, ns) = stored
        q = int(t0 // QUARTER.step_s)
        if s.quarter is not None and s.quarter.bucket != q:
            self._finish_quarter(s)
        if s.quarter is None:
            s.quarter = _Acc(q, s.nf)
        s.quarter.add(means, ns, mins, maxs)
        s.quarter.count += acc.count

    def _finish_quarter(self, s: _Series) -> None:
        acc, s.quarter = s.quarter, None
        self._store(s, QUARTER, acc)

    def _store(self, s: _Series, tier: Tier, acc: _Acc | None
               ) -> tuple[int, tuple[list[float], list[float], list[float], list[int]]] | None:
        """Write a finished bucket into its chunk. Returns its start and its min, mean, max
        (merged with what a restart left in the bucket) and counts; None when it has no sample."""
        if acc is None or acc.count == 0:
            return None
        stats = acc.result()
        mins, means, maxs, _ns = stats
        t0 = acc.bucket * tier.step_s
        chunk = self._chunk(s, tier, t0)
        _store_bucket(chunk, (t0 - chunk.start) // tier.step_s, acc.count, mins, means, maxs)
        return t0, stats

    def _chunk(self, s: _Series, tier: Tier, t0: int) -> _AggChunk:
        start = t0 // tier.chunk_s * tier.chunk_s
        attr = "hour_chunk" if tier is MINUTE else "day_chunk"
        chunk: _AggChunk | None = getattr(s, attr)
        if chunk is not None and chunk.start == start:
            return chunk
        if chunk is not None and chunk.dirty:
            self._queue_agg(s, tier, chunk)
        row = self._stored_chunk(s.id, tier.id, start)
        if row is not None:
            try:
                counts, stats = codec.decode_agg(kinds_for(s.kind), row[0])
            except Exception:   # a damaged chunk is replaced, not fatal
                log.warning("history: unreadable %s chunk of series %s replaced", tier.name, s.id)
                row = None
        if row is None:
            counts = np.zeros(tier.slots, dtype=np.int64)
            stats = np.full((s.nf, 3, tier.slots), NAN)
        chunk = _AggChunk(start, counts, stats)
        setattr(s, attr, chunk)
        return chunk

    def _load_raw(self, s: _Series) -> None:
        """Continue a raw chunk written before a restart instead of overwriting it."""
        row = self._stored_chunk(s.id, RAW.id, s.raw_start)
        if row is None:
            return
        try:
            offsets, values = codec.decode_raw(row[0])
        except Exception:
            return
        s.raw_offsets = array(codec.U32, offsets.tolist())
        s.raw_values = array("f", values.ravel().tolist())

    def _stored_chunk(self, sid: int, tier_id: int, start: int | None) -> tuple[bytes] | None:
        """A chunk as last written: this batch's pending version first (a series whose
        clock went back may return to a chunk it left in the same batch), else the file's."""
        pending = self._pending.get((sid, tier_id, start)) if start is not None else None
        if pending is not None:
            return (pending,)
        row = self.conn.execute("SELECT data FROM chunks WHERE series_id=? AND tier=? AND start=?",
                                (sid, tier_id, start)).fetchone()
        return None if row is None else (row[0],)

    # -- writing ---------------------------------------------------------------------------

    def _flush_raw(self, s: _Series) -> None:
        if s.raw_dirty and s.raw_start is not None:
            self._pending[(s.id, RAW.id, s.raw_start)] = codec.encode_raw_arrays(s.raw_offsets, s.raw_values, s.nf)
            s.raw_dirty = False

    def _queue_agg(self, s: _Series, tier: Tier, chunk: _AggChunk) -> None:
        self._pending[(s.id, tier.id, chunk.start)] = codec.encode_agg(
            kinds_for(s.kind), chunk.counts, chunk.stats)
        chunk.dirty = False

    def _write_pending(self) -> None:
        self._write_touched()
        for s in self._series.values():
            self._flush_raw(s)
            if s.hour_chunk is not None and s.hour_chunk.dirty:
                self._queue_agg(s, MINUTE, s.hour_chunk)
            if s.day_chunk is not None and s.day_chunk.dirty:
                self._queue_agg(s, QUARTER, s.day_chunk)
        if self._pending:
            self.conn.executemany("INSERT OR REPLACE INTO chunks VALUES (?, ?, ?, ?)",
                                  [(k[0], k[1], k[2], v) for k, v in self._pending.items()])
            self.stats.chunks_written += len(self._pending)
            self._pending.clear()
        if self._annotations:
            self.conn.executemany(
                "INSERT INTO annotations (t, host, vm_id, category, kind, severity, text) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                [(a.t, a.host, a.vm_id, a.category, a.kind, a.severity, a.text) for a in self._annotations])
            self.stats.annotations += len(self._annotations)
            self._annotations.clear()

    # -- series ----------------------------------------------------------------------------

    def _get(self, kind: str, key: str, host: str, name: str, t: float) -> _Series:
        s = self._series.get((kind, key))
        if s is not None:
            self._touch(s, host, name, t)
            return s
        row = self.conn.execute("SELECT id FROM series WHERE kind=? AND key=?", (kind, key)).fetchone()
        if row is None:
            sid = self.conn.execute(
                "INSERT INTO series (kind, key, host, name, last_seen) VALUES (?, ?, ?, ?, ?)",
                (kind, key, host, name, t)).lastrowid
            assert sid is not None   # an INSERT into a rowid table always sets it
        else:
            sid = row[0]
            self.conn.execute("UPDATE series SET host=?, name=?, last_seen=? WHERE id=?", (host, name, t, sid))
        s = self._series[(kind, key)] = _Series(int(sid), kind)
        self._meta[s.id] = _SeriesMeta(host, name, t)
        return s

    def _touch(self, s: _Series, host: str, name: str, t: float) -> None:
        meta = self._meta[s.id]
        # Written when what it says changes, and at most once a minute for last_seen; with
        # the batch's other rows (one executemany instead of a statement per series).
        if meta.host != host or meta.name != name or t - meta.written_t >= 60.0:
            self._touched[s.id] = (host, name, t)
            meta.host, meta.name, meta.written_t = host, name, t

    def _write_touched(self) -> None:
        if self._touched:
            self.conn.executemany("UPDATE series SET host=?, name=?, last_seen=? WHERE id=?",
                                  [(*row, sid) for sid, row in self._touched.items()])
            self._touched.clear()

    # -- annotations -----------------------------------------------------------------------

    def _note_state(self, host: str, vm_id: str, name: str, state: str, heartbeat: str | None,
                    t: float) -> None:
        now = (state, heartbeat)
        before = self._vm_state.get(vm_id)
        if before is None:
            row = self.conn.execute(
                "SELECT text FROM annotations WHERE category='state' AND vm_id=? ORDER BY t DESC LIMIT 1",
                (vm_id,)).fetchone()
            before = _parse_state_text(row[0]) if row is not None else None
        self._vm_state[vm_id] = now
        if before == now:
            return
        text = f"{name}: {_state_text(state, heartbeat)}"
        if before is not None:
            text += f" (was {_state_text(*before)})"
        self._annotations.append(Annotation(t, host, vm_id, "state", "state", None, text))

    def add_finding(self, f: Any) -> None:
        """A finding that appeared, changed or ended (the detector's ``feed`` result)."""
        key = (f.host, f.vm_id, f.kind)
        if not f.active:
            event, t = "ended", f.last_seen
            self._open_findings.discard(key)
        elif key in self._open_findings:
            event, t = "changed", f.last_seen
        else:
            event, t = "opened", f.first_seen
            self._open_findings.add(key)
        who = f.vm_name or f.vm_id or f.host
        evidence = f.evidence[0] if f.evidence else ""
        text = f"{f.kind} {event} on {who}" + (f": {evidence}" if evidence else "")
        self._annotations.append(Annotation(_ts(t), f.host, f.vm_id, "finding", f.kind,
                                            f.severity, text[:500]))

    def add_annotation(self, a: Annotation) -> None:
        self._annotations.append(a)

    # -- retention -------------------------------------------------------------------------

    def _maybe_retain(self) -> None:
        now = self._now
        # 0 <=: after the clock went back, "now" is earlier than the last retention.
        if now is None or (self._last_retention is not None
                           and 0 <= now - self._last_retention < RETENTION_EVERY_S):
            return
        self._last_retention = now
        self.retain(now)

    def retain(self, now: float) -> int:
        """Delete what is older than each tier keeps. Returns chunks deleted."""
        self._write_touched()     # last_seen decides which series are gone
        deleted = 0
        for tier in TIERS:
            # A chunk is deleted once all of it has aged out.
            cutoff = int(now - tier.keep_s - tier.chunk_s)
            deleted += self.conn.execute("DELETE FROM chunks WHERE tier=? AND start < ?",
                                         (tier.id, cutoff)).rowcount
        oldest = now - QUARTER.keep_s
        self.conn.execute("DELETE FROM annotations WHERE t < ?", (oldest,))
        gone = [r[0] for r in self.conn.execute("SELECT id FROM series WHERE last_seen < ?", (oldest,))]
        if gone:
            self.conn.executemany("DELETE FROM chunks WHERE series_id=?", [(g,) for g in gone])
            self.conn.executemany("DELETE FROM series WHERE id=?", [(g,) for g in gone])
            for k in [k for k, s in self._series.items() if s.id in gone]:
                del self._series[k]
        self.stats.chunks_deleted += deleted
        return deleted

    # -- bulk import (benchmarks and tests of a long history) -------------------------------

    def import_minutes(self, kind: str, key: str, host: str, name: str, start: int,
                       values: np.ndarray, samples_per_minute: int = 12) -> None:
        """Write ``values`` (fields, minutes) as 1-minute aggregates from ``start`` (a
        whole minute) and the 15-minute aggregates made from them, with min = max = mean.
        A fast path for a synthetic history; it writes the same chunks as live ingest.
        Call inside a transaction (``BEGIN`` … ``COMMIT``)."""
        t_end = start + values.shape[1] * 60
        s = self._get(kind, key, host, name, float(t_end))
        kinds = kinds_for(kind)
        rows = []
        for tier in (MINUTE, QUARTER):
            per = tier.step_s // 60
            n = values.shape[1] // per
            v = values[:, :n * per].reshape(values.shape[0], n, per)
            with warnings.catch_warnings():   # a field never measured: NaN, as intended
                warnings.simplefilter("ignore", RuntimeWarning)
                mean = np.nanmean(v, axis=2) if per > 1 else v[:, :, 0]
                lo = np.nanmin(v, axis=2) if per > 1 else mean
                hi = np.nanmax(v, axis=2) if per > 1 else mean
            first_slot = start // tier.step_s
            for c0 in range((first_slot // tier.slots) * tier.slots, first_slot + n, tier.slots):
                chunk_start = c0 * tier.step_s
                counts = np.zeros(tier.slots, dtype=np.int64)
                stats = np.full((len(kinds), 3, tier.slots), NAN)
                a, b = max(c0, first_slot), min(c0 + tier.slots, first_slot + n)
                ia, ib = a - first_slot, b - first_slot
                counts[a - c0:b - c0] = samples_per_minute * per
                stats[:, 0, a - c0:b - c0] = lo[:, ia:ib]
                stats[:, 1, a - c0:b - c0] = mean[:, ia:ib]
                stats[:, 2, a - c0:b - c0] = hi[:, ia:ib]
                rows.append((s.id, tier.id, chunk_start, codec.encode_agg(kinds, counts, stats)))
        self.conn.executemany("INSERT OR REPLACE INTO chunks VALUES (?, ?, ?, ?)", rows)
        self.stats.chunks_written += len(rows)
        if self._now is None or t_end > self._now:
            self._now = float(t_end)


class _At:
    """Where a sample taken at ``t`` lands: its raw chunk, its offset in it, its minute."""

    __slots__ = ("t", "raw_start", "offset_ms", "minute")

    def __init__(self, t: float):
        self.t = t
        self.raw_start = int(t // RAW.chunk_s) * RAW.chunk_s
        self.offset_ms = round((t - self.raw_start) * 1000)
        self.minute = int(t // MINUTE.step_s)


def _floats(values: Iterable[float | None]) -> list[float]:
    return [NAN if v is None else float(v) for v in values]


@dataclass
class _SeriesMeta:
    host: str
    name: str
    written_t: float


def _store_bucket(chunk: _AggChunk, slot: int, count: int, mins: list[float], means: list[float],
                  maxs: list[float]) -> None:
    """Write a finished bucket. A bucket already there is the part written before a
    restart (clean stop in the middle of the minute): the two are merged, the means
    weighted by sample count."""
    old_n = int(chunk.counts[slot])
    if old_n > 0:
        old = chunk.stats[:, :, slot]
        for i in range(len(means)):
            lo, mid, hi = float(old[i, 0]), float(old[i, 1]), float(old[i, 2])
            if mid == mid:   # not NaN
                if means[i] != means[i]:
                    mins[i], means[i], maxs[i] = lo, mid, hi
                else:
                    mins[i], maxs[i] = min(mins[i], lo), max(maxs[i], hi)
                    means[i] = (means[i] * count + mid * old_n) / (count + old_n)
        count += old_n
    chunk.counts[slot] = count
    chunk.stats[:, 0, slot], chunk.stats[:, 1, slot], chunk.stats[:, 2, slot] = mins, means, maxs
    chunk.dirty = True


def _ts(t: datetime | float) -> float:
    return t.timestamp() if isinstance(t, datetime) else float(t)


def _state_text(state: str, heartbeat: str | None) -> str:
    return state if not heartbeat else f"{state}, heartbeat {heartbeat}"


def _parse_state_text(text: str) -> tuple[str, str | None] | None:
    """Inverse of the "name: state[, heartbeat X]" text, for the state before a restart."""
    _, _, rest = text.partition(": ")
    rest = rest.split(" (was ", 1)[0]
    state, sep, hb = rest.partition(", heartbeat ")
    return (state, hb if sep else None) if state else None
