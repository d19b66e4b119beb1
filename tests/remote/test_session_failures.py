"""HostSession when things go wrong: deadlines, cancel, faults that need a new shell,
oversized and garbled answers, wrong credentials, nothing listening."""

from __future__ import annotations

import dataclasses
import json
import time

import pytest

from hvconsole.remote.errors import (RemoteError, WSMAN_INVALID_SELECTORS, WSMAN_QUOTA_MAX_OPERATIONS,
                                     WSMAN_QUOTA_MAX_SHELLS)
from hvconsole.remote.session import HostSession
from hvconsole.remote.target import CancelToken
from wsman_replay import Step, create_step, delete_step, fault_answer, receive_answer, steady_steps

PARAMS = {"events_since": None, "max_events": 10, "vm_query_timeout_ms": 1000}
# Deadline tests wait for real; the bound on top of the deadline is generous on purpose
# (a loaded 2-core CI box), it only proves the call does not hang.
SLACK_S = 10.0

QUOTA_FAULT = fault_answer(WSMAN_QUOTA_MAX_OPERATIONS, "w:QuotaLimit",
                           "The WS-Management service cannot process the request. This user is allowed a "
                           "maximum number of 15 concurrent operations, which has been exceeded.")
GONE_FAULT = fault_answer(WSMAN_INVALID_SELECTORS, "w:InvalidSelectors",
                          "The WS-Management service cannot process the request because the request "
                          "contained invalid selectors for the resource.")


def run(session: HostSession, timeout_s: float = 20, **kw):
    return session.run_script("collect", PARAMS, timeout_s=timeout_s, **kw)


def test_hung_receive_times_out_within_the_deadline_and_the_next_call_starts_clean(replay):
    steps = [create_step(), *steady_steps(b"")]
    steps[2] = Step("Receive", hang=True)
    steps += [delete_step(), create_step(), *steady_steps(b'{"ok": 1}'), delete_step()]
    server, target = replay(steps)
    session = HostSession(target)
    started = time.monotonic()
    with pytest.raises(RemoteError) as caught:
        run(session, timeout_s=1.5)
    elapsed = time.monotonic() - started
    assert caught.value.kind == "timeout" and not caught.value.cancelled
    assert caught.value.message == "no answer from HV-TEST within 1.5 s"
    assert elapsed < 1.5 + SLACK_S
    assert not session.has_shell
    result = run(session)
    assert result.stdout == '{"ok": 1}'
    session.close()
    # The abandoned shell was signalled and deleted by the background clean-up.
    assert server.actions.count("Delete") == 2 and server.actions.count("Create") == 2
    assert server.problems == []


def test_cancel_before_the_call_sends_nothing(replay):
    server, target = replay([])
    token = CancelToken()
    token.cancel()
    with pytest.raises(RemoteError) as caught:
        run(HostSession(target), cancel=token)
    assert caught.value.cancelled and caught.value.kind == "timeout"
    assert server.actions == []


def test_cancel_while_output_is_running_stops_at_the_next_request(replay):
    token = CancelToken()

    def running_then_cancel(request: str) -> str:
        token.cancel()  # the caller cancels while this Receive is in flight
        return receive_answer(b"partial", done=False)

    steps = [create_step(), *steady_steps(b"")]
    steps[2] = Step("Receive", running_then_cancel)
    steps += [delete_step()]
    server, target = replay(steps)
    session = HostSession(target)
    with pytest.raises(RemoteError) as caught:
        run(session, cancel=token)
    assert caught.value.cancelled
    assert "cancelled" in caught.value.message
    session.close()
    assert server.actions[:3] == ["Create", "Command", "Receive"]
    assert server.actions.count("Receive") == 1


def test_quota_fault_on_command_retries_once_on_a_new_shell(replay):
    standard = steady_steps(b'{"ok": true}')
    steps = [create_step(), Step("Command", QUOTA_FAULT), delete_step(), create_step(), *standard,
             delete_step()]
    server, target = replay(steps)
    session = HostSession(target)
    result = run(session)
    assert result.stdout == '{"ok": true}'
    session.close()
    assert server.actions.count("Create") == 2
    assert server.problems == []


def test_quota_fault_when_creating_the_shell_is_reported_as_a_fault(replay):
    shells_fault = fault_answer(WSMAN_QUOTA_MAX_SHELLS, "w:QuotaLimit",
                                "This user is allowed a maximum number of 30 concurrent shells, which has been exceeded.")
    server, target = replay([Step("Create", shells_fault)])
    with pytest.raises(RemoteError) as caught:
        run(HostSession(target))
    assert caught.value.kind == "fault"
    assert caught.value.wsman_code == WSMAN_QUOTA_MAX_SHELLS
    assert "concurrent shells" in caught.value.message
    assert server.actions == ["Create"]


def test_shell_gone_on_command_retries_on_a_new_shell_without_deleting_it(replay):
    steps = [create_step(), Step("Command", GONE_FAULT), create_step(), *steady_steps(b"{}")]
    server, target = replay(steps)
    assert run(HostSession(target)).stdout == "{}"
    assert server.actions == ["Create", "Command", "Create", "Command", "Receive", "Signal"]


def test_a_second_shell_fault_in_a_row_is_reported_not_retried_forever(replay):
    steps = [create_step(), Step("Command", GONE_FAULT), create_step(), Step("Command", GONE_FAULT)]
    server, target = replay(steps)
    with pytest.raises(RemoteError) as caught:
        run(HostSession(target))
    assert caught.value.kind == "fault" and caught.value.wsman_code == WSMAN_INVALID_SELECTORS
    assert server.actions == ["Create", "Command", "Create", "Command"]


def test_script_not_loaded_exit_recreates_the_shell_and_retries(replay):
    missing = json.dumps({"hvc_error": {"message": "script HVC_SCRIPT_COLLECT is not loaded in this shell"}})
    first = steady_steps(missing.encode(), exit_code=86)
    steps = [create_step(), *first, delete_step(), create_step(), *steady_steps(b'{"fine": 1}'),
             delete_step()]
    server, target = replay(steps)
    session = HostSession(target)
    result = run(session)
    assert (result.stdout, result.exit_code) == ('{"fine": 1}', 0)
    session.close()
    assert server.actions.count("Create") == 2 and server.problems == []


def test_an_answer_larger_than_the_limit_is_refused_while_streaming(replay):
    megabyte = b"A" * 2**20

    def endless():
        for _ in range(64):  # 64 MB if the client kept reading
            yield megabyte

    steps = [create_step(), *steady_steps(b""), delete_step()]
    steps[2] = Step("Receive", chunks=endless())
    server, target = replay(steps)
    session = HostSession(target, max_output_bytes=2**20)
    with pytest.raises(RemoteError) as caught:
        run(session)
    assert caught.value.kind == "protocol"
    assert "larger than 1 MB" in caught.value.message
    session.close()


def test_output_growing_past_the_limit_over_several_receives_is_refused(replay):
    chunk = b"B" * 300_000
    steps = [create_step(), *steady_steps(b""), delete_step()]
    steps[2:3] = [Step("Receive", receive_answer(chunk, done=False)) for _ in range(5)]
    server, target = replay(steps)
    session = HostSession(target, max_output_bytes=2**20)
    with pytest.raises(RemoteError) as caught:
        run(session)
    assert caught.value.kind == "protocol" and "larger than 1 MB" in caught.value.message
    assert server.actions.count("Receive") == 4  # stopped as soon as the limit was passed
    session.close()


def test_wrong_password_is_auth_and_the_message_never_holds_the_password(replay, password):
    server, target = replay([create_step()])
    wrong = dataclasses.replace(target, password=password[::-1] + "x")
    with pytest.raises(RemoteError) as caught:
        run(HostSession(wrong))
    assert caught.value.kind == "auth"
    assert "HV-TEST" in caught.value.message
    assert wrong.password not in caught.value.message and password not in repr(wrong)


def test_nothing_listening_is_refused(closed_port, password):
    from hvconsole.remote.target import Target
    target = Target("HV-DOWN", f"http://127.0.0.1:{closed_port}/wsman", "u", password, transport="plaintext")
    with pytest.raises(RemoteError) as caught:
        run(HostSession(target))
    assert caught.value.kind == "refused"
    assert "HV-DOWN refused the connection" in caught.value.message


@pytest.mark.parametrize("status, body, expected", [
    (200, "this is not xml", "not XML"),
    (500, "<html>Internal error</html>", "unexpected HTTP 500"),
    (200, "<s:Envelope xmlns:s='http://www.w3.org/2003/05/soap-envelope'><s:Body/></s:Envelope>",
     "unexpected WS-Management answer"),
])
def test_answers_that_are_not_ws_management_are_protocol_errors(replay, status, body, expected):
    server, target = replay([Step("Create", body.encode(), status=status)])
    with pytest.raises(RemoteError) as caught:
        run(HostSession(target))
    assert caught.value.kind == "protocol"
    assert expected in caught.value.message


def test_request_count_includes_every_http_request(replay):
    server, target = replay([create_step(), *steady_steps(b"1"), *steady_steps(b"2"), delete_step()])
    session = HostSession(target)
    run(session)
    run(session)
    session.close()
    assert session.requests_sent == len(server.received) == 8
