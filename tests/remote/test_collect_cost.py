"""collect.ps1 measures its own cost (issue 17 item 3): the snapshot carries it as the
optional ``collect_cost`` (snapshot-v1.1), the simulated host reports plausible values
through the real client, and the window's sentence is made from it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hvconsole.core.parse import SnapshotFormatError, parse_snapshot
from hvconsole.remote import loader
from hvconsole.remote.collector import Collector
from hvconsole.remote.monitoring_cost import interval_for_share, monitoring_cost
from hvconsole.remote.probe import target_for
from hvconsole.sim.model.vm import SimVM
from tests.integration.simhost import sim_endpoint

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "contracts"
pytestmark = pytest.mark.timeout(120)


def example() -> dict:
    return json.loads((FIXTURES / "example-trace.jsonl").read_text(encoding="utf-8").splitlines()[0])


def test_snapshot_round_trips_the_cost_and_older_snapshots_stay_unchanged():
    doc = example()
    doc.pop("collect_cost", None)
    plain = parse_snapshot(doc)
    assert plain.collect_cost is None and "collect_cost" not in plain.to_dict()
    doc["collect_cost"] = {"cpu_ms": 420, "peak_working_set_mb": 101.5, "probes_ms": {"os": 30, "events": 12}}
    snap = parse_snapshot(doc)
    assert snap.collect_cost.cpu_ms == 420 and snap.collect_cost.peak_working_set_mb == 101.5
    assert dict(snap.collect_cost.probes_ms) == {"os": 30, "events": 12}
    assert parse_snapshot(snap.to_dict()) == snap and snap.to_dict()["collect_cost"] == doc["collect_cost"]


def test_a_broken_counter_is_unknown_and_a_wrong_type_is_named():
    doc = example()
    doc["collect_cost"] = {"cpu_ms": -5, "peak_working_set_mb": "97.2", "probes_ms": {"os": -1, "events": 3}}
    cost = parse_snapshot(doc).collect_cost
    assert cost.cpu_ms is None and cost.peak_working_set_mb == 97.2 and dict(cost.probes_ms) == {"events": 3}
    doc["collect_cost"] = {"cpu_ms": "lots"}
    with pytest.raises(SnapshotFormatError) as err:
        parse_snapshot(doc)
    assert err.value.field == "collect_cost.cpu_ms"


def test_collect_ps1_reads_its_own_process_at_the_end():
    body = loader.script_body("collect")
    assert "collect_cost = $cost" in body
    assert "TotalProcessorTime.TotalMilliseconds" in body and "PeakWorkingSet64" in body
    # the cost is read after every stage ended, just before the document is built
    assert body.index("$stageEnds['cluster']") < body.index("$cost = Get-OwnCost") < body.index("collect_cost = $cost")


def test_the_simulated_host_reports_plausible_costs_through_the_client(snapshot_validator):
    with sim_endpoint() as sim:
        collector = Collector(target_for(sim.host(), sim.password), timeout_s=20, clock=sim.site.clock.now)
        try:
            idle = collector.poll()
            for i in range(40):
                sim.sim.add_vm(SimVM(f"vm-{i:02d}", f"00000000-0000-0000-0000-{i:012d}"))
            busy = collector.poll()
        finally:
            collector.close()
    for snap in (idle, busy):
        assert snap.reachable, snap.error
        snapshot_validator.validate(snap.to_dict())
        cost = snap.collect_cost
        assert cost is not None and 200 <= cost.cpu_ms <= 3000 and 60 <= cost.peak_working_set_mb <= 400
        assert set(cost.probes_ms) == {"params", "vm_query_start", "services", "os", "resources", "events",
                                       "vm_query", "cluster"}
        assert abs(sum(cost.probes_ms.values()) - snap.collect_ms) <= 0.02 * snap.collect_ms + 8
    assert busy.collect_cost.cpu_ms > idle.collect_cost.cpu_ms
    assert busy.collect_cost.peak_working_set_mb > idle.collect_cost.peak_working_set_mb


def test_the_window_sentence_and_the_interval_it_suggests():
    doc = example()
    snaps = []
    for cpu in (380, 420, 400):
        doc["collect_cost"] = {"cpu_ms": cpu, "peak_working_set_mb": 100.0 + cpu / 100, "probes_ms": {}}
        snaps.append(parse_snapshot(doc))
    cost = monitoring_cost(snaps, 5.0)
    assert cost.text() == "monitoring costs 0.4 s of CPU per poll, 8 % of one core at 5 s"
    assert cost.high and cost.suggestion() == "raise the poll interval to 8 s to keep it under 5 % of one core"
    assert cost.peak_working_set_mb == 104.2 and cost.polls == 3
    relaxed = monitoring_cost(snaps, 30.0)
    assert not relaxed.high and relaxed.suggestion() == "" and "1 % of one core at 30 s" in relaxed.text()
    assert monitoring_cost([parse_snapshot(example())], 5.0) is None
    assert interval_for_share(0.4, 0.05) == 8.0
    with pytest.raises(ValueError):
        monitoring_cost(snaps, 0)
