"""A patch run resumed after its console was killed inside a host's maintenance window,
when the console's clock was stepped in between (NTP after the machine resumed, an admin
fixing the time). The window the runner opens again must not be judged on the recorded
``until``, which is on the clock as it was at maintenance-on: a step forward would end it
at once (alerts while the host is rebooted on purpose), a step back would hold the host's
alerts for as long again. And the health check after patching, still inside the window,
is judged so though the clock jumped. Through the real engine with the fake site."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import datetime, timedelta

import pytest

from hvconsole.core.detector import Detector
from hvconsole.core.maintenance import MaintenanceRegistry
from hvconsole.core.patch.vocabulary import RunState, Step
from hvconsole.core.timeutil import parse_time, utcnow
from hvconsole.patch import host_steps, runner
from hvconsole.patch.engine import execute_with
from hvconsole.patch.host_api import PatchHost
from tests.unit.detector.builders import FakeSite
from tests.unit.detector.conftest import Run
from tests.unit.patch.test_engine_fakes import OPTIONS, fake_site, new_run, plan_for, run
from tests.unit.test_clock_maintenance import HOUR, step_console_clock

DAY = timedelta(days=1)


class Recording(MaintenanceRegistry):
    """The registry, remembering every window begun (the reopened one is ended again at
    maintenance-off before the run returns)."""

    def __init__(self) -> None:
        super().__init__()
        self.begun: list[tuple[str, datetime, datetime | None]] = []

    def begin(self, host, vm_id=None, *, until, reason, since=None, begun=None):  # type: ignore[no-untyped-def]
        self.begun.append((host, until, begun))
        super().begin(host, vm_id, until=until, reason=reason, since=since, begun=begun)


@pytest.mark.parametrize("step", [DAY, -DAY], ids=["forward", "back"])
def test_a_window_reopened_after_a_kill_is_a_whole_window_from_the_resume(tmp_path, monkeypatch, step):
    hosts = fake_site("HV01")
    journal, run_id = new_run(tmp_path, plan_for(("HV01",)))
    hosts["HV01"].stop_after[("patch_install_start", 1)] = threading.Event()   # killed mid-install
    assert run(journal, run_id, hosts).state == RunState.RUNNING
    hosts["HV01"].stop_after.clear()

    stepped_now = utcnow() + step                   # the console's clock was stepped (and stands still)
    monkeypatch.setattr(runner, "utcnow", lambda: stepped_now, raising=False)
    registry = Recording()
    result = execute_with(journal, run_id, lambda name: PatchHost(name, hosts[name], hosts[name]),
                          options=OPTIONS, maintenance=registry)
    assert result.state == RunState.DONE

    host, until, begun = registry.begun[0]                     # the reopened window
    on = (journal.last_ok(run_id, "HV01", Step.MAINTENANCE_ON).evidence or {})
    length = parse_time(on["until"]) - parse_time(on["since"])  # the window as first opened
    assert host == "HV01"
    assert until > stepped_now                                  # not over at once (step forward)
    assert until - stepped_now <= length                        # not held for a day longer (step back)
    assert (begun, until) == (stepped_now, stepped_now + length)   # one window's length from the resume


def test_the_health_check_after_patching_is_in_the_window_after_a_step_forward(tmp_path, monkeypatch):
    hosts = fake_site("HV01")
    journal, run_id = new_run(tmp_path, plan_for(("HV01",)))
    offset = [timedelta(0)]
    monkeypatch.setattr(host_steps, "utcnow", lambda: utcnow() + offset[0])
    verify = host_steps.STEP_FUNCTIONS[Step.VERIFY]

    def verify_then_step(hc):  # type: ignore[no-untyped-def]
        offset[0] = DAY                         # the console's clock jumps a day forward
        return verify(hc)

    monkeypatch.setitem(host_steps.STEP_FUNCTIONS, Step.VERIFY, verify_then_step)
    seen: list[bool] = []
    monkeypatch.setattr(host_steps, "health_evidence",
                        lambda hc, snap, *, in_maintenance: seen.append(in_maintenance) or {})
    assert run(journal, run_id, hosts).state == RunState.DONE
    assert seen == [False, True]                # preflight outside, postcheck inside the window


def test_the_engines_window_holds_a_rebooting_hosts_alerts_across_a_step_forward(tmp_path):
    """maintenance-on's own window (now + its length, begun now) read by a detector whose
    polls' console clock jumps an hour forward while the host is down on purpose."""
    hosts = fake_site("HV01")
    journal, run_id = new_run(tmp_path, plan_for(("HV01",)))
    hosts["HV01"].stop_after[("patch_install_start", 1)] = threading.Event()   # left inside the window
    registry = MaintenanceRegistry()
    options = replace(OPTIONS, maintenance_margin_s=3_600_000.0)               # about an hour, real
    execute_with(journal, run_id, lambda name: PatchHost(name, hosts[name], hosts[name]),
                 options=options, maintenance=registry)
    (window,) = registry.windows()
    assert window.begun is not None and timedelta(minutes=55) < window.until - window.begun < timedelta(hours=2)

    watch = Run(FakeSite(start=utcnow()), Detector(maintenance=registry))
    host = watch.site.host("HV01", vms=2)
    watch.run(60)
    host.reachable = False                                  # rebooting on purpose
    watch.run(10)
    step_console_clock(watch.site, 2 * HOUR)
    watch.run(120)
    assert watch.findings(host="HV01") == []
