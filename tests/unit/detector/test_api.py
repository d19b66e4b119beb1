"""The detector's API: live feeding equals replay, feed() reports changes only, the
findings-v1 document is valid, time comes from the snapshots, memory stays bounded."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import jsonschema
import pytest

from hvconsole.core.detector import Detector, Finding, detect
from hvconsole.core.detector.findings import KINDS
from hvconsole.core.trace import read_trace

from .builders import FakeSite
from .conftest import Run

CONTRACTS = Path(__file__).parents[2] / "fixtures" / "contracts"
SCHEMA = json.loads((CONTRACTS / "findings-v1.schema.json").read_text())


def eventful_site() -> tuple[FakeSite, list]:
    """A trace where most rules fire and end at least once."""
    site = FakeSite()
    a, b = site.host("HV01", vms=6), site.host("HV02", vms=4)
    snaps = site.run(60)
    for name in ("HV01-VM00", "HV01-VM01", "HV01-VM02"):
        vm = a.vm(name)
        vm.heartbeat, vm.cpu = "LostCommunication", 0.0
    b.vm("HV02-VM00").state = "Stopping"
    b.vm("HV02-VM01").uptime_frozen = True
    snaps += site.run(120)
    a.vm("HV01-VM00").heartbeat, a.vm("HV01-VM00").cpu = "OkApplicationsHealthy", None
    b.reachable = False
    snaps += site.run(60)
    b.reachable = True
    a.event(site.now, 18560, vm=a.vm("HV01-VM03"))
    snaps += site.run(400)
    return site, snaps


def test_live_feeding_equals_replay():
    _, snaps = eventful_site()
    live = Detector()
    changes: list[Finding] = []
    for s in snaps:
        changes.extend(live.feed(s))
    replay = detect(snaps)
    assert live.all() == replay
    assert len({f.kind for f in replay}) >= 6
    # Every finding that exists was announced by feed(), and each ended one once as ended.
    assert {(f.host, f.vm_id, f.kind, f.first_seen) for f in changes} == \
        {(f.host, f.vm_id, f.kind, f.first_seen) for f in replay}
    ended = [f for f in changes if not f.active]
    assert len(ended) == len([f for f in replay if not f.active])


def test_feed_reports_nothing_while_a_finding_merely_lasts(run: Run):
    h = run.site.host("HV01", vms=1)
    run.run(20)
    vm = h.vm("HV01-VM00")
    vm.heartbeat, vm.cpu = "LostCommunication", 0.0
    run.run(30)
    assert [c.kind for c in run.changes] == ["heartbeat-lost-cpu-flat"]
    run.run(60)  # still frozen, well short of the 2-minute escalation
    assert len(run.changes) == 1
    [f] = run.detector.active()
    assert f.last_seen == run.site.now - timedelta(seconds=5)
    assert f.first_seen == run.changes[0].first_seen


def test_document_is_findings_v1_and_round_trips_through_json():
    _, snaps = eventful_site()
    d = Detector()
    for s in snaps:
        d.feed(s)
    doc = json.loads(json.dumps(d.document()))
    jsonschema.validate(doc, SCHEMA, format_checker=jsonschema.FormatChecker())
    assert doc["schema"] == "hvconsole.findings/1"
    assert all(f["kind"] in KINDS for f in doc["findings"])
    assert [f["first_seen"] for f in doc["findings"]] == sorted(f["first_seen"] for f in doc["findings"])
    host_level = [f for f in doc["findings"] if f["vm_id"] is None]
    assert host_level and all(f["vm_name"] is None for f in host_level)


def test_example_trace_from_the_contracts():
    with (CONTRACTS / "example-trace.jsonl").open("rb") as f:
        found = detect(read_trace(f, strict=True))
    assert [(f.kind, f.vm_name, f.severity) for f in found] == [("guest-crash-events", "SQL01", "warning")]
    assert "18590" in found[0].evidence[0]


def test_out_of_order_and_duplicate_snapshots_are_ignored(run: Run):
    run.site.host("HV01", vms=2)
    snaps = run.site.run(30)
    d = run.detector
    for s in snaps:
        d.feed(s)
    assert d.feed(snaps[2]) == [] and d.feed(snaps[-1]) == []
    assert d.ignored == 2 and d.snapshots == len(snaps)


def test_time_comes_from_polled_at_only(site):
    """The same trace fed twice, shifted by a year, gives the same findings shifted."""
    site.host("HV01", vms=2).vm("HV01-VM00").uptime_frozen = True
    snaps = site.run(120)
    shifted = [s.__class__(**{**{k: getattr(s, k) for k in s.__dataclass_fields__},
                              "polled_at": s.polled_at + timedelta(days=365),
                              "host_time": s.host_time and s.host_time + timedelta(days=365)})
               for s in snaps]
    a, b = detect(snaps), detect(shifted)
    assert [f.kind for f in a] == [f.kind for f in b] == ["uptime-stalled"]
    assert b[0].first_seen - a[0].first_seen == timedelta(days=365)


def test_vm_names_with_control_characters_are_printed_safely(run: Run):
    h = run.site.host("HV01")
    vm = h.add("evil\x1b[2J\nname", heartbeat="LostCommunication", cpu=0.0)
    run.run(60)
    [f] = run.findings()
    assert f.vm_name == vm.name  # the data keeps the real name ...
    run2 = Run(FakeSite())
    hosts = run2.site.host("HV01", vms=0)
    for i in range(3):
        hosts.add(f"bad\x07{i}", heartbeat="LostCommunication", cpu=0.0)
    run2.run(60)
    [wide] = run2.findings(kind="host-wide-failure")
    assert "\x07" not in " ".join(wide.evidence)  # ... evidence text never carries controls


def test_state_of_vanished_vms_and_hosts_is_dropped():
    site = FakeSite()
    d = Detector()
    h = site.host("HV01")
    site.host("GONE", vms=2)
    serial = 0
    for _ in range(100):  # VMs come and go: each lives ~1 minute
        for vm in list(h.vms.values())[:2]:
            del h.vms[vm.id]
        for _ in range(2):
            serial += 1
            h.add(f"VM{serial}")
        for s in site.run(30):
            d.feed(s)
        if "GONE" in site.hosts and serial > 20:
            del site.hosts["GONE"]
    tracked = d._hosts["HV01"].vms  # white-box: the point is what is kept
    assert len(tracked) <= 2 + 2 * (d.thresholds.vm_forget_s / 30 + 2)
    assert "GONE" not in d._hosts


def test_ended_history_is_capped_and_counted():
    site = FakeSite()
    d = Detector(history_limit=5)
    h = site.host("HV01", vms=1)
    vm = h.vm("HV01-VM00")
    for _ in range(8):  # freeze, recover, again
        vm.heartbeat, vm.cpu = "LostCommunication", 0.0
        for s in site.run(40):
            d.feed(s)
        vm.heartbeat, vm.cpu = "OkApplicationsHealthy", None
        for s in site.run(20):
            d.feed(s)
    assert len(d.all()) == 5 and d.dropped_findings == 3


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_every_kind_has_a_description(kind):
    assert KINDS[kind] and kind == kind.lower() and " " not in kind
