"""Pure step decisions: next step from the journal, prior VM states from the first drain
intent, restore actions, installer exit codes, proof of fix."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta, timezone

import pytest

from hvconsole.core.catalog import BuildTarget
from hvconsole.core.patch.journal import Journal
from hvconsole.core.patch.steps import (STEPS, interpret_exit_code, next_step, prior_vm_states,
                                        restore_actions, verify_fixed, vms_not_restored)
from hvconsole.core.snapshot import OsInfo, Snapshot, VmSample, unreachable

T0 = datetime(2026, 11, 26, 22, 0, tzinfo=timezone.utc)


def vm(i, state):
    return VmSample(id=f"vm-{i}", name=f"VM{i}", state=state)


def test_next_step_follows_the_journal(tmp_path):
    with Journal(tmp_path / "j.sqlite") as j:
        run = j.create_run("KB1", {})
        assert next_step(j.steps(run, "HV01")) == "preflight"
        for step in STEPS[:4]:
            j.finish_step(j.begin_step(run, "HV01", step, {}), "ok", {})
        j.begin_step(run, "HV01", "install", {"task": "t"})            # killed mid-install
        assert next_step(j.steps(run, "HV01")) == "install"
        j.finish_step(j.begin_step(run, "HV01", "install", {}), "ok", {})
        assert next_step(j.steps(run, "HV01")) == "reboot"
        assert next_step(j.steps(run, "HV02")) == "preflight"


def test_prior_states_come_from_the_first_drain_attempt(tmp_path):
    with Journal(tmp_path / "j.sqlite") as j:
        run = j.create_run("KB1", {})
        j.begin_step(run, "HV01", "drain", {"vms": [{"id": "vm-1", "name": "VM1", "state": "Running"},
                                                     {"id": "vm-2", "name": "VM2", "state": "Off"}]})
        # The console died after saving VM1; the retry sees it Saved. The truth is the first intent.
        j.begin_step(run, "HV01", "drain", {"vms": [{"id": "vm-1", "name": "VM1", "state": "Saved"},
                                                     {"id": "vm-2", "name": "VM2", "state": "Off"}]})
        prior = prior_vm_states(j.steps(run, "HV01"))
    assert prior["vm-1"].state == "Running" and prior["vm-2"].state == "Off"


def test_restore_actions_and_check():
    from hvconsole.core.patch.steps import PriorVm
    prior = {f"vm-{i}": PriorVm(f"vm-{i}", f"VM{i}", s) for i, s in
             enumerate(["Running", "Running", "Running", "Off", "Saved", "Running", "RunningCritical"])}
    current = [vm(0, "Running"), vm(1, "Saved"), vm(2, "Off"), vm(3, "Off"), vm(4, "Saved"), vm(6, "Paused")]
    actions = {a.vm_id: a.action for a in restore_actions(prior, current)}
    assert actions == {"vm-0": "none", "vm-1": "start", "vm-2": "start", "vm-3": "none", "vm-4": "none",
                       "vm-5": "none", "vm-6": "resume"}
    assert vms_not_restored(prior, current) == ["VM1", "VM2", "VM5", "VM6"]
    fixed = [vm(0, "Running"), vm(1, "Running"), vm(2, "Running"), vm(3, "Off"), vm(4, "Saved"),
             vm(5, "Running"), vm(6, "Running")]
    assert vms_not_restored(prior, fixed) == []


@pytest.mark.parametrize(("code", "outcome", "already"), [
    (0, "ok", False), (3010, "ok", False), (0x00240006, "ok", True),
    (-2145124329, "failed", False),          # 0x80240017 as a signed 32-bit int
    (0x800F0922, "failed", False), (5, "failed", False),
])
def test_exit_codes(code, outcome, already):
    r = interpret_exit_code(code)
    assert (r.outcome, r.already) == (outcome, already)
    if code == -2145124329:
        assert "not applicable" in r.meaning


def test_proof_of_fix():
    target = BuildTarget("Windows Server 2022", 20348, 3695)
    good = Snapshot(host="HV01", polled_at=T0 + timedelta(minutes=20), reachable=True,
                    services={"vmms": "Running"},
                    os=OsInfo(build=20348, ubr=3695, last_boot=T0 + timedelta(minutes=10), pending_reboot=False,
                              hotfixes=("KB5061906",)))
    v = verify_fixed(good, target, "KB5061906", T0)
    assert v.fixed and all(p for _, p, _ in v.checks)
    stale = dataclasses.replace(good, os=dataclasses.replace(good.os, last_boot=T0 - timedelta(days=1)))
    assert not verify_fixed(stale, target, "KB5061906", T0).fixed
    low = dataclasses.replace(good, os=dataclasses.replace(good.os, ubr=3692, hotfixes=()))
    v = verify_fixed(low, target, "KB5061906", T0)
    assert not v.fixed and ("build at target", False, "running 20348.3692, target 20348.3695") in v.checks
    no_kb = dataclasses.replace(good, os=dataclasses.replace(good.os, hotfixes=()))
    assert verify_fixed(no_kb, target, "KB5061906", T0).fixed      # KB list is evidence, not proof
    assert not verify_fixed(unreachable("HV01", T0, "timeout", "no answer"), target, "KB5061906", T0).fixed
