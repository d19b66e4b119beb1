"""The site model: VM life cycle timings, faults, host reboots and updates, migration,
events, and determinism independent of how often the site is looked at."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone

import pytest

from hvconsole.sim.model.clock import SimClock
from hvconsole.sim.model import LoadProfile, SimHost, SimSite, SimVM

START = datetime(2026, 11, 25, 9, 0, tzinfo=timezone.utc)


def make_site(*vm_specs: dict, hosts: tuple[str, ...] = ("HV01",), cluster: str | None = None,
              seed: int = 1) -> SimSite:
    site = SimSite(SimClock.manual(START), seed=seed)
    for name in hosts:
        site.add_host(SimHost(name, cluster=cluster))
    for i, spec in enumerate(vm_specs):
        spec = dict(spec)
        host = spec.pop("host", hosts[0])
        site.host(host).add_vm(SimVM(spec.pop("name"), str(uuid.UUID(int=i + 1)), **spec))
    return site


def step(site: SimSite, seconds: float) -> float:
    site.clock.advance(seconds)
    return site.advance()


def watch(site: SimSite, vm: SimVM, seconds: float, every: float = 1.0) -> list[dict]:
    out = []
    for _ in range(int(seconds / every)):
        t = step(site, every)
        out.append(dict(vm.sample(t), t=t))
    return out


def test_start_from_off_boots_with_nocontact_then_healthy() -> None:
    site = make_site({"name": "APP01", "state": "Off", "load": LoadProfile(20, 5)})
    vm = site.vm("APP01")
    off = vm.sample(site.advance())
    assert (off["state"], off["heartbeat"], off["uptime_s"], off["memory_assigned_mb"]) == ("Off", None, 0, 0)
    assert vm.start()
    samples = watch(site, vm, 200)
    states = [s["state"] for s in samples]
    assert states[0] == "Starting" and "Running" in states
    first_running = next(s for s in samples if s["state"] == "Running")
    assert first_running["t"] <= 7.0                              # Starting lasts seconds
    nocontact = [s for s in samples if s["state"] == "Running" and s["heartbeat"] == "NoContact"]
    assert 60.0 <= len(nocontact) <= 121                          # the guest boots for 60-120 s
    assert samples[-1]["heartbeat"] == "OkApplicationsHealthy"
    uptimes = [s["uptime_s"] for s in samples if s["state"] == "Running"]
    assert uptimes == sorted(uptimes) and uptimes[-1] >= 190
    assert any(e.kind.id == 18500 for e in site.host("HV01").events)


def test_appliance_never_contacts_and_linux_reports_applications_unknown() -> None:
    site = make_site({"name": "FW", "guest": "appliance", "load": LoadProfile(8, 3)},
                     {"name": "LNX", "guest": "linux"})
    t = step(site, 600)
    fw, lnx = site.vm("FW").sample(t), site.vm("LNX").sample(t)
    assert fw["heartbeat"] == "NoContact" and fw["state"] == "Running" and fw["cpu_pct"] > 0
    assert lnx["heartbeat"] == "OkApplicationsUnknown"


def test_shutdown_save_restore_pause_and_turn_off() -> None:
    site = make_site({"name": "A", "memory_mb": 8192}, {"name": "B"}, {"name": "C"})
    a, b, c = (site.vm(n) for n in "ABC")
    assert a.shutdown() and a.sample(site.t)["state"] == "Stopping"
    uptime_b = b.sample(site.t)["uptime_s"]
    assert b.save() and b.sample(site.t)["state"] == "Saving"
    assert c.pause() and c.sample(site.t)["heartbeat"] == "Paused"
    paused_uptime = c.sample(site.t)["uptime_s"]
    t = step(site, 60)
    assert a.sample(t)["state"] == "Off"
    assert b.sample(t)["state"] == "Saved" and b.sample(t)["memory_assigned_mb"] == 0
    assert c.sample(t)["uptime_s"] == paused_uptime              # OnTime excludes paused time
    assert c.resume() and b.start()
    t = step(site, 30)
    restored = b.sample(t)
    assert restored["state"] == "Running" and restored["heartbeat"] == "OkApplicationsHealthy"
    assert restored["uptime_s"] >= uptime_b                      # a restore is not a boot
    assert c.turn_off() and c.sample(site.t)["state"] == "Off"
    assert not c.shutdown()                                      # nothing to shut down
    ids = [e.kind.id for e in site.host("HV01").events]
    assert {18504, 18510, 18512, 18516, 18596, 18502} <= set(ids)


def test_guest_reboot_drops_heartbeat_for_30_to_60_s_and_resets_uptime() -> None:
    site = make_site({"name": "APP01"})
    vm = site.vm("APP01")
    before = vm.sample(site.advance())["uptime_s"]
    assert vm.guest_reboot()
    samples = watch(site, vm, 120)
    dropped = [s for s in samples if s["heartbeat"] != "OkApplicationsHealthy"]
    assert all(s["heartbeat"] == "NoContact" and s["state"] == "Running" for s in dropped)
    assert 30 <= len(dropped) <= 61
    assert samples[-1]["heartbeat"] == "OkApplicationsHealthy"
    assert samples[-1]["uptime_s"] < 120 < before


@pytest.mark.parametrize("cpu, low, high", [("flat", 0, 0), ("pegged", 98, 100)])
def test_hang_loses_heartbeat_with_flat_or_pegged_cpu(cpu: str, low: int, high: int) -> None:
    site = make_site({"name": "APP01", "load": LoadProfile(30, 10)})
    vm = site.vm("APP01")
    vm.hang(cpu, event="guest_fatal")
    samples = watch(site, vm, 60, every=5)
    assert samples[0]["heartbeat"] == "OkApplicationsHealthy"   # heartbeat times out first
    late = samples[4:]
    assert all(s["heartbeat"] == "LostCommunication" and s["state"] == "Running" for s in late)
    assert all(low <= s["cpu_pct"] <= high for s in late)
    assert late[-1]["uptime_s"] > late[0]["uptime_s"]            # the partition still runs
    assert [e.kind.id for e in site.host("HV01").events][-1] == 18590


def test_stall_freezes_every_value_and_critical_shows_running_critical() -> None:
    site = make_site({"name": "A", "load": LoadProfile(30, 20)}, {"name": "B"})
    a, b = site.vm("A"), site.vm("B")
    a.stall()
    b.go_critical()
    first_a, first_b = a.sample(step(site, 5)), b.sample(site.t)
    later_a, later_b = a.sample(step(site, 120)), b.sample(site.t)
    assert first_a == later_a and later_a["uptime_s"] > 0
    assert later_b["state"] == "RunningCritical" and later_b["health"] == "CriticalFailure"
    assert later_b["operational_status"] == ["CommunicationTimedOut"]
    assert later_b["uptime_s"] == first_b["uptime_s"]


def test_stuck_transitions_never_complete() -> None:
    site = make_site({"name": "A"}, {"name": "B", "state": "Off"})
    site.vm("A").stick("Stopping")
    site.vm("B").stick("Starting")
    t = step(site, 3600)
    assert site.vm("A").sample(t)["state"] == "Stopping"
    assert site.vm("B").sample(t)["state"] == "Starting"
    with pytest.raises(ValueError):
        site.vm("A").stick("Saving")


def test_triple_fault_loop_resets_again_and_again() -> None:
    site = make_site({"name": "A"})
    vm = site.vm("A")
    vm.triple_fault_loop()
    samples = watch(site, vm, 300, every=5)
    faults = [e for e in site.host("HV01").events if e.kind.id == 18560]
    assert 5 <= len(faults) <= 9
    assert all(s["uptime_s"] <= 60 for s in samples[2:])
    assert all(s["heartbeat"] == "NoContact" for s in samples[2:])


def test_later_action_cancels_an_earlier_one_in_flight() -> None:
    site = make_site({"name": "A", "state": "Off"})
    vm = site.vm("A")
    vm.start()
    vm.turn_off()                     # before Starting completes
    t = step(site, 60)
    assert vm.sample(t)["state"] == "Off"


def test_samples_do_not_depend_on_how_often_the_site_is_polled() -> None:
    def run(poll_every: float) -> list[dict]:
        site = make_site({"name": "A", "load": LoadProfile(30, 20)}, {"name": "B", "state": "Off"}, seed=7)
        site.at(30, lambda t: site.vm("B").start())
        site.at(100, lambda t: site.vm("A").guest_reboot())
        seen = []
        elapsed = 0.0
        while elapsed < 300:
            step(site, poll_every)
            elapsed += poll_every
            if elapsed % 60 == 0:
                seen.append([site.vm(n).sample(site.t) for n in "AB"])
        return seen
    assert run(2.0) == run(60.0) == run(5.0)


def test_different_seeds_give_different_vm_ids_and_loads() -> None:
    from hvconsole.sim.scenarios.demo import build_demo_site
    a = build_demo_site(1, SimClock.manual(START))
    b = build_demo_site(2, SimClock.manual(START))
    assert a.vm("DC01").id != b.vm("DC01").id
    assert build_demo_site(1, SimClock.manual(START)).vm("DC01").id == a.vm("DC01").id


def test_reboot_with_update_takes_the_host_away_and_brings_it_back_patched() -> None:
    site = make_site({"name": "A", "automatic_stop_action": "Save"},
                     {"name": "B", "automatic_stop_action": "ShutDown"},
                     {"name": "C", "state": "Off", "automatic_start_action": "StartIfRunning"})
    host = site.host("HV01")
    boot_before = host.last_boot_t
    host.install_update("KB5061906", ubr=3695)
    assert host.pending_reboot and "KB5061906" in host.hotfixes and host.ubr == 3692
    assert host.reboot()
    assert not host.reboot()                                     # already on its way down
    assert host.reachability() == "up"                           # still saving VMs
    states = []
    for _ in range(600):
        step(site, 1)
        states.append(host.reachability())
    assert "down" in states and states[-1] == "up"
    down_s = states.count("down")
    assert 60 <= down_s <= 300
    assert host.ubr == 3695 and not host.pending_reboot and host.last_boot_t > boot_before
    t = site.t
    assert site.vm("A").sample(t)["state"] == "Running"          # Save + StartIfRunning → restored
    assert site.vm("B").sample(t)["state"] == "Running"
    assert site.vm("C").sample(t)["state"] == "Off"              # was not running before
    ids = {e.kind.id for e in host.events}
    assert {1074, 6006, 6005, 12, 19} <= ids


def test_two_reboot_update_and_a_boot_that_never_completes() -> None:
    site = make_site()
    host = site.host("HV01")
    host.install_update("KB5099999", ubr=4000, reboots=2)
    host.reboot(down_s=100)
    step(site, 400)
    assert host.reachability() == "up" and host.ubr == 4000 and host.pending_reboot
    host.reboot(down_s=100)
    step(site, 400)
    assert not host.pending_reboot
    host.reboot(fail=True)
    step(site, 7200)
    assert host.reachability() == "down"


def test_vmms_starts_after_winrm_answers_following_a_crash() -> None:
    site = make_site({"name": "A"})
    host = site.host("HV01")
    host.crash(down_s=120)
    assert host.reachability() == "down" and site.vm("A").state == "Off"
    for _ in range(200):
        step(site, 1)
        if host.reachability() == "up":
            break
    assert host.services(site.t)["vmms"] == "StartPending"
    assert host.vm_query_problem(site.t) == "vmms-starting"
    step(site, 30)
    assert host.services(site.t)["vmms"] == "Running" and host.vm_query_problem(site.t) is None
    ids = {e.kind.id for e in host.events}
    assert {41, 6008, 1001} <= ids


def test_live_migration_and_drain_move_vms_between_cluster_nodes() -> None:
    site = make_site({"name": "A", "is_clustered": True}, {"name": "B", "is_clustered": True},
                     {"name": "LOCAL"}, hosts=("HV01", "HV02"), cluster="CL")
    hv1, hv2 = site.host("HV01"), site.host("HV02")
    vm_a = site.vm("A")
    seconds = hv1.live_migrate(vm_a, hv2)
    assert seconds is not None
    assert vm_a.sample(site.t)["operational_status"] == ["Ok", "MigratingVirtualMachine"]
    step(site, seconds + 1)
    assert site.find_vm("A")[0] is hv2 and vm_a.sample(site.t)["operational_status"] == ["Ok"]
    assert hv1.drain()
    assert hv1.cluster is not None and hv1.cluster.drain_status == "InProgress"
    step(site, 300)
    assert hv1.cluster.drain_status == "Completed" and hv1.cluster.node_state == "Paused"
    assert [v.name for v in hv1.vms] == ["LOCAL"]                 # not clustered: stays
    hv1.resume_node()
    assert (hv1.cluster.node_state, hv1.cluster.drain_status) == ("Up", "NotInitiated")


def test_a_paused_vm_that_is_saved_and_started_again_counts_uptime_again() -> None:
    site = make_site({"name": "P"})
    vm = site.vm("P")
    step(site, 10)
    assert vm.pause() and vm.save()
    step(site, 60)
    assert vm.sample(site.t)["state"] == "Saved"
    assert vm.start()
    t1 = step(site, 30)
    first = vm.sample(t1)["uptime_s"]
    t2 = step(site, 20)
    assert vm.sample(t2)["state"] == "Running" and vm.sample(t2)["uptime_s"] >= first + 19


def test_a_migration_interrupted_by_a_source_crash_does_not_complete() -> None:
    site = make_site({"name": "A", "is_clustered": True}, hosts=("HV01", "HV02"), cluster="CL")
    hv1, hv2 = site.host("HV01"), site.host("HV02")
    seconds = hv1.live_migrate(site.vm("A"), hv2)
    assert seconds is not None
    hv1.crash()
    step(site, seconds + 1)
    assert site.vm("A") not in hv2.vms
    assert not any(e.kind.id == 20417 for e in hv2.events)


def test_event_log_returns_newest_after_a_bookmark() -> None:
    site = make_site()
    log = site.host("HV01").events
    for i in range(10):
        log.write(100.0 + i, "vm_started", vm_id=str(i), vm=f"VM{i}")
    newest = log.newest_after(100.0, 3, until_t=1000.0)
    assert [e.vm_id for e in newest] == ["7", "8", "9"]
    assert [e.vm_id for e in log.newest_after(107.0, 50, until_t=108.0)] == ["8"]
    assert log.newest_after(None, 0, until_t=1000.0) == []


def test_vmms_crash_is_restarted_by_the_service_manager() -> None:
    site = make_site({"name": "A"})
    host = site.host("HV01")
    host.crash_vmms()
    assert host.services(site.t)["vmms"] == "Stopped" and host.vm_query_problem(site.t) == "vmms-starting"
    step(site, 61)
    assert host.services(site.t)["vmms"] == "StartPending"
    step(site, 20)
    assert host.services(site.t)["vmms"] == "Running" and host.vm_query_problem(site.t) is None
    assert site.vm("A").sample(site.t)["state"] == "Running"
    assert [e.kind.id for e in host.events][-1] == 7031


def test_a_crashed_cluster_node_is_reported_by_its_peer() -> None:
    site = make_site(hosts=("HV01", "HV02"), cluster="CL")
    site.host("HV01").crash(down_s=300)
    step(site, 10)
    assert 1135 in [e.kind.id for e in site.host("HV02").events]
    assert site.host("HV01").cluster.node_state == "Down"
