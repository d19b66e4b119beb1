"""``hvconsole-sim``: run the simulated site from a terminal.

``serve`` starts one WS-Management endpoint per simulated host on loopback and runs
until SIGINT or SIGTERM; ``--json`` prints one line per host with its URL and the
credentials (random per run) before serving, for scripts and tests; ``--state-file``
writes them to a private file other processes find (``serve.read_state_file``), removed
on a clean exit. ``record`` writes a scenario's or the demo's trace (snapshot-v1 JSON
Lines) without any network; ``scenarios`` lists the named freeze scenarios, ``scenarios
--patch`` the patch scenarios. Sites: ``demo``, ``demo-patch`` (the demo plus a second
host on the regressed build), or any scenario name.

Bad arguments (a port outside 0-65535 or one the site's hosts would run past, a speed that
is not a positive number, an unknown site, a port already taken) are one line on stderr and
exit 2, as argparse does for its own errors; never a traceback.
"""

from __future__ import annotations

import argparse
import errno
import json
import math
import signal
import sys
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from hvconsole import __version__

from .model.clock import SimClock
from .model.site import SimSite
from .scenarios.demo import build_demo_site, build_patch_demo_site
from .scenarios.freeze import SCENARIOS
from .scenarios.patch import PATCH_SCENARIOS


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hvconsole-sim", description="The simulated Hyper-V site.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    serve = sub.add_parser("serve", help="serve the site as WS-Man endpoints on 127.0.0.1")
    _site_options(serve)
    serve.add_argument("--port", type=_port, default=0,
                       help="first port (hosts get port, port+1, ...); 0 = free ports")
    serve.add_argument("--speed", type=_positive("speed"), default=1.0,
                       help="simulated seconds per real second (a positive number)")
    serve.add_argument("--json", action="store_true", help="print one JSON object per host per line")
    serve.add_argument("--state-file", nargs="?", const="", default=None, metavar="PATH",
                       help="write the hosts' URLs and credentials to PATH (default: demo-site.json in "
                            "$HVCONSOLE_HOME or the runtime folder) while serving")
    rec = sub.add_parser("record", help="write a trace of the site (JSON Lines) to stdout")
    _site_options(rec)
    rec.add_argument("--seconds", type=_positive("seconds", at_most=MAX_RECORD_S, at_most_words="30 days"),
                     default=None, help="how long, at most 30 days (default: the scenario's duration, or 300)")
    rec.add_argument("--interval", type=_positive("interval", at_least=MIN_INTERVAL_S), default=5.0,
                     help="seconds between two polls of a host (at least 0.5)")
    listing = sub.add_parser("scenarios", help="list the named scenarios")
    listing.add_argument("--patch", action="store_true", help="list the patch scenarios instead")
    return parser


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text[:20]!r} is not a port number") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{port} is not a port (0 for free ports, else 1-65535)")
    return port


# A trace longer than a month or polls closer than half a second are typing mistakes, not
# recordings (a month at 5 s is ~500,000 polls per host already).
MAX_RECORD_S = 30 * 86400.0
MIN_INTERVAL_S = 0.5


def _positive(name: str, *, at_least: float | None = None, at_most: float | None = None,
              at_most_words: str = "") -> Callable[[str], float]:
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text[:20]!r} is not a number") from None
        if not (math.isfinite(value) and value > 0):
            raise argparse.ArgumentTypeError(f"{name} must be a positive number, not {text[:20]}")
        if at_least is not None and value < at_least:
            raise argparse.ArgumentTypeError(f"{name} must be at least {at_least:g}, not {text[:20]}")
        if at_most is not None and value > at_most:
            words = f" ({at_most_words})" if at_most_words else ""
            raise argparse.ArgumentTypeError(f"{name} must be at most {at_most:,.0f}{words}, not {text[:20]}")
        return value
    parse.__name__ = name        # argparse names the type in its messages
    return parse


def _site_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--site", default="demo", help="'demo', 'demo-patch' or a scenario name (see 'scenarios')")
    p.add_argument("--seed", type=int, default=1)


def make_site(name: str, seed: int, clock: SimClock | None) -> SimSite:
    if name == "demo":
        return build_demo_site(seed, clock)
    if name == "demo-patch":
        return build_patch_demo_site(seed, clock)
    if name in PATCH_SCENARIOS:
        return PATCH_SCENARIOS[name].build(seed, clock=clock)
    if name not in SCENARIOS:
        raise UsageError(f"unknown site {name[:40]!r}; 'demo', 'demo-patch' or one of: "
                         f"{', '.join([*SCENARIOS, *PATCH_SCENARIOS])}")
    return SCENARIOS[name].build(seed, clock=clock)


class UsageError(Exception):
    """A bad argument found after parsing: one line on stderr, exit 2."""


def cmd_serve(args: argparse.Namespace, out: TextIO) -> int:
    from .serve import serve_site

    site = make_site(args.site, args.seed, SimClock(speed=args.speed))
    if args.port and args.port + len(site.hosts) - 1 > 65535:
        raise UsageError(f"--port {args.port}: the site's {len(site.hosts)} hosts need ports {args.port}-"
                         f"{args.port + len(site.hosts) - 1}, beyond 65535")
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    try:
        served = serve_site(site, base_port=args.port)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            last = args.port + len(site.hosts) - 1
            raise UsageError(f"--port {args.port}: a port in {args.port}-{last} is already in use; "
                             "pick another first port, or 0 for free ports") from None
        raise UsageError(f"cannot listen on 127.0.0.1: {exc.strerror or exc}") from None
    state_file = None
    try:
        if args.state_file is not None:
            from .serve import default_state_file, write_state_file
            state_file = Path(args.state_file) if args.state_file else default_state_file()
            write_state_file(state_file, served, site=args.site, speed=args.speed)
        for h in served.hosts:
            if args.json:
                out.write(json.dumps({"host": h.name, "url": h.url, "user": h.user, "password": h.password}) + "\n")
            else:
                out.write(f"{h.name:<8} {h.url}\n")
        if not args.json:
            out.write(f"user: {served.hosts[0].user if served.hosts else ''}  "
                      f"password: {served.hosts[0].password if served.hosts else ''}  "
                      f"(transport plaintext; Ctrl+C stops)\n")
        out.flush()
        while not stop.wait(0.5):
            pass
    finally:
        if state_file is not None:
            from .serve import remove_state_file
            remove_state_file(state_file)
        served.stop()
    return 0


def cmd_record(args: argparse.Namespace, out: TextIO) -> int:
    from .record import record

    scenario = SCENARIOS.get(args.site)
    start = datetime.now(UTC) if scenario is None else None
    site = make_site(args.site, args.seed, SimClock.manual(start) if start else None)
    seconds = args.seconds if args.seconds is not None else (scenario.duration_s if scenario else 300.0)
    for snapshot in record(site, seconds=seconds, interval=args.interval):
        out.write(json.dumps(snapshot, separators=(",", ":"), ensure_ascii=False) + "\n")
    out.flush()
    return 0


def cmd_scenarios(out: TextIO, patch: bool = False) -> int:
    if patch:
        for p in PATCH_SCENARIOS.values():
            out.write(f"{p.name:<28} {p.description}\n")
        return 0
    for s in SCENARIOS.values():
        out.write(f"{s.name:<28} {s.kind:<9} onset {s.onset_s:>4.0f} s  {s.description}\n")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    out = sys.stdout
    try:
        if args.command == "serve":
            return cmd_serve(args, out)
        if args.command == "record":
            return cmd_record(args, out)
        return cmd_scenarios(out, args.patch)
    except UsageError as exc:
        parser.exit(2, f"{parser.prog} {args.command}: {exc}\n")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
