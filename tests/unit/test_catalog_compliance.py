"""Update catalog loading (shipped + user entries, bad entries reported) and per-host
compliance decided from the running build, with KB lists as evidence only."""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime, timezone
from pathlib import Path

import pytest

from hvconsole.core import compliance as c
from hvconsole.core.catalog import CatalogError, load_catalog, parse_catalog
from hvconsole.core.snapshot import ClusterInfo, OsInfo, Snapshot, VmQuery, VmSample, unreachable

SHIPPED = Path(__file__).parents[2] / "resources" / "catalog" / "updates.json"
T0 = datetime(2026, 11, 25, 9, 0, tzinfo=timezone.utc)


CVM = VmSample(id="0f3e", name="CVM01", state="Running", confidential=True)


def snap(build=20348, ubr=3692, pending=False, hotfixes=("KB5058385",), vms=(CVM,), cluster=None) -> Snapshot:
    return Snapshot(host="HV01", polled_at=T0, reachable=True,
                    os=OsInfo(product="Windows Server 2022 Datacenter", build=build, ubr=ubr,
                              pending_reboot=pending, hotfixes=tuple(hotfixes)),
                    vm_query=VmQuery(ok=True), vms=tuple(vms), cluster=cluster)


@pytest.fixture(scope="module")
def catalog():
    cat = load_catalog(SHIPPED)
    assert cat.problems == ()
    return cat


def test_shipped_catalog_has_the_hyperv_oob_fixes(catalog):
    kb = catalog.get("kb5061906")
    assert kb.kind == "OOB" and kb.target_for(20348).version == "20348.3695"
    assert catalog.get("KB5064489").target_for(26100).min_ubr == 4656
    assert catalog.updates[0].released >= catalog.updates[-1].released  # newest first


@pytest.mark.parametrize(("kwargs", "status"), [
    (dict(ubr=3692), c.NEEDS_UPDATE),
    (dict(ubr=3695), c.COMPLIANT),
    (dict(ubr=3807), c.COMPLIANT),                      # a later cumulative update also fixes it
    (dict(ubr=3695, pending=True), c.COMPLIANT),
    (dict(ubr=3692, pending=True, hotfixes=("KB5061906",)), c.PENDING_REBOOT),
    (dict(ubr=3692, pending=True), c.NEEDS_UPDATE),     # pending for something else
    (dict(ubr=3692, hotfixes=("KB5061906",)), c.NEEDS_UPDATE),  # KB listed but build says no
    (dict(build=26100, ubr=4000), c.NOT_APPLICABLE),
])
def test_compliance_by_running_build(catalog, kwargs, status):
    result = c.assess("HV01", snap(**kwargs), catalog.get("KB5061906"))
    assert result.status == status
    assert result.running and result.running in result.reason


def test_unknown_when_unreachable_or_silent(catalog):
    kb = catalog.get("KB5061906")
    assert c.assess("HV01", None, kb).status == c.UNKNOWN
    down = unreachable("HV01", T0, "timeout", "no answer from HV01 within 30 s")
    r = c.assess("HV01", down, kb)
    assert r.status == c.UNKNOWN and "30 s" in r.reason
    blank = dataclasses.replace(snap(), os=OsInfo())
    assert c.assess("HV01", blank, kb).status == c.UNKNOWN


def test_hotpatch_track_is_compared_only_within_its_track(catalog):
    kb = catalog.get("KB5061906")
    assert c.assess("HV01", snap(ubr=9999), kb, track="hotpatch").status == c.NOT_APPLICABLE


def test_user_entries_extend_and_override(tmp_path):
    user = tmp_path / "catalog.d"
    user.mkdir()
    (user / "site.json").write_text(json.dumps({"schema": "hvconsole.catalog/1", "updates": [
        {"kb": "KB9999001", "title": "Next month's OOB", "released": "2026-11-20", "kind": "OOB",
         "targets": [{"product": "Windows Server 2022", "build": 20348, "min_ubr": 4400}],
         "packages": [{"file": "fix.msu", "sha256": "ab" * 32}]},
        {"kb": "KB5061906", "title": "override", "released": "2025-05-23", "kind": "OOB",
         "targets": [{"product": "Windows Server 2022", "build": 20348, "min_ubr": 3700}]},
        {"kb": "not-a-kb", "title": "x", "released": "2026-01-01", "targets": []},
        {"kb": "KB1234567", "title": "x", "released": "2026-01-01",
         "targets": [{"build": 20348, "min_ubr": 1}], "packages": [{"file": "..\\evil.msu"}]},
        {"kb": "KB1234568", "title": "x", "released": "2026-01-01", "kind": ["OOB"],
         "targets": [{"build": 20348, "min_ubr": 1, "track": {}}]},
    ]}))
    (user / "broken.json").write_text("{")
    cat = load_catalog(SHIPPED, user)
    assert cat.updates[0].kb == "KB9999001" and cat.updates[0].packages[0].sha256 == "ab" * 32
    assert cat.get("KB5061906").target_for(20348).min_ubr == 3700
    problems = [str(p) for p in cat.problems]
    assert any("updates[2]" in p and "KB1234567" in p for p in problems)
    assert any("updates[3]" in p and "bare file name" in p for p in problems)
    assert any("broken.json" in p for p in problems)
    assert any("updates[4]" in p and "kind" in p for p in problems)


def test_not_a_catalog():
    with pytest.raises(CatalogError, match="not a catalog"):
        parse_catalog({"updates": []}, "x.json")


# -- applicability (issue 11: Microsoft scopes some fixes narrowly) -------------------------

def _vm(name: str, confidential: bool | None) -> VmSample:
    return VmSample(id=name.lower(), name=name, state="Running", confidential=confidential)


def test_shipped_catalog_scopes_the_narrow_fixes(catalog):
    assert catalog.get("KB5061906").applies_if == ("confidential-vms",)
    assert catalog.get("KB5063877").applies_if == ("bitlocker-csvs",)
    assert catalog.get("KB5064489").applies_if == ()


def test_a_host_without_confidential_vms_does_not_need_kb5061906(catalog):
    kb = catalog.get("KB5061906")
    plain = c.assess("HV07", snap(vms=(_vm("SQL01", False), _vm("WEB01", False))), kb)
    assert plain.status == c.NOT_APPLICABLE and not plain.needs_action and plain.applies is False
    assert plain.reason.startswith("not applicable: no confidential VMs on this host")
    assert "20348.3692" in plain.reason and "hosts with confidential VMs" in plain.reason
    needs = c.assess("HV01", snap(vms=(_vm("SQL01", False), _vm("CVM01", True))), kb)
    assert needs.status == c.NEEDS_UPDATE and needs.applies is True
    assert "applies: 1 confidential VM(s) on this host: CVM01" in needs.reason
    # Already fixed: compliant whatever the VMs are.
    assert c.assess("HV02", snap(ubr=3695, vms=()), kb).status == c.COMPLIANT


def test_not_knowing_is_treated_as_applicable(catalog):
    kb = catalog.get("KB5061906")
    old = c.assess("HV01", snap(vms=(_vm("SQL01", None),)), kb)      # a host or recording without the fact
    assert old.status == c.NEEDS_UPDATE and old.applies is None
    assert "treated as applicable" in old.reason and "unknown" in old.reason
    wedged = dataclasses.replace(snap(vms=()), vm_query=VmQuery(ok=False, error="timeout"))
    assert c.assess("HV01", wedged, kb).status == c.NEEDS_UPDATE


def test_kb5063877_needs_a_cluster_with_bitlocker_csvs(catalog):
    kb = catalog.get("KB5063877")
    ws2019 = dict(build=17763, ubr=7558, hotfixes=("KB5062557",))
    standalone = c.assess("HV09", snap(**ws2019), kb)
    assert standalone.status == c.NOT_APPLICABLE and "not a failover-cluster node" in standalone.reason
    plain_csv = c.assess("HV09", snap(**ws2019, cluster=ClusterInfo("CL", "Up", "NotInitiated", bitlocker_csvs=0)), kb)
    assert plain_csv.status == c.NOT_APPLICABLE
    assert "no BitLocker-protected cluster shared volumes" in plain_csv.reason
    locked = c.assess("HV09", snap(**ws2019, cluster=ClusterInfo("CL", "Up", "NotInitiated", bitlocker_csvs=3)), kb)
    assert locked.status == c.NEEDS_UPDATE and "3 BitLocker-protected" in locked.reason
    unknown = c.assess("HV09", snap(**ws2019, cluster=ClusterInfo("CL")), kb)
    assert unknown.status == c.NEEDS_UPDATE and unknown.applies is None


def test_a_custom_entry_uses_the_same_vocabulary_and_typos_are_reported(tmp_path):
    user = tmp_path / "catalog.d"
    user.mkdir()
    (user / "next-oob.json").write_text(json.dumps({"schema": "hvconsole.catalog/1", "updates": [
        {"kb": "KB5099999", "title": "next OOB", "released": "2026-12-01", "kind": "OOB",
         "targets": [{"build": 20348, "min_ubr": 4500}], "applies_if": ["clustered-vms", "cluster-node"]},
        {"kb": "KB5099998", "title": "typo", "released": "2026-12-01", "kind": "OOB",
         "targets": [{"build": 20348, "min_ubr": 4500}], "applies_if": ["confidential-vm"]},
    ]}), encoding="utf-8")
    cat = load_catalog(SHIPPED, user)
    custom = cat.get("KB5099999")
    assert custom.applies_if == ("clustered-vms", "cluster-node")
    assert cat.get("KB5099998") is None
    [problem] = [p for p in cat.problems if "KB5099998" not in p.where and "applies_if" in p.where]
    assert "unknown condition 'confidential-vm'" in problem.problem and "confidential-vms" in problem.problem
    standalone = c.assess("HV01", snap(ubr=3692), custom)
    assert standalone.status == c.NOT_APPLICABLE and "not a failover-cluster node" not in standalone.reason
    assert "no clustered VMs on this host" in standalone.reason
