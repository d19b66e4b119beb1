"""Maintenance windows when the console's own clock is stepped (NTP after a resume, an admin
fixing the time) while a window is open. A window's end is the console's clock when it was
begun plus its length; the polls' ``polled_at`` jump with the step while the hosts go on.

Through the real path: the freeze detector with a maintenance registry, polls from a
synthetic site whose console clock a test steps. A window lasts the length it was given in
time watched: a step forward does not end a patched host's window early (no page for a
host rebooting on purpose), a step back does not hold a dead workflow's alerts longer."""

from __future__ import annotations

from datetime import timedelta

from hvconsole.core.detector import Detector
from hvconsole.core.maintenance import MaintenanceRegistry
from tests.unit.detector.builders import FakeSite
from tests.unit.detector.conftest import Run

HOUR = 3600.0


def step_console_clock(site: FakeSite, seconds: float) -> None:
    """The console's clock jumps; the hosts' clocks do not."""
    site.now += timedelta(seconds=seconds)
    for host in site.hosts.values():
        host.host_time_skew_s -= seconds


def watched(registry: MaintenanceRegistry) -> Run:
    return Run(FakeSite(), Detector(maintenance=registry))


def hold(run: Run, registry: MaintenanceRegistry, minutes: float, vm_id: str | None = None) -> None:
    """What the patch engine does at maintenance-on: now + the window's length."""
    now = run.site.now
    registry.begin("HV01", vm_id, until=now + timedelta(minutes=minutes), reason="patching KB5061906",
                   begun=now)


def test_a_step_forward_does_not_end_a_rebooting_hosts_window_early():
    reg = MaintenanceRegistry()
    run = watched(reg)
    host = run.site.host("HV01", vms=2)
    run.run(60)
    hold(run, reg, 30)
    run.run(30)
    host.reachable = False          # rebooting on purpose
    run.run(10)
    step_console_clock(run.site, HOUR)
    run.run(120)
    assert run.findings(host="HV01") == []
    assert run.detector.clock_steps == 1


def test_the_window_still_ends_after_its_length_watched_across_a_step_forward():
    reg = MaintenanceRegistry()
    run = watched(reg)
    host = run.site.host("HV01", vms=2)
    run.run(60)
    hold(run, reg, 5)
    run.run(60)
    step_console_clock(run.site, HOUR)
    host.reachable = False
    run.run(5 * 60)                 # the window's 5 min have been watched: alerts are on again
    assert [f.severity for f in run.findings(kind="host-unreachable", active=True)] == ["critical"]


def test_a_step_back_does_not_hold_alerts_longer_than_the_window():
    reg = MaintenanceRegistry()
    run = watched(reg)
    host = run.site.host("HV01", vms=2)
    run.run(60)
    hold(run, reg, 10)              # a workflow that then dies: nobody ends the window
    run.run(60)
    step_console_clock(run.site, -HOUR)
    host.reachable = False
    run.run(8 * 60)
    assert run.findings(kind="host-unreachable") == []     # still inside its 10 min
    run.run(4 * 60)
    assert [f.severity for f in run.findings(kind="host-unreachable", active=True)] == ["critical"]


def test_a_vms_window_across_a_step_forward_still_holds_its_alerts():
    reg = MaintenanceRegistry()
    run = watched(reg)
    vm = run.site.host("HV01", vms=2).vm("HV01-VM00")
    run.run(60)
    hold(run, reg, 20, vm.id)       # a recovery step working on this VM
    vm.heartbeat = "LostCommunication"
    run.run(30)
    step_console_clock(run.site, HOUR)
    run.run(180)
    assert run.findings(vm="HV01-VM00") == []


def test_a_window_begun_in_the_gap_before_a_step_forward_is_on_the_old_clock():
    reg = MaintenanceRegistry()
    run = watched(reg)
    host = run.site.host("HV01", vms=2)
    run.run(60)
    hold(run, reg, 30)              # begun after the last poll, then the clock jumps
    step_console_clock(run.site, HOUR)
    host.reachable = False
    run.run(120)
    assert run.findings(host="HV01") == []


def test_a_window_begun_in_the_gap_after_a_step_forward_is_on_the_new_clock():
    reg = MaintenanceRegistry()
    run = watched(reg)
    host = run.site.host("HV01", vms=2)
    run.run(60)
    step_console_clock(run.site, HOUR)
    hold(run, reg, 5)               # the clock jumped, then the window was begun
    host.reachable = False
    run.run(4 * 60)
    assert run.findings(host="HV01") == []
    run.run(2 * 60)                 # its 5 min are over, not an hour and 5 min
    assert [f.severity for f in run.findings(kind="host-unreachable", active=True)] == ["critical"]


def test_a_window_begun_in_the_gap_before_a_step_back_ends_on_time():
    reg = MaintenanceRegistry()
    run = watched(reg)
    host = run.site.host("HV01", vms=2)
    run.run(60)
    hold(run, reg, 5)
    step_console_clock(run.site, -HOUR)
    host.reachable = False
    run.run(4 * 60)
    assert run.findings(host="HV01") == []
    run.run(2 * 60)
    assert [f.severity for f in run.findings(kind="host-unreachable", active=True)] == ["critical"]
