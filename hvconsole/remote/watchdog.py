"""One background thread that ends blocking network calls at their deadline or on cancel.

A socket timeout bounds one ``recv``, not a whole answer: a host that sends one byte every
half second keeps every read short and the call alive forever, and a thread blocked in
``recv`` cannot look at a cancel flag. The only reliable way to stop such a call from
outside is to shut its socket down, which makes the blocked read return at once. This
module does the waiting for every call in the process on one daemon thread: a caller
registers what to do when its time is up (``on_fire``), does its blocking work, and
removes the watch when done.

``on_fire`` runs on the watchdog thread and must not block (shutting sockets down does not).
"""

from __future__ import annotations

import heapq
import itertools
import logging
import math
import threading
import time
from collections.abc import Callable
from typing import Protocol

log = logging.getLogger(__name__)

# How often watches with a cancel check are looked at: a cancel is acted on within this.
CANCEL_POLL_S = 0.1


class Watch:
    """One registered call. ``fired`` tells why it was stopped: ``"timeout"``,
    ``"cancelled"``, or ``None`` while it was not."""

    __slots__ = ("deadline", "cancelled", "on_fire", "fired", "_active", "_unlisten")

    def __init__(self, deadline: float | None, cancelled: Callable[[], bool] | None,
                 on_fire: Callable[[str], None]):
        self.deadline = deadline
        self.cancelled = cancelled
        self.on_fire = on_fire
        self.fired: str | None = None
        self._active = True
        self._unlisten: Callable[[], None] | None = None    # a token's listener, if any

    def done(self) -> None:
        """The call finished (or failed by itself): nothing to stop any more."""
        WATCHDOG.remove(self)

    def __enter__(self) -> Watch:
        return self

    def __exit__(self, *exc: object) -> None:
        self.done()


class Watchdog:
    """The process-wide watcher. Use :data:`WATCHDOG`."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int, Watch]] = []     # by deadline
        self._polled: set[Watch] = set()                     # watches with a cancel check
        self._cancelled: list[Watch] = []                    # told by their token
        self._seq = itertools.count()
        self._thread: threading.Thread | None = None
        # When the thread will look again by itself (a time.monotonic() value; inf: only
        # when notified). A new watch wakes it only if it must be looked at sooner: waking
        # it for every request (three a poll) cost the poll workers ~9 % of their CPU in
        # GIL hand-overs.
        self._wake_at = math.inf

    def watch(self, deadline: float | None, cancelled: Callable[[], bool] | None,
              on_fire: Callable[[str], None], *, token: CancelSource | None = None) -> Watch:
        """Call ``on_fire("timeout")`` at ``deadline`` (a ``time.monotonic()`` value) or
        ``on_fire("cancelled")`` once ``cancelled()`` is true, unless ``done()`` came first.
        A deadline already past or a cancel already set fires at once.

        ``token`` (a ``CancelToken``) instead of ``cancelled``: the token tells the
        watchdog when it is cancelled, so the thread is not woken every ``CANCEL_POLL_S``
        to ask (the poll workers' requests are watched like this)."""
        w = Watch(deadline, cancelled, on_fire)
        needed = math.inf if deadline is None else deadline
        with self._cond:
            if cancelled is not None:
                # Read the clock under the lock: the thread plans its next look from a
                # clock reading taken under it too, so a cancel check it will make anyway
                # is never taken for one it must be woken for.
                needed = min(needed, time.monotonic() + CANCEL_POLL_S)
            if deadline is not None:
                heapq.heappush(self._heap, (deadline, next(self._seq), w))
            if cancelled is not None:
                self._polled.add(w)
            if self._ensure_thread() or needed < self._wake_at:
                self._wake_at = needed   # until the thread plans again itself
                self._cond.notify()
        if token is not None:
            # Outside the lock: an already cancelled token calls back at once.
            w._unlisten = token.on_cancel(lambda: self._cancel(w))
        return w

    def remove(self, w: Watch) -> None:
        with self._cond:
            w._active = False
            self._polled.discard(w)
            unlisten, w._unlisten = w._unlisten, None
            # Its heap entry is dropped lazily when it comes up (inactive).
        if unlisten is not None:
            unlisten()

    def _cancel(self, w: Watch) -> None:
        """A token said it is cancelled (on the cancelling thread): fire on the watchdog's."""
        with self._cond:
            if w._active:
                self._cancelled.append(w)
                self._wake_at = 0.0
                self._cond.notify()

    # -- the thread ----------------------------------------------------------------------

    def _ensure_thread(self) -> bool:
        """Start the thread if it is not running; True when it was started."""
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._run, name="hvc-watchdog", daemon=True)
            self._thread.start()
            return True
        return False

    def _run(self) -> None:
        while True:
            to_fire: list[tuple[Watch, str]] = []
            with self._cond:
                now = time.monotonic()
                while self._heap and (not self._heap[0][2]._active or self._heap[0][0] <= now):
                    _, _, w = heapq.heappop(self._heap)
                    if w._active:
                        to_fire.append((w, "timeout"))
                told, self._cancelled = self._cancelled, []
                for w in told:
                    if w._active and all(w is not f for f, _ in to_fire):
                        to_fire.append((w, "cancelled"))
                for w in list(self._polled):
                    if w._active and all(w is not f for f, _ in to_fire) and _safe_check(w):
                        to_fire.append((w, "cancelled"))
                for w, why in to_fire:
                    w._active = False
                    w.fired = why
                    self._polled.discard(w)
                if not to_fire:
                    wait = None
                    if self._heap:
                        wait = max(0.0, self._heap[0][0] - now)
                    if self._polled:
                        wait = CANCEL_POLL_S if wait is None else min(wait, CANCEL_POLL_S)
                    self._wake_at = math.inf if wait is None else now + wait
                    self._cond.wait(wait)
                    continue
            for w, why in to_fire:
                try:
                    w.on_fire(why)
                except Exception:  # a failing stop must not stop the watchdog for everyone
                    log.exception("stopping a call (%s) failed", why)


class CancelSource(Protocol):
    """What a watch needs of a cancel token (``remote.target.CancelToken``)."""

    def on_cancel(self, listener: Callable[[], None]) -> Callable[[], None]: ...


def _safe_check(w: Watch) -> bool:
    try:
        return bool(w.cancelled and w.cancelled())
    except Exception:
        return False


WATCHDOG = Watchdog()
