"""The planning service against in-memory hosts (test_engine_fakes.FakeHost answering the
real patch script contract through PatchHost): draft → plan, survey, compliance, package
checks, pre-flight and the review the admin confirms."""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path
from typing import Any

import pytest

from hvconsole.core.catalog import Catalog, parse_catalog
from hvconsole.core.patch.plan import PatchPlan, PlanError, VmHandling
from hvconsole.patch.host_api import PatchHost
from hvconsole.patch.planning import (HOST_INSTALL_MIN, SHUTDOWN_BOOT_MIN, PlanDraft, PlanningService, build_plan,
                                      hash_file)
from test_engine_fakes import GOOD_SHA, KB, PACKAGE_PATH, FakeHost

GB = 1024.0


def catalog(sha: str | None = GOOD_SHA, file: str = "windows10.0-kb5061906-x64.msu") -> Catalog:
    updates, problems = parse_catalog({"schema": "hvconsole.catalog/1", "updates": [{
        "kb": KB, "title": "the fix", "released": "2025-05-23", "kind": "OOB",
        "targets": [{"product": "Windows Server 2022", "build": 20348, "min_ubr": 3695, "track": "standard"}],
        "packages": [{"file": file, "sha256": sha}]}]}, "test")
    assert not problems
    return Catalog(tuple(updates))


class FakeDirectory:
    """What the service needs of a HostDirectory, over FakeHosts."""

    def __init__(self, *hosts: FakeHost):
        self.hosts = {h.name: h for h in hosts}
        self.speed = 1000.0
        self.description = "the fake site"
        self.asked: list[str] = []

    def names(self) -> list[str]:
        return list(self.hosts)

    def target(self, name: str) -> Any:
        return self.hosts[self._key(name)]

    def collector(self, name: str) -> FakeHost:
        return self.hosts[self._key(name)]

    def patch_host(self, name: str, cancel: Any = None) -> PatchHost:
        h = self.hosts[self._key(name)]
        self.asked.append(h.name)
        return PatchHost(h.name, h, h, cancel=cancel)

    def _key(self, name: str) -> str:
        for n in self.hosts:
            if n.casefold() == name.casefold():
                return n
        raise KeyError(f"no host {name!r}")


def site() -> FakeDirectory:
    hv1, hv2, hv3 = FakeHost("HV01"), FakeHost("HV02"), FakeHost("HV03", ubr=3695)
    hv1.add_vms(("SQL01", "Running"), ("WEB01", "Running"), ("OLD01", "Off"))
    hv2.add_vms(("DC02", "Running"))
    for h in (hv1, hv2, hv3):
        h.files[PACKAGE_PATH.lower()] = GOOD_SHA
    for vm in hv1.vms.values():
        vm_memory[vm.id] = 8 * GB if vm.name == "SQL01" else 2 * GB
    return FakeDirectory(hv1, hv2, hv3)


vm_memory: dict[str, float] = {}


@pytest.fixture(autouse=True)
def _memory(monkeypatch):
    """FakeHost's snapshots carry no assigned memory; give its VMs some."""
    import dataclasses

    original = FakeHost.poll

    def poll(self, cancel=None):
        snap = original(self, cancel)
        if not snap.reachable:
            return snap
        return dataclasses.replace(snap, vms=tuple(dataclasses.replace(v, memory_assigned_mb=vm_memory.get(v.id))
                                                   for v in snap.vms))
    monkeypatch.setattr(FakeHost, "poll", poll)


# -- draft -> plan ----------------------------------------------------------------------------

def test_a_draft_becomes_the_plan_with_the_catalog_defaults():
    draft = PlanDraft(kb=" kb5061906 ", pilot=["HV01"], waves=[("production", ["HV02", " "]), ("empty", [])],
                      parallel=2, confirm_promotion=True, soak_minutes=5)
    plan = build_plan(draft, catalog())
    assert plan.kb == KB and [w.name for w in plan.waves] == ["pilot", "production"]
    assert plan.waves[1].hosts == ("HV02",) and plan.waves[1].parallel == 2 and plan.pilot.parallel == 1
    assert plan.package.kind == "on-host" and plan.package.location == PACKAGE_PATH
    assert plan.confirm_promotion and plan.gate.soak_minutes == 5
    assert PatchPlan.from_dict(plan.to_dict()) == plan


@pytest.mark.parametrize("draft,words", [
    (PlanDraft(), "choose the update"),
    (PlanDraft(kb="KB0000001", pilot=["HV01"]), "not in the update catalog"),
    (PlanDraft(kb=KB), "pilot host"),
    (PlanDraft(kb=KB, pilot=["HV01"], waves=[("p", ["hv01"])]), "more than one wave"),
    (PlanDraft(kb=KB, pilot=["HV01"], sha256="abc"), "64 hexadecimal"),
    (PlanDraft(kb=KB, pilot=["HV01"], package_kind="smb-push"), "choose the package file"),
    (PlanDraft(kb=KB, pilot=["HV01"], package_kind="url"), "not 'url'"),
])
def test_a_draft_that_cannot_be_a_plan_says_why(draft, words):
    with pytest.raises(PlanError, match=words):
        build_plan(draft, catalog())


def test_a_local_package_that_does_not_exist_is_refused_when_the_plan_is_made(tmp_path):
    missing = tmp_path / "nope.msu"
    with pytest.raises(PlanError, match="does not exist"):
        build_plan(PlanDraft(kb=KB, pilot=["HV01"], package_kind="smb-push", package_location=str(missing)),
                   catalog())
    with pytest.raises(PlanError, match="is not a file"):
        build_plan(PlanDraft(kb=KB, pilot=["HV01"], package_kind="smb-push", package_location=str(tmp_path)),
                   catalog())
    missing.write_bytes(b"x")
    plan = build_plan(PlanDraft(kb=KB, pilot=["HV01"], package_kind="smb-push", package_location=str(missing)),
                      catalog())
    assert plan.package.location == str(missing.resolve())


# -- survey and compliance --------------------------------------------------------------------

def test_survey_compliance_and_hosts_needing():
    service = PlanningService(site(), catalog())
    snaps = service.survey(["HV01", "hv02", "HV03", "HV09"])
    assert set(snaps) == {"HV01", "HV02", "HV03", "HV09"}
    assert not snaps["HV09"].reachable and "not in the fake site" in snaps["HV09"].error.message
    assert service.hosts_needing(KB, snaps) == ["HV01", "HV02"]
    rows = {c.host: c.status for c in service.compliance(snaps, KB)}
    assert rows == {"HV01": "needs-update", "HV02": "needs-update", "HV03": "compliant", "HV09": "unknown"}


# -- package ----------------------------------------------------------------------------------

def test_local_package_hash_with_progress_and_catalog_comparison(tmp_path):
    data = b"package bytes " * 200_000        # several chunks
    pkg = tmp_path / "windows10.0-kb5061906-x64.msu"
    pkg.write_bytes(data)
    good = hashlib.sha256(data).hexdigest()
    seen: list[tuple[int, int]] = []
    check = PlanningService(site(), catalog(sha=good)).check_package(
        PlanDraft(kb=KB, pilot=["HV01"], package_kind="smb-push", package_location=str(pkg)),
        progress=lambda done, total: seen.append((done, total)))
    assert check.ok and check.sha256 == good and check.size == len(data), check.message
    assert len(seen) > 2 and seen[-1] == (len(data), len(data)) and all(t == len(data) for _, t in seen)

    wrong = PlanningService(site(), catalog(sha="cd" * 32)).check_package(
        PlanDraft(kb=KB, pilot=["HV01"], package_kind="smb-push", package_location=str(pkg)))
    assert not wrong.ok and "not the package the catalog names" in wrong.message and wrong.sha256 == good

    gone = PlanningService(site(), catalog()).check_package(
        PlanDraft(kb=KB, pilot=["HV01"], package_kind="smb-push", package_location=str(tmp_path / "x.msu")))
    assert not gone.ok and "does not exist" in gone.message


def test_hashing_stops_when_cancelled(tmp_path):
    pkg = tmp_path / "big.msu"
    pkg.write_bytes(b"\0" * (5 * 1024 * 1024))
    cancel = threading.Event()

    def progress(done: int, total: int) -> None:
        cancel.set()          # the admin pressed Cancel after the first chunk
    check = PlanningService(site(), catalog()).check_package(
        PlanDraft(kb=KB, pilot=["HV01"], package_kind="smb-push", package_location=str(pkg)), progress, cancel)
    assert not check.ok and "cancelled" in check.message
    assert hash_file(pkg)[0] == hashlib.sha256(pkg.read_bytes()).hexdigest()


def test_a_package_on_the_hosts_is_checked_on_every_host():
    directory = site()
    service = PlanningService(directory, catalog())
    draft = PlanDraft(kb=KB, pilot=["HV01"], waves=[("prod", ["HV02"])])
    ok = service.check_package(draft)
    assert ok.ok and ok.sha256 == GOOD_SHA and sorted(directory.asked) == ["HV01", "HV02"], ok.message
    directory.hosts["HV02"].files.clear()
    directory.hosts["HV01"].files[PACKAGE_PATH.lower()] = "ef" * 32
    bad = service.check_package(draft)
    assert not bad.ok and "HV02: " in bad.message and "is not there" in bad.message
    assert "HV01: SHA-256 " + "ef" * 32 in bad.message
    outside = service.check_package(PlanDraft(kb=KB, pilot=["HV01"], package_location="D:\\pkg.msu"))
    assert not outside.ok and "C:\\hvconsole\\" in outside.message


# -- pre-flight -------------------------------------------------------------------------------

def test_preflight_reads_and_judges_without_changing_anything():
    directory = site()
    directory.hosts["HV02"].is_admin = False
    service = PlanningService(directory, catalog())
    draft = PlanDraft(kb=KB, pilot=["HV01"], waves=[("prod", ["HV02"])])
    good = service.preflight(draft, "HV01")
    assert not good.blocked and (good.build, good.ubr, good.target) == (20348, 3692, "20348.3695")
    blocked = service.preflight(draft, "HV02")
    assert blocked.blocked and any("not a local administrator" in p for p in blocked.problems)
    calls = directory.hosts["HV01"].calls
    assert set(calls) == {"patch_preflight"} and directory.hosts["HV01"].install_starts == 0
    unknown = service.preflight(draft, "HV09")
    assert unknown.blocked and unknown.error and "HV09" in unknown.error
    directory.hosts["HV01"]._phase = "down"
    down = service.preflight(draft, "HV01")
    assert down.blocked and "refused" in down.error


# -- review -----------------------------------------------------------------------------------

def test_review_lists_actions_per_host_downtime_and_notice():
    directory = site()
    hv1 = directory.hosts["HV01"]
    sql = next(v for v in hv1.vms.values() if v.name == "SQL01")
    web = next(v for v in hv1.vms.values() if v.name == "WEB01")
    service = PlanningService(directory, catalog())
    draft = PlanDraft(kb=KB, pilot=["HV01"], waves=[("prod", ["HV02"])], confirm_promotion=True,
                      vm_overrides={web.id.upper(): VmHandling("shutdown")}, contact="ops@example.org")
    review = service.review(draft, service.survey(["HV01"]))       # HV02 is polled by the review
    plan = build_plan(draft, catalog())
    assert service.review(plan, {}, contact="ops@example.org").actions == review.actions
    assert review.ready, review.problems
    actions = review.actions["HV01"]
    assert "saves 1 VM (SQL01)" in actions and "shuts down 1 VM (WEB01)" in actions
    assert actions.index("saves 1 VM (SQL01)") < actions.index(f"installs {KB} from {PACKAGE_PATH}")
    assert actions[-1].startswith("checks the host's health")
    assert any("promote" in a for a in review.run_actions)
    # the wizard's word for the first wave, in the run as a whole too
    assert review.run_actions[0] == "test ring: HV01" and "watches the test ring" in review.run_actions[1]
    assert not any("pilot" in a for a in review.run_actions)
    reboot = 10.0
    assert review.downtime_minutes[sql.id] == pytest.approx(8 + HOST_INSTALL_MIN + reboot)
    assert review.downtime_minutes[web.id] == pytest.approx(SHUTDOWN_BOOT_MIN + HOST_INSTALL_MIN + reboot)
    assert "host:HV01" in review.downtime_minutes and "host:HV02" in review.downtime_minutes
    off = next(v for v in hv1.vms.values() if v.name == "OLD01")
    assert off.id not in review.downtime_minutes
    assert "ops@example.org" in review.notice and "SQL01" in review.notice
    assert {c.host for c in review.compliance} == {"HV01", "HV02"}
    assert {v.name for v in review.affected_vms} == {"SQL01", "WEB01", "OLD01", "DC02"}


def test_review_problems_stop_the_plan(tmp_path):
    directory = site()
    directory.hosts["HV02"]._phase = "down"
    service = PlanningService(directory, catalog())
    pkg = tmp_path / "p.msu"
    pkg.write_bytes(b"x")
    plan = build_plan(PlanDraft(kb=KB, pilot=["HV03"], waves=[("prod", ["HV02", "HV09"])], package_kind="smb-push",
                                package_location=str(pkg), vm_default=VmHandling("live-migrate", "HV07")),
                      catalog())
    pkg.unlink()            # gone between planning and the review
    review = service.review(plan, {})
    text = "\n".join(review.problems)
    assert not review.ready
    assert "HV03 does not need" in text
    assert "HV02: cannot tell whether it needs" in text and "refused" in text
    assert "HV09 is not in the host inventory" in text
    assert "destination HV07 is not one of the hosts" in text
    assert "does not exist" in text
    skipped = service.review(plan, {}, check_compliance=False)
    assert not any("does not need" in p or "cannot tell" in p for p in skipped.problems)


def test_without_a_catalog_hash_the_hosts_must_agree():
    directory = site()
    service = PlanningService(directory, catalog(sha=None))
    draft = PlanDraft(kb=KB, pilot=["HV01"], waves=[("prod", ["HV02"])])
    same = service.check_package(draft)
    assert same.ok and same.sha256 == GOOD_SHA and "the catalog lists none" in same.message
    directory.hosts["HV02"].files[PACKAGE_PATH.lower()] = "ef" * 32
    differ = service.check_package(draft)
    assert not differ.ok and "differs between the hosts" in differ.message


def test_planned_live_migrations_go_to_the_preflight_script():
    directory = site()
    hv1 = directory.hosts["HV01"]
    seen: list = []
    hv1.on_call = lambda script, params: script == "patch_preflight" and seen.append(params)
    service = PlanningService(directory, catalog())
    draft = PlanDraft(kb=KB, pilot=["HV01"], vm_default=VmHandling("live-migrate", "HV03"))
    service.preflight(draft, "HV01")
    running = sorted(v.id for v in hv1.vms.values() if v.state == "Running")
    assert sorted(m["id"] for m in seen[-1]["live_migrations"]) == running
    assert {m["destination"] for m in seen[-1]["live_migrations"]} == {"HV03"}
    service.preflight(PlanDraft(kb=KB, pilot=["HV01"]), "HV01")      # saves: nothing to check
    assert seen[-1]["live_migrations"] == []
