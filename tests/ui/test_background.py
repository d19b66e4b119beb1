"""The background task runner: results and errors come back on the GUI thread."""

from __future__ import annotations

import threading
import time

import pytest

from hvconsole.ui.background import InlineTaskRunner, TaskRunner, park, parked_pools, wait_parked

WAIT_MS = 10_000


def test_result_is_delivered_on_the_gui_thread(qtbot):
    runner = TaskRunner()
    gui = threading.get_ident()
    seen = {}

    def work():
        seen["work_thread"] = threading.get_ident()
        return 42

    got = []
    runner.submit(work, lambda value: got.append((value, threading.get_ident())))
    qtbot.waitUntil(lambda: bool(got), timeout=WAIT_MS)
    assert got == [(42, gui)]
    assert seen["work_thread"] != gui
    assert runner.shutdown(time.monotonic() + 5)


def test_error_is_delivered_to_on_error(qtbot):
    runner = TaskRunner()
    errors = []

    def work():
        raise ValueError("nope")

    runner.submit(work, lambda value: pytest.fail("no result expected"), errors.append)
    qtbot.waitUntil(lambda: bool(errors), timeout=WAIT_MS)
    assert isinstance(errors[0], ValueError)
    assert runner.shutdown(time.monotonic() + 5)


def test_shutdown_drops_callbacks_and_bounds_the_wait(qtbot):
    runner = TaskRunner()
    release = threading.Event()
    got = []
    runner.submit(lambda: release.wait(20), got.append)
    started = time.monotonic()
    assert runner.shutdown(time.monotonic() + 0.2) is False  # still busy: parked, not waited for
    assert time.monotonic() - started < 5
    assert parked_pools() >= 1
    with pytest.raises(RuntimeError):
        runner.submit(lambda: 1, got.append)
    release.set()
    assert wait_parked(10)
    qtbot.wait(50)
    assert got == []  # the callback of a task that outlived shutdown is not called


def test_inline_runner_runs_at_once():
    runner = InlineTaskRunner()
    got, errors = [], []
    runner.submit(lambda: "x", got.append)
    runner.submit(lambda: 1 / 0, got.append, errors.append)
    assert got == ["x"]
    assert isinstance(errors[0], ZeroDivisionError)
    assert runner.shutdown(0)
    with pytest.raises(RuntimeError):
        runner.submit(lambda: 1, got.append)


def test_park_releases_an_idle_pool(qtbot):
    from PySide6.QtCore import QThreadPool
    from hvconsole.ui import background
    pool = QThreadPool()
    before = parked_pools()
    park(pool)
    assert parked_pools() == before + 1
    # This pool's release, whatever other tests left parked (their count may drop meanwhile).
    qtbot.waitUntil(lambda: all(p is not pool for p in background._PARKED), timeout=WAIT_MS)
