"""Per-VM freeze rules: each fires on its signature, is debounced, explains itself with
values and times, and ends when the VM recovers."""

from __future__ import annotations

from datetime import timedelta

import pytest

from hvconsole.core.detector import Detector, Thresholds

from .conftest import Run


def first_seen_after(finding, site_start, onset_s):
    return (finding.first_seen - site_start).total_seconds() - onset_s


def test_hung_guest_with_flat_cpu_is_critical_within_a_minute(run: Run):
    h = run.site.host("HV01", vms=3)
    start = run.site.now
    run.run(60)
    vm = h.vm("HV01-VM01")
    vm.heartbeat, vm.cpu = "LostCommunication", 0.0
    run.run(120)
    [f] = run.findings(severity="critical")
    assert (f.kind, f.vm_name, f.host, f.vm_id) == ("heartbeat-lost-cpu-flat", "HV01-VM01", "HV01", vm.id)
    assert 0 < first_seen_after(f, start, 60) <= 60
    assert f.evidence[0] == "heartbeat LostCommunication since 09:01:00Z (6 polls, 25 s) while Running"
    assert f.evidence[1].startswith("CPU 0.0 % over the last 6 polls")
    assert f.active
    # Never a warning first that the critical then supersedes: the CPU is judged at once.
    assert run.findings(kind="heartbeat-lost") == []


def test_spinning_guest_is_pegged(run: Run):
    h = run.site.host("HV01", vms=2)
    run.run(30)
    vm = h.vm("HV01-VM00")
    vm.heartbeat, vm.cpu, vm.cpu_low, vm.cpu_high = "LostCommunication", None, 97.0, 100.0
    run.run(60)
    [f] = run.critical()
    assert f.kind == "heartbeat-lost-cpu-pegged"
    assert "pegged" in f.evidence[1]


def test_one_of_four_vcpus_spinning_counts_as_pegged(run: Run):
    h = run.site.host("HV01")
    vm = h.add("SQL01", vcpus=4)
    run.run(30)
    vm.heartbeat, vm.cpu, vm.cpu_low, vm.cpu_high = "LostCommunication", None, 24.6, 25.3
    run.run(60)
    [f] = run.critical()
    assert f.kind == "heartbeat-lost-cpu-pegged"
    assert "1 of 4 vCPUs" in f.evidence[1]


def test_heartbeat_lost_with_busy_cpu_is_a_warning_then_critical_when_it_lasts(run: Run):
    h = run.site.host("HV01", vms=1)
    run.run(30)
    vm = h.vm("HV01-VM00")
    vm.heartbeat = "LostCommunication"  # CPU keeps moving 5-40 %
    run.run(60)
    [f] = run.findings(kind="heartbeat-lost", active=True)
    assert f.severity == "warning"
    run.run(90)
    [f] = run.findings(kind="heartbeat-lost", active=True)
    assert f.severity == "critical"
    assert any("more than 2 min" in line for line in f.evidence)


def test_heartbeat_returning_ends_the_finding_after_recovery_polls(run: Run):
    h = run.site.host("HV01", vms=1)
    run.run(20)
    vm = h.vm("HV01-VM00")
    vm.heartbeat, vm.cpu = "LostCommunication", 0.0
    run.run(60)
    vm.heartbeat, vm.cpu = "OkApplicationsHealthy", None
    run.run(5)  # one good poll proves nothing yet
    assert run.findings(active=True) != []
    run.run(5)
    [f] = run.findings(kind="heartbeat-lost-cpu-flat")
    assert not f.active
    assert f.last_seen < run.site.now - timedelta(seconds=10)


@pytest.mark.parametrize("lost_polls", [1, 2, 5])
def test_a_few_lost_heartbeats_are_not_a_freeze(run: Run, lost_polls: int):
    h = run.site.host("HV01", vms=1)
    run.run(20)
    vm = h.vm("HV01-VM00")
    vm.heartbeat, vm.cpu = "LostCommunication", 0.0
    run.run(5 * lost_polls)
    vm.heartbeat, vm.cpu = "OkApplicationsHealthy", None
    run.run(60)
    assert run.detector.all() == []


def test_uptime_stalled_while_running_is_critical(run: Run):
    h = run.site.host("HV01", vms=2)
    run.run(30)
    h.vm("HV01-VM00").uptime_frozen = True
    run.run(60)
    [f] = run.critical()
    assert f.kind == "uptime-stalled" and f.vm_name == "HV01-VM00"
    assert "advanced 0 s in 25 s of host time while Running" in f.evidence[0]


def test_uptime_check_uses_poll_time_when_the_host_sends_no_clock(run: Run):
    h = run.site.host("HV01", vms=1, send_host_time=False)
    run.run(30)
    h.vm("HV01-VM00").uptime_frozen = True
    run.run(60)
    [f] = run.critical()
    assert "of poll time" in f.evidence[0]


def test_uptime_check_ignores_a_skewed_or_jumping_host_clock(run: Run):
    h = run.site.host("HV01", vms=3, host_time_skew_s=-3600)
    run.run(120)
    h.host_time_skew_s = 0  # the host's clock is set right (NTP): an hour forward at once
    run.run(120)
    h.host_time_skew_s = -30
    run.run(120)
    assert run.detector.all() == []


@pytest.mark.parametrize("change, why", [
    ({"state": "RunningCritical"}, "state RunningCritical"),
    ({"health": "CriticalFailure"}, "health CriticalFailure"),
    ({"ops": ("CommunicationTimedOut",)}, "operational status CommunicationTimedOut"),
    ({"ops": ("Ok", "CommunicationFailed")}, "operational status CommunicationFailed"),
])
def test_critical_state_health_or_status(run: Run, change, why):
    h = run.site.host("HV01", vms=1)
    run.run(20)
    vm = h.vm("HV01-VM00")
    for k, v in change.items():
        setattr(vm, k, v)
    run.run(10)  # two polls: debounced, nothing yet
    assert run.detector.all() == []
    run.run(20)
    [f] = run.critical()
    assert f.kind == "vm-critical-state"
    assert f.evidence[0].startswith(why)


def test_major_failure_and_degraded_are_warnings(run: Run):
    h = run.site.host("HV01", vms=2)
    h.vm("HV01-VM00").health = "MajorFailure"
    h.vm("HV01-VM00").state = "Paused"
    h.vm("HV01-VM01").ops = ("Degraded",)
    run.run(60)
    found = run.findings(kind="vm-degraded")
    assert {f.vm_name for f in found} == {"HV01-VM00", "HV01-VM01"}
    assert all(f.severity == "warning" for f in found)
    assert run.critical() == []


@pytest.mark.parametrize("state, quiet_s, stuck_s", [
    ("Stopping", 300, 330),   # Stop-VM -Force waits 5 minutes
    ("Starting", 100, 130),
    ("Saving", 560, 620),
    ("Pausing", 100, 130),
])
def test_stuck_transition(site, state, quiet_s, stuck_s):
    run = Run(site)
    h = site.host("HV01", vms=1)
    run.run(10)
    vm = h.vm("HV01-VM00")
    vm.state, vm.heartbeat = state, "NoContact"
    run.run(quiet_s)
    assert run.detector.all() == []
    run.run(stuck_s - quiet_s)
    [f] = run.critical()
    assert f.kind == "stuck-transition"
    assert f.evidence[0].startswith(f"state {state} since 09:00:10Z")
    vm.state, vm.heartbeat = "Off", None
    run.run(10)
    assert run.findings(active=True) == []


def test_stuck_transition_seen_from_the_first_poll_says_at_least(run: Run):
    h = run.site.host("HV01")
    h.add("STUCK", state="Starting", heartbeat=None)
    run.run(200)
    [f] = run.critical()
    assert "since at least 09:00:00Z" in f.evidence[0]


def test_triple_fault_loop_is_a_restart_loop(run: Run):
    h = run.site.host("HV01", vms=1)
    vm = h.vm("HV01-VM00")
    run.run(30)
    for _ in range(2):
        vm.reboot()
        vm.heartbeat = "NoContact"
        h.event(run.site.now - timedelta(seconds=2), 18560, vm=vm,
                message="'HV01-VM00' was reset because of a triple fault.")
        run.run(40)
    [f] = run.critical()
    assert f.kind == "restart-loop"
    assert any("18560" in line for line in f.evidence)
    assert run.findings(kind="guest-crash-events", severity="warning") != []


def test_repeated_restarts_without_events_are_a_loop_too(run: Run):
    h = run.site.host("HV01", vms=1)
    vm = h.vm("HV01-VM00")
    run.run(30)
    for _ in range(3):
        vm.reboot()
        vm.heartbeat = "NoContact"
        run.run(60)
    [f] = run.critical()
    assert f.kind == "restart-loop"
    assert f.evidence[0].startswith("restarted 3 times since")


def test_crash_event_escalates_a_heartbeat_warning(run: Run):
    h = run.site.host("HV01", vms=1)
    vm = h.vm("HV01-VM00")
    run.run(30)
    vm.heartbeat = "LostCommunication"  # CPU still moving: a warning on its own
    h.event(run.site.now, 18590, vm=vm, message="'HV01-VM00' has encountered a fatal error. ErrorCode0: 0x9F")
    run.run(40)
    [f] = run.findings(kind="heartbeat-lost", active=True)
    assert f.severity == "critical"
    assert any("18590" in line for line in f.evidence)


def test_heartbeat_not_restored_after_a_restart_is_a_warning(run: Run):
    h = run.site.host("HV01", vms=1)
    vm = h.vm("HV01-VM00")
    run.run(30)
    vm.reboot()
    vm.heartbeat = "NoContact"
    run.run(280)
    assert run.detector.all() == []
    run.run(60)
    [f] = run.findings()
    assert (f.kind, f.severity) == ("heartbeat-not-restored", "warning")


def test_thresholds_are_honoured(site):
    run = Run(site, Detector(Thresholds.from_mapping({"heartbeat_lost_polls": 12, "heartbeat_lost_s": 55})))
    h = site.host("HV01", vms=1)
    run.run(20)
    vm = h.vm("HV01-VM00")
    vm.heartbeat, vm.cpu = "LostCommunication", 0.0
    run.run(55)
    assert run.detector.all() == []
    run.run(10)
    assert run.critical() != []


def test_a_cpu_blip_does_not_flip_a_halted_finding(run: Run):
    h = run.site.host("HV01", vms=1)
    run.run(20)
    vm = h.vm("HV01-VM00")
    vm.heartbeat, vm.cpu = "LostCommunication", 0.0
    run.run(40)
    vm.cpu = 6.0  # one timer tick shows
    run.run(5)
    vm.cpu = 0.0
    run.run(30)
    assert [(c.kind, c.active) for c in run.changes] == [("heartbeat-lost-cpu-flat", True)]
