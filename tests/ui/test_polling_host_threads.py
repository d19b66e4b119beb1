"""The polling service with its real host threads: each host's thread waits out its own
interval, and the GUI thread only moves the deadline and receives one batch per tick.

Every test drives the real class with real pool threads; waits are qtbot.waitUntil on
what the service shows, never on a time."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import threading
import time
from datetime import timedelta

import pytest
import shiboken6
from PySide6.QtCore import QObject
from shiboken6 import isValid
from ui_support import T0, ScriptedCollector, down, make_snapshot, make_vm, make_worker, steady_site

from hvconsole.monitoring.schedule import next_delay_s
from hvconsole.ui.background import wait_parked
from hvconsole.ui.monitor.polling import PollingService

WAIT_MS = 15_000


class NotingCollector(ScriptedCollector):
    """Also notes when each poll started, what the service said of the host then, and
    the thread that closed the session."""

    def __init__(self, script, service_of=None):
        super().__init__(script)
        self.started: list[float] = []
        self.seen: list[tuple[int, float]] = []       # (failures, next delay) as each poll starts
        self.closed_on: int | None = None
        self.service_of = service_of

    def poll(self, cancel=None):
        self.started.append(time.monotonic())
        if self.service_of is not None:
            service, host = self.service_of()
            self.seen.append((service.failures(host), service.next_delay(host)))
        return super().poll(cancel)

    def close(self) -> None:
        self.closed_on = threading.get_ident()
        super().close()


@pytest.fixture
def polling():
    """Makes services; any a test left running is shut down afterwards, so that a test
    that failed half-way leaves no host thread waiting out an hour (the process would
    wait for it at exit)."""
    made: list[PollingService] = []

    def make(workers, **kw) -> PollingService:
        made.append(PollingService(workers, **kw))
        return made[-1]
    yield make
    for service in made:
        if isValid(service) and service.is_running():
            service.shutdown(0.5)


def site(hosts: int = 2, vms: int = 1, service_of=None):
    collectors = {h: NotingCollector(s, service_of) for h, s in steady_site(hosts=hosts, vms=vms).items()}
    return [make_worker(h, c) for h, c in collectors.items()], collectors


def test_each_host_keeps_its_interval_on_its_own_thread(qtbot, polling):
    workers, collectors = site(hosts=2)
    service = polling(workers, interval_s=0.1, intervals={"HV02": 3600}, jitter=0, tick_ms=20)
    service.start()
    qtbot.waitUntil(lambda: len(collectors["HV01"].started) >= 4, timeout=WAIT_MS)
    # The next poll starts no earlier than the interval after the last one ended: a lower
    # bound the waiting thread guarantees, whatever the machine's load.
    starts = collectors["HV01"].started[:4]
    assert all(b - a >= 0.1 for a, b in itertools.pairwise(starts)), starts
    # The hour-long host was polled once and waits; its next poll is an hour away.
    qtbot.waitUntil(lambda: not service.in_flight("HV02"), timeout=WAIT_MS)
    assert collectors["HV02"].polls == 1
    assert 3_500_000 < service.due_in_ms("HV02") <= 3_600_000
    assert service.shutdown(5.0)
    assert collectors["HV01"].closed and collectors["HV02"].closed
    assert collectors["HV01"].threads.isdisjoint(collectors["HV02"].threads)
    assert threading.get_ident() not in collectors["HV01"].threads | collectors["HV02"].threads


def test_poll_now_wakes_a_waiting_host(qtbot, polling):
    workers, collectors = site(hosts=2)
    service = polling(workers, interval_s=3600, tick_ms=10)
    service.start()
    qtbot.waitUntil(lambda: all(c.polls == 1 for c in collectors.values())
                    and not any(service.in_flight(h) for h in service.hosts), timeout=WAIT_MS)
    assert service.due_in_ms("HV01") > 3_000_000
    service.poll_now("HV01")
    qtbot.waitUntil(lambda: collectors["HV01"].polls == 2, timeout=WAIT_MS)
    assert collectors["HV02"].polls == 1        # only the host asked for
    qtbot.waitUntil(lambda: not service.in_flight("HV01"), timeout=WAIT_MS)
    assert service.due_in_ms("HV01") > 3_000_000   # back to its hour
    service.poll_now()
    qtbot.waitUntil(lambda: collectors["HV01"].polls == 3 and collectors["HV02"].polls == 2, timeout=WAIT_MS)
    assert service.shutdown(5.0)
    assert all(len(c.threads) == 1 for c in collectors.values())


def test_a_shorter_interval_takes_effect_at_once(qtbot, polling):
    workers, collectors = site(hosts=1)
    service = polling(workers, interval_s=3600, jitter=0, tick_ms=10)
    service.start()
    qtbot.waitUntil(lambda: collectors["HV01"].polls == 1 and not service.in_flight("HV01"), timeout=WAIT_MS)
    service.set_interval("HV01", 0.05)
    assert service.interval("HV01") == 0.05
    assert service.due_in_ms("HV01") <= 50     # not the hour it was waiting out
    qtbot.waitUntil(lambda: collectors["HV01"].polls >= 4, timeout=WAIT_MS)
    service.set_interval("HV01", 3600)          # and back: the waiting thread takes the hour
    qtbot.waitUntil(lambda: service.due_in_ms("HV01") > 3_000_000, timeout=WAIT_MS)
    polls = collectors["HV01"].polls
    qtbot.wait(200)
    assert collectors["HV01"].polls == polls
    assert service.shutdown(5.0)


def test_a_host_that_does_not_answer_backs_off_and_recovers(qtbot, polling):
    answers = ["down", "down", "down", "up", "up"]

    def script(n):
        at = T0 + timedelta(seconds=n)
        if n <= len(answers) and answers[n - 1] == "down":
            return down("HV01", at)
        return make_snapshot("HV01", (make_vm("HV01", 0),), at)

    holder: dict[str, PollingService] = {}
    collector = NotingCollector(script, lambda: (holder["service"], "HV01"))
    service = polling([make_worker("HV01", collector)], interval_s=0.02, backoff_cap_s=0.1,
                             jitter=0, tick_ms=10)
    holder["service"] = service
    service.start()
    qtbot.waitUntil(lambda: len(collector.seen) >= 5, timeout=WAIT_MS)
    # What the host's thread knew as each poll started: failures in a row and the delay
    # that followed them (doubling, capped, back to the interval after an answer).
    assert collector.seen[:5] == [(0, 0.02), (1, 0.02), (2, 0.04), (3, 0.08), (0, 0.02)]
    starts = collector.started
    assert starts[3] - starts[2] >= next_delay_s(0.02, 2, 0.1)     # waited out its backoff
    assert service.shutdown(5.0)


def test_no_second_poll_while_one_is_in_flight_and_the_gui_never_waits_for_it(qtbot, polling):
    workers, collectors = site(hosts=2)
    hung = collectors["HV01"]
    hung.hang.set()
    service = polling(workers, interval_s=0.02, tick_ms=10)
    service.start()
    qtbot.waitUntil(lambda: hung.polls == 1 and collectors["HV02"].polls >= 5, timeout=WAIT_MS)
    # Everything the GUI thread asks of the hung host answers at once (no lock of its
    # thread is held across the poll), and none of it starts a second poll.
    service.poll_now("HV01")
    service.poll_now()
    service.set_interval("HV01", 0.01)
    assert service.in_flight("HV01") and service.due_in_ms("HV01") == -1 and service.failures("HV01") == 0
    others = collectors["HV02"].polls
    qtbot.waitUntil(lambda: collectors["HV02"].polls >= others + 3, timeout=WAIT_MS)   # not held up
    assert hung.polls == 1
    hung.hang.clear()
    hung.release.set()
    qtbot.waitUntil(lambda: hung.polls >= 3, timeout=WAIT_MS)   # its schedule goes on, 10 ms apart
    assert service.shutdown(5.0)


def test_shutdown_with_a_hung_poll_is_bounded_and_closes_each_session_on_its_thread(qtbot, polling):
    workers, collectors = site(hosts=3)
    hung = collectors["HV02"]
    hung.hang.set()
    service = polling(workers, interval_s=3600, tick_ms=10)
    service.start()
    qtbot.waitUntil(lambda: all(c.polls == 1 for c in collectors.values())
                    and not service.in_flight("HV01") and not service.in_flight("HV03"), timeout=WAIT_MS)
    started = time.monotonic()
    assert service.shutdown(0.3) is False
    assert time.monotonic() - started < 10     # bounded: the hung poll blocks 30 s
    # The waiting hosts' threads woke, ended their loops and closed their sessions there.
    for name in ("HV01", "HV03"):
        assert collectors[name].closed and collectors[name].threads == {collectors[name].closed_on}
    assert not hung.closed
    hung.release.set()
    assert wait_parked(10)
    assert hung.closed and hung.threads == {hung.closed_on}     # once its poll returned
    assert hung.polls == 1


class CloseNotingWorker:
    """A worker that was never polled: only its session's close is of interest."""

    def __init__(self, name: str):
        self.name = name
        self.closed_on: int | None = None

    def poll_once(self, cancel=None):
        raise AssertionError("never started, never polled")

    def close(self) -> None:
        self.closed_on = threading.get_ident()


def test_shutdown_before_start_still_closes_each_session_off_the_gui_thread(qtbot, polling):
    workers = [CloseNotingWorker("HV01"), CloseNotingWorker("HV02")]
    service = polling(workers, interval_s=5)
    assert service.shutdown(5.0)
    closers = {w.closed_on for w in workers}
    assert None not in closers and threading.get_ident() not in closers and len(closers) == 2


def test_results_wait_for_the_tick_and_come_as_one_batch_oldest_first(qtbot, polling):
    workers, collectors = site(hosts=4)
    service = polling(workers, interval_s=3600, tick_ms=60_000)
    batches: list = []
    service.batch_ready.connect(batches.append)
    service.start()
    # First answers do not wait for the minute-long tick.
    qtbot.waitUntil(lambda: sum(len(b) for b in batches) == 4, timeout=WAIT_MS)
    shown = len(batches)
    for _ in range(3):
        done = {h: c.polls for h, c in collectors.items()}
        service.poll_now()
        qtbot.waitUntil(lambda done=done: all(c.polls == done[h] + 1 and not service.in_flight(h)
                                               for h, c in collectors.items()), timeout=WAIT_MS)
    qtbot.wait(50)
    assert len(batches) == shown        # twelve answers, and no batch before the tick
    service.flush()
    assert len(batches) == shown + 1
    batch = batches[-1]
    assert sorted(r.host for r in batch) == sorted(h for h in collectors for _ in range(3))
    for host in collectors:             # each host's answers in the order they came
        taken = [r.snapshot.polled_at for r in batch if r.host == host]
        assert taken == sorted(taken) and len(set(taken)) == 3
    service.flush()
    assert len(batches) == shown + 1    # nothing left over, no empty batch
    assert service.shutdown(5.0)


def test_a_tick_gathers_the_answers_that_came_meanwhile(qtbot, polling):
    workers, collectors = site(hosts=6)
    service = polling(workers, interval_s=0.02, tick_ms=200)
    batches: list = []
    service.batch_ready.connect(batches.append)
    service.start()
    qtbot.waitUntil(lambda: sum(len(b) for b in batches) >= 60, timeout=WAIT_MS)
    assert service.shutdown(5.0)
    # Many answers per batch (each host polls about ten times a tick), not one per answer.
    assert max(len(b) for b in batches) > len(collectors)
    for host in collectors:
        taken = [r.snapshot.polled_at for b in batches for r in b if r.host == host]
        assert taken == sorted(taken)


def test_a_host_added_while_polling_is_polled_at_once_on_its_own_thread(qtbot, polling):
    workers, collectors = site(hosts=2)
    service = polling(workers[:1], interval_s=3600, tick_ms=10)
    batches: list = []
    service.batch_ready.connect(batches.append)
    service.start()
    qtbot.waitUntil(lambda: collectors["HV01"].polls == 1, timeout=WAIT_MS)
    service.add_workers(workers[1:], interval_s=3600)
    qtbot.waitUntil(lambda: any(r.host == "HV02" for b in batches for r in b), timeout=WAIT_MS)
    assert service.shutdown(5.0)
    assert collectors["HV01"].threads.isdisjoint(collectors["HV02"].threads)
    assert collectors["HV02"].closed and collectors["HV02"].threads == {collectors["HV02"].closed_on}


def test_a_service_deleted_without_shutdown_ends_its_host_threads(qtbot, polling):
    # Destroying a pool waits for its thread: a host thread waiting out its hour would
    # hold up whoever deletes the service (and the process's exit).
    workers, collectors = site(hosts=2)
    service = polling(workers, interval_s=3600, tick_ms=10)
    service.start()
    qtbot.waitUntil(lambda: all(c.polls == 1 for c in collectors.values())
                    and not any(service.in_flight(h) for h in service.hosts), timeout=WAIT_MS)
    service.deleteLater()
    qtbot.waitUntil(lambda: all(c.closed for c in collectors.values()), timeout=WAIT_MS)
    assert all(c.threads == {c.closed_on} for c in collectors.values())


def test_an_interval_change_does_not_put_off_a_poll_already_asked_for(qtbot, polling):
    # "Poll now" (or start, or a host added) and then a new interval before the host's
    # thread took its turn: the poll asked for still starts now, not an interval later.
    # The slot's condition is held so that the thread cannot take its turn in between
    # (it is re-entrant: the GUI thread's own calls still take it).
    workers, collectors = site(hosts=1)
    service = polling(workers, interval_s=3600, jitter=0, tick_ms=10)
    service.start()
    qtbot.waitUntil(lambda: collectors["HV01"].polls == 1 and not service.in_flight("HV01"), timeout=WAIT_MS)
    with service._slots["HV01"].wake:
        service.poll_now("HV01")
        service.set_interval("HV01", 1800)
        assert service.due_in_ms("HV01") == 0
    qtbot.waitUntil(lambda: collectors["HV01"].polls == 2 and not service.in_flight("HV01"), timeout=WAIT_MS)
    assert 1_700_000 < service.due_in_ms("HV01") <= 1_800_000     # then the new interval
    assert service.shutdown(5.0)


# A process that polled and ends without shutting its service down (a script or a test
# that failed half-way, a window whose shutdown raised): it must still exit.
_EXIT_WITHOUT_SHUTDOWN = """
import threading
from PySide6.QtWidgets import QApplication
from hvconsole.ui.monitor.polling import PollingService

class Worker:
    def __init__(self, name):
        self.name, self.polled = name, threading.Event()
    def poll_once(self, cancel=None):
        self.polled.set()
    def close(self):
        pass

app = QApplication([])
workers = [Worker("HV01"), Worker("HV02")]
service = PollingService(workers, interval_s=3600)
service.start()
for worker in workers:
    assert worker.polled.wait(30)
print("polled", flush=True)
"""


def test_a_process_that_never_shut_its_service_down_still_exits():
    # Each host's thread waits out its hour; destroying its pool at exit waits for it.
    done = subprocess.run([sys.executable, "-c", _EXIT_WITHOUT_SHUTDOWN], capture_output=True, text=True,
                          timeout=60, env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    assert done.stdout.strip() == "polled" and done.returncode == 0, done.stderr


class HeldCloseWorker:
    """Answers nothing; its session's close waits for ``release``."""

    def __init__(self, name: str, release: threading.Event):
        self.name, self.release = name, release
        self.polled, self.closing = threading.Event(), threading.Event()

    def poll_once(self, cancel=None):
        self.polled.set()

    def close(self) -> None:
        self.closing.set()
        self.release.wait(30)


def test_a_service_deleted_without_shutdown_lets_its_pools_go_on_the_gui_thread(qtbot):
    # Once the GUI side holds the service no more, its host loops hold it; the last loop
    # to end would then destroy the pools on a pool thread, its own among them, and
    # destroying a pool waits for its threads: that thread would wait for itself for good.
    release = threading.Event()
    workers = [HeldCloseWorker("HV01", release), HeldCloseWorker("HV02", release)]
    parent = QObject()
    service = PollingService(workers, interval_s=3600, parent=parent)
    service.start()
    qtbot.waitUntil(lambda: all(w.polled.is_set() for w in workers), timeout=WAIT_MS)
    gone: list[str] = []
    for name in service.hosts:
        service._slots[name].runner.pool.destroyed.connect(lambda *_, name=name: gone.append(name))
    del service
    shiboken6.delete(parent)
    qtbot.waitUntil(lambda: all(w.closing.is_set() for w in workers), timeout=WAIT_MS)
    release.set()
    qtbot.waitUntil(lambda: sorted(gone) == ["HV01", "HV02"], timeout=WAIT_MS)



def test_a_host_thread_asks_for_its_tick_on_an_object_that_outlives_the_service(qtbot):
    # PySide6 lets the interpreter lock go inside an emit, so a host's thread emitting on
    # the service itself could meet the service's teardown on the GUI thread half-way (a
    # crash; a narrow window, seen under stress, not reliably in a test). It emits on a
    # relay that lives as long as the service's Python object; deleted, the service just
    # no longer hears it.
    parent = QObject()
    service = PollingService([], parent=parent)
    service.start()
    relay = service._relay
    shiboken6.delete(parent)
    assert not isValid(service) and isValid(relay)
    asked = threading.Thread(target=lambda: service._queue(object(), False))     # a result, no tick asked yet
    asked.start()
    asked.join(30)
    assert not asked.is_alive()
