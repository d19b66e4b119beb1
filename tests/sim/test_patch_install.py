"""The simulated installer and reboots on a manual clock: install → reboot → build changes,
every install outcome (3010, 0, already installed, not applicable, servicing failure, a
damaged package, a missing one), a host that needs two reboots, one that never comes back,
and the wrapper's choice of exit code."""

from __future__ import annotations

import pytest
from patch_support import (PACKAGE, PACKAGE_PATH, RESULT_PATH, TASK, call, install_params, small_site,
                           status_params, step, vmms_up, wait_for)

from hvconsole.sim.model.installer import (EXIT_ALREADY_INSTALLED, EXIT_DISM_NOT_APPLICABLE, EXIT_FILE_CORRUPT,
                                     EXIT_NOT_APPLICABLE, EXIT_OK, EXIT_REBOOT_REQUIRED, EXIT_SERVICING_FAILURE,
                                     EXIT_WRAPPER_FAILED, InstallOutcome, select_exit_code)
from hvconsole.sim.model import SimSite
from hvconsole.sim.model.packages import corrupted, kb_of, package_bytes


def install_and_wait(site: SimSite, method: str = "auto", path: str = PACKAGE_PATH) -> tuple[dict, float]:
    """Start the install, poll every 15 s; the final status and how long it took (sim s)."""
    t0 = site.t
    assert call(site, "HV01", "patch_install_start", install_params(path, method))["state"] == "started"
    for _ in range(200):
        doc = call(site, "HV01", "patch_install_status", status_params())
        if doc["state"] == "done":
            return doc, site.t - t0
        assert doc["state"] == "running"
        step(site, 15)
    raise AssertionError("the install never finished")


def reboot_and_wait(site: SimSite) -> tuple[float, float]:
    """Schedule the patch reboot; (seconds until WinRM refused, seconds down)."""
    host = site.host("HV01")
    t0 = site.t
    call(site, "HV01", "patch_reboot", {"delay_s": 30, "comment": "test"})
    went = wait_for(site, lambda: host.reachability() == "down", 600, every_s=1.0)
    assert went is not None
    down_at = site.t
    back = wait_for(site, lambda: host.reachability() == "up", 3600, every_s=1.0)
    return down_at - t0, (site.t - down_at) if back is not None else float("inf")


def test_install_then_reboot_changes_the_build_only_after_the_reboot() -> None:
    site = small_site()
    host = site.host("HV01")
    boot_before = host.last_boot_t
    doc, took = install_and_wait(site)
    assert doc["exit_code"] == EXIT_REBOOT_REQUIRED and doc["method"] == "dism"
    assert 240 <= took <= 560                                  # minutes, not seconds
    assert [s["exit_code"] for s in doc["steps"]] == [0, 0, 3010]
    assert doc["started_at"] < doc["finished_at"] and doc["log"].count("\n") >= 6
    assert (host.ubr, host.pending_reboot, "KB5061906" in host.hotfixes) == (3692, True, True)
    assert any(e.kind.id == 19 for e in host.events)
    pre = call(site, "HV01", "patch_preflight", {"staging_dir": "C:\\hvconsole\\packages"})
    assert pre["pending_reboot"] and pre["pending_reboot_reasons"] == ["CBS", "PendingFileRename"]
    going, down = reboot_and_wait(site)
    assert 30 <= going <= 30 + 60 and 120 <= down <= 300        # a planned restart: 2-5 minutes away
    assert host.services(site.t)["vmms"] in ("Stopped", "StartPending")  # WinRM answers before vmms
    assert wait_for(site, lambda: vmms_up(host), 60, every_s=1.0) is not None
    assert (host.build, host.ubr, host.pending_reboot) == (20348, 3695, False)
    assert host.last_boot_t > boot_before and host.reboots == 1


def test_vms_follow_their_stop_and_start_actions_unless_the_console_saved_them() -> None:
    site = small_site()
    call(site, "HV01", "patch_drain", {"vms": [{"id": site.vm("A0").id, "action": "save"}]})
    install_and_wait(site)
    reboot_and_wait(site)
    wait_for(site, lambda: all(vm.state != "Starting" for vm in site.host("HV01").vms), 300)
    step(site, 60)
    states = {vm.name: vm.state for vm in site.host("HV01").vms}
    # A0 was saved by the console: StartIfRunning does not bring it back (hyperv-notes §8).
    # B0 (ShutDown) and E0 (TurnOff) were running when the host went down: they come back.
    assert states == {"A0": "Saved", "B0": "Running", "C0": "Off", "D0": "Saved", "E0": "Running"}


@pytest.mark.parametrize("outcome, method, result, steps", [
    (InstallOutcome(EXIT_OK), "auto", EXIT_OK, [0, 0, 0]),
    (InstallOutcome(EXIT_SERVICING_FAILURE), "auto", EXIT_SERVICING_FAILURE, [0, 0, EXIT_SERVICING_FAILURE]),
    (InstallOutcome(EXIT_NOT_APPLICABLE), "wusa", EXIT_NOT_APPLICABLE, [EXIT_NOT_APPLICABLE]),
    (InstallOutcome(EXIT_ALREADY_INSTALLED), "wusa", EXIT_ALREADY_INSTALLED, [EXIT_ALREADY_INSTALLED]),
    # Through the DISM route the wrapper's Select-ExitCode prefers expand's 0 over 0x00240006.
    (InstallOutcome(EXIT_ALREADY_INSTALLED), "dism", EXIT_OK, [0, EXIT_ALREADY_INSTALLED, EXIT_ALREADY_INSTALLED]),
])
def test_install_outcomes_from_scenario_data(outcome: InstallOutcome, method: str, result: int, steps: list[int]) -> None:
    site = small_site()
    host = site.host("HV01")
    host.patch.set_outcome("KB5061906", outcome)
    doc, _ = install_and_wait(site, method)
    assert doc["exit_code"] == result and [s["exit_code"] for s in doc["steps"]] == steps
    installed = outcome.exit_code in (EXIT_OK, EXIT_REBOOT_REQUIRED)
    assert host.pending_reboot is installed and ("KB5061906" in host.hotfixes) is installed
    if outcome.exit_code == EXIT_SERVICING_FAILURE:
        assert any(e.kind.id == 20 for e in host.events)


def test_the_installer_decides_like_windows_without_scenario_data() -> None:
    ws2025 = small_site(build=26100, ubr=4656)
    doc, took = install_and_wait(ws2025)
    assert doc["exit_code"] == EXIT_DISM_NOT_APPLICABLE and len(doc["steps"]) == 1 and took < 60
    ws2025 = small_site(build=26100, ubr=4656)
    assert install_and_wait(ws2025, "wusa")[0]["exit_code"] == EXIT_NOT_APPLICABLE
    fixed = small_site(ubr=3695)
    assert install_and_wait(fixed, "wusa")[0]["exit_code"] == EXIT_ALREADY_INSTALLED
    assert fixed.host("HV01").pending_reboot is False


def test_a_damaged_or_missing_package_fails_the_install() -> None:
    site = small_site()
    site.host("HV01").patch.stage(PACKAGE_PATH, corrupted(package_bytes(PACKAGE)))
    doc, took = install_and_wait(site)
    assert doc["exit_code"] == EXIT_FILE_CORRUPT and doc["steps"] == [{"cab": f"expand {PACKAGE}",
                                                                       "exit_code": EXIT_FILE_CORRUPT}]
    assert took < 30 and not site.host("HV01").pending_reboot
    site = small_site(staged=False)
    doc, _ = install_and_wait(site)
    assert doc["exit_code"] == EXIT_WRAPPER_FAILED and doc["steps"] == [] and "package not found" in doc["log"]
    assert doc["method"] == "auto"


def test_add_windowspackage_and_cab_are_one_step() -> None:
    site = small_site()
    doc, _ = install_and_wait(site, "add-windowspackage")
    assert doc["method"] == "add-windowspackage" and doc["steps"] == [{"cab": PACKAGE, "exit_code": 3010}]


def test_two_reboots_pending_after_the_first_build_after_the_second() -> None:
    site = small_site()
    host = site.host("HV01")
    host.patch.set_outcome("KB5061906", InstallOutcome(EXIT_REBOOT_REQUIRED, reboots=2))
    install_and_wait(site)
    reboot_and_wait(site)
    wait_for(site, lambda: vmms_up(host), 60)
    first = call(site, "HV01", "patch_preflight", {"staging_dir": "C:\\hvconsole\\packages"})
    assert (first["ubr"], first["pending_reboot"]) == (3692, True)
    reboot_and_wait(site)
    wait_for(site, lambda: vmms_up(host), 60)
    second = call(site, "HV01", "patch_preflight", {"staging_dir": "C:\\hvconsole\\packages"})
    assert (second["ubr"], second["pending_reboot"]) == (3695, False)
    assert second["last_boot"] > first["last_boot"] and host.reboots == 2


def test_a_host_that_does_not_come_back() -> None:
    site = small_site()
    host = site.host("HV01")
    host.patch.no_return = True
    install_and_wait(site)
    _, down = reboot_and_wait(site)
    assert down == float("inf") and host.reachability() == "down"
    step(site, 6 * 3600)
    assert host.reachability() == "down" and host.ubr == 3692


def test_a_reboot_during_the_install_kills_it_and_a_restart_installs_once() -> None:
    site = small_site()
    host = site.host("HV01")
    call(site, "HV01", "patch_install_start", install_params())
    step(site, 60)
    call(site, "HV01", "patch_reboot", {"delay_s": 10})
    wait_for(site, lambda: host.reachability() == "down", 600)
    wait_for(site, lambda: vmms_up(host), 3600)
    assert host.patch.drive.read(RESULT_PATH) is None and "KB5061906" not in host.hotfixes
    assert call(site, "HV01", "patch_install_status", status_params())["exit_code"] == 0x8007042B
    again, _ = install_and_wait(site)
    assert again["exit_code"] == EXIT_REBOOT_REQUIRED and host.hotfixes.count("KB5061906") == 1
    # Register-ScheduledTask -Force replaced the dead task: one run, one install in all.
    assert len(host.patch.installs) == 1 and host.patch.task(TASK).runs == 1


def test_select_exit_code_is_the_wrappers() -> None:
    ssu_na = ("SSU-20348.1-x64.cab", EXIT_DISM_NOT_APPLICABLE)
    assert select_exit_code((("expand a", 0), ssu_na, ("lcu.cab", 3010))) == 3010
    assert select_exit_code((("expand a", 0), ("SSU-x.cab", 0), ("lcu.cab", 0x800F0922))) == 0x800F0922
    assert select_exit_code((("lcu.cab", EXIT_DISM_NOT_APPLICABLE),)) == EXIT_DISM_NOT_APPLICABLE
    assert select_exit_code((ssu_na,)) == EXIT_DISM_NOT_APPLICABLE       # only an SSU: its code is all there is
    assert select_exit_code((("a.msu", 1641), ("b.cab", 0))) == 1641
    assert select_exit_code(()) == EXIT_WRAPPER_FAILED
    assert select_exit_code((("a.cab", 0),), wrapper_failed=True) == EXIT_WRAPPER_FAILED


def test_the_kb_comes_from_the_file_name() -> None:
    assert kb_of("windows10.0-kb5061906-x64.msu") == "KB5061906"
    assert kb_of("Windows11.0-KB5064489-x64.msu") == "KB5064489"
    assert kb_of("ssu.cab") is None
    assert package_bytes(PACKAGE) == package_bytes(PACKAGE.upper())
    assert package_bytes(PACKAGE) != package_bytes("windows10.0-kb5061907-x64.msu")
