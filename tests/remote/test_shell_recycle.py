"""The polling shell's two Windows limits, client side (remote/session.py, "Shell
recycling"): every command holds one of the user's operations until the shell is deleted
(1,500 by default), and a shell ends after MaxShellRunTime (8 h), after which the host
answers a bare HTTP 400. The session replaces its shell before either bites, and takes a
bare 400 to the Command of a used shell as "shell gone". Proven end to end against the
simulated endpoint, which models both limits (sim/wsman/shells.py), and request by request
against the replay server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from scripted_host import Answer, ScriptedRunner, good_answer
from wsman_replay import Step, create_step, delete_step, fault_answer, steady_steps

from hvconsole.remote.collector import Collector
from hvconsole.remote.errors import WSMAN_INVALID_SELECTORS, RemoteError
from hvconsole.remote.session import RECYCLE_AFTER_COMMANDS, HostSession
from hvconsole.sim.wsman.shells import MAX_OPERATIONS_PER_USER, MAX_SHELL_RUN_TIME_S

EXAMPLE = Path(__file__).resolve().parents[1] / "fixtures" / "contracts" / "example-trace.jsonl"
PARAMS = {"events_since": None, "max_events": 10, "vm_query_timeout_ms": 1000}


def host_doc() -> dict:
    doc = json.loads(EXAMPLE.read_text(encoding="utf-8").splitlines()[0])
    for key in ("schema", "host", "polled_at", "reachable", "error"):
        doc.pop(key)
    return doc


def runner() -> ScriptedRunner:
    return ScriptedRunner(lambda params: good_answer(host_doc()))


class SteppedClock:
    """One clock for the host and the client: polls every ``step`` seconds, instantly."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def run(session: HostSession, timeout_s: float = 20):
    return session.run_script("collect", PARAMS, timeout_s=timeout_s)


# -- end to end against the simulated host ----------------------------------------------

@pytest.mark.slow
def test_thousands_of_polls_cross_the_operations_quota_without_a_fault(scripted_endpoint):
    """Windows' defaults on both sides: 1,600 polls are more than the host's
    1,500-operation quota. The shell is replaced after its 1,000th command, so the host
    never answers a quota fault and no poll is lost or retried."""
    endpoint, target = scripted_endpoint(ScriptedRunner(lambda params: Answer([b"{}"])))
    session = HostSession(target)
    polls = MAX_OPERATIONS_PER_USER + 100
    for i in range(polls):
        assert run(session).stdout == "{}", i
    assert endpoint.stats.get("faults") == 0
    recycles = (polls - 1) // RECYCLE_AFTER_COMMANDS
    assert endpoint.stats.per_action["Create"] == 1 + recycles
    assert endpoint.stats.per_action["Delete"] == recycles
    # A steady poll is 3 requests; one that recycles 2 more (Delete, Create), one fewer
    # than the quota fault's retry cost (Command, Delete, Create).
    assert session.requests_sent == 1 + 3 * polls + 2 * recycles
    assert len(endpoint.shells()) == 1
    session.close()


def test_polls_cross_a_scaled_quota_many_times_and_none_is_unreachable(scripted_endpoint):
    endpoint, target = scripted_endpoint(runner(), max_operations_per_user=12)
    c = Collector(target, timeout_s=20)
    c.session.recycle_after_commands = 8
    for i in range(100):
        snap = c.poll()
        assert snap.reachable, (i, snap.error)
    assert endpoint.stats.get("faults") == 0
    assert endpoint.stats.per_action["Create"] == 13        # 1 + 99 // 8
    c.close()


def test_slow_polls_replace_the_shell_hourly_and_never_meet_the_8_hour_end(scripted_endpoint):
    """At one poll every 5 minutes a shell would reach the host's 8 h MaxShellRunTime long
    before its quota; host and client share a clock here, so 10 h pass in a second."""
    clock = SteppedClock()
    endpoint, target = scripted_endpoint(runner(), clock=clock)
    session = HostSession(target, clock=clock)
    for i in range(10 * 12):
        assert run(session).exit_code == 0, i
        clock.now += 300
    assert endpoint.stats.get("faults") == 0
    assert endpoint.stats.get("expired_shell_requests") == 0
    assert endpoint.stats.per_action["Create"] == 10           # one new shell an hour
    session.close()


@pytest.mark.parametrize("auth", ["basic", "ntlm"])
def test_a_shell_past_its_run_time_answers_400_and_the_poll_still_succeeds(scripted_endpoint, auth):
    """The host's 8 h shell end, with the client's own recycling out of the way (a host
    whose MaxShellRunTime is shorter than the client's hour behaves the same). Over NTLM
    the bare 400 comes unsealed, on the kept connection."""
    clock = SteppedClock()
    endpoint, target = scripted_endpoint(runner(), auth=auth, clock=clock)
    c = Collector(target, timeout_s=20)
    c.session.recycle_after_s = 10 * MAX_SHELL_RUN_TIME_S
    for i in range(9):                      # one poll an hour keeps the shell from idling out
        snap = c.poll()
        assert snap.reachable, (i, snap.error)
        clock.now += 3600
    assert endpoint.stats.per_action["Create"] == 2
    assert endpoint.stats.per_action["Command"] == 10               # the 9th poll's twice
    c.close()
    # The 9th poll's first Command, and the ended shell's Delete in the background.
    assert endpoint.stats.get("expired_shell_requests") == 2
    assert endpoint.shells() == []


# -- request by request ---------------------------------------------------------------

BAD_REQUEST = Step("Command", b"", status=400)


def test_the_call_after_the_last_allowed_command_deletes_then_creates(replay):
    steps = [create_step(), *steady_steps(b"1"), *steady_steps(b"2"), delete_step(), create_step(),
             *steady_steps(b"3")]
    server, target = replay(steps)
    session = HostSession(target, recycle_after_commands=2)
    assert [run(session).stdout for _ in range(3)] == ["1", "2", "3"]
    assert server.actions == ["Create", *["Command", "Receive", "Signal"] * 2, "Delete", "Create",
                              "Command", "Receive", "Signal"]
    assert server.problems == []


def test_a_failed_delete_of_a_recycled_shell_costs_the_poll_nothing(replay):
    gone = fault_answer(WSMAN_INVALID_SELECTORS, "w:InvalidSelectors", "the shell was not found")
    steps = [create_step(), *steady_steps(b"1"), Step("Delete", gone), Step("Delete", gone), create_step(),
             *steady_steps(b"2")]
    server, target = replay(steps)
    clock = SteppedClock()
    session = HostSession(target, clock=clock)
    assert run(session).stdout == "1"
    clock.now += 3600
    assert run(session).stdout == "2"
    session.close()
    assert server.actions.count("Create") == 2


def test_a_bare_400_to_a_used_shells_command_retries_on_a_new_shell(replay):
    steps = [create_step(), *steady_steps(b"1"), BAD_REQUEST, create_step(), *steady_steps(b"2"),
             Step("Delete", b"", status=400), delete_step()]
    server, target = replay(steps)
    session = HostSession(target)
    assert run(session).stdout == "1"
    assert run(session).stdout == "2"
    session.close()
    assert server.actions.count("Create") == 2
    assert server.problems == []


def test_a_bare_400_on_a_new_shell_is_a_bad_request_in_words(replay):
    steps = [create_step(), BAD_REQUEST]
    server, target = replay(steps)
    with pytest.raises(RemoteError) as caught:
        run(HostSession(target))
    assert caught.value.kind == "protocol"
    assert caught.value.message == "HV-TEST gave an unexpected HTTP 400 answer that is not a WS-Management fault"
    assert server.actions[:2] == ["Create", "Command"]
    assert server.actions.count("Create") == 1


def test_a_second_400_in_a_row_is_reported_not_retried_forever(replay):
    steps = [create_step(), *steady_steps(b"1"), BAD_REQUEST, create_step(), BAD_REQUEST,
             delete_step(), delete_step()]
    server, target = replay(steps)
    session = HostSession(target)
    assert run(session).stdout == "1"
    with pytest.raises(RemoteError) as caught:
        run(session)
    assert caught.value.kind == "protocol" and "HTTP 400" in caught.value.message
    assert server.actions.count("Command") == 3 and server.actions.count("Create") == 2
