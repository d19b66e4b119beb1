"""patch.runner's decisions between waves, on their own: what the run does with each
wave's host outcomes (stop on a pilot failure whatever the plan says, stop or go on after
a production failure as the plan says, a stopped process, a cancel), the health gate read
back from the journal, and the promotion answer. The hosts' steps are replaced by scripted
outcomes, so each decision is checked in milliseconds; the steps themselves are covered
by test_engine_flow.py and its neighbours."""

from __future__ import annotations

import dataclasses

import pytest

from hvconsole.core.patch.vocabulary import Decision, HostState, RunEvent, RunState, StepOutcome
from hvconsole.patch.control import request
from hvconsole.patch.runner import PatchRunner
from tests.unit.patch.test_engine_fakes import fake_site, plan_for
from tests.unit.patch.test_soak_unit import run_context

DONE, FAILED, CANCELLED, STOPPED = HostState.DONE, HostState.FAILED, HostState.CANCELLED, HostState.STOPPED


class ScriptedRunner(PatchRunner):
    """A runner whose waves end as scripted (host -> outcome) and whose soak passes unless
    the journal says otherwise; records which waves ran."""

    def __init__(self, run, outcomes: dict[str, str], *, soak=True):
        super().__init__(run)
        self.outcomes, self.waves_run, self.soaked = outcomes, [], soak

    def _run_wave(self, wave):
        self.waves_run.append(wave.name)
        return {h: self._set(h, self.outcomes.get(h, DONE)) for h in wave.hosts}

    def _soak(self, wave):
        return super()._soak(wave) if self.soaked == "journal" else None


def runner(tmp_path, outcomes=None, *, stop_on_failure=True, soak=True, confirm=False):
    plan = plan_for(("HV01",), ("HV02",), ("HV03",), stop_on_failure=stop_on_failure)
    plan = dataclasses.replace(plan, confirm_promotion=confirm)
    run = run_context(tmp_path, plan, fake_site("HV01", "HV02", "HV03"))
    return ScriptedRunner(run, outcomes or {}, soak=soak)


def test_every_wave_done_makes_the_run_done(tmp_path):
    r = runner(tmp_path)
    result = r.execute()
    assert (result.state, result.reason) == (RunState.DONE, "all 3 host(s) patched and verified")
    assert r.waves_run == ["pilot", "prod1", "prod2"]
    assert r.run.journal.run(r.run.run_id).state == RunState.DONE


@pytest.mark.parametrize("stop_on_failure", [True, False])
def test_a_pilot_failure_stops_the_rollout_whatever_the_plan_says(tmp_path, stop_on_failure):
    r = runner(tmp_path, {"HV01": FAILED}, stop_on_failure=stop_on_failure)
    result = r.execute()
    assert (result.state, result.reason) == (RunState.FAILED, "test ring failed on HV01: the rollout stops there")
    assert r.waves_run == ["pilot"]


def test_a_production_failure_stops_the_rollout_when_the_plan_says_so(tmp_path):
    r = runner(tmp_path, {"HV02": FAILED})
    result = r.execute()
    assert (result.state, result.reason) == (RunState.FAILED, "wave prod1 failed on HV02: the rollout stops there")
    assert r.waves_run == ["pilot", "prod1"] and result.hosts["HV03"] == HostState.NOT_STARTED


def test_a_production_failure_lets_the_other_waves_run_when_the_plan_says_so(tmp_path):
    r = runner(tmp_path, {"HV02": FAILED}, stop_on_failure=False)
    result = r.execute()
    assert (result.state, result.reason) == (RunState.FAILED, "finished with failures on HV02")
    assert r.waves_run == ["pilot", "prod1", "prod2"] and result.hosts["HV03"] == DONE


def test_a_stopped_host_leaves_the_run_running_for_resume(tmp_path):
    r = runner(tmp_path, {"HV02": STOPPED})
    result = r.execute()
    assert result.state == RunState.RUNNING
    assert result.reason == f"stopped; continue with `hvconsole patch resume {r.run.run_id}`"
    assert r.run.journal.run(r.run.run_id).state == RunState.RUNNING


def test_a_cancelled_host_cancels_the_run(tmp_path):
    r = runner(tmp_path, {"HV02": CANCELLED})
    result = r.execute()
    assert (result.state, result.reason) == (RunState.CANCELLED, "cancelled")
    assert r.waves_run == ["pilot", "prod1"]


def cancel_during(r: ScriptedRunner, wave_name: str) -> None:
    """The admin cancels while ``wave_name`` runs; its hosts still finish their steps."""
    journal, run_id = r.run.journal, r.run.run_id
    journal.set_run_state(run_id, RunState.RUNNING)
    run_wave = r._run_wave

    def then_cancel(wave):
        outcomes = run_wave(wave)
        if wave.name == wave_name:
            request(journal, run_id, "cancel")
        return outcomes

    r._run_wave = then_cancel


def test_a_cancel_asked_for_between_waves_starts_no_other_wave(tmp_path):
    r = runner(tmp_path)
    cancel_during(r, "pilot")
    result = r.execute()
    # The pilot's hosts all finished, but it was not the last wave: the run is cancelled.
    assert (result.state, result.reason) == (RunState.CANCELLED, "cancelled")
    assert r.waves_run == ["pilot"]


def test_a_cancel_after_the_last_wave_finished_leaves_the_run_done(tmp_path):
    r = runner(tmp_path)
    cancel_during(r, "prod2")
    assert r.execute().state == RunState.DONE


@pytest.mark.parametrize("verdict, state", [(StepOutcome.FAILED, RunState.FAILED), (StepOutcome.OK, RunState.DONE)])
def test_a_soak_verdict_in_the_journal_is_not_soaked_again(tmp_path, verdict, state):
    r = runner(tmp_path, soak="journal")
    step = r.run.journal.begin_step(r.run.run_id, "HV01", RunEvent.SOAK, {"wave": "pilot"})
    r.run.journal.finish_step(step, verdict, {"summary": "earlier"})
    result = r.execute()
    assert result.state == state
    if state == RunState.FAILED:
        assert result.reason == ("the test ring did not pass its health gate: (recorded earlier); "
                                 "production waves were not started")
        assert r.waves_run == ["pilot"]


def test_a_promotion_already_answered_is_not_asked_again(tmp_path):
    r = runner(tmp_path, confirm=True)
    r.run.journal.set_decision(r.run.run_id, Decision.PROMOTE, RunState.RUNNING)
    assert r.execute().state == RunState.DONE
    assert r.waves_run == ["pilot", "prod1", "prod2"]


def test_a_halt_after_the_pilot_ends_the_run_cancelled_with_its_reason(tmp_path):
    r = runner(tmp_path, confirm=True)
    journal, run_id = r.run.journal, r.run.run_id
    journal.set_run_state(run_id, RunState.AWAITING_PROMOTION)
    request(journal, run_id, "halt")
    journal.set_run_state(run_id, RunState.RUNNING)      # a resumed process finds the answer
    result = r.execute()
    assert result.state == RunState.CANCELLED
    assert result.reason == journal.run(run_id).reason and "halt" in result.reason.lower()
    assert r.waves_run == ["pilot"]


def test_a_finished_run_is_not_run_again(tmp_path):
    r = runner(tmp_path)
    r.run.journal.set_run_state(r.run.run_id, RunState.FAILED, "test ring failed on HV01")
    result = r.execute()
    assert (result.state, result.reason) == (RunState.FAILED,
                                             f"run {r.run.run_id} is already failed: test ring failed on HV01")
    assert r.waves_run == []
