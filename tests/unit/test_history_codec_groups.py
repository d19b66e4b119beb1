"""encode_agg quantises neighbouring fields of one kind together; the bytes must be those
of the field-by-field layout the file format describes (and older files were written in)."""

from __future__ import annotations

import zlib

import numpy as np

from hvconsole.core.historydb import codec
from hvconsole.core.historydb.ingest import HOST_KINDS, VM_KINDS


def field_by_field(kinds, counts, stats) -> bytes:
    parts = [codec._shuffle(np.minimum(counts, 0xFFFF).astype("<u2"))]
    for i, kind in enumerate(kinds):
        v = stats[i]
        if kind == codec.PCT:
            q = np.clip(v, 0.0, codec._PCT_MAX) * 100.0
            np.rint(q, out=q)
            q[np.isnan(q)] = codec._PCT_NAN
            q = q.astype("<u2")
        elif kind == codec.MB:
            q = np.clip(v, 0.0, codec._MB_MAX)
            np.rint(q, out=q)
            q[np.isnan(q)] = codec._MB_NAN
            q = q.astype("<u4")
        else:
            q = v.astype("<f4")
        parts.append(codec._shuffle(q))
    return codec._AGG_HEADER.pack(codec.VERSION, len(kinds), counts.shape[0]) + zlib.compress(b"".join(parts), 6)


def test_grouped_fields_encode_to_the_field_by_field_bytes():
    rng = np.random.default_rng(7)
    mixed = (codec.RATE, codec.PCT, codec.PCT, codec.MB, codec.RATE, codec.MB)
    for kinds in (VM_KINDS, HOST_KINDS, mixed, (codec.PCT,)):
        for trial in range(10):
            stats = rng.uniform(-100.0, 1e6 if trial % 2 else 150.0, (len(kinds), 3, 60))
            stats[rng.random(stats.shape) < 0.2] = np.nan
            stats[rng.random(stats.shape) < 0.03] = np.inf
            stats[rng.random(stats.shape) < 0.03] = -np.inf
            stats.flat[0] = 5e9
            counts = rng.integers(0, 70_000, 60)
            blob = codec.encode_agg(kinds, counts, stats)
            assert blob == field_by_field(kinds, counts, stats)
            got_counts, got = codec.decode_agg(kinds, blob)
            assert got.shape == stats.shape and (got_counts == np.minimum(counts, 0xFFFF)).all()
