"""``hvconsole record``: poll hosts at an interval and write a trace (JSON Lines, one
snapshot per poll in ``polled_at`` order, flushed as it goes) that ``hvconsole detect``
and the GUI replay.

The hosts are those of the inventory (``hvconsole hosts``), with their passwords from the
OS keyring, or with ``--demo`` those of the embedded demo site.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

NO_HOSTS = "no hosts configured: add them with `hvconsole hosts add`, or use --demo"


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("record", help="poll hosts at an interval and write a trace",
                              description="Poll every host at an interval, each on its own "
                                          "thread, and write a trace: one snapshot-v1 JSON line "
                                          "per poll, in polled_at order, flushed as it goes.")
    p.add_argument("--demo", action="store_true", help="record every host of the embedded demo site")
    p.add_argument("--seconds", type=float, default=60.0, metavar="N",
                   help="how long to record (default 60)")
    p.add_argument("--interval", type=float, default=5.0, metavar="S",
                   help="seconds between polls of one host (default 5)")
    p.add_argument("--timeout", type=float, default=30.0, metavar="SECONDS",
                   help="give up on a poll after this long (default 30)")
    p.add_argument("-o", "--output", required=True, metavar="TRACE.jsonl",
                   help="the trace file to write (replaced if it exists)")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    for name in ("seconds", "interval", "timeout"):
        if getattr(args, name) <= 0:
            print(f"hvconsole record: --{name} must be positive", file=sys.stderr)
            return 2
    from hvconsole.cli.collect import demo_targets, start_demo_site
    from hvconsole.remote.collector import Collector
    from hvconsole.remote.recorder import TraceRecorder

    site = None
    if args.demo:
        site = start_demo_site()
        targets = demo_targets(site)
    else:
        targets = _configured_targets()
        if not targets:
            return 2   # said why; the output file is left untouched
    try:
        out = open(args.output, "w", encoding="utf-8", newline="\n")
    except OSError as exc:
        if site is not None:
            site.stop()
        print(f"hvconsole record: cannot write {args.output}: {exc.strerror}", file=sys.stderr)
        return 2
    collectors: list[Collector] = []
    try:
        collectors = [Collector(t, timeout_s=args.timeout) for t in targets]
        stats = TraceRecorder(collectors, out, interval_s=args.interval).run(args.seconds)
    finally:
        for c in collectors:
            c.close()
        if site is not None:
            site.stop()
        out.close()
    polls = sum(stats.polls.values())
    failed = sum(stats.unreachable.values())
    print(f"recorded {polls} polls of {len(collectors)} hosts to {args.output}"
          + (f" ({failed} unreachable)" if failed else ""), file=sys.stderr)
    return 0


def _configured_targets() -> list[Any]:
    """Every inventory host with a password; the others are named on stderr."""
    from hvconsole.credentials import CredentialStoreError
    from hvconsole.remote.configured import load_configured
    try:
        configured = load_configured(allow_session_only=False)
    except CredentialStoreError as exc:
        print(f"hvconsole record: {exc}", file=sys.stderr)
        return []
    for problem in configured.problems:
        print(f"hvconsole record: left out {problem}", file=sys.stderr)
    if configured.empty:
        print(f"hvconsole record: {NO_HOSTS}", file=sys.stderr)
    return configured.targets
