"""Executes a run: waves in order, ``parallel`` hosts at a time, the soak gate after the
pilot, and the failure and cancel paths. Running and resuming are the same code: where each
host stands is read from the journal (``steps.next_step``) every time, and every step asks
the host what is true before acting, so a run killed at any point continues from reality.

Per host: the next step without an ok/skipped outcome is run, until none is left. A failed
step sends the host down the failure path (restore its VMs, end its maintenance window)
and, with ``plan.stop_on_failure``, no further host of the wave is started (hosts already
under way finish: a host left half-drained is worse). The pilot wave must succeed and pass
its soak before the next wave starts. Pause and cancel are read from the journal between
steps (``control``); cancel puts drained hosts back and ends their maintenance.
"""

from __future__ import annotations

import logging
import queue
import threading
from dataclasses import dataclass, field

from hvconsole.core.patch.plan import Wave
from hvconsole.core.patch.steps import next_step
from hvconsole.core.timeutil import parse_time

from .context import HostContext, RunContext
from .host_steps import run_step
from .soak import run_soak, soak_state
from .waiting import StopRequested

log = logging.getLogger(__name__)

# Steps a cancel stops before; the ones after the reboot put the host back and still run.
CHANGING_STEPS = frozenset({"preflight", "stage", "maintenance-on", "drain", "install", "reboot"})
# What a host's worker reports.
DONE, FAILED, CANCELLED, STOPPED = "done", "failed", "cancelled", "stopped"


@dataclass
class RunResult:
    state: str                          # the run state written: done | failed | cancelled | running (stopped)
    reason: str
    hosts: dict[str, str] = field(default_factory=dict)   # host -> done | failed | cancelled | stopped | not started


class PatchRunner:
    def __init__(self, run: RunContext):
        self.run = run
        self.hosts: dict[str, str] = {h: "not started" for h in run.plan.hosts}

    # -- the run -----------------------------------------------------------------------------

    def execute(self) -> RunResult:
        run = self.run
        state = run.control.state()
        if state in ("done", "failed", "cancelled"):
            return RunResult(state, f"run {run.run_id} is already {state}", self._host_states())
        if state in ("planned", "paused") and not run.control.stop.is_set():
            run.journal.set_run_state(run.run_id, "running")
        self._reopen_maintenance_windows()
        result = self._waves()
        if result.state != "running":
            run.journal.set_run_state(run.run_id, result.state)
        run.say("*", "run", result.state if result.state != "running" else "info", result.reason)
        return result

    def _waves(self) -> RunResult:
        run, plan = self.run, self.run.plan
        for index, wave in enumerate(plan.waves):
            if run.control.cancel_requested() and not run.control.stop.is_set():
                self._cancel_started_hosts()
                return RunResult("cancelled", "cancelled before wave " + wave.name, self._host_states())
            run.say("*", "wave", "start", f"wave {wave.name}: {', '.join(wave.hosts)} ({wave.parallel} at a time)")
            outcomes = self._run_wave(wave)
            if STOPPED in outcomes.values():
                return RunResult("running", "stopped; continue with `hvconsole patch resume "
                                            f"{run.run_id}`", self._host_states())
            if CANCELLED in outcomes.values() or run.control.state() == "cancelling":
                self._cancel_started_hosts()
                return RunResult("cancelled", "cancelled", self._host_states())
            failed = [h for h, o in outcomes.items() if o == FAILED]
            if failed and (plan.stop_on_failure or index == 0):
                which = "pilot wave" if index == 0 else f"wave {wave.name}"
                return RunResult("failed", f"{which} failed on {', '.join(failed)}: the rollout stops there",
                                 self._host_states())
            if index == 0 and len(plan.waves) > 1:
                gate = self._soak(wave)
                if gate is not None:
                    return gate
        failed = [h for h, s in self._host_states().items() if s == FAILED]
        if failed:
            return RunResult("failed", f"finished with failures on {', '.join(failed)}", self._host_states())
        return RunResult("done", f"all {len(plan.hosts)} host(s) patched and verified", self._host_states())

    def _soak(self, wave: Wave) -> RunResult | None:
        run = self.run
        state = soak_state(run, wave)
        if state is None:
            run.say("*", "soak", "start", f"watching {', '.join(wave.hosts)} for {run.plan.gate.soak_minutes:g} min")
            try:
                passed, reasons = run_soak(run, wave)
            except StopRequested:
                return RunResult("running", "stopped during the soak", self._host_states())
            if run.control.state() == "cancelling":
                return RunResult("cancelled", "cancelled during the soak", self._host_states())
            state = "passed" if passed else "failed"
            detail = "; ".join(reasons)
        else:
            detail = "(recorded earlier)"
        if state == "failed":
            return RunResult("failed", f"the pilot wave did not pass its health gate: {detail}; production "
                                       "waves were not started", self._host_states())
        run.say("*", "soak", "ok", "health gate passed: production may start")
        return None

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
                if outcome == FAILED and self.run.plan.stop_on_failure or outcome in (STOPPED, CANCELLED):
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
                if any(r.outcome == "cancelled" for r in records):
                    return self._set(name, self._cancel_path(hc))
                if any(r.outcome == "failed" for r in records):
                    self._put_back(hc)
                    return self._set(name, FAILED)
                step = next_step(records)
                if step is None:
                    return self._set(name, DONE)
                if control.stop.is_set():
                    return self._set(name, STOPPED)
                state = control.state()
                if state == "paused":
                    control.wait_while_paused(on_pause=lambda: self.run.say(name, step, "info", "paused before this step"))
                    continue
                if state == "cancelling" and step in CHANGING_STEPS:
                    if not records:
                        return self._set(name, "not started")
                    hc.begin(step, {"cancelled": True}, "cancel requested").finish(
                        "cancelled", "the run was cancelled before this step")
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
        finished = {r.step for r in hc.records() if r.outcome in ("ok", "skipped", "failed")}
        drained = any(r.step == "drain" for r in hc.records())
        hc.failure_path = True
        if drained and "restore" not in finished:
            run_step(hc, "restore")
        if hc.last_ok("maintenance-on") is not None and "maintenance-off" not in finished:
            run_step(hc, "maintenance-off")

    def _cancel_started_hosts(self) -> None:
        """Cancel hosts of any wave that started but did not finish (a resumed cancel)."""
        for name in self.run.plan.hosts:
            records = self.run.journal.steps(self.run.run_id, name)
            if records and next_step(records) is not None and self.hosts.get(name) not in (CANCELLED, FAILED):
                self._run_host(name)

    # -- bookkeeping -------------------------------------------------------------------------

    def _set(self, host: str, state: str) -> str:
        self.hosts[host] = state
        return state

    def _host_states(self) -> dict[str, str]:
        return dict(self.hosts)

    def _reopen_maintenance_windows(self) -> None:
        """The registry lives in memory: after a restart, hosts between maintenance-on and
        maintenance-off are quiet again until their recorded ``until``."""
        run = self.run
        for name in run.plan.hosts:
            on = run.journal.last_ok(run.run_id, name, "maintenance-on")
            off = [r for r in run.journal.steps(run.run_id, name) if r.step == "maintenance-off" and r.outcome]
            if on is not None and not off:
                ev = on.evidence or {}
                try:
                    run.maintenance.begin(name, until=parse_time(ev["until"]), reason=str(ev.get("reason") or "patching"))
                except (KeyError, ValueError):
                    log.warning("maintenance window of %s in run %s is unreadable", name, run.run_id)
