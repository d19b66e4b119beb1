"""The optional facts added for catalog applicability and cluster events (issue 11): a
confidential VM, BitLocker-protected CSVs, an event's first insertion string. They parse,
round-trip, stay valid against the contract, and are absent (not null) when unknown."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema

from hvconsole.core.parse import parse_snapshot

FIXTURES = Path(__file__).parent.parent / "fixtures" / "contracts"
SCHEMA = json.loads((FIXTURES / "snapshot-v1.schema.json").read_text())


def _snap() -> dict:
    return json.loads((FIXTURES / "example-trace.jsonl").read_text().splitlines()[0])


def test_optional_facts_parse_and_round_trip():
    raw = _snap()
    raw["vms"][0]["confidential"] = True
    raw["vms"][1]["confidential"] = False
    raw["cluster"] = {"name": "HVCL", "node_state": "Up", "drain_status": "NotInitiated", "bitlocker_csvs": 2}
    raw["events"] = [{"time": "2026-11-25T09:00:00Z", "log": "System", "id": 1135, "level": "Critical",
                      "provider": "Microsoft-Windows-FailoverClustering", "first_insertion_string": "HV02"}]
    snap = parse_snapshot(raw)
    assert [vm.confidential for vm in snap.vms] == [True, False, None]
    assert snap.cluster.bitlocker_csvs == 2
    assert snap.events[0].first_insertion_string == "HV02"
    out = snap.to_dict()
    jsonschema.validate(out, SCHEMA)
    assert parse_snapshot(out) == snap
    assert "confidential" not in out["vms"][2]


def test_unknown_facts_are_absent_not_null():
    out = parse_snapshot(_snap()).to_dict()
    assert all("confidential" not in vm for vm in out["vms"])
    assert all("first_insertion_string" not in e for e in out["events"])
    assert out["cluster"] is None or "bitlocker_csvs" not in out["cluster"]
