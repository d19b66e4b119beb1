"""The graphs' bridge to the persistent history (hvconsole.core.historydb): which file the
window's site writes, ranges beyond the in-memory hour read off the GUI thread, and the
markers drawn for findings and patch/recovery events.

The window has one site at a time, so the history file is process-wide state set by
``app.py`` when it attaches a site (:func:`set_store`) and cleared when it drops it. A
graph that shows 1 day / 7 days / 90 days asks a :class:`RangeLoader` for the range; the
loader reads it on its own thread (7 days of one host: about 0.1 s, docs/
history-and-prometheus.md) and hands the result back on the GUI thread, dropping results
that a newer request has made stale. No store: the graphs show the hour they hold.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Qt, QThreadPool

from hvconsole.monitoring.formatting import plain_tooltip

from ..background import TaskRunner

log = logging.getLogger(__name__)

LIVE_WINDOW_S = 3600            # what the in-memory history holds
LONG_WINDOW_CHOICES: tuple[tuple[str, int], ...] = (("1 day", 86400), ("7 days", 7 * 86400),
                                                    ("90 days", 90 * 86400))
# A long range is read again when the newest poll moved this far (its finest tier is 1 min).
RELOAD_AFTER_S = 60.0
MAX_MARKERS = 300
MARKER_COLOURS = {"critical": "#d62728", "warning": "#ff7f0e", "patch": "#9467bd", "recovery": "#2ca02c"}

_store: Path | None = None


def set_store(path: Path | None) -> None:
    """The history file of the site the window shows (None: no history file)."""
    global _store
    _store = None if path is None else Path(path)


def store() -> Path | None:
    return _store


def is_long(window_s: float) -> bool:
    return window_s > LIVE_WINDOW_S


@dataclass(frozen=True)
class StoredRange:
    """What a loader delivers: ``series`` (a historydb SeriesRange, None when the file has
    no such host or VM) and the markers in the range."""

    host: str
    vm_id: str | None
    t0: float
    t1: float
    series: Any
    markers: tuple[Any, ...]


def read_range(path: Path, host: str, vm_id: str | None, t0: float, t1: float,
               tier: Any = None) -> StoredRange:
    """On a worker thread: one host's (or VM's) series and markers from ``path``."""
    from hvconsole.core.historydb import HistoryDbError, HistoryReader
    try:
        reader = HistoryReader(path)
    except HistoryDbError:
        return StoredRange(host, vm_id, t0, t1, None, ())
    with reader:
        info = reader.host(host) if vm_id is None else reader.vm(host, vm_id)
        if info is None:
            return StoredRange(host, vm_id, t0, t1, None, ())
        series = reader.read(info, t0, t1, tier)
        wanted = ("finding", "patch", "recovery")
        markers = [m for m in reader.markers(host, t0, t1, vm_id=vm_id, categories=wanted)
                   if m.category != "finding" or " opened " in m.text or vm_id is not None]
        return StoredRange(host, vm_id, t0, t1, series, tuple(markers[-MAX_MARKERS:]))


class RangeLoader(QObject):
    """Reads stored ranges one at a time on a private thread; only the newest request's
    result is delivered."""

    def __init__(self, parent: QObject | None = None, runner: Any = None):
        super().__init__(parent)
        if runner is None:
            pool = QThreadPool(self)
            pool.setMaxThreadCount(1)
            runner = TaskRunner(pool, self)
        self._runner = runner
        self._generation = 0
        self.loaded_key: tuple | None = None     # (host, vm_id, window_s) of the shown range
        self.loaded_right: float | None = None
        self.pending_key: tuple | None = None

    def request(self, path: Path, host: str, vm_id: str | None, window_s: float, right: float,
                on_loaded: Callable[[StoredRange], None], tier: Any = None) -> None:
        self._generation += 1
        generation = self._generation
        key = (host, vm_id, window_s)
        self.pending_key = key

        def done(result: StoredRange | None) -> None:
            if generation != self._generation or result is None:
                return   # a newer request replaced this one
            self.pending_key = None
            self.loaded_key, self.loaded_right = key, right
            on_loaded(result)

        def failed(exc: BaseException) -> None:
            if generation == self._generation:
                self.pending_key = None
            log.warning("reading the stored history failed: %s", exc)

        def read() -> StoredRange | None:
            # Still queued behind older reads when the admin clicked on: a range nobody
            # waits for any more is not read (a few hosts clicked through at 90 days
            # would otherwise each be read in turn before the last one shows).
            if generation != self._generation:
                return None
            return read_range(path, host, vm_id, right - window_s, right, tier)

        self._runner.submit(read, done, failed)

    def needs(self, host: str, vm_id: str | None, window_s: float, right: float) -> bool:
        """True when the shown range is not this one, or is stale by a minute."""
        key = (host, vm_id, window_s)
        if self.pending_key == key:
            return False
        return (self.loaded_key != key or self.loaded_right is None
                or right - self.loaded_right >= RELOAD_AFTER_S)

    def forget(self) -> None:
        self._generation += 1
        self.loaded_key = self.loaded_right = self.pending_key = None


class MarkerLayer:
    """Vertical lines on the VM window's pyqtgraph plots for stored markers: findings
    red/orange by severity, patch steps purple, recoveries green. Tooltips are plain text
    (the texts carry host data). The host graphs draw theirs themselves (graph_canvas.py)."""

    def __init__(self, plots: tuple[Any, ...]):
        self._plots = plots
        self._lines: list[tuple[Any, Any]] = []

    def show(self, markers: tuple[Any, ...]) -> None:
        import pyqtgraph as pg  # the VM window's plots: imported with them, not with this module
        self.clear()
        for m in markers:
            colour = MARKER_COLOURS.get(m.category) or MARKER_COLOURS.get(m.severity or "", "#7f7f7f")
            for i, plot in enumerate(self._plots):
                line = pg.InfiniteLine(m.t, angle=90, movable=False,
                                       pen=pg.mkPen(colour, width=1, style=Qt.PenStyle.DashLine))
                if i == 0:
                    line.setToolTip(plain_tooltip(f"{m.category}: {m.kind}", [m.text]))
                plot.addItem(line, ignoreBounds=True)
                self._lines.append((plot, line))

    def clear(self) -> None:
        for plot, line in self._lines:
            plot.removeItem(line)
        self._lines = []

    def __len__(self) -> int:
        return len(self._lines) // max(1, len(self._plots))
