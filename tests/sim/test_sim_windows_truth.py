"""The simulated host reports what a real one does for issue 11: FailoverClustering levels
as Microsoft lists them, 1135 with the removed node as its first insertion string,
confidential VMs and BitLocker-protected CSVs in the collect answer (through the real
command line and parser, ``record``)."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema

from hvconsole.core.parse import parse_snapshot
from hvconsole.sim.model.events import CATALOG
from hvconsole.sim.record import record
from hvconsole.sim.scenarios.freeze import SCENARIOS

SCHEMA = json.loads((Path(__file__).parents[1] / "fixtures/contracts/snapshot-v1.schema.json").read_text())

# Microsoft Learn, "Failover Clustering system log events".
CLUSTER_LEVELS = {1069: "Error", 1205: "Error", 1230: "Error",
                  1135: "Critical", 1146: "Critical", 1177: "Critical", 1672: "Critical"}


def test_cluster_events_carry_microsofts_levels():
    listed = {k.id: k.level for k in CATALOG.values() if k.provider == "Microsoft-Windows-FailoverClustering"}
    assert {i: listed.get(i) for i in CLUSTER_LEVELS if i in listed} == {
        i: lvl for i, lvl in CLUSTER_LEVELS.items() if i in listed}
    assert listed[1672] == "Critical" and listed[1135] == "Critical"


def test_collect_answer_carries_the_applicability_facts_and_the_removed_node():
    site = SCENARIOS["live-migration"].build(seed=3)      # two nodes of one cluster
    hv01, hv02 = site.host("HV01"), site.host("HV02")
    hv01.cluster.bitlocker_csvs = 2
    hv01.vms[0].confidential = True
    site.at(12.0, lambda t: hv01.events.write(t, "cluster_node_removed", node="HV02"))
    docs = [d for d in record(site, seconds=30, interval=5.0) if d["host"] == "HV01" and d["reachable"]]
    for d in docs:
        jsonschema.validate(d, SCHEMA)
    last = parse_snapshot(docs[-1])
    assert last.cluster.bitlocker_csvs == 2
    assert [vm.confidential for vm in last.vms][:1] == [True]
    assert all(vm.confidential is False for vm in last.vms[1:])
    removed = [e for d in docs for e in parse_snapshot(d).events if e.id == 1135]
    assert [(e.first_insertion_string, e.level) for e in removed] == [("HV02", "Critical")]
    assert hv02.cluster.bitlocker_csvs == 0
