"""Promote and halt after the pilot, the waiting and soak lines that keep a run from going
silent, and a cancel that leaves an installed host pending its reboot, against in-memory
hosts (test_engine_fakes)."""

from __future__ import annotations

import dataclasses
import threading
import time
from typing import Any, Callable

import pytest

from hvconsole.core.patch.vocabulary import HALTED_REASON, Decision, Phase, RunState
from hvconsole.patch.control import ControlError, request
from hvconsole.patch.run_view import run_view
from test_engine_fakes import KB, OPTIONS, fake_site, new_run, plan_for, run

WAIT_S = 60.0        # generous: a loaded 2-core machine


def until(what: Callable[[], Any], message: str) -> Any:
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        value = what()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(message)


def promotion_plan(**kw: Any):
    return dataclasses.replace(plan_for(("HV01",), ("HV02",), **kw), confirm_promotion=True)


def start(journal, run_id, hosts, **kw) -> tuple[threading.Thread, list]:
    out: list = []
    worker = threading.Thread(target=lambda: out.append(run(journal, run_id, hosts, **kw)), daemon=True)
    worker.start()
    return worker, out


def test_promote_after_the_pilot_starts_production(tmp_path):
    hosts = fake_site("HV01", "HV02")
    journal, run_id = new_run(tmp_path, promotion_plan())
    events: list = []
    worker, out = start(journal, run_id, hosts, events=events,
                        options=dataclasses.replace(OPTIONS, heartbeat_s=0.05))
    until(lambda: journal.run(run_id).state == RunState.AWAITING_PROMOTION, "the run never waited for promotion")
    # It says so, again and again, while nobody answers; production has not been touched.
    until(lambda: sum(e.step == "promotion" and e.phase == Phase.INFO for e in events) >= 3,
          "no repeated waiting line")
    assert journal.steps(run_id, "HV02") == [] and hosts["HV02"].calls == {}
    view = run_view(journal, run_id)
    assert view.awaiting_promotion and view.soak is not None and view.soak.passed is True
    with pytest.raises(ControlError, match="waiting for your decision"):
        request(journal, run_id, "pause")
    assert request(journal, run_id, "promote") == RunState.RUNNING
    worker.join(WAIT_S)
    assert not worker.is_alive() and out[0].state == RunState.DONE, out[0].reason
    assert hosts["HV02"].install_starts == 1
    record = journal.run(run_id)
    assert record.decision == Decision.PROMOTE and record.decision_at is not None
    assert record.state == "done" and "patched and verified" in record.reason
    assert any(e.step == "promotion" and e.phase == Phase.OK for e in events)
    with pytest.raises(ControlError, match="already done"):
        request(journal, run_id, "promote")


def test_halt_after_the_pilot_ends_the_run_without_production(tmp_path):
    hosts = fake_site("HV01", "HV02")
    journal, run_id = new_run(tmp_path, promotion_plan())
    with pytest.raises(ControlError, match="not waiting for promotion"):
        request(journal, run_id, "halt")
    worker, out = start(journal, run_id, hosts)
    until(lambda: journal.run(run_id).state == RunState.AWAITING_PROMOTION, "the run never waited for promotion")
    assert request(journal, run_id, "halt") == RunState.CANCELLING
    worker.join(WAIT_S)
    assert out[0].state == RunState.CANCELLED and out[0].reason == HALTED_REASON
    record = journal.run(run_id)
    assert (record.state, record.reason, record.decision) == ("cancelled", HALTED_REASON, "halt")
    assert journal.steps(run_id, "HV02") == [] and hosts["HV02"].calls == {}
    assert hosts["HV01"].install_starts == 1          # the pilot stays patched
    view = run_view(journal, run_id)
    assert view.reason == HALTED_REASON and [h.status for h in view.hosts] == ["done", "not started"]


def test_a_stopped_process_waits_again_on_resume(tmp_path):
    hosts = fake_site("HV01", "HV02")
    journal, run_id = new_run(tmp_path, promotion_plan())
    stop = threading.Event()
    worker, out = start(journal, run_id, hosts, stop=stop)
    until(lambda: journal.run(run_id).state == RunState.AWAITING_PROMOTION, "the run never waited for promotion")
    stop.set()
    worker.join(WAIT_S)
    assert out[0].state == RunState.RUNNING and "waits again" in out[0].reason
    assert journal.run(run_id).state == RunState.AWAITING_PROMOTION      # still the admin's question
    worker, out = start(journal, run_id, hosts)                          # resume in a "new process"
    until(lambda: journal.run(run_id).state == RunState.AWAITING_PROMOTION and not journal.run(run_id).decision
          and len(journal.events(run_id)) > 0, "the resumed run does not wait")
    time.sleep(0.2)
    assert hosts["HV02"].calls == {}
    request(journal, run_id, "promote")
    worker.join(WAIT_S)
    assert out[0].state == RunState.DONE and hosts["HV01"].install_starts == 1


def test_soak_records_its_console_times_and_reports_a_live_verdict(tmp_path):
    hosts = fake_site("HV01", "HV02")
    journal, run_id = new_run(tmp_path, plan_for(("HV01",), ("HV02",), soak_minutes=2.0))
    events: list = []
    # 2 host minutes at 1000x with a poll every 10 host s: several polls, a line after each.
    result = run(journal, run_id, hosts, events=events, options=dataclasses.replace(OPTIONS, heartbeat_s=0.0))
    assert result.state == RunState.DONE, result.reason
    soak = next(r for r in journal.steps(run_id, "HV01") if r.step == "soak")
    started, ends = soak.intent["started_at"], soak.intent["ends_at"]
    assert started < ends
    lines = [e.text for e in events if e.host == "*" and e.step == "soak" and e.phase == Phase.INFO]
    assert lines, "no live soak line"
    assert all(" left; 0 critical findings, all heartbeats OK, " in t and "VMs in prior state" in t for t in lines)
    assert "4/4 VMs in prior state" in lines[-1] and "gate passing so far" in lines[-1]
    # The same lines are in the journal, for a window in another process.
    assert [e.text for e in journal.events(run_id) if e.step == "soak" and e.phase == "info"] == lines
    view = run_view(journal, run_id)
    assert view.soak.passed is True and view.soak.remaining_s is None and "health gate passed" in view.soak.verdict_text
    assert view.soak.started is not None and view.soak.ends is not None


def test_a_paused_run_says_so_repeatedly(tmp_path):
    hosts = fake_site("HV01")
    journal, run_id = new_run(tmp_path, plan_for(("HV01",)))
    hosts["HV01"].on_call = lambda script, params: script == "patch_drain" and request(journal, run_id, "pause")
    events: list = []
    worker, out = start(journal, run_id, hosts, events=events, options=dataclasses.replace(OPTIONS, heartbeat_s=0.05))
    until(lambda: sum("paused before install" in e.text for e in events) >= 3, "a paused run went silent")
    request(journal, run_id, "continue")
    worker.join(WAIT_S)
    assert out[0].state == RunState.DONE


def test_cancel_between_install_and_reboot_says_which_hosts_wait_for_a_reboot(tmp_path):
    hosts = fake_site("HV01")
    journal, run_id = new_run(tmp_path, plan_for(("HV01",)))
    hosts["HV01"].on_call = lambda script, params: script == "patch_install_start" and request(
        journal, run_id, "cancel")
    result = run(journal, run_id, hosts)
    advice = f"HV01: {KB} installed, reboot pending — reboot it in a maintenance window, then `hvconsole patch check`"
    assert result.state == RunState.CANCELLED and result.pending_reboot == {"HV01": advice}
    assert advice in result.reason and advice in journal.run(run_id).reason
    assert hosts["HV01"].install_starts == 1 and hosts["HV01"].calls["patch_reboot"] == 0
    assert hosts["HV01"].pending            # the host itself says so too
    view = run_view(journal, run_id)
    (hv01,) = view.hosts
    assert hv01.pending_reboot and hv01.advice == advice and hv01.status == "cancelled"
    assert {s.step: s.state for s in hv01.steps}["reboot"] == "cancelled"
    # Every VM is back as it was found, whatever the cancel left undone.
    assert all(v.state == ("Off" if v.name.endswith("OFF") else "Running") for v in hosts["HV01"].vms.values())


def test_a_cancel_before_the_install_leaves_nothing_pending(tmp_path):
    hosts = fake_site("HV01")
    journal, run_id = new_run(tmp_path, plan_for(("HV01",)))
    hosts["HV01"].on_call = lambda script, params: script == "patch_drain" and request(journal, run_id, "cancel")
    result = run(journal, run_id, hosts)
    assert result.state == RunState.CANCELLED and result.pending_reboot == {}
    assert not run_view(journal, run_id).hosts[0].pending_reboot


def test_requests_that_do_not_fit_say_why(tmp_path):
    journal, run_id = new_run(tmp_path, plan_for(("HV01",)))
    with pytest.raises(ControlError, match="unknown request"):
        request(journal, run_id, "reboot")
    assert request(journal, run_id, "cancel") == RunState.CANCELLING
    with pytest.raises(ControlError, match="being cancelled"):
        request(journal, run_id, "pause")
    assert request(journal, run_id, "continue") == RunState.CANCELLING      # a cancel stays asked for


def test_a_halt_nobody_carries_out_ends_the_run_only_when_no_host_is_part_way(tmp_path):
    from hvconsole.patch.control import end_halted
    journal, run_id = new_run(tmp_path, promotion_plan())
    journal.set_run_state(run_id, RunState.AWAITING_PROMOTION)
    step = journal.begin_step(run_id, "HV02", "preflight", {})
    journal.finish_step(step, "ok", {"summary": "fine"})          # production part-way (a stray start)
    request(journal, run_id, "halt")
    assert not end_halted(journal, run_id) and journal.run(run_id).state == RunState.CANCELLING

    journal2, run2 = new_run(tmp_path / "b", promotion_plan())
    journal2.set_run_state(run2, RunState.AWAITING_PROMOTION)
    request(journal2, run2, "halt")
    assert end_halted(journal2, run2)
    assert (journal2.run(run2).state, journal2.run(run2).reason) == ("cancelled", HALTED_REASON)
    assert not end_halted(journal2, run2)          # once


def test_a_cancel_after_the_last_host_finished_leaves_the_run_done(tmp_path):
    hosts = fake_site("HV01")
    journal, run_id = new_run(tmp_path, plan_for(("HV01",)))
    # patch_cleanup runs inside maintenance-off, the host's last step: nothing is left to cancel.
    hosts["HV01"].on_call = lambda script, params: script == "patch_cleanup" and request(journal, run_id, "cancel")
    result = run(journal, run_id, hosts)
    assert result.state == RunState.DONE and journal.run(run_id).state == "done", result.reason
    assert not any(r.outcome == "cancelled" for r in journal.steps(run_id))


def test_a_long_install_and_reboot_say_they_are_still_going(tmp_path):
    hosts = fake_site("HV01")
    hosts["HV01"].install_polls = 6
    hosts["HV01"].down_polls = 6
    journal, run_id = new_run(tmp_path, plan_for(("HV01",)))
    events: list = []
    result = run(journal, run_id, hosts, events=events, options=dataclasses.replace(OPTIONS, heartbeat_s=0.0))
    assert result.state == RunState.DONE, result.reason
    info = [(e.step, e.text) for e in events if e.phase == Phase.INFO and e.host == "HV01"]
    assert any(step == "install" and "installer is still running" in text for step, text in info)
    assert any(step == "reboot" and "waiting for HV01 to come back (down)" in text for step, text in info)


def test_the_engine_sends_its_planned_live_migrations_to_preflight(tmp_path):
    from hvconsole.core.patch.plan import VmHandling
    hosts = fake_site("HV01", "HV03")
    seen: list = []
    plan = dataclasses.replace(plan_for(("HV01",)), vm_default=VmHandling("live-migrate", "HV03"))
    journal, run_id = new_run(tmp_path, plan)
    # Only preflight matters here, and the fake cannot live-migrate: the run is cancelled as
    # soon as preflight is asked (it stops before the drain, instead of waiting out its timeout).
    hosts["HV01"].on_call = lambda script, params: script == "patch_preflight" and (
        seen.append(params), request(journal, run_id, "cancel"))
    running = sorted(v.id for v in hosts["HV01"].vms.values() if v.state == "Running")
    run(journal, run_id, hosts)
    assert sorted(m["id"] for m in seen[0]["live_migrations"]) == running
    assert {m["destination"] for m in seen[0]["live_migrations"]} == {"HV03"}
