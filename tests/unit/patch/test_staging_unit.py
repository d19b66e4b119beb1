"""patch.staging on its own: where the package comes from and where it must be on the host
(``package_plan``), and every decision of the stage step: keep a verified copy, refuse a
package the host has with another hash, copy (replacing a wrong file), check the copy on
the host and remove it when it does not match, and what a cancel or a stop does. A fake
stager writes into the fake host's files, so each case runs in milliseconds."""

from __future__ import annotations

import dataclasses
import hashlib
import threading
from pathlib import Path

import pytest

from hvconsole.core.patch.plan import PackageSource
from hvconsole.core.patch.vocabulary import RunState, Step, StepOutcome
from hvconsole.patch.context import HostContext
from hvconsole.patch.control import request
from hvconsole.patch.engine import catalog_update
from hvconsole.patch.staging import STAGING_DIR, RunCancel, package_plan, stage
from hvconsole.patch.waiting import StopRequested
from hvconsole.remote.smb_stage import StageError, StageResult
from tests.unit.patch.test_engine_fakes import GOOD_SHA, KB, PACKAGE, PACKAGE_PATH, fake_site, plan_for
from tests.unit.patch.test_soak_unit import run_context


class FakeStager:
    """Copies ``local`` into the fake host's files (with ``lands_as`` as the hash the host
    then reads, to play a corrupted copy) or fails with ``error``."""

    def __init__(self, hosts, *, lands_as: str | None = None, error: str | None = None):
        self.hosts, self.lands_as, self.error = hosts, lands_as, error
        self.pushed: list[tuple[str, str, str | None]] = []
        self.removed: list[tuple[str, str]] = []

    def push(self, host, local: Path, expected_sha256, cancel=None) -> StageResult:
        self.pushed.append((host, local.name, expected_sha256))
        if self.error:
            raise StageError(self.error)
        data = local.read_bytes()
        sha = hashlib.sha256(data).hexdigest()
        self.hosts[host].files[f"{STAGING_DIR}\\{local.name}".lower()] = self.lands_as or sha
        return StageResult(unc_path=f"\\\\{host}\\C$\\hvconsole\\packages\\{local.name}",
                           host_path=f"{STAGING_DIR}\\{local.name}", size=len(data), sha256=sha,
                           bytes_sent=len(data), resumed_from=0, already_there=False)

    def remove(self, host, file_name) -> None:
        self.removed.append((host, file_name))
        self.hosts[host].files.pop(f"{STAGING_DIR}\\{file_name}".lower(), None)


@pytest.fixture
def local_package(tmp_path):
    local = tmp_path / PACKAGE
    local.write_bytes(b"the update" * 1000)
    return local, hashlib.sha256(local.read_bytes()).hexdigest()


def host_context(tmp_path, package: PackageSource, *, stager=None, host_file: str | None = GOOD_SHA):
    hosts = fake_site("HV01", vms=1)
    if host_file is None:
        hosts["HV01"].files.clear()
    else:
        hosts["HV01"].files[PACKAGE_PATH.lower()] = host_file
    plan = dataclasses.replace(plan_for(("HV01",)), package=package)
    run = run_context(tmp_path, plan, hosts, stager=stager(hosts) if stager else None)
    return HostContext(run, "HV01"), hosts["HV01"]


def stage_row(hc: HostContext):
    rows = [r for r in hc.records() if r.step == Step.STAGE]
    assert len(rows) == 1
    return rows[0]


# -- package_plan ---------------------------------------------------------------------

def test_an_on_host_package_is_used_where_it_is(tmp_path):
    hc, _ = host_context(tmp_path, PackageSource("on-host", PACKAGE_PATH, GOOD_SHA))
    pkg = package_plan(hc.run.plan, hc.run.update)
    assert (pkg.kind, pkg.host_path, pkg.file_name, pkg.local_path) == ("on-host", PACKAGE_PATH, PACKAGE, None)
    assert pkg.expected_sha256 == GOOD_SHA


def test_a_pushed_package_goes_to_the_staging_folder_under_its_own_name(tmp_path, local_package):
    local, sha = local_package
    hc, _ = host_context(tmp_path, PackageSource("smb-push", str(local), sha))
    pkg = package_plan(hc.run.plan, hc.run.update)
    assert pkg.host_path == f"{STAGING_DIR}\\{PACKAGE}" and pkg.local_path == local
    assert pkg.expected_sha256 == sha and pkg.size_mb is not None and pkg.size_mb > 0


def test_without_a_hash_in_the_plan_the_catalogs_hash_for_that_file_is_expected(tmp_path):
    update = catalog_update(KB)
    if not update.packages:
        pytest.skip("the shipped catalog lists no package file for this update")
    listed = update.packages[0]
    hc, _ = host_context(tmp_path, PackageSource("on-host", f"{STAGING_DIR}\\{listed.file}", None))
    assert package_plan(hc.run.plan, update).expected_sha256 == listed.sha256


# -- the stage step ---------------------------------------------------------------------

def test_a_verified_copy_on_the_host_is_kept_and_nothing_is_copied(tmp_path, local_package):
    local, sha = local_package
    hc, _ = host_context(tmp_path, PackageSource("smb-push", str(local), sha), stager=FakeStager, host_file=sha)
    assert stage(hc) == StepOutcome.OK
    assert hc.run.stager.pushed == [] and stage_row(hc).evidence["already_there"] is True


def test_an_on_host_package_missing_or_with_another_hash_is_refused(tmp_path):
    hc, _ = host_context(tmp_path, PackageSource("on-host", PACKAGE_PATH, GOOD_SHA), host_file=None)
    assert stage(hc) == StepOutcome.FAILED
    assert stage_row(hc).evidence["summary"] == f"{PACKAGE_PATH} is not on the host"
    hc, _ = host_context(tmp_path / "b", PackageSource("on-host", PACKAGE_PATH, GOOD_SHA), host_file="cd" * 32)
    assert stage(hc) == StepOutcome.FAILED
    assert "refusing to install it" in stage_row(hc).evidence["summary"]


def test_a_package_from_a_url_is_refused_with_the_reason(tmp_path):
    hc, _ = host_context(tmp_path, PackageSource("url", "https://catalog.example/x.msu", GOOD_SHA))
    assert stage(hc) == StepOutcome.FAILED
    assert "download the package here and plan an SMB push" in stage_row(hc).evidence["summary"]


def test_a_push_without_a_stager_fails_and_says_so(tmp_path, local_package):
    local, sha = local_package
    hc, _ = host_context(tmp_path, PackageSource("smb-push", str(local), sha), host_file=None)
    assert stage(hc) == StepOutcome.FAILED
    assert stage_row(hc).evidence["summary"].startswith("no way to copy the package")


def test_a_wrong_file_on_the_host_is_replaced_by_the_copy_then_verified(tmp_path, local_package):
    local, sha = local_package
    hc, host = host_context(tmp_path, PackageSource("smb-push", str(local), sha), stager=FakeStager,
                            host_file="ee" * 32)
    assert stage(hc) == StepOutcome.OK
    assert hc.run.stager.removed == [("HV01", PACKAGE)]
    assert hc.run.stager.pushed == [("HV01", PACKAGE, sha)]
    row = stage_row(hc)
    assert row.evidence["sha256"] == sha and row.evidence["summary"].startswith("copied:")
    assert host.files[PACKAGE_PATH.lower()] == sha


def test_a_copy_that_does_not_match_on_the_host_is_removed_and_not_installed(tmp_path, local_package):
    local, sha = local_package
    hc, host = host_context(tmp_path, PackageSource("smb-push", str(local), sha),
                            stager=lambda hosts: FakeStager(hosts, lands_as="00" * 32), host_file=None)
    assert stage(hc) == StepOutcome.FAILED
    assert hc.run.stager.removed == [("HV01", PACKAGE)] and PACKAGE_PATH.lower() not in host.files
    assert "removed it; it will not be installed" in stage_row(hc).evidence["summary"]


def test_a_failed_copy_fails_the_step_with_its_reason(tmp_path, local_package):
    local, sha = local_package
    hc, _ = host_context(tmp_path, PackageSource("smb-push", str(local), sha),
                         stager=lambda hosts: FakeStager(hosts, error="HV01 refused the admin share"), host_file=None)
    assert stage(hc) == StepOutcome.FAILED
    assert stage_row(hc).evidence["summary"] == "HV01 refused the admin share"


def test_a_copy_ended_by_a_cancel_is_cancelled_and_by_a_stop_stays_in_flight(tmp_path, local_package):
    local, sha = local_package
    hc, _ = host_context(tmp_path, PackageSource("smb-push", str(local), sha),
                         stager=lambda hosts: FakeStager(hosts, error="copy cancelled after 1 byte"), host_file=None)
    hc.run.journal.set_run_state(hc.run.run_id, RunState.RUNNING)
    request(hc.run.journal, hc.run.run_id, "cancel")
    assert stage(hc) == StepOutcome.CANCELLED

    hc, _ = host_context(tmp_path / "b", PackageSource("smb-push", str(local), sha),
                         stager=lambda hosts: FakeStager(hosts, error="copy stopped"), host_file=None)
    hc.run.control.stop.set()
    with pytest.raises(StopRequested):
        stage(hc)
    assert stage_row(hc).outcome is None                   # intent written, resumed later


def test_the_copy_polls_the_journal_at_most_twice_a_second(tmp_path):
    hc, _ = host_context(tmp_path, PackageSource("on-host", PACKAGE_PATH, GOOD_SHA))
    reads = []
    control = hc.run.control
    real = control.cancel_requested
    control.cancel_requested = lambda: reads.append(1) or real()
    cancel = RunCancel(control)
    for _ in range(50):
        assert not cancel.is_set()
    assert len(reads) == 1                                  # the rest within JOURNAL_EVERY_S
    control.stop = threading.Event()
    control.stop.set()
    assert cancel.is_set()                                  # the process's own stop: every time
