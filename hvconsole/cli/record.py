"""``hvconsole record``: poll hosts at an interval and write a trace (JSON Lines, one
snapshot per poll in ``polled_at`` order, flushed as it goes) that ``hvconsole detect``
and the GUI replay.

The hosts are those of the inventory (``hvconsole hosts``), with their passwords from the
OS keyring, or with ``--demo`` those of the simulated demo site; both come from
``hvconsole.site``. Hosts that cannot be reached as configured are named and left out, a
host whose certificate is not checked is said once, and a progress line reaches stderr
at least every 30 s so that a long recording is never silent.
"""

from __future__ import annotations

import argparse
import threading
import time
from typing import TYPE_CHECKING

from hvconsole.cli.common import EXIT_USAGE, open_site, say

if TYPE_CHECKING:
    from hvconsole.cli.common import Subcommands
    from hvconsole.core.snapshot import Snapshot
    from hvconsole.remote.collector import Collector
    from hvconsole.remote.target import CancelToken
    from hvconsole.site import Site

PROG = "hvconsole record"
NO_HOSTS = "no hosts configured: add them with `hvconsole hosts add`, or use --demo"
PROGRESS_EVERY_S = 30.0


def register(subparsers: Subcommands) -> None:
    p = subparsers.add_parser("record", help="poll hosts at an interval and write a trace",
                              description="Poll every host at an interval, each on its own "
                                          "thread, and write a trace: one snapshot-v1 JSON line "
                                          "per poll, in polled_at order, flushed as it goes.")
    p.add_argument("--demo", action="store_true", help="record every host of the simulated demo site")
    p.add_argument("--seconds", type=float, default=60.0, metavar="N",
                   help="how long to record (default 60)")
    p.add_argument("--interval", type=float, default=5.0, metavar="S",
                   help="seconds between polls of one host (default 5)")
    p.add_argument("--timeout", type=float, default=30.0, metavar="SECONDS",
                   help="give up on a poll after this long (default 30)")
    p.add_argument("--progress", type=float, default=PROGRESS_EVERY_S, metavar="SECONDS",
                   help=f"print a progress line on stderr this often (default {PROGRESS_EVERY_S:g}, at most 30)")
    p.add_argument("-o", "--output", required=True, metavar="TRACE.jsonl",
                   help="the trace file to write (replaced if it exists)")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    for name in ("seconds", "interval", "timeout", "progress"):
        if not getattr(args, name) > 0:
            say(f"{PROG}: --{name} must be a positive number of seconds")
            return EXIT_USAGE
    site = open_site(PROG, demo=args.demo)
    if isinstance(site, int):
        return site
    with site:
        for problem in site.problems:
            say(f"{PROG}: left out {problem}")
        if not site.targets:
            if site.book is not None and len(site.book.inventory) == 0:
                say(f"{PROG}: {NO_HOSTS}")
            return EXIT_USAGE   # said why; the output file is left untouched
        for warning in site.warnings:
            say(f"{PROG}: {warning}")
        return _record(site, args)


def _record(site: Site, args: argparse.Namespace) -> int:
    from hvconsole.remote.collector import Collector
    from hvconsole.remote.recorder import TraceRecorder
    try:
        # Closed in the finally below, after the collectors: a failure to open it is said apart.
        out = open(args.output, "w", encoding="utf-8", newline="\n")  # noqa: SIM115
    except OSError as exc:
        say(f"{PROG}: cannot write {args.output}: {exc.strerror}")
        return EXIT_USAGE
    collectors: list[_Watched] = []
    interrupted = False
    try:
        collectors = [_Watched(Collector(t, timeout_s=args.timeout)) for t in site.targets]
        # _Watched polls as a Collector does (poll, target, timeout_s: the recorder's Pollable).
        recorder = TraceRecorder(collectors, out, interval_s=args.interval)
        with _Progress(collectors, args.seconds, min(args.progress, PROGRESS_EVERY_S)):
            try:
                recorder.run(args.seconds)
            except KeyboardInterrupt:       # Ctrl+C: the recorder has written what it had
                interrupted = True
    finally:
        for c in collectors:
            c.close()
        out.close()
    stats = recorder.stats
    polls = sum(stats.polls.values())
    failed = sum(stats.unreachable.values())
    say(("interrupted: " if interrupted else "")
        + f"recorded {polls} polls of {len(collectors)} hosts to {args.output}"
        + (f" ({failed} unreachable)" if failed else ""))
    return 130 if interrupted else 0


class _Watched:
    """A collector that remembers whether its host answered its latest poll (for the
    progress line: how many hosts are unreachable now, not how often they were)."""

    def __init__(self, collector: Collector):
        self.collector = collector
        self.target = collector.target
        self.timeout_s = collector.timeout_s
        self.last_reachable: bool | None = None

    def poll(self, cancel: CancelToken | None = None) -> Snapshot:
        snap = self.collector.poll(cancel)
        self.last_reachable = snap.reachable
        return snap

    def close(self) -> None:
        self.collector.close()


class _Progress:
    """A line on stderr every ``every_s`` while recording: "recorded 12 of 60 s, 3 hosts,
    1 unreachable". A thread of its own, so a hung host cannot silence it."""

    def __init__(self, collectors: list[_Watched], seconds: float, every_s: float):
        self._collectors = collectors
        self._seconds = seconds
        self._every_s = every_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="record-progress", daemon=True)

    def __enter__(self) -> _Progress:
        self._started = time.monotonic()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5.0)

    def _loop(self) -> None:
        while not self._stop.wait(self._every_s):
            say(progress_line(time.monotonic() - self._started, self._seconds, self._collectors))


def progress_line(elapsed_s: float, seconds: float, collectors: list[_Watched]) -> str:
    down = sum(1 for c in collectors if c.last_reachable is False)
    hosts = len(collectors)
    return (f"recorded {min(elapsed_s, seconds):.0f} of {seconds:g} s, {hosts} host{'s' if hosts != 1 else ''}, "
            f"{down} unreachable")
