"""The polling service: schedule, backoff, one batch per tick, hung hosts, shutdown."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from ui_support import T0, down, make_snapshot, make_vm, steady_site

from hvconsole.ui.background import InlineTaskRunner, wait_parked
from hvconsole.monitoring.schedule import next_delay_s
from hvconsole.ui.monitor.polling import PollingService

WAIT_MS = 15_000


def test_backoff_doubles_and_is_capped():
    assert [next_delay_s(5, n, 60) for n in range(7)] == [5, 5, 10, 20, 40, 60, 60]
    assert next_delay_s(5, 10_000, 60) == 60
    assert next_delay_s(30, 3, 20) == 30  # never faster than the interval


def inline_service(workers, **kw):
    return PollingService(workers, runner_factory=lambda name: InlineTaskRunner(), **kw)


def test_results_are_coalesced_into_one_batch_per_tick(qtbot, scripted_workers):
    workers, collectors = scripted_workers(steady_site(hosts=4, vms=3))
    service = inline_service(workers, tick_ms=50)
    batches = []
    service.batch_ready.connect(batches.append)
    service.start()
    assert batches == []  # nothing is applied before the tick
    qtbot.waitUntil(lambda: len(batches) == 1, timeout=WAIT_MS)
    assert sorted(r.host for r in batches[0]) == ["HV01", "HV02", "HV03", "HV04"]
    service.poll_now("HV02")
    service.flush()
    assert [r.host for r in batches[1]] == ["HV02"]
    assert service.shutdown(1.0)


def test_a_hosts_first_answer_does_not_wait_for_the_tick(qtbot, scripted_workers):
    # A window that has just opened shows each host's tiles as its first poll answers;
    # later answers share the (here: minute-long) tick.
    workers, _ = scripted_workers(steady_site(hosts=2, vms=2))
    service = inline_service(workers, tick_ms=60_000)
    batches = []
    service.batch_ready.connect(batches.append)
    service.start()
    qtbot.waitUntil(lambda: sum(len(b) for b in batches) == 2, timeout=WAIT_MS)
    delivered = len(batches)
    service.poll_now("HV02")        # a second answer: it waits for the tick
    qtbot.wait(100)
    assert len(batches) == delivered
    service.flush()
    assert [r.host for r in batches[-1]] == ["HV02"]
    assert service.shutdown(1.0)


def test_unreachable_host_backs_off_and_recovers(qtbot, scripted_workers):
    answers = iter(["down", "down", "down", "up"])

    def script(n):
        at = T0 + timedelta(seconds=n)
        return down("HV01", at) if next(answers) == "down" else make_snapshot("HV01", (make_vm("HV01", 0),), at)

    workers, _ = scripted_workers({"HV01": script})
    service = inline_service(workers, interval_s=5, backoff_cap_s=15)
    service.start()
    assert (service.failures("HV01"), service.next_delay("HV01")) == (1, 5)
    service.poll_now()
    assert (service.failures("HV01"), service.next_delay("HV01")) == (2, 10)
    service.poll_now()
    assert (service.failures("HV01"), service.next_delay("HV01")) == (3, 15)
    service.poll_now()
    assert (service.failures("HV01"), service.next_delay("HV01")) == (0, 5)
    assert service.shutdown(1.0)


def test_each_host_polls_on_its_own_single_thread(qtbot, scripted_workers):
    workers, collectors = scripted_workers(steady_site(hosts=3, vms=2))
    service = PollingService(workers, interval_s=0.05, tick_ms=20)
    batches = []
    service.batch_ready.connect(batches.append)
    service.start()
    qtbot.waitUntil(lambda: all(c.polls >= 3 for c in collectors.values()), timeout=WAIT_MS)
    assert service.shutdown(5.0)
    gui = threading.get_ident()
    threads = [c.threads for c in collectors.values()]
    assert all(len(t) == 1 for t in threads), threads  # one thread owns each host's session
    assert len(set().union(*threads)) == 3 and gui not in set().union(*threads)
    assert all(c.closed for c in collectors.values())  # sessions closed at shutdown


def test_a_hung_host_does_not_stop_the_others_and_close_is_bounded(qtbot, scripted_workers):
    scripts = steady_site(hosts=3, vms=2)
    workers, collectors = scripted_workers(scripts)
    hung = collectors["HV02"]
    hung.hang.set()
    service = PollingService(workers, interval_s=0.05, tick_ms=20)
    seen: dict[str, int] = {}
    service.batch_ready.connect(lambda batch: [seen.__setitem__(r.host, seen.get(r.host, 0) + 1) for r in batch])
    service.start()
    qtbot.waitUntil(lambda: seen.get("HV01", 0) >= 5 and seen.get("HV03", 0) >= 5, timeout=WAIT_MS)
    assert "HV02" not in seen and service.in_flight("HV02")
    assert hung.polls == 1  # never a second poll stacked on a hung one
    started = time.monotonic()
    clean = service.shutdown(0.3)
    elapsed = time.monotonic() - started
    assert clean is False
    assert elapsed < 10  # bounded (the hung poll would block 30 s); generous for a loaded machine
    hung.release.set()
    assert wait_parked(10)
    assert hung.closed  # its session was still closed, on its own thread, once it returned


def test_nothing_is_delivered_after_shutdown(qtbot, scripted_workers):
    workers, collectors = scripted_workers(steady_site(hosts=1, vms=1))
    collectors["HV01"].hang.set()
    service = PollingService(workers, interval_s=0.05, tick_ms=10)
    batches = []
    service.batch_ready.connect(batches.append)
    service.start()
    qtbot.waitUntil(lambda: collectors["HV01"].polls == 1, timeout=WAIT_MS)
    service.shutdown(0.1)
    collectors["HV01"].release.set()
    assert wait_parked(10)
    qtbot.wait(100)
    assert batches == []


@pytest.mark.parametrize("host", [None, "HV01"])
def test_poll_now_skips_hosts_with_a_poll_in_flight(qtbot, scripted_workers, host):
    workers, collectors = scripted_workers(steady_site(hosts=1, vms=1))
    collectors["HV01"].hang.set()
    service = PollingService(workers, interval_s=60, tick_ms=10)
    service.start()
    qtbot.waitUntil(lambda: collectors["HV01"].polls == 1, timeout=WAIT_MS)
    service.poll_now(host)
    qtbot.wait(50)
    assert collectors["HV01"].polls == 1
    collectors["HV01"].release.set()
    qtbot.waitUntil(lambda: not service.in_flight("HV01"), timeout=WAIT_MS)
    collectors["HV01"].hang.clear()
    service.poll_now(host)
    qtbot.waitUntil(lambda: collectors["HV01"].polls == 2, timeout=WAIT_MS)
    assert service.shutdown(5.0)


def test_each_host_has_its_own_interval(scripted_workers):
    workers, _ = scripted_workers(steady_site(hosts=2, vms=1))
    service = inline_service(workers, interval_s=5, intervals={"HV02": 30})
    service.start()
    assert (service.next_delay("HV01"), service.next_delay("HV02")) == (5, 30)
    assert service.shutdown(1.0)


def test_polls_of_hosts_started_together_drift_apart(qtbot, scripted_workers):
    # Jitter: hosts started in the same instant must not stay in lock-step.
    workers, _ = scripted_workers(steady_site(hosts=6, vms=1))
    service = inline_service(workers, interval_s=10, jitter=0.1)
    service.start()
    remaining = {service.due_in_ms(host) for host in service.hosts}
    # ±10 % jitter, and Qt's coarse timers may move a timeout by up to 5 % more.
    assert all(10_000 * 0.9 * 0.95 - 50 <= ms <= 10_000 * 1.1 * 1.05 for ms in remaining)
    assert len(remaining) > 1
    assert service.shutdown(1.0)


def test_the_very_first_answer_is_handed_on_at_once_other_first_answers_share_a_tick(qtbot, scripted_workers,
                                                                                       monkeypatch):
    # An empty window has nothing else to show: the first answer of all goes at the next
    # event-loop turn (FIRST_OF_ALL_TICK_MS); another host's first answer waits for
    # company (FIRST_ANSWER_TICK_MS, a minute here), later ones for the tick.
    from hvconsole.ui.monitor import polling
    monkeypatch.setattr(polling, "FIRST_ANSWER_TICK_MS", 60_000)
    release = threading.Event()

    def hv02(_n):
        release.wait(WAIT_MS / 1000)
        return make_snapshot("HV02", (make_vm("HV02", 0),), T0)
    workers, _ = scripted_workers({"HV01": lambda _n: make_snapshot("HV01", (make_vm("HV01", 0),), T0),
                                   "HV02": hv02})
    service = PollingService(workers, interval_s=3600, tick_ms=60_000)
    batches = []
    service.batch_ready.connect(batches.append)
    service.start()
    qtbot.waitUntil(lambda: len(batches) == 1, timeout=WAIT_MS)
    assert [r.host for r in batches[0]] == ["HV01"]
    release.set()

    def queued() -> bool:
        with service._pending_lock:
            return bool(service._pending)
    qtbot.waitUntil(queued, timeout=WAIT_MS)
    qtbot.wait(50)
    assert len(batches) == 1            # waits for company
    service.flush()
    assert [r.host for r in batches[1]] == ["HV02"]
    assert service.shutdown(1.0)
