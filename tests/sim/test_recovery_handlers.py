"""The simulated recovery scripts on a manual clock (no network): what each reads, that a
repeated call acts nothing twice, parameters checked as the scripts check them, the NMI's
"dump written" event, and a VMMS that answers again after its restart."""

from __future__ import annotations

import json

import pytest

from hvconsole.sim.agent.recovery import HANDLERS
from hvconsole.sim.agent.host_agent import ScriptFailure
from hvconsole.sim.scenarios.recovery import HANG_AT_S, build_recovery_site, vm_id


def call(site, host: str, script: str, params: dict) -> dict:
    with site.acting():
        answer = HANDLERS[script](site.host(host), params, site.time_of(site.t))
    assert answer.exit_code == 0
    return json.loads(answer.stdout.decode("utf-8"))


@pytest.fixture
def site():
    s = build_recovery_site()
    s.clock.advance(HANG_AT_S + 20)
    s.advance()
    return s


def test_inspect_reads_the_hung_vm_its_worker_and_its_events(site):
    doc = call(site, "HV01", "recover_inspect", {"vm_id": vm_id(1), "events_since": None})
    assert doc["vm_query"]["ok"] and doc["vm"]["state"] == "Running"
    assert doc["vm"]["heartbeat"] == "Lost Communication"
    assert doc["vm"]["shutdown_service"] == {"enabled": True, "status": "Lost Communication"}
    assert doc["worker"]["pid"] > 0
    assert 18606 in [e["id"] for e in doc["events"]]
    assert all(vm_id(1) in e["message"] for e in doc["events"])
    assert site.host("HV01").recovery_actions == []


def test_each_action_happens_once_however_often_it_is_asked(site):
    for _ in range(3):
        doc = call(site, "HV01", "recover_vm", {"vm_id": vm_id(1), "action": "turn_off"})
    assert doc["skipped_reason"] == "VM is Off" and not doc["done"]
    for _ in range(3):
        call(site, "HV01", "recover_vm", {"vm_id": vm_id(1), "action": "start", "wait_s": 60})
    assert [a for _, a, _ in site.host("HV01").recovery_actions] == ["turn_off", "start"]


def test_the_gentle_shutdown_is_refused_when_the_guest_does_not_answer(site):
    doc = call(site, "HV01", "recover_vm", {"vm_id": vm_id(1), "action": "shutdown"})
    assert not doc["done"] and "does not answer its shutdown service" in doc["skipped_reason"]
    ok = call(site, "HV01", "recover_vm", {"vm_id": vm_id(3), "action": "shutdown", "wait_s": 120})
    assert ok["done"] and ok["state_after"] == "Off"


def test_a_hung_worker_ignores_turn_off_and_ends_only_when_it_is_the_one_read(site):
    doc = call(site, "HV01", "recover_vm", {"vm_id": vm_id(2), "action": "turn_off", "wait_s": 90})
    assert not doc["done"] and "failed to change state" in doc["error"]
    pid = call(site, "HV01", "recover_inspect", {"vm_id": vm_id(2)})["worker"]["pid"]
    wrong = call(site, "HV01", "recover_worker", {"vm_id": vm_id(2), "expected_pid": pid + 4})
    assert not wrong["ended"] and "read again" in wrong["skipped_reason"]
    ended = call(site, "HV01", "recover_worker", {"vm_id": vm_id(2), "expected_pid": pid})
    assert ended["ended"] and ended["state_after"] == "Off"
    again = call(site, "HV01", "recover_worker", {"vm_id": vm_id(2), "expected_pid": pid})
    assert not again["ended"] and again["skipped_reason"] == "VM is Off"
    assert [a for _, a, _ in site.host("HV01").recovery_actions] == ["turn_off", "end_worker"]


def test_the_plain_actions_check_the_state_first_and_say_when_the_vm_refuses(site):
    stopping = call(site, "HV01", "recover_vm", {"vm_id": vm_id(2), "action": "reset"})
    assert stopping["skipped_reason"] == "VM is Stopping" and not stopping["done"] and stopping["error"] is None
    site.vm("APP-OK").worker_hung = True       # Running, but its worker takes no interrupt
    refused = call(site, "HV01", "recover_vm", {"vm_id": vm_id(3), "action": "nmi"})
    assert not refused["done"] and refused["error"] == "The virtual machine's worker did not accept the interrupt."
    reset = call(site, "HV01", "recover_vm", {"vm_id": vm_id(1), "action": "reset"})
    assert reset["done"] and reset["elapsed_ms"] == 1600 and reset["skipped_reason"] is None
    assert [a for _, a, _ in site.host("HV01").recovery_actions] == ["reset"]


def test_vmms_restart_brings_the_queries_back_and_is_not_repeated(site):
    before = call(site, "HV02", "recover_inspect", {"vm_id": vm_id(5), "vm_query_timeout_ms": 2000})
    assert not before["vm_query"]["ok"] and before["vm"] is None
    pid = before["vmms"]["process_id"]
    doc = call(site, "HV02", "recover_vmms", {"expected_pid": pid})
    assert doc["restarted"] and doc["vm_query"]["ok"] and doc["pid_after"] != pid
    again = call(site, "HV02", "recover_vmms", {"expected_pid": pid})
    assert not again["restarted"] and "restarted already" in again["skipped_reason"]
    after = call(site, "HV02", "recover_inspect", {"vm_id": vm_id(5)})
    assert after["vm"]["state"] == "Running"          # the VM kept running through it
    assert [a for _, a, _ in site.host("HV02").recovery_actions] == ["restart_vmms"]


def test_an_nmi_makes_a_windows_guest_write_a_dump(site):
    doc = call(site, "HV01", "recover_vm", {"vm_id": vm_id(3), "action": "nmi"})
    assert doc["done"]
    events = call(site, "HV01", "recover_inspect", {"vm_id": vm_id(3)})["events"]
    assert any("wrote a memory dump" in e["message"] for e in events)


@pytest.mark.parametrize(("script", "params", "message"), [
    ("recover_vm", {"vm_id": "not-a-guid", "action": "start"}, "Guid should contain"),
    ("recover_vm", {"vm_id": vm_id(1), "action": "format"}, "action must be one of"),
    ("recover_inspect", {"vm_id": "'; Stop-Computer"}, "Guid should contain"),
    ("recover_worker", {"vm_id": vm_id(1), "expected_pid": "x"}, "System.Int32"),
])
def test_bad_parameters_fail_before_anything_is_touched(site, script, params, message):
    with site.acting(), pytest.raises(ScriptFailure, match=message):
        HANDLERS[script](site.host("HV01"), params, site.time_of(site.t))
    assert site.host("HV01").recovery_actions == []
