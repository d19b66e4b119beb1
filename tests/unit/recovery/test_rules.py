"""The recovery's ordering rules, from host reads alone (no network): gentle before hard,
the worker only after Turn off failed, VMMS first when it is wedged, nothing hard on a VM
the recovery just started, and the typed confirmation."""

from __future__ import annotations

import pytest

from hvconsole.core.recovery import rules
from hvconsole.core.recovery.observe import Observation, from_inspect, unreachable


def obs(state="Running", heartbeat="Lost Communication", shutdown="Lost Communication", *, vmms_ok=True,
        found=True, uptime=86400, worker=4242) -> Observation:
    return Observation(reachable=True, vmms_ok=vmms_ok, vmms_pid=2900, vm_found=found, vm_name="SQL-01",
                       state=state, heartbeat=heartbeat, shutdown_status=shutdown, uptime_s=uptime,
                       worker_pid=worker)


def allowed(o: Observation, history=()) -> set[str]:
    return {s for s, offer in rules.offers(o, history).items() if offer.allowed}


def recommended(o: Observation, history=()) -> str | None:
    return next((s for s, offer in rules.offers(o, history).items() if offer.recommended), None)


def test_a_guest_that_answers_its_shutdown_service_gets_the_gentle_way_first():
    o = obs(heartbeat="Lost Communication", shutdown="OK")
    assert allowed(o) == {rules.CAPTURE, rules.NMI, rules.SHUTDOWN, rules.VERIFY}
    assert recommended(o) == rules.SHUTDOWN
    reason = rules.offers(o)[rules.TURN_OFF].reason
    assert "try it first" in reason


def test_turn_off_once_the_gentle_way_failed():
    o = obs(shutdown="OK")
    history = [(rules.SHUTDOWN, rules.FAILED)]
    assert {rules.TURN_OFF, rules.RESET} <= allowed(o, history)
    assert recommended(o, history) == rules.TURN_OFF
    assert rules.END_WORKER not in allowed(o, history)


def test_turn_off_at_once_when_the_gentle_way_is_impossible():
    o = obs(shutdown="Lost Communication")
    assert rules.SHUTDOWN not in allowed(o)
    assert "impossible" in rules.offers(o)[rules.SHUTDOWN].reason
    assert recommended(o) == rules.TURN_OFF


@pytest.mark.parametrize("history", [(), [(rules.TURN_OFF, rules.OK)], [(rules.TURN_OFF, rules.INTERRUPTED)],
                                     [(rules.TURN_OFF, None)], [(rules.SHUTDOWN, rules.FAILED)]])
def test_the_worker_is_never_offered_before_turn_off_failed(history):
    assert rules.END_WORKER not in allowed(obs(state="Stopping", heartbeat="No Contact", shutdown=None), history)


def test_the_worker_after_turn_off_failed_on_a_vm_stuck_in_stopping():
    o = obs(state="Stopping", heartbeat="No Contact", shutdown=None)
    assert recommended(o) == rules.TURN_OFF
    history = [(rules.TURN_OFF, rules.FAILED)]
    assert rules.END_WORKER in allowed(o, history)
    assert recommended(o, history) == rules.END_WORKER
    assert rules.END_WORKER not in allowed(obs(state="Stopping", worker=None), history)


def test_a_wedged_vmms_blocks_every_vm_step_and_proposes_its_restart():
    o = obs(vmms_ok=False, found=False, state=None)
    assert o.situation == "vmms-wedged"
    assert allowed(o) == {rules.CAPTURE, rules.RESTART_VMMS}
    assert recommended(o) == rules.RESTART_VMMS
    assert rules.RESTART_VMMS not in allowed(obs())


def test_an_off_vm_is_started_then_verified():
    assert recommended(obs(state="Off", heartbeat=None, shutdown=None, worker=None)) == rules.START
    assert allowed(obs(state="Off", heartbeat=None, shutdown=None, worker=None)) == {rules.CAPTURE, rules.START}


def test_nothing_hard_on_a_vm_this_recovery_just_started():
    booting = obs(state="Starting", heartbeat=None, shutdown=None)
    history = [(rules.TURN_OFF, rules.OK), (rules.START, rules.OK)]
    assert not {rules.TURN_OFF, rules.RESET, rules.END_WORKER} & allowed(booting, history)
    assert recommended(booting, history) == rules.VERIFY
    # Once verifying failed, the VM is treated as frozen again.
    history.append((rules.VERIFY, rules.FAILED))
    assert rules.TURN_OFF in allowed(obs(), history)


def test_a_healthy_vm_has_nothing_to_recover():
    o = obs(heartbeat="OK", shutdown="OK")
    assert o.situation == "healthy"
    assert not {rules.SHUTDOWN, rules.TURN_OFF, rules.RESET, rules.END_WORKER} & allowed(o)
    assert recommended(o) == rules.VERIFY


def test_an_unreachable_host_allows_nothing():
    o = unreachable("no answer")
    assert allowed(o) == set()
    assert recommended(o) is None


@pytest.mark.parametrize(("typed", "ok"), [("SQL-01", True), (" SQL-01 ", True), ("sql-01", False), ("", False),
                                           (None, False), ("SQL-0", False), ("SQL-01x", False)])
def test_typed_confirmation(typed, ok):
    assert rules.confirmed(rules.TURN_OFF, typed, "HV01", "SQL-01") is ok
    assert rules.confirmed(rules.SHUTDOWN, None, "HV01", "SQL-01")          # a gentle step needs none


def test_the_vmms_restart_is_confirmed_with_the_host_name_and_an_empty_name_never_confirms():
    assert rules.confirmed(rules.RESTART_VMMS, "HV01", "HV01", "SQL-01")
    assert not rules.confirmed(rules.RESTART_VMMS, "SQL-01", "HV01", "SQL-01")
    assert not rules.confirmed(rules.TURN_OFF, "", "HV01", "")
    assert not rules.confirmed(rules.TURN_OFF, "   ", "HV01", "   ")


def test_a_name_with_a_newline_confirms_as_it_is_shown():
    name = "a\nb\t c"
    assert rules.typeable(name) == "a b c"
    assert rules.confirmed(rules.TURN_OFF, "a b c", "HV01", name)
    assert not rules.confirmed(rules.TURN_OFF, "abc", "HV01", name)


def test_the_inspect_answer_is_read_tolerantly():
    doc = {"host_time": "2026-11-25T09:00:00.000Z", "vm_id": "x",
           "vmms": {"status": "Running", "process_id": 2900},
           "vm_query": {"ok": True, "elapsed_ms": 90, "error": None},
           "vm": {"id": "x", "name": "A", "state": "Running", "heartbeat": "Lost Communication",
                  "shutdown_service": {"enabled": True, "status": "Lost Communication"}, "uptime_s": "12"},
           "worker": {"pid": 77, "threads": 30},
           "events": {"time": "2026-11-25T08:59:00.000Z", "id": 18606, "message": "m"}}   # a lone item
    o = from_inspect(doc)
    assert (o.situation, o.worker_pid, o.uptime_s, len(o.events)) == ("frozen", 77, 12, 1)
    wrapped = dict(doc, events={"value": [{"id": 1}, {"id": 2}], "Count": 2}, vm=None)
    assert len(from_inspect(wrapped).events) == 2 and from_inspect(wrapped).situation == "gone"
    assert from_inspect({}).situation == "vmms-wedged"


def test_a_paused_critical_vm_is_not_pushed_towards_turn_off():
    o = obs(state="PausedCritical", heartbeat="Paused", shutdown=None)
    assert o.situation == "paused"
    assert recommended(o) is None
    assert "out of space" in rules.offers(o)[rules.TURN_OFF].reason
