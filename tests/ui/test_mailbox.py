"""Objects handed from other threads reach the GUI thread in order, through the mailbox
and the task runner, without any signal carrying a Python object across threads."""

from __future__ import annotations

import threading

from hvconsole.ui.background import TaskRunner
from hvconsole.ui.mailbox import Mailbox


def test_posts_from_plain_threads_arrive_on_the_gui_thread_in_order(qtbot):
    gui = threading.get_ident()
    got: list[tuple[int, int, bool]] = []
    box = Mailbox(lambda item: got.append((*item, threading.get_ident() == gui)))

    def sender(n: int) -> None:
        for i in range(200):
            box.post((n, i))
    threads = [threading.Thread(target=sender, args=(n,)) for n in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    qtbot.waitUntil(lambda: len(got) == 600, timeout=5000)
    assert all(on_gui for _, _, on_gui in got)
    for n in range(3):
        assert [i for m, i, _ in got if m == n] == list(range(200))     # each sender's order kept


def test_a_post_on_the_gui_thread_is_delivered_at_once():
    got: list[object] = []
    box = Mailbox(got.append)
    box.post("now")
    assert got == ["now"]


def test_a_post_after_the_receiver_is_gone_is_dropped_quietly(qtbot):
    box = Mailbox(lambda item: None)
    box.deleteLater()
    qtbot.waitUntil(lambda: not _alive(box), timeout=2000)
    done = threading.Event()
    threading.Thread(target=lambda: (box.post("late"), done.set())).start()
    assert done.wait(5)


def test_task_results_cross_as_ids_and_arrive_with_their_objects(qtbot):
    runner = TaskRunner()
    results: list[object] = []
    errors: list[BaseException] = []
    payload = {"big": list(range(1000))}
    runner.submit(lambda: payload, results.append, errors.append)
    runner.submit(lambda: 1 / 0, results.append, errors.append)
    qtbot.waitUntil(lambda: len(results) + len(errors) == 2, timeout=5000)
    assert results == [payload] and results[0] is payload
    assert isinstance(errors[0], ZeroDivisionError)
    assert runner._outcomes == {}           # nothing left waiting once delivered
    runner.shutdown(0)


def _alive(obj) -> bool:
    try:
        obj.objectName()
    except RuntimeError:
        return False
    return True
