"""Collector.poll over replayed WS-Management answers: a good answer becomes a snapshot
with the client's fields, every bad one a reachable:false snapshot with the right kind,
and the events bookmark travels back to the host."""

from __future__ import annotations

import json
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest

from hvconsole.remote.collector import Collector
from hvconsole.remote.target import CancelToken, Target
from scripted_host import wait_until
from wsman_replay import Step, create_step, delete_step, loader_params, receive_answer, steady_steps

EXAMPLE = Path(__file__).resolve().parents[1] / "fixtures" / "contracts" / "example-trace.jsonl"
CLIENT_FIELDS = ("schema", "host", "polled_at", "reachable", "error")
FIXED_NOW = datetime(2026, 11, 25, 9, 0, 1, 250000, tzinfo=timezone.utc)
SLACK_S = 10.0


def host_answer(**changes) -> dict:
    """What collect.ps1 prints: the host part of snapshot-v1 plus the events bookmark."""
    doc = json.loads(EXAMPLE.read_text(encoding="utf-8").splitlines()[0])
    for key in CLIENT_FIELDS:
        doc.pop(key)
    doc["events_bookmark"] = "2026-11-25T08:59:58.000Z"
    doc.update(changes)
    return doc


def answer_steps(doc_or_bytes, *, exit_code: int = 0, stderr: bytes = b"") -> list[Step]:
    data = doc_or_bytes if isinstance(doc_or_bytes, bytes) else json.dumps(doc_or_bytes).encode()
    return steady_steps(data, exit_code=exit_code, stderr=stderr)


def collector(target: Target, **kw) -> Collector:
    return Collector(target, clock=lambda: FIXED_NOW, **kw)


def test_a_good_answer_becomes_a_snapshot_and_the_bookmark_goes_back(replay, snapshot_validator):
    second = host_answer(events_bookmark="2026-11-25T09:00:03.000Z", host="SOMETHING-ELSE")
    server, target = replay([create_step(), *answer_steps(host_answer()), *answer_steps(second), delete_step()])
    c = collector(target, max_events=50, vm_query_timeout_ms=7000)
    first = c.poll()
    assert first.reachable and first.error is None
    assert first.host == "HV-TEST" and first.polled_at == FIXED_NOW
    assert [vm.name for vm in first.vms] == ["DC01", "SQL01", "TEST-LINUX"]
    assert "events_bookmark" not in first.to_dict()
    snapshot_validator.validate(first.to_dict())
    snap2 = c.poll()
    assert snap2.host == "HV-TEST"  # the client owns the host name, whatever the host says
    c.close()
    commands = [r for r, a in zip(server.received, server.actions) if a == "Command"]
    assert loader_params(commands[0]) == {"events_since": None, "max_events": 50, "vm_query_timeout_ms": 7000}
    assert loader_params(commands[1])["events_since"] == "2026-11-25T08:59:58.000Z"
    assert c.events_bookmark == "2026-11-25T09:00:03.000Z"


def test_progress_records_on_stderr_do_not_fail_a_good_poll(replay):
    clixml = (b'#< CLIXML\r\n<Objs Version="1.1.0.1" xmlns="http://schemas.microsoft.com/powershell/2004/04">'
              b'<Obj S="progress" RefId="0"><TN RefId="0"><T>System.Management.Automation.PSCustomObject</T>'
              b'</TN><MS><I64 N="SourceId">1</I64><PR N="Record"><AV>Preparing modules for first use.</AV>'
              b'</PR></MS></Obj></Objs>')
    server, target = replay([create_step(), *answer_steps(host_answer(), stderr=clixml)])
    assert collector(target).poll().reachable


@pytest.mark.parametrize("stdout, exit_code, stderr, kind, words", [
    (json.dumps({"hvc_error": {"message": "Get-VM: access denied", "where": "vms"}}).encode(), 1, b"",
     "script", "collect failed on HV-TEST: Get-VM: access denied (at vms)"),
    (b"", 3, b'#< CLIXML\r\n<Objs Version="1.1.0.1" xmlns="http://schemas.microsoft.com/powershell/2004/04">'
             b'<S S="Error">Get-VM : The operation timed out_x000D__x000A_</S></Objs>',
     "script", "exited with code 3: Get-VM : The operation timed out"),
    (b"\x00\x01 garbage \xff\xfe from the host", 0, b"", "protocol", "is not JSON"),
    (json.dumps(host_answer()).encode()[:700], 0, b"", "protocol", "is not JSON"),
    (b"", 0, b"", "protocol", "is no output"),
    (b"[1, 2, 3]", 0, b"", "protocol", "not a JSON object"),
    (json.dumps(host_answer(vms=[{"id": "x", "name": "VM", "state": None}])).encode(), 0, b"",
     "protocol", "bad field vms[0].state"),
    (json.dumps(host_answer(vm_query="yes")).encode(), 0, b"", "protocol", "bad field vm_query"),
])
def test_bad_answers_become_unreachable_snapshots(replay, snapshot_validator, stdout, exit_code, stderr,
                                                  kind, words):
    server, target = replay([create_step(), *answer_steps(stdout, exit_code=exit_code, stderr=stderr)])
    snap = collector(target).poll()
    assert not snap.reachable
    assert snap.error.kind == kind
    assert words in snap.error.message
    assert snap.vms == () and snap.polled_at == FIXED_NOW
    assert snap.error.elapsed_ms is not None
    snapshot_validator.validate(snap.to_dict())


def test_a_ten_megabyte_answer_is_a_clear_error_not_a_crash(replay, snapshot_validator):
    piece = receive_answer(b"x" * 2**20, done=False)
    steps = [create_step(), *steady_steps(b""), delete_step()]
    steps[2:3] = [Step("Receive", piece) for _ in range(10)]
    server, target = replay(steps)
    c = collector(target)  # default limit: 8 MB
    snap = c.poll()
    c.close()
    assert (snap.reachable, snap.error.kind) == (False, "protocol")
    assert "larger than 8 MB" in snap.error.message
    snapshot_validator.validate(snap.to_dict())


def test_a_hung_host_gives_a_timeout_snapshot_within_the_deadline(replay, snapshot_validator):
    steps = [create_step(), *steady_steps(b""), delete_step()]
    steps[2] = Step("Receive", hang=True)
    server, target = replay(steps)
    c = collector(target, timeout_s=1.0)
    started = time.monotonic()
    snap = c.poll()
    assert time.monotonic() - started < 1.0 + SLACK_S
    c.close()
    assert snap.error.kind == "timeout"
    assert snap.error.message == "no answer from HV-TEST within 1 s"
    snapshot_validator.validate(snap.to_dict())


def test_unreachable_and_cancelled_polls_are_snapshots(closed_port, password, replay):
    down = Target("HV-DOWN", f"http://127.0.0.1:{closed_port}/wsman", "u", password, transport="plaintext")
    snap = collector(down).poll()
    assert (snap.reachable, snap.error.kind, snap.host) == (False, "refused", "HV-DOWN")
    token = CancelToken()
    token.cancel()
    server, target = replay([])
    snap = collector(target).poll(token)
    assert snap.error.kind == "timeout" and "cancelled" in snap.error.message


def test_a_malformed_bookmark_is_ignored_and_the_previous_one_kept(replay):
    steps = [create_step(), *answer_steps(host_answer()), *answer_steps(host_answer(events_bookmark="soon")),
             *answer_steps(host_answer())]
    server, target = replay(steps)
    c = collector(target)
    assert c.poll().reachable and c.poll().reachable and c.poll().reachable
    commands = [r for r, a in zip(server.received, server.actions) if a == "Command"]
    assert loader_params(commands[2])["events_since"] == "2026-11-25T08:59:58.000Z"


def test_close_waits_for_a_running_poll_and_cancel_makes_it_quick(replay):
    answer_now = threading.Event()

    def slow_receive(request: str) -> str:
        answer_now.wait(30)   # a host still working on the command
        return receive_answer(b"", done=False)

    steps = [create_step(), *steady_steps(b""), delete_step()]
    steps[2] = Step("Receive", slow_receive)
    server, target = replay(steps)
    c = collector(target, timeout_s=60)
    token = CancelToken()
    results = []
    worker = threading.Thread(target=lambda: results.append(c.poll(token)))
    worker.start()
    assert wait_until(lambda: "Receive" in server.actions)
    c.close(wait_s=0.1)               # the poll is running: close leaves its session alone
    assert "Delete" not in server.actions
    token.cancel()
    answer_now.set()                  # the Receive returns; the cancel is seen before the next
    worker.join(30)
    assert results and results[0].error.kind == "timeout"
    assert "cancelled" in results[0].error.message
    assert server.actions.count("Receive") == 1
    c.close()
