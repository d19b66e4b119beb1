"""run_view and watch read a run from the journal only: a finished run, a run stopped
mid-step (as a kill leaves it), one another process executes, and the journal's own
permissions."""

from __future__ import annotations

import os
import stat
import threading
from datetime import timedelta

import pytest

from hvconsole.core.patch.journal import Journal
from hvconsole.core.patch.vocabulary import STEP_ORDER, RunState
from hvconsole.core.timeutil import utcnow
from hvconsole.patch.control import RunLock
from hvconsole.patch.run_view import run_view
from hvconsole.patch.watch import active_runs, interrupted_runs, open_maintenance
from test_engine_fakes import fake_site, new_run, plan_for, run


def test_a_finished_run(tmp_path):
    hosts = fake_site("HV01", "HV02")
    journal, run_id = new_run(tmp_path, plan_for(("HV01",), ("HV02",)))
    assert run(journal, run_id, hosts).state == "done"
    view = run_view(journal, run_id)
    assert (view.state, view.finished, view.progress_fraction, view.executing_pid) == (RunState.DONE, True, 1.0, None)
    assert "patched and verified" in view.reason and view.waves == [("pilot", ["HV01"]), ("prod1", ["HV02"])]
    for h in view.hosts:
        assert [s.step for s in h.steps] == list(STEP_ORDER)
        assert all(s.state == "ok" and s.elapsed_s is not None and s.summary for s in h.steps)
        assert (h.status, h.current_step, h.pending_reboot) == ("done", None, False)
    assert view.soak is not None and view.soak.passed is True and view.soak.hosts == ["HV01"]
    assert view.events and view.events[-1].step == "run" and view.events[-1].phase == "ok"
    assert open_maintenance(journal) == [] and interrupted_runs(journal) == [] and active_runs(journal) == []


def test_a_run_stopped_mid_install_is_interrupted_and_its_host_still_in_maintenance(tmp_path):
    hosts = fake_site("HV01", "HV02")
    journal, run_id = new_run(tmp_path, plan_for(("HV01",), ("HV02",)))
    hosts["HV01"].stop_after[("patch_install_start", 1)] = threading.Event()   # a kill right after the start
    assert run(journal, run_id, hosts).state == RunState.RUNNING
    now = utcnow()
    view = run_view(journal, run_id, now=now)
    hv01, hv02 = view.hosts
    steps = {s.step: s for s in hv01.steps}
    assert steps["install"].state == "running" and steps["install"].finished is None
    assert steps["install"].elapsed_s == pytest.approx((now - steps["install"].started).total_seconds())
    assert steps["drain"].state == "ok" and steps["reboot"].state == "pending"
    assert (hv01.current_step, hv01.status, hv01.pending_reboot) == ("install", "in progress", False)
    assert (hv02.status, hv02.current_step) == ("not started", None)
    assert 0 < view.progress_fraction < 0.5 and view.interrupted and not view.finished

    (stopped,) = interrupted_runs(journal)
    assert (stopped.run_id, stopped.host, stopped.step, stopped.executing_pid) == (run_id, "HV01", "install", None)
    (window,) = open_maintenance(journal)
    assert (window.run_id, window.host, window.step) == (run_id, "HV01", "install")
    assert window.until is not None and window.since <= now
    # A window past its recorded end no longer holds alerts back.
    assert open_maintenance(journal, now=window.until + timedelta(seconds=1)) == []

    # Another process executes it (its lock is held): active, no longer interrupted.
    lock = RunLock(journal.path, run_id)
    assert lock.acquire()
    try:
        (active,) = active_runs(journal)
        assert active.executing_pid == os.getpid() and interrupted_runs(journal) == []
        assert run_view(journal, run_id).executing_pid == os.getpid()
        assert open_maintenance(journal)[0].executing_pid == os.getpid()
    finally:
        lock.release()

    # Resumed to the end: nothing open any more, though the killed attempt's row stays open.
    hosts["HV01"].stop_after.clear()
    assert run(journal, run_id, hosts).state == RunState.DONE
    assert open_maintenance(journal) == [] and interrupted_runs(journal) == []
    assert hosts["HV01"].install_starts == 1
    assert [r.outcome for r in journal.steps(run_id, "HV01") if r.step == "install"] == [None, "ok"]
    view = run_view(journal, run_id)
    assert [(h.status, h.current_step) for h in view.hosts] == [("done", None), ("done", None)]
    assert {s.step: (s.state, s.attempts) for s in view.hosts[0].steps}["install"] == ("ok", 2)


def test_a_planned_run_not_started(tmp_path):
    journal, run_id = new_run(tmp_path, plan_for(("HV01",)))
    view = run_view(journal, run_id)
    assert view.state == RunState.PLANNED and view.reason == "not started yet" and view.progress_fraction == 0.0
    assert [h.status for h in view.hosts] == ["not started"] and view.soak is None
    (summary,) = interrupted_runs(journal)
    assert (summary.host, summary.step) == (None, None)


@pytest.mark.skipif(os.name == "nt", reason="POSIX permissions")
def test_the_journal_and_its_folder_are_private(tmp_path, monkeypatch):
    monkeypatch.setenv("HVCONSOLE_HOME", str(tmp_path / "home"))
    from hvconsole import paths
    from hvconsole.patch.engine import open_journal
    old = os.umask(0o022)
    try:
        with open_journal() as journal:
            journal.create_run("KB1", {"waves": []})
            files = [journal.path, journal.path.with_name(journal.path.name + "-wal"),
                     journal.path.with_name(journal.path.name + "-shm")]
            assert all(stat.S_IMODE(f.stat().st_mode) == 0o600 for f in files if f.exists())
            assert files[1].exists()       # WAL: the -wal file holds the run until a checkpoint
        assert stat.S_IMODE(paths.data_dir().stat().st_mode) == 0o700
        # A journal and folder left 0644/0755 by an earlier version are tightened.
        demo = paths.data_dir() / "demo"
        demo.mkdir(mode=0o755)
        os.chmod(demo, 0o755)
        loose = demo / "patch-journal.sqlite"
        Journal(loose).close()
        os.chmod(loose, 0o644)
        os.chmod(paths.data_dir(), 0o755)
        with open_journal(loose):
            pass
        assert stat.S_IMODE(loose.stat().st_mode) == 0o600
        assert stat.S_IMODE(paths.data_dir().stat().st_mode) == 0o700
    finally:
        os.umask(old)


def test_an_older_journal_gains_the_new_columns(tmp_path):
    import sqlite3
    path = tmp_path / "old.sqlite"
    db = sqlite3.connect(path)
    db.executescript("""
        CREATE TABLE runs (id INTEGER PRIMARY KEY AUTOINCREMENT, created_at TEXT NOT NULL, kb TEXT NOT NULL,
                           plan_json TEXT NOT NULL, state TEXT NOT NULL);
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        INSERT INTO meta VALUES ('schema', '1');
        INSERT INTO runs(created_at, kb, plan_json, state) VALUES ('2026-01-01T00:00:00Z', 'KB1', '{"waves": []}', 'done');
    """)
    db.commit()
    db.close()
    with Journal(path) as journal:
        old = journal.run(1)
        assert (old.state, old.reason, old.decision) == ("done", "", None)
        journal.set_run_state(1, "done", "kept")
        assert journal.run(1).reason == "kept" and journal.events(1) == []
