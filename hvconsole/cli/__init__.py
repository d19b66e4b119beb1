"""``hvconsole`` entry point: with no subcommand it opens the GUI; subcommands are the
headless twins of the GUI features (collect, record, detect, ...).

Each command group lives in its own module exposing ``register(subparsers)``; handlers
import their heavy dependencies lazily so that opening the GUI stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys

# Command-group modules under hvconsole.cli, each with register(subparsers).
COMMAND_MODULES = ("collect", "record", "detect", "hosts", "patch")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hvconsole",
        description="Console for one site's Hyper-V hosts. Without a command it opens the window.",
    )
    parser.add_argument("--demo", action="store_true",
                        help="open the window on the embedded simulated demo site")
    parser.add_argument("--screenshot", metavar="PATH",
                        help="save a PNG of the main window after --after seconds, then exit")
    parser.add_argument("--after", type=float, default=10.0, metavar="SECONDS",
                        help="with --screenshot: how long to run first (default 10)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(f"hvconsole.cli.{name}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        from hvconsole.app import run_gui
        return run_gui(demo=args.demo, screenshot=args.screenshot, after=args.after)
    try:
        return int(args.handler(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
