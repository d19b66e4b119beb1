"""The demo site: its make-up, the freeze in the first minute, the benign look-alikes,
and a site that keeps living (and stays valid) long after the scripted start."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import jsonschema

from hvconsole.core.timeutil import parse_time
from hvconsole.sim.model.clock import SimClock
from hvconsole.sim.scenarios.demo import FREEZE_AT_S, FREEZE_VM, build_demo_site
from hvconsole.sim.record import record
from hvconsole.site import demo_model

START = datetime(2026, 11, 25, 8, 30, tzinfo=timezone.utc)
SCHEMA = json.loads((Path(__file__).parents[1] / "fixtures/contracts/snapshot-v1.schema.json").read_text())
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA, format_checker=jsonschema.FormatChecker())


def demo_trace(seconds: float, interval: float = 5.0) -> list[dict]:
    return list(record(build_demo_site(1, SimClock.manual(START)), seconds=seconds, interval=interval))


def test_demo_site_make_up() -> None:
    site = build_demo_site(1, SimClock.manual(START))
    hosts = site.hosts
    assert list(hosts) == ["HV01", "HV02", "HV03", "HV04"]
    vms = [vm for h in hosts.values() for vm in h.vms]
    assert 36 <= len(vms) <= 44
    assert len({vm.id for vm in vms}) == len(vms) and len({vm.name for vm in vms}) == len(vms)
    assert (hosts["HV01"].build, hosts["HV01"].ubr) == (20348, 3692)
    assert "KB5058385" in hosts["HV01"].hotfixes and "KB5061906" not in hosts["HV01"].hotfixes
    assert (hosts["HV02"].build, hosts["HV02"].ubr) == (20348, 3695) and "KB5061906" in hosts["HV02"].hotfixes
    assert {h.build for h in hosts.values()} == {20348, 26100}
    clustered = [h.name for h in hosts.values() if h.cluster is not None]
    assert clustered == ["HV03", "HV04"]
    states = {vm.state for vm in vms}
    assert {"Running", "Off", "Saved"} <= states
    assert sum(vm.guest == "appliance" for vm in vms) >= 2 and any(vm.guest == "linux" for vm in vms)



def test_the_site_builder_gives_the_demo_model_unserved() -> None:
    # `hvconsole history seed-demo` reaches the demo's model through hvconsole.site (the one
    # door to the simulator): the same hosts and VMs, the freezing VM among them, no clock running.
    demo = demo_model()
    assert list(demo.site.hosts) == ["HV01", "HV02", "HV03", "HV04"]
    assert demo.freeze_vm == FREEZE_VM
    assert FREEZE_VM in {vm.name for vm in demo.site.hosts["HV01"].vms}

def test_a_freeze_starts_in_the_first_minute_on_the_unpatched_host() -> None:
    snaps = demo_trace(100)
    for snap in snaps:
        VALIDATOR.validate(snap)
    hv01 = [s for s in snaps if s["host"] == "HV01"]
    frozen = [next(v for v in s["vms"] if v["name"] == FREEZE_VM) for s in hv01]
    assert frozen[0]["heartbeat"] == "OkApplicationsHealthy"
    late = frozen[-3:]
    assert all(v["state"] == "Running" and v["heartbeat"] == "LostCommunication" for v in late)
    assert all(v["cpu_pct"] >= 98 for v in late)
    worker = [e for s in hv01 for e in s["events"]
              if e["log"] == "Microsoft-Windows-Hyper-V-Worker-Admin" and e["level"] in ("Error", "Critical")]
    assert worker and worker[0]["vm_id"] == frozen[0]["id"]
    first_lost = next(s for s in hv01 if any(v["heartbeat"] == "LostCommunication" for v in s["vms"]))
    assert (parse_time(first_lost["polled_at"]) - START).total_seconds() < 60 + 5
    assert FREEZE_AT_S < 60


def test_benign_lookalikes_are_present_from_the_start() -> None:
    snaps = demo_trace(60)
    vms = {v["name"]: v for s in snaps if s["reachable"] for v in s["vms"]}
    assert vms["LB-APPLIANCE-01"]["heartbeat"] == "NoContact" and vms["LB-APPLIANCE-01"]["state"] == "Running"
    assert vms["HR-APP-01"]["heartbeat"] == "OkApplicationsCritical"
    assert vms["KMS01"]["cpu_pct"] == 0 and vms["KMS01"]["heartbeat"] == "OkApplicationsHealthy"
    booting = [v for s in snaps for v in s["vms"] if v["name"] == "BUILD-AGENT-03"]
    assert booting[0]["state"] == "Off" and booting[-1]["state"] == "Running"
    assert booting[-1]["heartbeat"] == "NoContact"
    assert "Büro" in "".join(vms)


def test_the_site_keeps_living_after_the_script() -> None:
    snaps = demo_trace(40 * 60, interval=30.0)
    assert all(s["reachable"] for s in snaps)
    late_events = [e for s in snaps if (parse_time(s["polled_at"]) - START).total_seconds() > 600
                   for e in s["events"]]
    assert late_events                                   # background activity blocks keep coming
    for snap in snaps[-4:]:
        VALIDATOR.validate(snap)
