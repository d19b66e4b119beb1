"""The planning service against the simulated site through the real WinRM client and the
real patch_preflight / patch_stage_check scripts: what the wizard's pages and the CLI get
before a run, and that none of it changes a host."""

from __future__ import annotations

import threading

from hvconsole.patch.engine import load_site_catalog
from hvconsole.patch.planning import PlanDraft, PlanningService, build_plan
from test_patch_support import FAST, ground_truth, scenario_site, snapshot, vm_states


def test_survey_package_preflight_and_review_on_the_simulated_site():
    with scenario_site("patch-ok", FAST) as site:
        sc = site.scenario
        before = {h: (vm_states(snapshot(site.directory, h)), ground_truth(site, h)) for h in ("HV01", "HV02")}
        service = PlanningService(site.directory, load_site_catalog())
        snaps = service.survey()
        assert set(snaps) == {"HV01", "HV02"} and all(s.reachable for s in snaps.values())
        assert service.hosts_needing(sc.kb, snaps) == ["HV01", "HV02"]
        assert {c.status for c in service.compliance(snaps, sc.kb)} == {"needs-update"}

        draft = PlanDraft(kb=sc.kb, pilot=["HV01"], waves=[("production", ["HV02"])], sha256=sc.sha256,
                          package_location=sc.package_path)
        package = service.check_package(draft)
        assert package.ok and package.sha256 == sc.sha256, package.message
        wrong = service.check_package(PlanDraft(kb=sc.kb, pilot=["HV01"], package_location=sc.package_path,
                                                sha256="0" * 64))
        assert not wrong.ok and "HV01: SHA-256 " in wrong.message

        for host in ("HV01", "HV02"):
            pre = service.preflight(draft, host)
            assert not pre.blocked and pre.target and not pre.compliant, (pre.problems, pre.error)

        review = service.review(build_plan(draft, service.catalog), snaps)
        assert review.ready, review.problems
        assert review.actions["HV01"][-1].startswith("checks the host's health")
        assert any(a.startswith(("saves", "no running VM", "drains")) for a in review.actions["HV01"])
        assert f"host:HV02" in review.downtime_minutes and sc.kb in review.notice

        # A cancelled survey comes back at once, as data.
        cancel = threading.Event()
        cancel.set()
        assert all(not s.reachable for s in service.survey(cancel=cancel).values())

        after = {h: (vm_states(snapshot(site.directory, h)), ground_truth(site, h)) for h in ("HV01", "HV02")}
        assert after == before          # planning only reads
