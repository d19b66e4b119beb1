"""The labelled scenario suite (``hvconsole.sim.scenarios.freeze``), recorded at 5 s polls:
every freeze gets a critical finding on the right host or VM within 60 s of its onset (a
stuck transition: of passing its threshold), with evidence that names the signals that
fired; no look-alike produces a critical; feeding live equals replaying."""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import lru_cache

import pytest

from hvconsole.core.detector import DEFAULT_THRESHOLDS, Detector, Finding, detect
from hvconsole.core.maintenance import MaintenanceRegistry
from hvconsole.core.parse import parse_snapshot
from hvconsole.core.snapshot import Snapshot
from hvconsole.sim.record import record
from hvconsole.sim.scenarios.freeze import SCENARIO_START, SCENARIOS

START: datetime = SCENARIO_START
INTERVAL = 5.0
LATENCY_S = 60.0
FREEZES = sorted(n for n, s in SCENARIOS.items() if s.kind == "freeze")
LOOKALIKES = sorted(n for n, s in SCENARIOS.items() if s.kind == "lookalike")

# What each freeze must be recognised as: the kind, and words its evidence must contain.
# A scenario added later without an entry here fails test_every_freeze_is_labelled.
SIGNALS: dict[str, tuple[str, tuple[str, ...]]] = {
    "heartbeat-lost-cpu-flat": ("heartbeat-lost-cpu-flat", ("LostCommunication", "CPU 0.0 %", "halted")),
    "heartbeat-lost-cpu-pegged": ("heartbeat-lost-cpu-pegged", ("LostCommunication", "pegged")),
    "uptime-stalled": ("uptime-stalled", ("uptime", "advanced 0 s")),
    "critical-state": ("vm-critical-state", ("RunningCritical", "CriticalFailure", "CommunicationTimedOut")),
    "stuck-stopping": ("stuck-transition", ("state Stopping since",)),
    "stuck-starting": ("stuck-transition", ("state Starting since",)),
    "vmms-wedged": ("vmms-unresponsive", ("VM query failing", "vmms says Running")),
    "host-hung": ("host-unreachable", ("timeout", "last answered at")),
    "host-wide-freeze": ("host-wide-failure", ("APP01", "APP02", "SQL01", "FILE01", "LostCommunication")),
    "triple-fault-loop": ("restart-loop", ("18560", "uptime reset")),
    "crash-never-boots": ("heartbeat-not-restored", ("18560", "no sign of a boot", "never came back")),
    "storage-full-paused": ("vm-critical-state", ("PausedCritical", "storage is the likely cause")),
}
# Stuck transitions are judged from the moment they pass their threshold.
THRESHOLD_S = {"stuck-stopping": DEFAULT_THRESHOLDS.stopping_stuck_s,
               "stuck-starting": DEFAULT_THRESHOLDS.transition_stuck_s,
               # A crash reset earns a boot grace; "never booted" is judged once a lost
               # heartbeat would be critical anyway.
               "crash-never-boots": DEFAULT_THRESHOLDS.heartbeat_lost_critical_s}


@lru_cache(maxsize=None)
def trace(name: str, seed: int = 1) -> tuple[Snapshot, ...]:
    sc = SCENARIOS[name]
    site = sc.build(seed=seed, start=START)
    return tuple(parse_snapshot(doc) for doc in record(site, seconds=sc.duration_s, interval=INTERVAL))


def registry(name: str) -> MaintenanceRegistry:
    reg = MaintenanceRegistry()
    for m in SCENARIOS[name].maintenance:
        since, until = m.times(START)
        reg.begin(m.host, since=since, until=until, reason=f"scenario {name}")
    return reg


def findings(name: str, seed: int = 1) -> list[Finding]:
    return detect(trace(name, seed), maintenance=registry(name))


def matches(f: Finding, host: str, vm_name: str | None) -> bool:
    return f.host == host and (f.vm_id is None if vm_name is None else f.vm_name == vm_name)


def test_every_freeze_is_labelled():
    assert FREEZES and LOOKALIKES
    assert set(FREEZES) == set(SIGNALS)


@pytest.mark.parametrize("name", FREEZES)
def test_freeze_is_critical_on_the_right_entity_in_time(name: str):
    sc = SCENARIOS[name]
    found = findings(name)
    deadline = START + timedelta(seconds=sc.onset_s + THRESHOLD_S.get(name, 0.0) + LATENCY_S)
    for exp in sc.expect:
        hits = [f for f in found if f.severity == exp.severity and matches(f, exp.host, exp.vm_name)]
        assert hits, f"{name}: no {exp.severity} finding for {exp}: {[f.to_dict() for f in found]}"
        first = min(f.first_seen for f in hits)
        assert first <= deadline, f"{name}: {exp} first seen {first}, deadline {deadline}"
        assert first >= START + timedelta(seconds=sc.onset_s), f"{name}: fired before the onset"
    # Nothing critical about entities the scenario does not name.
    stray = [f for f in found if f.severity == "critical"
             and not any(matches(f, e.host, e.vm_name) for e in sc.expect)]
    assert stray == []


@pytest.mark.parametrize("name", FREEZES)
def test_freeze_evidence_names_the_signals(name: str):
    kind, words = SIGNALS[name]
    found = [f for f in findings(name) if f.kind == kind and f.severity == "critical"]
    assert found, f"{name}: no critical {kind}"
    text = " ".join(found[0].evidence)
    missing = [w for w in words if w not in text]
    assert not missing, f"{name}: evidence lacks {missing}: {found[0].evidence}"


@pytest.mark.parametrize("name", LOOKALIKES)
def test_lookalike_is_never_critical(name: str):
    critical = [f.to_dict() for f in findings(name) if f.severity == "critical"]
    assert critical == []


@pytest.mark.parametrize("seed", [2, 3, 4])
@pytest.mark.parametrize("name", ["guest-reboot", "vm-booting", "live-migration", "host-patch-reboot"])
def test_lookalikes_stay_quiet_with_other_seeds(name: str, seed: int):
    assert [f.kind for f in detect(trace(name, seed), maintenance=registry(name))] == []


def test_patch_reboot_is_quiet_because_of_the_maintenance_window():
    """The same trace without the window: the host going away is a real outage."""
    name = "host-patch-reboot"
    assert SCENARIOS[name].maintenance
    unregistered = detect(trace(name))
    assert any(f.kind == "host-unreachable" and f.severity == "critical" for f in unregistered)


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_live_feeding_equals_replay(name: str):
    live = Detector(maintenance=registry(name))
    announced: list[Finding] = []
    for snap in trace(name):
        announced.extend(live.feed(snap))
    assert live.all() == findings(name)
    assert {(f.kind, f.vm_id) for f in announced} == {(f.kind, f.vm_id) for f in live.all()}
