"""Hostile names stay data everywhere: a host called ``<script>alert(1)</script>`` with a
VM called ``a'; Stop-Computer -Force; '`` is patched through the real scripts (the VM is
addressed by id, its name never reaches a script as code), journalled verbatim, and shown
escaped in the HTML report."""

from __future__ import annotations

import pytest

from hvconsole.core.patch.report import build_report, render_html
from hvconsole.site import site_for_served
from hvconsole.sim.model.clock import SimClock
from hvconsole.sim.scenarios.patch import PatchHost, PatchScenario
from hvconsole.sim.serve import serve_site
from test_patch_support import FAST, LATENCY_SCALE, Site, ground_truth, run_plan, scenario_plan, snapshot

pytestmark = pytest.mark.slow   # a whole patch run: run first (tests/conftest.py)

EVIL_HOST = "<script>alert(1)</script>"
EVIL_VM = "a'; Stop-Computer -Force; '"


def test_hostile_host_and_vm_names(tmp_path):
    scenario = PatchScenario("hostile", "a host and a VM with hostile names", (PatchHost(EVIL_HOST),), ())
    sim_site = scenario.build(clock=SimClock(speed=FAST))
    vm = sim_site.host(EVIL_HOST).vms[0]
    vm.name = EVIL_VM
    served = serve_site(sim_site, latency_scale=LATENCY_SCALE)
    try:
        site = Site(served, site_for_served(served, description="hostile").directory(), scenario)
        journal, run_id, result = run_plan(site, scenario_plan(scenario, (EVIL_HOST,)), tmp_path / "j.sqlite")
        assert result.state == "done", result.reason
        after = snapshot(site.directory, EVIL_HOST)
        assert ground_truth(site, EVIL_HOST)["installs"] == 1
    finally:
        served.stop()
    assert after.vm_by_id(vm.id).name == EVIL_VM and after.vm_by_id(vm.id).state == "Running"
    drain = next(r for r in journal.steps(run_id, EVIL_HOST) if r.step == "drain")
    assert {"id": vm.id, "action": "save", "destination": None} in drain.intent["actions"]
    assert any(v["name"] == EVIL_VM for v in drain.intent["vms"])
    page = render_html(build_report(journal, run_id))
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "a&#x27;; Stop-Computer -Force; &#x27;" in page
