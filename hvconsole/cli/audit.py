"""``hvconsole audit``: the health check of the inventory's hosts (or the demo site's).

Runs ``audit.ps1`` on each host (all of them when none is named; in parallel, each with its
own deadline), judges the answers against the rules of docs/health-check.md and prints one
block per host readable in a 100-column terminal, or with ``--json`` the
``hvconsole.audit/1`` document (tests/fixtures/contracts/audit-v1.schema.json).

Exit codes: 0 no problem at or above ``--fail-on`` (default critical); 1 there is one;
2 usage errors; 3 no such problem but a host could not be audited.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hvconsole.cli.common import EXIT_USAGE, open_site, say

if TYPE_CHECKING:
    from collections.abc import Callable
    from datetime import datetime

    from hvconsole.cli.common import Subcommands
    from hvconsole.remote.target import Target

PROG = "hvconsole audit"
FAIL_ON = ("critical", "warning", "info", "never")
EXIT_FAILED_HOST = 3


def register(subparsers: Subcommands) -> None:
    p = subparsers.add_parser("audit", help="health check: judge hosts' and VMs' configuration",
                              description="Read each host's and VM's configuration with audit.ps1 and show "
                                          "every problem with its evidence and fix (docs/health-check.md). "
                                          "Exit 0: nothing at or above --fail-on; 1: something is; 2: usage "
                                          "error; 3: a host could not be audited.")
    p.add_argument("hosts", nargs="*", metavar="HOST", help="hosts to audit (default: all)")
    p.add_argument("--demo", action="store_true", help="audit the embedded simulated demo site")
    p.add_argument("--json", action="store_true", help="print the hvconsole.audit/1 JSON document")
    p.add_argument("--fail-on", choices=FAIL_ON, default="critical",
                   help="exit 1 when a problem of this severity or worse exists (default critical)")
    p.add_argument("--severity", choices=FAIL_ON[:3], default="info",
                   help="show problems of this severity or worse (text output; default info)")
    p.add_argument("--thresholds", metavar="FILE", help="JSON object overriding thresholds by name")
    p.add_argument("--timeout", type=float, default=90.0, metavar="SECONDS",
                   help="give up on a host after this long (default 90)")
    p.add_argument("--no-fix", action="store_true", help="text output: leave out the fix lines")
    p.add_argument("--screenshot", metavar="PNG", help="also save a picture of the Health check view")
    p.set_defaults(handler=run)


def _thresholds(path: str | None) -> Any:
    from hvconsole.core.health import HealthThresholds, ThresholdError
    if path is None:
        return HealthThresholds()
    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ThresholdError(f"cannot read {path}: {exc.strerror or exc}") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise ThresholdError(f"{path} is not JSON: {exc}") from None
    return HealthThresholds.from_mapping(raw)


def _updates() -> list[Any]:
    from hvconsole import paths
    from hvconsole.assets import asset_path
    from hvconsole.core.catalog import load_catalog
    try:
        return list(load_catalog(asset_path("catalog", "updates.json"), paths.config_dir() / "catalog.d").updates)
    except Exception as exc:     # the audit still runs; only the patching rule goes without
        say(f"{PROG}: the update catalog cannot be read ({exc}); host-below-target is not judged")
        return []


def run(args: argparse.Namespace) -> int:
    from hvconsole.core.health import ThresholdError
    if not (0 < args.timeout <= 3600):
        say(f"{PROG}: --timeout must be above 0 and at most 3600 seconds")
        return EXIT_USAGE
    try:
        thresholds = _thresholds(args.thresholds)
    except ThresholdError as exc:
        say(f"{PROG}: --thresholds: {exc}")
        return EXIT_USAGE
    site = open_site(PROG, demo=args.demo, only=args.hosts or None)
    if isinstance(site, int):
        return site
    with site:
        for problem in site.problems:
            say(f"{PROG}: {problem}")
        for warning in site.warnings:
            say(f"{PROG}: {warning}")
        targets = []
        for name in args.hosts or site.names():
            target = site.target(name)
            if target is None:
                known = ", ".join(site.names()) or "none"
                say(f"{PROG}: no host {name!r} here; the hosts are: {known}")
                return EXIT_USAGE
            targets.append(target)
        if not targets:
            say(f"{PROG}: no hosts to audit; add one with `hvconsole hosts add`, or use --demo")
            return EXIT_USAGE
        return _audit_and_print(targets, thresholds, args, site.clock)


def _audit_and_print(targets: list[Target], thresholds: Any, args: argparse.Namespace,
                     clock: Callable[[], datetime] | None) -> int:
    from concurrent.futures import ThreadPoolExecutor

    from hvconsole.core.health import fails, report_document, report_text
    from hvconsole.core.timeutil import utcnow
    from hvconsole.remote.audit import audit_host
    now = clock or utcnow
    updates = _updates()
    with ThreadPoolExecutor(max_workers=min(8, len(targets)), thread_name_prefix="audit") as pool:
        audits = list(pool.map(lambda t: audit_host(t, thresholds, updates=updates, timeout_s=args.timeout,
                                                    clock=now), targets))
    floor = None if args.fail_on == "never" else args.fail_on
    if args.json:
        json.dump(report_document(audits, thresholds, now(), floor), sys.stdout, ensure_ascii=False)
        sys.stdout.write("\n")
    else:
        print(report_text(audits, min_severity=args.severity, show_fix=not args.no_fix))
    if args.screenshot:
        from hvconsole.ui.health.screenshot import save_audits_screenshot
        if save_audits_screenshot(audits, targets, args.screenshot, thresholds) != 0:
            say(f"{PROG}: the screenshot could not be saved to {args.screenshot}")
            return EXIT_USAGE
    if fails(audits, floor):
        return 1
    return EXIT_FAILED_HOST if any(not a.reachable for a in audits) else 0
