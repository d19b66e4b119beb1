"""The patch run's vocabulary: run states, steps, step outcomes, progress phases and the
typed progress event, named once for the engine, the journal, the CLI and the GUI.

The values are the strings the journal has always stored (``RunState.DONE == "done"``),
so journals written before these enums existed read the same, and a ``StrEnum`` member
compares, hashes and serialises as its string.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class RunState(StrEnum):
    PLANNED = "planned"
    RUNNING = "running"
    PAUSED = "paused"
    CANCELLING = "cancelling"
    AWAITING_PROMOTION = "awaiting-promotion"   # the pilot passed its soak; waits for promote / halt
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"


FINISHED_STATES = frozenset({RunState.DONE, RunState.FAILED, RunState.CANCELLED})
UNFINISHED_STATES = frozenset(set(RunState) - FINISHED_STATES)


class Step(StrEnum):
    """The per-host steps, in :data:`STEP_ORDER`."""

    PREFLIGHT = "preflight"
    STAGE = "stage"
    MAINTENANCE_ON = "maintenance-on"
    DRAIN = "drain"
    INSTALL = "install"
    REBOOT = "reboot"
    VERIFY = "verify"
    RESTORE = "restore"
    POSTCHECK = "postcheck"
    MAINTENANCE_OFF = "maintenance-off"


STEP_ORDER: tuple[Step, ...] = (Step.PREFLIGHT, Step.STAGE, Step.MAINTENANCE_ON, Step.DRAIN, Step.INSTALL,
                                Step.REBOOT, Step.VERIFY, Step.RESTORE, Step.POSTCHECK, Step.MAINTENANCE_OFF)
# Steps that change a host; a cancel stops before them. The ones after the reboot put the
# host back (verify, restore, postcheck, maintenance-off) and still run after a cancel.
CHANGING_STEPS = frozenset({Step.PREFLIGHT, Step.STAGE, Step.MAINTENANCE_ON, Step.DRAIN, Step.INSTALL,
                            Step.REBOOT})


class RunEvent(StrEnum):
    """The ``step`` of run-wide progress events (``host == "*"``) and journal rows that
    are not per-host steps. ``soak`` is also the step name of each pilot host's soak row."""

    WAVE = "wave"
    SOAK = "soak"
    PROMOTION = "promotion"
    RUN = "run"


RUN_WIDE = "*"        # the host of a run-wide progress event


class StepOutcome(StrEnum):
    OK = "ok"
    FAILED = "failed"
    SKIPPED = "skipped"
    CANCELLED = "cancelled"


# Outcomes after which a step is not run again in this run.
COMPLETED_OUTCOMES = frozenset({StepOutcome.OK, StepOutcome.SKIPPED})


class Phase(StrEnum):
    """What a progress event says about its step."""

    START = "start"
    OK = "ok"
    FAILED = "failed"
    SKIPPED = "skipped"
    CANCELLED = "cancelled"
    INFO = "info"


class HostState(StrEnum):
    """Where one host of a run ended up in this process (the runner's result per host)."""

    NOT_STARTED = "not started"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"
    STOPPED = "stopped"        # the process stopped; the journal has where it stood


class HostStatus(StrEnum):
    """Where one host of a run stands, as the journal tells it (``run_view``)."""

    NOT_STARTED = "not started"
    IN_PROGRESS = "in progress"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"


HOST_FINISHED = frozenset({HostStatus.DONE, HostStatus.FAILED, HostStatus.CANCELLED})


class StepState(StrEnum):
    """A step in a host's timeline: its outcome, or where it stands without one."""

    PENDING = "pending"
    RUNNING = "running"
    OK = "ok"
    FAILED = "failed"
    SKIPPED = "skipped"
    CANCELLED = "cancelled"


class GateVerdict(StrEnum):
    """The soak's health gate over all pilot hosts."""

    PASSED = "passed"
    FAILED = "failed"


class Decision(StrEnum):
    """The admin's answer to a run awaiting promotion."""

    PROMOTE = "promote"
    HALT = "halt"


class ControlAction(StrEnum):
    PAUSE = "pause"
    CONTINUE = "continue"
    CANCEL = "cancel"
    PROMOTE = "promote"
    HALT = "halt"


HALTED_REASON = "halted by the admin after the pilot"


@dataclass(frozen=True)
class ProgressEvent:
    """One line of a run's progress. ``host == "*"`` for run-wide events (wave, soak,
    promotion, run); ``step`` is a :class:`Step` or :class:`RunEvent` value; ``at`` is the
    console's UTC clock."""

    host: str
    step: str
    phase: Phase
    text: str
    at: datetime

    @property
    def run_wide(self) -> bool:
        return self.host == RUN_WIDE


def phase_for_outcome(outcome: str) -> Phase:
    """The progress phase that reports a step outcome (same string)."""
    return Phase(str(outcome))


def phase_for_run_state(state: str) -> Phase:
    """The phase of the final ``run`` event: done → ok, failed/cancelled as they are,
    anything else (a stopped run stays running) → info."""
    return {RunState.DONE: Phase.OK, RunState.FAILED: Phase.FAILED,
            RunState.CANCELLED: Phase.CANCELLED}.get(RunState(state), Phase.INFO)
