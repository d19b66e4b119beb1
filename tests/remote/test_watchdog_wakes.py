"""The watchdog thread is woken by a new watch only when that watch needs it sooner than
it would look anyway; deadlines and cancels are still acted on in time."""

from __future__ import annotations

import threading
import time

from hvconsole.remote.watchdog import CANCEL_POLL_S, Watchdog


def _fired_event() -> tuple[threading.Event, list[str]]:
    return threading.Event(), []


def _counting_notify(dog: Watchdog) -> list[int]:
    count = [0]
    original = dog._cond.notify

    def notify(n: int = 1) -> None:
        count[0] += 1
        original(n)
    dog._cond.notify = notify  # type: ignore[method-assign]
    return count


def test_later_deadlines_do_not_wake_the_thread_and_an_earlier_one_fires_in_time() -> None:
    dog = Watchdog()
    notified = _counting_notify(dog)
    first = dog.watch(time.monotonic() + 30, None, lambda why: None)      # starts the thread
    time.sleep(0.05)                                                      # let it plan its wait
    later = [dog.watch(time.monotonic() + 60 + i, None, lambda why: None) for i in range(20)]
    assert notified[0] == 1
    event, why = _fired_event()
    started = time.monotonic()
    soon = dog.watch(time.monotonic() + 0.2, None, lambda reason: (why.append(reason), event.set()))
    assert event.wait(5)
    assert why == ["timeout"] and soon.fired == "timeout"
    assert 0.15 <= time.monotonic() - started < 2
    assert notified[0] == 2
    for w in (first, *later):
        dog.remove(w)


def test_a_cancel_is_seen_within_the_poll_interval_without_a_wake_per_watch() -> None:
    dog = Watchdog()
    flags = [threading.Event() for _ in range(10)]
    events = []
    watches = []
    for flag in flags:
        event, _ = _fired_event()
        events.append(event)
        watches.append(dog.watch(time.monotonic() + 30, flag.is_set, lambda why, e=event: e.set()))
    notified = _counting_notify(dog)
    more = [dog.watch(time.monotonic() + 30, threading.Event().is_set, lambda why: None) for _ in range(10)]
    assert notified[0] == 0           # the thread already looks every CANCEL_POLL_S
    started = time.monotonic()
    flags[3].set()
    assert events[3].wait(5)
    assert time.monotonic() - started < CANCEL_POLL_S + 1.0
    assert watches[3].fired == "cancelled"
    assert not any(e.is_set() for i, e in enumerate(events) if i != 3)
    for w in (*watches, *more):
        dog.remove(w)
