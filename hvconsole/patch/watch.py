"""What the journal says about runs right now, for a window that did not start them:
hosts under a run's maintenance window (no freeze alerts there), runs that were
interrupted (nobody executes them: offer Resume / Review), and runs another process is
executing (watch them, Pause / Cancel).

Everything is read from the journal and the run locks beside it, so it holds whichever
process runs the run: the window, a terminal ``hvconsole patch run``, or none any more.
Qt-free; a handful of SQLite reads per unfinished run.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from hvconsole.core.patch.journal import Journal, RunRecord, StepRecord
from hvconsole.core.patch.vocabulary import FINISHED_STATES, STEP_ORDER, RunEvent, RunState, Step, StepOutcome
from hvconsole.core.timeutil import parse_time, utcnow

from .control import executing_pid


@dataclass(frozen=True)
class ActiveMaintenance:
    run_id: int
    host: str
    step: str                 # the host's step now (in flight, else the last one recorded)
    since: datetime           # maintenance-on, console clock (UTC)
    until: datetime | None    # the window's recorded end; None when unreadable
    executing_pid: int | None = None


@dataclass(frozen=True)
class RunSummary:
    run_id: int
    kb: str
    state: RunState
    host: str | None          # where it stopped (the step in flight, else the last one recorded)
    step: str | None
    executing_pid: int | None
    created: datetime | None = None


def unfinished_runs(journal: Journal) -> list[RunRecord]:
    return [r for r in journal.runs() if r.state not in FINISHED_STATES]


def open_maintenance(journal: Journal, now: datetime | None = None) -> list[ActiveMaintenance]:
    """Hosts between maintenance-on and maintenance-off of an unfinished run, whichever
    process runs it (or none: a drained host of an interrupted run is still in its
    window). A window past its recorded ``until`` is left out when no process executes
    the run (its workflow died: it must not silence the host forever) or the run is
    paused (a forgotten pause must not either). A run some process is acting on keeps its
    hosts until their maintenance-off, whatever the recorded ``until`` says: that is on
    the console's clock as it was at maintenance-on, which may have been stepped since (a
    step forward would page for hosts rebooting on purpose), and a resumed run holds its
    window from the resume (the runner reopens it), not from the recording; its steps'
    own budgets bound how long it acts. Its own window is measured on each host's poll
    clock (core.maintenance)."""
    now = now or utcnow()
    out: list[ActiveMaintenance] = []
    for run in unfinished_runs(journal):
        pid: int | bool | None = True
        for host, records in _by_host(journal.steps(run.id)).items():
            on = next((r for r in reversed(records) if r.step == Step.MAINTENANCE_ON and r.outcome == StepOutcome.OK),
                      None)
            if on is None or any(r.step == Step.MAINTENANCE_OFF and r.outcome is not None for r in records):
                continue
            ev = on.evidence or {}
            until = _time(ev.get("until"))
            if pid is True:
                pid = executing_pid(journal, run.id)
            if until is not None and until <= now and (pid is None or run.state == RunState.PAUSED):
                continue
            where = _where(records)
            out.append(ActiveMaintenance(run.id, host, where.step if where else str(Step.MAINTENANCE_ON),
                                         _time(ev.get("since")) or on.finished_at or on.started_at, until,
                                         pid if isinstance(pid, int) else None))
    return out


def interrupted_runs(journal: Journal) -> list[RunSummary]:
    """Unfinished runs that no process executes, with the host and step where they
    stopped: what a "Run N was interrupted at HV01 · install – Resume / Review" banner
    says."""
    return [s for s in _summaries(journal) if s.executing_pid is None]


def active_runs(journal: Journal) -> list[RunSummary]:
    """Unfinished runs that some process executes (this one included)."""
    return [s for s in _summaries(journal) if s.executing_pid is not None]


def _summaries(journal: Journal) -> list[RunSummary]:
    out = []
    for run in unfinished_runs(journal):
        where = _where(journal.steps(run.id))
        try:
            state = RunState(run.state)
        except ValueError:
            state = RunState.RUNNING
        out.append(RunSummary(run.id, run.kb, state, where.host if where else None, where.step if where else None,
                              executing_pid(journal, run.id), run.created_at))
    return out


def _where(records: list[StepRecord]) -> StepRecord | None:
    """The step in flight (a kill leaves one), else the last step recorded. Only each
    (host, step)'s latest attempt counts: a killed attempt's row stays open after the
    resume's new attempt finished."""
    latest: dict[tuple[str, str], StepRecord] = {}
    for r in records:
        if r.step in STEP_ORDER or r.step == RunEvent.SOAK:
            latest[(r.host, r.step)] = r
    steps = sorted(latest.values(), key=lambda r: r.id)
    return next((r for r in reversed(steps) if r.outcome is None), steps[-1] if steps else None)


def _by_host(records: list[StepRecord]) -> dict[str, list[StepRecord]]:
    out: dict[str, list[StepRecord]] = {}
    for r in records:
        out.setdefault(r.host, []).append(r)
    return out


def _time(value: object) -> datetime | None:
    try:
        return parse_time(value) if isinstance(value, str) and value else None
    except ValueError:
        return None
