"""Staging over real SMB: the simulated host's ``C:\\`` is the folder of a real Samba share
on loopback, so ``patch_stage_check`` hashes exactly the bytes the engine copied and the
simulated installer installs them. A partial copy from an earlier attempt is resumed, a
damaged file already on the host is replaced, a package that does not match the expected
SHA-256 is refused before anything is sent (and never installed)."""

from __future__ import annotations

import dataclasses
import shutil

import pytest

from hvconsole.core.patch.plan import PackageSource
from hvconsole.core.patch.report import build_report
from hvconsole.sim.model.packages import corrupted
from test_patch_support import FAST, ground_truth, run_plan, scenario_plan, scenario_site
from tests.support import samba

pytestmark = [pytest.mark.integration, pytest.mark.slow]   # slow: run first (tests/conftest.py)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    yield from samba.serve_for_tests(tmp_path_factory)


@pytest.fixture
def share(server):
    """The share's packages folder, with nothing from an earlier test (the share outlives tests)."""
    shutil.rmtree(server.share_dir / "hvconsole", ignore_errors=True)
    folder = server.share_dir / "hvconsole" / "packages"
    folder.mkdir(parents=True)
    return folder


def smb_run(server, tmp_path, *, sha256=None, prepare=None):
    with scenario_site("patch-ok", FAST) as site:
        scenario = site.scenario
        site.served.host("HV01").sim.patch.mount_folder(server.share_dir)
        local = tmp_path / scenario.package_file
        local.write_bytes(scenario.package())
        if prepare is not None:
            prepare(local.read_bytes())
        d = site.directory
        d.smb_server, d.smb_port, d.smb_credentials = "127.0.0.1", server.port, (server.user, server.password)
        plan = dataclasses.replace(scenario_plan(scenario, ("HV01",)),
                                   package=PackageSource("smb-push", str(local), sha256 or scenario.sha256))
        journal, run_id, result = run_plan(site, plan, tmp_path / "journal.sqlite")
        truth = ground_truth(site, "HV01")
    stage = [r for r in journal.steps(run_id, "HV01") if r.step == "stage"]
    return result, stage, truth, build_report(journal, run_id)


def test_partial_copy_is_resumed_then_installed(server, share, tmp_path):
    def partial(data):
        (share / "windows10.0-kb5061906-x64.msu.partial").write_bytes(data[:100_000])
    result, stage, truth, report = smb_run(server, tmp_path, prepare=partial)
    assert result.state == "done", result.reason
    ev = stage[-1].evidence
    assert stage[-1].outcome == "ok" and ev["resumed_from"] == 100_000
    assert ev["bytes_sent"] + ev["resumed_from"] == ev["size"] and ev["sha256"] == report["hosts"][0]["package_sha256"]
    # Proven on the host, installed, then removed by the clean-up (the result file stays).
    assert not (share / "windows10.0-kb5061906-x64.msu").exists()
    assert not (share / "windows10.0-kb5061906-x64.msu.partial").exists()
    assert list((share.parent / "results").glob("*.json"))
    assert truth == {"boots": 1, "restarts": 1, "installs": 1}
    assert report["hosts"][0]["status"] == "verified"


def test_damaged_file_on_the_host_is_replaced(server, share, tmp_path):
    def damaged(data):
        (share / "windows10.0-kb5061906-x64.msu").write_bytes(corrupted(data))
    result, stage, truth, report = smb_run(server, tmp_path, prepare=damaged)
    assert result.state == "done", result.reason
    assert stage[-1].intent["found"]["exists"] is True
    assert stage[-1].intent["found"]["sha256"] != stage[-1].evidence["sha256"]
    assert stage[-1].evidence["bytes_sent"] == stage[-1].evidence["size"]
    assert report["hosts"][0]["status"] == "verified"


def test_package_not_matching_the_expected_hash_is_refused(server, share, tmp_path):
    result, stage, truth, report = smb_run(server, tmp_path, sha256="0" * 64)
    assert result.state == "failed"
    assert stage[-1].outcome == "failed" and "refusing to stage it" in stage[-1].evidence["summary"]
    assert list(share.iterdir()) == []                       # nothing was sent
    assert truth == {"boots": 0, "restarts": 0, "installs": 0}
    assert report["hosts"][0]["status"] == "failed"
