"""Where a patch run stands, read from the journal only: per host a step timeline, the
soak as a countdown with the gate's verdict, the overall progress, the closing reason and
the hosts left pending a reboot.

Reading only the journal (never a runner's memory) is what lets the window show a run
that a terminal ``hvconsole patch run`` executes, and a run that nobody executes any more.
``hvconsole patch status RUN`` prints this same view (``cli/patch_text.py``); the wizard's
Run page draws it. Qt-free and network-free; cheap enough to call every second (a few
indexed SQLite reads).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from hvconsole.core.patch.journal import EventRecord, Journal, RunRecord, StepRecord
from hvconsole.core.patch.steps import installed_awaiting_reboot, next_step, pending_reboot_advice
from hvconsole.core.patch.vocabulary import (
    COMPLETED_OUTCOMES,
    FINISHED_STATES,
    HOST_FINISHED,
    STEP_ORDER,
    Decision,
    HostStatus,
    RunEvent,
    RunState,
    StepOutcome,
    StepState,
)
from hvconsole.core.timeutil import parse_time, utcnow

from .control import executing_pid

PENDING, RUNNING = StepState.PENDING, StepState.RUNNING
# How many of the newest progress events a view carries (the live log's tail).
LOG_TAIL = 200
# A timeline step counts as done in the states matching the outcomes a run does not repeat.
_COMPLETED_STATES = frozenset(StepState(o) for o in COMPLETED_OUTCOMES)


@dataclass(frozen=True)
class StepView:
    step: str
    state: StepState
    started: datetime | None = None
    finished: datetime | None = None
    elapsed_s: float | None = None  # finished - started, or now - started while running
    summary: str = ""
    attempts: int = 0


@dataclass(frozen=True)
class HostTimeline:
    host: str
    wave: str
    steps: list[StepView]
    current_step: str | None        # the step in flight, or the next one to run (None: finished)
    pending_reboot: bool            # installed, reboot cancelled/never reached, host finished with
    status: HostStatus = HostStatus.NOT_STARTED
    advice: str = ""                # what the admin should do (pending reboot)

    @property
    def finished(self) -> bool:
        return self.status in HOST_FINISHED


@dataclass(frozen=True)
class SoakView:
    hosts: list[str]
    started: datetime | None        # console clock (UTC)
    ends: datetime | None           # console clock (UTC)
    remaining_s: float | None       # None once the soak has ended
    verdict_text: str               # the latest live line, or the recorded verdict
    passed: bool | None             # None while it runs (or before it starts)


@dataclass(frozen=True)
class RunView:
    run_id: int
    kb: str
    state: RunState
    reason: str
    executing_pid: int | None
    hosts: list[HostTimeline]
    soak: SoakView | None
    progress_fraction: float
    created: datetime | None = None
    waves: list[tuple[str, list[str]]] = field(default_factory=list)
    decision: str | None = None                 # promote | halt, once given
    events: list[EventRecord] = field(default_factory=list)   # the newest LOG_TAIL progress events

    @property
    def finished(self) -> bool:
        return self.state in FINISHED_STATES

    @property
    def awaiting_promotion(self) -> bool:
        return self.state == RunState.AWAITING_PROMOTION

    @property
    def pending_reboot(self) -> list[HostTimeline]:
        return [h for h in self.hosts if h.pending_reboot]

    @property
    def interrupted(self) -> bool:
        """Unfinished and nobody executes it: resume (or cancel) is up to the admin."""
        return not self.finished and self.executing_pid is None


def run_view(journal: Journal, run_id: int, now: datetime | None = None, *,
             pid: int | bool | None = True) -> RunView:
    """The view of ``run_id``. ``now`` is the console's UTC clock (tests pass one); ``pid``
    is the executing process if the caller already knows it (``True``: look it up)."""
    now = now or utcnow()
    record = journal.run(run_id)
    records = journal.steps(run_id)
    state = _state(record)
    executing = executing_pid(journal, run_id) if pid is True else (pid or None)
    waves = [(str(w.get("name") or "wave"), [str(h) for h in w.get("hosts") or []])
             for w in record.plan.get("waves") or [] if isinstance(w, dict)]
    finished_run = state in FINISHED_STATES
    by_host: dict[str, list[StepRecord]] = {}
    for r in records:
        by_host.setdefault(r.host, []).append(r)
    hosts = [_timeline(host, wave, by_host.get(host, []), now, finished_run, record.kb)
             for wave, names in waves for host in names]
    soak = _soak(journal, run_id, waves[0][1] if len(waves) > 1 else [], by_host, now)
    return RunView(run_id=run_id, kb=record.kb, state=state, reason=record.reason or _default_reason(state),
                   executing_pid=executing, hosts=hosts, soak=soak,
                   progress_fraction=1.0 if finished_run else _fraction(hosts, soak, len(waves) > 1),
                   created=record.created_at, waves=waves, decision=record.decision,
                   events=journal.events(run_id, limit=LOG_TAIL))


def _state(record: RunRecord) -> RunState:
    try:
        return RunState(record.state)
    except ValueError:            # a journal written by a newer version: show it as running
        return RunState.RUNNING


def _default_reason(state: RunState) -> str:
    return {RunState.PLANNED: "not started yet", RunState.AWAITING_PROMOTION:
            "the test ring passed its soak: promote to production or halt"}.get(state, "")


def _timeline(host: str, wave: str, records: list[StepRecord], now: datetime, finished_run: bool,
              kb: str) -> HostTimeline:
    steps: list[StepView] = []
    for step in STEP_ORDER:
        rows = [r for r in records if r.step == step]
        if not rows:
            steps.append(StepView(str(step), PENDING))
            continue
        last = rows[-1]
        end = last.finished_at
        elapsed = ((end or now) - last.started_at).total_seconds()
        steps.append(StepView(str(step), StepState(last.outcome) if last.outcome else RUNNING, last.started_at, end,
                              max(0.0, elapsed),
                              str((last.evidence or {}).get("summary", "")), len(rows)))
    ended = any(r.outcome in (StepOutcome.FAILED, StepOutcome.CANCELLED) for r in records if r.step in STEP_ORDER)
    # In flight: a step whose LATEST attempt has no outcome. An earlier attempt killed
    # mid-way keeps its open row for ever (rows are never rewritten); the resume's new
    # attempt is the one that counts.
    latest = {r.step: r for r in records if r.step in STEP_ORDER}
    in_flight = next((r.step for r in sorted(latest.values(), key=lambda r: r.id, reverse=True)
                      if r.outcome is None), None)
    nxt = next_step([r for r in records if r.step in STEP_ORDER]) if records else STEP_ORDER[0]
    if any(r.outcome == StepOutcome.FAILED for r in records if r.step in STEP_ORDER):
        status = HostStatus.FAILED
    elif any(r.outcome == StepOutcome.CANCELLED for r in records if r.step in STEP_ORDER):
        status = HostStatus.CANCELLED
    elif records and nxt is None:
        status = HostStatus.DONE
    elif records:
        status = HostStatus.IN_PROGRESS
    else:
        status = HostStatus.NOT_STARTED
    current = in_flight or (None if ended or nxt is None or not records else str(nxt))
    pending = (ended or finished_run) and installed_awaiting_reboot(records)
    return HostTimeline(host=host, wave=wave, steps=steps, current_step=current, pending_reboot=pending,
                        status=status, advice=pending_reboot_advice(host, kb) if pending else "")


def _soak(journal: Journal, run_id: int, pilot: list[str], by_host: dict[str, list[StepRecord]],
          now: datetime) -> SoakView | None:
    rows = [r for h in pilot for r in by_host.get(h, []) if r.step == RunEvent.SOAK]
    if not rows:
        return None
    latest = {r.host: r for r in rows}          # the last attempt per host
    current = list(latest.values())
    started = _time(current[0].intent.get("started_at")) or current[0].started_at
    ends = _time(current[0].intent.get("ends_at"))
    done = all(r.outcome is not None for r in current) and set(latest) == set(pilot)
    if done:
        passed: bool | None = all(r.outcome == StepOutcome.OK for r in current)
        verdict = "; ".join(f"{r.host}: {(r.evidence or {}).get('summary', r.outcome)}" for r in current)
        remaining = None
    else:
        passed = None
        remaining = max(0.0, (ends - now).total_seconds()) if ends else None
        live = [e for e in journal.events(run_id, limit=50) if e.step == RunEvent.SOAK and e.host == "*"]
        verdict = live[-1].text if live else "soak started; the first check is under way"
    return SoakView(hosts=list(pilot), started=started, ends=ends, remaining_s=remaining,
                    verdict_text=verdict, passed=passed)


def _fraction(hosts: list[HostTimeline], soak: SoakView | None, has_soak: bool) -> float:
    """Steps finished (a finished host counts whole) over all steps, the soak as one more
    unit of the pilot's weight."""
    if not hosts:
        return 0.0
    total = len(hosts) * len(STEP_ORDER)
    done = 0.0
    for h in hosts:
        done += len(STEP_ORDER) if h.finished else sum(s.state in _COMPLETED_STATES for s in h.steps)
    if has_soak:
        total += len(STEP_ORDER)
        if soak is not None:
            if soak.passed is not None:
                done += len(STEP_ORDER)
            elif soak.started and soak.ends and soak.ends > soak.started and soak.remaining_s is not None:
                span = (soak.ends - soak.started).total_seconds()
                done += len(STEP_ORDER) * min(1.0, max(0.0, 1 - soak.remaining_s / span))
    return min(1.0, done / total)


def _time(value: object) -> datetime | None:
    try:
        return parse_time(value) if isinstance(value, str) and value else None
    except ValueError:
        return None


def decision_text(view: RunView) -> str:
    if view.decision == Decision.PROMOTE:
        return "promoted to production by the admin"
    if view.decision == Decision.HALT:
        return "halted by the admin after the pilot"
    return ""
