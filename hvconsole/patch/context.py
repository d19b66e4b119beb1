"""What the steps of one run need: the journal, the plan, the update, the hosts, the options.

:class:`RunContext` is shared by every host of a run (thread-safe parts only: the journal
has its own lock, the maintenance registry too). :class:`HostContext` belongs to the one
thread working on a host; it owns that host's :class:`~hvconsole.patch.host_api.PatchHost`
and writes that host's journal rows through :meth:`HostContext.begin`, which is the only
way a step acts: intent first, then the outcome with its evidence.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from hvconsole.core.catalog import BuildTarget, CatalogUpdate
from hvconsole.core.maintenance import MaintenanceRegistry
from hvconsole.core.patch.journal import Journal, StepRecord
from hvconsole.core.patch.plan import PatchPlan
from hvconsole.core.patch.vocabulary import Phase, ProgressEvent, Step, StepOutcome, phase_for_outcome
from hvconsole.core.timeutil import utcnow

from .control import RunControl
from .host_api import PatchHost

if TYPE_CHECKING:      # staging imports this module: its Protocol is needed for the annotation only
    from .staging import Stager

log = logging.getLogger(__name__)

# Called for every progress event, on the thread that did the work (a host's worker, the
# soak loop); it must not block. The same events are in the journal (``Journal.events``).
Progress = Callable[[ProgressEvent], None]


@dataclass(frozen=True)
class EngineOptions:
    """Tunables. Durations are in **host seconds** (what the host's clock shows); ``speed``
    is how many host seconds pass per real second (1 for real hosts, the speed-up of a
    simulated site), so every wait the engine does in real time is ``host_s / speed``."""

    speed: float = 1.0
    required_free_mb: int = 10 * 1024          # system drive, for the servicing stack
    backup_max_age_h: float = 48.0              # older (or no) backup: a warning, not a stop
    install_timeout_s: float = 3 * 3600.0       # a cumulative update via DISM: 10-60 min
    install_poll_s: float = 15.0
    reboot_delay_s: int = 30                    # shutdown /r /t 30: the WinRM call returns first
    reboot_poll_s: float = 5.0
    max_extra_reboots: int = 1                  # "cumulative updates may need a second reboot"
    drain_timeout_s: float = 1800.0
    settle_timeout_s: float = 900.0             # VMs in transition, vmms starting after a boot
    settle_poll_s: float = 5.0
    postcheck_polls: int = 3
    postcheck_interval_s: float = 10.0
    soak_poll_s: float = 15.0
    min_real_wait_s: float = 0.1
    maintenance_margin_s: float = 3600.0
    # REAL seconds (not host): the longest silence while the run waits (soak, pause, the
    # admin's promotion decision) before a progress line says it is still waiting.
    heartbeat_s: float = 30.0

    def __post_init__(self) -> None:
        if self.speed <= 0:
            raise ValueError("speed must be positive")

    def real(self, host_seconds: float) -> float:
        """Real seconds for a duration in host seconds (never below ``min_real_wait_s``)."""
        return max(self.min_real_wait_s, host_seconds / self.speed)


@dataclass
class RunContext:
    journal: Journal
    run_id: int
    plan: PatchPlan
    update: CatalogUpdate
    host_factory: Callable[[str], PatchHost]      # a new PatchHost (own sessions) for a host name
    control: RunControl
    options: EngineOptions = field(default_factory=EngineOptions)
    maintenance: MaintenanceRegistry = field(default_factory=MaintenanceRegistry)
    stager: Stager | None = None                  # staging.SmbStager or a test double
    progress: Progress | None = None
    # When the run was created: with the run id it names what the run leaves on a host (the
    # install task), so a run of another journal with the same id never takes it for its own.
    created: datetime | None = None

    def say(self, host: str, step: str, phase: Phase | str, text: str) -> ProgressEvent:
        """Tell the progress callback and the journal's event log (so a window in another
        process shows the same live log)."""
        event = ProgressEvent(host, str(step), Phase(phase), text, utcnow())
        try:
            self.journal.add_event(self.run_id, event.host, event.step, event.phase, event.text, event.at)
        except Exception:  # the log is for people; the steps' rows are the record
            log.exception("writing a progress event to the journal failed")
        if self.progress is not None:
            try:
                self.progress(event)
            except Exception:  # a broken progress printer must not stop a patch run
                log.exception("progress callback failed")
        return event


class StepHandle:
    """One journal row: the intent is written on creation, :meth:`finish` writes the rest."""

    def __init__(self, hc: HostContext, step: str, intent: Mapping[str, Any], text: str):
        self.hc, self.step = hc, step
        self.finished = False
        self.id = hc.run.journal.begin_step(hc.run.run_id, hc.name, step, intent)
        hc.open_step = self
        hc.run.say(hc.name, step, Phase.START, text)

    def finish(self, outcome: StepOutcome, summary: str, **evidence: Any) -> StepOutcome:
        evidence["summary"] = summary
        self.hc.run.journal.finish_step(self.id, outcome, evidence)
        self.finished = True
        if self.hc.open_step is self:
            self.hc.open_step = None
        self.hc.run.say(self.hc.name, self.step, phase_for_outcome(outcome), summary)
        return StepOutcome(outcome)


class HostContext:
    """One host of the run, used by one worker thread at a time."""

    def __init__(self, run: RunContext, name: str):
        self.run = run
        self.name = name
        self._api: PatchHost | None = None
        self._peers: dict[str, PatchHost | None] = {}
        self.open_step: StepHandle | None = None     # intent written, outcome not yet
        self.failure_path = False     # putting the host back after a failure: do not wait long
        self._last_said: dict[str, float] = {}

    @property
    def api(self) -> PatchHost:
        if self._api is None:
            self._api = self.run.host_factory(self.name)
        return self._api

    def peer(self, name: str) -> PatchHost | None:
        """Another host (a cluster node, a live-migration destination), to find VMs that
        moved there; None when the console cannot reach it (not in the inventory)."""
        key = name.casefold()
        if key not in self._peers:
            try:
                self._peers[key] = self.run.host_factory(name)
            except KeyError:
                self._peers[key] = None
        return self._peers[key]

    def close(self) -> None:
        for api in [self._api, *self._peers.values()]:
            if api is not None:
                api.close()
        self._api = None
        self._peers.clear()

    def records(self) -> list[StepRecord]:
        return self.run.journal.steps(self.run.run_id, self.name)

    def last_ok(self, step: str) -> StepRecord | None:
        return self.run.journal.last_ok(self.run.run_id, self.name, step)

    def attempts(self, step: str) -> list[StepRecord]:
        return [r for r in self.records() if r.step == step]

    def begin(self, step: str, intent: Mapping[str, Any], text: str) -> StepHandle:
        return StepHandle(self, step, intent, text)

    def still(self, step: str, what: str, started: float) -> None:
        """A long wait (an install, a reboot) says it is still going at least every
        ``options.heartbeat_s`` real seconds: call it on every poll."""
        now = time.monotonic()
        if now - self._last_said.get(step, started) >= self.run.options.heartbeat_s:
            self._last_said[step] = now
            minutes = (now - started) / 60
            self.run.say(self.name, step, Phase.INFO, f"{what} ({minutes:.0f} min so far)")

    def build_target(self) -> BuildTarget | None:
        """The catalog's target for this host's CurrentBuild, as preflight read it."""
        pre = self.last_ok(Step.PREFLIGHT)
        build = (pre.evidence or {}).get("current_build") if pre else None
        return self.run.update.target_for(build) if isinstance(build, int) else None
