"""``hvconsole collect``: poll one host once through the real WinRM client and print the
snapshot (``--json``: the snapshot-v1 document; otherwise a short summary).

``hvconsole collect HOST`` polls a host of the inventory (``hvconsole hosts``) with its
password from the OS keyring; ``--demo HOST`` polls a host of the embedded demo site, which
starts in this process on loopback, is polled like a real host, and stops.

Exit codes: 0 the host answered, 1 it did not (the snapshot says why), 2 usage errors.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

USAGE = "name a host of the inventory (see `hvconsole hosts list`), or use --demo HOST"


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("collect", help="poll one host once and print its snapshot",
                              description="Poll one host once through the real WinRM client and "
                                          "print its snapshot. Exit code 0: the host answered; "
                                          "1: it did not (the snapshot says why); 2: usage error.")
    p.add_argument("host", nargs="?", help="a host of the inventory (hvconsole hosts list)")
    p.add_argument("--demo", metavar="HOST", help="poll HOST of the embedded simulated demo site")
    p.add_argument("--json", action="store_true", help="print the snapshot-v1 JSON document")
    p.add_argument("--timeout", type=float, default=30.0, metavar="SECONDS",
                   help="give up on the host after this long (default 30)")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if bool(args.demo) == bool(args.host):
        print(f"hvconsole collect: {USAGE}", file=sys.stderr)
        return 2
    if args.timeout <= 0:
        print("hvconsole collect: --timeout must be positive", file=sys.stderr)
        return 2
    if args.host:
        target = configured_target(args.host)
        if target is None:
            return 2
        return _poll_and_print(target, args)
    site = start_demo_site()
    try:
        targets = demo_targets(site)
        target = next((t for t in targets if t.name.lower() == args.demo.lower()), None)
        if target is None:
            names = ", ".join(t.name for t in targets)
            print(f"hvconsole collect: no demo host {args.demo!r}; the demo hosts are: {names}",
                  file=sys.stderr)
            return 2
        return _poll_and_print(target, args)
    finally:
        site.stop()


def configured_target(name: str) -> Any:
    """The inventory host ``name`` with its password, or None after saying why."""
    from hvconsole.credentials import CredentialStoreError
    from hvconsole.remote.configured import load_configured
    try:
        configured = load_configured(only=[name], allow_session_only=False)
    except CredentialStoreError as exc:
        print(f"hvconsole collect: {exc}", file=sys.stderr)
        return None
    if configured.targets:
        return configured.targets[0]
    if not any(h.name.lower() == name.lower() for h in configured.book.inventory):
        print(f"hvconsole collect: no host {name!r} in the inventory (see `hvconsole hosts list`)",
              file=sys.stderr)
    for problem in configured.problems:
        print(f"hvconsole collect: {problem}", file=sys.stderr)
    return None


def _poll_and_print(target: Any, args: argparse.Namespace) -> int:
    from hvconsole.core.trace import write_snapshot
    from hvconsole.remote.collector import Collector
    collector = Collector(target, timeout_s=args.timeout)
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


# -- the demo site, shared with `hvconsole record` ----------------------------------------

def start_demo_site() -> Any:
    """Start the embedded demo site on loopback (the caller stops it)."""
    from hvconsole.sim.serve import start_demo
    return start_demo()


def demo_targets(site: Any) -> list[Any]:
    """A Target for every host the demo site serves, as a real inventory would give them."""
    from hvconsole.remote.configured import served_targets
    return served_targets(site.hosts)


# -- readable summary ---------------------------------------------------------------------

def summary(snap: Any) -> str:
    """A few lines an admin reads at a glance."""
    when = snap.polled_at.strftime("%Y-%m-%d %H:%M:%S UTC")
    if not snap.reachable:
        err = snap.error
        took = f" after {err.elapsed_ms} ms" if err and err.elapsed_ms is not None else ""
        return f"{snap.host}  UNREACHABLE at {when}{took}\n  {err.kind}: {err.message}"
    lines = [f"{snap.host}  reachable at {when}"
             + (f" (collected in {snap.collect_ms} ms)" if snap.collect_ms is not None else "")]
    if snap.os:
        os_ = snap.os
        build = f"{os_.build}.{os_.ubr}" if os_.build is not None and os_.ubr is not None else os_.build
        reboot = {True: ", reboot pending", False: "", None: ", reboot state unknown"}[os_.pending_reboot]
        lines.append(f"  OS       {os_.product or 'unknown product'}, build {build or '?'}{reboot}")
    if snap.resources:
        r = snap.resources
        lines.append(f"  CPU      {_num(r.cpu_total_run_pct, '%')} of {r.logical_processors or '?'} logical processors; "
                     f"memory {_num(r.memory_available_mb, 'MB')} free of {_num(r.memory_total_mb, 'MB')}")
    running = sum(1 for vm in snap.vms if vm.state == "Running")
    query = snap.vm_query
    q = "" if query is None else (f"; VM query ok in {query.elapsed_ms} ms" if query.ok
                                  else f"; VM QUERY FAILED: {query.error or 'no reason given'}")
    lines.append(f"  VMs      {len(snap.vms)} ({running} running){q}")
    if snap.services:
        lines.append("  services " + ", ".join(f"{k} {v or 'not installed'}" for k, v in sorted(snap.services.items())))
    if snap.cluster:
        lines.append(f"  cluster  {snap.cluster.name}: node {snap.cluster.node_state}, drain {snap.cluster.drain_status}")
    lines.append(f"  events   {len(snap.events)} new")
    return "\n".join(lines)


def _num(value: float | None, unit: str) -> str:
    if value is None:
        return "?"
    text = f"{value:.1f}" if unit == "%" else f"{value:,.0f}"
    return f"{text} {unit}" if unit != "%" else f"{text} %"
