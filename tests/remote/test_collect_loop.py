"""The collect loop end to end (docs/winrm.md, "The collect loop"): the console's Collector
against the simulated site's real WS-Man endpoint (NTLM, sealed bodies), whose host agent
serves the loop. Request counts come from the endpoint's own statistics."""

from __future__ import annotations

import base64
import dataclasses
import json
import logging
import secrets
import threading
import time
import uuid
from collections import Counter
from datetime import UTC, datetime

import pytest

from hvconsole.remote import collector as collector_module
from hvconsole.remote import loader
from hvconsole.remote.answer import COMPRESSED_PREFIX, answer_text
from hvconsole.remote.collector import Collector
from hvconsole.remote.target import CancelToken, Target
from hvconsole.sim.agent import host_agent
from hvconsole.sim.agent.host_agent import LOOP_IDLE_EXIT_S, HostAgent
from hvconsole.sim.model import LoadProfile, SimHost, SimSite, SimVM
from hvconsole.sim.model.clock import SimClock
from hvconsole.sim.wsman.endpoint import WsmanEndpoint
from hvconsole.sim.wsman.shells import MAX_SHELL_RUN_TIME_S

START = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


@dataclasses.dataclass
class Site:
    site: SimSite
    agent: HostAgent
    endpoint: WsmanEndpoint
    target: Target

    def actions(self) -> Counter:
        return Counter(self.endpoint.stats.per_action)

    def collector(self, *, loop: bool = True, timeout_s: float = 20) -> Collector:
        return Collector(dataclasses.replace(self.target, collect_loop=loop), timeout_s=timeout_s)


@pytest.fixture(autouse=True)
def forget_refused_loops():
    """A host's one-shot fallback lasts for the process: each test starts without any."""
    yield
    collector_module._LOOP_REFUSED.clear()


@pytest.fixture
def sim_site():
    started: list[WsmanEndpoint] = []

    def start(*, auth: str = "ntlm", latency_scale: float = 0.0, **endpoint_kw) -> Site:
        site = SimSite(SimClock.manual(START), seed=3)
        host = site.add_host(SimHost("HV01"))
        for i in range(4):
            host.add_vm(SimVM(f"VM{i}", str(uuid.UUID(int=i + 1)), load=LoadProfile(5, 3)))
        agent = HostAgent(host, site, latency_scale=latency_scale)
        password = secrets.token_urlsafe(16)
        endpoint = WsmanEndpoint(agent, username="hvc-admin", password=password, auth=auth, name="HV01",
                                 **endpoint_kw)
        endpoint.start()
        started.append(endpoint)
        target = Target(name="HV01", url=endpoint.url, username="hvc-admin", password=password,
                        transport="ntlm" if auth == "ntlm" else "plaintext", collect_loop=True)
        return Site(site, agent, endpoint, target)

    yield start
    for endpoint in started:
        endpoint.stop()


def poll_counting(s: Site, c: Collector, **kw):
    before = s.actions()
    snap = c.poll(**kw)
    after = s.actions()
    return snap, {k: after[k] - before[k] for k in after if after[k] != before[k]}


def comparable(snap) -> dict:
    doc = snap.to_dict()
    doc.pop("polled_at", None)
    return doc


def test_a_steady_poll_is_send_and_receive_sealed(sim_site) -> None:
    s = sim_site()
    c = s.collector()
    first, actions = poll_counting(s, c)
    assert first.reachable, first.error
    assert actions == {"Create": 1, "Command": 1, "Send": 1, "Receive": 1}
    for _ in range(5):
        sealed = s.endpoint.stats.get("encrypted_requests")
        sent = c.session.requests_sent
        snap, actions = poll_counting(s, c)
        assert snap.reachable, snap.error
        assert actions == {"Send": 1, "Receive": 1}
        assert c.session.requests_sent - sent == 2
        assert s.endpoint.stats.get("encrypted_requests") - sealed == 2    # NTLM sealed, both
        s.site.clock.advance(5)
    assert c.loop is not None and c.loop.loops_started == 1
    c.close()


def test_answers_equal_the_one_shot_answers(sim_site) -> None:
    s = sim_site()
    loop, one_shot = s.collector(), s.collector(loop=False)
    for _ in range(3):
        a, b = loop.poll(), one_shot.poll()
        assert a.reachable and b.reachable
        assert comparable(a) == comparable(b)
        s.site.clock.advance(5)
    assert loop.loop is not None and loop.loop.running
    loop.close()
    one_shot.close()


def test_switch_off_polls_as_before(sim_site) -> None:
    s = sim_site()
    c = s.collector(loop=False)
    c.poll()
    snap, actions = poll_counting(s, c)
    assert snap.reachable and c.loop is None
    assert actions == {"Command": 1, "Receive": 1, "Signal": 1}
    c.close()


def test_after_its_last_answer_the_next_poll_starts_a_new_loop(sim_site, monkeypatch) -> None:
    monkeypatch.setattr(host_agent, "LOOP_MAX_ANSWERS", 3)
    s = sim_site()
    c = s.collector()
    c.poll()
    c.poll()
    snap, actions = poll_counting(s, c)     # the 3rd answer, then Done: the command is signalled
    assert snap.reachable and actions == {"Send": 1, "Receive": 1, "Signal": 1}
    snap, actions = poll_counting(s, c)
    assert snap.reachable and actions == {"Command": 1, "Send": 1, "Receive": 1}
    assert c.loop is not None and c.loop.loops_started == 2
    snap, actions = poll_counting(s, c)
    assert snap.reachable and actions == {"Send": 1, "Receive": 1}
    c.close()


def test_a_poll_whose_vm_query_was_abandoned_is_answered_and_the_next_poll_starts_a_new_loop(sim_site, caplog) -> None:
    s = sim_site()
    c = s.collector()
    assert c.poll().reachable
    s.site.host("HV01").vmms_wedged = True
    with caplog.at_level(logging.WARNING):
        snap, actions = poll_counting(s, c)     # answered (host part, no VMs), then Done: signalled
    assert snap.reachable, snap.error
    assert snap.vm_query is not None and not snap.vm_query.ok
    assert actions == {"Send": 1, "Receive": 1, "Signal": 1}
    s.site.host("HV01").vmms_wedged = False
    snap, actions = poll_counting(s, c)
    assert snap.reachable and actions == {"Command": 1, "Send": 1, "Receive": 1}
    assert c.loop is not None and c.loop.loops_started == 2
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]     # no fallback
    c.close()


def test_a_loop_ended_by_its_idle_timer_is_replaced_within_the_poll(sim_site, caplog) -> None:
    s = sim_site()
    c = s.collector()
    c.poll()
    s.site.clock.advance(LOOP_IDLE_EXIT_S + 1)
    with caplog.at_level(logging.WARNING):
        snap, actions = poll_counting(s, c)
    assert snap.reachable, snap.error
    # The line went to an ended loop (Send, Receive: Done), which is signalled; a new one answers.
    assert actions == {"Send": 2, "Receive": 2, "Signal": 1, "Command": 1}
    assert c.loop is not None and c.loop.loops_started == 2
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    snap, actions = poll_counting(s, c)
    assert snap.reachable and actions == {"Send": 1, "Receive": 1}
    c.close()


def slow_second_answer(agent: HostAgent, hang: threading.Event) -> None:
    """The loop's answers take forever while ``hang`` is set."""
    handler = agent.handlers["collect"]

    def answer(host, params, now):
        got = handler(host, params, now)
        return dataclasses.replace(got, duration_s=3600.0) if hang.is_set() else dataclasses.replace(got, duration_s=0)

    agent.handlers["collect"] = answer


def test_a_hung_loop_meets_the_deadline_and_the_next_poll_is_fine(sim_site) -> None:
    s = sim_site(latency_scale=1.0)
    hang = threading.Event()
    slow_second_answer(s.agent, hang)
    c = s.collector(timeout_s=2)
    assert c.poll().reachable
    hang.set()
    snap = c.poll()
    assert not snap.reachable and snap.error.kind == "timeout"
    hang.clear()
    snap, actions = poll_counting(s, c)
    assert snap.reachable, snap.error
    # A new shell and a new loop; the old shell was deleted (its loop signalled) in the background.
    assert actions.get("Create") == 1 and actions.get("Command") == 1
    assert c.loop is not None and c.loop.loops_started == 2
    c.close()


def test_cancel_ends_a_waiting_poll_and_the_next_poll_is_fine(sim_site) -> None:
    s = sim_site(latency_scale=1.0)
    hang = threading.Event()
    slow_second_answer(s.agent, hang)
    c = s.collector(timeout_s=30)
    assert c.poll().reachable
    hang.set()
    token = CancelToken()
    threading.Timer(0.5, token.cancel).start()
    snap = c.poll(cancel=token)
    assert not snap.reachable and "cancelled" in snap.error.message
    hang.clear()
    snap = c.poll()
    assert snap.reachable, snap.error
    assert c.loop is not None and c.loop.loops_started == 2
    c.close()


def test_a_host_without_the_loop_is_polled_one_shot_after_one_warning(sim_site, caplog) -> None:
    s = sim_site()
    s.agent.serves_loop = False
    c = s.collector()
    with caplog.at_level(logging.WARNING):
        snap, actions = poll_counting(s, c)
        assert snap.reachable, snap.error       # redone one-shot within the same poll
        for _ in range(3):
            snap, actions = poll_counting(s, c)
            assert snap.reachable and actions == {"Command": 1, "Receive": 1, "Signal": 1}
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1 and "HV01" in warnings[0].getMessage()
    assert c.loop is None
    c.close()
    # ... until the console restarts: a new Collector for the same host stays one-shot.
    again = s.collector()
    assert again.loop is None
    again.close()


def test_a_loop_that_never_sees_its_requests_falls_back_after_one_deadline(sim_site, monkeypatch, caplog) -> None:
    """What a host would do if Send did not reach the loop's line reader (check 1 of the
    nine): the first answer never comes. That poll meets its deadline (no time is left
    to redo it); from then on the host is polled one-shot."""
    monkeypatch.setattr(host_agent.LoopProcess, "_serve", lambda self, line: True)
    s = sim_site()
    c = s.collector(timeout_s=2)
    with caplog.at_level(logging.WARNING):
        snap = c.poll()
        assert not snap.reachable and snap.error.kind == "timeout"
        assert c.loop is None
        snap, actions = poll_counting(s, c)
        assert snap.reachable, snap.error
        assert actions.get("Send", 0) == 0 and actions.get("Command") == 1
    assert len([r for r in caplog.records if r.levelno >= logging.WARNING]) == 1
    c.close()


def test_the_shell_recycle_terminates_the_loop_first(sim_site) -> None:
    s = sim_site()
    c = s.collector()
    c.poll()
    c.session.recycle_after_s = 0.0
    snap, actions = poll_counting(s, c)
    assert snap.reachable, snap.error
    assert actions == {"Signal": 1, "Delete": 1, "Create": 1, "Command": 1, "Send": 1, "Receive": 1}
    c.session.recycle_after_s = 3600.0
    snap, actions = poll_counting(s, c)
    assert snap.reachable and actions == {"Send": 1, "Receive": 1}
    assert len(s.endpoint.shells()) == 1
    c.close()


def test_an_ended_shell_with_a_loop_running_is_replaced(sim_site) -> None:
    """A bare 400 (the 8 h MaxShellRunTime) or a forgotten shell: the loop goes with it and
    the poll still succeeds on a new shell."""
    s = sim_site()
    c = s.collector()
    c.poll()
    s.endpoint.reset_shells()
    snap = c.poll()
    if not snap.reachable:      # the Send met the gone shell: that poll fails, the next one starts over
        snap = c.poll()
    assert snap.reachable, snap.error
    assert c.loop is not None and c.loop.loops_started == 2
    c.close()


@pytest.mark.parametrize("auth", ["basic", "ntlm"])
def test_a_shell_past_its_run_time_with_a_loop_running_costs_no_poll(sim_site, auth) -> None:
    """The host's 8 h shell end (a bare HTTP 400 to every request naming the shell) met
    by the loop's Send: the loop goes with its shell and the same poll is answered by a
    new loop on a new shell."""
    endpoint_clock = [1000.0]
    s = sim_site(auth=auth, clock=lambda: endpoint_clock[0])
    c = s.collector()
    assert c.poll().reachable
    endpoint_clock[0] += MAX_SHELL_RUN_TIME_S + 1
    base = s.actions()
    snap, actions = poll_counting(s, c)
    assert snap.reachable, snap.error
    assert actions.get("Create") == 1 and actions.get("Command") == 1
    assert c.loop is not None and c.loop.loops_started == 2
    # The old shell is let go in the background (its loop signalled, the shell deleted):
    # wait for that, or its requests may land in the next poll's count.
    deadline = time.monotonic() + 10
    while s.actions()["Delete"] == base["Delete"] and time.monotonic() < deadline:
        time.sleep(0.02)
    snap, actions = poll_counting(s, c)
    assert snap.reachable and actions == {"Send": 1, "Receive": 1}
    c.close()


def test_close_terminates_the_loop(sim_site) -> None:
    s = sim_site()
    c = s.collector()
    c.poll()
    before = s.actions()
    c.close()
    after = s.actions()
    assert after["Signal"] - before["Signal"] == 1 and after["Delete"] - before["Delete"] == 1


# -- the loader's loop form and the request line -----------------------------------------

def loader_text(call) -> str:
    return base64.b64decode(call.arguments.rsplit(" ", 1)[1]).decode("utf-16-le")


def test_the_loop_loader_is_the_one_shot_loader_invoked_with_hvcloop() -> None:
    one_shot = loader_text(loader.prepare_call("collect", {"a": 1}))
    loop = loader.prepare_loop_call("collect")
    assert loop.stdin is None and loop.command == loader.POWERSHELL
    encoded = loader.encode_params({"a": 1})
    assert loader_text(loop) == one_shot.replace(f" -HvcParams '{encoded}';", " -HvcLoop;")
    assert "HVC_SCRIPT_COLLECT" in loader_text(loop)
    with pytest.raises(ValueError):
        loader.prepare_loop_call("bad name")


def test_a_request_line_is_seq_space_base64_newline() -> None:
    line = loader.request_line(7, {"events_since": None, "note": "ä'; $x"})
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    seq, params = line[:-1].split(b" ")
    assert seq == b"7"
    assert json.loads(base64.b64decode(params, validate=True)) == {"events_since": None, "note": "ä'; $x"}
    for bad in (0, -1, 2**31):
        with pytest.raises(ValueError):
            loader.request_line(bad, {})


# -- the switch: the inventory's optional field, passed on to the Target -------------------

def test_the_inventory_switch_round_trips_and_is_absent_when_off(tmp_path) -> None:
    from hvconsole.core.inventory import Host, Inventory, InventoryStore
    from hvconsole.core.inventory.exchange import export_csv, export_json, parse_import

    on = Host(name="HV01", address="hv01.example.test", username="EXAMPLE\\admin", collect_loop=True)
    off = Host(name="HV02", address="hv02.example.test", username="EXAMPLE\\admin")
    assert on.to_dict()["collect_loop"] is True and "collect_loop" not in off.to_dict()
    store = InventoryStore(tmp_path / "inventory.json")
    store.save(Inventory([on, off]))
    loaded = {h.name: h.collect_loop for h in InventoryStore(tmp_path / "inventory.json").load().inventory}
    assert loaded == {"HV01": True, "HV02": False}
    assert {h.name: h.collect_loop for h in parse_import(export_csv(Inventory([on, off])), "csv")} == loaded
    assert {h.name: h.collect_loop for h in parse_import(export_json(Inventory([on, off])), "json")} == loaded
    assert "collect_loop" not in export_csv(Inventory([off]))
    with pytest.raises(ValueError):
        Host(name="HV03", address="hv03.example.test", username="EXAMPLE\\admin", collect_loop="maybe")


def test_configured_targets_carry_the_switch() -> None:
    from hvconsole.core.inventory import Host, Inventory
    from hvconsole.remote.configured import ConfiguredSite, _add_host

    class Book:
        inventory = Inventory([])

        def password(self, host):
            return "made-up-at-run-time-" + host.name

    site = ConfiguredSite(book=Book())     # type: ignore[arg-type]
    for name, loop in (("HV01", True), ("HV02", False)):
        _add_host(site, Book(), Host(name=name, address=f"{name.lower()}.example.test",   # type: ignore[arg-type]
                                     username="EXAMPLE\\admin", collect_loop=loop))
    assert [(t.name, t.collect_loop) for t in site.targets] == [("HV01", True), ("HV02", False)]


@pytest.mark.parametrize("loop", [True, False])
def test_a_compressed_answer_may_inflate_no_further_than_the_sessions_cap(sim_site, loop: bool) -> None:
    # The inflate cap follows the collector's output cap, as a plain answer's size would.
    s = sim_site()
    c = s.collector(loop=loop)
    snap = c.poll()
    assert snap.reachable, snap.error
    packed, plain = (len(x) for x in _answer_sizes(s))
    assert packed < plain
    small = Collector(dataclasses.replace(s.target, collect_loop=loop), timeout_s=20,
                      max_output_bytes=(packed + plain) // 2)
    snap = small.poll()
    assert not snap.reachable and snap.error.kind == "protocol" and "inflates to more than" in snap.error.message
    c.close()
    small.close()


def _answer_sizes(s: Site) -> tuple[bytes, bytes]:
    """The simulated host's collect answer now: as sent (compressed) and inflated."""
    call = loader.prepare_call("collect", {})
    got = s.agent.execute(f"{call.command} {call.arguments}", loader.shell_environment(("collect",)))
    sent = got.stdout.strip()
    assert sent.startswith(COMPRESSED_PREFIX.encode())
    return sent, answer_text(sent.decode("ascii"), host="HV01", script="collect").encode("utf-8")

