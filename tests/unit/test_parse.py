"""The tolerant snapshot parser: what Windows PowerShell 5.1 makes of our JSON must parse,
and anything truly malformed must raise SnapshotFormatError naming the field."""

from __future__ import annotations

import copy
import json
from datetime import datetime, timezone
from pathlib import Path

import jsonschema
import pytest

from hvconsole.core.parse import SnapshotFormatError, parse_snapshot, parse_snapshot_json

FIXTURES = Path(__file__).parent.parent / "fixtures" / "contracts"
SCHEMA = json.loads((FIXTURES / "snapshot-v1.schema.json").read_text())


@pytest.fixture()
def snap() -> dict:
    line = (FIXTURES / "example-trace.jsonl").read_text().splitlines()[0]
    return json.loads(line)


def test_example_trace_round_trips_to_a_valid_snapshot(snap):
    parsed = parse_snapshot(snap)
    assert parsed.host == "HV01"
    assert parsed.os.build == 20348 and parsed.os.ubr == 3692
    assert [vm.name for vm in parsed.vms] == ["DC01", "SQL01", "TEST-LINUX"]
    out = parsed.to_dict()
    jsonschema.validate(out, SCHEMA)
    assert parse_snapshot(out) == parsed


def test_enum_integers_are_mapped_to_names(snap):
    vm = snap["vms"][0]
    vm.update(state=2, heartbeat=6, health=25, automatic_start_action=3, automatic_stop_action=3,
              operational_status=[2, 32774])
    snap["services"]["vmms"] = 4
    snap["events"] = [{"time": "2026-11-25T09:00:00Z", "log": "System", "id": 41, "level": 1}]
    parsed = parse_snapshot(snap)
    assert parsed.vms[0].state == "Running"
    assert parsed.vms[0].heartbeat == "OkApplicationsHealthy"  # PowerShell table, not WMI's
    assert parsed.vms[0].health == "CriticalFailure"
    assert parsed.vms[0].operational_status == ("Ok", "MigratingVirtualMachine")
    assert parsed.services["vmms"] == "Running"
    assert parsed.events[0].level == "Critical"
    jsonschema.validate(parsed.to_dict(), SCHEMA)


def test_ps51_date_form_and_timespan_uptime(snap):
    snap["os"]["last_boot"] = "/Date(1748000000000)/"
    snap["vms"][0]["uptime_s"] = {"Ticks": 4310000000000, "TotalSeconds": 431000.0}
    snap["vms"][1]["uptime_s"] = {"Ticks": 10_000_000}
    parsed = parse_snapshot(snap)
    assert parsed.os.last_boot == datetime.fromtimestamp(1748000000, tz=timezone.utc)
    assert parsed.vms[0].uptime_s == 431000
    assert parsed.vms[1].uptime_s == 1


def test_lone_object_and_value_count_wrapper_become_lists(snap):
    lone = copy.deepcopy(snap)
    lone["vms"] = snap["vms"][0]
    assert len(parse_snapshot(lone).vms) == 1
    wrapped = copy.deepcopy(snap)
    wrapped["vms"] = {"value": snap["vms"], "Count": 3}
    wrapped["os"]["hotfixes"] = "KB5058385"
    parsed = parse_snapshot(wrapped)
    assert len(parsed.vms) == 3
    assert parsed.os.hotfixes == ("KB5058385",)


def test_null_metrics_stay_unknown_not_zero(snap):
    snap["resources"]["cpu_total_run_pct"] = None
    snap["vms"][0]["cpu_pct"] = None
    parsed = parse_snapshot(snap)
    assert parsed.resources.cpu_total_run_pct is None
    assert parsed.vms[0].cpu_pct is None
    assert parsed.to_dict()["vms"][0]["cpu_pct"] is None


def test_unknown_extra_keys_are_kept_and_ignored(snap):
    snap["future_field"] = {"x": 1}
    snap["vms"][0]["future_vm_field"] = 5
    parsed = parse_snapshot(snap)
    assert parsed.to_dict()["future_field"] == {"x": 1}


def test_unreachable_snapshot(snap):
    bad = {"schema": "hvconsole.snapshot/1", "host": "HV02", "polled_at": "2026-11-25T09:00:00Z",
           "reachable": False, "error": {"kind": "timeout", "message": "no answer in 30 s", "elapsed_ms": 30000},
           "vms": []}
    parsed = parse_snapshot(bad)
    assert not parsed.reachable and parsed.error.kind == "timeout"
    jsonschema.validate(parsed.to_dict(), SCHEMA)


@pytest.mark.parametrize(("mutate", "field"), [
    (lambda s: s.pop("host"), "host"),
    (lambda s: s.update(polled_at="yesterday"), "polled_at"),
    (lambda s: s.update(reachable="maybe"), "reachable"),
    (lambda s: s.update(vms=42), "vms"),
    (lambda s: s["vms"].append("not a vm"), "vms[3]"),
    (lambda s: s["vms"][1].pop("state"), "vms[1].state"),
    (lambda s: s["vms"][1].update(cpu_pct="lots"), "vms[1].cpu_pct"),
    (lambda s: s["vms"][1].update(name={"a": 1}), "vms[1].name"),
    (lambda s: s["os"].update(build=[1]), "os.build"),
    (lambda s: s.update(error={"kind": "explosion", "message": "x"}), "error.kind"),
    (lambda s: s.update(schema="hvconsole.snapshot/2"), "schema"),
    (lambda s: s.update(events=[{"time": "2026-11-25T09:00:00Z", "log": "System", "id": 1, "level": "Loud"}]), "events[0].level"),
])
def test_malformed_input_names_the_field(snap, mutate, field):
    mutate(snap)
    with pytest.raises(SnapshotFormatError) as info:
        parse_snapshot(snap)
    assert info.value.field == field
    assert field in str(info.value)


@pytest.mark.parametrize("text", [b"", b"{", b"\xff\xfe", b"[1,2]", b"null", b'"text"', b"[" * 100000,
                                  b'{"host": "' + b"9" * 5000 + b'"}', b'{"host": ' + b"9" * 5000 + b"}"])
def test_garbage_json_is_one_clear_error(text):
    with pytest.raises(SnapshotFormatError):
        parse_snapshot_json(text)


def test_hostile_names_are_kept_verbatim(snap):
    snap["vms"][0]["name"] = "a'; Stop-Computer -Force; '<script>"
    parsed = parse_snapshot(snap)
    assert parsed.vms[0].name == "a'; Stop-Computer -Force; '<script>"


@pytest.mark.parametrize(("field", "value"), [
    ("state", float("inf")), ("state", float("nan")), ("cpu_pct", 10 ** 400), ("heartbeat", "\u00b2"),
    ("memory_assigned_mb", "1e999999"),
])
def test_numeric_edge_cases_never_escape_as_raw_exceptions(snap, field, value):
    snap["vms"][0][field] = value
    try:
        parsed = parse_snapshot(snap)
    except SnapshotFormatError as exc:
        assert exc.field == f"vms[0].{field}"
    else:  # tolerated values must come out as unknown or as text, never as garbage numbers
        got = getattr(parsed.vms[0], field)
        assert got is None or isinstance(got, str)


def test_json_edge_numbers_in_a_line(snap):
    text = json.dumps(snap).replace('"cpu_pct": 3', '"cpu_pct": 1e400').replace('"uptime_s": 431000', '"uptime_s": NaN', 1)
    parsed = parse_snapshot_json(text)
    assert parsed.vms[0].cpu_pct is None and parsed.vms[0].uptime_s is None


@pytest.mark.parametrize("text, written", [
    ("/Date(-62135596800000)/", "0001-01-01T00:00:00.000Z"),     # PowerShell's DateTime.MinValue
    ("0999-05-01T12:00:00.5Z", "0999-05-01T12:00:00.500Z"),
    ("9999-12-31T23:59:59.999Z", "9999-12-31T23:59:59.999Z"),
])
def test_extreme_times_are_written_so_that_they_read_back(snap, text: str, written: str):
    snap["vms"][0]["last_backup"] = text
    parsed = parse_snapshot(snap)
    out = parsed.to_dict()
    assert out["vms"][0]["last_backup"] == written
    assert parse_snapshot(out) == parsed


@pytest.mark.parametrize("field, value", [
    ("polled_at", "/Date(99999999999999999999)/"), ("polled_at", "/Date(-99999999999999999999)/"),
    ("host_time", "0001-01-01T00:00:00+01:00"), ("host_time", "9999-12-31T23:59:59-01:00"),
    ("host_time", "/Date(253402300800000)/"),
])
def test_times_beyond_a_datetime_are_a_format_error_naming_the_field(snap, field: str, value: str):
    snap[field] = value
    with pytest.raises(SnapshotFormatError) as info:
        parse_snapshot(snap)
    assert info.value.field == field and info.value.problem.startswith("time out of range")


def test_huge_numbers_in_text_or_objects_are_format_errors(snap):
    snap["vms"][0]["state"] = "9" * 5000                 # a digit text an enum would have converted
    assert parse_snapshot(snap).vms[0].state == "9" * 5000  # kept as an unknown name, not int()'d
    snap["vms"][0]["state"] = 10 ** 4000
    with pytest.raises(SnapshotFormatError, match="number out of range"):
        parse_snapshot(snap)
    snap["vms"][0]["state"] = "Running"
    snap["vms"][0]["name"] = 10 ** 4000                  # str() of it would raise ValueError
    with pytest.raises(SnapshotFormatError, match="vms\\[0\\].name: number out of range"):
        parse_snapshot(snap)
