"""The parser's per-VM fast path (``core.parse._vm``) against the tolerant path it skips
(``_vm_tolerant``): for every VM object, well-formed or not, both give the same VmSample
or the same SnapshotFormatError."""

from __future__ import annotations

import copy
import json
import pickle
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hvconsole.core import parse
from hvconsole.core.snapshot import VmSample, positional_maker

FIXTURES = Path(__file__).parent.parent / "fixtures" / "contracts"
EXAMPLE = json.loads((FIXTURES / "example-trace.jsonl").read_text().splitlines()[0])
VM = next(v for v in EXAMPLE["vms"] if v.get("state") == "Running")
FIELDS = [*VM, "confidential"]

ODD_VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(-2**60, 2**60), st.sampled_from([2**53, -2**53, 2**70]),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=12),
    st.sampled_from(["Running", "Off", "Ok", "OkApplicationsHealthy", "StartIfRunning", "Save", " Running",
                     "running", "2", "3", "/Date(1700000000000)/", "2024-05-01T10:00:00Z", "NaN",
                     "/Date(99999999999999999999)/", "2024-13-01T10:00:00Z"]),
    st.lists(st.sampled_from(["Ok", "InService", "Stressed", 2, None, "x"]), max_size=3),
    st.dictionaries(st.sampled_from(["TotalSeconds", "Ticks", "value", "Count"]), st.integers(0, 10**6),
                    max_size=2),
)


def outcome(fn: Any, raw: object) -> object:
    try:
        return fn(raw, "vms[0]")
    except parse.SnapshotFormatError as exc:
        return ("error", exc.field, exc.problem)


def test_the_example_vms_take_the_fast_path_and_equal_the_tolerant_one():
    for raw in EXAMPLE["vms"]:
        assert parse._vm(copy.deepcopy(raw), "vms[0]") == parse._vm_tolerant(copy.deepcopy(raw), "vms[0]")


@settings(max_examples=300, derandomize=True, deadline=None, database=None)
@given(changes=st.dictionaries(st.sampled_from(FIELDS), ODD_VALUES, max_size=3),
       dropped=st.lists(st.sampled_from(FIELDS), max_size=2))
def test_any_vm_object_gives_what_the_tolerant_path_gives(changes: dict, dropped: list):
    raw = {**copy.deepcopy(VM), **changes}
    for name in dropped:
        raw.pop(name, None)
    fast, tolerant = outcome(parse._vm, copy.deepcopy(raw)), outcome(parse._vm_tolerant, copy.deepcopy(raw))
    assert fast == tolerant
    if isinstance(fast, VmSample):    # the same object, field by field and by type
        assert [type(getattr(fast, f)) for f in VmSample.__slots__] == \
            [type(getattr(tolerant, f)) for f in VmSample.__slots__]


@pytest.mark.parametrize("raw", [None, [], "vm", 3, {"id": "x"}])
def test_what_is_not_a_vm_object_is_the_tolerant_paths_error(raw):
    assert outcome(parse._vm, raw) == outcome(parse._vm_tolerant, raw)


def test_positional_maker_makes_the_object_the_class_makes():
    make = positional_maker(VmSample)
    values = tuple(getattr(parse._vm_tolerant(copy.deepcopy(VM), "vms[0]"), f) for f in VmSample.__slots__)
    made, built = make(*values), VmSample(*values)
    assert made == built and hash(made) == hash(built) and repr(made) == repr(built)
    assert pickle.loads(pickle.dumps(made)) == built
    with pytest.raises(AttributeError):     # still frozen
        made.name = "other"  # type: ignore[misc]
