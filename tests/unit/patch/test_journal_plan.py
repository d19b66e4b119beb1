"""Journal: intent before, outcome after, in-flight steps visible after a crash, readable by
a second connection. Plan: round trip through JSON, and the checks an admin sees."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime, timezone

import pytest

from hvconsole.core.patch.journal import Journal, JournalError, iter_in_flight
from hvconsole.core.patch.plan import PatchPlan, PlanError, VmHandling, Wave, check_plan


def make_plan(**kw) -> PatchPlan:
    base = dict(kb="KB5061906", waves=(Wave("pilot", ("HV03",)), Wave("production", ("HV01", "HV02"), parallel=2)),
                vm_overrides={"vm-1": VmHandling("live-migrate", "HV04")},
                window_start=datetime(2026, 11, 26, 22, 0, tzinfo=timezone.utc))
    base.update(kw)
    return PatchPlan(**base)


def test_intent_then_outcome(tmp_path):
    with Journal(tmp_path / "j.sqlite") as j:
        run = j.create_run("KB5061906", make_plan().to_dict())
        sid = j.begin_step(run, "HV03", "drain", {"vms": [{"id": "vm-1", "name": "a'; Stop-Computer; '", "state": "Running"}]})
        assert [s.step for s in iter_in_flight(j, run)] == ["drain"]
        j.finish_step(sid, "ok", {"moved": 1})
        assert list(iter_in_flight(j, run)) == []
        with pytest.raises(JournalError):
            j.finish_step(sid, "ok", {})  # an outcome is written once
        again = j.begin_step(run, "HV03", "drain", {})
        assert j.steps(run, "HV03")[-1].attempt == 2 and again != sid
        assert j.steps(run)[0].intent["vms"][0]["name"] == "a'; Stop-Computer; '"
        assert j.last_ok(run, "HV03", "drain").id == sid


def test_in_flight_step_survives_a_killed_process(tmp_path):
    path = tmp_path / "j.sqlite"
    code = (
        "import os, sys; from pathlib import Path; from hvconsole.core.patch.journal import Journal\n"
        f"j = Journal(Path({str(path)!r})); r = j.create_run('KB1', {{}}); j.begin_step(r, 'HV01', 'install', {{'task': 'x'}})\n"
        "os._exit(9)  # no close, no cleanup: like SIGKILL after the intent was written\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=60)
    assert proc.returncode == 9, proc.stderr
    with Journal(path) as j:
        run = j.runs()[0]
        inflight = list(iter_in_flight(j, run.id))
        assert [(s.host, s.step, s.intent) for s in inflight] == [("HV01", "install", {"task": "x"})]


def test_run_state_and_unknown_run(tmp_path):
    with Journal(tmp_path / "j.sqlite") as j:
        run = j.create_run("KB5061906", {"kb": "KB5061906"})
        j.set_run_state(run, "running")
        assert j.run(run).state == "running"
        with pytest.raises(ValueError):
            j.set_run_state(run, "exploded")
        with pytest.raises(JournalError, match="no patch run 99"):
            j.run(99)


def test_plan_round_trip_and_checks():
    plan = make_plan()
    again = PatchPlan.from_dict(json.loads(json.dumps(plan.to_dict())))
    assert again == plan
    assert plan.pilot.hosts == ("HV03",)
    assert plan.handling_for("vm-1").destination == "HV04" and plan.handling_for("vm-2").action == "save"
    problems = check_plan(plan, ["HV01", "HV02", "HV03", "HV04"], {"HV01": True, "HV02": False, "HV03": True})
    assert problems == ["HV02 does not need KB5061906 (already compliant or not applicable)",
                        "choose the package file to push"]
    bad_dest = make_plan(vm_overrides={"vm-1": VmHandling("live-migrate", "hv01")})
    assert any("destination" in p for p in check_plan(bad_dest, ["HV01", "HV02", "HV03"], {}))


@pytest.mark.parametrize("kw", [
    dict(waves=()),
    dict(waves=(Wave("pilot", ("HV01",)), Wave("prod", ("hv01",)))),
])
def test_invalid_plans(kw):
    with pytest.raises(PlanError):
        make_plan(**kw)


def test_bad_plan_documents_give_plan_errors():
    with pytest.raises(PlanError):
        PatchPlan.from_dict({"kb": "KB1"})
    with pytest.raises(PlanError, match="live migration needs a destination"):
        PatchPlan.from_dict({"kb": "KB1", "waves": [{"name": "p", "hosts": ["a"]}],
                             "vm_default": {"action": "live-migrate"}})
    with pytest.raises(PlanError, match="VM handling"):
        VmHandling("teleport")


@pytest.mark.parametrize("doc", [
    [], {"kb": "KB1", "waves": [{"name": "p", "hosts": "HV01"}]},
    {"kb": "KB1", "waves": [{"name": "p", "hosts": ["HV01"]}], "package": None, "gate": []},
    {"kb": "KB1", "waves": [{"name": "p", "hosts": [1]}]},
    {"kb": "KB1", "waves": "HV01"},
])
def test_malformed_plan_documents(doc):
    with pytest.raises(PlanError):
        PatchPlan.from_dict(doc)


def test_override_lookup_ignores_guid_case():
    plan = make_plan(vm_overrides={"3F2C-AB": VmHandling("shutdown")})
    assert plan.handling_for("3f2c-ab").action == "shutdown"


@pytest.mark.parametrize(("location", "ok"), [
    ("C:\\hvconsole\\packages\\kb.msu", True), ("c:/hvconsole/packages/kb.msu", True),
    ("D:\\updates\\kb.msu", False), ("C:\\hvconsole\\..\\Windows\\kb.msu", False), (None, False),
])
def test_on_host_package_must_be_under_the_staging_root(location, ok):
    from hvconsole.core.patch.plan import PackageSource
    plan = make_plan(package=PackageSource("on-host", location))
    problems = check_plan(plan, ["HV01", "HV02", "HV03", "HV04"], {})
    assert (not any("under C:" in p for p in problems)) == ok
