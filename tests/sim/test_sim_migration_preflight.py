"""Live migration from the console (issue 11): clustered VMs move only through the node
drain; a standalone Move-VM from a remote session needs Kerberos constrained delegation,
so pre-flight checks every planned migration (Compare-VM -DestinationHost) and a plan that
cannot work is refused with the reason and the choice; the sim's host flag
``migration_delegation`` stands for a host without that setup."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from hvconsole.core.catalog import load_catalog
from hvconsole.core.patch.plan import PatchPlan, VmHandling, Wave
from hvconsole.core.snapshot import Snapshot, VmSample
from hvconsole.patch.preflight import judge, planned_live_migrations

from patch_support import PACKAGE, PACKAGE_DIR, call, small_site, step, vm_id

CATALOG = load_catalog(Path(__file__).parents[2] / "resources" / "catalog" / "updates.json")
KB = CATALOG.get("KB5061906")
A0 = vm_id(1)                 # Running, 8 GB, standalone (small_site)


def _preflight(site, migrations):
    doc = call(site, "HV01", "patch_preflight", {"staging_dir": PACKAGE_DIR, "package_file": PACKAGE,
                                                 "required_free_mb": 2048, "live_migrations": migrations})
    return doc, judge(doc, KB, required_free_mb=2048, package_mb=1.0, backup_max_age_h=1e6, host_now=None)


def test_a_working_migration_setup_passes_preflight():
    site = small_site(hosts=("HV01", "HV02"))
    doc, verdict = _preflight(site, [{"id": A0, "destination": "HV02"}])
    [check] = doc["migration"]["checks"]
    assert check["ok"] is True and check["name"] == "A0" and doc["migration"]["authentication"] == "Kerberos"
    assert verdict.problems == []


def test_without_delegation_a_live_migration_plan_is_refused_at_preflight_with_the_choice():
    site = small_site(hosts=("HV01", "HV02"))
    site.host("HV01").migration_delegation = False
    doc, verdict = _preflight(site, [{"id": A0, "destination": "HV02"}])
    [check] = doc["migration"]["checks"]
    assert check["ok"] is False and "0x8009030E" in check["error"]
    [problem] = verdict.problems
    assert problem.startswith("VM A0 cannot be live-migrated to HV02 from the console")
    assert "Kerberos with constrained delegation" in problem and "choose save or shut down" in problem
    # Nothing was moved by the check.
    assert site.vm("A0").host is site.host("HV01") and site.vm("A0").state == "Running"


def test_credssp_and_disabled_migration_are_named_in_plain_words():
    site = small_site(hosts=("HV01", "HV02"))
    site.host("HV01").migration_authentication = "CredSSP"
    _, verdict = _preflight(site, [{"id": A0, "destination": "HV02"}])
    assert "CredSSP, which cannot be used from a remote session" in verdict.problems[0]
    site.host("HV01").migration_authentication = "Kerberos"
    site.host("HV01").migration_enabled = False
    _, verdict = _preflight(site, [{"id": A0, "destination": "HV02"}])
    assert "live migration is not enabled on this host" in verdict.problems[0]
    assert "Enable-VMMigration" in verdict.problems[0]


def test_no_planned_migration_means_no_check():
    site = small_site(hosts=("HV01", "HV02"))
    site.host("HV01").migration_delegation = False
    doc = call(site, "HV01", "patch_preflight", {"staging_dir": PACKAGE_DIR, "package_file": PACKAGE})
    assert doc["migration"] == {"enabled": None, "authentication": None, "checks": []}
    assert judge(doc, KB, required_free_mb=0, package_mb=None, backup_max_age_h=1e6, host_now=None).problems == []


def test_a_clustered_vm_is_left_to_the_node_drain_and_never_moved_per_vm():
    site = small_site(cluster="CL1", hosts=("HV01", "HV02"))
    doc, verdict = _preflight(site, [{"id": A0, "destination": "HV02"}])
    [check] = doc["migration"]["checks"]
    assert check["ok"] is True and check["skipped_reason"].startswith("clustered")
    assert verdict.problems == []
    answer = call(site, "HV01", "patch_drain", {"vms": [{"id": A0, "action": "live-migrate", "destination": "HV02"}],
                                                "cluster_drain": False, "timeout_s": 60})
    [row] = answer["vms"]
    assert row["ok"] is False and "moves only through the cluster" in row["error"]
    step(site, 30)
    assert site.vm("A0").host is site.host("HV01")       # not moved behind the cluster's back
    answer = call(site, "HV01", "patch_drain", {"vms": [], "cluster_drain": True, "timeout_s": 600})
    assert answer["cluster"]["ok"] is True
    assert site.vm("A0").host is site.host("HV02")       # the node drain moved it


def test_a_standalone_move_without_delegation_fails_like_windows():
    site = small_site(hosts=("HV01", "HV02"))
    site.host("HV01").migration_delegation = False
    answer = call(site, "HV01", "patch_drain", {"vms": [{"id": A0, "action": "live-migrate", "destination": "HV02"}],
                                                "cluster_drain": False, "timeout_s": 60})
    [row] = answer["vms"]
    assert row["ok"] is False and "No credentials are available in the security package" in row["error"]


def test_preflight_warns_when_the_fix_is_scoped_elsewhere():
    site = small_site()
    site.vm("A0").confidential = False                    # no confidential VM on HV01 now
    doc, verdict = _preflight(site, [])
    assert verdict.problems == []
    assert any(w.startswith("KB5061906 is not needed here: no confidential VMs on this host") for w in verdict.warnings)


def test_planned_live_migrations_are_the_running_vms_the_plan_would_move():
    plan = PatchPlan(kb="KB5061906", waves=(Wave("pilot", ("HV01",)),),
                     vm_default=VmHandling("save"),
                     vm_overrides={A0.upper(): VmHandling("live-migrate", "HV02"),
                                   vm_id(3): VmHandling("live-migrate", "HV02")})
    snap = Snapshot(host="HV01", polled_at=datetime(2026, 11, 25, tzinfo=timezone.utc), reachable=True,
                    vms=(VmSample(id=A0, name="A0", state="Running"), VmSample(id=vm_id(3), name="C0", state="Off"),
                         VmSample(id=vm_id(2), name="B0", state="Running")))
    assert planned_live_migrations(plan, snap) == [{"id": A0, "destination": "HV02"}]
    # What the engine sends is what the script checks.
    site = small_site(hosts=("HV01", "HV02"))
    site.host("HV01").migration_delegation = False
    _, verdict = _preflight(site, planned_live_migrations(plan, snap))
    assert verdict.problems and "A0" in verdict.problems[0]


def test_an_incompatible_destination_is_reported_with_compare_vms_words():
    doc = {"is_admin": True, "build": 20348, "ubr": 3692, "services": {"vmms": "Running"}, "vms": [],
           "system_drive_free_mb": 50000, "migration": {"enabled": True, "authentication": "Kerberos", "checks": [
               {"id": A0, "name": "A0", "destination": "HV02", "ok": False, "skipped_reason": None, "error": None,
                "incompatibilities": ["The virtual machine's hard disk is not accessible on the destination."]}]}}
    [problem] = judge(doc, KB, required_free_mb=0, package_mb=None, backup_max_age_h=1e6, host_now=None).problems
    assert "Compare-VM reports: The virtual machine's hard disk is not accessible" in problem
    assert "constrained delegation" not in problem and "choose save or shut down" in problem
