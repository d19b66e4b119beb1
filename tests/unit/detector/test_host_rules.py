"""Host-level rules: unreachable (timeout vs refused, said plainly), polls that fail while
the host answers, a wedged VMMS, host events, and the host-wide correlation."""

from __future__ import annotations

from datetime import timedelta

import pytest

from .conftest import Run


@pytest.mark.parametrize("kind, words", [
    ("timeout", "nothing answers at all"),
    ("refused", "WinRM is not listening"),
])
def test_host_that_stops_answering_is_critical_and_says_how(run: Run, kind, words):
    h = run.site.host("HV01", vms=2)
    run.run(30)
    h.reachable, h.error_kind = False, kind
    run.run(60)
    [f] = run.critical()
    assert (f.kind, f.vm_id, f.host) == ("host-unreachable", None, "HV01")
    assert f.evidence[0].startswith("polls failing since 09:00:30Z")
    assert f.evidence[0].endswith(f"(7 polls, 30 s): 7 {kind}")
    assert words in f.evidence[1]
    assert "last answered at 09:00:25Z" in f.evidence
    # It stayed a warning for the first few polls: a short outage is not yet critical.
    assert [c.severity for c in run.changes if c.kind == "host-unreachable"][0] == "warning"


def test_a_single_lost_poll_is_nothing(run: Run):
    h = run.site.host("HV01", vms=2)
    run.run(30)
    for _ in range(3):
        h.reachable = False
        run.run(5)
        h.reachable = True
        run.run(30)
    assert run.detector.all() == []


def test_host_coming_back_ends_the_finding_and_tells_whether_it_rebooted(run: Run):
    h = run.site.host("HV01", vms=1)
    run.run(30)
    h.reachable = False
    run.run(120)
    h.reachable = True
    h.last_boot = run.site.now - timedelta(seconds=40)
    run.run(5)
    [f] = run.findings(kind="host-unreachable")
    assert not f.active
    assert "it rebooted meanwhile" in f.evidence[-1]


def test_host_that_never_answered_is_only_a_warning(run: Run):
    run.site.host("HV01", vms=1, reachable=False, error_kind="timeout")
    run.run(120)
    [f] = run.findings()
    assert (f.kind, f.severity) == ("host-unreachable", "warning")
    assert "has not answered once" in f.evidence[-1]



def test_auth_failures_mean_the_host_answers(run: Run):
    h = run.site.host("HV01", vms=1)
    run.run(20)
    h.reachable, h.error_kind = False, "auth"
    run.run(120)
    [f] = run.findings()
    assert (f.kind, f.severity) == ("host-poll-failing", "warning")
    assert "rejects the credentials" in f.evidence[1]


def test_wedged_vmms_is_critical(run: Run):
    h = run.site.host("HV01", vms=3)
    run.run(20)
    h.vm_query_ok = False
    run.run(10)
    assert run.detector.all() == []
    run.run(20)
    [f] = run.critical()
    assert (f.kind, f.vm_id) == ("vmms-unresponsive", None)
    assert "while vmms says Running" in f.evidence[0]
    assert "Get-VM timed out" in f.evidence[1]
    # The VM findings are not touched by a missing inventory: no VM "disappeared".
    assert run.findings(kind="heartbeat-lost") == []


def test_vmms_starting_after_boot_gets_a_grace_then_a_warning(run: Run):
    h = run.site.host("HV01", vms=1)
    run.run(20)
    h.vm_query_ok, h.vmms = False, "StartPending"
    run.run(60)
    assert run.detector.all() == []
    run.run(90)
    [f] = run.findings()
    assert (f.kind, f.severity) == ("vmms-not-running", "warning")


def test_several_vms_going_bad_together_make_one_host_finding(run: Run):
    h = run.site.host("HV01", vms=10)
    run.run(30)
    for name in ("HV01-VM01", "HV01-VM04", "HV01-VM07"):
        vm = h.vm(name)
        vm.heartbeat, vm.cpu = "LostCommunication", 0.0
    run.run(60)
    [wide] = run.findings(kind="host-wide-failure")
    assert (wide.severity, wide.vm_id, wide.vm_name) == ("critical", None, None)
    assert wide.evidence[0].startswith("3 of 10 running VMs on HV01 went bad within 0 s from 09:00:30Z")
    assert "HV01-VM01, HV01-VM04, HV01-VM07" in wide.evidence[0]
    # The per-VM findings stay: each tile keeps its own evidence.
    assert len(run.findings(kind="heartbeat-lost-cpu-flat")) == 3


def test_two_of_two_vms_is_host_wide_but_two_of_ten_is_not(site):
    small = site.host("SMALL", vms=2)
    big = site.host("BIG", vms=10)
    run = Run(site)
    run.run(30)
    for vm in list(small.vms.values()) + [big.vm("BIG-VM00"), big.vm("BIG-VM01")]:
        vm.heartbeat, vm.cpu = "LostCommunication", 0.0
    run.run(60)
    assert {f.host for f in run.findings(kind="host-wide-failure")} == {"SMALL"}


def test_vms_going_bad_far_apart_are_not_correlated(run: Run):
    h = run.site.host("HV01", vms=10)
    run.run(30)
    for name in ("HV01-VM01", "HV01-VM04", "HV01-VM07"):
        vm = h.vm(name)
        vm.heartbeat, vm.cpu = "LostCommunication", 0.0
        run.run(90)
    assert run.findings(kind="host-wide-failure") == []
    assert len(run.critical()) == 3


def test_host_events_are_warnings_with_the_event_text(run: Run):
    h = run.site.host("HV01", vms=1)
    run.run(10)
    h.event(run.site.now, 1230, log="System", provider="Microsoft-Windows-FailoverClustering",
            level="Error", message="A component on the server did not respond in a timely fashion.")
    h.event(run.site.now, 7031, log="System", provider="Service Control Manager", level="Error",
            message="The Hyper-V Virtual Machine Management service terminated unexpectedly.")
    run.run(10)
    cluster = run.findings(kind="cluster-failure-events")[0]
    crash = run.findings(kind="host-crash-events")[0]
    assert cluster.severity == crash.severity == "warning"
    assert cluster.evidence[0].startswith("System 1230 (FailoverClustering) at 09:00:10Z: A component")
    assert "Virtual Machine Management service terminated" in crash.evidence[0]
    run.run(700)  # event findings fade after event_active_s
    assert run.findings(active=True) == []


def test_the_same_event_delivered_twice_counts_once(run: Run):
    h = run.site.host("HV01", vms=1)
    run.run(10)
    at = run.site.now
    h.event(at, 1069, log="System", provider="Microsoft-Windows-FailoverClustering", level="Error")
    run.run(5)
    h.event(at, 1069, log="System", provider="Microsoft-Windows-FailoverClustering", level="Error")
    run.run(5)
    [f] = run.findings(kind="cluster-failure-events")
    assert len(f.evidence) == 1


def test_old_events_from_the_first_poll_are_not_news(run: Run):
    h = run.site.host("HV01", vms=1)
    h.event(run.site.now - timedelta(hours=2), 41, log="System", provider="Microsoft-Windows-Kernel-Power")
    run.run(30)
    assert run.detector.all() == []
