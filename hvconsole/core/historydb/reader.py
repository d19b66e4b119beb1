"""Reading stored history: the series of one host or VM for a time range, at the
resolution that range is drawn at, and the annotations (markers) in it.

The resolution follows the range (:func:`tier_for`): up to two hours full resolution, up to
eight days 1-minute aggregates, beyond that 15-minute ones; a range that starts before a
tier's retention uses the next coarser tier. Aggregates come back on a dense grid of
buckets (bucket start times) with NaN where nothing was measured, so a graph breaks its
line there instead of joining across an outage.

Each reader has its own connection (WAL lets it read while the writer writes); Qt-free.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from . import codec
from .ingest import fields_for, kinds_for
from .schema import MINUTE, QUARTER, RAW, TIERS, Tier, connect, disk_bytes

# Full-resolution samples further apart than this many median intervals are a gap.
GAP_INTERVALS = 3.0


@dataclass(frozen=True)
class SeriesInfo:
    id: int
    kind: str            # host or vm
    key: str
    host: str
    name: str
    last_seen: float


@dataclass(frozen=True)
class SeriesRange:
    """``times`` (n,) epoch seconds; ``mean``/``min``/``max`` (fields, n). For full
    resolution ``resolution_s`` is None and min = mean = max."""

    fields: tuple[str, ...]
    times: np.ndarray
    mean: np.ndarray
    min: np.ndarray
    max: np.ndarray
    counts: np.ndarray
    tier: str
    resolution_s: int | None

    def field(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """``(times, mean)`` of one field (KeyError naming an unknown field)."""
        try:
            i = self.fields.index(name)
        except ValueError:
            raise KeyError(name) from None
        return self.times, self.mean[i]

    def __len__(self) -> int:
        return int(self.times.shape[0])


@dataclass(frozen=True)
class Marker:
    t: float
    host: str
    vm_id: str | None
    category: str
    kind: str
    severity: str | None
    text: str


def tier_for(t0: float, t1: float, now: float | None = None) -> Tier:
    """The tier a range ``[t0, t1]`` is drawn from; ``now``: the newest stored time."""
    span = t1 - t0
    ref = t1 if now is None else now
    if span <= 2 * 3600 and t0 >= ref - RAW.keep_s - RAW.chunk_s:
        return RAW
    if span <= 8 * 86400 and t0 >= ref - MINUTE.keep_s - MINUTE.chunk_s:
        return MINUTE
    return QUARTER


class HistoryReader:
    def __init__(self, path: Path):
        self.path = Path(path)
        self.conn = connect(self.path, create=False)

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> HistoryReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- what is there ---------------------------------------------------------------------

    def hosts(self) -> list[SeriesInfo]:
        return self._series("SELECT * FROM series WHERE kind='host' ORDER BY key")

    def vms(self, host: str) -> list[SeriesInfo]:
        return self._series("SELECT * FROM series WHERE kind='vm' AND host=? COLLATE NOCASE ORDER BY name",
                            (host,))

    def host(self, name: str) -> SeriesInfo | None:
        got = self._series("SELECT * FROM series WHERE kind='host' AND key=?", (name.casefold(),))
        return got[0] if got else None

    def vm(self, host: str, vm: str) -> SeriesInfo | None:
        """A VM of ``host`` by id or by name (case-insensitive; Hyper-V allows two VMs with
        one name: then the one seen last)."""
        got = self._series("SELECT * FROM series WHERE kind='vm' AND key=?", (vm.lower(),))
        if got:
            return got[0]
        got = self._series("SELECT * FROM series WHERE kind='vm' AND host=? COLLATE NOCASE "
                           "AND name=? COLLATE NOCASE ORDER BY last_seen DESC", (host, vm))
        return got[0] if got else None

    def newest_time(self) -> float | None:
        """The newest sample time written (hosts' clock), None for an empty file."""
        row = self.conn.execute("SELECT value FROM meta WHERE key='newest'").fetchone()
        if row is None:
            row = self.conn.execute("SELECT max(last_seen) FROM series").fetchone()
        return None if row is None or row[0] is None else float(row[0])

    def _series(self, sql: str, args: tuple = ()) -> list[SeriesInfo]:
        return [SeriesInfo(*r) for r in self.conn.execute(sql, args)]

    # -- samples ---------------------------------------------------------------------------

    def read(self, series: SeriesInfo, t0: float, t1: float, tier: Tier | None = None) -> SeriesRange:
        tier = tier or tier_for(t0, t1, self.newest_time())
        if tier is RAW:
            return self._read_raw(series, t0, t1)
        return self._read_agg(series, tier, t0, t1)

    def _chunks(self, series: SeriesInfo, tier: Tier, t0: float, t1: float) -> list[tuple[int, bytes]]:
        lo = math.floor(t0 / tier.chunk_s) * tier.chunk_s
        return self.conn.execute(
            "SELECT start, data FROM chunks WHERE series_id=? AND tier=? AND start>=? AND start<=? "
            "ORDER BY start", (series.id, tier.id, lo, int(t1))).fetchall()

    def _read_raw(self, series: SeriesInfo, t0: float, t1: float) -> SeriesRange:
        fields = fields_for(series.kind)
        times_parts, value_parts = [], []
        for start, data in self._chunks(series, RAW, t0, t1):
            offsets, values = codec.decode_raw(data)
            times_parts.append(start + offsets.astype(np.float64) / 1000.0)
            value_parts.append(values)
        if times_parts:
            times = np.concatenate(times_parts)
            values = np.concatenate(value_parts).T
            keep = (times >= t0) & (times <= t1)
            times, values = times[keep], values[:, keep]
            times, values = _with_gaps(times, values)
        else:
            times, values = np.empty(0), np.empty((len(fields), 0))
        counts = np.ones(times.shape[0], dtype=np.int64)
        return SeriesRange(fields, times, values, values, values, counts, RAW.name, None)

    def _read_agg(self, series: SeriesInfo, tier: Tier, t0: float, t1: float) -> SeriesRange:
        fields, kinds = fields_for(series.kind), kinds_for(series.kind)
        first = math.floor(t0 / tier.step_s)
        last = math.floor(t1 / tier.step_s)
        n = max(0, last - first + 1)
        counts = np.zeros(n, dtype=np.int64)
        stats = np.full((len(fields), 3, n), np.nan)
        for start, data in self._chunks(series, tier, t0, t1):
            c, s = codec.decode_agg(kinds, data)
            slot0 = start // tier.step_s
            a, b = max(slot0, first), min(slot0 + tier.slots, last + 1)
            if a >= b:
                continue
            counts[a - first:b - first] = c[a - slot0:b - slot0]
            stats[:, :, a - first:b - first] = s[:, :, a - slot0:b - slot0]
        times = (np.arange(first, first + n, dtype=np.float64)) * tier.step_s
        return SeriesRange(fields, times, stats[:, 1], stats[:, 0], stats[:, 2], counts,
                           tier.name, tier.step_s)

    # -- markers ---------------------------------------------------------------------------

    def markers(self, host: str, t0: float, t1: float, vm_id: str | None = None,
                categories: tuple[str, ...] | None = None) -> list[Marker]:
        """Annotations of ``host`` (with ``vm_id``: that VM's and the host's own) in range."""
        sql = "SELECT t, host, vm_id, category, kind, severity, text FROM annotations " \
              "WHERE host=? COLLATE NOCASE AND t>=? AND t<=?"
        args: list[Any] = [host, t0, t1]
        if vm_id is not None:
            sql += " AND (vm_id=? OR vm_id IS NULL)"
            args.append(vm_id.lower())
        if categories:
            sql += f" AND category IN ({','.join('?' * len(categories))})"
            args.extend(categories)
        return [Marker(*r) for r in self.conn.execute(sql + " ORDER BY t", args)]

    def disk_bytes(self) -> int:
        return disk_bytes(self.path)


def _with_gaps(times: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Insert a NaN column midway where samples are much further apart than usual."""
    if times.shape[0] < 3:
        return times, values
    dt = np.diff(times)
    typical = float(np.median(dt))
    if typical <= 0:
        return times, values
    gaps = np.nonzero(dt > GAP_INTERVALS * typical)[0]
    if gaps.size == 0:
        return times, values
    gap_t = times[gaps] + dt[gaps] / 2.0
    times = np.insert(times, gaps + 1, gap_t)
    values = np.insert(values, gaps + 1, np.nan, axis=1)
    return times, values


__all__ = ["HistoryReader", "SeriesInfo", "SeriesRange", "Marker", "tier_for", "TIERS", "MINUTE",
           "QUARTER", "RAW"]
