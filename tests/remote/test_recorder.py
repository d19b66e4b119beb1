"""TraceRecorder: one poller thread per host, lines written in polled_at order even when
pollers finish out of order, flushed as they go, and readable by core.trace."""

from __future__ import annotations

import io
import threading
import time
from dataclasses import dataclass

from hvconsole.core.snapshot import unreachable
from hvconsole.core.timeutil import utcnow
from hvconsole.core.trace import read_trace
from hvconsole.remote.recorder import TraceRecorder
from hvconsole.remote.target import CancelToken


@dataclass
class FakeTarget:
    name: str


class StampThenStall:
    """A collector whose poll stamps polled_at, then takes ``stall_s`` before returning:
    the gap in which another host's later snapshot can overtake it."""

    def __init__(self, name: str, stall_s: float):
        self.target = FakeTarget(name)
        self.timeout_s = 5.0
        self.stall_s = stall_s
        self.polls = 0

    def poll(self, cancel: CancelToken | None = None):
        self.polls += 1
        snap = unreachable(self.target.name, utcnow(), "timeout", "simulated", 1)
        time.sleep(self.stall_s)
        return snap


class FlushCountingStream(io.StringIO):
    def __init__(self):
        super().__init__()
        self.flushes = 0

    def flush(self):
        self.flushes += 1
        super().flush()


def test_lines_are_in_polled_at_order_across_hosts_and_flushed():
    slow, fast = StampThenStall("HV-SLOW", 0.3), StampThenStall("HV-FAST", 0.0)
    out = FlushCountingStream()
    stats = TraceRecorder([slow, fast], out, interval_s=0.2, reorder_window_s=1.0).run(1.0)
    lines = out.getvalue().splitlines()
    assert stats.lines == len(lines) == slow.polls + fast.polls
    assert slow.polls >= 2 and fast.polls >= 4
    assert stats.unreachable == stats.polls
    snaps = list(read_trace(io.BytesIO(out.getvalue().encode()), strict=True))
    stamps = [s.polled_at for s in snaps]
    assert stamps == sorted(stamps)
    assert stats.late == 0
    assert {s.host for s in snaps} == {"HV-SLOW", "HV-FAST"}
    assert out.flushes >= 2  # written as it goes, not once at the end


def test_cancel_stops_recording_early_and_keeps_what_was_recorded():
    c = StampThenStall("HV01", 0.0)
    out = io.StringIO()
    token = CancelToken()
    threading.Timer(0.3, token.cancel).start()
    started = time.monotonic()
    stats = TraceRecorder([c], out, interval_s=0.1).run(60.0, cancel=token)
    assert time.monotonic() - started < 30  # not the 60 s asked for
    assert stats.lines == c.polls >= 1
