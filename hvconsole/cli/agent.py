"""``hvconsole agent``: watch the hosts without the window and serve ``/metrics`` for
Prometheus (docs/history-and-prometheus.md).

``hvconsole agent --listen 127.0.0.1:9617`` polls the inventory's hosts (passwords from
the OS keyring of the account it runs as); ``--demo`` polls the simulated demo site
instead (``--demo-speed N`` runs its clock N times faster). The pollers and the freeze
detector are the window's own (:mod:`hvconsole.agent.runner`). ``--history FILE`` also
writes every poll into a history file (``hvconsole history export`` reads it).

The first line on stdout says where the metrics are served (with the port chosen when
``--listen`` asks for port 0). SIGTERM or Ctrl+C stop it: polls in flight are cancelled,
sessions closed, the history flushed. Exit 0 after a clean stop, 2 for bad arguments or
when there is nothing to watch, 1 when the address cannot be listened on.
"""

from __future__ import annotations

import argparse
import ipaddress
import signal
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hvconsole.cli import common
from hvconsole.cli.common import EXIT_USAGE, add_demo_arguments, open_site

if TYPE_CHECKING:
    from hvconsole.cli.common import Subcommands
    from hvconsole.site import Site

PROG = "hvconsole agent"
EXIT_STATUS = ("Exit status: 0 after SIGTERM/Ctrl+C, 1 when the address cannot be listened on, "
               "2 for bad arguments or no host to watch.")
DEFAULT_LISTEN = "127.0.0.1:9617"
DEMO_POLL_INTERVAL_S = 5.0        # the window's demo schedule (app.py), in simulated seconds
DEMO_MIN_POLL_INTERVAL_S = 1.0


def register(subparsers: Subcommands) -> None:
    p = subparsers.add_parser(
        "agent", help="watch the hosts headless and serve /metrics for Prometheus",
        description="Poll the inventory's hosts (or the demo site) with the window's pollers and "
                    "freeze detector, and serve their state as Prometheus metrics.",
        epilog=EXIT_STATUS)
    p.add_argument("--listen", default=DEFAULT_LISTEN, metavar="ADDRESS:PORT",
                   help=f"where to serve /metrics (default {DEFAULT_LISTEN}; port 0 picks a free one). "
                        "The endpoint has no authentication: listen on loopback or a management network")
    add_demo_arguments(p, demo_help="watch the simulated demo site",
                       speed_help="with --demo: simulated seconds per real second (default 1)")
    p.add_argument("--interval", type=float, default=None, metavar="SECONDS",
                   help="seconds between polls of a host (default 5; with --demo 5 simulated seconds)")
    p.add_argument("--timeout", type=float, default=10.0, metavar="SECONDS",
                   help="give up on one poll after this long (default 10)")
    p.add_argument("--max-vms", type=int, default=5000, metavar="N",
                   help="export per-VM metrics for at most N VMs in all (default 5000)")
    p.add_argument("--history", metavar="FILE",
                   help="also write every poll into this history file (SQLite)")
    p.set_defaults(handler=run)


def say(message: str) -> None:
    common.say(f"{PROG}: {message}")


def parse_listen(text: str) -> tuple[str, int]:
    """``ADDRESS:PORT`` (IPv6 in brackets) to (address, port); ValueError says what is wrong."""
    host, sep, port_text = text.rpartition(":")
    if not sep or not host:
        raise ValueError(f"--listen wants ADDRESS:PORT, e.g. {DEFAULT_LISTEN}, not {text!r}")
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    try:
        ipaddress.ip_address(host)
    except ValueError:
        if host != "localhost":
            raise ValueError(f"--listen: {host!r} is not an IP address (use 127.0.0.1, a management "
                             "address of this machine, or 0.0.0.0)") from None
    try:
        port = int(port_text)
    except ValueError:
        raise ValueError(f"--listen: {port_text!r} is not a port number") from None
    if not 0 <= port <= 65535:
        raise ValueError(f"--listen: port {port} is out of range (0-65535)")
    return host, port


def run(args: argparse.Namespace, stop: threading.Event | None = None) -> int:
    try:
        host, port = parse_listen(args.listen)
    except ValueError as exc:
        say(str(exc))
        return EXIT_USAGE
    for name, value, low in (("--timeout", args.timeout, 0.5), ("--interval", args.interval, 0.2),
                             ("--demo-speed", args.demo_speed, 0.0)):
        if value is not None and not (value > low and value <= 100_000):
            say(f"{name} must be above {low:g} (got {value:g})")
            return EXIT_USAGE
    if args.max_vms < 0:
        say("--max-vms cannot be negative")
        return EXIT_USAGE

    site = open_site(PROG, demo=args.demo, speed=args.demo_speed)
    if isinstance(site, int):
        return site
    with site:
        for line in site.problems + site.warnings:
            say(line)
        if not site.targets:
            say("no host to watch: add hosts with `hvconsole hosts add`, or use --demo")
            return EXIT_USAGE
        return _serve(site, args, host, port, stop or threading.Event())


def _serve(site: Site, args: argparse.Namespace, host: str, port: int, stop: threading.Event) -> int:
    from prometheus_client import CollectorRegistry, start_http_server

    from hvconsole import __version__
    from hvconsole.agent.metrics import AgentCollector
    from hvconsole.agent.runner import AgentRunner
    from hvconsole.monitoring.workers import site_workers

    if args.interval is not None:
        interval = args.interval
    elif site.simulated:
        interval = max(DEMO_MIN_POLL_INTERVAL_S, DEMO_POLL_INTERVAL_S / max(site.speed, 1.0))
    else:
        interval = 5.0
    writer = _open_history(args.history)
    if writer is False:
        return EXIT_USAGE
    runner = AgentRunner(site_workers(site, poll_interval_s=interval, timeout_s=args.timeout),
                         interval_s=interval, history=writer)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(AgentCollector(runner, max_vms=args.max_vms, version=__version__))
    try:
        server, _thread = start_http_server(port, addr=host, registry=registry)
    except OSError as exc:
        say(f"cannot listen on {host}:{port}: {exc.strerror or exc}")
        if writer is not None:
            writer.close()
        return 1
    shown = f"[{host}]" if ":" in host else host
    print(f"{PROG}: serving http://{shown}:{server.server_port}/metrics for {len(runner.hosts)} "
          f"host(s) of {site.label}, polling every {interval:g} s", flush=True)
    previous = _on_signals(stop)
    runner.start()
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        _restore_signals(previous)
        clean_stop = runner.stop(wait_s=args.timeout + 2.0)
        server.shutdown()
        server.server_close()
        if writer is not None:
            clean_stop = writer.close() and clean_stop
    print(f"{PROG}: stopped" + ("" if clean_stop else " (a host was still answering a poll)"), flush=True)
    return 0


def _open_history(path_text: str | None) -> Any:
    if not path_text:
        return None
    from hvconsole.core.historydb import HistoryDbError, HistoryWriter
    try:
        return HistoryWriter(Path(path_text))
    except (HistoryDbError, OSError) as exc:
        say(f"--history: {exc}")
        return False


def _on_signals(stop: threading.Event) -> dict[int, Any]:
    """SIGTERM (systemd, a scheduled task ending) and SIGINT stop the agent cleanly."""
    previous: dict[int, Any] = {}
    if threading.current_thread() is not threading.main_thread():
        return previous
    for sig in (signal.SIGTERM, signal.SIGINT):
        previous[sig] = signal.signal(sig, lambda *_: stop.set())
    return previous


def _restore_signals(previous: dict[int, Any]) -> None:
    for sig, handler in previous.items():
        signal.signal(sig, handler)
