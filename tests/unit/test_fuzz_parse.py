"""Property-based tests: the tolerant snapshot parser and the trace reader let out one
documented error type and nothing else, whatever a host or a file sends.

The documents are the contract's example snapshot with values replaced at random places by
values of the kinds a broken collector, a PowerShell quirk or a hostile file produce:
out-of-range ``\\/Date(ms)\\/`` and ISO times, integers beyond the 4,300-digit conversion
limit, huge floats, deep nesting, control characters, wrong types. The example budget is
fixed and the runs derandomized, so the suite is stable and fast.
"""

from __future__ import annotations

import copy
import io
import json
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hvconsole.core.parse import SnapshotFormatError, parse_snapshot, parse_snapshot_json
from hvconsole.core.snapshot import Snapshot
from hvconsole.core.trace import BadLine, read_trace

FIXTURES = Path(__file__).parent.parent / "fixtures" / "contracts"
EXAMPLE_LINES = (FIXTURES / "example-trace.jsonl").read_text().splitlines()
EXAMPLE = json.loads(EXAMPLE_LINES[0])

SETTINGS = settings(max_examples=100, derandomize=True, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

# Stands for an integer of 5,000 digits in the JSON text: Python's own int (and Hypothesis'
# report of a failing example) cannot hold one beyond the 4,300-digit conversion limit.
HUGE_INT = "\x00HUGE-INT\x00"
HUGE_INT_JSON = json.dumps(HUGE_INT)

# Values that escaped the parser once (issue 10) and their relatives.
NASTY_TEXT = st.sampled_from([
    "/Date(99999999999999999999)/", "/Date(-99999999999999999999)/", "/Date(253402300800000)/",
    "/Date(-62135596800001)/", "/Date(1748000000000+0100)/", "/Date(" + "9" * 5000 + ")/",
    "0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00", "0000-01-01T00:00:00Z",
    "9999-12-31T23:59:59.999Z", "0001-01-01T00:00:00Z", "/Date(253402300799999)/", "/Date(-62135596800000)/",
    "2026-13-45T25:61:61Z", "2026-11-25T09:00:00.1234567890123Z", "",
    "9" * 5000, "-" + "9" * 5000, "1e999", "-1e999", "nan", "NaN", "inf", "0x10",
    "\x1b[31mred\x1b[0m", "\u202eevil", "Running", "running", "2", "32774", "\x00",
])
JSON_SCALARS = st.one_of(
    st.none(), st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.integers(min_value=10**4000, max_value=10**4001),      # near str()'s digit limit
    st.just(HUGE_INT),                                        # beyond it (JSON text only)
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30), NASTY_TEXT,
)
JSON_VALUES = st.one_of(NASTY_TEXT, st.recursive(
    JSON_SCALARS,
    lambda children: st.one_of(st.lists(children, max_size=4),
                               st.dictionaries(st.text(max_size=12), children, max_size=4)),
    max_leaves=12,
))


def _paths(obj: Any, prefix: tuple = ()) -> list[tuple]:
    out = [prefix]
    if isinstance(obj, dict):
        for k, v in obj.items():
            out += _paths(v, prefix + (k,))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            out += _paths(v, prefix + (i,))
    return out


PATHS = [p for p in _paths(EXAMPLE) if p]
# The leaves a parser has to convert (times, numbers, enums) are where escapes hid; they
# are drawn as often as all the other places together.
CONVERTED = [p for p in PATHS if isinstance(p[-1], str) and (
    p[-1] in ("polled_at", "host_time", "last_boot", "last_backup", "time", "state", "level", "id",
              "uptime_s", "collect_ms", "build", "ubr", "heartbeat", "health", "elapsed_ms")
    or p[-1].endswith(("_pct", "_mb", "_bps", "_ms")))]


def _replace(doc: Any, path: tuple, value: Any) -> None:
    for key in path[:-1]:
        doc = doc[key]
    doc[path[-1]] = value


@st.composite
def mutated_snapshots(draw) -> Any:
    doc = copy.deepcopy(EXAMPLE)
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        path = draw(st.sampled_from(CONVERTED) | st.sampled_from(PATHS))
        try:
            _replace(doc, path, draw(JSON_VALUES))
        except (KeyError, IndexError, TypeError):
            pass  # an earlier mutation removed the container
    return doc


def _deep(depth: int) -> str:
    return "[" * depth + "]" * depth


def _as_text(doc: Any) -> str:
    """JSON text of ``doc``, NaN/Infinity written as some .NET serialisers do, and each
    HUGE_INT marker an integer of 5,000 digits."""
    return json.dumps(doc, allow_nan=True).replace(HUGE_INT_JSON, "9" * 5000)


def _only_format_error(fn, *args) -> Snapshot | None:
    try:
        return fn(*args)
    except SnapshotFormatError:
        return None


@SETTINGS
@given(mutated_snapshots())
def test_parse_snapshot_raises_only_snapshot_format_error(doc):
    _only_format_error(parse_snapshot, doc)


@SETTINGS
@given(mutated_snapshots())
def test_parse_snapshot_json_raises_only_snapshot_format_error(doc):
    snap = _only_format_error(parse_snapshot_json, _as_text(doc))
    if snap is not None:
        # What parsed can be written back and read again (a recorder's round trip).
        again = parse_snapshot(snap.to_dict())
        assert again.host == snap.host and again.polled_at == snap.polled_at


@SETTINGS
@given(st.binary(max_size=300) | st.text(max_size=300).map(lambda s: s.encode("utf-8", "surrogatepass")))
def test_arbitrary_bytes_raise_only_snapshot_format_error(data):
    _only_format_error(parse_snapshot_json, data)


def test_the_escapes_named_in_issue_10_are_format_errors():
    for field, value in (("polled_at", "/Date(99999999999999999999)/"),
                         ("polled_at", "0001-01-01T00:00:00+01:00"),
                         ("host_time", "9999-12-31T23:59:59-01:00")):
        doc = copy.deepcopy(EXAMPLE)
        doc[field] = value
        try:
            parse_snapshot_json(json.dumps(doc))
        except SnapshotFormatError as exc:
            assert exc.field == field and "out of range" in exc.problem
        else:
            raise AssertionError(f"{field}={value!r} was accepted")
    huge = json.dumps(EXAMPLE).replace('"collect_ms": 610', '"collect_ms": ' + "7" * 4301)
    assert "7" * 4301 in huge
    try:
        parse_snapshot_json(huge)
    except SnapshotFormatError as exc:
        assert "not valid JSON" in str(exc)
    else:
        raise AssertionError("a 4,301-digit integer was accepted")
    for text in ("[" * 100_000, _deep(5000)):
        try:
            parse_snapshot_json(text)
        except SnapshotFormatError:
            pass


@st.composite
def traces(draw) -> tuple[bytes, list[bool]]:
    """Lines of a trace: good example lines, mutated ones and garbage, with which are good."""
    lines, good = [], []
    for _ in range(draw(st.integers(min_value=1, max_value=8))):
        kind = draw(st.sampled_from(["good", "mutated", "garbage"]))
        if kind == "good":
            lines.append(EXAMPLE_LINES[len(lines) % len(EXAMPLE_LINES)].encode())
        elif kind == "mutated":
            lines.append(_as_text(draw(mutated_snapshots())).encode())
        else:
            lines.append(draw(st.binary(max_size=80)).replace(b"\n", b" "))
        good.append(kind == "good")
    return b"\n".join(lines) + b"\n", good


@SETTINGS
@given(traces())
def test_read_trace_keeps_good_lines_and_reports_bad_ones(trace):
    data, good = trace
    bad: list[BadLine] = []
    snaps = list(read_trace(io.BytesIO(data), on_bad_line=bad.append))
    # Every line is either a snapshot or a reported bad line (blank lines are neither).
    blank = sum(1 for line in data.split(b"\n")[:-1] if not line.strip())
    assert len(snaps) + len(bad) + blank == len(good)
    # The example lines are in time order, so each good one that follows no newer line
    # of its host is kept; at least the first good line always is.
    if good and good[0]:
        assert snaps and snaps[0].polled_at.isoformat().startswith("2026-11-25T09:00:00")


@settings(max_examples=40, derandomize=True, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                 HealthCheck.function_scoped_fixture])
@given(traces())
def test_detect_command_never_raises_and_exits_0_or_2(tmp_path_factory, trace):
    """``hvconsole detect`` over the same traces: a result (0) or one message (2), never a
    traceback; 0 exactly when some line held a snapshot."""
    import argparse

    from hvconsole.cli import detect

    data, good = trace
    path = tmp_path_factory.mktemp("trace") / "t.jsonl"
    path.write_bytes(data)
    out, err = io.StringIO(), io.StringIO()
    args = argparse.Namespace(trace=str(path), json=True, thresholds=None, strict=False)
    rc = detect.run(args, out=out, err=err)
    kept = list(read_trace(io.BytesIO(data)))
    assert rc == (0 if kept else 2)
    assert "\x1b" not in err.getvalue() and "\u202e" not in err.getvalue()
