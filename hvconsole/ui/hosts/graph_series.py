"""The host graphs' own copy of the shown window of one host's history, brought up to
date incrementally: each refresh reads from the ring buffer only the rows added since the
previous one (docs/performance.md, "Host graphs")."""

from __future__ import annotations

import numpy as np

from hvconsole.core.history import HostHistory


class SeriesWindow:
    """The graphs' own copy of the shown window of one host's ring buffer.

    Each refresh reads only the rows added since the previous one and appends them, then
    drops what fell out of the window; the whole window is read again only for a new
    host, a new window length, or a buffer that no longer continues ours. The arrays
    handed to the curves are our own (new ones each time the data changes), never
    views of the ring buffer that a poller thread writes after the lock is released."""

    def __init__(self) -> None:
        self.clear()

    def clear(self) -> None:
        self.history: HostHistory | None = None
        self.window_s: float = 0.0
        self.times = np.empty(0)
        self.values = np.empty((0, 0))
        self.fields: tuple[str, ...] = ()
        self.appended = 0        # rows added by the last update (for tests and benchmarks)
        self.reloaded = False    # True if the last update read the whole window
        self.shifts = 0          # the buffer's shift count when we read it

    def column(self, field: str) -> np.ndarray:
        return self.values[self.fields.index(field)]

    def update(self, h: HostHistory, window_s: float) -> None:
        """Bring the window up to ``h``'s newest row (caller holds the history's lock)."""
        right = h.last_time
        if right is None:        # nothing polled yet: nothing to show
            self.clear()
            return
        left = right - window_s
        buf = h.buffer
        last = float(self.times[-1]) if self.times.size else None
        # A shifted buffer (the console's clock went back) holds our rows at other times.
        if (h is not self.history or window_s != self.window_s or last is None or right < last
                or buf.shifts != self.shifts):
            times, values = buf.since(left, copy=True)
            self.history, self.window_s, self.fields = h, window_s, buf.fields
            self.shifts = buf.shifts
            self.times, self.values = times, values
            self.appended, self.reloaded = times.size, True
            return
        self.reloaded = False
        new_t, new_v = buf.since(last)
        # ``since`` includes the rows at our newest time, which we already hold (rows
        # of equal time are appended in order, so any beyond those are new).
        held = int(self.times.size - np.searchsorted(self.times, last, side="left"))
        new_t, new_v = new_t[held:], new_v[:, held:]
        self.appended = new_t.size
        if new_t.size:
            self.times = np.concatenate((self.times, new_t))
            self.values = np.concatenate((self.values, new_v), axis=1)
        self._trim(left)

    def _trim(self, left: float) -> None:
        start = int(np.searchsorted(self.times, left, side="left"))
        if start:
            self.times, self.values = self.times[start:], self.values[:, start:]


class StoredData:
    """A stored range (or stored past + the in-memory hour) in SeriesWindow's shape."""

    def __init__(self, times: np.ndarray, values: np.ndarray, fields: tuple[str, ...]):
        self.times, self.values, self.fields = times, values, fields

    def column(self, field: str) -> np.ndarray:
        return self.values[self.fields.index(field)]
