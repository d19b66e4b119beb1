"""The history writer: one background thread that owns the database connection and writes
what the pollers hand it in batches.

Callers (poll workers, the window, the agent) never wait on the disk: :meth:`add`,
:meth:`add_findings` and :meth:`annotate` append to a bounded in-memory queue and return.
The thread wakes every ``flush_interval_s`` (or when the queue holds ``batch_max``
items) and writes everything queued in one transaction. If the disk falls so far behind
that the queue is full, the oldest snapshots are dropped and counted (``stats.dropped``):
memory stays bounded and polling never slows down.

:meth:`close` writes what is queued, closes the minute and quarter-hour in progress and
stops the thread, waiting at most ``wait_s``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..snapshot import Snapshot
from .ingest import Annotation, Ingest
from .schema import connect

log = logging.getLogger(__name__)

# Each flush writes again every series' raw chunk in progress (and its row in the file), so
# a flush every 15 s costs about 40 % less CPU than one after every 5 s poll (measured at
# 2,000 VMs: 51 -> 30 ms a polling round; docs/performance.md). The price: a killed
# process loses up to this much of the history file's newest polls (the window's own
# in-memory history and graphs do not wait for the file).
DEFAULT_FLUSH_INTERVAL_S = 15.0
DEFAULT_QUEUE_MAX = 20_000          # snapshots (a 200-host site: 100 polls of each)
DEFAULT_BATCH_MAX = 500


@dataclass
class WriterStats:
    queued: int = 0
    written: int = 0
    dropped: int = 0
    batches: int = 0
    errors: int = 0
    last_batch_ms: float = 0.0


class HistoryWriter:
    """See the module docstring. Thread-safe."""

    def __init__(self, path: Path, *, flush_interval_s: float = DEFAULT_FLUSH_INTERVAL_S,
                 queue_max: int = DEFAULT_QUEUE_MAX, batch_max: int = DEFAULT_BATCH_MAX):
        self.path = Path(path)
        self._flush_interval_s = flush_interval_s
        self._batch_max = batch_max
        self._queue: deque[tuple[str, Any]] = deque()
        self._queue_max = queue_max
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._idle = threading.Condition(self._lock)
        self._busy = False
        self.stats = WriterStats()
        # Opened here so that an unusable file is reported to the caller at once.
        self._conn = connect(self.path)
        self._ingest = Ingest(self._conn)
        self._thread = threading.Thread(target=self._run, name="history-writer", daemon=True)
        self._thread.start()

    # -- any thread ------------------------------------------------------------------------

    def add(self, snapshot: Snapshot, findings: Iterable[Any] = ()) -> None:
        """Queue one poll's snapshot and the findings that appeared, changed or ended."""
        self._put("snap", snapshot)
        findings = tuple(findings)
        if findings:
            self._put("findings", findings)

    def annotate(self, annotation: Annotation) -> None:
        """Queue a marker (a patch run's step, a recovery, ...)."""
        self._put("note", annotation)

    def flush(self, timeout_s: float = 10.0) -> bool:
        """Wait until everything queued so far is written (tests, shutdown). True if so."""
        deadline = time.monotonic() + timeout_s
        self._wake.set()
        with self._idle:
            while self._queue or self._busy:
                left = deadline - time.monotonic()
                if left <= 0 or not self._thread.is_alive():
                    return False
                self._idle.wait(min(left, 0.1))
                self._wake.set()
        return True

    def close(self, wait_s: float = 10.0) -> bool:
        """Write what is queued, close the buckets in progress, stop. True when done in time."""
        if self._stop.is_set():
            return not self._thread.is_alive()
        self._stop.set()
        self._wake.set()
        self._thread.join(wait_s)
        return not self._thread.is_alive()

    @property
    def ingest_stats(self) -> Any:
        return self._ingest.stats

    def _put(self, kind: str, item: Any) -> None:
        with self._lock:
            if self._stop.is_set():
                return
            if kind == "snap" and len(self._queue) >= self._queue_max:
                self._drop_oldest_snapshot()
            self._queue.append((kind, item))
            self.stats.queued += 1
            if len(self._queue) >= self._batch_max:
                self._wake.set()

    def _drop_oldest_snapshot(self) -> None:
        for i, (kind, _) in enumerate(self._queue):
            if kind == "snap":
                del self._queue[i]
                self.stats.dropped += 1
                return

    # -- the writer thread -----------------------------------------------------------------

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                self._wake.wait(self._flush_interval_s)
                self._wake.clear()
                self._write_batch(finish=False)
            self._write_batch(finish=True)
        finally:
            try:
                self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                self._conn.close()
            except Exception:
                log.debug("closing the history file failed", exc_info=True)
            with self._idle:
                self._idle.notify_all()

    def _write_batch(self, *, finish: bool) -> None:
        while True:
            with self._lock:
                batch = list(self._queue)
                self._queue.clear()
                self._busy = bool(batch) or finish
            if not batch and not finish:
                self._set_idle()
                return
            snaps = [item for kind, item in batch if kind == "snap"]
            findings = [f for kind, item in batch if kind == "findings" for f in item]
            notes = [item for kind, item in batch if kind == "note"]
            started = time.perf_counter()
            try:
                self._ingest.apply(snaps, findings, notes, finish=finish)
                self.stats.written += len(snaps)
                self.stats.batches += 1
            except Exception:
                # A full disk or a locked file: this batch is lost, the next one is tried.
                self.stats.errors += 1
                log.exception("writing %d snapshots to the history failed", len(snaps))
            self.stats.last_batch_ms = (time.perf_counter() - started) * 1000.0
            self._set_idle()
            with self._lock:
                if not self._queue:
                    return
            finish = finish and bool(self._queue)

    def _set_idle(self) -> None:
        with self._idle:
            self._busy = False
            self._idle.notify_all()
