"""Kill tests: the runner (``hvconsole patch run --demo``, a subprocess) against a simulated
site served by ``hvconsole-sim serve --state-file --speed N`` (another subprocess) is
SIGKILLed the moment a step's intent row appears in the journal (read from this process:
SQLite WAL), once per step. ``hvconsole patch resume`` must then finish the run: every host
verified, every VM back in its prior state, and nothing applied twice, proven from the
journal and from what the host itself answers (the install task's start time, the last
boot, VM states).

The pilot's steps are killed in one chain (the runner at the first step, then each resume
at the next step it starts), so each kill point costs one process start, not a whole run;
the soak between the waves is killed in a run of its own. A kill may land later than the
intent it aimed at (the process had already finished that step, or more): the points it
went past are passed over, and the next process of the chain must then end the run by itself.
"""

from __future__ import annotations

import signal

import pytest

from hvconsole.core.patch.journal import Journal
from hvconsole.core.patch.report import build_report
from hvconsole.core.patch.steps import STEPS
from hvconsole.core.timeutil import format_time
from test_patch_support import (RUN_TIMEOUT_S, SCENARIO, home, intent_or_exit, journal_rows,  # noqa: F401 (fixtures)
                                sim, snapshot, start_runner, step_rows, story, vm_states, wait_for_intent)

pytestmark = pytest.mark.slow


def host_install_status(directory, host: str, task: str, result_path: str) -> dict:
    """What the host itself says about the run's install task (the real script, over WinRM)."""
    from hvconsole.remote.answer import json_document
    from hvconsole.remote.session import HostSession
    session = HostSession(directory.target(host))
    try:
        result = session.run_script("patch_install_status", {"task_name": task, "result_path": result_path},
                                    timeout_s=30)
        return json_document(result, host=host, script="patch_install_status")
    finally:
        session.close()


def test_chain_killed_at_every_step_in_turn_then_resumed(home, sim, tmp_path):
    """One pilot run, SIGKILLed at each of its steps in turn: every process of the chain
    (the run, then each resume) dies the moment the next step's intent of its own appears."""
    before = {h: vm_states(snapshot(sim, h)) for h in ("HV01", "HV02")}
    journal_path = home / "data" / "demo" / "patch-journal.sqlite"
    logs = []
    landed: dict[str, str | None] = {}      # kill point: the step in flight when the kill landed
    args = ("run", "--demo", "--yes", "--kb", SCENARIO.kb, "--pilot", "HV01", "--sha256", SCENARIO.sha256,
            "--soak-minutes", "1")
    for point, step in enumerate(STEPS):
        if _finished(journal_path, "HV01", step):
            landed[str(step)] = None     # the previous process finished this step before its kill landed
            continue
        seen = len(step_rows(journal_path, "HV01", step))
        command = args if point == 0 else ("resume", "1", "--demo")
        runner, log = start_runner(tmp_path, f"{point:02d}-{step}", *command)
        logs.append(log)
        if not intent_or_exit(journal_path, "HV01", step, runner, more_than=seen):
            # The kill before landed later than the intent it aimed at: that process had
            # already finished this step, and this one went on from the next to the end.
            assert runner.returncode == 0 and all(_finished(journal_path, "HV01", s) for s in STEPS[point:]), \
                f"the runner ended ({runner.returncode}) before {step}:\n{log.read_text()}"
            landed[str(step)] = None       # passed over: no process of the chain began it again
            break
        runner.send_signal(signal.SIGKILL)
        # Killed, or (a short last step on a loaded machine) already done: resume copes with both.
        assert runner.wait(timeout=30) in (-signal.SIGKILL, 0), log.read_text()
        landed[str(step)] = _in_flight(journal_path, "HV01")

    resumed, resume_log = start_runner(tmp_path, "resume", "resume", "1", "--demo")
    logs.append(resume_log)
    assert resumed.wait(timeout=RUN_TIMEOUT_S) == 0, resume_log.read_text()

    with Journal(journal_path) as journal:
        # A failure names the run's steps, where each kill landed and every process's output.
        why = (f"journal:\n{story(journal, 1)}\nkill point: step in flight when it landed (None: passed over "
               f"or between steps): {landed}\n"
               + "\n".join(f"{log.stem}:\n{log.read_text()}" for log in logs))
        assert journal.run(1).state == "done", why
        report = build_report(journal, 1)
        assert [h["status"] for h in report["hosts"]] == ["verified"], why
        records = journal.steps(1, "HV01")
        assert [s for s in STEPS if not journal.last_ok(1, "HV01", s)] == [
            s for s in STEPS if any(r.step == s and r.outcome == "skipped" for r in records)], why
        assert_applied_once(records, sim, "HV01", why)
        assert vm_states(snapshot(sim, "HV01")) == before["HV01"], why
    assert vm_states(snapshot(sim, "HV02")) == before["HV02"], why


def _finished(journal_path, host: str, step: str) -> bool:
    """The step's latest row has its outcome (ok, or skipped): no process will begin it again."""
    rows = step_rows(journal_path, host, step)
    return bool(rows) and rows[-1][1] is not None


def _in_flight(journal_path, host: str) -> str | None:
    """The step whose intent was the host's last row, without an outcome: where the kill landed."""
    last = journal_rows(journal_path, "SELECT step, outcome FROM steps WHERE run_id=1 AND host=? "
                                      "ORDER BY id DESC LIMIT 1", (host,))
    return last[0][0] if last and last[0][1] is None else None


# The soak between the waves (the resumed run goes on to production from there).
KILL_POINTS = [("HV01", "soak")]


@pytest.mark.parametrize("host,step", KILL_POINTS, ids=[f"{h}-{s}" for h, s in KILL_POINTS])
def test_killed_at_a_step_then_resumed(home, sim, tmp_path, host, step):
    two_waves = step == "soak"
    before = {h: vm_states(snapshot(sim, h)) for h in ("HV01", "HV02")}
    waves = ["--pilot", "HV01"] + (["--wave", "prod=HV02"] if two_waves else [])
    runner, log = start_runner(tmp_path, "run", "run", "--demo", "--yes", "--kb", SCENARIO.kb, *waves,
                               "--sha256", SCENARIO.sha256, "--soak-minutes", "1")
    journal_path = home / "data" / "demo" / "patch-journal.sqlite"
    wait_for_intent(journal_path, host, step, runner, log)
    runner.send_signal(signal.SIGKILL)
    # Killed, or (a short last step on a loaded machine) already done: resume copes with both.
    assert runner.wait(timeout=30) in (-signal.SIGKILL, 0), log.read_text()

    resumed, resume_log = start_runner(tmp_path, "resume", "resume", "1", "--demo")
    assert resumed.wait(timeout=RUN_TIMEOUT_S) == 0, resume_log.read_text()

    hosts = ("HV01", "HV02") if two_waves else ("HV01",)
    with Journal(journal_path) as journal:
        # A failure names the run's steps and both processes' output (a rare failure under
        # load must be diagnosable from the CI log alone).
        why = f"journal:\n{story(journal, 1)}\nrun:\n{log.read_text()}\nresume:\n{resume_log.read_text()}"
        assert journal.run(1).state == "done", why
        report = build_report(journal, 1)
        assert [h["status"] for h in report["hosts"]] == ["verified"] * len(hosts), why
        for h in hosts:
            records = journal.steps(1, h)
            assert [s for s in STEPS if not journal.last_ok(1, h, s)] == [
                s for s in STEPS if any(r.step == s and r.outcome == "skipped" for r in records)], why
            assert_applied_once(records, sim, h, why)
            assert vm_states(snapshot(sim, h)) == before[h], why
    if not two_waves:
        assert vm_states(snapshot(sim, "HV02")) == before["HV02"], why


def assert_applied_once(records, directory, host: str, why: str = "") -> None:
    """The journal and the host agree: one install task, one new boot."""
    installs = [r for r in records if r.step == "install"]
    assert sum(1 for r in installs if (r.evidence or {}).get("action") == "started") <= 1, why
    done = [r for r in installs if r.outcome == "ok"]
    assert len(done) == 1, why
    status = host_install_status(directory, host, done[0].intent["task_name"], done[0].intent["result_path"])
    assert status["state"] == "done" and status["started_at"] == done[0].evidence["started_at"], (status, why)
    # Every last boot the run ever saw is the one before or the one after its reboot.
    preflight = next(r for r in records if r.step == "preflight" and r.outcome == "ok")
    reboot = next(r for r in records if r.step == "reboot" and r.outcome == "ok")
    first_boot, new_boot = preflight.evidence["last_boot"], reboot.evidence["last_boot_after"]
    assert new_boot > first_boot, why
    seen = {r.intent.get("last_boot_before") for r in records if r.step == "reboot"}
    seen |= {r.evidence.get("last_boot") for r in records if r.step in ("verify",) and r.evidence}
    seen |= {r.evidence.get("last_boot") for r in records if r.step == "preflight" and r.evidence}
    assert seen <= {first_boot, new_boot}, (seen, why)
    final = snapshot(directory, host)
    assert final.reachable, (final.error, why)
    assert format_time(final.os.last_boot) == new_boot, why
    assert final.os.build == 20348 and final.os.ubr == 3695 and final.os.pending_reboot is False, why
