"""The host agent: powershell.exe as seen through the hvconsole loader, script recognition
by exact body, the collect answer and its contract, and the process timing protocol."""

from __future__ import annotations

import base64
import gzip
import json
import uuid
from datetime import datetime, timezone
from pathlib import Path

import jsonschema
import pytest

from hvconsole.core.parse import parse_snapshot
from hvconsole.core.snapshot import SCHEMA_ID
from hvconsole.remote.answer import answer_text
from hvconsole.remote.loader import encode_body, prepare_call, shell_environment
from hvconsole.sim.agent import host_agent
from hvconsole.sim.model.clock import SimClock
from hvconsole.sim.agent.host_agent import HostAgent, ScriptAnswer, interpret
from hvconsole.sim.model import LoadProfile, SimHost, SimSite, SimVM

START = datetime(2026, 11, 25, 9, 0, tzinfo=timezone.utc)
SCHEMA = json.loads((Path(__file__).parents[1] / "fixtures/contracts/snapshot-v1.schema.json").read_text())
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA, format_checker=jsonschema.FormatChecker())
PARAMS = {"events_since": None, "max_events": 50, "vm_query_timeout_ms": 2000}
TRICKY_NAME = "x'; Stop-Computer; '<b>&"


@pytest.fixture
def site() -> SimSite:
    site = SimSite(SimClock.manual(START), seed=3)
    host = site.add_host(SimHost("HV01", clock_skew_ms=250))
    host.add_vm(SimVM("DC01", str(uuid.UUID(int=1)), load=LoadProfile(5, 3)))
    host.add_vm(SimVM(TRICKY_NAME, str(uuid.UUID(int=2)), state="Off"))
    host.add_vm(SimVM("FS-Büro-01", str(uuid.UUID(int=3)), dynamic_memory=True))
    return site


@pytest.fixture
def agent(site: SimSite) -> HostAgent:
    return HostAgent(site.host("HV01"), site, latency_scale=0.0)


def command_line(params: dict = PARAMS, script: str = "collect") -> str:
    call = prepare_call(script, params)
    return f"{call.command} {call.arguments}"


def answer_doc(stdout: bytes | str) -> dict:
    """A collect answer as the client reads it (the script writes it compressed)."""
    text = stdout.decode("utf-8") if isinstance(stdout, bytes) else stdout
    return json.loads(answer_text(text, host="HV01", script="collect"))


def as_snapshot(stdout: bytes, host: str = "HV01") -> dict:
    doc = answer_doc(stdout)
    doc.pop("events_bookmark")
    doc.update({"schema": SCHEMA_ID, "host": host, "polled_at": "2026-11-25T09:00:01.000Z",
                "reachable": True, "error": None})
    return doc


def test_collect_answers_the_contract(agent: HostAgent) -> None:
    answer = agent.execute(command_line(), shell_environment())
    assert answer.exit_code == 0
    assert 0.2 < answer.duration_s < 2.0
    snapshot = as_snapshot(answer.stdout)
    VALIDATOR.validate(snapshot)
    parsed = parse_snapshot(snapshot)
    assert parsed.os is not None and parsed.os.build == 20348
    assert [vm.name for vm in parsed.vms] == ["DC01", TRICKY_NAME, "FS-Büro-01"]
    assert parsed.services == {"vmms": "Running", "vmcompute": "Running", "clussvc": None, "winrm": "Running"}
    assert parsed.host_time == datetime(2026, 11, 25, 9, 0, 0, 250000, tzinfo=timezone.utc)  # host clock skew


def test_output_is_powershell_51_json(agent: HostAgent) -> None:
    stdout = agent.execute(command_line(), shell_environment()).stdout
    assert stdout.startswith(b"HVCZ1:")
    text = answer_text(stdout.decode("ascii"), host="HV01", script="collect")
    assert "\\u0027" in text and "\\u003c" in text and "\\u0026" in text   # ' < & escaped
    assert "'" not in text and "<" not in text
    assert "Büro" in text                                               # UTF-8, not \u escapes
    assert not stdout.endswith(b"\n")                                   # [Console]::Out.Write
    assert json.loads(text)["vms"][1]["name"] == TRICKY_NAME


def test_params_on_stdin_wait_for_end_of_input(agent: HostAgent) -> None:
    params = dict(PARAMS, padding="x" * 3000)   # too long for the command line
    call = prepare_call("collect", params)
    assert call.stdin is not None
    process = agent.start(f"{call.command} {call.arguments}", shell_environment(), 65001)
    assert process.read(0.05).done is False        # waiting for stdin
    process.write_stdin(call.stdin[:10], end=False)
    assert process.read(0.05).done is False
    process.write_stdin(call.stdin[10:], end=True)
    out = process.read(5.0)
    assert out.done and out.exit_code == 0
    VALIDATOR.validate(as_snapshot(out.stdout))
    assert process.read(0.0) == type(out)(b"", b"", True, 0)   # the end is reported once, then stays


def test_output_appears_after_the_simulated_run_time(site: SimSite) -> None:
    site.host("HV01").wedge_vmms()      # a run of more than 2 s: no race with a loaded machine
    agent = HostAgent(site.host("HV01"), site, latency_scale=1.0)
    process = agent.start(command_line(dict(PARAMS, vm_query_timeout_ms=2000)), shell_environment(), 65001)
    first = process.read(0.0)
    assert first.done is False and first.stdout == b""
    out = process.read(30.0)
    assert out.done and out.exit_code == 0 and answer_doc(out.stdout)["vm_query"]["ok"] is False


def test_terminate_ends_a_running_process(site: SimSite) -> None:
    site.host("HV01").wedge_vmms()
    agent = HostAgent(site.host("HV01"), site, latency_scale=1.0)
    process = agent.start(command_line(dict(PARAMS, vm_query_timeout_ms=60000)), shell_environment(), 65001)
    process.terminate()
    out = process.read(5.0)
    assert out.done and out.exit_code == host_agent.EXIT_TERMINATED


def test_missing_script_variable_is_the_loaders_exit_86(agent: HostAgent) -> None:
    answer = agent.execute(command_line(), {})
    assert answer.exit_code == 86
    assert json.loads(answer.stdout) == {"hvc_error": {"message": "script HVC_SCRIPT_COLLECT is not loaded in this shell"}}


def test_environment_names_are_case_insensitive_like_windows(agent: HostAgent) -> None:
    env = {k.lower(): v for k, v in shell_environment().items()}
    assert agent.execute(command_line(), env).exit_code == 0


def test_a_changed_script_body_is_not_recognised(agent: HostAgent) -> None:
    env = shell_environment()
    body = gzip.decompress(base64.b64decode(env["HVC_SCRIPT_COLLECT"])).decode("utf-8") + "\nRemove-Item C:\\ -Recurse\n"
    env["HVC_SCRIPT_COLLECT"] = encode_body(body)
    answer = agent.execute(command_line(), env)
    assert answer.exit_code == 1 and answer.stdout == b""
    assert b"cannot run arbitrary PowerShell" in answer.stderr


def test_bodies_are_compared_with_the_shipped_file_at_run_time(agent: HostAgent, monkeypatch: pytest.MonkeyPatch) -> None:
    env = shell_environment()                        # taken before the "teammate edits"
    monkeypatch.setattr(host_agent, "_shipped_body", lambda name: "# hvconsole-script: collect\nexit 0\n")
    assert agent.execute(command_line(), env).exit_code == 1


def test_invalid_script_base64_fails_like_frombase64string(agent: HostAgent) -> None:
    answer = agent.execute(command_line(), {"HVC_SCRIPT_COLLECT": "not*base64"})
    assert answer.exit_code == 1 and b"FromBase64String" in answer.stderr
    assert answer.stderr.startswith(b"\xef\xbb\xbf#< CLIXML")          # BOM, as on codepage 65001


@pytest.mark.parametrize("line, expect", [
    ("powershell.exe -NoProfile -Command Get-Process", b"arbitrary PowerShell"),
    ("powershell.exe -NonInteractive", b"interactive"),
    ("powershell.exe -EncodedCommand ***", b"properly encoded"),
    ("powershell.exe -Bogus 1", b"not a recognized parameter"),
    ("ipconfig /all", b"is not recognized as an internal or external command"),
])
def test_anything_else_fails_with_an_explanation(agent: HostAgent, line: str, expect: bytes) -> None:
    answer = agent.execute(line, shell_environment())
    assert answer.exit_code == 1 and answer.stdout == b"" and expect in answer.stderr


def test_encoded_command_that_is_not_the_loader_is_refused(agent: HostAgent) -> None:
    other = base64.b64encode("Get-VM | Stop-VM -Force".encode("utf-16-le")).decode("ascii")
    answer = agent.execute(f"powershell.exe -enc {other}", shell_environment())
    assert answer.exit_code == 1 and b"not the hvconsole script loader" in answer.stderr


def test_cmd_wrapper_and_hostname(agent: HostAgent) -> None:
    assert agent.execute("hostname", {}).stdout == b"HV01\r\n"
    assert agent.execute(f"cmd.exe /c {command_line()}", shell_environment()).exit_code == 0


def test_command_line_parameters_like_powershell() -> None:
    call = interpret(command_line())
    assert call.env_var == "HVC_SCRIPT_COLLECT" and call.inline_params
    encoded = command_line().rsplit(" ", 1)[1]
    assert interpret(f'"C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe" -noprofile -ec {encoded}') == call


def test_bad_params_are_a_script_level_failure(agent: HostAgent) -> None:
    answer = agent.execute(command_line({"events_since": "yesterday-ish"}), shell_environment())
    assert answer.exit_code == 1
    assert json.loads(answer.stdout)["hvc_error"]["where"] == "params"
    answer = agent.execute(command_line({"max_events": "lots"}), shell_environment())
    assert answer.exit_code == 1 and b"hvc_error" in answer.stdout


def test_params_are_clamped_as_the_script_does(agent: HostAgent, site: SimSite) -> None:
    host = site.host("HV01")
    for i in range(30):
        host.events.write(-100.0 + i, "vm_started", vm_id=str(i), vm=f"VM{i}")
    doc = answer_doc(agent.execute(command_line({"max_events": -5}), shell_environment()).stdout)
    assert doc["events"] == [] and doc["events_bookmark"] is None
    doc = answer_doc(agent.execute(command_line({"max_events": 5000}), shell_environment()).stdout)
    assert len(doc["events"]) == 30


def test_events_since_bookmark_returns_each_event_once(agent: HostAgent, site: SimSite) -> None:
    host = site.host("HV01")
    seen: list[tuple[str, int, str]] = []
    bookmark = None
    for poll in range(40):
        site.clock.advance(7)
        if poll % 5 == 0:
            site.vm("DC01").guest_reboot()
            host.events.write(site.advance() + 0.0004, "vm_reset", vm_id=site.vm("DC01").id, vm="DC01")
        doc = answer_doc(agent.execute(command_line({"events_since": bookmark, "max_events": 100}),
                                       shell_environment()).stdout)
        seen += [(e["time"], e["id"], e["message"]) for e in doc["events"]]
        bookmark = doc["events_bookmark"]
    assert len(seen) == len(set(seen)) == 8
    times = [s[0] for s in seen]
    assert times == sorted(times)


def test_only_the_newest_max_events_are_returned(agent: HostAgent, site: SimSite) -> None:
    host = site.host("HV01")
    for i in range(12):
        host.events.write(1.0 + i, "vm_started", vm_id=str(uuid.UUID(int=i)), vm=f"VM{i}")
    host.events.write(5.5, "planned_restart", host="HV01", user="x")   # not read by collect.ps1
    site.clock.advance(30)
    doc = answer_doc(agent.execute(command_line({"events_since": None, "max_events": 4}), shell_environment()).stdout)
    assert [e["message"][:4] for e in doc["events"]] == ["'VM8", "'VM9", "'VM1", "'VM1"]
    assert doc["events_bookmark"] == doc["events"][-1]["time"]


def test_wedged_vmms_times_out_the_vm_query_only(agent: HostAgent, site: SimSite) -> None:
    site.host("HV01").wedge_vmms()
    answer = agent.execute(command_line(dict(PARAMS, vm_query_timeout_ms=3000)), shell_environment())
    doc = answer_doc(answer.stdout)
    assert answer.exit_code == 0 and answer.duration_s >= 3.0
    assert doc["vm_query"]["ok"] is False and doc["vm_query"]["error"] == "timeout after 3000 ms"
    assert doc["vm_query"]["elapsed_ms"] >= 3000 and doc["vms"] == []
    assert doc["services"]["vmms"] == "Running" and doc["resources"]["cpu_total_run_pct"] > 0
    VALIDATOR.validate(as_snapshot(answer.stdout))


def test_slow_host_takes_longer(agent: HostAgent, site: SimSite) -> None:
    normal = agent.execute(command_line(), shell_environment())
    site.host("HV01").set_slow(8.0)
    slow = agent.execute(command_line(), shell_environment())
    assert slow.duration_s > 4 * normal.duration_s
    assert answer_doc(slow.stdout)["collect_ms"] > 4 * answer_doc(normal.stdout)["collect_ms"]


def test_a_host_that_is_down_never_answers(site: SimSite) -> None:
    site.host("HV01").crash(down_s=600)
    process = HostAgent(site.host("HV01"), site, latency_scale=0.0).start(command_line(), shell_environment(), 65001)
    assert process.read(0.1).done is False
    process.terminate()
    assert process.read(0.1).done is True


def test_progress_noise_on_stderr_does_not_change_the_verdict(site: SimSite) -> None:
    site.host("HV01").clixml_progress = True
    answer = HostAgent(site.host("HV01"), site, latency_scale=0.0).execute(command_line(), shell_environment())
    assert answer.exit_code == 0 and b"Preparing modules for first use." in answer.stderr
    assert answer.stderr.count(b"\xef\xbb\xbf") == 1


def test_handler_registry_dispatches_and_tolerates_missing_modules(
        agent: HostAgent, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(host_agent, "HANDLER_MODULES", ("hvconsole.sim.agent.collect", "hvconsole.sim.no_such_handlers"))
    monkeypatch.setattr(host_agent, "_handlers_loaded", False)
    handlers = host_agent.load_handler_modules()
    assert "collect" in handlers

    def fake_collect(host: SimHost, params: dict, now: datetime) -> ScriptAnswer:
        return ScriptAnswer(json.dumps({"host": host.name, "params": params, "now": now.isoformat()}).encode(),
                            b"", 0, 0.01)
    monkeypatch.setitem(agent.handlers, "collect", fake_collect)
    out = json.loads(agent.execute(command_line({"a": 1}), shell_environment()).stdout)
    assert out == {"host": "HV01", "params": {"a": 1}, "now": START.isoformat()}
    with pytest.raises(ValueError):
        host_agent.register_script_handler("Bad Name", fake_collect)


def test_a_crashing_handler_fails_the_command_not_the_agent(agent: HostAgent, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(host: SimHost, params: dict, now: datetime) -> ScriptAnswer:
        raise RuntimeError("boom")
    monkeypatch.setitem(agent.handlers, "collect", broken)
    answer = agent.execute(command_line(), shell_environment())
    assert answer.exit_code == 1 and b"boom" in answer.stderr


@pytest.mark.parametrize("on_stdin", [False, True], ids=["inline", "stdin"])
def test_a_handler_module_that_fails_to_import_fails_the_command_with_its_error(
        agent: HostAgent, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, on_stdin: bool) -> None:
    # The handlers' modules are imported at the first command (not when the agent is made), so
    # a broken one is first seen there: as that command's error, whichever way its parameters
    # come, not as an exception out of the endpoint's Command or Send (a dropped connection).
    (tmp_path / "hvc_broken_handlers.py").write_text("raise RuntimeError('broken handler module')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(host_agent, "HANDLER_MODULES", ("hvconsole.sim.agent.collect", "hvc_broken_handlers"))
    monkeypatch.setattr(host_agent, "_handlers_loaded", False)
    call = prepare_call("collect", dict(PARAMS, padding="x" * 3000) if on_stdin else PARAMS)
    assert (call.stdin is not None) == on_stdin
    process = agent.start(f"{call.command} {call.arguments}", shell_environment(), 65001)
    if call.stdin is not None:
        process.write_stdin(call.stdin, end=True)
    out = process.read(5.0)
    assert out.done and out.exit_code == 1
    assert b"broken handler module" in out.stderr
    # Not remembered as loaded: the next command tries again (and says the same).
    assert host_agent._handlers_loaded is False
