"""``hvconsole recover`` in a process of its own against the recovery scenario served by
this test process (found through the state file, as ``--demo`` finds a running
``hvconsole-sim serve --state-file``): a hung VM recovered with ``--yes``; a wrong typed
name refused with nothing done; ``--capture-only`` changes nothing; and the console
SIGKILLed the moment a step's intent is journalled, then started again: it offers to
continue, finishes, and no host action happens twice (counted in the simulated host)."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hvconsole.sim.model.clock import SimClock
from hvconsole.sim.scenarios.recovery import HANG_AT_S, build_recovery_site, vm_id
from hvconsole.sim.serve import serve_site, write_state_file

SPEED = 40.0
RUN_TIMEOUT_S = 180.0


@pytest.fixture
def served(tmp_path, monkeypatch):
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HVCONSOLE_HOME", str(home))
    site = serve_site(build_recovery_site(SimClock(speed=SPEED)), latency_scale=0.05)
    write_state_file(home / "demo-site.json", site, site="recovery", speed=SPEED)
    deadline = time.monotonic() + 30
    while site.site.t < HANG_AT_S + 15 and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        yield site, home
    finally:
        site.stop()


def cli(*args: str, log: Path | None = None) -> subprocess.Popen:
    command = [sys.executable, "-m", "hvconsole", "recover", *args]
    if log is None:
        return subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                env=os.environ.copy())
    with log.open("wb") as out:     # the child keeps its own copy of the descriptor
        return subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                env=os.environ.copy())


def finish(proc: subprocess.Popen, stdin: str = "") -> tuple[int, str]:
    out, _ = proc.communicate(stdin.encode(), timeout=RUN_TIMEOUT_S)
    return proc.returncode, (out or b"").decode("utf-8", "replace")


def host_actions(site, host: str, n: int) -> list[str]:
    with site.site.lock:
        return [a for _, a, v in site.host(host).sim.recovery_actions if v == vm_id(n)]


def test_recover_with_yes_brings_the_hung_vm_back(served):
    site, home = served
    code, out = finish(cli("HV01", "APP-HUNG", "--demo", "--yes"))
    assert code == 0, out
    assert "Turn off" in out and "pulling the power cord" in out
    assert host_actions(site, "HV01", 1) == ["turn_off", "start"], out
    records = list((home / "data" / "demo" / "incidents").glob("incident-*.json"))
    record = json.loads(records[0].read_text())
    assert record["incident"]["state"] == "recovered" and record["after"]["heartbeat"] == "OK"


def test_a_wrong_typed_name_refuses_the_hard_step(served):
    site, _ = served
    code, out = finish(cli("HV01", "APP-HUNG", "--demo"), stdin="APP-HUN\n")
    assert code == 2, out
    assert "needs confirmation" in out
    assert host_actions(site, "HV01", 1) == []
    # Again: it offers to continue (Enter), then stdin ends where the name should be
    # typed (no terminal) and there is no --yes: refused as well.
    code, out = finish(cli("HV01", "APP-HUNG", "--demo"), stdin="\n")
    assert code == 2 and "needs the VM's name typed" in out, out
    assert host_actions(site, "HV01", 1) == []


def test_capture_only_changes_nothing(served):
    site, _ = served
    code, out = finish(cli("HV01", "APP-STOPPING", "--demo", "--capture-only", "--yes"))
    assert code == 0, out
    assert "Capture evidence" in out and "worker pid" in out
    assert host_actions(site, "HV01", 2) == []


def wait_for_intent(journal: Path, step: str, proc: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + RUN_TIMEOUT_S
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"the console ended before {step}:\n{log.read_text()}"
        if journal.exists():
            try:
                with sqlite3.connect(f"file:{journal}?mode=ro", uri=True, timeout=5) as db:
                    if db.execute("SELECT 1 FROM actions WHERE step=?", (step,)).fetchone():
                        return
            except sqlite3.OperationalError:
                pass            # the schema is being created
        time.sleep(0.005)
    raise AssertionError(f"no {step} intent:\n{log.read_text()}")


@pytest.mark.parametrize("step", ["turn_off", "start"])
def test_killed_mid_recovery_then_continued_nothing_twice(served, tmp_path, step):
    site, home = served
    log = tmp_path / "first.log"
    proc = cli("HV01", "APP-HUNG", "--demo", "--yes", log=log)
    wait_for_intent(home / "data" / "demo" / "recovery-journal.sqlite", step, proc, log)
    proc.send_signal(signal.SIGKILL)
    assert proc.wait(timeout=30) in (-signal.SIGKILL, 0), log.read_text()
    # Started again: it offers to continue (answered with Enter), asks for the name again
    # if Turn off is still to do (the kill may have come before it reached the host), and
    # finishes.
    code, out = finish(cli("HV01", "APP-HUNG", "--demo"), stdin="\nAPP-HUNG\n")
    assert code == 0, log.read_text() + out
    assert "An unfinished recovery of this VM exists" in out
    assert host_actions(site, "HV01", 1) == ["turn_off", "start"]
