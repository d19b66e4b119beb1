"""hvconsole-sim as a user runs it: serve in a subprocess (JSON lines, pywinrm, SIGINT),
record to JSON Lines, list the scenarios."""

from __future__ import annotations

import io
import json
import queue
import signal
import subprocess
import sys
import threading
from typing import IO

import pytest

from hvconsole.remote.answer import answer_text
from hvconsole.remote.loader import prepare_call, shell_environment
from hvconsole.sim import cli
from hvconsole.sim.scenarios.freeze import SCENARIOS


def _lines(stream: IO[str]) -> "queue.Queue[str]":
    q: "queue.Queue[str]" = queue.Queue()

    def pump() -> None:
        for line in stream:
            q.put(line)
    threading.Thread(target=pump, daemon=True).start()
    return q


@pytest.mark.slow
@pytest.mark.parametrize("site, hosts", [("demo", 4), ("live-migration", 2)])
def test_serve_prints_json_lines_answers_pywinrm_and_stops_on_sigint(site: str, hosts: int) -> None:
    import winrm

    proc = subprocess.Popen([sys.executable, "-m", "hvconsole.sim.cli", "serve", "--json", "--site", site,
                             "--speed", "2"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        lines = _lines(proc.stdout)  # type: ignore[arg-type]
        served = [json.loads(lines.get(timeout=30)) for _ in range(hosts)]
        assert [set(s) for s in served] == [{"host", "url", "user", "password"}] * hosts
        assert len({s["password"] for s in served}) == 1 and len(served[0]["password"]) >= 16
        first = served[0]
        protocol = winrm.Protocol(first["url"], transport="plaintext", username=first["user"],
                                  password=first["password"], server_cert_validation="ignore")
        shell = protocol.open_shell(env_vars=shell_environment(), codepage=65001)
        call = prepare_call("collect", {"events_since": None, "max_events": 10, "vm_query_timeout_ms": 5000})
        command = protocol.run_command(shell, call.command, [call.arguments])
        stdout, _, code = protocol.get_command_output(shell, command)
        protocol.cleanup_command(shell, command)
        protocol.close_shell(shell)
        assert code == 0 and json.loads(answer_text(stdout.decode(), host="HV01", script="collect"))["vms"]
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()


def test_serve_exits_cleanly_on_sigterm() -> None:
    proc = subprocess.Popen([sys.executable, "-m", "hvconsole.sim.cli", "serve", "--site", "idle-vm"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        lines = _lines(proc.stdout)  # type: ignore[arg-type]
        assert lines.get(timeout=30).startswith("HV01 ")
        assert "password:" in lines.get(timeout=30)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()


def test_record_writes_a_trace(monkeypatch: pytest.MonkeyPatch) -> None:
    out = io.StringIO()
    monkeypatch.setattr(sys, "stdout", out)
    assert cli.main(["record", "--site", "vmms-wedged", "--seconds", "60"]) == 0
    snaps = [json.loads(line) for line in out.getvalue().splitlines()]
    assert len(snaps) >= 8 and all(s["host"] == "HV01" for s in snaps)
    assert any(s["reachable"] and not s["vm_query"]["ok"] for s in snaps)


def test_record_of_the_demo_starts_now(monkeypatch: pytest.MonkeyPatch) -> None:
    out = io.StringIO()
    monkeypatch.setattr(sys, "stdout", out)
    assert cli.main(["record", "--seconds", "10", "--interval", "5"]) == 0
    assert {json.loads(line)["host"] for line in out.getvalue().splitlines()} == {"HV01", "HV02", "HV03", "HV04"}


def test_scenarios_are_listed_and_unknown_sites_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    out = io.StringIO()
    monkeypatch.setattr(sys, "stdout", out)
    assert cli.main(["scenarios"]) == 0
    assert [line.split()[0] for line in out.getvalue().splitlines()] == list(SCENARIOS)
    with pytest.raises(SystemExit):
        cli.main(["record", "--site", "no-such-site"])


# -- bad arguments: one line and exit 2, never a traceback (issue 10, item 13) --------------

@pytest.mark.parametrize("argv, says", [
    (["serve", "--port", "70000"], "argument --port: 70000 is not a port"),
    (["serve", "--port", "-1"], "argument --port: -1 is not a port"),
    (["serve", "--port", "eighty"], "argument --port: 'eighty' is not a port number"),
    (["serve", "--port", "65534"], "--port 65534: the site's 4 hosts need ports 65534-65537, beyond 65535"),
    (["serve", "--speed", "-5"], "argument --speed: speed must be a positive number, not -5"),
    (["serve", "--speed", "0"], "argument --speed: speed must be a positive number, not 0"),
    (["serve", "--speed", "inf"], "argument --speed: speed must be a positive number, not inf"),
    (["serve", "--site", "no-such-site"], "hvconsole-sim serve: unknown site 'no-such-site'"),
    (["record", "--interval", "0"], "argument --interval: interval must be a positive number, not 0"),
    (["record", "--seconds", "nan"], "argument --seconds: seconds must be a positive number, not nan"),
    (["record", "--seconds", "1e300"], "argument --seconds: seconds must be at most 2,592,000 (30 days), not 1e300"),
    (["record", "--interval", "0.01"], "argument --interval: interval must be at least 0.5, not 0.01"),
])
def test_bad_arguments_are_one_message_and_exit_2(capsys, argv: list[str], says: str) -> None:
    with pytest.raises(SystemExit) as info:
        cli.main(argv)
    err = capsys.readouterr().err
    assert info.value.code == 2 and says in err and "Traceback" not in err


def test_a_busy_port_is_one_message_and_exit_2() -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = subprocess.run([sys.executable, "-m", "hvconsole.sim.cli", "serve", "--port", str(port)],
                              capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr == (f"hvconsole-sim serve: --port {port}: a port in {port}-{port + 3} is already in use; "
                           "pick another first port, or 0 for free ports\n")


def test_version(capsys) -> None:
    from hvconsole import __version__

    with pytest.raises(SystemExit) as info:
        cli.main(["--version"])
    assert info.value.code == 0 and capsys.readouterr().out == f"hvconsole-sim {__version__}\n"
