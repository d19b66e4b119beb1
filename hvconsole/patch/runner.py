"""Executes a run: waves in order, ``parallel`` hosts at a time, the soak gate after the
pilot, and the failure and cancel paths. Running and resuming are the same code: where each
host stands is read from the journal (``steps.next_step``) every time, and every step asks
the host what is true before acting, so a run killed at any point continues from reality.

Per host: the next step without an ok/skipped outcome is run, until none is left. A failed
step sends the host down the failure path (restore its VMs, end its maintenance window)
and, with ``plan.stop_on_failure``, no further host of the wave is started (hosts already
under way finish: a host left half-drained is worse). The test ring (the pilot wave) must succeed and pass
its soak before the next wave starts; with ``plan.confirm_promotion`` the run then waits in
``awaiting-promotion`` for the admin's ``promote`` or ``halt`` (``control``). Pause and
cancel are read from the journal between steps; cancel puts drained hosts back and ends
their maintenance, and a host cancelled between its install and its reboot is reported as
pending a reboot, with what to do. An install or reboot left in flight by a killed process
is settled first (``run_step(settle=True)``): what the host already does is waited for.

The run's closing reason is written to the journal with its state, and every progress
event goes to the journal's event log (``RunContext.say``): a window in another process
reads both. While the run only waits (soak, pause, promotion) a line comes at least every
``options.heartbeat_s`` real seconds.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import dataclass, field
from functools import partial

from hvconsole.core.patch.journal import StepRecord
from hvconsole.core.patch.plan import Wave
from hvconsole.core.patch.steps import installed_awaiting_reboot, next_step, pending_reboot_advice
from hvconsole.core.patch.vocabulary import (
    CHANGING_STEPS,
    FINISHED_STATES,
    RUN_WIDE,
    Decision,
    GateVerdict,
    HostState,
    Phase,
    RunEvent,
    RunState,
    Step,
    StepOutcome,
    phase_for_run_state,
)
from hvconsole.core.timeutil import utcnow

from .context import HostContext, RunContext
from .host_steps import SETTLE_FUNCTIONS, run_step, window_length
from .soak import run_soak, soak_state
from .waiting import StopRequested

log = logging.getLogger(__name__)

# What a host's worker reports (kept as names for the tests and callers that used them).
DONE, FAILED, CANCELLED, STOPPED = HostState.DONE, HostState.FAILED, HostState.CANCELLED, HostState.STOPPED


@dataclass
class RunResult:
    state: RunState                     # the run state written: done | failed | cancelled | running (stopped)
    reason: str
    hosts: dict[str, str] = field(default_factory=dict)   # host -> HostState (or "at <step>")
    # Hosts left with the update installed and its reboot not done (a cancel between the
    # two): host -> what the admin should do.
    pending_reboot: dict[str, str] = field(default_factory=dict)


class PatchRunner:
    def __init__(self, run: RunContext):
        self.run = run
        self.hosts: dict[str, str] = {h: HostState.NOT_STARTED for h in run.plan.hosts}

    # -- the run -----------------------------------------------------------------------------

    def execute(self) -> RunResult:
        run = self.run
        record = run.journal.run(run.run_id)
        state = RunState(record.state)
        if state in FINISHED_STATES:
            return RunResult(state, f"run {run.run_id} is already {state}"
                             + (f": {record.reason}" if record.reason else ""), self._host_states(),
                             self._pending_reboots())
        if state in (RunState.PLANNED, RunState.PAUSED) and not run.control.stop.is_set():
            run.journal.set_run_state(run.run_id, RunState.RUNNING, only_from=frozenset({state}))
        self._reopen_maintenance_windows()
        result = self._waves()
        result.pending_reboot = self._pending_reboots()
        if result.pending_reboot:
            result.reason += "; " + "; ".join(result.pending_reboot.values())
        if result.state != RunState.RUNNING:
            run.journal.set_run_state(run.run_id, result.state, result.reason)
        else:
            run.journal.set_run_state(run.run_id, RunState.RUNNING, result.reason,
                                      only_from=frozenset({RunState.RUNNING}))
        run.say(RUN_WIDE, RunEvent.RUN, phase_for_run_state(result.state), result.reason)
        return result

    def _waves(self) -> RunResult:
        run, plan = self.run, self.run.plan
        for index, wave in enumerate(plan.waves):
            if run.control.cancel_requested() and not run.control.stop.is_set():
                finished = self._cancel_started_hosts()
                reason = f"cancelled before wave {wave.name}"
                if finished:    # past (or settled into) their reboot: not left half-patched
                    reason += f"; {', '.join(finished)} past the reboot and finished"
                return RunResult(RunState.CANCELLED, self._cancel_reason(reason), self._host_states())
            run.say(RUN_WIDE, RunEvent.WAVE, Phase.START,
                    f"wave {wave.name}: {', '.join(wave.hosts)} ({wave.parallel} at a time)")
            outcomes = self._run_wave(wave)
            if STOPPED in outcomes.values():
                return RunResult(RunState.RUNNING, "stopped; continue with `hvconsole patch resume "
                                                   f"{run.run_id}`", self._host_states())
            # A cancel that came after the last wave's every host finished has nothing left
            # to cancel: the run is done, and says so.
            finished_all = (index == len(plan.waves) - 1 and len(outcomes) == len(wave.hosts)
                            and all(o == DONE for o in outcomes.values()))
            if CANCELLED in outcomes.values() or (run.control.state() == RunState.CANCELLING and not finished_all):
                self._cancel_started_hosts()
                return RunResult(RunState.CANCELLED, self._cancel_reason("cancelled"), self._host_states())
            failed = [h for h, o in outcomes.items() if o == FAILED]
            if failed and (plan.stop_on_failure or index == 0):
                which = "test ring" if index == 0 else f"wave {wave.name}"
                return RunResult(RunState.FAILED, f"{which} failed on {', '.join(failed)}: the rollout stops there",
                                 self._host_states())
            if index == 0 and len(plan.waves) > 1:
                gate = self._soak(wave) or self._promotion()
                if gate is not None:
                    return gate
        failed = [h for h, s in self._host_states().items() if s == FAILED]
        if failed:
            return RunResult(RunState.FAILED, f"finished with failures on {', '.join(failed)}", self._host_states())
        return RunResult(RunState.DONE, f"all {len(plan.hosts)} host(s) patched and verified", self._host_states())

    def _cancel_reason(self, default: str) -> str:
        """A halt after the pilot says so; any other cancel says ``default``."""
        record = self.run.journal.run(self.run.run_id)
        return record.reason if record.decision == Decision.HALT and record.reason else default

    def _soak(self, wave: Wave) -> RunResult | None:
        run = self.run
        state = soak_state(run, wave)
        if state is None:
            run.say(RUN_WIDE, RunEvent.SOAK, Phase.START,
                    f"watching {', '.join(wave.hosts)} for {run.plan.gate.soak_minutes:g} min")
            try:
                passed, reasons = run_soak(run, wave)
            except StopRequested:
                return RunResult(RunState.RUNNING, "stopped during the soak", self._host_states())
            if run.control.state() == RunState.CANCELLING:
                return RunResult(RunState.CANCELLED, self._cancel_reason("cancelled during the soak"),
                                 self._host_states())
            state = GateVerdict.PASSED if passed else GateVerdict.FAILED
            detail = "; ".join(reasons)
        else:
            detail = "(recorded earlier)"
        if state == GateVerdict.FAILED:
            run.say(RUN_WIDE, RunEvent.SOAK, Phase.FAILED, f"health gate failed: {detail}")
            return RunResult(RunState.FAILED, f"the test ring did not pass its health gate: {detail}; production "
                                              "waves were not started", self._host_states())
        run.say(RUN_WIDE, RunEvent.SOAK, Phase.OK, "health gate passed: production may start")
        return None

    def _promotion(self) -> RunResult | None:
        """With ``confirm_promotion``: wait (stoppable, like a pause) until the admin
        promotes (None: production starts) or halts (the run ends cancelled)."""
        run = self.run
        if not run.plan.confirm_promotion:
            return None
        control, opts = run.control, run.options
        next_say = 0.0
        while True:
            record = run.journal.run(run.run_id)
            state = RunState(record.state)
            if record.decision == Decision.PROMOTE:
                run.say(RUN_WIDE, RunEvent.PROMOTION, Phase.OK, "promoted to production by the admin")
                return None
            if record.decision == Decision.HALT or state == RunState.CANCELLING:
                run.say(RUN_WIDE, RunEvent.PROMOTION, Phase.CANCELLED,
                        record.reason if record.decision == Decision.HALT else "cancelled after the pilot")
                return RunResult(RunState.CANCELLED, self._cancel_reason("cancelled after the pilot"),
                                 self._host_states())
            if state not in (RunState.AWAITING_PROMOTION, RunState.PAUSED):
                # running (a resume, or a continue) with no answer yet: ask again
                run.journal.set_run_state(run.run_id, RunState.AWAITING_PROMOTION,
                                          "the test ring passed its soak: promote to production or halt",
                                          only_from=frozenset({state}))
                continue
            if time.monotonic() >= next_say:
                run.say(RUN_WIDE, RunEvent.PROMOTION, Phase.INFO,
                        f"the test ring passed its health gate; waiting for the admin to promote to production "
                        f"or halt (the window's buttons, or `hvconsole patch promote|halt {run.run_id}`)")
                next_say = time.monotonic() + opts.heartbeat_s
            if control.stop.wait(0.5):
                return RunResult(RunState.RUNNING, "stopped while waiting for promotion; "
                                                   f"`hvconsole patch resume {run.run_id}` waits again",
                                 self._host_states())

    # -- one wave ----------------------------------------------------------------------------

    def _run_wave(self, wave: Wave) -> dict[str, str]:
        todo: queue.Queue[str] = queue.Queue()
        for host in wave.hosts:
            todo.put(host)
        outcomes: dict[str, str] = {}
        lock = threading.Lock()
        stop_starting = threading.Event()

        def worker() -> None:
            while not stop_starting.is_set():
                try:
                    host = todo.get_nowait()
                except queue.Empty:
                    return
                try:
                    outcome = self._run_host(host)
                except Exception:  # a bug (or the journal failing): stop, resumable, never "done"
                    log.exception("patching %s failed unexpectedly", host)
                    outcome = self._set(host, STOPPED)
                with lock:
                    outcomes[host] = outcome
                if (outcome == FAILED and self.run.plan.stop_on_failure) or outcome in (STOPPED, CANCELLED):
                    stop_starting.set()

        threads = [threading.Thread(target=worker, name=f"patch-{wave.name}-{i}", daemon=True)
                   for i in range(min(wave.parallel, len(wave.hosts)))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return outcomes

    def _run_host(self, name: str) -> str:
        hc = HostContext(self.run, name)
        control = self.run.control
        try:
            while True:
                records = hc.records()
                if any(r.outcome == StepOutcome.CANCELLED for r in records):
                    return self._set(name, self._cancel_path(hc))
                if any(r.outcome == StepOutcome.FAILED for r in records):
                    self._put_back(hc)
                    return self._set(name, FAILED)
                step = next_step(records)
                if step is None:
                    return self._set(name, DONE)
                if control.stop.is_set():
                    return self._set(name, STOPPED)
                state = control.state()
                if state == RunState.PAUSED:
                    control.wait_while_paused(on_pause=partial(self._say_paused, name, step),
                                              every_s=self.run.options.heartbeat_s)
                    continue
                if state == RunState.CANCELLING and step in CHANGING_STEPS:
                    if not records:
                        return self._set(name, HostState.NOT_STARTED)
                    if step in SETTLE_FUNCTIONS and _in_flight(records, step):
                        # A killed process left it mid-way: the host may be installing or
                        # restarting already, so it was not "cancelled before this step".
                        self._set(name, f"at {step}")
                        run_step(hc, step, settle=True)
                        continue
                    if _in_flight(records, step):
                        # A stopped process left it mid-way (a drain may have saved VMs, the
                        # alerts may be held): not "before this step"; _put_back undoes it.
                        hc.begin(step, {"cancelled": True, "was_in_flight": True}, "cancel requested").finish(
                            StepOutcome.CANCELLED,
                            "the run was cancelled while this step was under way (a stopped console left it); "
                            "what it changed is put back")
                        continue
                    hc.begin(step, {"cancelled": True}, "cancel requested").finish(
                        StepOutcome.CANCELLED, "the run was cancelled before this step")
                    continue
                self._set(name, f"at {step}")
                run_step(hc, step)
        except StopRequested:
            return self._set(name, STOPPED)
        finally:
            hc.close()

    def _cancel_path(self, hc: HostContext) -> str:
        self._put_back(hc)
        return CANCELLED

    def _put_back(self, hc: HostContext) -> None:
        """After a failure or cancel: VMs back as they were, alerts on again. Each runs once
        (a step with an outcome is not repeated; one without, killed mid-way, is)."""
        finished = {r.step for r in hc.records()
                    if r.outcome in (StepOutcome.OK, StepOutcome.SKIPPED, StepOutcome.FAILED)}
        drained = any(r.step == Step.DRAIN for r in hc.records())
        hc.failure_path = True
        if drained and Step.RESTORE not in finished:
            run_step(hc, Step.RESTORE)
        window_opened = hc.last_ok(Step.MAINTENANCE_ON) is not None or _began(hc.records(), Step.MAINTENANCE_ON)
        if window_opened and Step.MAINTENANCE_OFF not in finished:
            run_step(hc, Step.MAINTENANCE_OFF)

    def _cancel_started_hosts(self) -> list[str]:
        """Cancel hosts of any wave that started but did not finish (a resumed cancel).
        Returns the hosts that finished instead (already past their reboot)."""
        finished = []
        for name in self.run.plan.hosts:
            records = self.run.journal.steps(self.run.run_id, name)
            part_way = bool(records) and next_step(records) is not None
            if part_way and self.hosts.get(name) not in (CANCELLED, FAILED) and self._run_host(name) == DONE:
                finished.append(name)
        return finished

    # -- bookkeeping -------------------------------------------------------------------------

    def _say_paused(self, name: str, step: str) -> None:
        self.run.say(name, step, Phase.INFO,
                     f"paused before {step}: `hvconsole patch resume {self.run.run_id}` continues")

    def _set(self, host: str, state: str) -> str:
        self.hosts[host] = state
        return state

    def _host_states(self) -> dict[str, str]:
        return dict(self.hosts)

    def _pending_reboots(self) -> dict[str, str]:
        """Hosts of this run whose update is installed and whose reboot was cancelled or
        never reached, while the host is finished with (cancelled or failed)."""
        run = self.run
        out: dict[str, str] = {}
        for name in run.plan.hosts:
            records = run.journal.steps(run.run_id, name)
            ended = any(r.outcome in (StepOutcome.CANCELLED, StepOutcome.FAILED) for r in records)
            if ended and installed_awaiting_reboot(records):
                out[name] = pending_reboot_advice(name, run.plan.kb)
        return out

    def _reopen_maintenance_windows(self) -> None:
        """The registry lives in memory: after a restart, hosts between maintenance-on and
        maintenance-off are quiet again, for a whole window from now. Not until the
        recorded ``until``: that is on the console's clock as it was at maintenance-on, and
        the clock may have been stepped since (NTP after the machine resumed, an admin
        fixing the time), which would end the window at once (alerts while the host is
        rebooted on purpose) or hold it for as long again; nothing watched the time in
        between. The run goes on acting on the host from here, within one window's budget,
        and ends the window at maintenance-off."""
        run = self.run
        for name in run.plan.hosts:
            on = run.journal.last_ok(run.run_id, name, Step.MAINTENANCE_ON)
            off = [r for r in run.journal.steps(run.run_id, name) if r.step == Step.MAINTENANCE_OFF and r.outcome]
            if on is not None and not off:
                ev = on.evidence or {}
                now = utcnow()
                run.maintenance.begin(name, until=now + window_length(run), begun=now,
                                      reason=str(ev.get("reason") or "patching"))


def _began(records: list[StepRecord], step: str) -> bool:
    """``step`` was begun by some process and never got an outcome there (it may have
    acted: the intent is written before the action)."""
    return any(r.step == step and r.in_flight for r in records)


def _in_flight(records: list[StepRecord], step: str) -> bool:
    """The latest row of ``step`` has its intent and no outcome (its process was killed)."""
    latest = [r for r in records if r.step == step]
    return bool(latest) and latest[-1].in_flight
