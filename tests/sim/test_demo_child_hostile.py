"""The demo site's own process met as an admin and a release engineer meet it: a child whose
output is broken or hostile, a window killed while its child starts, a child killed while
the window runs. Each is one sentence or a clean end, never a traceback, a hang or an
orphan process."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import textwrap
import time

import pytest

from hvconsole import site as site_module
from hvconsole.patch.sites import SiteError
from hvconsole.sim import child as child_module
from hvconsole.sim.child import DemoProcess
from hvconsole.sim.serve import pid_alive

GONE_WITHIN_S = 15.0


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("HVCONSOLE_HOME", str(tmp_path))
    return tmp_path


def wait_gone(pid: int) -> bool:
    deadline = time.monotonic() + GONE_WITHIN_S
    while time.monotonic() < deadline:
        if not pid_alive(pid):
            return True
        time.sleep(0.05)
    return False


def fake_child(monkeypatch, script: str) -> None:
    """The child is ``script`` (Python), started as the real one is (its pipes, its flags)."""
    monkeypatch.setattr(child_module, "child_command",
                        lambda site, speed: [sys.executable, "-c", textwrap.dedent(script)])


@pytest.mark.parametrize("hosts", [
    [{"host": "HV01"}],                                       # no url, user, password
    [{"host": "HV01", "url": "http://127.0.0.1:1/wsman", "user": "u", "password": 7}],
    ["HV01"],
])
def test_a_first_line_with_broken_hosts_is_one_sentence_and_the_child_is_reaped(home, monkeypatch, hosts):
    line = json.dumps({"pid": 1, "site": "demo", "hosts": hosts})
    fake_child(monkeypatch, f"""
        import sys, time
        sys.stdout.write({line!r} + "\\n"); sys.stdout.flush()
        sys.stdin.read()
        """)
    process = DemoProcess.spawn("demo", 1.0)
    with pytest.raises(SiteError, match="said nothing usable"):
        site_module.open_demo_site(name="demo", process=process)
    assert process.proc.wait(10) is not None


def test_hosts_a_target_refuses_are_one_sentence_and_the_child_is_reaped(home, monkeypatch):
    # Basic over plain HTTP is allowed to loopback only: a child naming another address is
    # not ours, and is stopped rather than left to the garbage collector.
    secret = secrets.token_urlsafe(12)      # made up here: the sentence must not quote it
    line = json.dumps({"pid": 1, "site": "demo", "hosts": [
        {"host": "HV01", "url": "http://192.0.2.1:5985/wsman", "user": "u", "password": secret}]})
    fake_child(monkeypatch, f"""
        import sys
        sys.stdout.write({line!r} + "\\n"); sys.stdout.flush()
        sys.stdin.read()
        """)
    process = DemoProcess.spawn("demo", 1.0)
    with pytest.raises(SiteError, match="said nothing usable") as raised:
        site_module.open_demo_site(name="demo", process=process)
    assert secret not in str(raised.value)
    assert process.proc.wait(10) is not None


def test_a_line_too_long_is_one_sentence_in_bounded_time(home, monkeypatch):
    fake_child(monkeypatch, """
        import sys, time
        sys.stdout.write("x" * (3 << 20)); sys.stdout.flush()
        time.sleep(60)
        """)
    process = DemoProcess.spawn("demo", 1.0)
    started = time.monotonic()
    with pytest.raises(SiteError, match="said nothing usable"):
        site_module.open_demo_site(name="demo", process=process)
    assert time.monotonic() - started < 20
    assert process.proc.poll() is not None


def test_a_child_that_writes_much_on_stderr_still_answers(home, monkeypatch):
    # Its stderr is the window's own (not a pipe of ours that nobody reads): 4 MiB of
    # chatter before its line never blocks it.
    fake_child(monkeypatch, """
        import json, os, sys
        for _ in range(64):
            sys.stderr.write("w" * 65536 + "\\n")
        sys.stderr.flush()
        print(json.dumps({"pid": os.getpid(), "site": "demo", "hosts": []}), flush=True)
        sys.stdin.read()
        """)
    process = DemoProcess.spawn("demo", 1.0)
    doc = process.ready(timeout_s=20)
    assert doc["hosts"] == []
    assert process.stop()


def test_the_child_ends_when_the_window_is_killed_while_it_starts(home):
    # The window is killed before the child has said anything: its first line meets a
    # closed pipe, and it ends instead of serving for nobody.
    window = subprocess.Popen([sys.executable, "-c", textwrap.dedent("""
        import sys, time
        from hvconsole.site import start_demo_process
        process = start_demo_process(speed=1.0, name="demo")
        print(process.pid, flush=True)
        time.sleep(60)
        """)], stdout=subprocess.PIPE, text=True, env=dict(os.environ, HVCONSOLE_HOME=str(home)))
    try:
        child_pid = int(window.stdout.readline())
        window.kill()
        window.wait(10)
        assert wait_gone(child_pid)
    finally:
        window.kill()
        window.wait(10)
        window.stdout.close()


def test_a_child_killed_mid_session_is_seen_ended(home):
    process = site_module.start_demo_process(speed=1.0, name="demo")
    site = site_module.open_demo_site(name="demo", process=process)
    try:
        ended = []
        site.when_ended(ended.append)
        process.proc.kill()
        deadline = time.monotonic() + GONE_WITHIN_S
        while not ended and time.monotonic() < deadline:
            time.sleep(0.05)
        assert ended and "ended" in ended[0] and "demo" in ended[0]
        assert all(t.password not in ended[0] for t in site.targets)
    finally:
        started = time.monotonic()
        site.close()
        assert time.monotonic() - started < 5


def test_a_window_without_stderr_gives_its_child_none_either(monkeypatch):
    # The frozen windowed app on Windows has no stderr: subprocess would hand the child a
    # pipe whose reading end is already closed, and every traceback or warning it prints
    # fails there. Its stderr is the null device then; otherwise the window's own.
    seen = []

    class Popen:
        def __init__(self, args, **kwargs):
            seen.append(kwargs)
            self.stdout = None
            self.pid = 0

    monkeypatch.setattr(child_module.subprocess, "Popen", Popen)
    monkeypatch.setattr(child_module.DemoProcess, "__init__", lambda self, proc: None)
    monkeypatch.setattr(sys, "stderr", None)
    DemoProcess.spawn("demo", 1.0)
    assert seen[-1]["stderr"] is subprocess.DEVNULL
    monkeypatch.undo()
    monkeypatch.setattr(child_module.subprocess, "Popen", Popen)
    monkeypatch.setattr(child_module.DemoProcess, "__init__", lambda self, proc: None)
    DemoProcess.spawn("demo", 1.0)
    assert seen[-1]["stderr"] is None


def test_resuming_a_demo_run_without_its_site_says_where_its_hosts_were(home):
    # A run started in the window had its hosts in the window's demo process, which ended
    # with the window: the sentence must not send the admin looking for a server only.
    with pytest.raises(SiteError) as raised:
        site_module.open_demo_site(name="demo-patch", embedded=False)
    message = str(raised.value)
    assert "no simulated site is running" in message
    assert "hvconsole-sim serve --state-file" in message and "window" in message


@pytest.mark.parametrize("argv, said", [
    ([], "usage: hvconsole --serve-demo-child SITE SPEED"),
    (["demo"], "usage: hvconsole --serve-demo-child SITE SPEED"),
    (["demo", "abc"], "the demo speed must be a positive number, not 'abc'"),
    (["demo", "nan"], "the demo speed must be a positive number, not 'nan'"),
    (["demo", "-1"], "the demo speed must be a positive number, not '-1'"),
])
def test_the_hidden_argument_misused_by_hand_is_one_clear_sentence(home, argv, said):
    proc = subprocess.run([sys.executable, "-m", "hvconsole", "--serve-demo-child", *argv], stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1
    assert json.loads(proc.stdout) == {"error": said}
    assert proc.stderr == ""
