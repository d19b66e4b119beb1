"""What a real Windows host reports differently from what the detector once assumed
(issue 11): enum integers from Microsoft's own VMOperationalStatus, HealthState 25 on a
paused VM, FailoverClustering 1135 naming the removed node, and a VM that crashes, is
reset and never boots."""

from __future__ import annotations

from datetime import timedelta

from hvconsole.core.enums import OPERATIONAL_STATUS_BY_INT
from hvconsole.core.parse import parse_snapshot
from hvconsole.core.snapshot import HostEvent

from .conftest import Run


def test_operational_status_integers_are_microsofts():
    # Decompiled Microsoft.HyperV.PowerShell.VMOperationalStatus (neonSDK, fog-hyperv).
    assert OPERATIONAL_STATUS_BY_INT[5] == "PredictiveFailure"
    assert OPERATIONAL_STATUS_BY_INT[23769] == "ApplyingSnapshot"
    assert OPERATIONAL_STATUS_BY_INT[32795] == "CriticalIoError"
    for wrong in (6, 32769, 32792):
        assert wrong not in OPERATIONAL_STATUS_BY_INT


def test_a_recording_with_the_critical_io_error_integer_is_a_critical_finding(run: Run):
    h = run.site.host("HV01")
    h.add("SQL01")
    for _ in range(8):
        for snap in run.site.poll():
            raw = snap.to_dict()
            raw["vms"][0]["operational_status"] = [32795]     # as ConvertTo-Json writes the enum
            run.changes.extend(run.detector.feed(parse_snapshot(raw)))
    [f] = run.critical()
    assert f.kind == "vm-critical-state" and f.vm_name == "SQL01"
    assert "CriticalIoError" in f.evidence[0]


def test_health_25_on_a_paused_vm_points_at_storage(run: Run):
    h = run.site.host("HV01")
    vm = h.add("FILE01")
    run.run(20)
    vm.state, vm.health, vm.heartbeat = "PausedCritical", "CriticalFailure", "Paused"
    run.run(30)
    [f] = run.critical()
    assert f.kind == "vm-critical-state"
    text = " ".join(f.evidence)
    assert "state PausedCritical" in text
    assert "paused" in text and "storage is the likely cause" in text


def test_health_25_on_a_running_vm_names_both_causes(run: Run):
    h = run.site.host("HV01")
    vm = h.add("APP01")
    run.run(20)
    vm.state, vm.health = "RunningCritical", "CriticalFailure"
    run.run(30)
    [f] = run.critical()
    assert "worker process not answering" in f.evidence[0] and "storage" in f.evidence[0]


def test_node_removed_evidence_names_the_removed_node_not_the_reporter(run: Run):
    h = run.site.host("HV01", vms=1)
    run.run(10)
    h.pending_events.append(HostEvent(
        time=run.site.now - timedelta(seconds=2), log="System", id=1135, level="Critical",
        provider="Microsoft-Windows-FailoverClustering",
        message="Cluster node 'HV02' was removed from the active failover cluster membership.",
        first_insertion_string="HV02"))
    run.run(10)
    [f] = run.findings(kind="cluster-failure-events")
    assert f.host == "HV01"
    assert "node HV02 was removed from the cluster" in f.evidence[0]


def _crash_and_reset(run: Run, h, vm) -> None:
    h.event(run.site.now - timedelta(seconds=1), 18560, vm=vm,
            message="'APP01' was reset because an unrecoverable error occurred on a virtual processor "
                    "that caused a triple fault.")
    vm.reboot()
    vm.heartbeat = "NoContact"


def test_a_vm_that_crashes_resets_and_never_boots_is_critical(run: Run):
    h = run.site.host("HV01", vms=2)
    vm = h.add("APP01")
    run.run(60)
    _crash_and_reset(run, h, vm)
    vm.cpu = 0.0
    run.run(115)
    assert run.critical() == []          # not before the normal threshold (120 s)
    run.run(30)
    [f] = run.critical()
    assert (f.kind, f.vm_name) == ("heartbeat-not-restored", "APP01")
    text = "\n".join(f.evidence)
    assert "no sign of a boot" in text and "18560" in text and "triple fault" in text


def test_a_vm_that_crashes_and_boots_normally_is_not_critical(run: Run):
    h = run.site.host("HV01", vms=2)
    vm = h.add("APP01")
    run.run(60)
    _crash_and_reset(run, h, vm)
    vm.cpu, vm.cpu_low, vm.cpu_high = None, 30.0, 80.0    # a booting guest is busy
    run.run(90)
    vm.heartbeat = "OkApplicationsHealthy"
    run.run(300)
    assert run.critical() == []
    assert run.findings(kind="heartbeat-not-restored") == []


def test_a_restart_without_a_crash_stays_a_warning(run: Run):
    h = run.site.host("HV01", vms=1)
    vm = h.add("APP01")
    run.run(60)
    vm.reboot()
    vm.heartbeat, vm.cpu = "NoContact", 0.0
    run.run(330)
    assert run.critical() == []
    [f] = run.findings(kind="heartbeat-not-restored")
    assert f.severity == "warning"
