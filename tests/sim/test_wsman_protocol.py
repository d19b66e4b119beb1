"""Unmodified pywinrm (Protocol and Session) against the simulated WS-Management endpoint."""

from __future__ import annotations

import re

import pytest
import requests
import winrm
from winrm.exceptions import WinRMOperationTimeoutError, WinRMTransportError, WSManFaultError

from hvconsole.sim.wsman import WsmanEndpoint
from wsman_support import (  # noqa: F401 (fixtures)
    CREATE,
    SHELL,
    Credentials,
    ScriptedRunner,
    creds,
    endpoint,
    make_endpoint,
    make_protocol,
    protocol,
    raw_session,
    runner,
    soap,
)

SHELL_NOT_FOUND = 2150858843


def test_session_run_cmd_round_trip(endpoint: WsmanEndpoint, creds: Credentials) -> None:
    session = winrm.Session(endpoint.url, auth=(creds.username, creds.password),
                            proxy=None, ca_trust_path=None)
    try:
        result = session.run_cmd("cmd.exe", ["/c", "echo", "hi"])
    finally:
        session.protocol.transport.close_session()
    assert (result.status_code, result.std_out, result.std_err) == (0, b"hi\r\n", b"")
    # Create, Command, Receive, Signal, Delete: five requests for one run_cmd.
    assert endpoint.stats.per_action == {"Create": 1, "Command": 1, "Receive": 1, "Signal": 1, "Delete": 1}
    assert endpoint.shells() == []


def test_shell_keeps_environment_codepage_and_noprofile(endpoint: WsmanEndpoint, protocol: winrm.Protocol,
                                                        runner: ScriptedRunner, creds: Credentials) -> None:
    env = {"HVC_SCRIPT_COLLECT": "QUJD", "ODD": "<&'\"> ü"}
    shell_id = protocol.open_shell(env_vars=env, codepage=65001, noprofile=True)
    [info] = endpoint.shells()
    assert (info.shell_id, info.owner, dict(info.environment), info.codepage, info.noprofile) == (
        shell_id, creds.username, env, 65001, True)

    command_id = protocol.run_command(shell_id, "cmd.exe", ["/c set"])
    out, err, code = protocol.get_command_output(shell_id, command_id)
    lines = out.decode("utf-8").splitlines()
    assert "HVC_SCRIPT_COLLECT=QUJD" in lines and "ODD=<&'\"> ü" in lines
    assert runner.started[-1].env == env and runner.started[-1].codepage == 65001

    command_id = protocol.run_command(shell_id, "powershell.exe", ["Write-Host こんにちは"])
    out, _, _ = protocol.get_command_output(shell_id, command_id)
    assert out == "こんにちは\n".encode("utf-8")
    protocol.cleanup_command(shell_id, command_id)
    protocol.close_shell(shell_id)
    assert endpoint.shells() == []


def test_default_codepage_is_437(endpoint: WsmanEndpoint, protocol: winrm.Protocol, runner: ScriptedRunner) -> None:
    shell_id = protocol.open_shell()
    command_id = protocol.run_command(shell_id, "powershell.exe", ["Write-Host Jürgen"])
    out, _, _ = protocol.get_command_output(shell_id, command_id)
    assert runner.started[-1].codepage == 437
    assert out == "Jürgen\n".encode("cp437")


def test_send_command_input_reaches_stdin(protocol: winrm.Protocol, runner: ScriptedRunner) -> None:
    shell_id = protocol.open_shell()
    command_id = protocol.run_command(shell_id, "cmd.exe", ["/c type con"])
    protocol.send_command_input(shell_id, command_id, b"first ")
    first, _, _, done = protocol.get_command_output_raw(shell_id, command_id)
    assert (first, done) == (b"first ", False)
    protocol.send_command_input(shell_id, command_id, b"second", end=True)
    out, _, code = protocol.get_command_output(shell_id, command_id)
    assert (out, code) == (b"second", 0)
    assert bytes(runner.processes[-1].stdin_received) == b"first second"


def test_running_then_done_over_several_receives(protocol: winrm.Protocol, runner: ScriptedRunner) -> None:
    shell_id = protocol.open_shell()
    command_id = protocol.run_command(shell_id, "cmd.exe", ["/c echo one && sim-gate g && echo two && exit 7"])
    out1, err1, code1, done1 = protocol.get_command_output_raw(shell_id, command_id)
    assert (out1, err1, code1, done1) == (b"one \r\n", b"", -1, False)   # cmd keeps the space
    runner.gate("g").set()
    out2, err2, code2, done2 = protocol.get_command_output_raw(shell_id, command_id)
    assert (out2, code2, done2) == (b"two \r\n", 7, True)


def test_operation_timeout_fault_then_success(endpoint: WsmanEndpoint, make_protocol, runner: ScriptedRunner) -> None:
    protocol = make_protocol(endpoint, operation_timeout_sec=1, read_timeout_sec=10)
    shell_id = protocol.open_shell()
    command_id = protocol.run_command(shell_id, "cmd.exe", ["/c sim-gate slow && echo late"])
    with pytest.raises(WinRMOperationTimeoutError):
        protocol.get_command_output_raw(shell_id, command_id)
    runner.gate("slow").set()
    assert protocol.get_command_output(shell_id, command_id) == (b"late\r\n", b"", 0)


def test_stderr_and_exit_code(protocol: winrm.Protocol) -> None:
    shell_id = protocol.open_shell()
    command_id = protocol.run_command(shell_id, "cmd.exe", ["/c echo out && echo err>&2 && exit 3"])
    assert protocol.get_command_output(shell_id, command_id) == (b"out \r\n", b"err \r\n", 3)


def test_large_output_spans_streams_and_receives(endpoint: WsmanEndpoint, protocol: winrm.Protocol) -> None:
    size = 600_000       # > 153,600-byte MaxEnvelopeSize several times over, even before base64
    shell_id = protocol.open_shell()
    command_id = protocol.run_command(shell_id, "cmd.exe", [f"/c sim-big {size}"])
    receives = 0
    collected = b""
    done = False
    while not done:
        out, _, code, done = protocol.get_command_output_raw(shell_id, command_id)
        collected += out
        receives += 1
        assert receives < 100
    assert len(collected) == size and code == 0
    assert collected[:36] == b"0123456789abcdefghijklmnopqrstuvwxyz"
    # base64 makes 800 kB; at most ~150 kB of it fits one reply.
    assert receives >= 6


def test_replies_respect_the_requested_max_envelope_size(endpoint: WsmanEndpoint,
                                                        raw_session: requests.Session) -> None:
    def post(body: bytes) -> str:
        reply = raw_session.post(endpoint.url, data=body, timeout=30)
        assert reply.status_code == 200
        return reply.text

    shell_id = re.search(r'Name="ShellId">([^<]+)<', post(soap(CREATE, "<rsp:Shell/>"))).group(1)
    command = post(soap(f"{SHELL}/Command", "<rsp:CommandLine><rsp:Command>cmd.exe</rsp:Command>"
                                            "<rsp:Arguments>/c sim-big 100000</rsp:Arguments></rsp:CommandLine>",
                        shell_id=shell_id))
    command_id = re.search(r"<rsp:CommandId>([^<]+)<", command).group(1)
    receive = f'<rsp:Receive><rsp:DesiredStream CommandId="{command_id}">stdout stderr</rsp:DesiredStream></rsp:Receive>'

    small = post(soap(f"{SHELL}/Receive", receive, shell_id=shell_id, max_envelope=8192))
    assert len(small.encode()) <= 8192 and "CommandState/Running" in small and 'End="true"' not in small
    large = post(soap(f"{SHELL}/Receive", receive, shell_id=shell_id))
    # The rest (~93 kB) fits one default envelope: several Stream elements, then End and Done.
    assert len(large.encode()) <= 153600 and "CommandState/Done" in large
    assert large.count('<rsp:Stream Name="stdout"') >= 3 and large.count('End="true"') == 2


def test_cleanup_command_then_receive_is_the_bad_command_fault(protocol: winrm.Protocol) -> None:
    shell_id = protocol.open_shell()
    command_id = protocol.run_command(shell_id, "cmd.exe", ["/c echo hi"])
    protocol.get_command_output(shell_id, command_id)
    protocol.cleanup_command(shell_id, command_id)
    with pytest.raises(WSManFaultError) as caught:
        protocol.get_command_output_raw(shell_id, command_id)
    assert caught.value.wsman_fault_code == SHELL_NOT_FOUND
    assert caught.value.fault_subcode == "w:InvalidSelectors"
    assert "command identifier that does not exist" in caught.value.response


def test_signal_terminates_a_running_process(protocol: winrm.Protocol, runner: ScriptedRunner) -> None:
    shell_id = protocol.open_shell()
    command_id = protocol.run_command(shell_id, "cmd.exe", ["/c sim-gate never"])
    protocol.cleanup_command(shell_id, command_id)
    assert runner.processes[-1].terminated


def test_closed_shell_is_the_invalid_selectors_fault(endpoint: WsmanEndpoint, protocol: winrm.Protocol,
                                                     runner: ScriptedRunner) -> None:
    shell_id = protocol.open_shell()
    protocol.run_command(shell_id, "cmd.exe", ["/c sim-gate never"])
    protocol.close_shell(shell_id, close_session=False)
    assert runner.processes[-1].terminated          # Delete ends the shell's processes
    with pytest.raises(WSManFaultError) as caught:
        protocol.run_command(shell_id, "cmd.exe", ["/c echo hi"])
    assert caught.value.wsman_fault_code == SHELL_NOT_FOUND
    assert f"ShellId {shell_id} failed because the shell was not found" in caught.value.response


def test_command_line_limit(protocol: winrm.Protocol, runner: ScriptedRunner) -> None:
    shell_id = protocol.open_shell()
    fits = "/c echo " + "x" * (8191 - len("cmd.exe /c echo "))
    command_id = protocol.run_command(shell_id, "cmd.exe", [fits])
    out, _, code = protocol.get_command_output(shell_id, command_id)
    assert code == 0 and len(runner.started) == 1 and len(runner.started[0].command_line) == 8191

    command_id = protocol.run_command(shell_id, "cmd.exe", [fits + "x"])
    assert protocol.get_command_output(shell_id, command_id) == (b"", b"The command line is too long.\r\n", 1)
    assert len(runner.started) == 1                # the runner never saw it


def test_shell_quota_per_user(endpoint: WsmanEndpoint, protocol: winrm.Protocol) -> None:
    shells = [protocol.open_shell() for _ in range(30)]
    with pytest.raises(WSManFaultError) as caught:
        protocol.open_shell()
    assert caught.value.wsman_fault_code == 2150859173
    assert caught.value.fault_subcode == "w:QuotaLimit"
    assert "maximum number of 30 concurrent shells" in caught.value.response
    protocol.close_shell(shells.pop(), close_session=False)
    shells.append(protocol.open_shell())
    assert len(endpoint.shells()) == 30


def test_operations_quota_is_released_only_by_deleting_the_shell(make_endpoint, make_protocol) -> None:
    endpoint = make_endpoint(max_operations_per_user=4)
    protocol = make_protocol(endpoint)
    shell_id = protocol.open_shell()                # 1 operation
    for _ in range(3):                               # 3 more
        command_id = protocol.run_command(shell_id, "cmd.exe", ["/c echo hi"])
        protocol.get_command_output(shell_id, command_id)
        protocol.cleanup_command(shell_id, command_id)
    with pytest.raises(WSManFaultError) as caught:
        protocol.run_command(shell_id, "cmd.exe", ["/c echo hi"])
    assert caught.value.wsman_fault_code == 2150859174
    protocol.close_shell(shell_id, close_session=False)
    fresh = protocol.open_shell()
    protocol.run_command(fresh, "cmd.exe", ["/c echo hi"])


class SteppedClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_shell_past_its_run_time_answers_a_bare_400_to_every_request(make_endpoint, make_protocol) -> None:
    """MaxShellRunTime (8 h by default, scaled here): the shell ends however busy it is,
    every later request naming it gets HTTP 400 with no fault, its operations are given
    back, and a new shell works."""
    clock = SteppedClock()
    endpoint = make_endpoint(max_shell_run_time_s=100.0, max_operations_per_user=3, clock=clock)
    protocol = make_protocol(endpoint)
    old = protocol.open_shell()
    protocol.run_command(old, "cmd.exe", ["/c echo hi"])
    clock.now += 99
    protocol.run_command(old, "cmd.exe", ["/c echo hi"])        # still inside its run time
    clock.now += 1
    for call in (lambda: protocol.run_command(old, "cmd.exe", ["/c echo hi"]),
                 lambda: protocol.close_shell(old, close_session=False)):
        with pytest.raises(WinRMTransportError) as caught:
            call()
        assert caught.value.code == 400 and caught.value.response_text == ""
    assert endpoint.shells() == []
    assert endpoint.stats.get("expired_shell_requests") == 2
    fresh = protocol.open_shell()                             # the quota of 3 is free again
    protocol.run_command(fresh, "cmd.exe", ["/c echo hi"])
    protocol.run_command(fresh, "cmd.exe", ["/c echo hi"])


def test_idle_shells_expire_after_the_advertised_idle_timeout(make_endpoint, make_protocol) -> None:
    clock = SteppedClock()
    endpoint = make_endpoint(clock=clock)
    protocol = make_protocol(endpoint)
    kept = protocol.open_shell()
    idle = protocol.open_shell()
    clock.now += 7000
    protocol.run_command(kept, "cmd.exe", ["/c echo hi"])      # keeps `kept` alive
    clock.now += 201                                           # `idle` now idle 7,201 s
    with pytest.raises(WSManFaultError) as caught:
        protocol.run_command(idle, "cmd.exe", ["/c echo hi"])
    assert caught.value.wsman_fault_code == SHELL_NOT_FOUND
    protocol.run_command(kept, "cmd.exe", ["/c echo hi"])
    assert [s.shell_id for s in endpoint.shells()] == [kept]


def test_client_requested_idle_timeout_is_honoured(make_endpoint, make_protocol) -> None:
    clock = SteppedClock()
    endpoint = make_endpoint(clock=clock)
    protocol = make_protocol(endpoint)
    shell_id = protocol.open_shell(idle_timeout="PT60S")
    clock.now += 61
    with pytest.raises(WSManFaultError):
        protocol.run_command(shell_id, "cmd.exe", ["/c echo hi"])


def test_reset_shells_is_like_a_reboot(endpoint: WsmanEndpoint, protocol: winrm.Protocol,
                                       runner: ScriptedRunner) -> None:
    shell_id = protocol.open_shell()
    protocol.run_command(shell_id, "cmd.exe", ["/c sim-gate never"])
    endpoint.reset_shells()
    assert runner.processes[-1].terminated
    with pytest.raises(WSManFaultError) as caught:
        protocol.run_command(shell_id, "cmd.exe", ["/c echo hi"])
    assert caught.value.wsman_fault_code == SHELL_NOT_FOUND


def test_runner_failure_is_a_plugin_fault(make_endpoint, make_protocol) -> None:
    class BrokenRunner:
        def start(self, command_line, env, codepage):
            raise RuntimeError("boom")

    endpoint = make_endpoint(runner=BrokenRunner())
    protocol = make_protocol(endpoint)
    shell_id = protocol.open_shell()
    with pytest.raises(WSManFaultError) as caught:
        protocol.run_command(shell_id, "cmd.exe", ["/c echo hi"])
    assert caught.value.wsman_fault_code == 2150858755
