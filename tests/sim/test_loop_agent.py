"""The host agent's collect loop (docs/winrm.md, "The collect loop"): the loop form of the
loader is recognised, and the process answers request lines one by one with the collect
handler's stdout, ends at its limits, and says so for a line that is not a request."""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, datetime

import pytest

from hvconsole.remote.loader import prepare_call, prepare_loop_call, request_line, shell_environment
from hvconsole.sim.agent import host_agent
from hvconsole.sim.agent.host_agent import (
    BAD_LINE_ANSWER,
    EXIT_BAD_LINE,
    EXIT_TERMINATED,
    LOOP_IDLE_EXIT_S,
    HostAgent,
    LoopProcess,
    interpret,
)
from hvconsole.sim.model import LoadProfile, SimHost, SimSite, SimVM
from hvconsole.sim.model.clock import SimClock

START = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
PARAMS = {"events_since": None, "max_events": 50, "vm_query_timeout_ms": 2000}


@pytest.fixture
def site() -> SimSite:
    site = SimSite(SimClock.manual(START), seed=3)
    host = site.add_host(SimHost("HV01"))
    host.add_vm(SimVM("DC01", str(uuid.UUID(int=1)), load=LoadProfile(5, 3)))
    host.add_vm(SimVM("FS01", str(uuid.UUID(int=2)), state="Off"))
    return site


@pytest.fixture
def agent(site: SimSite) -> HostAgent:
    return HostAgent(site.host("HV01"), site, latency_scale=0.0)


def loop_line() -> str:
    call = prepare_loop_call("collect")
    return f"{call.command} {call.arguments}"


def start_loop(agent: HostAgent) -> LoopProcess:
    process = agent.start(loop_line(), shell_environment(("collect",)), 65001)
    assert isinstance(process, LoopProcess)
    return process


def read_all(process, rounds: int = 4) -> tuple[bytes, bool, int | None]:
    out = b""
    done, code = False, None
    for _ in range(rounds):
        got = process.read(0.0)
        out += got.stdout
        if got.done:
            done, code = True, got.exit_code
            break
    return out, done, code


def test_the_loop_loader_is_recognised_and_only_the_env_var_differs() -> None:
    call = interpret(loop_line())
    assert call.loop and call.env_var == "HVC_SCRIPT_COLLECT" and call.inline_params is None
    one_shot = interpret(f"{prepare_call('collect', PARAMS).command} {prepare_call('collect', PARAMS).arguments}")
    assert not one_shot.loop


def test_each_line_is_answered_with_the_one_shot_answer(agent: HostAgent) -> None:
    one_shot = agent.execute(f"{prepare_call('collect', PARAMS).command} {prepare_call('collect', PARAMS).arguments}",
                             shell_environment(("collect",)))
    process = start_loop(agent)
    for seq in (1, 2, 3):
        process.write_stdin(request_line(seq, PARAMS), end=False)
        out, done, _ = read_all(process)
        assert not done
        number, _, answer = out.partition(b" ")
        assert number == str(seq).encode() and answer.endswith(b"\n") and answer.count(b"\n") == 1
        # Opaque text (the handler's form, whatever it is), the same as the one-shot answer.
        assert answer.strip() == one_shot.stdout.strip()
    process.write_stdin(b"", end=True)
    assert read_all(process)[1:] == (True, 0)


def test_two_lines_in_one_send_get_two_answers_in_order(agent: HostAgent) -> None:
    process = start_loop(agent)
    process.write_stdin(request_line(1, PARAMS) + request_line(2, PARAMS).replace(b"\n", b"\r\n"), end=False)
    out, _, _ = read_all(process)
    assert [line.split(b" ", 1)[0] for line in out.splitlines()] == [b"1", b"2"]


def test_a_failed_poll_is_answered_and_the_loop_goes_on(agent: HostAgent) -> None:
    process = start_loop(agent)
    bad_params = base64.b64encode(b"[1,2]").decode()
    process.write_stdin(f"1 {bad_params}\n".encode(), end=False)
    out, done, _ = read_all(process)
    assert out.startswith(b"1 ") and b"hvc_error" in out and not done
    process.write_stdin(request_line(2, PARAMS), end=False)
    out = read_all(process)[0]
    assert out.startswith(b"2 ") and b"hvc_error" not in out


@pytest.mark.parametrize("line", [b"hello\n", b"1 not*base64\n", b"0 e30=\n", b"1\n", b"99999999999 e30=\n"])
def test_a_bad_line_is_answered_and_ends_the_loop_with_exit_2(agent: HostAgent, line: bytes) -> None:
    process = start_loop(agent)
    process.write_stdin(line, end=False)
    assert read_all(process) == (BAD_LINE_ANSWER, True, EXIT_BAD_LINE)


def test_it_ends_after_its_last_answer(agent: HostAgent, monkeypatch) -> None:
    monkeypatch.setattr(host_agent, "LOOP_MAX_ANSWERS", 3)
    process = start_loop(agent)
    for seq in (1, 2):
        process.write_stdin(request_line(seq, PARAMS), end=False)
        assert read_all(process)[1] is False
    process.write_stdin(request_line(3, PARAMS), end=False)
    out, done, code = read_all(process)
    assert out.startswith(b"3 ") and done and code == 0


def test_it_ends_after_an_hour_answering_that_line_first(agent: HostAgent, site: SimSite) -> None:
    process = start_loop(agent)
    process.write_stdin(request_line(1, PARAMS), end=False)
    read_all(process)
    for _ in range(40):     # keep it busy (never idle) past its hour
        site.clock.advance(100)
        process.write_stdin(request_line(2, PARAMS), end=False)
        out, done, code = read_all(process)
        if done:
            break
    assert out.startswith(b"2 ") and done and code == 0
    assert site.clock.elapsed() >= host_agent.LOOP_MAX_AGE_S


def test_it_exits_when_no_line_came_for_two_minutes(agent: HostAgent, site: SimSite) -> None:
    process = start_loop(agent)
    process.write_stdin(request_line(1, PARAMS), end=False)
    read_all(process)
    site.clock.advance(LOOP_IDLE_EXIT_S - 1)
    assert read_all(process)[1] is False
    site.clock.advance(1)
    assert read_all(process) == (b"", True, 0)
    process.write_stdin(request_line(2, PARAMS), end=False)     # too late: nobody reads it
    assert read_all(process) == (b"", True, 0)


def test_terminate_ends_it(agent: HostAgent) -> None:
    process = start_loop(agent)
    process.terminate()
    assert read_all(process) == (b"", True, EXIT_TERMINATED)


def test_an_agent_without_a_loop_fails_like_powershell_for_an_unknown_parameter(agent: HostAgent) -> None:
    agent.serves_loop = False
    process = agent.start(loop_line(), shell_environment(("collect",)), 65001)
    assert not isinstance(process, LoopProcess)
    got = process.read(1.0)
    assert got.done and got.exit_code == 1 and b"HvcLoop" in got.stderr and got.stdout == b""


def test_only_the_collect_script_has_a_loop(agent: HostAgent) -> None:
    call = prepare_loop_call("probe")
    process = agent.start(f"{call.command} {call.arguments}", shell_environment(("probe",)), 65001)
    assert not isinstance(process, LoopProcess)
    assert process.read(1.0).exit_code == 1


def test_a_poll_that_abandoned_its_vm_query_is_answered_and_ends_the_loop(agent: HostAgent, site: SimSite) -> None:
    # collect.ps1's loop returns after answering a poll whose Get-VM timed out: the query's
    # thread may never come back, so the next poll gets a new process (exit code 0).
    process = start_loop(agent)
    process.write_stdin(request_line(1, PARAMS), end=False)
    assert read_all(process)[1] is False
    site.host("HV01").vmms_wedged = True
    process.write_stdin(request_line(2, PARAMS), end=False)
    out, done, code = read_all(process)
    assert out.startswith(b"2 ") and out.endswith(b"\n") and done and code == 0
    process.write_stdin(request_line(3, PARAMS), end=False)     # the process has ended
    assert read_all(process) == (b"", True, 0)


def test_a_vmms_that_is_only_starting_does_not_end_the_loop(agent: HostAgent, site: SimSite) -> None:
    # Get-VM failing at once is an answer, not an abandoned query: the loop goes on.
    site.host("HV01").stop_vmms()
    process = start_loop(agent)
    process.write_stdin(request_line(1, PARAMS), end=False)
    assert read_all(process)[1] is False
