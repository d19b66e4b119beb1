"""Streaming trace reading: bad and out-of-order lines are reported by line number and
skipped (or fatal in strict mode); output of write_snapshot reads back identically."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from hvconsole.core.trace import BadLine, TraceError, read_trace, write_snapshot

EXAMPLE = Path(__file__).parent.parent / "fixtures" / "contracts" / "example-trace.jsonl"


def test_write_then_read_round_trip():
    with EXAMPLE.open("rb") as f:
        snaps = list(read_trace(f, strict=True))
    out = io.StringIO()
    for s in snaps:
        write_snapshot(out, s)
    again = list(read_trace(io.BytesIO(out.getvalue().encode()), strict=True))
    assert again == snaps


def test_bad_lines_are_reported_and_skipped():
    lines = EXAMPLE.read_bytes().splitlines()
    data = b"\n".join([lines[0], b"{not json", b"", lines[1], b'{"host": "x"}']) + b"\n"
    bad: list[BadLine] = []
    snaps = list(read_trace(io.BytesIO(data), on_bad_line=bad.append))
    assert len(snaps) == 2
    assert [b.line_no for b in bad] == [2, 5]
    assert "missing" in bad[1].problem


def test_out_of_order_lines_are_refused():
    lines = EXAMPLE.read_bytes().splitlines()
    data = b"\n".join([lines[1], lines[0]]) + b"\n"
    bad: list[BadLine] = []
    assert len(list(read_trace(io.BytesIO(data), on_bad_line=bad.append))) == 1
    assert "out of order" in bad[0].problem
    with pytest.raises(TraceError) as info:
        list(read_trace(io.BytesIO(data), strict=True))
    assert info.value.line_no == 2


def test_oversized_line_is_refused_without_reading_it_whole(monkeypatch):
    import hvconsole.core.trace as trace
    monkeypatch.setattr(trace, "MAX_LINE_BYTES", 4000)
    first = EXAMPLE.read_bytes().splitlines()[0]
    huge = json.dumps({"pad": "x" * 9000}).encode()
    data = huge + b"\n" + first + b"\n"
    bad: list[BadLine] = []
    snaps = list(read_trace(io.BytesIO(data), on_bad_line=bad.append))
    assert len(snaps) == 1 and bad[0].line_no == 1 and "longer" in bad[0].problem


def test_a_line_far_back_is_the_recording_console_clock_stepped_back_and_is_kept():
    from datetime import timedelta

    from hvconsole.core.parse import parse_snapshot_json
    from hvconsole.core.snapshot import Snapshot

    first = parse_snapshot_json(EXAMPLE.read_bytes().splitlines()[0])
    back = Snapshot(**{**{k: getattr(first, k) for k in first.__dataclass_fields__},
                       "polled_at": first.polled_at - timedelta(hours=1)})
    data = EXAMPLE.read_bytes().splitlines()[0] + b"\n" + json.dumps(back.to_dict()).encode() + b"\n"
    bad: list[BadLine] = []
    snaps = list(read_trace(io.BytesIO(data), on_bad_line=bad.append))
    assert [s.polled_at for s in snaps] == [first.polled_at, back.polled_at] and bad == []
