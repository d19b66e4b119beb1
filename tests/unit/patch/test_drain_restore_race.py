"""A drain the console stopped waiting for may still be at work on the host.

A host runs a script to its end whatever happens to the console that started it: a
runner killed (or stopped) right after it sent ``patch_drain``, or a drain call whose answer
was lost, leaves the script saving VMs a little later (PowerShell starting, a cluster
drain first, a Get-VM per VM). A restore that reads those VMs as Running in the meantime
must not take that for "never touched": it would skip them, verify them Running, and the
host would save them right after. Here the fake host applies the first drain only some
polls after the call, and every test lets it finish before judging the VMs.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Mapping
from typing import Any

from test_engine_fakes import GOOD_SHA, OPTIONS, PACKAGE_PATH, FakeHost, new_run, plan_for, run

from hvconsole.core.patch.vocabulary import RunState, Step, StepOutcome
from hvconsole.patch.control import request
from hvconsole.remote.errors import RemoteError

NEVER = 10**9


@dataclasses.dataclass
class LateDrainHost(FakeHost):
    """The first ``patch_drain`` takes effect ``late_polls`` polls after it was sent; with
    ``lose_answer`` the console's call ends without the answer (a timeout on the wire)."""

    late_polls: int = 6
    lose_answer: bool = False
    drain_sent_at: Any = None
    _late: list[Any] = dataclasses.field(default_factory=list)     # [polls left, params]
    _drains: int = 0

    def _patch_drain(self, p: Mapping[str, Any]) -> dict[str, Any]:
        self._drains += 1
        if self._drains > 1:
            return super()._patch_drain(p)
        self.drain_sent_at = self.now
        self._late.append([self.late_polls, p])
        return {"cluster": None, "vms": []}

    def run_script(self, script: str, params: Mapping[str, Any], *, timeout_s: float, cancel: Any = None) -> Any:
        result = super().run_script(script, params, timeout_s=timeout_s, cancel=cancel)
        if script == "patch_drain" and self.lose_answer and self._drains == 1:
            raise RemoteError("timeout", f"no answer from {self.name} within 1920 s")
        return result

    def poll(self, cancel: Any = None) -> Any:
        with self.lock:
            for late in list(self._late):
                late[0] -= 1
                if late[0] <= 0:
                    self._late.remove(late)
                    FakeHost._patch_drain(self, late[1])
        return super().poll(cancel)

    def settle(self) -> dict[str, str]:
        """Poll until the host has nothing left to do; the VMs' states then."""
        while self._late and self._late[0][0] < NEVER // 2:
            self.poll()
        return {v.name: v.state for v in self.vms.values()}


def late_host(**kw: Any) -> LateDrainHost:
    host = LateDrainHost("HV01", **kw)
    host.add_vms(("HV01-VM0", "Running"), ("HV01-VM1", "Running"), ("HV01-VM2", "Running"), ("HV01-OFF", "Off"))
    host.files[PACKAGE_PATH.lower()] = GOOD_SHA
    return host


BEFORE = {"HV01-VM0": "Running", "HV01-VM1": "Running", "HV01-VM2": "Running", "HV01-OFF": "Off"}


def stopped_in_drain_then_cancelled(tmp_path, host: LateDrainHost):
    """The runner stops right after sending the drain (a kill leaves the journal so), then
    the admin cancels and a new process carries the cancel out (`hvconsole patch cancel`)."""
    hosts = {"HV01": host}
    stopped = threading.Event()
    host.stop_after[("patch_drain", 1)] = stopped
    journal, run_id = new_run(tmp_path, plan_for(("HV01",)))
    first = run(journal, run_id, hosts, stop=stopped)
    assert first.state == RunState.RUNNING and stopped.is_set()
    request(journal, run_id, "cancel")
    return journal, run_id, run(journal, run_id, hosts)


def test_cancel_after_a_stopped_drain_waits_for_the_drain_the_host_still_runs(tmp_path):
    host = late_host(late_polls=6)
    journal, run_id, result = stopped_in_drain_then_cancelled(tmp_path, host)
    assert result.state == RunState.CANCELLED
    restore = [r for r in journal.steps(run_id, "HV01") if r.step == Step.RESTORE]
    assert [r.outcome for r in restore] == [StepOutcome.OK]
    assert host.settle() == BEFORE


def test_cancel_after_a_drain_that_never_reached_the_host_ends_within_its_budget(tmp_path):
    """The other side of the same doubt: the drain was lost on the way. The restore waits
    at most until the drain's budget on the host has run out, and finds nothing to do."""
    host = late_host(late_polls=NEVER)
    options = dataclasses.replace(OPTIONS, drain_timeout_s=60.0)
    hosts = {"HV01": host}
    stopped = threading.Event()
    host.stop_after[("patch_drain", 1)] = stopped
    journal, run_id = new_run(tmp_path, plan_for(("HV01",)))
    run(journal, run_id, hosts, stop=stopped, options=options)
    request(journal, run_id, "cancel")
    assert run(journal, run_id, hosts, options=options).state == RunState.CANCELLED
    restore = [r for r in journal.steps(run_id, "HV01") if r.step == Step.RESTORE]
    assert [r.outcome for r in restore] == [StepOutcome.OK]
    # The drain's budget (60 s) and the time its call may take to reach the host (120 s),
    # plus a few polls: never the settle timeout or more.
    assert (host.now - host.drain_sent_at).total_seconds() <= 180 + 60
    assert host.settle() == BEFORE


def test_failure_path_after_a_lost_drain_answer_restores_what_the_host_drained_late(tmp_path):
    """The drain call's answer is lost and the VMs stay Running past the console's drain
    wait: the drain fails, and the failure path's restore must not skip the VMs the host
    goes on to save."""
    options = dataclasses.replace(OPTIONS, drain_timeout_s=60.0)
    host = late_host(late_polls=16, lose_answer=True)
    journal, run_id = new_run(tmp_path, plan_for(("HV01",)))
    result = run(journal, run_id, {"HV01": host}, options=options)
    assert result.state == RunState.FAILED
    outcomes = {r.step: r.outcome for r in journal.steps(run_id, "HV01")}
    assert outcomes[Step.DRAIN] == StepOutcome.FAILED and outcomes[Step.RESTORE] == StepOutcome.OK
    assert host.settle() == BEFORE
