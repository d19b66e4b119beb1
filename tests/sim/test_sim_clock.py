"""SimClock: manual stepping, speed, thread safety."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta, timezone

import pytest

from hvconsole.sim.model.clock import SimClock

START = datetime(2026, 11, 25, 9, 0, tzinfo=timezone.utc)


def test_manual_clock_moves_only_when_advanced() -> None:
    clock = SimClock.manual(START)
    assert clock.is_manual
    assert clock.now() == START
    time.sleep(0.01)
    assert clock.now() == START
    assert clock.advance(90.5) == START + timedelta(seconds=90.5)
    assert clock.now() == START + timedelta(seconds=90.5)
    assert clock.elapsed() == pytest.approx(90.5)


def test_naive_start_is_taken_as_utc_and_now_is_aware() -> None:
    clock = SimClock.manual(datetime(2026, 1, 1, 12, 0))
    assert clock.now().tzinfo is not None
    assert clock.now() == datetime(2026, 1, 1, 12, 0, tzinfo=timezone.utc)


def test_running_clock_runs_at_speed_and_never_goes_back() -> None:
    clock = SimClock(START, speed=50.0)
    first = clock.now()
    time.sleep(0.05)
    second = clock.now()
    # At least 0.05 s × 50 of simulated time passed; no upper bound (a loaded machine).
    assert second - first >= timedelta(seconds=2.4)
    readings = [clock.now() for _ in range(200)]
    assert readings == sorted(readings)


def test_advance_jumps_a_running_clock_ahead() -> None:
    clock = SimClock(START, speed=1.0)
    before = clock.now()
    after = clock.advance(3600)
    assert after - before >= timedelta(seconds=3600)


def test_default_start_is_now() -> None:
    before = datetime.now(timezone.utc)
    clock = SimClock()
    assert before <= clock.start <= datetime.now(timezone.utc)


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError):
        SimClock(START, speed=-1)
    with pytest.raises(ValueError):
        SimClock.manual(START).advance(-1)


def test_concurrent_advances_all_count() -> None:
    clock = SimClock.manual(START)

    def worker() -> None:
        for _ in range(500):
            clock.advance(0.001)
    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert clock.elapsed() == pytest.approx(2.0)
