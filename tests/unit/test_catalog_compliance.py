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
from hvconsole.core.snapshot import OsInfo, Snapshot, unreachable

SHIPPED = Path(__file__).parents[2] / "resources" / "catalog" / "updates.json"
T0 = datetime(2026, 11, 25, 9, 0, tzinfo=timezone.utc)


def snap(build=20348, ubr=3692, pending=False, hotfixes=("KB5058385",)) -> Snapshot:
    return Snapshot(host="HV01", polled_at=T0, reachable=True,
                    os=OsInfo(product="Windows Server 2022 Datacenter", build=build, ubr=ubr,
                              pending_reboot=pending, hotfixes=tuple(hotfixes)))


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
