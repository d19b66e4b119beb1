"""The scenario library: every scenario records to valid snapshot-v1, each freeze is
visible in the data from its onset on (and not before), and each look-alike shows its
benign signature without any freeze signature."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from pathlib import Path
from typing import Callable

import jsonschema
import pytest

from hvconsole.core.timeutil import parse_time
from hvconsole.sim.record import record
from hvconsole.sim.scenarios.freeze import SCENARIO_START, SCENARIOS, Scenario

SCHEMA = json.loads((Path(__file__).parents[1] / "fixtures/contracts/snapshot-v1.schema.json").read_text())
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA, format_checker=jsonschema.FormatChecker())
FREEZES = [n for n, s in SCENARIOS.items() if s.kind == "freeze"]
LOOKALIKES = [n for n, s in SCENARIOS.items() if s.kind == "lookalike"]


@lru_cache(maxsize=None)
def trace(name: str, seed: int = 1) -> tuple[dict, ...]:
    scenario = SCENARIOS[name]
    return tuple(record(scenario.build(seed), seconds=scenario.duration_s, interval=5.0))


def at_s(snap: dict) -> float:
    return (parse_time(snap["polled_at"]) - SCENARIO_START).total_seconds()


def vm(snap: dict, name: str) -> dict | None:
    return next((v for v in snap["vms"] if v["name"] == name), None)


def app01(pred: Callable[[dict], bool]) -> Callable[[dict], bool]:
    def check(snap: dict) -> bool:
        v = vm(snap, "APP01")
        return snap["reachable"] and v is not None and pred(v)
    return check


def _wedged(snap: dict) -> bool:
    return snap["reachable"] and not snap["vm_query"]["ok"] and snap["services"]["vmms"] == "Running"


def _hung(snap: dict) -> bool:
    return not snap["reachable"] and snap["error"]["kind"] == "timeout"


def _host_wide(snap: dict) -> bool:
    lost = [v for v in snap["vms"] if v["heartbeat"] == "LostCommunication"]
    return snap["reachable"] and len(lost) == 4


def _triple_fault(snap: dict) -> bool:
    return app01(lambda v: v["heartbeat"] == "NoContact" and v["uptime_s"] < 60)(snap)


# What each freeze looks like in one snapshot; settle_s: how long after onset it takes.
FREEZE_SIGNS: dict[str, tuple[Callable[[dict], bool], float]] = {
    "heartbeat-lost-cpu-flat": (app01(lambda v: v["heartbeat"] == "LostCommunication" and v["cpu_pct"] == 0), 20),
    "heartbeat-lost-cpu-pegged": (app01(lambda v: v["heartbeat"] == "LostCommunication" and v["cpu_pct"] >= 98), 20),
    "critical-state": (app01(lambda v: v["state"] == "RunningCritical" and v["health"] == "CriticalFailure"
                             and "CommunicationTimedOut" in v["operational_status"]), 10),
    "stuck-stopping": (app01(lambda v: v["state"] == "Stopping"), 10),
    "stuck-starting": (app01(lambda v: v["state"] == "Starting"), 10),
    "vmms-wedged": (_wedged, 20),
    "host-hung": (_hung, 20),
    "host-wide-freeze": (_host_wide, 25),
    "triple-fault-loop": (_triple_fault, 30),
    "crash-never-boots": (app01(lambda v: v["state"] == "Running" and v["heartbeat"] == "NoContact"
                                and v["cpu_pct"] == 0 and v["uptime_s"] < 600), 10),
    "storage-full-paused": (lambda s: s["reachable"] and any(
        v["name"] == "FILE01" and v["state"] == "PausedCritical" and v["health"] == "CriticalFailure"
        for v in s["vms"]), 10),
}


def test_every_scenario_is_described_and_labelled() -> None:
    assert set(FREEZE_SIGNS) | {"uptime-stalled"} == set(FREEZES)
    assert set(LOOKALIKES) == {"vm-booting", "no-integration-services", "idle-vm", "guest-reboot",
                               "planned-shutdown", "live-migration", "ok-applications-critical",
                               "single-lost-poll", "host-patch-reboot", "crash-then-boots"}
    for s in SCENARIOS.values():
        assert s.description and s.kind in ("freeze", "lookalike")
        if s.kind == "freeze":
            assert 20 <= s.onset_s <= 60 and s.expect
            assert all(e.severity == "critical" for e in s.expect)
        else:
            assert s.expect == ()


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_scenario_records_valid_ordered_snapshots(name: str) -> None:
    snaps = trace(name)
    assert snaps
    for snap in snaps:
        VALIDATOR.validate(snap)
    for host in SCENARIOS[name].hosts:
        times = [s["polled_at"] for s in snaps if s["host"] == host]
        assert times == sorted(times) and len(times) >= 20
    all_times = [s["polled_at"] for s in snaps]
    assert all_times == sorted(all_times)


@pytest.mark.parametrize("name", list(FREEZE_SIGNS))
def test_freeze_is_visible_from_its_onset_and_not_before(name: str) -> None:
    sign, settle_s = FREEZE_SIGNS[name]
    onset = SCENARIOS[name].onset_s
    host_snaps = [s for s in trace(name) if s["host"] == "HV01"]
    before = [s for s in host_snaps if at_s(s) < onset]
    after = [s for s in host_snaps if at_s(s) > onset + settle_s]
    assert before and after
    assert not any(sign(s) for s in before)
    assert all(sign(s) for s in after), name


def test_uptime_stalled_shows_a_running_vm_whose_uptime_stops() -> None:
    snaps = [s for s in trace("uptime-stalled") if s["reachable"]]
    onset = SCENARIOS["uptime-stalled"].onset_s
    early = [vm(s, "APP01")["uptime_s"] for s in snaps if at_s(s) < onset]
    late = [vm(s, "APP01") for s in snaps if at_s(s) > onset + 5]
    assert early == sorted(early) and len(set(early)) == len(early)
    assert len({v["uptime_s"] for v in late}) == 1 and all(v["state"] == "Running" for v in late)


def test_host_wide_freeze_comes_with_worker_and_compute_errors() -> None:
    events = [e for s in trace("host-wide-freeze") if s["reachable"] for e in s["events"]]
    worker = [e for e in events if e["log"].endswith("Worker-Admin") and e["level"] == "Error"]
    compute = [e for e in events if e["log"].endswith("Compute-Admin")]
    assert len(worker) == 4 and len(compute) == 4
    assert all(e["vm_id"] for e in worker + compute)


def test_triple_fault_loop_repeats_18560() -> None:
    resets = [e for s in trace("triple-fault-loop") if s["reachable"] for e in s["events"] if e["id"] == 18560]
    assert len(resets) >= 4 and all(e["level"] == "Critical" for e in resets)


def _freeze_signs_at_end(snaps: tuple[dict, ...]) -> list[str]:
    """Any freeze signature in the last minute of a look-alike trace."""
    end = max(at_s(s) for s in snaps)
    problems = []
    for s in snaps:
        if at_s(s) < end - 60:
            continue
        if not s["reachable"]:
            problems.append(f"{s['host']} unreachable")
            continue
        if _wedged(s):
            problems.append("vm query failing")
        for v in s["vms"]:
            if v["heartbeat"] == "LostCommunication" or v["state"] not in ("Running", "Off", "Saved"):
                problems.append(f"{v['name']} {v['state']} {v['heartbeat']}")
    return problems


@pytest.mark.parametrize("name", LOOKALIKES)
def test_lookalike_ends_without_any_freeze_signature(name: str) -> None:
    assert _freeze_signs_at_end(trace(name)) == []


def test_lookalike_signatures() -> None:
    booting = [vm(s, "APP01") for s in trace("vm-booting")]
    assert {"Off", "Starting", "Running"} <= {v["state"] for v in booting}
    assert any(v["heartbeat"] == "NoContact" for v in booting)
    appliance = [vm(s, "LB-APPLIANCE-01") for s in trace("no-integration-services")]
    assert all(v["heartbeat"] == "NoContact" and v["cpu_pct"] > 0 for v in appliance)
    idle = [vm(s, "KMS01") for s in trace("idle-vm")]
    assert all(v["cpu_pct"] == 0 and v["heartbeat"] == "OkApplicationsHealthy" for v in idle)
    rebooted = [vm(s, "APP01") for s in trace("guest-reboot")]
    assert any(v["heartbeat"] == "NoContact" for v in rebooted) and rebooted[-1]["uptime_s"] < 600
    shutdown = [vm(s, "APP01") for s in trace("planned-shutdown")]
    assert shutdown[-1]["state"] == "Off" and sum(v["state"] == "Stopping" for v in shutdown) <= 8
    critical = [vm(s, "APP01") for s in trace("ok-applications-critical")]
    assert critical[-1]["heartbeat"] == "OkApplicationsCritical"


def test_live_migration_moves_the_vm_to_the_other_host() -> None:
    snaps = trace("live-migration")
    on_hv01 = [vm(s, "APP01") for s in snaps if s["host"] == "HV01"]
    on_hv02 = [vm(s, "APP01") for s in snaps if s["host"] == "HV02"]
    assert any(v and "MigratingVirtualMachine" in v["operational_status"] for v in on_hv01)
    assert on_hv01[-1] is None and on_hv02[-1] is not None and on_hv02[0] is None
    ids = {v["id"] for v in on_hv01 + on_hv02 if v}
    assert len(ids) == 1


def test_single_lost_poll_loses_exactly_one_poll() -> None:
    lost = [s for s in trace("single-lost-poll") if not s["reachable"]]
    assert len(lost) == 1 and lost[0]["error"]["kind"] == "timeout"


def test_host_patch_reboot_stays_inside_its_maintenance_window() -> None:
    scenario = SCENARIOS["host-patch-reboot"]
    begin, end = scenario.maintenance[0].times(SCENARIO_START)
    snaps = trace("host-patch-reboot")
    refused = [s for s in snaps if not s["reachable"]]
    assert refused and all(s["error"]["kind"] == "refused" for s in refused)
    assert all(begin <= parse_time(s["polled_at"]) <= end for s in refused)
    first, last = snaps[0], snaps[-1]
    assert (first["os"]["ubr"], last["os"]["ubr"]) == (3692, 3695)
    assert "KB5061906" in last["os"]["hotfixes"] and last["os"]["pending_reboot"] is False
    assert parse_time(last["os"]["last_boot"]) > parse_time(first["os"]["last_boot"])
    pending = [s for s in snaps if s["reachable"] and s["os"]["pending_reboot"]]
    assert pending                                   # installed, waiting for its reboot
    assert any(s["reachable"] and s["services"]["vmms"] == "StartPending" for s in snaps)
    assert all(v["state"] == "Running" for v in last["vms"])


def test_same_seed_same_trace_other_seed_other_trace() -> None:
    scenario: Scenario = SCENARIOS["heartbeat-lost-cpu-pegged"]
    again = tuple(record(scenario.build(1), seconds=scenario.duration_s, interval=5.0))
    assert again == trace("heartbeat-lost-cpu-pegged")
    other = tuple(record(scenario.build(2), seconds=scenario.duration_s, interval=5.0))
    assert other != again


def test_build_accepts_a_start_time() -> None:
    start = datetime(2027, 3, 1, 14, 0, tzinfo=timezone.utc)
    site = SCENARIOS["idle-vm"].build(1, start)
    assert site.now() == start
    snaps = list(record(site, seconds=10, interval=5))
    assert parse_time(snaps[0]["polled_at"]) - start < timedelta(seconds=2)
