"""The watchdog thread is woken by a new watch only when that watch needs it sooner than
it would look anyway; deadlines and cancels are still acted on in time."""

from __future__ import annotations

import threading
import time

from hvconsole.remote.watchdog import CANCEL_POLL_S, Watch, Watchdog


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


# -- watches told by their CancelToken ---------------------------------------------------------

def _counting_waits(dog: Watchdog) -> list[int]:
    count = [0]
    original = dog._cond.wait

    def wait(timeout: float | None = None) -> bool:
        count[0] += 1
        return original(timeout)
    dog._cond.wait = wait  # type: ignore[method-assign]
    return count


def test_a_token_watch_does_not_wake_the_thread_to_ask_and_a_cancel_fires_at_once() -> None:
    from hvconsole.remote.target import CancelToken

    dog = Watchdog()
    waits = _counting_waits(dog)
    tokens = [CancelToken() for _ in range(5)]
    events = [threading.Event() for _ in tokens]
    watches = [dog.watch(time.monotonic() + 30, None, lambda why, e=e: e.set(), token=t)
               for t, e in zip(tokens, events, strict=True)]
    time.sleep(5 * CANCEL_POLL_S)
    # A polled check would have woken the thread ~5 times by now; a told one sleeps.
    assert waits[0] <= 2
    tokens[2].cancel()
    assert events[2].wait(5)
    assert watches[2].fired == "cancelled"
    assert not any(e.is_set() for i, e in enumerate(events) if i != 2)
    for w in watches:
        dog.remove(w)
    # done() takes the listener back: a token outliving many requests does not collect them
    assert all(not t._listeners for t in tokens)
    tokens[0].cancel()
    time.sleep(2 * CANCEL_POLL_S)
    assert watches[0].fired is None


def test_a_token_cancelled_before_the_watch_fires_at_once() -> None:
    from hvconsole.remote.target import CancelToken

    dog = Watchdog()
    token = CancelToken()
    token.cancel()
    event = threading.Event()
    w = dog.watch(time.monotonic() + 30, None, lambda why: event.set(), token=token)
    assert event.wait(5) and w.fired == "cancelled"
    dog.remove(w)


def test_a_failing_listener_does_not_keep_the_others_from_hearing() -> None:
    from hvconsole.remote.target import CancelToken

    token = CancelToken()
    heard = []

    def broken() -> None:
        raise RuntimeError("boom")
    token.on_cancel(broken)
    token.on_cancel(lambda: heard.append(1))
    token.cancel()
    assert heard == [1] and token.cancelled
    token.on_cancel(lambda: heard.append(2))      # already cancelled: at once
    assert heard == [1, 2]


def test_a_token_shared_by_requests_on_many_threads_and_cancelled_meanwhile() -> None:
    # A cancel can land while a watch is being registered, while another is being taken
    # back, or twice: every watch registered before or during the cancel still fires,
    # none is fired twice, and the token keeps no listener once its requests are done.
    from hvconsole.remote.target import CancelToken

    dog = Watchdog()
    token = CancelToken()
    fired: dict[int, list[str]] = {}
    last: dict[int, tuple[threading.Event, Watch]] = {}
    go = threading.Barrier(7)

    def requests(n: int) -> None:
        go.wait()
        while True:
            event = threading.Event()
            reasons: list[str] = []

            def on_fire(why: str, event: threading.Event = event, reasons: list[str] = reasons) -> None:
                reasons.append(why)
                event.set()
            w = dog.watch(time.monotonic() + 30, None, on_fire, token=token)
            if token.cancelled:     # registered after or during the cancel: it must fire
                last[n] = (event, w)
                fired[n] = reasons
                event.wait(5)
                dog.remove(w)
                return
            dog.remove(w)

    threads = [threading.Thread(target=requests, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    go.wait()
    time.sleep(0.05)
    token.cancel()
    token.cancel()
    for t in threads:
        t.join(10)
    assert not any(t.is_alive() for t in threads)
    assert all(event.is_set() and w.fired == "cancelled" for event, w in last.values())
    assert all(reasons == ["cancelled"] for reasons in fired.values())
    assert not token._listeners


def test_the_planning_services_event_token_is_a_whole_cancel_token() -> None:
    from hvconsole.patch.planning import _token

    event = threading.Event()
    token = _token(event)
    heard: list[int] = []
    token.on_cancel(lambda: heard.append(1))
    token.cancel()                  # raised AttributeError while it skipped CancelToken.__init__
    assert event.is_set() and token.cancelled and heard == [1]
