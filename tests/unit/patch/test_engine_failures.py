"""Failure paths: every failed host is put back (VMs as they were, alerts on again) and the
rollout stops; what stopped it is in the journal and the report."""

from __future__ import annotations

from hvconsole.core.patch.report import build_report
from test_engine_fakes import PACKAGE_PATH, fake_site, new_run, plan_for, run


def steps(journal, run_id, host):
    return dict((r.step, r.outcome) for r in journal.steps(run_id, host))


def states(host):
    return {v.name: v.state for v in host.vms.values()}


def assert_put_back(journal, run_id, host, before):
    s = steps(journal, run_id, host.name)
    assert s.get("maintenance-off") == "ok"
    assert states(host) == before


def test_install_failure_restores_the_host_and_stops_the_rollout(tmp_path):
    hosts = fake_site("HV01", "HV02")
    hv01 = hosts["HV01"]
    hv01.install_exit = 0x800F0922
    before = states(hv01)
    journal, run_id = new_run(tmp_path, plan_for(("HV01",), ("HV02",)))
    result = run(journal, run_id, hosts)
    assert result.state == "failed" and "test ring failed on HV01" in result.reason
    s = steps(journal, run_id, "HV01")
    assert s["install"] == "failed" and "reboot" not in s and s["restore"] == "ok"
    assert_put_back(journal, run_id, hv01, before)
    assert hv01.boots == 0 and hv01.calls["patch_reboot"] == 0
    install = journal.last_ok(run_id, "HV01", "drain") and next(
        r for r in journal.steps(run_id, "HV01") if r.step == "install")
    assert install.evidence["exit_code"] == 0x800F0922 and "CBS.log" in install.evidence["summary"]
    assert journal.steps(run_id, "HV02") == [] and hosts["HV02"].calls.total() == 0
    report = build_report(journal, run_id)
    assert [h["status"] for h in report["hosts"]] == ["failed", "not started"]
    assert journal.run(run_id).state == "failed"


def test_host_that_does_not_come_back(tmp_path):
    hosts = fake_site("HV01")
    hv01 = hosts["HV01"]
    hv01.no_return = True
    journal, run_id = new_run(tmp_path, plan_for(("HV01",), reboot_timeout_s=300))
    result = run(journal, run_id, hosts)
    assert result.state == "failed"
    reboot = next(r for r in journal.steps(run_id, "HV01") if r.step == "reboot")
    assert reboot.outcome == "failed" and "did not come back within 300 s" in reboot.evidence["summary"]
    restore = next(r for r in journal.steps(run_id, "HV01") if r.step == "restore")
    assert restore.outcome == "failed" and "not answering" in restore.evidence["summary"]
    # Clear state: the VMs that are still saved are named, and alerts are back on.
    assert sorted(restore.evidence["not_restored"]) == ["HV01-VM0", "HV01-VM1", "HV01-VM2"]
    assert steps(journal, run_id, "HV01")["maintenance-off"] == "ok"
    assert hv01.calls["patch_reboot"] == 1


def test_update_not_applicable_fails_before_anything_changes(tmp_path):
    hosts = fake_site("HV01")
    hosts["HV01"].build, hosts["HV01"].ubr = 26100, 4652
    before = states(hosts["HV01"])
    journal, run_id = new_run(tmp_path, plan_for(("HV01",)))
    assert run(journal, run_id, hosts).state == "failed"
    pre = next(r for r in journal.steps(run_id, "HV01") if r.step == "preflight")
    assert pre.outcome == "failed" and "not applicable" in pre.evidence["summary"]
    assert steps(journal, run_id, "HV01") == {"preflight": "failed"}
    assert hosts["HV01"].calls["patch_drain"] == 0 and states(hosts["HV01"]) == before


def test_installer_reports_not_applicable(tmp_path):
    hosts = fake_site("HV01")
    hosts["HV01"].install_exit = 0x80240017
    before = states(hosts["HV01"])
    journal, run_id = new_run(tmp_path, plan_for(("HV01",)))
    assert run(journal, run_id, hosts).state == "failed"
    install = next(r for r in journal.steps(run_id, "HV01") if r.step == "install")
    assert install.outcome == "failed" and "not applicable" in install.evidence["meaning"]
    assert hosts["HV01"].boots == 0
    assert_put_back(journal, run_id, hosts["HV01"], before)


def test_package_on_host_with_the_wrong_hash_is_never_installed(tmp_path):
    hosts = fake_site("HV01")
    hosts["HV01"].files[PACKAGE_PATH.lower()] = "cd" * 32
    journal, run_id = new_run(tmp_path, plan_for(("HV01",)))
    assert run(journal, run_id, hosts).state == "failed"
    stage = next(r for r in journal.steps(run_id, "HV01") if r.step == "stage")
    assert stage.outcome == "failed" and "refusing to install" in stage.evidence["summary"]
    assert hosts["HV01"].calls["patch_install_start"] == 0 and hosts["HV01"].calls["patch_drain"] == 0


def test_preflight_problems_stop_the_host(tmp_path):
    hosts = fake_site("HV01")
    h = hosts["HV01"]
    h.is_admin, h.free_mb, h.vmms = False, 900, "Stopped"
    journal, run_id = new_run(tmp_path, plan_for(("HV01",)))
    assert run(journal, run_id, hosts).state == "failed"
    problems = next(r for r in journal.steps(run_id, "HV01") if r.step == "preflight").evidence["problems"]
    assert len(problems) == 3
    assert any("administrator" in p for p in problems) and any("900 MB free" in p for p in problems)
    assert any("vmms" in p for p in problems)


def test_a_failure_in_a_parallel_wave_starts_no_further_host(tmp_path):
    hosts = fake_site("HV01", "HV02", "HV03", "HV04")
    hosts["HV02"].is_admin = False          # fails at preflight, at once
    journal, run_id = new_run(tmp_path, plan_for(("HV01",), ("HV02", "HV03", "HV04"), parallel=2))
    result = run(journal, run_id, hosts)
    assert result.state == "failed" and "HV02" in result.reason
    # HV03 was already under way beside HV02 and is finished, not abandoned half-drained.
    report = {h["host"]: h["status"] for h in build_report(journal, run_id)["hosts"]}
    assert report["HV02"] == "failed" and report["HV04"] == "not started"
    assert report["HV03"] in ("verified", "not started")


def test_pilot_with_a_critical_finding_fails_the_gate(tmp_path):
    hosts = fake_site("HV01", "HV02")
    vm = next(v for v in hosts["HV01"].vms.values() if v.state == "Running")
    hosts["HV01"].critical_vm = vm.id       # restored fine, then RunningCritical during the soak
    journal, run_id = new_run(tmp_path, plan_for(("HV01",), ("HV02",), soak_minutes=5))
    result = run(journal, run_id, hosts)
    assert result.state == "failed" and "health gate" in result.reason, result.reason
    s = steps(journal, run_id, "HV01")
    assert s["restore"] == "ok" and s["postcheck"] == "ok" and s["soak"] == "failed"
    soak = next(r for r in journal.steps(run_id, "HV01") if r.step == "soak")
    assert any(f["kind"] == "vm-critical-state" and f["vm_id"] == vm.id for f in soak.evidence["findings"])
    assert journal.steps(run_id, "HV02") == []
    assert build_report(journal, run_id)["hosts"][0]["status"] == "failed"


def test_a_stale_result_of_another_journal_with_the_same_run_id_is_not_taken(tmp_path):
    hosts = fake_site("HV01")
    hosts["HV01"].install_exit = 0x800F0922
    old, old_id = new_run(tmp_path / "old", plan_for(("HV01",)))
    assert run(old, old_id, hosts).state == "failed"
    # The journal is lost; a new one numbers its runs from 1 again.
    hosts["HV01"].install_exit = 3010
    journal, run_id = new_run(tmp_path / "new", plan_for(("HV01",)))
    assert run_id == old_id
    assert run(journal, run_id, hosts).state == "done"
    assert hosts["HV01"].install_starts == 2
