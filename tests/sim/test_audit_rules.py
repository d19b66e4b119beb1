"""Every health rule fires on its misconfiguration in the simulated site and stays silent on
a well-set one, through the same answer audit.ps1 gives (the simulated host's handler, the
schema, the client's parser, the judge). The demo carries at least five kinds of problem.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema
import pytest

from hvconsole.assets import asset_path
from hvconsole.core.catalog import load_catalog
from hvconsole.core.health import (RULES, AuditContext, HealthThresholds, LiveTracker, judge_host, parse_audit)
from hvconsole.core.health.patching import compliance_for
from hvconsole.remote.collector import snapshot_from_answer
from hvconsole.sim.model.clock import SimClock
from hvconsole.sim.scenarios.demo import build_demo_site
from hvconsole.sim.agent.audit import audit_document
from hvconsole.sim.agent.collect import CollectParams, collect_document
from hvconsole.sim.scenarios.audit import MISCONFIGURATIONS, build_well_set_site

ROOT = Path(__file__).parents[2]
SCHEMA = json.loads((ROOT / "tests" / "fixtures" / "contracts" / "audit-v1.schema.json").read_text())
ANSWER = jsonschema.Draft202012Validator({"$defs": SCHEMA["$defs"], "$ref": "#/$defs/answer"})
UPDATES = load_catalog(asset_path("catalog", "updates.json")).updates


def look(site, host_name: str, tracker: LiveTracker | None = None):
    """Audit and collect one host now, as the console would, and judge it."""
    host = site.host(host_name)
    site.advance()
    with site.acting() as t:
        doc, _ = audit_document(host, {}, t)
        collected, _ = collect_document(host, CollectParams(None, 0, 10000), t)
    errors = sorted(ANSWER.iter_errors(json.loads(json.dumps(doc))), key=str)
    assert not errors, errors[0]
    snap, _ = snapshot_from_answer(collected, host_name, site.now())
    facts = parse_audit(doc)
    context = AuditContext(now=site.now(), compliance=compliance_for(host_name, snap, UPDATES),
                           live=tracker.view() if tracker else None)
    return judge_host(host_name, facts, HealthThresholds(), context)


def poll_live(site, host_name: str, minutes: float) -> LiveTracker:
    tracker = LiveTracker(host_name)
    for _ in range(int(minutes)):
        site.clock.advance(60.0)
        site.advance()
        with site.acting() as t:
            doc, _ = collect_document(site.host(host_name), CollectParams(None, 0, 10000), t)
        tracker.observe(snapshot_from_answer(doc, host_name, site.now())[0])
    return tracker


def test_every_rule_has_a_misconfiguration():
    assert set(MISCONFIGURATIONS) == {r.id for r in RULES}


@pytest.mark.parametrize("host", ["GOOD01", "GOODN1", "GOODN2"])
def test_a_well_set_host_has_no_problem(host):
    site = build_well_set_site()
    tracker = poll_live(site, host, 40)        # live rules get their chance too
    judgement = look(site, host, tracker)
    assert judgement.problems == ()


@pytest.mark.parametrize("rule_id", sorted(MISCONFIGURATIONS))
def test_rule_fires_on_its_misconfiguration(rule_id):
    case = MISCONFIGURATIONS[rule_id]
    site = build_well_set_site()
    host, vm_name = case.apply(site)
    tracker = poll_live(site, host, case.live_minutes) if case.live_minutes else LiveTracker(host)
    judgement = look(site, host, tracker)
    fired = [p for p in judgement.problems if p.rule == rule_id]
    assert fired, f"{rule_id} did not fire; got {[p.rule for p in judgement.problems]}"
    assert any(p.vm_name == vm_name for p in fired), [(p.vm_name, p.evidence) for p in fired]
    for p in fired:
        assert re.search(r"\d", p.evidence) or rule_id in ("ic-service-disabled", "checkpoint-standard",
                                                           "generation-1", "backup-missing", "stop-action-turnoff",
                                                           "host-bpa"), p.evidence
        assert p.fix and p.source
    # The other hosts of the site stay silent: the misconfiguration is where it was put.
    for other in site.hosts:
        if other != host:
            assert look(site, other).problems == (), other


def test_memory_pressure_needs_it_to_last():
    site = build_well_set_site()
    MISCONFIGURATIONS["memory-pressure"].apply(site)
    short = poll_live(site, "GOOD01", 10)
    assert not [p for p in look(site, "GOOD01", short).problems if p.rule == "memory-pressure"]


def test_the_demo_shows_at_least_five_kinds_of_problem():
    site = build_demo_site(clock=SimClock.manual())
    rules, areas = set(), set()
    for name in site.hosts:
        for p in look(site, name).problems:
            rules.add(p.rule)
            areas.add(p.area)
    assert len(rules) >= 5 and len(areas) >= 5, (rules, areas)
    # The deliberate ones (scenarios.audit.configure_demo_health) are all there.
    assert {"checkpoint-old", "dm-unbounded-maximum", "vhd-on-system-drive", "ic-service-disabled",
            "boot-storm", "host-below-target", "host-bpa", "vm-not-clustered", "config-version-old"} <= rules


def test_a_wedged_vmms_fails_the_vm_part_only():
    site = build_well_set_site()
    host = site.host("GOOD01")
    host.vmms_wedged = True
    with site.acting() as t:
        doc, seconds = audit_document(host, {"vm_query_timeout_ms": 2000}, t)
    facts = parse_audit(doc)
    assert not facts.vm_query_ok and "timeout after 2000 ms" in (facts.vm_query_error or "")
    assert facts.vms == () and facts.memory_total_mb
    assert 2.0 <= seconds < 3.0
    judgement = judge_host("GOOD01", facts, HealthThresholds(), AuditContext(now=site.now()))
    assert any("VM query failed" in s for s in judgement.skipped)


def test_every_rule_is_documented_with_its_threshold_and_source():
    doc = (ROOT / "docs" / "health-check.md").read_text(encoding="utf-8")
    for r in RULES:
        assert f"`{r.id}`" in doc, r.id


def test_before_and_after_a_patch_the_fixed_problem_is_named():
    from hvconsole.core.health import HostAudit
    from hvconsole.core.health.compare import compare_audits
    site = build_well_set_site()
    MISCONFIGURATIONS["host-below-target"].apply(site)
    MISCONFIGURATIONS["checkpoint-old"].apply(site)
    before = HostAudit("GOOD01", site.now(), judgement=look(site, "GOOD01"))
    host = site.host("GOOD01")
    host.ubr, host.hotfixes = 3695, ["KB5058385", "KB5061906"]      # what the patch run did
    after = HostAudit("GOOD01", site.now(), judgement=look(site, "GOOD01"))
    diff = compare_audits(before, after)
    assert [p["rule"] for p in diff["fixed"]] == ["host-below-target"]
    assert [p["rule"] for p in diff["still"]] == ["checkpoint-old"] and diff["new"] == []
    json.dumps(diff)
