"""The VM-query budget follows the poll deadline (core/poll_budget.py), so a wedged VMMS is
reported as what it is: ``vm_query.ok = false`` on a host that answered, not a poll
timeout that makes the host look unreachable.

The last test runs the window's own configuration end to end: the demo window's workers
(``app.demo_workers``: its deadline, the collector it builds and the budget that collector
sends) against the served demo site with the simulated hosts' real latencies."""

from __future__ import annotations

import re
import secrets

import pytest
from test_ps_scripts import body, code_only

from hvconsole.core.poll_budget import (DEFAULT_POLL_TIMEOUT_S, VM_QUERY_CAP_MS, VM_QUERY_MAX_MS, VM_QUERY_MIN_MS,
                                        vm_query_budget_ms)
from hvconsole.remote.collector import Collector
from hvconsole.remote.target import Target


@pytest.mark.parametrize("deadline_s", [0.5, 1, 3, 5, 10, 20, 30, 60, 120, 600])
def test_the_budget_stays_inside_the_script_clamp_and_below_the_deadline(deadline_s):
    budget = vm_query_budget_ms(deadline_s)
    assert VM_QUERY_MIN_MS <= budget <= min(VM_QUERY_CAP_MS, VM_QUERY_MAX_MS)
    if deadline_s >= 3:
        # Room for powershell.exe, the JSON and the round trips: at least 2.5 s, 30 %.
        assert deadline_s * 1000 - budget >= max(2500, 0.3 * deadline_s * 1000)


def test_a_longer_deadline_never_shortens_the_budget():
    budgets = [vm_query_budget_ms(s / 2) for s in range(1, 400)]
    assert budgets == sorted(budgets)


def test_the_default_budget_is_the_one_for_the_window_deadline():
    assert vm_query_budget_ms() == vm_query_budget_ms(DEFAULT_POLL_TIMEOUT_S) == 7000
    # A long deadline keeps the 15 s a healthy Get-VM needs at most, not more.
    assert vm_query_budget_ms(30.0) == vm_query_budget_ms(60.0) == 15000


def test_collect_ps1_defaults_to_the_budget_of_the_default_deadline():
    found = re.findall(r"Get-IntParam \$params\.vm_query_timeout_ms (\d+) (\d+) (\d+)", code_only(body("collect")))
    assert found == [(str(vm_query_budget_ms()), str(VM_QUERY_MIN_MS), str(VM_QUERY_MAX_MS))]


@pytest.mark.parametrize("deadline_s", [10.0, 30.0, 60.0])
def test_a_collector_derives_its_budget_from_its_deadline(deadline_s):
    target = Target(name="HV-BUDGET", url="http://127.0.0.1:1/wsman", username="u",
                    password=secrets.token_urlsafe(16), transport="plaintext")
    assert Collector(target, timeout_s=deadline_s).vm_query_timeout_ms == vm_query_budget_ms(deadline_s)
    assert Collector(target, timeout_s=deadline_s, vm_query_timeout_ms=900).vm_query_timeout_ms == 900


@pytest.mark.slow
def test_a_wedged_vmms_is_a_failed_vm_query_with_the_window_configuration(monkeypatch):
    from hvconsole import app
    from hvconsole.sim import serve

    # The hosts' own latencies, whatever the suite set to speed other tests up: the point
    # is how the simulated Get-VM wait compares with the window's real deadline.
    monkeypatch.delenv(serve.LATENCY_SCALE_ENV, raising=False)
    served = serve.start_demo(site=app.DEMO_SITE_NAME, speed=1.0)
    workers = []
    try:
        workers = app.demo_workers(served)
        worker = next(w for w in workers if w.name == served.hosts[0].name)
        served.hosts[0].sim.wedge_vmms()

        result = worker.poll_once()

        snap = result.snapshot
        assert snap.reachable and snap.error is None, snap.error
        assert snap.vm_query is not None and not snap.vm_query.ok
        budget = vm_query_budget_ms(app.DEMO_POLL_TIMEOUT_S)
        assert snap.vm_query.error == f"timeout after {budget} ms"
        assert snap.vm_query.elapsed_ms >= budget
        assert result.poll_ms < app.DEMO_POLL_TIMEOUT_S * 1000
        assert result.host_row.reachable and result.host_row.vm_query_ok is False
    finally:
        for w in workers:
            w.close()
        served.stop()
