"""The parser's shortcuts outside a VM's own fast path: the host resources, the storage
counters, the collect cost's probes, a VM's last backup time remembered by its text, and
each VM's path written out only for an error. Each gives what the plain converters give:
the same values of the same types, or the same SnapshotFormatError."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hvconsole.core import parse
from hvconsole.core.snapshot import HostResources

FIXTURES = Path(__file__).parent.parent / "fixtures" / "contracts"
EXAMPLE = json.loads((FIXTURES / "example-trace.jsonl").read_text().splitlines()[0])

ODD = st.one_of(
    st.none(), st.booleans(), st.integers(-2**60, 2**60), st.sampled_from([2**53, -2**53, 2**32, 2**32 - 1, -1, 0]),
    st.floats(allow_nan=True, allow_infinity=True), st.sampled_from(["12", " 3.5 ", "x", "", "NaN", "1e400"]),
    st.lists(st.integers(0, 10), max_size=2), st.dictionaries(st.sampled_from(["a"]), st.integers(), max_size=1),
)
DEVICE = st.one_of(
    st.tuples(st.sampled_from(["0f106ef12e", "", "k" * 32, "k" * 33]), st.integers(-1, 2**32 + 1),
              st.integers(-1, 2**32 + 1)).map(list),
    st.lists(ODD, max_size=4), ODD,
)


def outcome(fn: Any, *args: Any) -> object:
    try:
        value = fn(*args)
    except parse.SnapshotFormatError as exc:
        return ("error", exc.field, exc.problem)
    return value, _types(value)


def _types(value: object) -> object:
    if isinstance(value, (tuple, list)):
        return [_types(v) for v in value]
    if isinstance(value, HostResources):
        return [type(getattr(value, f)) for f in HostResources.__dataclass_fields__]
    return type(value)


def plain_resources(o: dict, p: str) -> HostResources:
    """The resources section through the converters alone (what the parser did before)."""
    kw: dict[str, Any] = {}
    for name in HostResources.__dataclass_fields__:
        conv = parse._int if name == "logical_processors" else \
            parse._storage_raw if name == "storage_latency_raw" else parse._num
        kw[name] = conv(o.get(name), f"{p}.{name}")
    return HostResources(**kw)


def plain_storage(v: object, p: str) -> object:
    """The storage counters through the converters alone."""
    if v is None:
        return None
    if type(v) is not list:
        raise parse.SnapshotFormatError(p, f"expected a list, got {parse._kind(v)}")
    out = []
    for i, d in enumerate(v):
        if type(d) is not list or len(d) != 3 or type(d[0]) is not str or not 0 < len(d[0]) <= 32:
            raise parse.SnapshotFormatError(f"{p}[{i}]", "expected [key, ticks, operations]")
        ticks, ops = parse._int(d[1], f"{p}[{i}][1]"), parse._int(d[2], f"{p}[{i}][2]")
        if ticks is None or ops is None or not (0 <= ticks < 2**32 and 0 <= ops < 2**32):
            raise parse.SnapshotFormatError(f"{p}[{i}]", "counter outside uint32")
        out.append((d[0], ticks, ops))
    return tuple(out)


@settings(max_examples=300, derandomize=True, deadline=None, database=None)
@given(changes=st.dictionaries(st.sampled_from(list(HostResources.__dataclass_fields__)), ODD, max_size=4))
def test_resources_are_what_the_converters_make(changes: dict) -> None:
    raw = {**copy.deepcopy(EXAMPLE["resources"]), **changes}
    assert outcome(parse._resources, copy.deepcopy(raw), "resources") == \
        outcome(plain_resources, copy.deepcopy(raw), "resources")


@settings(max_examples=300, derandomize=True, deadline=None, database=None)
@given(devices=st.lists(DEVICE, max_size=5))
def test_storage_counters_are_what_the_converters_make(devices: list) -> None:
    p = "resources.storage_latency_raw"
    assert outcome(parse._storage_raw, copy.deepcopy(devices), p) == outcome(plain_storage, copy.deepcopy(devices), p)


@settings(max_examples=200, derandomize=True, deadline=None, database=None)
@given(probes=st.dictionaries(st.sampled_from(["vms", "os", "hotfixes", "cluster"]), ODD, max_size=4))
def test_probe_times_are_what_the_converters_make(probes: dict) -> None:
    def plain(o: dict, p: str) -> object:
        return {str(k): parse._int(v, f"{p}.probes_ms.{k}") for k, v in o["probes_ms"].items()}
    got = outcome(parse._collect_cost, {"cpu_ms": 5, "probes_ms": copy.deepcopy(probes)}, "collect_cost")
    expected = outcome(plain, {"probes_ms": copy.deepcopy(probes)}, "collect_cost")
    if isinstance(expected, tuple) and expected[0] == "error":
        assert got == expected
    else:
        assert isinstance(got, tuple)
        assert got[0].probes_ms == {k: v for k, v in expected[0].items() if v is not None and v >= 0}


@pytest.mark.parametrize("text", ["2024-05-01T10:00:00Z", "2024-05-01T10:00:00.1234567+02:00",
                                  "/Date(1700000000000)/", " 2024-05-01T10:00:00Z ", "2024-13-01T10:00:00Z",
                                  "", "later", 17])
def test_a_last_backup_time_remembered_is_the_one_parsed(text: object) -> None:
    vm = {**copy.deepcopy(EXAMPLE["vms"][0]), "last_backup": text}
    first = outcome(parse._vm, copy.deepcopy(vm), 4)
    again = outcome(parse._vm, copy.deepcopy(vm), 4)
    assert first == again == outcome(parse._vm_tolerant, copy.deepcopy(vm), "vms[4]")


def test_a_bad_vm_is_named_by_its_place_in_the_list() -> None:
    doc = copy.deepcopy(EXAMPLE)
    doc["vms"] = [copy.deepcopy(doc["vms"][0]) for _ in range(5)]
    doc["vms"][3]["cpu_pct"] = "lots"
    with pytest.raises(parse.SnapshotFormatError) as err:
        parse.parse_snapshot(doc)
    assert err.value.field == "vms[3].cpu_pct"
    doc["vms"][3] = "not a VM"
    with pytest.raises(parse.SnapshotFormatError) as err:
        parse.parse_snapshot(doc)
    assert err.value.field == "vms[3]"
    doc["vms"][3] = {**doc["vms"][0], "last_backup": "soon"}
    with pytest.raises(parse.SnapshotFormatError) as err:
        parse.parse_snapshot(doc)
    assert err.value.field == "vms[3].last_backup"
