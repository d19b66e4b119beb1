"""The engine against in-memory hosts: the whole flow, the journal it writes, waves, the
soak gate, a second reboot, hosts already compliant, hostile names, pause and cancel."""

from __future__ import annotations

import threading

from hvconsole.core.patch.report import build_report, render_html
from hvconsole.core.patch.steps import STEPS, prior_vm_states
from hvconsole.patch.control import request
from test_engine_fakes import EVIL_VM, FakeHost, fake_site, new_run, plan_for, run


def outcomes(journal, run_id, host):
    return [(r.step, r.outcome) for r in journal.steps(run_id, host)]


def test_pilot_and_production_run_to_a_verified_report(tmp_path):
    hosts = fake_site("HV01", "HV02", "HV03")
    plan = plan_for(("HV01",), ("HV02", "HV03"), parallel=2)
    journal, run_id = new_run(tmp_path, plan)
    before = {n: {v.id: v.state for v in h.vms.values()} for n, h in hosts.items()}
    events = []
    result = run(journal, run_id, hosts, events=events)
    assert result.state == "done", result.reason
    report = build_report(journal, run_id)
    assert report["summary"] == {"hosts": 3, "verified": 3, "failed": 0}
    for name, host in hosts.items():
        assert [s for s, o in outcomes(journal, run_id, name) if s in STEPS] == list(STEPS)
        assert all(o == "ok" for s, o in outcomes(journal, run_id, name))
        assert host.install_starts == 1 and host.boots == 1 and host.calls["patch_reboot"] == 1
        assert host.calls["patch_cleanup"] == 1 and not host._tasks     # the install task is gone
        assert (host.build, host.ubr, host.pending) == (20348, 3695, False)
        assert {v.id: v.state for v in host.vms.values()} == before[name]
    # The soak ran on the pilot only, after its maintenance ended and before production.
    soak = [r for r in journal.steps(run_id, "HV01") if r.step == "soak"]
    assert [r.outcome for r in soak] == ["ok"]
    first_prod = min(r.id for r in journal.steps(run_id) if r.host != "HV01")
    assert soak[0].id < first_prod
    assert not [r for r in journal.steps(run_id, "HV02") if r.step == "soak"]
    # Prior states come from the drain intent: the Off VM stays off, the others run again.
    prior = prior_vm_states(journal.steps(run_id, "HV01"))
    assert sorted(p.state for p in prior.values()) == ["Off", "Running", "Running", "Running"]
    assert any(e.step == "drain" and e.phase == "ok" and e.host == "HV01" for e in events)


def test_evidence_for_the_report(tmp_path):
    hosts = fake_site("HV01")
    journal, run_id = new_run(tmp_path, plan_for(("HV01",)))
    assert run(journal, run_id, hosts).state == "done"
    h = build_report(journal, run_id)["hosts"][0]
    assert (h["build_before"], h["build_after"], h["install_exit_code"]) == ("20348.3692", "20348.3695", 3010)
    assert h["package_sha256"] == "ab" * 32
    assert {c["check"]: c["passed"] for c in h["checks"]}["build at target"] is True
    assert h["last_boot_after"] > h["last_boot_before"]
    assert {v["state"] for v in h["vms_after"]} == {"Running", "Off"}


def test_second_reboot_when_the_first_leaves_it_pending(tmp_path):
    hosts = fake_site("HV01")
    hosts["HV01"].reboots_needed = 2
    journal, run_id = new_run(tmp_path, plan_for(("HV01",)))
    assert run(journal, run_id, hosts).state == "done"
    assert hosts["HV01"].boots == 2 and hosts["HV01"].calls["patch_reboot"] == 2
    reboot = journal.last_ok(run_id, "HV01", "reboot")
    assert reboot.evidence["restarts_seen"] == 2 and reboot.evidence["pending_after"] is False


def test_host_already_at_target_is_verified_without_being_touched(tmp_path):
    hosts = fake_site("HV01", "HV02")
    hosts["HV02"].ubr = 3695
    journal, run_id = new_run(tmp_path, plan_for(("HV01",), ("HV02",)))
    assert run(journal, run_id, hosts).state == "done"
    steps = dict(outcomes(journal, run_id, "HV02"))
    assert steps == {"preflight": "ok", "stage": "skipped", "maintenance-on": "skipped", "drain": "skipped",
                     "install": "skipped", "reboot": "skipped", "verify": "ok", "restore": "skipped",
                     "postcheck": "ok", "maintenance-off": "skipped"}
    assert hosts["HV02"].calls["patch_drain"] == 0 and hosts["HV02"].boots == 0
    assert build_report(journal, run_id)["hosts"][1]["status"] == "verified"


def test_installer_says_already_installed_and_nothing_is_pending(tmp_path):
    hosts = fake_site("HV01")
    host = hosts["HV01"]
    host.install_exit = 0x00240006
    journal, run_id = new_run(tmp_path, plan_for(("HV01",)))
    result = run(journal, run_id, hosts)
    # Nothing pending and the build still below target: no reboot, and not proven fixed.
    assert dict(outcomes(journal, run_id, "HV01"))["reboot"] == "skipped"
    assert host.boots == 0
    assert result.state == "failed" and dict(outcomes(journal, run_id, "HV01"))["verify"] == "failed"
    assert all(v.state in ("Running", "Off") for v in host.vms.values())     # put back


def test_hostile_names_stay_data(tmp_path):
    evil_host = "<script>alert(1)</script>"
    hosts = {evil_host: FakeHost(evil_host)}
    vm = hosts[evil_host].add_vms((EVIL_VM, "Running"))[0]
    hosts[evil_host].files[next(iter(fake_site("X")["X"].files))] = "ab" * 32
    seen_params = []
    hosts[evil_host].on_call = lambda script, params: seen_params.append(params)
    journal, run_id = new_run(tmp_path, plan_for((evil_host,)))
    assert run(journal, run_id, hosts).state == "done"
    # Scripts address VMs by id only: the name never travels to the host.
    assert all(EVIL_VM not in str(p) for p in seen_params)
    assert any(vm.id in str(p) for p in seen_params)
    drain = next(r for r in journal.steps(run_id, evil_host) if r.step == "drain")
    assert drain.intent["vms"][0]["name"] == EVIL_VM
    page = render_html(build_report(journal, run_id))
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert "a&#x27;; Stop-Computer -Force; &#x27;" in page


def test_pause_holds_the_run_between_steps_and_continue_resumes(tmp_path):
    hosts = fake_site("HV01")
    journal, run_id = new_run(tmp_path, plan_for(("HV01",)))
    paused = threading.Event()

    def pause_at_drain(script, params):
        if script == "patch_drain":
            request(journal, run_id, "pause")
            paused.set()
    hosts["HV01"].on_call = pause_at_drain
    events = []
    worker = threading.Thread(target=lambda: events.append(run(journal, run_id, hosts)))
    worker.start()
    assert paused.wait(30)
    # The drain finishes; the install does not start while paused.
    deadline = threading.Event()
    for _ in range(50):
        if journal.last_ok(run_id, "HV01", "drain"):
            break
        deadline.wait(0.05)
    deadline.wait(0.3)
    assert hosts["HV01"].calls["patch_install_start"] == 0
    assert journal.run(run_id).state == "paused"
    request(journal, run_id, "continue")
    worker.join(30)
    assert not worker.is_alive() and events[0].state == "done"


def test_cancel_puts_the_drained_host_back(tmp_path):
    hosts = fake_site("HV01", "HV02")
    journal, run_id = new_run(tmp_path, plan_for(("HV01",), ("HV02",)))

    def cancel_at_drain(script, params):
        if script == "patch_drain":
            request(journal, run_id, "cancel")
    hosts["HV01"].on_call = cancel_at_drain
    result = run(journal, run_id, hosts)
    assert result.state == "cancelled" and journal.run(run_id).state == "cancelled"
    steps = outcomes(journal, run_id, "HV01")
    assert ("install", "cancelled") in steps and ("restore", "ok") in steps and ("maintenance-off", "ok") in steps
    assert hosts["HV01"].install_starts == 0
    assert all(v.state == ("Off" if v.name.endswith("OFF") else "Running") for v in hosts["HV01"].vms.values())
    assert journal.steps(run_id, "HV02") == []
    assert build_report(journal, run_id)["hosts"][0]["status"] == "cancelled"
