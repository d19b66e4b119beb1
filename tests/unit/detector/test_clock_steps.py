"""The freeze detector when the console's own clock is stepped (NTP after a resume, a VM
console's clock corrected, an admin fixing the time): ``polled_at`` jumps while the hosts
(and their clocks) go on as before. No false finding because of the step, none missed."""

from __future__ import annotations

from datetime import timedelta

from hvconsole.core.detector import Detector

from .builders import FakeSite
from .conftest import Run

HOUR = 3600.0


def step_console_clock(site: FakeSite, seconds: float) -> None:
    """The console's clock jumps; the hosts' clocks do not."""
    site.now += timedelta(seconds=seconds)
    for host in site.hosts.values():
        host.host_time_skew_s -= seconds


def test_after_a_step_back_of_an_hour_polls_are_not_ignored_and_a_lost_heartbeat_is_found(run: Run):
    vm = run.site.host("HV01", vms=2).vm("HV01-VM00")
    run.run(60)
    step_console_clock(run.site, -HOUR)
    vm.heartbeat = "LostCommunication"
    run.run(60)
    assert run.detector.ignored == 0 and run.detector.clock_steps == 1
    found = run.findings(kind="heartbeat-lost", vm="HV01-VM00", active=True)
    assert found and found[0].severity == "warning"
    # First and last seen are the polls' own times, on the corrected clock.
    assert found[0].last_seen == run.site.now - timedelta(seconds=run.site.interval)


def test_a_step_forward_of_an_hour_is_not_an_hour_of_lost_heartbeat(run: Run):
    vm = run.site.host("HV01", vms=2).vm("HV01-VM00")
    run.run(60)
    vm.heartbeat = "LostCommunication"
    run.run(10)
    step_console_clock(run.site, HOUR)
    run.run(30)
    # 45 s of lost heartbeat watched: a warning, not "lost for more than 2 min".
    assert run.critical() == []
    assert [f.severity for f in run.findings(kind="heartbeat-lost")] == ["warning"]
    run.run(90)     # and once it really has lasted 2 min, it is critical: not missed
    assert [f.severity for f in run.findings(kind="heartbeat-lost", active=True)] == ["critical"]


def test_a_step_forward_without_host_time_raises_no_uptime_stall(run: Run):
    run.site.host("HV01", vms=2, send_host_time=False)
    run.run(60)
    step_console_clock(run.site, HOUR)
    run.run(120)
    assert run.findings(kind="uptime-stalled") == []


def test_a_real_uptime_stall_is_still_found_across_a_step_back(run: Run):
    run.site.host("HV01", vms=2, send_host_time=False)
    run.run(60)
    run.site.hosts["HV01"].vm("HV01-VM00").uptime_frozen = True
    run.run(15)
    step_console_clock(run.site, -HOUR)
    run.run(45)
    assert run.findings(kind="uptime-stalled", vm="HV01-VM00", active=True)


def test_a_host_down_across_a_step_forward_is_not_critical_at_once_but_is_later(run: Run):
    host = run.site.host("HV01", vms=2)
    run.run(60)
    host.reachable = False
    run.run(15)
    step_console_clock(run.site, HOUR)
    run.run(5)
    assert run.critical() == []      # 20 s watched down, not an hour
    run.run(30)
    assert [f.severity for f in run.findings(kind="host-unreachable", active=True)] == ["critical"]


def test_a_step_back_does_not_make_the_other_hosts_look_forgotten():
    site = FakeSite()
    site.host("HV01", vms=1)
    site.host("HV02", vms=1).vm("HV02-VM00").heartbeat = "LostCommunication"
    run = Run(site, Detector())
    run.run(60)
    assert run.findings(kind="heartbeat-lost", active=True)
    step_console_clock(site, -HOUR)
    run.run(120)
    held = run.findings(kind="heartbeat-lost", active=True)
    assert held and not any("no poll of" in line for f in run.findings() for line in f.evidence)


def test_a_host_polled_once_an_hour_still_counts_its_hours():
    site = FakeSite(interval=900.0)
    site.host("HV01", vms=1).vm("HV01-VM00").heartbeat = "LostCommunication"
    run = Run(site, Detector()).run(900 * 8)
    assert run.detector.clock_steps == 0
    assert [f.severity for f in run.findings(kind="heartbeat-lost", active=True)] == ["critical"]
