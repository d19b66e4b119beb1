"""The pilot's freeze disappears after the fix: on the demo site HV01 (20348.3692) keeps
freezing VMs while it runs the regressed build (also once the fix is installed but not yet
rebooted into), and stops once it runs 20348.3695. Recorded with ``record()`` through the
real collect command line, as the console would see it. Also: the demo-patch site gives
the compliance check two hosts to fix, one compliant and two not applicable."""

from __future__ import annotations

from patch_support import START, call, wait_for

from hvconsole.assets import asset_path
from hvconsole.core.catalog import load_catalog
from hvconsole.core.compliance import COMPLIANT, NEEDS_UPDATE, NOT_APPLICABLE, assess
from hvconsole.core.parse import parse_snapshot
from hvconsole.core.timeutil import parse_time
from hvconsole.sim.model.clock import SimClock
from hvconsole.sim.scenarios.demo import FIX_PACKAGE_PATH, build_demo_site, build_patch_demo_site
from hvconsole.sim.model import SimSite
from hvconsole.sim.record import record
from hvconsole.sim.scenarios.regression import Regression, freeze_now


def freeze_onsets(snaps: list[dict], host: str) -> list[tuple[float, str]]:
    """(seconds after START, VM name) each time a VM of ``host`` newly lost its heartbeat."""
    lost_before: set[str] = set()
    onsets = []
    for snap in snaps:
        if snap["host"] != host or not snap["reachable"]:
            continue
        lost = {v["name"] for v in snap["vms"] if v["heartbeat"] == "LostCommunication"}
        onsets += [((parse_time(snap["polled_at"]) - START).total_seconds(), name) for name in sorted(lost - lost_before)]
        lost_before = lost
    return onsets


def patch_hv01(site: SimSite) -> None:
    """Install KB5061906 on HV01 and reboot it, VMs left to their automatic stop actions."""
    params = {"package_path": FIX_PACKAGE_PATH, "task_name": "hvc-KB5061906",
              "result_path": "C:\\hvconsole\\results\\KB5061906.json", "method": "auto"}
    assert call(site, "HV01", "patch_install_start", params)["state"] == "started"
    done = wait_for(site, lambda: call(site, "HV01", "patch_install_status", {
        "task_name": "hvc-KB5061906", "result_path": params["result_path"]})["state"] == "done", 1800, 30)
    assert done is not None
    assert call(site, "HV01", "patch_reboot", {"delay_s": 30})["scheduled"]


def test_hv01_keeps_freezing_until_it_runs_the_fixed_build() -> None:
    site = build_demo_site(1, SimClock.manual(START))
    hv01 = site.host("HV01")
    before = list(record(site, seconds=45 * 60, interval=30.0))
    onsets = freeze_onsets(before, "HV01")
    assert onsets[0][1] == "SQL-PROD-02" and onsets[0][0] < 35 + 12 + 30 + 5     # freeze, heartbeat, a poll
    assert len(onsets) >= 6                                # every few minutes, not once
    gaps = [b[0] - a[0] for a, b in zip(onsets[2:], onsets[3:])]
    assert all(gap < 8 * 60 for gap in gaps)
    patch_hv01(site)
    assert "KB5061906" in hv01.hotfixes and hv01.ubr == 3692      # installed, not yet running
    during = list(record(site, seconds=30.0, interval=30.0))
    assert all(s["os"]["ubr"] == 3692 for s in during if s["host"] == "HV01" and s["reachable"])
    back = wait_for(site, lambda: hv01.reachability() == "up" and hv01.reboots == 1, 900, 10)
    assert back is not None and hv01.ubr == 3695
    rebooted_at = (site.time_of(site.t) - START).total_seconds()
    after = list(record(site, seconds=60 * 60, interval=30.0))
    hv01_after = [s for s in after if s["host"] == "HV01" and s["reachable"]]
    assert hv01_after and all(f"{s['os']['build']}.{s['os']['ubr']}" == "20348.3695" for s in hv01_after)
    assert freeze_onsets(after, "HV01") == []
    late = [s for s in hv01_after if (parse_time(s["polled_at"]) - START).total_seconds() > rebooted_at + 600]
    assert late and all(v["heartbeat"] != "LostCommunication" for s in late for v in s["vms"])
    assert any(v["state"] == "Running" for v in late[-1]["vms"])   # its VMs run again, none hung


def test_freezes_go_on_between_install_and_reboot() -> None:
    site = build_demo_site(1, SimClock.manual(START))
    hv01 = site.host("HV01")
    hv01.install_update("KB5061906", ubr=3695)
    victim = next(vm for vm in hv01.vms if vm.name == "DC01")
    assert Regression().affects(hv01) and freeze_now(hv01, victim)
    hv02 = site.host("HV02")
    assert not Regression().affects(hv02) and not freeze_now(hv02, hv02.vms[0])


def test_demo_patch_site_gives_compliance_two_hosts_to_fix() -> None:
    site = build_patch_demo_site(1, SimClock.manual(START))
    assert list(site.hosts) == ["HV01", "HV02", "HV03", "HV04", "HV05"]
    update = load_catalog(asset_path("catalog", "updates.json")).get("KB5061906")
    assert update is not None
    latest = {s["host"]: parse_snapshot(s) for s in record(site, seconds=1.0, interval=5.0)}
    status = {host: assess(host, snap, update).status for host, snap in latest.items()}
    assert status == {"HV01": NEEDS_UPDATE, "HV02": COMPLIANT, "HV03": NOT_APPLICABLE, "HV04": NOT_APPLICABLE,
                      "HV05": NEEDS_UPDATE}
    for host in ("HV01", "HV05"):
        staged = call(site, host, "patch_stage_check", {"path": FIX_PACKAGE_PATH, "sha256": None})
        assert staged["exists"]


def test_hv05_freezes_too_in_the_patch_demo() -> None:
    site = build_patch_demo_site(1, SimClock.manual(START))
    snaps = list(record(site, seconds=30 * 60, interval=30.0))
    assert len(freeze_onsets(snaps, "HV05")) >= 3
    assert freeze_onsets(snaps, "HV02") == []
