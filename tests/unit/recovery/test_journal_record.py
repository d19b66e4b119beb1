"""The recovery journal (intent before, outcome after, the open incident found again, the
steps in flight for the maintenance registry) and the incident record (timeline, HTML with
hostile text inert)."""

from __future__ import annotations

import json
import os
import stat
from datetime import datetime, timedelta, timezone

import pytest

from hvconsole.core.recovery import rules
from hvconsole.core.recovery.journal import RecoveryJournal
from hvconsole.core.recovery.record import build_record, to_html, write_record
from hvconsole.recovery.engine import active_recoveries

T0 = datetime(2026, 11, 25, 9, 0, tzinfo=timezone.utc)
VM = "5EC00000-0000-0000-0000-000000000001"
HOSTILE = "<script>alert('x')</script>\"; $(Stop-Computer)\n&amp;"


@pytest.fixture
def journal(tmp_path):
    j = RecoveryJournal(tmp_path / "data" / "recovery-journal.sqlite")
    yield j
    j.close()


def test_intent_then_outcome_and_the_open_incident_is_found_again(journal, tmp_path):
    incident = journal.create_incident("HV01", VM, "SQL-01", who="alice", at=T0)
    assert journal.open_incident("hv01", VM.lower()).id == incident
    action = journal.begin(incident, rules.TURN_OFF, {"why": "test"}, at=T0 + timedelta(seconds=5))
    [row] = journal.actions(incident)
    assert row.in_flight and row.intent == {"why": "test"}
    assert [(i.host, a.step) for i, a in journal.active_steps()] == [("HV01", rules.TURN_OFF)]
    journal.finish(action, rules.OK, {"summary": "done"}, at=T0 + timedelta(seconds=9))
    journal.finish(action, rules.FAILED, {"summary": "rewritten"})       # completed rows never change
    [row] = journal.actions(incident)
    assert (row.outcome, row.evidence["summary"]) == (rules.OK, "done")
    assert journal.active_steps() == []
    journal.close_incident(incident, "recovered", "ok", at=T0 + timedelta(minutes=3))
    assert journal.open_incident("HV01", VM) is None
    # A second process sees the same rows (SQLite WAL).
    other = RecoveryJournal(journal.path)
    assert other.incident(incident).state == "recovered"
    other.close()
    if os.name == "posix":
        assert stat.S_IMODE(journal.path.stat().st_mode) == 0o600
        assert stat.S_IMODE(journal.path.parent.stat().st_mode) == 0o700


def test_bad_steps_and_outcomes_are_refused(journal):
    incident = journal.create_incident("HV01", VM, None)
    with pytest.raises(ValueError):
        journal.begin(incident, "format_c", {})
    action = journal.begin(incident, rules.START, {})
    with pytest.raises(ValueError):
        journal.finish(action, "maybe", {})


def test_active_recoveries_name_the_vm_or_the_host(journal):
    incident = journal.create_incident("HV01", VM, "SQL-01")
    journal.begin(incident, rules.SHUTDOWN, {}, at=T0)
    other = journal.create_incident("HV02", VM.replace("1", "2"), "DB")
    journal.begin(other, rules.RESTART_VMMS, {}, at=T0)
    active = active_recoveries(journal, now=T0 + timedelta(minutes=1))
    assert [(a["host"], a["vm_id"], a["step"]) for a in active] == [
        ("HV01", VM.lower(), rules.SHUTDOWN), ("HV02", None, rules.RESTART_VMMS)]
    assert active_recoveries(journal, now=T0 + timedelta(hours=2)) == []     # a dead process's step


def test_the_record_has_a_timeline_from_the_first_evidence_and_hostile_text_is_inert(journal, tmp_path):
    finding = {"kind": "vm_frozen", "severity": "critical", "first_seen": "2026-11-25T08:55:00Z",
               "vm_name": HOSTILE, "evidence": [f"heartbeat lost for {HOSTILE}"]}
    incident = journal.create_incident("HV01", VM, HOSTILE, finding=finding, who="bob", at=T0)
    a = journal.begin(incident, rules.CAPTURE, {"why": HOSTILE}, at=T0)
    journal.finish(a, rules.OK, {"summary": HOSTILE, "observation": {"state": "Running", "heartbeat": HOSTILE},
                                 "events": [{"time": "2026-11-25T08:54:30.000Z", "id": 18606, "message": HOSTILE}]},
                   at=T0 + timedelta(seconds=2))
    b = journal.begin(incident, rules.TURN_OFF, {"why": "x"}, at=T0 + timedelta(seconds=10))
    journal.finish(b, rules.OK, {"summary": "off", "observation": {"state": "Off"}}, at=T0 + timedelta(seconds=12))
    journal.close_incident(incident, "recovered", "back", at=T0 + timedelta(minutes=4))
    record = build_record(journal.incident(incident), journal.actions(incident))
    times = [row["at"] for row in record["timeline"]]
    assert record["timeline"][0]["what"] == "host event 18606"      # the earliest evidence first
    assert times == sorted(times, key=lambda t: t.replace("Z", "").ljust(23, "0"))
    assert record["before"]["heartbeat"] == HOSTILE and record["after"] == {"state": "Off"}
    page = to_html(record)
    assert "<script>" not in page and "$(Stop-Computer)" in page and "&lt;script&gt;" in page
    assert "&amp;amp;" in page
    json_path, html_path = write_record(record, tmp_path / "incidents")
    assert json.loads(json_path.read_text())["incident"]["vm_name"] == HOSTILE
    assert html_path.read_text() == page
