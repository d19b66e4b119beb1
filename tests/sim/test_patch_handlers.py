"""The simulated patch scripts called directly: every field of the contract (and of the
shipped script) present, parameters refused as the real scripts refuse them, and each
script idempotent: drain twice acts once, install_start twice starts once, restore twice
acts once, reboot twice schedules once, cleanup of what is gone says it is gone."""

from __future__ import annotations

import pytest
from patch_support import (PACKAGE, PACKAGE_DIR, PACKAGE_PATH, RESULT_PATH, TASK, call, failure, has,
                           install_params, small_site, status_params, step, vm_id)

from hvconsole.sim.agent.patch import HANDLERS
from hvconsole.sim.agent.host_agent import load_handler_modules
from hvconsole.sim.model.packages import corrupted, package_bytes, package_sha256

CONTRACT = {
    "patch_preflight": {"is_admin", "product", "build", "ubr", "last_boot", "pending_reboot", "pending_reboot_reasons",
                        "services", "system_drive_free_mb", "staging_drive_free_mb", "cluster", "vms", "staged"},
    "patch_stage_check": {"exists", "size", "sha256", "matches"},
    "patch_drain": {"cluster", "vms"},
    "patch_install_start": {"state"},
    "patch_install_status": {"state", "exit_code", "started_at", "finished_at", "method", "task_state",
                             "last_task_result"},
    "patch_reboot": {"scheduled", "last_boot"},
    "patch_restore": {"cluster", "vms"},
    "patch_cleanup": {"task_removed", "package_removed"},
}
PREFLIGHT_VM = {"id", "name", "state", "heartbeat", "automatic_start_action", "automatic_stop_action", "is_clustered",
                "merging", "checkpoints", "last_backup", "confidential"}
DRAIN_VM = {"id", "name", "action", "ok", "state_before", "state_after", "skipped_reason", "error"}
RESTORE_VM = {"id", "name", "action", "ok", "state_before", "state_after", "error"}


def test_every_contract_script_has_a_registered_handler() -> None:
    assert set(HANDLERS) == set(CONTRACT)
    assert set(CONTRACT) <= set(load_handler_modules())


def test_preflight_answers_every_field() -> None:
    site = small_site()
    site.vm("A0").checkpoints = 2
    doc = call(site, "HV01", "patch_preflight", {"staging_dir": PACKAGE_DIR, "package_file": PACKAGE,
                                                 "required_free_mb": 2048})
    assert CONTRACT["patch_preflight"] <= set(doc)
    assert (doc["build"], doc["ubr"], doc["is_admin"], doc["pending_reboot"]) == (20348, 3692, True, False)
    assert doc["services"]["vmms"] == "Running" and doc["services"]["TrustedInstaller"] == "Stopped"
    assert doc["cluster"] is None and doc["space_ok"] is True and doc["warnings"] == []
    assert doc["staged"] == {"path": PACKAGE_PATH, "size": len(package_bytes(PACKAGE)), "sha256": package_sha256(PACKAGE)}
    vms = {v["name"]: v for v in doc["vms"]}
    assert all(set(v) == PREFLIGHT_VM for v in vms.values())
    assert vms["A0"]["checkpoints"] == 2 and vms["A0"]["heartbeat"] == "OkApplicationsHealthy"
    assert vms["C0"]["state"] == "Off" and vms["C0"]["heartbeat"] is None
    assert vms["B0"]["automatic_stop_action"] == "ShutDown" and vms["A0"]["id"] == vm_id(1)
    assert doc["last_boot"].endswith("Z")


def test_preflight_on_a_cluster_node_and_while_vmms_starts() -> None:
    site = small_site(cluster="CL1", hosts=("HV01", "HV02"))
    doc = call(site, "HV01", "patch_preflight", {"staging_dir": PACKAGE_DIR, "package_file": None})
    assert doc["cluster"] == {"name": "CL1", "node_state": "Up", "drain_status": "NotInitiated",
                              "other_nodes": [{"name": "HV02", "state": "Up"}], "bitlocker_csvs": 0}
    assert doc["staged"] is None
    host = site.host("HV01")
    host.crash(down_s=60)
    step(site, 61)            # WinRM answers again, vmms is still starting: Get-VM fails
    doc = call(site, "HV01", "patch_preflight", {"staging_dir": PACKAGE_DIR, "package_file": None})
    assert doc["vms"] == [] and doc["warnings"] and doc["warnings"][0].startswith("vms: ")
    assert doc["services"]["vmms"] == "StartPending"


def test_stage_check_hashes_what_is_on_the_drive() -> None:
    site = small_site()
    good = call(site, "HV01", "patch_stage_check", {"path": PACKAGE_PATH, "sha256": package_sha256(PACKAGE).upper()})
    assert good == {"exists": True, "size": len(package_bytes(PACKAGE)), "sha256": package_sha256(PACKAGE),
                    "matches": True}
    site.host("HV01").patch.stage(PACKAGE_PATH, corrupted(package_bytes(PACKAGE)))
    bad = call(site, "HV01", "patch_stage_check", {"path": PACKAGE_PATH, "sha256": package_sha256(PACKAGE)})
    assert bad["exists"] and bad["matches"] is False and bad["sha256"] != package_sha256(PACKAGE)
    missing = call(site, "HV01", "patch_stage_check", {"path": PACKAGE_PATH + "x", "sha256": None})
    assert missing == {"exists": False, "size": None, "sha256": None, "matches": None}
    missing = call(site, "HV01", "patch_stage_check", {"path": PACKAGE_PATH + "x", "sha256": package_sha256(PACKAGE)})
    assert missing["matches"] is False


def test_stage_check_reads_a_real_folder(tmp_path) -> None:
    site = small_site(staged=False)
    site.host("HV01").patch.mount_folder(tmp_path)
    folder = tmp_path / "HVConsole" / "Packages"          # another case than the path asks for
    folder.mkdir(parents=True)
    data = b"\x00real bytes\xff" * 1000
    (folder / PACKAGE).write_bytes(data)
    doc = call(site, "HV01", "patch_stage_check", {"path": PACKAGE_PATH, "sha256": None})
    import hashlib
    assert doc["exists"] and doc["size"] == len(data) and doc["sha256"] == hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize("script, params, message", [
    ("patch_stage_check", {"path": "C:\\Windows\\system32\\x.msu"}, "path must be a plain path under C:\\hvconsole\\"),
    ("patch_stage_check", {"path": "C:\\hvconsole\\..\\Windows\\x.msu"}, "path must be a plain path"),
    ("patch_stage_check", {"path": "C:/hvconsole/packages/x.msu"}, "path must be a plain path"),
    ("patch_stage_check", {"path": "C:\\hvconsole\\CON\\x.msu"}, "path must be a plain path"),
    ("patch_stage_check", {"path": "C:\\hvconsole\\a b.msu"}, "path must be a plain path"),
    ("patch_stage_check", {"path": 5}, "path must be a plain path"),
    ("patch_stage_check", {"path": PACKAGE_PATH, "sha256": "abc"}, "sha256 must be 64 hexadecimal digits"),
    ("patch_preflight", {"staging_dir": PACKAGE_DIR, "package_file": "..\\x.msu"}, "package_file must be"),
    ("patch_preflight", {"staging_dir": PACKAGE_DIR, "package_file": "x.exe"}, "package_file must be"),
    ("patch_preflight", {"staging_dir": PACKAGE_DIR, "required_free_mb": "lots"}, 'Cannot convert value "lots"'),
    ("patch_install_start", dict(install_params(), task_name="a;b"), "task_name must be"),
    ("patch_install_start", dict(install_params(), task_name="x" * 101), "task_name must be"),
    ("patch_install_start", dict(install_params(), task_name="-x"), "task_name must be"),
    ("patch_install_start", dict(install_params(), method="DISM"), "method must be one of"),
    ("patch_install_start", dict(install_params(), package_path="C:\\hvconsole\\packages\\x.zip"), "package_path must name"),
    ("patch_install_start", dict(install_params(), result_path="C:\\hvconsole\\r.txt"), "result_path must name a .json"),
    ("patch_install_status", {"task_name": TASK, "result_path": "D:\\hvconsole\\r.json"}, "result_path must be a plain"),
    ("patch_drain", {"vms": [{"id": "not-a-guid", "action": "save"}]}, "Guid should contain 32 digits"),
    ("patch_drain", {"vms": [{"id": vm_id(1), "action": "Save"}]}, "action must be one of"),
    ("patch_drain", {"vms": [{"id": vm_id(1), "action": "live-migrate", "destination": "a b"}]}, "destination must be"),
    ("patch_drain", {"vms": None}, "Guid should contain"),
    ("patch_restore", {"vms": [{"id": vm_id(1), "action": "reboot"}]}, "action must be one of"),
    ("patch_restore", {"vms": [], "failback": "Sometimes"}, "failback must be"),
    ("patch_cleanup", {"task_name": TASK, "remove_package_path": "C:\\Windows\\x.msu"}, "remove_package_path must be"),
])
def test_bad_parameters_fail_like_the_scripts(script: str, params: dict, message: str) -> None:
    site = small_site()
    before = {vm.name: vm.state for vm in site.host("HV01").vms}
    exc = failure(site, "HV01", script, params)
    assert exc.where == "params" and message in exc.message
    step(site, 60)
    assert {vm.name: vm.state for vm in site.host("HV01").vms} == before        # nothing was touched
    assert not site.host("HV01").patch.tasks


def test_guid_forms_that_guid_parse_takes_are_accepted() -> None:
    site = small_site()
    for form in (vm_id(3).upper(), vm_id(3).replace("-", ""), "{" + vm_id(3) + "}", "(" + vm_id(3) + ")"):
        doc = call(site, "HV01", "patch_drain", {"vms": [{"id": form, "action": "save"}]})
        assert doc["vms"][0]["id"] == vm_id(3) and doc["vms"][0]["skipped_reason"] == "already Off"


def test_drain_twice_acts_once() -> None:
    site = small_site()
    host = site.host("HV01")
    params = {"vms": [{"id": vm_id(1), "action": "save"}, {"id": vm_id(2), "action": "shutdown"},
                      {"id": vm_id(3), "action": "save"}, {"id": vm_id(5), "action": "host-default"},
                      {"id": vm_id(99), "action": "save"}], "cluster_drain": False, "timeout_s": 600}
    t0 = site.t
    first = call(site, "HV01", "patch_drain", params)
    assert first["cluster"] is None
    rows = {r["id"]: r for r in first["vms"]}
    assert all(set(r) == DRAIN_VM for r in rows.values())
    assert has(rows[vm_id(1)], ok=True, state_before="Running", state_after="Saved", skipped_reason=None, error=None)
    assert rows[vm_id(2)]["state_after"] == "Off" and rows[vm_id(2)]["ok"]
    assert rows[vm_id(3)]["skipped_reason"] == "already Off" and rows[vm_id(3)]["ok"]
    assert rows[vm_id(5)]["skipped_reason"] == "left to the host automatic stop action (TurnOff)"
    assert rows[vm_id(5)]["state_after"] == "Running" and rows[vm_id(5)]["ok"]
    assert rows[vm_id(99)] == {"id": vm_id(99), "name": None, "action": "save", "ok": True, "state_before": None,
                               "state_after": None, "skipped_reason": "not on this host", "error": None}
    took = site.t - t0
    assert 15 < took < 60                         # Save-VM of 8 GB, Stop-VM of a 4 GB guest: seconds, in parallel
    # What the answer said is what the model shows now (the manual clock moved by the run time).
    assert (site.vm("A0").state, site.vm("B0").state) == ("Saved", "Off")
    saves = sum(e.kind.id == 18510 for e in host.events)
    second = call(site, "HV01", "patch_drain", params)
    rows2 = {r["id"]: r for r in second["vms"]}
    assert rows2[vm_id(1)]["skipped_reason"] == "already Saved" and rows2[vm_id(1)]["ok"]
    assert rows2[vm_id(2)]["skipped_reason"] == "already Off"
    assert sum(e.kind.id == 18510 for e in host.events) == saves


def test_drain_reports_a_vm_still_saving_when_the_budget_runs_out_and_a_retry_finishes_it() -> None:
    site = small_site()
    site.vm("A0").memory_mb = 64 * 1024              # Save-VM takes over a minute
    first = call(site, "HV01", "patch_drain", {"vms": [{"id": vm_id(1), "action": "save"}], "timeout_s": 30})
    row = first["vms"][0]
    assert (row["ok"], row["state_after"], row["error"]) == (
        False, "Saving", "still in progress when the time budget ran out; run drain again")
    again = call(site, "HV01", "patch_drain", {"vms": [{"id": vm_id(1), "action": "save"}], "timeout_s": 30})
    assert again["vms"][0]["skipped_reason"] == "already Saving"
    step(site, 200)
    done = call(site, "HV01", "patch_drain", {"vms": [{"id": vm_id(1), "action": "save"}], "timeout_s": 30})
    assert has(done["vms"][0], ok=True, state_after="Saved")


def test_forced_shutdown_of_a_guest_that_does_not_answer_takes_five_minutes() -> None:
    site = small_site()
    site.vm("B0").hang("flat")
    step(site, 20)
    t0 = site.t
    doc = call(site, "HV01", "patch_drain", {"vms": [{"id": vm_id(2), "action": "shutdown"}, {"id": vm_id(5),
                                                                                            "action": "shutdown"}]})
    assert [r["ok"] for r in doc["vms"]] == [True, True] and [r["state_after"] for r in doc["vms"]] == ["Off", "Off"]
    assert 300 <= site.t - t0 < 320


def test_live_migration_and_an_unknown_destination() -> None:
    site = small_site(hosts=("HV01", "HV02"))
    doc = call(site, "HV01", "patch_drain", {"vms": [{"id": vm_id(1), "action": "live-migrate", "destination": "hv02"},
                                                     {"id": vm_id(2), "action": "live-migrate", "destination": "HV09"}]})
    moved, failed = doc["vms"]
    assert moved["ok"] and moved["name"] == "A0" and moved["state_after"] is None
    assert site.find_vm("A0")[0].name == "HV02"
    assert not failed["ok"] and "HV09" in failed["error"] and failed["state_after"] == "Running"


def test_cluster_drain_moves_the_clustered_vms_and_a_retry_skips_it() -> None:
    site = small_site(cluster="CL1", hosts=("HV01", "HV02"))
    params = {"vms": [{"id": vm_id(1), "action": "save"}, {"id": vm_id(2), "action": "save"}],
              "cluster_drain": True, "timeout_s": 900}
    doc = call(site, "HV01", "patch_drain", params)
    cluster = doc["cluster"]
    assert has(cluster, node="HV01", state_before="Up", state_after="Paused", drain_status="Completed", ok=True,
               error=None)
    assert all(r["skipped_reason"] == "not on this host" and r["ok"] for r in doc["vms"])
    assert {vm.name for vm in site.host("HV02").vms} >= {"A0", "B0"}
    assert site.host("HV01").cluster.node_state == "Paused"
    again = call(site, "HV01", "patch_drain", params)
    assert again["cluster"]["skipped_reason"] == "already paused and drained" and again["cluster"]["ok"]
    lonely = small_site(cluster="CL2")
    refused = call(lonely, "HV01", "patch_drain", {"vms": [], "cluster_drain": True})
    assert refused["cluster"]["ok"] is False and refused["cluster"]["drain_status"] == "Failed"
    standalone = call(small_site(), "HV01", "patch_drain", {"vms": [], "cluster_drain": True})
    assert standalone["cluster"]["error"] == "not a cluster node with a running cluster service"


def test_install_start_twice_starts_once() -> None:
    site = small_site()
    host = site.host("HV01")
    first = call(site, "HV01", "patch_install_start", install_params())
    assert first == {"state": "started", "exit_code": None, "started_at": None, "finished_at": None, "method": None,
                     "steps": [], "log": None}
    task = host.patch.task(TASK)
    assert task is not None and task.state == "Running" and task.runs == 1
    assert host.patch.drive.read(f"C:\\hvconsole\\tasks\\{TASK}.json") is not None
    second = call(site, "HV01", "patch_install_start", install_params())
    assert second["state"] == "running" and task.runs == 1
    running = call(site, "HV01", "patch_install_status", status_params())
    assert CONTRACT["patch_install_status"] <= set(running)
    assert (running["state"], running["task_state"], running["last_task_result"]) == ("running", "Running", 0x41301)
    step(site, 900)
    done = call(site, "HV01", "patch_install_start", install_params())
    assert done["state"] == "done" and done["exit_code"] == 3010 and task.runs == 1
    assert done["method"] == "dism" and [s["cab"] for s in done["steps"]][0] == f"expand {PACKAGE}"
    assert host.hotfixes.count("KB5061906") == 1 and host.ubr == 3692 and host.pending_reboot


def test_install_status_when_nothing_was_started_and_when_the_task_died() -> None:
    site = small_site()
    nothing = call(site, "HV01", "patch_install_status", status_params())
    assert nothing["state"] == "not-found" and nothing["task_state"] is None and nothing["exit_code"] is None
    call(site, "HV01", "patch_install_start", install_params())
    site.host("HV01").crash(down_s=120)                # the installer dies with the host
    step(site, 200)
    died = call(site, "HV01", "patch_install_status", status_params())
    assert died["state"] == "done" and died["exit_code"] == 0x8007042B and died["task_state"] == "Ready"
    assert "without writing its result" in died["log"]
    assert site.host("HV01").patch.drive.read(RESULT_PATH) is None
    restarted = call(site, "HV01", "patch_install_start", install_params())
    assert restarted["state"] == "started"


def test_reboot_twice_schedules_once_and_answers_the_last_boot_before() -> None:
    site = small_site()
    host = site.host("HV01")
    first = call(site, "HV01", "patch_reboot", {"delay_s": 30, "comment": 'say "hi" \\ bye\x07'})
    assert CONTRACT["patch_reboot"] <= set(first)
    assert has(first, scheduled=True, already_scheduled=False, delay_s=30, exit_code=0, comment="say  hi    bye")
    second = call(site, "HV01", "patch_reboot", {"delay_s": 5})
    assert second["scheduled"] and second["already_scheduled"] and second["exit_code"] == 1190
    step(site, 31)
    assert host.power == "stopping"
    late = call(site, "HV01", "patch_reboot", {})
    assert late["scheduled"] is False and late["exit_code"] == 1115 and late["error"]
    step(site, 600)
    assert host.reboots == 1 and host.reachability() == "up"
    assert call(site, "HV01", "patch_reboot", {"delay_s": 9999})["delay_s"] == 600


def test_restore_twice_acts_once() -> None:
    site = small_site()
    call(site, "HV01", "patch_drain", {"vms": [{"id": vm_id(1), "action": "save"}, {"id": vm_id(2), "action": "shutdown"}]})
    site.vm("E0").pause()
    params = {"vms": [{"id": vm_id(1), "action": "start"}, {"id": vm_id(2), "action": "start"},
                      {"id": vm_id(5), "action": "resume"}, {"id": vm_id(4), "action": "none"},
                      {"id": vm_id(77), "action": "start"}], "cluster_resume": False}
    first = call(site, "HV01", "patch_restore", params)
    rows = {r["id"]: r for r in first["vms"]}
    assert all(RESTORE_VM <= set(r) for r in rows.values())
    assert [rows[vm_id(n)]["state_after"] for n in (1, 2, 5, 4)] == ["Running", "Running", "Running", "Saved"]
    assert [rows[vm_id(n)]["ok"] for n in (1, 2, 5, 4, 77)] == [True, True, True, True, False]
    assert rows[vm_id(4)]["skipped_reason"] == "no action asked" and rows[vm_id(77)]["skipped_reason"] == "not on this host"
    assert [vm.state for vm in site.host("HV01").vms] == ["Running", "Running", "Off", "Saved", "Running"]
    starts = sum(e.kind.id in (18500, 18596) for e in site.host("HV01").events)
    second = call(site, "HV01", "patch_restore", params)
    assert [r["skipped_reason"] for r in second["vms"][:3]] == ["already Running"] * 3
    assert sum(e.kind.id in (18500, 18596) for e in site.host("HV01").events) == starts


def test_restore_resumes_the_cluster_node_with_failback() -> None:
    site = small_site(cluster="CL1", hosts=("HV01", "HV02"))
    call(site, "HV01", "patch_drain", {"vms": [], "cluster_drain": True})
    assert not any(vm.is_clustered for vm in site.host("HV01").vms if vm.state == "Running")
    doc = call(site, "HV01", "patch_restore", {"vms": [], "cluster_resume": True, "failback": True})
    assert doc["cluster"] == {"node": "HV01", "state_before": "Paused", "state_after": "Up", "failback": "Immediate",
                              "ok": True, "skipped_reason": None, "error": None}
    step(site, 300)
    assert {"A0", "B0"} <= {vm.name for vm in site.host("HV01").vms}      # failed back
    again = call(site, "HV01", "patch_restore", {"vms": [], "cluster_resume": True})
    assert again["cluster"]["skipped_reason"] == "node is Up" and again["cluster"]["failback"] == "Policy"


def test_cleanup_removes_what_the_run_left_and_keeps_the_evidence() -> None:
    site = small_site()
    host = site.host("HV01")
    call(site, "HV01", "patch_install_start", install_params())
    running = call(site, "HV01", "patch_cleanup", {"task_name": TASK, "remove_package_path": None})
    assert running == {"task_removed": False, "package_removed": None,
                       "warnings": ["the install task is still running: left in place"]}
    step(site, 900)
    host.patch.stage(PACKAGE_PATH + ".partial", b"half")
    doc = call(site, "HV01", "patch_cleanup", {"task_name": TASK, "remove_package_path": PACKAGE_PATH})
    assert doc == {"task_removed": True, "package_removed": True, "warnings": []}
    assert host.patch.task(TASK) is None and host.patch.drive.read(PACKAGE_PATH) is None
    assert host.patch.drive.read(PACKAGE_PATH + ".partial") is None
    assert host.patch.drive.read(RESULT_PATH) is not None                 # evidence stays
    assert call(site, "HV01", "patch_cleanup", {"task_name": TASK, "remove_package_path": PACKAGE_PATH}) == doc
