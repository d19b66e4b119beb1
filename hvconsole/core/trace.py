"""Traces: JSON Lines files of snapshots, read as a stream so that a 100 MB trace is
processed in bounded memory, and written one line per poll.

A bad line never crashes a reader: :func:`read_trace` reports it to ``on_bad_line``
(line number and reason) and goes on, or raises :class:`TraceError` naming the line when
the caller asked for strict reading.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import IO, Protocol

from .parse import SnapshotFormatError, parse_snapshot_json
from .snapshot import Snapshot
from .timeutil import CLOCK_STEP_BACK_S

# A single line longer than this is not a snapshot a collector could have produced; it
# is refused without being held in memory whole.
MAX_LINE_BYTES = 32 * 1024 * 1024


class TraceError(ValueError):
    def __init__(self, line_no: int, problem: str):
        self.line_no = line_no
        self.problem = problem
        super().__init__(f"line {line_no}: {problem}")


@dataclass(frozen=True, slots=True)
class BadLine:
    line_no: int
    problem: str


class LineSource(Protocol):
    """What the reader needs of its input: ``readline`` with a size limit (a binary file,
    or a wrapper that counts lines, as ``hvconsole detect`` uses)."""

    def readline(self, size: int = -1, /) -> bytes: ...


def read_trace(stream: LineSource, *, strict: bool = False,
               on_bad_line: Callable[[BadLine], None] | None = None) -> Iterator[Snapshot]:
    """Yield snapshots from a binary JSONL stream, one line at a time.

    Out-of-order lines (``polled_at`` going backwards for the same host, by up to
    ``CLOCK_STEP_BACK_S``) are reported as bad and skipped. A line further back is the
    recording console's clock stepped back (core.timeutil says the rule) and is kept: the
    detector spaces such polls itself, and skipping would drop every line until the clock
    caught up with the newest one.
    """
    last_polled: dict[str, datetime] = {}
    line_no = 0
    while True:
        raw = stream.readline(MAX_LINE_BYTES + 1)
        if not raw:
            return
        line_no += 1
        problem: str | None = None
        snap: Snapshot | None = None
        if len(raw) > MAX_LINE_BYTES and not raw.endswith(b"\n"):
            problem = f"line longer than {MAX_LINE_BYTES // (1024 * 1024)} MiB"
            _skip_rest_of_line(stream)
        elif not raw.strip():
            continue
        else:
            try:
                snap = parse_snapshot_json(raw)
            except SnapshotFormatError as exc:
                problem = str(exc)
            if snap is not None:
                prev = last_polled.get(snap.host)
                if prev is not None and 0 < (prev - snap.polled_at).total_seconds() <= CLOCK_STEP_BACK_S:
                    problem = f"out of order: {snap.host} polled_at goes back in time"
                    snap = None
                else:
                    last_polled[snap.host] = snap.polled_at
        if problem is not None:
            if strict:
                raise TraceError(line_no, problem)
            if on_bad_line is not None:
                on_bad_line(BadLine(line_no, problem))
            continue
        assert snap is not None
        yield snap


def _skip_rest_of_line(stream: LineSource) -> None:
    while True:
        chunk = stream.readline(1024 * 1024)
        if not chunk or chunk.endswith(b"\n"):
            return


def write_snapshot(stream: IO[str], snap: Snapshot) -> None:
    """Append one snapshot as one compact JSON line."""
    stream.write(json.dumps(snap.to_dict(), separators=(",", ":"), ensure_ascii=False))
    stream.write("\n")
