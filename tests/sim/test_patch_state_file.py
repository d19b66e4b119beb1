"""The served site's state file: written atomically and privately after the endpoints are
up, found by another process while the server lives, ignored once its process is dead
(killed: the file stays but names a dead pid), removed on a clean exit."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("hvconsole.sim.wsman")

from hvconsole.remote.session import HostSession  # noqa: E402
from hvconsole.remote.target import Target  # noqa: E402
from hvconsole.sim.scenarios.freeze import SCENARIOS  # noqa: E402
from hvconsole.sim.serve import (default_state_file, pid_alive, read_state, read_state_file,  # noqa: E402
                                 remove_state_file, serve_site, write_state_file)


def wait_until(condition, deadline_s: float = 30.0) -> bool:
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def test_write_read_remove(tmp_path: Path) -> None:
    path = tmp_path / "run" / "demo-site.json"
    with serve_site(SCENARIOS["idle-vm"].build(), latency_scale=0.0) as served:
        write_state_file(path, served, site="idle-vm", speed=1.0)
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert [p.name for p in path.parent.iterdir()] == ["demo-site.json"]       # no temp file left
        doc = json.loads(path.read_text())
        # sim_now at written_at: where the site's clock stood, for a process that follows its time
        assert set(doc) == {"pid", "site", "speed", "hosts", "sim_now", "written_at"} and doc["pid"] == os.getpid()
        hosts = read_state_file(path)
        assert hosts == [{"host": "HV01", "url": served.hosts[0].url, "user": served.hosts[0].user,
                          "password": served.hosts[0].password}]
        assert read_state(path)["site"] == "idle-vm"
        assert remove_state_file(path) and not path.exists()
        assert read_state_file(path) is None and not remove_state_file(path)


def test_a_file_of_a_dead_or_other_process(tmp_path: Path) -> None:
    path = tmp_path / "demo-site.json"
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_pid = int(done.stdout)
    doc = {"pid": dead_pid, "site": "demo", "speed": 1.0,
           "hosts": [{"host": "HV01", "url": "http://127.0.0.1:1/wsman", "user": "demo", "password": "x"}]}
    path.write_text(json.dumps(doc))
    assert read_state_file(path) is None and read_state(path, check_pid=False) is not None
    assert not remove_state_file(path) and path.exists()              # not ours: left alone
    path.write_text(json.dumps({**doc, "pid": os.getpid()}))
    assert read_state_file(path) == doc["hosts"]
    for bad in ("not json", "[]", json.dumps({**doc, "hosts": [{"host": "HV01"}]}), json.dumps({**doc, "pid": "1"})):
        path.write_text(bad)
        assert read_state_file(path) is None
    assert read_state_file(tmp_path / "missing.json") is None


def test_a_zombie_is_dead() -> None:
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        assert pid_alive(proc.pid)
        proc.kill()
        assert wait_until(lambda: not pid_alive(proc.pid), 10)       # killed, not yet reaped
    finally:
        proc.kill()
        proc.wait(10)
    assert not pid_alive(proc.pid) and not pid_alive(0)


def test_default_path(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HVCONSOLE_HOME", str(tmp_path))
    assert default_state_file() == tmp_path / "demo-site.json"
    monkeypatch.delenv("HVCONSOLE_HOME")
    path = default_state_file()
    assert path.name == "demo-site.json" and path.parent.name == "hvconsole"


def _serve(state_file: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "hvconsole.sim.cli", "serve", "--site", "patch-ok", "--speed", "5",
                             "--state-file", str(state_file), *extra],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def test_serve_state_file_is_found_answers_and_is_removed_on_sigterm(tmp_path: Path) -> None:
    path = tmp_path / "demo-site.json"
    proc = _serve(path)
    try:
        assert wait_until(lambda: read_state_file(path) is not None), proc.stderr
        state = read_state(path)
        assert state is not None and state["pid"] == proc.pid and state["site"] == "patch-ok" and state["speed"] == 5.0
        h = next(x for x in state["hosts"] if x["host"] == "HV01")
        session = HostSession(Target(name="HV01", url=h["url"], username=h["user"], password=h["password"],
                                     transport="plaintext"))
        try:
            result = session.run_script("patch_stage_check", {"path": "C:\\hvconsole\\packages\\windows10.0-kb5061906-x64.msu",
                                                              "sha256": None}, timeout_s=30)
        finally:
            session.close()
        assert result.exit_code == 0 and json.loads(result.stdout)["exists"] is True
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
        assert not path.exists()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        proc.stderr.close()


def test_a_killed_server_leaves_a_file_nobody_trusts(tmp_path: Path) -> None:
    path = tmp_path / "demo-site.json"
    proc = _serve(path)
    try:
        assert wait_until(lambda: read_state_file(path) is not None)
        proc.kill()
        proc.wait(10)
        assert path.exists() and read_state_file(path) is None
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        proc.stderr.close()
