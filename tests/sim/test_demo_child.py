"""The window's demo site in a process of its own (hvconsole.sim.child, hvconsole.site): it
serves, hands its hosts over through its pipe only, never outlives the window, and a child
that fails or says nothing is one sentence, never a hang."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
import urllib.request

import pytest

from hvconsole import site as site_module
from hvconsole.patch.sites import SiteError
from hvconsole.sim import child as child_module
from hvconsole.sim import serve
from hvconsole.sim.child import DemoProcess, DemoProcessError
from hvconsole.sim.serve import pid_alive

GONE_WITHIN_S = 15.0


@pytest.fixture
def home(tmp_path, monkeypatch):
    """A home of its own: no state file of another test's served site is found there."""
    monkeypatch.setenv("HVCONSOLE_HOME", str(tmp_path))
    return tmp_path


def wait_gone(pid: int) -> bool:
    deadline = time.monotonic() + GONE_WITHIN_S
    while time.monotonic() < deadline:
        if not pid_alive(pid):
            return True
        time.sleep(0.05)
    return False


def answers(url: str) -> int:
    """The endpoint's HTTP status for an unauthenticated POST (401: it is there and asks)."""
    try:
        urllib.request.urlopen(urllib.request.Request(url, data=b"", method="POST"), timeout=10)
    except urllib.error.HTTPError as exc:
        return exc.code
    return 200


def test_the_demo_site_in_its_own_process_serves_and_close_reaps_it(home):
    process = site_module.start_demo_process(speed=2.0, name="demo-patch")
    assert process is not None
    # The passwords never travel on the command line (nor in a file: none is written).
    assert all("password" not in arg for arg in process.proc.args)
    site = site_module.open_demo_site(speed=2.0, name="demo-patch", process=process)
    try:
        assert site.kind == "demo" and site.simulated and site.embedded is None
        assert len(site.targets) == 5 and site.speed == 2.0
        assert all(t.password for t in site.targets)
        assert all(t.password not in " ".join(process.proc.args) for t in site.targets)
        assert not list(home.iterdir())                      # no state file, nothing else
        assert site.clock is not None and site.clock().tzinfo is not None
        assert answers(site.targets[0].url) == 401           # served by the child, not us
        assert f"process {process.pid}" in site.description
    finally:
        assert site.close()
    assert process.proc.returncode == 0                      # stopped on its pipe's end, reaped


def test_the_child_ends_when_the_window_dies_without_closing_it(home):
    # A "window" that starts the child and is killed: the child sees its pipe end and goes.
    window = subprocess.Popen([sys.executable, "-c", textwrap.dedent("""
        import os, sys, time
        from hvconsole.site import start_demo_process
        process = start_demo_process(speed=1.0, name="demo")
        process.ready()
        print(process.pid, flush=True)
        time.sleep(60)
        """)], stdout=subprocess.PIPE, text=True, env=dict(os.environ, HVCONSOLE_HOME=str(home)))
    try:
        child_pid = int(window.stdout.readline())
        assert pid_alive(child_pid)
        window.kill()
        window.wait(10)
        assert wait_gone(child_pid)
    finally:
        window.kill()
        window.wait(10)
        window.stdout.close()


def test_a_child_that_fails_is_one_sentence(home):
    process = DemoProcess.spawn("no-such-site", 1.0)
    with pytest.raises(DemoProcessError, match="no demo site 'no-such-site'"):
        process.ready()
    assert process.proc.wait(10) == 1


def test_a_child_that_says_nothing_is_stopped_at_the_deadline(home, monkeypatch):
    monkeypatch.setattr(child_module, "child_command",
                        lambda site, speed: [sys.executable, "-c", "import time; time.sleep(60)"])
    process = DemoProcess.spawn("demo", 1.0)
    started = time.monotonic()
    with pytest.raises(DemoProcessError, match="did not answer within 1 s"):
        process.ready(timeout_s=1.0)
    assert time.monotonic() - started < 10
    assert process.proc.poll() is not None                    # killed and reaped


def test_a_window_closing_while_the_child_starts_stops_waiting(home, monkeypatch):
    import threading
    monkeypatch.setattr(child_module, "child_command",
                        lambda site, speed: [sys.executable, "-c", "import time; time.sleep(60)"])
    closing = threading.Event()
    process = DemoProcess.spawn("demo", 1.0)
    threading.Timer(0.3, closing.set).start()
    started = time.monotonic()
    with pytest.raises(SiteError, match="the window closed"):
        site_module.open_demo_site(name="demo", process=process, closing=closing)
    assert time.monotonic() - started < 10                   # not the 30 s deadline
    assert process.proc.wait(10) is not None


def test_a_child_that_ends_at_once_is_said_so(home, monkeypatch):
    monkeypatch.setattr(child_module, "child_command",
                        lambda site, speed: [sys.executable, "-c", "raise SystemExit(3)"])
    with pytest.raises(SiteError, match=r"ended \(exit code 3\)"):
        site_module.open_demo_site(name="demo", process=True)


def test_a_running_served_site_is_preferred_to_a_child(home):
    with serve.start_demo(speed=1.0, site="demo") as served:
        serve.write_state_file(serve.default_state_file(), served, site="demo", speed=1.0)
        try:
            assert site_module.start_demo_process(name="demo-patch") is None
            site = site_module.open_demo_site(name="demo-patch", process=True)
            assert [t.url for t in site.targets] == [h.url for h in served.hosts]
            assert site.close()                           # leaves that process's site running
        finally:
            serve.remove_state_file(serve.default_state_file())


def test_the_hidden_argument_serves_through_the_entry_point(home):
    # The frozen bundle starts its own executable so; here `python -m hvconsole` stands in.
    proc = subprocess.Popen([sys.executable, "-m", "hvconsole", "--serve-demo-child", "demo", "1.0"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        doc = json.loads(proc.stdout.readline())
        assert doc["pid"] == proc.pid and doc["site"] == "demo" and len(doc["hosts"]) == 4
    finally:
        proc.stdin.close()
        assert proc.wait(10) == 0
        proc.stdout.close()


def test_the_demo_names_agree_with_the_simulator():
    assert set(child_module.DEMO_SITE_NAMES) == set(serve.DEMO_SITES)


def test_the_frozen_bundle_starts_its_console_twin_with_the_hidden_argument(tmp_path, monkeypatch):
    app = tmp_path / "hvconsole.exe"
    app.write_bytes(b"")
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "executable", str(app))
    # Without the twin, the app itself; with it, the twin (it has stdin and stdout objects).
    assert child_module.child_command("demo", 2) == [str(app), "--serve-demo-child", "demo", "2.0"]
    (tmp_path / "hvconsole-cli.exe").write_bytes(b"")
    assert child_module.child_command("demo", 2)[0] == str(tmp_path / "hvconsole-cli.exe")
