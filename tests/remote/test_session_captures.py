"""HostSession against WS-Management answers recorded from a real Windows server
(pypsrp's captures), replayed over real HTTP on loopback."""

from __future__ import annotations

import base64
import re

import pytest

from hvconsole.remote import loader
from hvconsole.remote.errors import RemoteError, WSMAN_INVALID_SELECTORS
from hvconsole.remote.session import HostSession
from wsman_replay import Step, load_capture, receive_answer

PARAMS = {"events_since": None, "max_events": 10, "vm_query_timeout_ms": 1000}


def capture_steps(name: str, *, drop_delete: bool = False) -> list[Step]:
    steps = load_capture(name)
    return [s for s in steps if not (drop_delete and s.action == "Delete")]


def test_standard_exchange_opens_a_prepared_shell_and_runs_the_loader(replay):
    server, target = replay(capture_steps("winrs_standard"))
    session = HostSession(target)
    result = session.run_script("collect", PARAMS, timeout_s=20)
    assert (result.stdout, result.stderr, result.exit_code) == ("hi\r\n", "", 0)
    assert server.actions == ["Create", "Command", "Receive", "Signal"]
    assert result.requests == 4 == session.requests_sent

    create, command = server.received[0], server.received[1]
    assert '<w:Option Name="WINRS_CODEPAGE">65001</w:Option>' in create
    assert '<w:Option Name="WINRS_NOPROFILE">TRUE</w:Option>' in create
    env = loader.shell_environment()
    assert f'<rsp:Variable Name="HVC_SCRIPT_COLLECT">{env["HVC_SCRIPT_COLLECT"]}</rsp:Variable>' in create
    assert '<w:Option Name="WINRS_SKIP_CMD_SHELL">TRUE</w:Option>' in command
    assert "<rsp:Command>powershell.exe</rsp:Command>" in command
    # The script body travels in the shell environment, never on the command line.
    assert env["HVC_SCRIPT_COLLECT"] not in command
    session.close()
    assert server.actions[-1] == "Delete"
    assert server.problems == [] and server.remaining == 0


def test_second_call_reuses_the_shell_with_three_requests(replay):
    standard = {s.action: s for s in load_capture("winrs_standard")}
    steps = capture_steps("winrs_standard", drop_delete=True)
    steps += [standard["Command"], Step("Receive", receive_answer(b"again\n")), standard["Signal"]]
    server, target = replay(steps)
    session = HostSession(target)
    session.run_script("collect", PARAMS, timeout_s=20)
    second = session.run_script("collect", PARAMS, timeout_s=20)
    assert second.stdout == "again\n"
    assert second.requests == 3
    assert server.actions == ["Create", "Command", "Receive", "Signal", "Command", "Receive", "Signal"]
    assert server.problems == []


def test_output_in_several_chunks_across_operation_timeouts(replay):
    server, target = replay(capture_steps("winrs_operation_timeout"))
    session = HostSession(target, operation_timeout_s=20)
    result = session.run_script("collect", PARAMS, timeout_s=30)
    # Running with "hi\n", two w:TimedOut faults (retried, not errors), then Done.
    assert result.stdout == "hi\nhi again\n"
    assert server.actions == ["Create", "Command", "Receive", "Receive", "Receive", "Receive", "Signal"]
    # Each Receive asked the host to answer before our own read timeout would fire.
    for request in server.received[2:6]:
        seconds = int(re.search(r"OperationTimeout>PT(\d+)S<", request).group(1))
        assert 1 <= seconds <= 20
    assert server.problems == []


def test_stderr_and_exit_code_are_returned_not_raised(replay):
    server, target = replay(capture_steps("winrs_stderr_rc"))
    result = HostSession(target).run_script("collect", PARAMS, timeout_s=20)
    assert (result.stdout, result.stderr, result.exit_code) == ("out \r\n", "err \r\n", 1)


def test_unicode_output_is_decoded_as_utf8(replay):
    server, target = replay(capture_steps("winrs_unicode"))
    result = HostSession(target).run_script("collect", PARAMS, timeout_s=20)
    assert result.stdout == "こんにちは\n"


def test_a_leading_byte_order_mark_is_stripped(replay):
    steps = capture_steps("winrs_standard", drop_delete=True)
    steps[2] = Step("Receive", receive_answer("\ufeff{\"name\": \"VM-Ü\"}".encode("utf-8"),
                                              "\ufeff".encode("utf-8") + b"warning"))
    server, target = replay(steps)
    result = HostSession(target).run_script("collect", PARAMS, timeout_s=20)
    assert result.stdout == '{"name": "VM-Ü"}'
    assert result.stderr == "warning"


def test_bad_command_id_fault_is_reported_and_the_shell_replaced(replay):
    server, target = replay(capture_steps("winrs_bad_cmd_id"))
    session = HostSession(target)
    with pytest.raises(RemoteError) as caught:
        session.run_script("collect", PARAMS, timeout_s=20)
    err = caught.value
    assert err.kind == "fault"
    assert err.wsman_code == WSMAN_INVALID_SELECTORS
    assert "HV-TEST" in err.message and "2150858843" in err.message
    assert "command identifier that does not exist" in err.message
    assert err.elapsed_ms is not None
    assert not session.has_shell
    session.close()  # waits for the background clean-up of the abandoned shell
    assert sorted(server.actions[3:]) == ["Delete", "Signal"]
    assert server.problems == [] and server.remaining == 0


def test_long_parameters_travel_on_stdin_with_one_send(replay):
    send = load_capture("winrs_send")
    steps = [s for s in send if s.action != "Send"] + [next(s for s in send if s.action == "Send")]
    server, target = replay(steps)
    big = {"events_since": None, "names": ["x" * 40] * 100}
    result = HostSession(target).run_script("collect", big, timeout_s=20)
    assert result.exit_code == 0
    assert server.actions[:4] == ["Create", "Command", "Send", "Receive"]
    command, send_req = server.received[1], server.received[2]
    assert '<w:Option Name="WINRS_CONSOLEMODE_STDIN">FALSE</w:Option>' in command
    assert 'End="true"' in send_req
    expected = loader.prepare_call("collect", big).stdin
    assert expected is not None
    sent = re.search(r'Name="stdin"[^>]*>([^<]+)<', send_req).group(1)
    assert base64.b64decode(sent) == expected


def test_every_shipped_script_fits_in_one_windows_environment_variable():
    # Fails as soon as a script grows past what a real host can carry in its shell
    # environment (the simulated endpoint has no such limit, so nothing else would notice).
    from hvconsole.remote.session import MAX_ENV_VALUE_CHARS, MAX_SHELL_ENV_CHARS
    env = loader.shell_environment()
    assert env, "no shipped scripts"
    for name, value in env.items():
        assert len(value) <= MAX_ENV_VALUE_CHARS, f"{name} is {len(value)} characters encoded"
    assert sum(len(k) + len(v) for k, v in env.items()) <= MAX_SHELL_ENV_CHARS


def test_a_script_too_large_for_windows_is_refused_before_any_request(replay, monkeypatch):
    server, target = replay([])
    monkeypatch.setattr(loader, "shell_environment", lambda scripts=None: {"HVC_SCRIPT_COLLECT": "A" * 40_000})
    with pytest.raises(RemoteError) as caught:
        HostSession(target).run_script("collect", PARAMS, timeout_s=20)
    assert caught.value.kind == "protocol"
    assert "HVC_SCRIPT_COLLECT" in caught.value.message and "32767" in caught.value.message
    assert server.actions == []


def test_a_session_for_some_scripts_carries_only_their_bodies(replay):
    server, target = replay(capture_steps("winrs_standard", drop_delete=True))
    session = HostSession(target, scripts=("collect",))
    session.run_script("collect", PARAMS, timeout_s=20)
    variables = re.findall(r'<rsp:Variable Name="([^"]+)">', server.received[0])
    assert variables == ["HVC_SCRIPT_COLLECT"]
    with pytest.raises(ValueError, match="carries only collect"):
        session.run_script("probe", {}, timeout_s=20)
