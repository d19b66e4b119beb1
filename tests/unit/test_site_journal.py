"""The demo keeps its own patch journal (issue 9): a run of the simulated site is written to
``<data dir>/demo/patch-journal.sqlite`` and never shows up in ``hvconsole patch status``
without ``--demo``, nor a real run with it. Through the command line, as an admin sees it."""

from __future__ import annotations

import os
import subprocess
import sys

from hvconsole import paths, site
from hvconsole.core.patch.journal import Journal
from hvconsole.core.patch.plan import PatchPlan, Wave

RUN_TIMEOUT_S = 120


def status(home, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, paths.HOME_ENV: str(home), "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"}
    return subprocess.run([sys.executable, "-m", "hvconsole", "patch", "status", *args], capture_output=True,
                          text=True, timeout=RUN_TIMEOUT_S, env=env)


def seed(path, kb: str, host: str) -> int:
    with Journal(path) as journal:
        return journal.create_run(kb, PatchPlan(kb=kb, waves=(Wave("pilot", (host,)),)).to_dict())


def test_demo_runs_and_real_runs_are_listed_apart(tmp_path, monkeypatch):
    monkeypatch.setenv(paths.HOME_ENV, str(tmp_path))
    real, demo = site.journal_path(False), site.journal_path(True)
    assert demo.parent == real.parent / "demo"
    seed(real, "KB5055555", "PROD01")
    seed(demo, "KB5061906", "HV01")
    seed(demo, "KB5061906", "HV05")

    plain = status(tmp_path)
    assert plain.returncode == 0, plain.stderr
    assert "KB5055555" in plain.stdout and "KB5061906" not in plain.stdout

    with_demo = status(tmp_path, "--demo")
    assert with_demo.returncode == 0, with_demo.stderr
    assert "KB5061906" in with_demo.stdout and "KB5055555" not in with_demo.stdout
    assert len([line for line in with_demo.stdout.splitlines() if "KB5061906" in line]) == 2


def test_a_demo_site_opens_the_demo_journal(tmp_path, monkeypatch):
    """What the wizard and the runner journal into is the Site's journal_path."""
    monkeypatch.setenv(paths.HOME_ENV, str(tmp_path))
    demo = site.open_demo_site(name="demo")
    try:
        assert demo.journal_path == tmp_path / "data" / "demo" / "patch-journal.sqlite"
    finally:
        demo.close()
    assert site.open_configured_site().journal_path == tmp_path / "data" / "patch-journal.sqlite"
