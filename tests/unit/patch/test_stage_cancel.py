"""A cancel asked for while a package is being copied ends the copy (it can take minutes)
instead of waiting for it; a process that stops leaves the step in flight for resume."""

from __future__ import annotations

import hashlib
import threading
import time

from hvconsole.core.patch.plan import PackageSource
from hvconsole.patch.control import request
from hvconsole.patch.engine import execute_with
from hvconsole.patch.host_api import PatchHost
from hvconsole.remote.smb_stage import StageError
from tests.unit.patch.test_engine_fakes import OPTIONS, PACKAGE, fake_site, new_run, plan_for


class BlockingStager:
    """Copies nothing: waits until told to stop, as a copy of a large package would."""

    def __init__(self) -> None:
        self.started = threading.Event()
        self.ended_after_s: float | None = None

    def push(self, host, local, expected_sha256, cancel=None):
        self.started.set()
        t0 = time.monotonic()
        while not (cancel is not None and cancel.is_set()):
            if time.monotonic() - t0 > 30:
                raise AssertionError("the copy was never told to stop")
            time.sleep(0.02)
        self.ended_after_s = time.monotonic() - t0
        raise StageError(f"copy to {host} cancelled after 1,024 of 9,999 bytes (it resumes from there next time)")

    def remove(self, host, file_name):
        pass


def smb_plan(tmp_path):
    local = tmp_path / PACKAGE
    local.write_bytes(b"package bytes" * 100)
    sha = hashlib.sha256(local.read_bytes()).hexdigest()
    plan = plan_for(("HV01",), ("HV02",))
    import dataclasses
    return dataclasses.replace(plan, package=PackageSource("smb-push", str(local), sha))


def run_with(journal, run_id, hosts, stager, stop=None):
    def factory(name):
        h = hosts[name]
        return PatchHost(name, h, h)
    return execute_with(journal, run_id, factory, options=OPTIONS, stager=stager, stop=stop)


def test_a_cancel_through_the_journal_ends_the_copy_and_the_host_is_left_untouched(tmp_path):
    hosts = fake_site("HV01", "HV02")
    for h in hosts.values():
        h.files.clear()                       # nothing staged: the package must be copied
    journal, run_id = new_run(tmp_path, smb_plan(tmp_path))
    stager = BlockingStager()
    threading.Thread(target=lambda: (stager.started.wait(10), request(journal, run_id, "cancel")),
                     daemon=True).start()
    result = run_with(journal, run_id, hosts, stager)
    assert result.state == "cancelled"
    assert stager.ended_after_s is not None and stager.ended_after_s < 5
    stage = [s for s in journal.steps(run_id, "HV01") if s.step == "stage"]
    assert stage[-1].outcome == "cancelled" and "resumes from there" in stage[-1].evidence["summary"]
    assert hosts["HV01"].install_starts == 0 and journal.steps(run_id, "HV02") == []


def test_a_stopping_process_leaves_the_copy_in_flight_for_resume(tmp_path):
    hosts = fake_site("HV01", "HV02")
    for h in hosts.values():
        h.files.clear()
    journal, run_id = new_run(tmp_path, smb_plan(tmp_path))
    stager, stop = BlockingStager(), threading.Event()
    threading.Thread(target=lambda: (stager.started.wait(10), stop.set()), daemon=True).start()
    run_with(journal, run_id, hosts, stager, stop=stop)
    stage = [s for s in journal.steps(run_id, "HV01") if s.step == "stage"]
    assert stage and stage[-1].in_flight          # intent written, no outcome: resume copies on
