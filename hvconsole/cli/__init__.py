"""``hvconsole`` entry point: with no subcommand it opens the GUI; subcommands are the
headless twins of the GUI features (collect, record, detect, ...).

Each command group lives in its own module exposing ``register(subparsers)``; handlers
import their heavy dependencies lazily so that opening the GUI stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path

# Command-group modules under hvconsole.cli, each with register(subparsers).
COMMAND_MODULES = ("collect", "record", "detect", "hosts", "patch", "doctor", "audit", "history", "agent", "recover")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hvconsole",
        description="Console for one site's Hyper-V hosts. Without a command it opens the window.",
    )
    parser.add_argument("--version", action="version", version=f"hvconsole {_version()}")
    parser.add_argument("--demo", action="store_true",
                        help="open the window on the embedded simulated demo site")
    parser.add_argument("--demo-speed", type=_speed, default=None, metavar="N",
                        help="with --demo: simulated seconds per real second (default 1; "
                             "60 with --wizard-screenshots)")
    parser.add_argument("--screenshot", metavar="PATH",
                        help="save a PNG of the main window after --after seconds, then exit")
    parser.add_argument("--after", type=float, default=None, metavar="SECONDS",
                        help="with --screenshot: how long to run first (default 10)")
    parser.add_argument("--wizard-screenshots", metavar="DIR",
                        help="walk the patch wizard through a full run on the demo site "
                             "(implies --demo), save one PNG per page in DIR, then exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(f"hvconsole.cli.{name}").register(sub)
    return parser


def _version() -> str:
    from hvconsole import __version__
    return __version__


def _speed(text: str) -> float:
    """A demo speed: a positive number of simulated seconds per real second."""
    value = _number(text)
    if not (0 < value <= 10_000):
        raise argparse.ArgumentTypeError(f"the demo speed must be above 0 and at most 10000, not {text}")
    return value


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None


# Hidden: the window starts its demo site's process with it (hvconsole.site.serve_demo_child).
# It goes before the parser is built, so that the child imports no command modules, and it
# works in the frozen bundle, whose executable is the app rather than python.
SERVE_DEMO_CHILD = "--serve-demo-child"


def main(argv: list[str] | None = None) -> int:
    args_given = sys.argv[1:] if argv is None else argv
    if args_given[:1] == [SERVE_DEMO_CHILD]:
        from hvconsole.site import serve_demo_child
        return serve_demo_child(args_given[1:])
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        if args.after is not None and not args.screenshot:
            parser.error("--after only applies with --screenshot")
        if args.after is not None and not (0 <= args.after <= 86_400):
            parser.error("--after must be between 0 and 86400 seconds")
        if args.demo_speed is not None and not (args.demo or args.wizard_screenshots):
            parser.error("--demo-speed only applies with --demo or --wizard-screenshots")
        if args.wizard_screenshots:
            out = Path(args.wizard_screenshots)
            try:
                out.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                parser.error(f"--wizard-screenshots: cannot use {out}: {exc.strerror or exc}")
        from hvconsole.app import run_gui
        return run_gui(demo=args.demo, screenshot=args.screenshot,
                       after=10.0 if args.after is None else args.after,
                       demo_speed=args.demo_speed, wizard_screenshots=args.wizard_screenshots)
    try:
        return int(args.handler(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
