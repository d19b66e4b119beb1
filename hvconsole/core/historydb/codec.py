"""How one chunk of history is laid out in a SQLite BLOB.

Two chunk shapes:

* **raw** (full resolution): ``n`` samples at irregular poll times. Times are uint32
  milliseconds after the chunk's start; values float32 (NaN = unknown). Not compressed:
  the chunk of the current five minutes is rewritten at every flush, and raw chunks are
  kept for an hour only.
* **aggregate** (1-minute and 15-minute tiers): a fixed number of slots (time is implicit:
  slot ``i`` covers ``start + i*step``), a sample count per slot, and min/mean/max of every
  field. Values are quantised to what a graph can show, each field by its kind: a
  percentage to 0.01 (uint16), megabytes to whole MB (uint32), rates and latencies
  float32. Every array is byte-shuffled (all first bytes, then all second bytes, ...)
  before zlib, which is what makes slowly changing integers compress to almost nothing.

Qt-free and database-free: bytes in, NumPy arrays out.
"""

from __future__ import annotations

import struct
import sys
import zlib
from array import array
from collections.abc import Sequence

import numpy as np

VERSION = 1
_RAW_HEADER = struct.Struct("<BBH")      # version, field count, sample count
_AGG_HEADER = struct.Struct("<BBH")      # version, field count, slot count

PCT, MB, RATE = "pct", "mb", "rate"
_PCT_NAN = np.uint16(0xFFFF)
_MB_NAN = np.uint32(0xFFFFFFFF)
_PCT_MAX = 655.34                        # uint16 / 100, less the NaN marker
_MB_MAX = float(0xFFFFFFFE)

STATS = ("min", "mean", "max")


def field_kind(name: str) -> str:
    """The quantisation of a field, from its name (the names of core.history)."""
    if name.endswith("_pct"):
        return PCT
    if name.endswith("_mb"):
        return MB
    return RATE


# -- raw ------------------------------------------------------------------------------------

def encode_raw(offsets_ms: Sequence[int], values: np.ndarray) -> bytes:
    """``values`` has shape (n, fields)."""
    n = len(offsets_ms)
    nf = values.shape[1] if values.ndim == 2 else 0
    if n > 0xFFFF:
        raise ValueError("a raw chunk holds at most 65535 samples")
    head = _RAW_HEADER.pack(VERSION, nf, n)
    return (head + np.asarray(offsets_ms, dtype="<u4").tobytes()
            + np.ascontiguousarray(values, dtype="<f4").tobytes())


# The array typecode of a uint32 (``I`` is 4 bytes on every platform CPython runs on today).
U32 = "I" if array("I").itemsize == 4 else "L"


def encode_raw_arrays(offsets_ms: array, values: array, nf: int) -> bytes:
    """The bytes of :func:`encode_raw`, from what live ingest appends to: ``array(U32)``
    offsets and the values row after row in an ``array("f")``. No NumPy array is built:
    the chunk of the current five minutes is encoded again at every flush, for every series."""
    n = len(offsets_ms)
    if n > 0xFFFF:
        raise ValueError("a raw chunk holds at most 65535 samples")
    if sys.byteorder != "little":
        offsets_ms, values = array(offsets_ms.typecode, offsets_ms), array(values.typecode, values)
        offsets_ms.byteswap()
        values.byteswap()
    return _RAW_HEADER.pack(VERSION, nf, n) + offsets_ms.tobytes() + values.tobytes()


def decode_raw(blob: bytes) -> tuple[np.ndarray, np.ndarray]:
    """``(offsets_ms uint32 (n,), values float64 (n, fields))``."""
    version, nf, n = _RAW_HEADER.unpack_from(blob)
    if version != VERSION:
        raise ValueError(f"unknown raw chunk version {version}")
    pos = _RAW_HEADER.size
    offsets = np.frombuffer(blob, dtype="<u4", count=n, offset=pos)
    pos += 4 * n
    values = np.frombuffer(blob, dtype="<f4", count=n * nf, offset=pos).reshape(n, nf)
    return offsets, values.astype(np.float64)


# -- aggregates -------------------------------------------------------------------------------

def _shuffle(a: np.ndarray) -> bytes:
    """Each row of ``a`` (one array, or a stack of them) byte-shuffled, rows one after the other."""
    rows = a.reshape(-1, a.shape[-1])
    b = rows.view(np.uint8).reshape(rows.shape[0], rows.shape[1], a.itemsize)
    return b.transpose(0, 2, 1).tobytes()


def _unshuffle(buf: bytes, dtype: str, n: int) -> np.ndarray:
    itemsize = np.dtype(dtype).itemsize
    b = np.frombuffer(buf, dtype=np.uint8, count=n * itemsize).reshape(itemsize, n)
    return np.ascontiguousarray(b.T).view(dtype).reshape(n)


def _quantise(kind: str, v: np.ndarray) -> np.ndarray:
    # The ufuncs themselves rather than np.clip, whose Python wrapper costs more than the
    # work on a chunk's few hundred values (every series' hour chunk is encoded once a
    # minute). Same values: the bound first taken is the lower one, NaN stays NaN.
    if kind == PCT:
        q = np.maximum(v, 0.0)
        np.minimum(q, _PCT_MAX, out=q)
        q *= 100.0
        np.rint(q, out=q)
        q[np.isnan(q)] = _PCT_NAN
        return q.astype("<u2")
    if kind == MB:
        q = np.maximum(v, 0.0)
        np.minimum(q, _MB_MAX, out=q)
        np.rint(q, out=q)
        q[np.isnan(q)] = _MB_NAN
        return q.astype("<u4")
    return v.astype("<f4")


def _dequantise(kind: str, q: np.ndarray) -> np.ndarray:
    if kind == PCT:
        out = q.astype(np.float64) / 100.0
        out[q == _PCT_NAN] = np.nan
        return out
    if kind == MB:
        out = q.astype(np.float64)
        out[q == _MB_NAN] = np.nan
        return out
    return q.astype(np.float64)


def _dtype(kind: str) -> str:
    return {PCT: "<u2", MB: "<u4"}.get(kind, "<f4")


def encode_agg(kinds: Sequence[str], counts: np.ndarray, stats: np.ndarray) -> bytes:
    """``counts`` (slots,) samples per slot; ``stats`` (fields, 3, slots): min, mean, max."""
    nf, slots = len(kinds), counts.shape[0]
    parts = [_shuffle(np.minimum(counts, 0xFFFF).astype("<u2"))]
    # Neighbouring fields of one kind at once (a host's three percentages, its three
    # memory figures, its five rates): each field's min, mean and max rows, every row
    # shuffled on its own, fields in order, the same bytes as field by field.
    start = 0
    for end in range(1, nf + 1):
        if end == nf or kinds[end] != kinds[start]:
            parts.append(_shuffle(_quantise(kinds[start], stats[start:end])))
            start = end
    return _AGG_HEADER.pack(VERSION, nf, slots) + zlib.compress(b"".join(parts), 6)


def decode_agg(kinds: Sequence[str], blob: bytes) -> tuple[np.ndarray, np.ndarray]:
    """``(counts int64 (slots,), stats float64 (fields, 3, slots))``."""
    version, nf, slots = _AGG_HEADER.unpack_from(blob)
    if version != VERSION:
        raise ValueError(f"unknown aggregate chunk version {version}")
    if nf != len(kinds):
        raise ValueError(f"chunk has {nf} fields, expected {len(kinds)}")
    data = zlib.decompress(blob[_AGG_HEADER.size:])
    pos = 0
    counts = _unshuffle(data[pos:pos + 2 * slots], "<u2", slots).astype(np.int64)
    pos += 2 * slots
    stats = np.empty((nf, 3, slots), dtype=np.float64)
    for i, kind in enumerate(kinds):
        dt = _dtype(kind)
        size = np.dtype(dt).itemsize * slots
        for s in range(3):
            stats[i, s] = _dequantise(kind, _unshuffle(data[pos:pos + size], dt, slots))
            pos += size
    return counts, stats
