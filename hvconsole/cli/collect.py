"""``hvconsole collect``: poll one host once through the real WinRM client and print the
snapshot (``--json``: the snapshot-v1 document; otherwise a short summary).

``hvconsole collect HOST`` polls a host of the inventory (``hvconsole hosts``) with its
password from the OS keyring; ``--demo HOST`` polls a host of the simulated demo site (a
running ``hvconsole-sim serve --state-file``, else one started in this process on loopback
and stopped again), polled like a real host. Both come from ``hvconsole.site``. A host whose
certificate is not checked is said once on stderr.

Exit codes: 0 the host answered, 1 it did not (the snapshot says why), 2 usage errors.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from hvconsole.cli.common import EXIT_USAGE, ONE_HOST_USAGE, add_host_arguments, clean, on_one_host, say

if TYPE_CHECKING:
    from collections.abc import Callable
    from datetime import datetime

    from hvconsole.cli.common import Subcommands
    from hvconsole.core.snapshot import Snapshot
    from hvconsole.remote.target import Target

PROG = "hvconsole collect"


def register(subparsers: Subcommands) -> None:
    p = subparsers.add_parser("collect", help="poll one host once and print its snapshot",
                              description="Poll one host once through the real WinRM client and "
                                          "print its snapshot. Exit code 0: the host answered; "
                                          "1: it did not (the snapshot says why); 2: usage error.")
    add_host_arguments(p, demo_help="poll HOST of the embedded simulated demo site")
    p.add_argument("--json", action="store_true", help="print the snapshot-v1 JSON document")
    p.add_argument("--timeout", type=float, default=30.0, metavar="SECONDS",
                   help="give up on the host after this long (default 30)")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if bool(args.demo) == bool(args.host):
        say(f"{PROG}: {ONE_HOST_USAGE}")
        return EXIT_USAGE
    if args.timeout <= 0:
        say(f"{PROG}: --timeout must be positive")
        return EXIT_USAGE
    return on_one_host(args, PROG, lambda site, target: _poll_and_print(target, args, site.clock))


def _poll_and_print(target: Target, args: argparse.Namespace, clock: Callable[[], datetime] | None = None) -> int:
    from hvconsole.core.trace import write_snapshot
    from hvconsole.remote.collector import Collector
    collector = Collector(target, timeout_s=args.timeout, clock=clock) if clock else \
        Collector(target, timeout_s=args.timeout)
    try:
        snap = collector.poll()
    finally:
        collector.close()
    if args.json:
        # One line, exactly as a trace line: `collect --json >> trace.jsonl` stays a trace.
        write_snapshot(sys.stdout, snap)
    else:
        print(summary(snap))
    return 0 if snap.reachable else 1


# -- readable summary ---------------------------------------------------------------------

def summary(snap: Snapshot) -> str:
    """A few lines an admin reads at a glance. Every text that came from the host (names,
    product, errors) is cleaned: a hostile VM or service name cannot drive the terminal."""
    c = clean
    when = snap.polled_at.strftime("%Y-%m-%d %H:%M:%S UTC")
    if not snap.reachable:
        err = snap.error
        took = f" after {err.elapsed_ms} ms" if err and err.elapsed_ms is not None else ""
        kind, message = (c(err.kind), c(err.message, 500)) if err else ("error", "no reason given")
        return f"{c(snap.host)}  UNREACHABLE at {when}{took}\n  {kind}: {message}"
    lines = [f"{c(snap.host)}  reachable at {when}"
             + (f" (collected in {snap.collect_ms} ms)" if snap.collect_ms is not None else "")]
    if snap.os:
        os_ = snap.os
        build = f"{os_.build}.{os_.ubr}" if os_.build is not None and os_.ubr is not None else os_.build
        reboot = {True: ", reboot pending", False: "", None: ", reboot state unknown"}[os_.pending_reboot]
        product = c(os_.product) or "unknown product"
        lines.append(f"  OS       {product}, build {c(str(build)) if build else '?'}{reboot}")
    if snap.resources:
        r = snap.resources
        memory = f"memory {_num(r.memory_available_mb, 'MB')} free of {_num(r.memory_total_mb, 'MB')}"
        lines.append(f"  CPU      {_num(r.cpu_total_run_pct, '%')} of {r.logical_processors or '?'} "
                     f"logical processors; {memory}")
    running = sum(1 for vm in snap.vms if vm.state == "Running")
    query = snap.vm_query
    q = "" if query is None else (f"; VM query ok in {query.elapsed_ms} ms" if query.ok
                                  else f"; VM QUERY FAILED: {c(query.error) or 'no reason given'}")
    lines.append(f"  VMs      {len(snap.vms)} ({running} running){q}")
    if snap.services:
        services = sorted(snap.services.items())
        lines.append("  services " + ", ".join(f"{c(k)} {c(v) or 'not installed'}" for k, v in services))
    if snap.cluster:
        lines.append(f"  cluster  {c(snap.cluster.name)}: node {c(snap.cluster.node_state)}, "
                     f"drain {c(snap.cluster.drain_status)}")
    lines.append(f"  events   {len(snap.events)} new")
    return "\n".join(lines)


def _num(value: float | None, unit: str) -> str:
    if value is None:
        return "?"
    text = f"{value:.1f}" if unit == "%" else f"{value:,.0f}"
    return f"{text} {unit}" if unit != "%" else f"{text} %"
