"""core.health without a site: thresholds, the answer parser's messages, the live tracker,
the merge rule from live history, the report document and the 100-column text."""

from __future__ import annotations

import copy
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import jsonschema
import pytest

from hvconsole.core.health import (AuditContext, AuditFormatError, HealthThresholds, HostAudit, LiveTracker,
                                   ThresholdError, fails, judge_host, parse_audit, report_document, report_text)
from hvconsole.core.health.report import WIDTH
from hvconsole.core.snapshot import Snapshot, VmQuery, VmSample
from hvconsole.sim.model.clock import SimClock
from hvconsole.sim.agent.audit import audit_document
from hvconsole.sim.scenarios.audit import build_well_set_site

SCHEMA = json.loads((Path(__file__).parents[2] / "fixtures" / "contracts" / "audit-v1.schema.json").read_text())
T0 = datetime(2026, 12, 1, 8, 0, tzinfo=timezone.utc)


def answer() -> dict:
    site = build_well_set_site(SimClock.manual(T0))
    with site.acting() as t:
        return audit_document(site.host("GOOD01"), {}, t)[0]


def test_thresholds_from_a_mapping():
    t = HealthThresholds.from_mapping({"checkpoint_age_days": 3, "boot_storm_vms": 6})
    assert t.checkpoint_age_days == 3 and t.boot_storm_vms == 6
    with pytest.raises(ThresholdError, match="did you mean 'checkpoint_depth'"):
        HealthThresholds.from_mapping({"checkpoint_deph": 2})
    with pytest.raises(ThresholdError, match="whole number"):
        HealthThresholds.from_mapping({"boot_storm_vms": 2.5})
    with pytest.raises(ThresholdError, match="must be a number"):
        HealthThresholds.from_mapping({"backup_max_hours": "26"})
    with pytest.raises(ThresholdError, match="negative"):
        HealthThresholds.from_mapping({"backup_max_hours": -1})
    with pytest.raises(ThresholdError, match="JSON object"):
        HealthThresholds.from_mapping([1, 2])


@pytest.mark.parametrize("path, value, field", [
    (("audit_version",), 2, "audit_version"),
    (("host", "logical_processors"), "many", "host.logical_processors"),
    (("vms", 0, "checkpoints"), {"a": 1}, "vms[0].checkpoints"),
    (("vms", 0, "last_backup"), "yesterday", "vms[0].last_backup"),
    (("vms", 0, "memory_startup_mb"), -5, "vms[0].memory_startup_mb"),
    (("host",), None, "host"),
])
def test_a_bad_answer_names_the_field(path, value, field):
    doc = answer()
    node = doc
    for step in path[:-1]:
        node = node[step]
    node[path[-1]] = value
    with pytest.raises(AuditFormatError) as info:
        parse_audit(doc)
    assert info.value.field == field


def snap(at: datetime, demand: float, assigned: float, state: str = "Running") -> Snapshot:
    return Snapshot(host="H", polled_at=at, reachable=True, vm_query=VmQuery(ok=True),
                    vms=(VmSample(id="v1", name="VM1", state=state, memory_demand_mb=demand,
                                  memory_assigned_mb=assigned),))


def test_live_tracker_pressure_run_breaks_on_a_good_poll():
    tracker = LiveTracker("H")
    for i in range(5):
        tracker.observe(snap(T0 + timedelta(minutes=i), 5000, 4000))
    assert tracker.view().vms["v1"].pressure_since == T0
    assert tracker.view().vms["v1"].pressure_peak_mb == 1000
    tracker.observe(snap(T0 + timedelta(minutes=6), 3000, 4000))
    assert "v1" not in tracker.view().vms
    tracker.observe(snap(T0 + timedelta(minutes=7), 3000, 4000, state="PausedCritical"))
    assert tracker.view().vms["v1"].paused_critical_at == T0 + timedelta(minutes=7)


def test_a_merge_seen_across_audits_becomes_stuck():
    doc = answer()
    doc["vms"][0]["merge_in_progress"] = True
    tracker = LiveTracker("GOOD01")
    first = parse_audit(doc)
    tracker.observe_audit(first)
    later = copy.deepcopy(doc)
    host_time = first.host_time + timedelta(minutes=75)
    later["host_time"] = host_time.strftime("%Y-%m-%dT%H:%M:%S.000Z")
    facts = parse_audit(later)
    tracker.observe_audit(facts)
    t = HealthThresholds()
    judgement = judge_host("GOOD01", facts, t, AuditContext(now=host_time, live=tracker.view()))
    stuck = [p for p in judgement.problems if p.rule == "checkpoint-merge-stuck"]
    assert stuck and "75 minutes" in stuck[0].evidence
    # One audit alone: a merge in progress is normal.
    fresh = LiveTracker("GOOD01")
    fresh.observe_audit(first)
    assert not [p for p in judge_host("GOOD01", first, t, AuditContext(now=T0, live=fresh.view())).problems
                if p.rule == "checkpoint-merge-stuck"]


def test_a_maintenance_window_silences_a_paused_node():
    site = build_well_set_site(SimClock.manual(T0))
    site.host("GOODN1").cluster.node_state = "Paused"
    with site.acting() as t:
        facts = parse_audit(audit_document(site.host("GOODN1"), {}, t)[0])
    t = HealthThresholds()
    assert judge_host("GOODN1", facts, t, AuditContext(now=T0)).problems
    assert not judge_host("GOODN1", facts, t, AuditContext(now=T0, in_maintenance=True)).problems


def test_report_document_validates_and_text_fits_100_columns():
    doc = answer()
    doc["vms"][0]["name"] = "EVIL\x1b[2J" + "W" * 120        # a hostile, very long name
    doc["vms"][0]["backup"] = None
    doc["vms"][0]["last_backup"] = None
    facts = parse_audit(doc)
    judgement = judge_host("GOOD01", facts, HealthThresholds(), AuditContext(now=T0))
    ok = HostAudit("GOOD01", T0, answer=doc, facts=facts, judgement=judgement)
    down = HostAudit("HV9", T0, error_kind="timeout", error_message="no answer within 90 s")
    document = report_document([ok, down], HealthThresholds(), T0, "warning")
    jsonschema.Draft202012Validator(SCHEMA).validate(document)
    text = report_text([ok, down])
    assert all(len(line) <= WIDTH for line in text.splitlines()), max(text.splitlines(), key=len)
    assert "\x1b" not in text and "NOT AUDITED" in text
    assert fails([ok], "warning") and not fails([ok], "critical") and not fails([ok], None)
