"""The collector: one poll of one host = one run of ``collect.ps1`` on the reused shell,
turned into a :class:`~hvconsole.core.snapshot.Snapshot`.

``poll()`` never raises for a remote problem: a host that is down, hung, misconfigured
or answering garbage yields a ``reachable: false`` snapshot whose ``error`` says why
(architecture: "any failure → a reachable:false Snapshot with error.kind"). The events
bookmark the host returns is sent back on the next poll so that each event is reported
once.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime

from hvconsole.core.parse import SnapshotFormatError, parse_snapshot
from hvconsole.core.poll_budget import vm_query_budget_ms
from hvconsole.core.snapshot import SCHEMA_ID, Snapshot, unreachable
from hvconsole.core.timeutil import format_time, parse_time, utcnow

from .answer import json_document
from .collect_loop import CollectLoop, LoopUnavailable
from .errors import RemoteError
from .session import MAX_OUTPUT_BYTES, HostSession, ScriptResult
from .target import CancelToken, Target

log = logging.getLogger(__name__)

SCRIPT = "collect"
# Hosts (name, address) whose collect loop failed to start in this process: polled with the
# one-shot call until the console restarts (docs/winrm.md, "The collect loop").
_LOOP_REFUSED: set[tuple[str, str]] = set()
# A poll whose loop failed is redone one-shot only if at least this much of its deadline is left.
REDO_MIN_S = 1.0
# What close() gives the Signal that ends a running loop.
LOOP_STOP_S = 3.0


def snapshot_from_answer(doc: dict, host: str, polled_at: datetime) -> tuple[Snapshot, str | None]:
    """The client's half of a poll, shared with the simulator's recorder: take the events
    bookmark out of the collect answer, add the fields the client owns (whatever the host
    sent), parse. Returns the snapshot and the bookmark to send next time, in our own ISO
    form (the host parses it with DateTime.Parse, which does not understand the
    "/Date(ms)/" form PowerShell 5.1 may have produced), or None when there is none or it
    is malformed. Raises SnapshotFormatError."""
    raw = doc.pop("events_bookmark", None)
    doc.update({"schema": SCHEMA_ID, "host": host, "polled_at": format_time(polled_at),
                "reachable": True, "error": None})
    snap = parse_snapshot(doc)
    bookmark = None
    if raw is not None:
        try:
            bookmark = format_time(parse_time(raw))
        except ValueError:
            log.warning("%s: ignoring a malformed events bookmark", host)
    return snap, bookmark


class Collector:
    """Polls one host. Use from one thread at a time (a second concurrent ``poll`` waits
    for the first, bounded by the timeout). ``vm_query_timeout_ms`` defaults to what the
    deadline ``timeout_s`` leaves for Get-VM (``core.poll_budget``), so that a wedged VMMS
    comes back as ``vm_query.ok = false`` rather than as a poll timeout."""

    def __init__(self, target: Target, *, timeout_s: float = 30.0, max_events: int = 200,
                 vm_query_timeout_ms: int | None = None, clock: Callable[[], datetime] = utcnow,
                 max_output_bytes: int = MAX_OUTPUT_BYTES, operation_timeout_s: int = 20):
        self.target = target
        self.timeout_s = float(timeout_s)
        self.max_events = int(max_events)
        self.vm_query_timeout_ms = (vm_query_budget_ms(self.timeout_s) if vm_query_timeout_ms is None
                                    else int(vm_query_timeout_ms))
        self._clock = clock
        # The polling shell carries only the collect script: a small Create, and the patch
        # scripts' bodies do not travel to every host every time a shell is replaced.
        self._session = HostSession(target, operation_timeout_s=operation_timeout_s,
                                    max_output_bytes=max_output_bytes, scripts=(SCRIPT,))
        self._loop = CollectLoop(self._session, SCRIPT) \
            if target.collect_loop and (target.name, target.url) not in _LOOP_REFUSED else None
        self._bookmark: str | None = None
        self._busy = threading.Lock()

    @property
    def session(self) -> HostSession:
        """The underlying session (request counts for tests and benchmarks)."""
        return self._session

    @property
    def loop(self) -> CollectLoop | None:
        """The collect loop in use, None when polling one-shot."""
        return self._loop

    @property
    def events_bookmark(self) -> str | None:
        return self._bookmark

    def poll(self, cancel: CancelToken | None = None) -> Snapshot:
        """Collect one snapshot. Never raises for remote problems."""
        started = time.monotonic()
        if not self._busy.acquire(timeout=self.timeout_s):
            return self._failed("timeout", f"the previous poll of {self.target.name} is still running",
                                started)
        try:
            return self._poll(cancel, started)
        except RemoteError as err:
            return self._failed(err.kind, err.message, started, err.elapsed_ms)
        except Exception as exc:  # a bug must not stop polling; it is logged in full
            log.exception("%s: unexpected failure while polling", self.target.name)
            return self._failed("protocol", f"polling {self.target.name} failed unexpectedly "
                                            f"({type(exc).__name__})", started)
        finally:
            self._busy.release()

    def close(self, wait_s: float | None = None) -> None:
        """Delete the remote shell and drop the connection. Never raises.

        A poll still running on another thread is waited for up to ``wait_s`` (default:
        the poll timeout; cancel it first to make this quick). If it does not finish, the
        session is left to it: sharing one pywinrm session between threads is unsafe, and
        the host drops an idle shell by itself.
        """
        if not self._busy.acquire(timeout=self.timeout_s if wait_s is None else max(0.0, wait_s)):
            log.info("%s: poll still running; not closing its session", self.target.name)
            return
        try:
            if self._loop is not None and self._loop.running:
                # Its process must not outlive the shell (whether a host ends a shell's
                # processes with it is contested: docs/winrm.md).
                self._loop.stop(time.monotonic() + LOOP_STOP_S)
            self._session.close()
        except Exception:  # close is best effort by contract
            log.debug("%s: close failed", self.target.name, exc_info=True)
        finally:
            self._busy.release()

    # -- internals ---------------------------------------------------------------------

    def _poll(self, cancel: CancelToken | None, started: float) -> Snapshot:
        params = {"events_since": self._bookmark, "max_events": self.max_events,
                  "vm_query_timeout_ms": self.vm_query_timeout_ms}
        result = self._run(params, cancel, started)
        # A compressed answer may inflate to no more than a plain answer could have been.
        doc = json_document(result, host=self.target.name, script=SCRIPT,
                            max_bytes=self._session.max_output_bytes)
        try:
            snap, bookmark = snapshot_from_answer(doc, self.target.name, self._clock())
        except SnapshotFormatError as exc:
            raise RemoteError("protocol", f"the answer from {self.target.name} has a bad field "
                                          f"{exc.field or '(top level)'}: {exc.problem}",
                              elapsed_ms=result.elapsed_ms) from None
        if bookmark is not None:
            self._bookmark = bookmark
        # else keep the previous one: events may repeat, but none are skipped.
        return snap

    def _run(self, params: dict, cancel: CancelToken | None, started: float) -> ScriptResult:
        loop = self._loop
        if loop is None:
            return self._session.run_script(SCRIPT, params, timeout_s=self.timeout_s, cancel=cancel)
        try:
            return loop.call(params, timeout_s=self.timeout_s, cancel=cancel)
        except LoopUnavailable as exc:
            log.warning("%s: the collect loop did not answer (%s); polling with one call each time "
                        "until the console restarts", self.target.name, exc.reason)
            _LOOP_REFUSED.add((self.target.name, self.target.url))
            self._loop = None
            left = self.timeout_s - (time.monotonic() - started)
            if left < REDO_MIN_S:
                raise exc.error if exc.error is not None else RemoteError(
                    "timeout", f"no answer from {self.target.name} within {self.timeout_s:g} s") from None
            return self._session.run_script(SCRIPT, params, timeout_s=left, cancel=cancel)

    def _failed(self, kind: str, message: str, started: float, elapsed_ms: int | None = None) -> Snapshot:
        if elapsed_ms is None:
            elapsed_ms = int((time.monotonic() - started) * 1000)
        return unreachable(self.target.name, self._clock(), kind, message, elapsed_ms)
