"""``hvconsole doctor HOST``: a read-only check of one host, one line per check with its
verdict and, for a failure, the fix (docs/doctor.md).

``hvconsole doctor HOST`` checks a host of the inventory with its password from the OS
keyring; ``--demo HOST`` a host of the simulated demo site. ``--json`` prints the report as
one JSON document; ``--bundle out.zip`` also writes the diagnostic bundle (``--redact-names``
replaces every host, user and VM name in it by a placeholder; ``--trace FILE`` adds that
host's last hour of a recorded trace).

Exit codes: 0 every check passed, 1 a check failed (or was cancelled), 2 usage errors,
130 interrupted.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from hvconsole.cli.common import EXIT_USAGE, ONE_HOST_USAGE, add_host_arguments, clean, on_one_host, say

if TYPE_CHECKING:
    from hvconsole.cli.common import Subcommands
    from hvconsole.remote.target import Target
    from hvconsole.site import Site

PROG = "hvconsole doctor"
EXIT_OK, EXIT_FAILED = 0, 1
_LABELS = {"pass": "PASS", "fail": "FAIL", "not-run": "----", "n/a": "n/a "}


def register(subparsers: Subcommands) -> None:
    p = subparsers.add_parser("doctor", help="check one host step by step and say what to fix", description=(
        "Check one host, read-only, in the order a problem would show itself: name, TCP, TLS, WinRM listener, "
        "authentication, administrator, PowerShell, Hyper-V, the shipped scripts, WinRM quotas, clock and free "
        "space. Exit code 0: every check passed; 1: a check failed; 2: usage error."))
    add_host_arguments(p, demo_help="check HOST of the embedded simulated demo site")
    p.add_argument("--json", action="store_true", help="print the report as one JSON document")
    p.add_argument("--bundle", metavar="ZIP", help="also write a diagnostic bundle (a zip with a README)")
    p.add_argument("--redact-names", action="store_true",
                   help="with --bundle: replace host, user and VM names by placeholders")
    p.add_argument("--trace", metavar="FILE",
                   help="with --bundle: add this host's last hour of a recorded trace (hvconsole record)")
    p.add_argument("--timeout", type=float, default=30.0, metavar="SECONDS",
                   help="the connection test's deadline (default 30); each later check has its own")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace, out: TextIO | None = None) -> int:
    stream = out or sys.stdout
    problem = _usage_problem(args)
    if problem:
        say(f"{PROG}: {problem}")
        return EXIT_USAGE

    def check(site: Site, target: Target) -> int:
        host = site.book.inventory.find(args.host or args.demo) if site.book is not None else None
        return _doctor(args, stream, target, host, site.clock)
    return on_one_host(args, PROG, check)


def _usage_problem(args: argparse.Namespace) -> str:
    if bool(args.demo) == bool(args.host):
        return ONE_HOST_USAGE
    if not (0 < args.timeout <= 3600):
        return "--timeout must be above 0 and at most 3600 seconds"
    if (args.redact_names or args.trace) and not args.bundle:
        return "--redact-names and --trace only apply with --bundle"
    if args.bundle:
        folder = Path(args.bundle).expanduser().resolve().parent
        if not folder.is_dir():
            return f"--bundle: the folder {folder} does not exist"
    if args.trace and not Path(args.trace).is_file():
        return f"--trace: no file {args.trace}"
    return ""


def _doctor(args: argparse.Namespace, out: TextIO, target: Any, host: Any, clock: Any) -> int:
    from hvconsole.doctor.bundle import capture_log
    from hvconsole.doctor.checks import DoctorTimeouts, host_for_target, run_doctor

    if host is None:
        host = host_for_target(target)
    lines: list[str] = []

    def show(result: Any) -> None:
        text = format_line(result)
        lines.append(text)
        if not args.json:
            print(text, file=out, flush=True)

    if not args.json:
        print(f"{clean(host.name)}: checking {clean(host.url)} as {clean(host.username)} "
              f"({host.transport.value})", file=out, flush=True)
    with capture_log() as log_lines:
        report = run_doctor(host, target.password, timeouts=DoctorTimeouts(connection=args.timeout),
                            on_result=show, **({"clock": clock} if clock else {}))
    if args.json:
        # ASCII JSON: the host's own text may hold bidi or control characters.
        print(json.dumps(report.to_dict(), ensure_ascii=True, indent=2), file=out)
    else:
        print(report.summary(), file=out)
    if args.bundle:
        code = _bundle(args, report, host, target.password, log_lines, "\n".join(lines) + "\n")
        if code:
            return code
    return EXIT_OK if report.ok else EXIT_FAILED


def _bundle(args: argparse.Namespace, report: Any, host: Any, password: str, log_lines: list[str],
            text: str) -> int:
    from hvconsole import paths
    from hvconsole.doctor.bundle import BundleInput, write_bundle
    snapshots = _trace_snapshots(args.trace, host.name) if args.trace else []
    try:
        path = write_bundle(Path(args.bundle).expanduser(), BundleInput(
            report=report, host=host, password=password, snapshots=snapshots, log_lines=log_lines,
            log_dir=paths.log_dir(), report_text=text), redact_names=args.redact_names)
    except OSError as exc:
        say(f"{PROG}: cannot write the bundle {args.bundle}: {exc.strerror or exc}")
        return EXIT_USAGE
    say(f"{PROG}: diagnostic bundle written to {path}"
        + (" (names redacted)" if args.redact_names else ""))
    return 0


def _trace_snapshots(path: str, host: str) -> list[Any]:
    from hvconsole.core.trace import read_trace
    bad = 0

    def count(_: Any) -> None:
        nonlocal bad
        bad += 1
    with open(path, "rb") as stream:
        snaps = [s for s in read_trace(stream, on_bad_line=count) if s.host.casefold() == host.casefold()]
    if bad:
        say(f"{PROG}: {bad} unreadable lines of {path} left out of the bundle")
    return snaps


def format_line(result: Any) -> str:
    """One check as printed: label, title, what was found; the fix on the next line."""
    label = _LABELS.get(result.verdict.value, result.verdict.value)
    text = f"  {label:4}  {result.title:38} {clean(result.detail, 600)}"
    if result.fix:
        text += f"\n        fix: {clean(result.fix, 600)}"
    return text

