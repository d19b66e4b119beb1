"""What the subcommands share: the usage exit code and error, the ``--demo`` and host
arguments, opening the site (the inventory's hosts or the simulated demo's) with its
problems said under the command's name, the stand-alone entry of a command group, and
choices read only when argparse needs them.

Nothing heavy is imported here at module level: every subcommand module is imported to
build the parser, so what this module imports is paid by ``hvconsole --help`` too.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, TypeAlias

if TYPE_CHECKING:
    from hvconsole.remote.target import Target
    from hvconsole.site import Site

    Subcommands: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"

EXIT_USAGE = 2
ONE_HOST_USAGE = "name a host of the inventory (see `hvconsole hosts list`), or use --demo HOST"
SAY_MAX = 1000      # a line on stderr is cut here: an inventory or host text cannot flood it


class CliError(Exception):
    """An expected failure: the command prints its message in one line and exits ``code``."""

    def __init__(self, message: str, code: int = EXIT_USAGE):
        super().__init__(message)
        self.code = code


def clean(text: str | None, limit: int | None = None) -> str:
    """Host- or file-supplied text made safe for a terminal (the detector's one cleaning
    function: control and bidi characters cannot move the cursor or reorder the line),
    cut at ``limit`` characters (default: the detector's)."""
    from hvconsole.core.detector.text import clean as clean_text
    return clean_text(text) if limit is None else clean_text(text, limit)


def say(message: str) -> None:
    """One cleaned line on stderr."""
    print(clean(message, SAY_MAX), file=sys.stderr, flush=True)


def choices_later(action: argparse.Action, load: Callable[[], Iterable[str]]) -> None:
    """Give ``action`` the choices ``load`` returns, read only when argparse checks a value
    or prints that command's help: building the parser does not import their module.
    (Set after ``add_argument``, which would read choices given to it at once.)"""
    action.choices = _LazyChoices(load)


class _LazyChoices:

    def __init__(self, load: Callable[[], Iterable[str]]):
        self._load = load
        self._choices: tuple[str, ...] | None = None

    def _all(self) -> tuple[str, ...]:
        if self._choices is None:
            self._choices = tuple(self._load())
        return self._choices

    def __iter__(self) -> Iterator[str]:
        return iter(self._all())

    def __contains__(self, value: object) -> bool:
        return value in self._all()


def add_host_arguments(p: argparse.ArgumentParser, *, demo_help: str) -> None:
    """One host: a positional name of the inventory, or ``--demo HOST`` of the demo site."""
    p.add_argument("host", nargs="?", help="a host of the inventory (hvconsole hosts list)")
    p.add_argument("--demo", metavar="HOST", help=demo_help)


def add_demo_arguments(p: argparse.ArgumentParser, *, demo_help: str, speed_help: str,
                       speed_default: float = 1.0) -> None:
    """``--demo`` (the simulated site instead of the inventory) and its clock's ``--demo-speed``."""
    p.add_argument("--demo", action="store_true", help=demo_help)
    p.add_argument("--demo-speed", type=float, default=speed_default, metavar="N", help=speed_help)


def open_site(prog: str, *, demo: bool, only: list[str] | None = None,
              speed: float | None = None) -> Site | int:
    """The demo site (the 4-host "demo") or the inventory's hosts (only those named in
    ``only``), or the usage exit code after saying why neither can be opened."""
    from hvconsole.site import SiteError, open_configured_site, open_demo_site
    try:
        if demo:
            return open_demo_site(name="demo") if speed is None else open_demo_site(name="demo", speed=speed)
        return open_configured_site(only=only, allow_session_only=False)
    except SiteError as exc:
        say(f"{prog}: {exc}")
        return EXIT_USAGE


def on_one_host(args: argparse.Namespace, prog: str, body: Callable[[Site, Target], int]) -> int:
    """``body`` run on the site and target of the one host that ``args.host`` (inventory)
    or ``args.demo`` (demo site) names, after the site's warnings are said; or the usage
    exit code after saying why that host cannot be had. The site is closed after."""
    name = args.host or args.demo
    site = open_site(prog, demo=not args.host, only=[args.host] if args.host else None)
    if isinstance(site, int):
        return site
    with site:
        target = site.target(name)
        if target is None:
            if site.simulated:
                say(f"{prog}: no demo host {name!r}; the demo hosts are: {', '.join(site.names())}")
            for problem in site.problems:
                say(f"{prog}: {problem}")
            return EXIT_USAGE
        for warning in site.warnings:
            say(f"{prog}: {warning}")
        return body(site, target)


def add_command_group(subparsers: Subcommands, name: str, add_commands: Callable[[argparse.ArgumentParser], None],
                      *, help: str, description: str) -> None:
    """A command with subcommands of its own (``hosts``, ``patch``)."""
    add_commands(subparsers.add_parser(name, help=help, description=description))


def run_group(prog: str, add_commands: Callable[[argparse.ArgumentParser], None],
              argv: list[str] | None) -> int:
    """A command group run on its own (``python -m hvconsole.cli.hosts``): the same commands."""
    parser = argparse.ArgumentParser(prog=prog)
    add_commands(parser)
    args = parser.parse_args(argv)
    return int(args.handler(args))
