"""Benign look-alikes (hyperv-notes §3) must not page anyone: no critical, and for most
of them no finding at all."""

from __future__ import annotations

from datetime import timedelta

from hvconsole.core.detector import Detector
from hvconsole.core.maintenance import MaintenanceRegistry

from .conftest import Run


def quiet(run: Run) -> None:
    assert run.detector.all() == [], [f.to_dict() for f in run.detector.all()]


def test_booting_vm(run: Run):
    h = run.site.host("HV01", vms=2)
    vm = h.add("NEW", state="Off", heartbeat=None, uptime=0.0)
    run.run(30)
    vm.state = "Starting"
    run.run(5)
    vm.state, vm.heartbeat, vm.cpu_low, vm.cpu_high = "Running", "NoContact", 30, 90
    run.run(40)
    vm.heartbeat = "LostCommunication"  # integration services flapping while the guest boots
    run.run(40)
    vm.heartbeat = "OkApplicationsHealthy"
    run.run(120)
    quiet(run)


def test_booting_vm_without_uptime_uses_the_state_history(run: Run):
    h = run.site.host("HV01")
    vm = h.add("NEW", state="Off", heartbeat=None, uptime=None)
    run.run(20)
    vm.state = "Starting"
    run.run(5)
    vm.state, vm.heartbeat = "Running", "LostCommunication"
    run.run(120)
    vm.heartbeat = "OkApplicationsHealthy"
    run.run(60)
    quiet(run)


def test_vm_without_integration_services(run: Run):
    run.site.host("HV01").add("APPLIANCE", heartbeat="NoContact", cpu_low=2, cpu_high=30)
    run.run(900)
    quiet(run)


def test_idle_vm_with_a_healthy_heartbeat(run: Run):
    run.site.host("HV01").add("IDLE", cpu=0.0)
    run.run(900)
    quiet(run)


def test_guest_reboot(run: Run):
    h = run.site.host("HV01", vms=3)
    vm = h.vm("HV01-VM01")
    run.run(60)
    vm.heartbeat = "NoContact"  # integration services stop while the guest shuts down
    run.run(15)
    vm.reboot()
    run.run(40)
    vm.heartbeat = "OkApplicationsHealthy"
    run.run(300)
    quiet(run)


def test_guest_reboot_that_reports_lost_communication_while_shutting_down(run: Run):
    h = run.site.host("HV01", vms=3)
    vm = h.vm("HV01-VM01")
    run.run(60)
    vm.heartbeat, vm.cpu = "LostCommunication", 0.0
    run.run(20)
    vm.reboot()
    vm.heartbeat, vm.cpu = "NoContact", None
    run.run(40)
    vm.heartbeat = "OkApplicationsHealthy"
    run.run(300)
    quiet(run)


def test_planned_shutdown(run: Run):
    h = run.site.host("HV01", vms=2)
    vm = h.vm("HV01-VM00")
    run.run(30)
    vm.state, vm.heartbeat, vm.cpu_low, vm.cpu_high = "Stopping", "NoContact", 1, 9
    run.run(40)
    vm.state, vm.heartbeat = "Off", None
    run.run(600)
    quiet(run)


def test_live_migration(site):
    src, dst = site.host("HV01", vms=3), site.host("HV02", vms=3)
    run = Run(site)
    run.run(60)
    vm = src.vm("HV01-VM02")
    vm.ops = ("Ok", "MigratingVirtualMachine")
    run.run(30)
    # The heartbeat may drop while the memory copy converges and the VM is briefly
    # suspended: lost, CPU flat, for longer than a freeze needs to be called one.
    vm.heartbeat, vm.cpu = "LostCommunication", 0.0
    run.run(40)
    del src.vms[vm.id]
    vm.ops = ("Ok",)
    dst.vms[vm.id] = vm  # arrives running, heartbeat catching up
    run.run(40)
    vm.cpu = None
    vm.heartbeat = "OkApplicationsHealthy"
    run.run(900)
    quiet(run)


def test_applications_critical_is_a_warning_at_most(run: Run):
    h = run.site.host("HV01", vms=1)
    h.vm("HV01-VM00").heartbeat = "OkApplicationsCritical"
    h.add("APP2", ops=("Ok", "ApplicationCriticalState"))
    run.run(600)
    found = run.findings()
    assert {f.kind for f in found} == {"applications-critical"}
    assert {f.severity for f in found} == {"warning"}
    assert "not frozen" in found[0].evidence[-1]


def test_paused_saved_and_off_vms(run: Run):
    h = run.site.host("HV01")
    h.add("PAUSED", state="Paused", heartbeat="Paused", cpu=0.0)
    h.add("SAVED", state="Saved", heartbeat=None)
    h.add("OFF", state="Off", heartbeat=None)
    run.run(900)
    quiet(run)


def test_single_lost_poll(run: Run):
    h = run.site.host("HV01", vms=2)
    run.run(30)
    h.reachable = False
    run.run(5)
    h.reachable = True
    run.run(60)
    quiet(run)


def test_host_patched_under_maintenance(site):
    reg = MaintenanceRegistry()
    run = Run(site, Detector(maintenance=reg))
    h = site.host("HV01", vms=4)
    run.run(60)
    reg.begin("HV01", until=site.now + timedelta(minutes=30), reason="patch KB5061906")
    for vm in h.vms.values():
        vm.state, vm.heartbeat = "Saving", None
    run.run(20)
    for vm in h.vms.values():
        vm.state = "Saved"
    run.run(20)
    h.reachable, h.error_kind = False, "refused"
    run.run(60)
    h.error_kind = "timeout"
    run.run(120)
    h.reachable, h.vm_query_ok, h.vmms = True, False, "StartPending"
    h.last_boot = site.now - timedelta(seconds=30)
    h.event(site.now - timedelta(seconds=20), 6008, log="System", provider="EventLog", level="Error")
    run.run(15)
    h.vm_query_ok, h.vmms = True, "Running"
    for vm in h.vms.values():
        vm.state, vm.heartbeat, vm.uptime = "Running", "NoContact", 0.0
    run.run(60)
    for vm in h.vms.values():
        vm.heartbeat = "OkApplicationsHealthy"
    run.run(30)
    reg.end("HV01")
    run.run(600)
    quiet(run)


def test_vm_under_maintenance(site):
    reg = MaintenanceRegistry()
    run = Run(site, Detector(maintenance=reg))
    h = site.host("HV01", vms=2)
    vm = h.vm("HV01-VM00")
    reg.begin("HV01", vm.id, until=site.now + timedelta(minutes=20), reason="guest OS repair")
    vm.heartbeat, vm.cpu = "LostCommunication", 0.0
    run.run(600)
    quiet(run)
    run.run(700)  # the window expired: the VM is still hung, now it is a finding
    assert [f.kind for f in run.critical()] == ["heartbeat-lost-cpu-flat"]


def test_maintenance_ends_open_findings_with_a_note(site):
    reg = MaintenanceRegistry()
    run = Run(site, Detector(maintenance=reg))
    h = site.host("HV01", vms=2)
    run.run(20)
    vm = h.vm("HV01-VM00")
    vm.heartbeat, vm.cpu = "LostCommunication", 0.0
    run.run(60)
    assert run.findings(active=True)
    reg.begin("HV01", until=site.now + timedelta(minutes=10), reason="fixing it")
    run.run(5)
    [f] = run.findings()
    assert not f.active
    assert f.evidence[-1].startswith("HV01 under maintenance at ") and "fixing it" in f.evidence[-1]


def test_second_guest_reboot_long_after_the_first(run: Run):
    h = run.site.host("HV01", vms=2)
    vm = h.vm("HV01-VM00")
    run.run(30)
    for _ in range(2):
        vm.heartbeat = "NoContact"  # shutting down: integration services stop first
        run.run(15)
        vm.reboot()
        run.run(40)
        vm.heartbeat = "OkApplicationsHealthy"
        run.run(1800)
    quiet(run)
