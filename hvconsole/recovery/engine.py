"""One guided recovery: read the host, decide with the rules, act, read again, journal
everything (docs/recovery.md).

Every step starts with a fresh read of the host (``recover_inspect``) and the rules decide
from it and from this incident's history whether the step may run; hard steps also need
the typed name. The step's intent is journalled before its script runs and its outcome
after. Opening an incident that has a step with no outcome (the console died meanwhile)
reads the host first and records what it found as that step's outcome ("interrupted");
the step is never sent again blindly, and the scripts themselves act only when the host's
state calls for it, so nothing is applied twice.

Runs on whatever thread calls it (the dialog's controller thread, the CLI's main thread);
every remote call has a deadline (``RecoveryHost.deadline_s``) and :meth:`cancel` stops
the call in flight at its next request boundary.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from hvconsole.core.maintenance import MaintenanceRegistry
from hvconsole.core.recovery import rules
from hvconsole.core.recovery.journal import FILE_NAME, Action, RecoveryJournal, current_user
from hvconsole.core.recovery.observe import Observation, from_inspect, unreachable
from hvconsole.core.recovery.record import build_record, write_record
from hvconsole.core.timeutil import format_time, utcnow
from hvconsole.remote.errors import RemoteError
from hvconsole.remote.target import CancelToken, Target

from .host_api import RecoveryHost

log = logging.getLogger(__name__)

# Host seconds each wait may take (divided by the site's speed for a simulated site).
SHUTDOWN_WAIT_S = 180         # a guest shutdown: Windows Server takes up to a few minutes
TURN_OFF_WAIT_S = 90          # Turn off is immediate unless the worker is hung
START_WAIT_S = 120
VERIFY_WAIT_S = 600           # a Windows guest boots and its heartbeat answers in 1-3 minutes
VERIFY_POLL_S = 10.0
EVENTS_BEFORE_S = 3600        # events read from this long before the finding's onset (or now)
Progress = Callable[[str, Mapping[str, Any]], None]
UNREACHABLE_KINDS = ("timeout", "refused", "tls")


class StepRefused(Exception):
    """The rules or the confirmation do not allow the step now (one sentence)."""


@dataclass(frozen=True)
class StepResult:
    step: str
    outcome: str
    summary: str
    observation: Observation | None
    answer: Mapping[str, Any] | None = None


class RecoverySite(Protocol):
    """What recovery needs of a site (``hvconsole.site.Site`` offers it; that module sits
    above the engines, so it is named here by what it does)."""

    @property
    def journal_path(self) -> Path: ...

    def target(self, name: str) -> Target | None: ...

    def names(self) -> list[str]: ...


def journal_for(site: RecoverySite) -> RecoveryJournal:
    """The recovery journal beside the site's patch journal (real or demo data folder)."""
    return RecoveryJournal(Path(site.journal_path).parent / FILE_NAME)


def record_folder(journal: RecoveryJournal) -> Path:
    return journal.path.parent / "incidents"


class RecoveryEngine:
    def __init__(self, journal: RecoveryJournal, host: RecoveryHost, vm_id: str, *,
                 vm_name: str | None = None, finding: Mapping[str, Any] | None = None, speed: float = 1.0,
                 maintenance: MaintenanceRegistry | None = None, progress: Progress | None = None,
                 clock: Callable[[], datetime] | None = None, who: str | None = None,
                 finding_open: Callable[[], bool] | None = None):
        """``finding_open``: the window's detector, asked whether this VM still has an
        open finding; Verify then also waits for it to clear (thread-safe, never blocking)."""
        self.journal = journal
        self.host = host
        self.vm_id = vm_id.lower()
        self.vm_name = vm_name
        self.finding = dict(finding) if finding else None
        self.speed = speed if speed > 0 else 1.0
        self.maintenance = maintenance
        self._progress = progress
        self._clock = clock or utcnow
        self.who = who or current_user()
        self._finding_open = finding_open
        self.incident_id: int | None = None
        self.continued: bool = False                  # an unfinished incident was picked up
        self.interrupted: list[Action] = []           # its steps that had no outcome
        self.observation: Observation | None = None
        self.record_paths: tuple[Path, Path] | None = None
        self._cancel = CancelToken()
        self.host.cancel = self._cancel

    # -- incident ------------------------------------------------------------------------

    def open(self) -> Observation:
        """Pick up this VM's unfinished incident or start one; read the host; settle any
        step left without an outcome from what the host says now."""
        existing = self.journal.open_incident(self.host.name, self.vm_id)
        obs = self.read()
        if existing is not None:
            self.incident_id, self.continued = existing.id, True
            self.vm_name = self.vm_name or existing.vm_name
            if self.finding is None and existing.finding:
                self.finding = dict(existing.finding)
            for action in self.journal.actions(existing.id):
                if action.in_flight:
                    self.interrupted.append(action)
                    self.journal.finish(action.id, rules.INTERRUPTED, {
                        "summary": "the console stopped while this step ran; read after the restart: "
                                   + describe(obs), "observation": obs.summary()}, at=self._clock())
        else:
            self.vm_name = self.vm_name or obs.vm_name
            self.incident_id = self.journal.create_incident(self.host.name, self.vm_id, self.vm_name,
                                                            finding=self.finding, who=self.who, at=self._clock())
        if obs.vm_name and not self.vm_name:
            self.vm_name = obs.vm_name
        if self.vm_name:
            self.journal.set_vm_name(self.incident_id, self.vm_name)
        self._emit("read", {"observation": obs})
        self._write_record()
        return obs

    def history(self) -> list[tuple[str, str | None]]:
        if self.incident_id is None:
            return []
        return [(a.step, a.outcome) for a in self.journal.actions(self.incident_id)]

    def offers(self, obs: Observation | None = None) -> dict[str, rules.Offer]:
        obs = obs or self.observation
        if obs is None:
            raise RuntimeError("open() first")
        return rules.offers(obs, self.history())

    def recommended(self) -> str | None:
        return next((o.step for o in self.offers().values() if o.recommended), None)

    def close_incident(self, summary: str = "closed by the admin without a verified recovery") -> None:
        if self.incident_id is not None:
            self.journal.close_incident(self.incident_id, "closed", summary, at=self._clock())
            self._write_record()

    def cancel(self) -> None:
        """Stop the call in flight (from any thread)."""
        self._cancel.cancel()

    # -- reading -------------------------------------------------------------------------

    def read(self, *, max_events: int = 20) -> Observation:
        since = self._events_since()
        try:
            doc = self.host.inspect(self.vm_id, since, max_events=max_events)
        except RemoteError as err:
            if err.kind in UNREACHABLE_KINDS:
                obs = unreachable(err.message)
                self.observation = obs
                return obs
            raise
        obs = from_inspect(doc)
        self.observation = obs
        return obs

    def _events_since(self) -> str:
        onset = None
        if self.finding and self.finding.get("first_seen"):
            from hvconsole.core.timeutil import parse_time
            try:
                onset = parse_time(str(self.finding["first_seen"]))
            except ValueError:
                onset = None
        return format_time((onset or self._clock()) - timedelta(seconds=EVENTS_BEFORE_S))

    # -- steps ---------------------------------------------------------------------------

    def run(self, step: str, confirmation: str | None = None) -> StepResult:
        """Run ``step`` now if the rules allow it (fresh read first); raises StepRefused."""
        if step not in rules.STEPS:
            raise StepRefused(f"there is no recovery step {step!r}")
        if self.incident_id is None:
            self.open()
        self._cancel = CancelToken()
        self.host.cancel = self._cancel
        obs = self.read()
        offer = rules.offers(obs, self.history())[step]
        if not offer.allowed:
            self._emit("read", {"observation": obs})
            raise StepRefused(f"{rules.TITLES[step]} is not possible now: {offer.reason}")
        if not rules.confirmed(step, confirmation, self.host.name, self.vm_name or obs.vm_name):
            expected = rules.confirmation_name(step, self.host.name, self.vm_name or obs.vm_name)
            raise StepRefused(f"{rules.TITLES[step]} needs confirmation: type the name "
                              f"{'of the host' if step == rules.RESTART_VMMS else 'of the VM'} exactly "
                              f"({len(expected or '')} characters)")
        assert self.incident_id is not None
        intent: dict[str, Any] = {"why": offer.reason, "who": self.who, "observation": obs.summary()}
        if step == rules.END_WORKER:
            intent["expected_pid"] = obs.worker_pid
        if step == rules.RESTART_VMMS:
            intent["expected_pid"] = obs.vmms_pid
        action_id = self.journal.begin(self.incident_id, step, intent, at=self._clock())
        budget = self._budget_s(step)
        silenced = self._maintenance_on(step, budget)
        self._emit("step-started", {"step": step, "deadline_s": self.host.deadline_s(budget),
                                    "host_wait_s": budget, "speed": self.speed})
        answer: Mapping[str, Any] | None = None
        after: Observation | None = None
        try:
            outcome, summary, answer, after = self._do(step, obs, intent)
        except RemoteError as err:
            cancelled = self._cancel.cancelled
            outcome = rules.CANCELLED if cancelled else rules.FAILED
            summary = "cancelled by the admin" if cancelled else err.message
        finally:
            if silenced:
                self._maintenance_off(step)
        if after is None:
            try:
                self._cancel = CancelToken()
                self.host.cancel = self._cancel
                after = self.read()
            except RemoteError as err:
                summary += f" (the read afterwards failed: {err.message})"
        evidence: dict[str, Any] = {"summary": summary, "answer": dict(answer) if answer else None,
                                    "observation": None if after is None else after.summary()}
        if step == rules.CAPTURE and after is not None:
            evidence["events"] = [dict(e) for e in after.events]
            evidence["worker"] = dict(after.worker) if after.worker else None
            evidence["finding"] = self.finding
        self.journal.finish(action_id, outcome, evidence, at=self._clock())
        if step == rules.VERIFY and outcome == rules.OK:
            self.journal.close_incident(self.incident_id, "recovered", f"{self.vm_name or self.vm_id} is running "
                                        f"and its heartbeat is OK ({summary})", at=self._clock())
        self._write_record()
        result = StepResult(step, outcome, summary, after, answer)
        self._emit("step-finished", {"step": step, "outcome": outcome, "summary": summary, "observation": after})
        return result

    def _budget_s(self, step: str) -> float:
        return {rules.SHUTDOWN: SHUTDOWN_WAIT_S, rules.TURN_OFF: TURN_OFF_WAIT_S, rules.START: START_WAIT_S,
                rules.VERIFY: VERIFY_WAIT_S, rules.RESTART_VMMS: 135.0, rules.END_WORKER: 40.0}.get(step, 10.0)

    def _do(self, step: str, obs: Observation, intent: Mapping[str, Any]
            ) -> tuple[str, str, Mapping[str, Any] | None, Observation | None]:
        if step == rules.CAPTURE:
            after = self.read(max_events=100)
            return rules.OK, "evidence captured: " + describe(after) + f"; {len(after.events)} events", None, after
        if step == rules.VERIFY:
            return self._verify()
        if step == rules.END_WORKER:
            answer = self.host.end_worker(self.vm_id, intent.get("expected_pid"))
            if answer.get("ended"):
                ended = f"worker process {answer.get('pid')} ended; VM {answer.get('state_after')}"
                return rules.OK, ended, answer, None
            return self._not_done(answer)
        if step == rules.RESTART_VMMS:
            answer = self.host.restart_vmms(intent.get("expected_pid"))
            query = answer.get("vm_query") or {}
            if query.get("ok"):
                how = "restarted" if answer.get("restarted") else str(answer.get("skipped_reason"))
                return rules.OK, f"vmms {how}; Get-VM answers in {query.get('elapsed_ms')} ms", answer, None
            still = f"vmms {answer.get('status_after')}, Get-VM still fails: {query.get('error')}"
            return rules.FAILED, still, answer, None
        wait = {rules.SHUTDOWN: SHUTDOWN_WAIT_S, rules.TURN_OFF: TURN_OFF_WAIT_S,
                rules.START: START_WAIT_S}.get(step, 30)
        answer = self.host.vm_action(self.vm_id, step, int(wait))
        if answer.get("done"):
            moved = f"{rules.TITLES[step]}: VM {answer.get('state_before')} -> {answer.get('state_after')}"
            return rules.OK, moved, answer, None
        return self._not_done(answer)

    def _not_done(self, answer: Mapping[str, Any]) -> tuple[str, str, Mapping[str, Any], None]:
        if answer.get("error"):
            return rules.FAILED, str(answer["error"]), answer, None
        reason = str(answer.get("skipped_reason") or "nothing done")
        # The host said the step was not needed or not possible: for the ordering this is
        # a gentle step that did not work, so the next one may be offered.
        return rules.FAILED if "does not answer" in reason else rules.SKIPPED, reason, answer, None

    def _verify(self) -> tuple[str, str, None, Observation | None]:
        """Running with heartbeat OK in two reads, uptime advancing between them."""
        start = time.monotonic()
        limit = VERIFY_WAIT_S / self.speed + 30.0
        poll = max(0.3, VERIFY_POLL_S / self.speed)
        last: Observation | None = None
        good: Observation | None = None
        while True:
            obs = self.read()
            last = obs
            if obs.situation == "healthy":
                if good is not None and (obs.uptime_s or 0) > (good.uptime_s or 0) and not self._finding_still_open():
                    return rules.OK, ("running, heartbeat OK, uptime advancing "
                                      f"({good.uptime_s} s -> {obs.uptime_s} s)"
                                      + ("; the finding has cleared" if self._finding_open else "")), None, obs
                good = obs
            else:
                good = None
            left = limit - (time.monotonic() - start)
            self._emit("countdown", {"step": rules.VERIFY, "remaining_s": max(0.0, left), "observation": obs})
            if left <= 0:
                return rules.FAILED, "not verified in time: " + describe(last), None, last
            if self._cancel.wait(min(poll, left)):
                return rules.CANCELLED, "cancelled by the admin: " + describe(last), None, last

    def _finding_still_open(self) -> bool:
        if self._finding_open is None:
            return False
        try:
            return bool(self._finding_open())
        except Exception:   # the window's detector is gone: judge by the host alone
            log.debug("finding check failed", exc_info=True)
            return False

    # -- plumbing ------------------------------------------------------------------------

    def _maintenance_on(self, step: str, budget_s: float) -> bool:
        # Only the acting steps: Verify must let the detector see the VM again, or the
        # finding it waits for could not clear on its own evidence.
        if self.maintenance is None or step not in rules.ACTING_STEPS:
            return False
        now = self._clock()
        until = now + timedelta(seconds=budget_s + 120)
        vm = None if step == rules.RESTART_VMMS else self.vm_id
        # begun: which side of a later step of the console's clock these times were written on.
        self.maintenance.begin(self.host.name, vm, until=until, reason=f"recovery: {rules.TITLES[step]}",
                               begun=now)
        return True

    def _maintenance_off(self, step: str) -> None:
        assert self.maintenance is not None
        self.maintenance.end(self.host.name, None if step == rules.RESTART_VMMS else self.vm_id)

    def _write_record(self) -> None:
        if self.incident_id is None:
            return
        try:
            record = build_record(self.journal.incident(self.incident_id), self.journal.actions(self.incident_id))
            self.record_paths = write_record(record, record_folder(self.journal))
        except OSError as exc:   # a full disk must not stop a recovery; say so in the log
            log.warning("the incident record could not be written: %s", exc)

    def _emit(self, kind: str, data: Mapping[str, Any]) -> None:
        if self._progress is not None:
            try:
                self._progress(kind, data)
            except Exception:   # a broken listener must not break the recovery
                log.exception("recovery progress listener failed")


def describe(obs: Observation) -> str:
    """One line for people: what the host said."""
    if not obs.reachable:
        return "the host does not answer (" + (obs.error or "no answer") + ")"
    if not obs.vmms_ok:
        return "VMMS does not answer Get-VM (" + (obs.error or "?") + ")"
    if not obs.vm_found:
        return "the VM is not on this host"
    parts = [f"VM {obs.state}", f"heartbeat {obs.heartbeat or 'none'}"]
    if obs.shutdown_status:
        parts.append(f"shutdown service {obs.shutdown_status}")
    if obs.uptime_s is not None:
        parts.append(f"uptime {obs.uptime_s} s")
    if obs.worker_pid is not None:
        parts.append(f"worker pid {obs.worker_pid}")
    return ", ".join(parts)


def active_recoveries(journal: RecoveryJournal, now: datetime | None = None) -> list[dict[str, Any]]:
    """Recovery steps in flight now, whichever process runs them: for the window's
    maintenance registry (silence the detector for that VM, or the host for a VMMS
    restart, only while a step runs) and the tile's "recovering: <step>" text. A step
    older than an hour is a dead process's and is not reported (the registry's windows
    always end)."""
    now = now or utcnow()
    out = []
    for incident, action in journal.active_steps():
        if now - action.started_at > timedelta(hours=1):
            continue
        out.append({"host": incident.host, "vm_id": None if action.step == rules.RESTART_VMMS else incident.vm_id,
                    "vm_name": incident.vm_name, "step": action.step, "title": rules.TITLES[action.step],
                    "since": action.started_at, "incident_id": incident.id})
    return out
