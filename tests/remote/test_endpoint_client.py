"""The real client against the simulated WS-Management endpoint (hvconsole.sim.wsman),
with a scripted host behind it: request counts, NTLM with message encryption, TLS, every
fault mode, and host output that is garbage, truncated or far too large."""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path

import pytest

from hvconsole.remote.collector import Collector
from hvconsole.remote.session import HostSession
from scripted_host import Answer, ScriptedRunner, good_answer, wait_until

EXAMPLE = Path(__file__).resolve().parents[1] / "fixtures" / "contracts" / "example-trace.jsonl"
SLACK_S = 10.0


def host_doc(bookmark: str = "2026-11-25T09:00:00.000Z") -> dict:
    doc = json.loads(EXAMPLE.read_text(encoding="utf-8").splitlines()[0])
    for key in ("schema", "host", "polled_at", "reachable", "error"):
        doc.pop(key)
    doc["events_bookmark"] = bookmark
    return doc


def always(answer_factory):
    return ScriptedRunner(lambda params: answer_factory())


@pytest.mark.parametrize("auth", ["basic", "ntlm"])
def test_steady_state_poll_is_three_http_requests(scripted_endpoint, snapshot_validator, auth):
    runner = always(lambda: good_answer(host_doc()))
    endpoint, target = scripted_endpoint(runner, auth=auth)
    c = Collector(target, timeout_s=20)
    first = c.poll()
    assert first.reachable, first.error
    snapshot_validator.validate(first.to_dict())
    for _ in range(3):
        before_server = endpoint.stats.requests_total
        before_client = c.session.requests_sent
        snap = c.poll()
        assert snap.reachable
        assert endpoint.stats.requests_total - before_server == 3
        assert c.session.requests_sent - before_client == 3
    assert endpoint.stats.per_action["Create"] == 1
    # Every call ran the loader on a UTF-8 shell that carries the script body.
    assert set(runner.codepages) == {65001}
    info = endpoint.shells()[0]
    assert info.noprofile and set(info.environment) == {"HVC_SCRIPT_COLLECT"}
    c.close()
    assert endpoint.shells() == []


def test_ntlm_first_poll_pays_the_handshake_once(scripted_endpoint):
    endpoint, target = scripted_endpoint(always(lambda: good_answer(host_doc())), auth="ntlm")
    c = Collector(target, timeout_s=20)
    assert c.poll().reachable
    # Negotiate + Authenticate (+ the empty POST that starts encryption), Create, then the call.
    assert endpoint.stats.requests_total == c.session.requests_sent
    assert endpoint.stats.requests_total > 4
    c.close()


def test_output_in_many_pieces_and_the_bookmark_round_trip(scripted_endpoint):
    bookmarks = iter(["2026-11-25T09:00:01.000Z", "2026-11-25T09:00:06.000Z"])
    runner = ScriptedRunner(lambda params: good_answer(host_doc(next(bookmarks)), pieces=7))
    endpoint, target = scripted_endpoint(runner)
    c = Collector(target)
    assert c.poll().reachable and c.poll().reachable
    c.close()
    assert [p["events_since"] for p in runner.calls] == [None, "2026-11-25T09:00:01.000Z"]


@pytest.mark.parametrize("answer, kind, words", [
    (Answer([b"\x00\x9f garbage \xff"]), "protocol", "is not JSON"),
    (Answer([json.dumps(host_doc()).encode()[:500]]), "protocol", "is not JSON"),
    (Answer([b'{"hvc_error": {"message": "Get-VM failed: Access denied."}}'], exit_code=1),
     "script", "Get-VM failed: Access denied."),
    (Answer([b""], stderr=b"powershell.exe crashed", exit_code=-1073741819),
     "script", "exited with code -1073741819: powershell.exe crashed"),
])
def test_bad_host_output_gives_a_clear_error_snapshot(scripted_endpoint, snapshot_validator, answer, kind, words):
    endpoint, target = scripted_endpoint(ScriptedRunner(lambda params: dataclasses.replace(answer)))
    c = Collector(target)
    snap = c.poll()
    c.close()
    assert (snap.reachable, snap.error.kind) == (False, kind)
    assert words in snap.error.message
    snapshot_validator.validate(snap.to_dict())


def test_a_ten_megabyte_answer_is_refused_without_holding_it(scripted_endpoint, snapshot_validator):
    ten_mb = Answer([b"[" + b"0," * (5 * 2**20) + b"0]"])
    endpoint, target = scripted_endpoint(always(lambda: dataclasses.replace(ten_mb)))
    c = Collector(target, timeout_s=60)
    snap = c.poll()
    assert (snap.reachable, snap.error.kind) == (False, "protocol")
    assert "larger than 8 MB" in snap.error.message
    snapshot_validator.validate(snap.to_dict())
    c.close()
    assert wait_until(lambda: endpoint.shells() == [])   # the abandoned shell was deleted


def test_a_wedged_process_times_out_and_is_cleaned_up(scripted_endpoint):
    endpoint, target = scripted_endpoint(always(lambda: Answer(never_ends=True)))
    c = Collector(target, timeout_s=2.2, operation_timeout_s=1)
    started = time.monotonic()
    snap = c.poll()
    assert time.monotonic() - started < 2.2 + SLACK_S
    assert snap.error.kind == "timeout" and "within 2.2 s" in snap.error.message
    # Receives were answered with operation timeouts and retried until the deadline.
    assert endpoint.stats.per_action["Receive"] >= 2
    c.close()
    assert wait_until(lambda: endpoint.shells() == [])


def test_script_not_loaded_recreates_the_shell(scripted_endpoint):
    runner = always(lambda: good_answer(host_doc()))
    endpoint, target = scripted_endpoint(runner)
    session = HostSession(target)
    session.run_script("collect", {"x": 1}, timeout_s=20)
    endpoint.reset_shells()   # as after a WinRM service restart: the shell is gone
    result = session.run_script("collect", {"x": 2}, timeout_s=20)
    assert result.exit_code == 0
    assert endpoint.stats.per_action["Create"] == 2
    session.close()


def test_long_parameters_go_through_stdin(scripted_endpoint):
    runner = always(lambda: good_answer({"ok": True}))
    endpoint, target = scripted_endpoint(runner)
    session = HostSession(target)
    result = session.run_script("collect", {"names": ["ÄÖÜ-" + "x" * 30] * 100}, timeout_s=20)
    assert json.loads(result.stdout) == {"ok": True}
    assert runner.calls == [{"stdin": True}]
    assert endpoint.stats.per_action["Send"] == 1
    session.close()


def test_tls_with_an_untrusted_certificate_is_a_tls_error_and_trusted_works(scripted_endpoint, tmp_path):
    from hvconsole.sim.wsman.tls import issue_certificate
    tls = issue_certificate(tmp_path / "pki")
    endpoint, target = scripted_endpoint(always(lambda: good_answer(host_doc())), tls=tls)
    untrusted = Collector(target).poll()
    assert untrusted.error.kind == "tls"
    assert "certificate" in untrusted.error.message
    trusted = Collector(dataclasses.replace(target, ca_trust_path=tls.ca_file))
    assert trusted.poll().reachable
    trusted.close()
