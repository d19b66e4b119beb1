"""Helpers and fixtures for the patch engine's end-to-end tests against the simulated site
(no tests here; test modules import what they use, fixtures included). The site runs accelerated (``SPEED`` simulated seconds per real second) and is
reached through the real WinRM client and the real ``patch_*.ps1`` scripts, recognised by
the simulated hosts; nothing in the product knows it is being tested."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import pytest

from hvconsole.core.patch.journal import Journal
from hvconsole.core.patch.plan import HealthGate, PackageSource, PatchPlan, Wave
from hvconsole.core.snapshot import Snapshot
from hvconsole.patch.engine import create_run, execute
from hvconsole.patch.sites import HostDirectory
from hvconsole.site import open_demo_site, site_for_served
from hvconsole.remote.collector import Collector
from hvconsole.sim.model.clock import SimClock
from hvconsole.sim.scenarios.patch import PATCH_SCENARIOS, PatchScenario
from hvconsole.sim.serve import LATENCY_SCALE_ENV, ServedSite, serve_site
from tests.integration.simhost import served_site_process

SPEED = 200.0           # the main end-to-end run (docs/patching.md lists what it takes)
FAST = 300.0            # failure paths and special flows: only the sequence matters
# The hosts' own latencies (powershell.exe start-up, Get-VM) times this, in this process's
# sites and in `hvconsole-sim serve`: these tests prove order and outcome, not latency, and
# the simulated host's work (install, reboot, VM saves) still takes its simulated time. A
# twentieth, not zero: every call still answers after a moment, so the runner's threads, the
# pollers and a second process interleave as they do against real hosts.
LATENCY_SCALE = 0.05
PLANNED_RESTART = 1074       # User32: shutdown.exe restarted the computer


@dataclass
class Site:
    served: ServedSite
    directory: HostDirectory
    scenario: PatchScenario


@contextlib.contextmanager
def scenario_site(name: str, speed: float = SPEED) -> Iterator[Site]:
    scenario = PATCH_SCENARIOS[name]
    served = serve_site(scenario.build(clock=SimClock(speed=speed)), latency_scale=LATENCY_SCALE)
    try:
        yield Site(served, site_for_served(served, description=f"scenario {name}").directory(), scenario)
    finally:
        served.stop()


def scenario_plan(scenario: PatchScenario, *waves: tuple[str, ...], soak_minutes: float = 2.0,
                  reboot_timeout_s: float = 1800.0, parallel: int = 1) -> PatchPlan:
    return PatchPlan(kb=scenario.kb, waves=tuple(Wave("pilot" if i == 0 else f"prod{i}", hosts, parallel)
                                                 for i, hosts in enumerate(waves)),
                     package=PackageSource("on-host", scenario.package_path, scenario.sha256),
                     gate=HealthGate(soak_minutes=soak_minutes), reboot_timeout_s=reboot_timeout_s)


def run_plan(site: Site, plan: PatchPlan, journal_path: Path, **kw: Any) -> tuple[Journal, int, Any]:
    journal = Journal(journal_path)
    run_id = create_run(journal, plan)
    result = execute(journal, run_id, site.directory, **kw)
    return journal, run_id, result


def story(journal: Journal, run_id: int) -> str:
    """The run's steps, one line each: the message of a failed assertion."""
    return "\n".join(f"{r.host} {r.step} {r.outcome or 'in flight'}: {(r.evidence or {}).get('summary', '')}"
                     for r in journal.steps(run_id))


def snapshot(directory: HostDirectory, host: str) -> Snapshot:
    collector = directory.collector(host)
    try:
        return collector.poll()
    finally:
        collector.close()


def vm_states(snap: Snapshot) -> dict[str, str]:
    return {vm.id: vm.state for vm in snap.vms}


def ground_truth(site: Site, host: str) -> dict[str, int]:
    """What the simulated world itself recorded for ``host`` (not what any script said):
    boots since the site started, planned restarts (event 1074) and installer runs."""
    sim = site.served.host(host).sim
    with site.served.site.lock:
        restarts = sum(1 for e in sim.events.newest_after(None, 100_000, float("inf"))
                       if e.kind.id == PLANNED_RESTART)
        return {"boots": sim.reboots, "restarts": restarts, "installs": len(sim.patch.installs)}


class QuietWatch:
    """Feeds a detector that shares the run's maintenance registry from its own poller:
    what the admin's console would have shown while the run went on."""

    def __init__(self, directory: HostDirectory, host: str, maintenance: Any, interval_s: float = 0.3):
        from hvconsole.core.detector import Detector
        self.detector = Detector(maintenance=maintenance)
        self.collector = Collector(directory.target(host), timeout_s=10)
        self.findings: list[Any] = []
        self.polls = 0
        self._stop = threading.Event()
        self._interval = interval_s
        self._thread = threading.Thread(target=self._run, name="quiet-watch", daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self.findings += [f for f in self.detector.feed(self.collector.poll()) if f.active]
            self.polls += 1

    def __enter__(self) -> "QuietWatch":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(30)
        self.collector.close()


# -- a simulated site and the CLI in processes of their own (kill and CLI tests) ------------

SCENARIO = PATCH_SCENARIOS["patch-ok"]
START_TIMEOUT_S = 60.0       # a process starting on a loaded machine
RUN_TIMEOUT_S = 120.0        # a whole run at FAST takes a few seconds


def patch_cli() -> list[str]:
    """``python -m hvconsole patch`` once the command is registered, else the module itself."""
    from hvconsole.cli import COMMAND_MODULES
    return [sys.executable, "-m", "hvconsole", "patch"] if "patch" in COMMAND_MODULES else \
        [sys.executable, "-m", "hvconsole.cli.patch"]


@pytest.fixture
def home(tmp_path, monkeypatch):
    """A private HVCONSOLE_HOME shared by this test, the simulator and the runner."""
    monkeypatch.setenv("HVCONSOLE_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


@pytest.fixture
def sim(home, tmp_path):
    """``hvconsole-sim serve --site patch-ok --speed FAST --state-file`` in its own process;
    yields the directory of its hosts, found as the runner finds them (the state file)."""
    with served_site_process(home, tmp_path / "sim.log", SCENARIO.name, FAST,
                             env={LATENCY_SCALE_ENV: str(LATENCY_SCALE)}, start_timeout_s=START_TIMEOUT_S):
        # SiteError here: the runner would not find it either.
        yield open_demo_site(embedded=False).directory()


def start_runner(tmp_path: Path, name: str, *args: str) -> tuple[subprocess.Popen, Path]:
    out = tmp_path / f"{name}.log"
    with out.open("wb") as log:     # the child keeps its own copy of the descriptor
        proc = subprocess.Popen(patch_cli() + list(args), stdout=log, stderr=subprocess.STDOUT, env=os.environ.copy())
    return proc, out


def journal_rows(journal: Path, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """One query on the journal another process writes: a read-only connection of its own,
    in autocommit (``isolation_level=None``) and closed at once, so every check reads the
    newest commit (a connection kept open, or a statement left unfinished, holds a read
    transaction on an old WAL snapshot). No rows while the file or its schema is not there yet."""
    if not journal.exists():
        return []
    try:
        with contextlib.closing(sqlite3.connect(f"file:{journal}?mode=ro", uri=True, timeout=5,
                                                isolation_level=None)) as db:
            return db.execute(sql, args).fetchall()
    except sqlite3.OperationalError:
        return []         # the runner is creating the schema


def step_rows(journal: Path, host: str, step: str, run_id: int = 1) -> list[tuple[int, str | None]]:
    """``step``'s rows on ``host`` (id, outcome), oldest first."""
    return [(r[0], r[1]) for r in journal_rows(
        journal, "SELECT id, outcome FROM steps WHERE run_id=? AND host=? AND step=? ORDER BY id",
        (run_id, host, step))]


def intent_or_exit(journal: Path, host: str, step: str, proc: subprocess.Popen, run_id: int = 1,
                   more_than: int = 0) -> bool:
    """Poll the journal until ``step``'s intent on ``host`` in ``run_id`` is there (a new
    one: more than ``more_than`` rows of that step): True; or until the process ends
    first: False (its exit code in ``proc.returncode``)."""
    deadline = time.monotonic() + RUN_TIMEOUT_S
    while time.monotonic() < deadline:
        # Whether it ended is asked before the journal is read: a process that wrote the
        # intent and then ended between two polls is still seen to have written it.
        ended = proc.poll() is not None
        if len(step_rows(journal, host, step, run_id)) > more_than:
            return True
        if ended:
            return False
        time.sleep(0.005)
    raise AssertionError(f"no {step} intent within {RUN_TIMEOUT_S} s")


def wait_for_intent(journal: Path, host: str, step: str, proc: subprocess.Popen, log: Path,
                    run_id: int = 1, more_than: int = 0) -> None:
    """Like :func:`intent_or_exit`, the process ending first being a failure."""
    try:
        seen = intent_or_exit(journal, host, step, proc, run_id, more_than)
    except AssertionError as exc:
        raise AssertionError(f"{exc}:\n{log.read_text()}") from None
    assert seen, f"the runner ended ({proc.returncode}) before {step}:\n{log.read_text()}"
