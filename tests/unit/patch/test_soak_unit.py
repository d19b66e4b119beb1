"""patch.soak on its own: the gate's verdict per pilot host (critical findings, a host that
does not answer, heartbeats not back, VMs not in their prior state), the live line, and
the run's soak state read back from the journal. The soak loop itself is covered through
the runner (test_run_control.py); here each decision is checked directly in milliseconds."""

from __future__ import annotations

import dataclasses

import pytest

from hvconsole.core.patch.plan import HealthGate, PatchPlan
from hvconsole.core.patch.vocabulary import GateVerdict, RunEvent, Step, StepOutcome
from hvconsole.core.snapshot import unreachable
from hvconsole.patch.context import HostContext, RunContext
from hvconsole.patch.control import RunControl
from hvconsole.patch.engine import catalog_update
from hvconsole.patch.host_api import PatchHost
from hvconsole.patch.soak import GateCheck, _check, live_text, soak_state
from tests.unit.patch.test_engine_fakes import OPTIONS, T0, FakeHost, fake_site, new_run, plan_for


def run_context(tmp_path, plan: PatchPlan, hosts: dict[str, FakeHost], stager=None) -> RunContext:
    """A run of ``plan`` over the fake ``hosts``, as the engine builds it, without a runner."""
    journal, run_id = new_run(tmp_path, plan)
    return RunContext(journal=journal, run_id=run_id, plan=plan, update=catalog_update(plan.kb),
                      host_factory=lambda name: PatchHost(name, hosts[name], hosts[name]),
                      control=RunControl(journal, run_id), options=OPTIONS, stager=stager)


def drained(hc: HostContext, host: FakeHost) -> None:
    """The first drain intent, as the drain step writes it: each VM's state and heartbeat
    before maintenance (what the gate compares with)."""
    vms = [{"id": v.id, "name": v.name, "state": v.state, "heartbeat": v.heartbeat} for v in host.vms.values()]
    step = hc.run.journal.begin_step(hc.run.run_id, hc.name, Step.DRAIN, {"vms": vms})
    hc.run.journal.finish_step(step, StepOutcome.OK, {"summary": "drained"})


@pytest.fixture
def pilot(tmp_path):
    hosts = fake_site("HV01", vms=2)
    run = run_context(tmp_path, plan_for(("HV01",), ("HV02",)), hosts)
    hc = HostContext(run, "HV01")
    drained(hc, hosts["HV01"])
    yield hc, hosts["HV01"]
    hc.close()


def with_gate(hc: HostContext, **gate) -> None:
    hc.run.plan = dataclasses.replace(hc.run.plan, gate=HealthGate(**gate))


CRASH = {"kind": "guest-crash", "vm_name": "HV01-VM0", "severity": "critical"}


def test_a_healthy_pilot_passes(pilot):
    hc, _ = pilot
    check = _check(hc, hc.api.snapshot(), [])
    assert check.reasons == [] and check.reachable
    assert (check.vms, check.vms_in_prior_state, check.heartbeats_lost) == (3, 3, [])


def test_a_critical_finding_fails_the_gate_unless_the_gate_ignores_findings(pilot):
    hc, _ = pilot
    snap = hc.api.snapshot()
    assert _check(hc, snap, [CRASH]).reasons == ["critical findings: guest-crash on HV01-VM0"]
    with_gate(hc, no_critical_findings=False)
    check = _check(hc, snap, [CRASH])
    assert check.reasons == [] and check.findings == 1       # still counted for the live line


def test_a_host_that_does_not_answer_fails_the_gate(pilot):
    hc, _ = pilot
    check = _check(hc, unreachable("HV01", T0, "timeout", "no answer within 30 s"), [])
    assert not check.reachable
    assert check.reasons == ["not answering at the end of the soak (no answer within 30 s)"]


def test_a_heartbeat_not_back_fails_the_gate(pilot):
    hc, host = pilot
    host.vms[next(iter(host.vms))].heartbeat = "NoContact"
    check = _check(hc, hc.api.snapshot(), [])
    assert check.heartbeats_lost == ["HV01-VM0"]
    assert check.reasons == ["heartbeat not back: HV01-VM0"]
    with_gate(hc, heartbeats_back=False)
    assert _check(hc, hc.api.snapshot(), []).reasons == []


def test_a_vm_not_in_its_prior_state_fails_the_gate(pilot):
    hc, host = pilot
    vm = next(v for v in host.vms.values() if v.name == "HV01-VM1")
    vm.state, vm.heartbeat = "Saved", None
    check = _check(hc, hc.api.snapshot(), [])
    assert (check.vms, check.vms_in_prior_state) == (3, 2)
    assert "not in their prior state: HV01-VM1" in check.reasons
    assert "heartbeat not back: HV01-VM1" in check.reasons
    with_gate(hc, vms_in_prior_state=False, heartbeats_back=False)
    assert _check(hc, hc.api.snapshot(), []).reasons == []


def test_the_live_line_counts_and_says_where_the_gate_stands():
    ok = GateCheck(vms=3, vms_in_prior_state=3)
    assert live_text(12 * 60, [ok, ok]) == \
        "soak: 12 min left; 0 critical findings, all heartbeats OK, 6/6 VMs in prior state (gate passing so far)"
    bad = GateCheck(reasons=["x"], findings=1, heartbeats_lost=["VM7"], vms=3, vms_in_prior_state=2)
    down = GateCheck(reasons=["y"], reachable=False)
    assert live_text(45, [ok, bad, down]) == (
        "soak: 45 s left; 1 critical finding, heartbeat lost: VM7, 5/6 VMs in prior state, "
        "1 host(s) not answering (gate FAILING so far)")
    assert live_text(-3, []).startswith("soak: 0 s left")


def test_the_soak_state_is_read_from_the_last_row_of_every_pilot_host(tmp_path):
    run = run_context(tmp_path, plan_for(("HV01", "HV02"), ("HV03",)), fake_site("HV01", "HV02"))
    wave = run.plan.waves[0]
    journal = run.journal

    def soak(host: str, outcome: StepOutcome | None) -> None:
        step = journal.begin_step(run.run_id, host, RunEvent.SOAK, {"wave": wave.name})
        if outcome is not None:
            journal.finish_step(step, outcome, {"summary": str(outcome)})

    assert soak_state(run, wave) is None
    soak("HV01", StepOutcome.FAILED)
    soak("HV02", None)                                     # still soaking: no verdict yet
    assert soak_state(run, wave) is None
    soak("HV02", StepOutcome.OK)
    assert soak_state(run, wave) == GateVerdict.FAILED
    soak("HV01", StepOutcome.OK)                           # a resumed soak passed this time
    assert soak_state(run, wave) == GateVerdict.PASSED
