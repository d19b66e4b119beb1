"""``hvconsole patch``: the update catalog, compliance, and a journalled, resumable rollout.

    hvconsole patch catalog
    hvconsole patch check [--kb KB]
    hvconsole patch plan --kb KB --pilot HOST[,HOST] [--wave NAME=HOST,HOST ...] ... -o plan.json
    hvconsole patch run (--plan FILE | --kb KB --pilot ... [same options as plan]) [--yes | --dry-run]
    hvconsole patch resume RUN | status [RUN] | pause RUN | cancel RUN | promote RUN | halt RUN
    hvconsole patch report RUN [--html FILE] [--json FILE]

``run`` prints what it will do on each host and asks "Start run? [y/N]" (``--yes`` starts
without asking; ``--dry-run`` only prints). Plans are made and checked by the planning
service the window's wizard uses (``hvconsole.patch.planning``); this module only parses
arguments and prints.

Every command accepts ``--demo``: the simulated demo site instead of the inventory (a
``hvconsole-sim serve`` that is running is used, so it outlives a killed runner; otherwise
one is started in this process), with its own journal. The journal is
``<data dir>/patch-journal.sqlite`` (the demo's: ``<data dir>/demo/patch-journal.sqlite``).

Exit codes: 0 done and every host verified (or the command did what it was asked), 1 the
run failed, stopped or was cancelled, 2 bad input.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hvconsole.cli.common import (
    EXIT_USAGE,
    CliError,
    add_command_group,
    add_demo_arguments,
    choices_later,
    run_group,
)

if TYPE_CHECKING:
    from hvconsole.cli.common import Subcommands
    from hvconsole.core.patch.journal import Journal
    from hvconsole.patch.sites import HostDirectory
    from hvconsole.site import Site

PROG = "hvconsole patch"
EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, EXIT_USAGE
DEMO_SPEED = 20.0      # an embedded demo site runs this much faster than real time


def register(subparsers: Subcommands) -> None:
    add_command_group(subparsers, "patch", _add_commands, help="update catalog, compliance and a safe patch rollout",
                      description=(__doc__ or "").split("\n\n")[0])


def main(argv: list[str] | None = None) -> int:
    """Stand-alone entry (``python -m hvconsole.cli.patch``): the same commands."""
    return run_group(PROG, _add_commands, argv)


def _add_commands(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="patch_command", metavar="COMMAND", required=True)

    def cmd(name: str, help_: str, handler: Any) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_, description=help_)
        add_demo_arguments(p, demo_help="use the simulated demo site", speed_default=DEMO_SPEED,
                           speed_help=f"speed of an embedded demo site (default {DEMO_SPEED:g}x real time)")
        p.set_defaults(handler=lambda a: _guard(handler, a))
        return p

    p = cmd("catalog", "list the updates the console knows", cmd_catalog)
    p.add_argument("--json", action="store_true")
    p = cmd("check", "which hosts need which update, and why", cmd_check)
    p.add_argument("--kb", help="only this update")
    p.add_argument("--json", action="store_true")
    p = cmd("plan", "write a patch plan after checking it against the hosts", cmd_plan)
    _plan_options(p, required=True)
    p.add_argument("-o", "--output", required=True, metavar="PLAN.json", help="where to write the plan")
    p = cmd("run", "create a run from a plan and execute it (after showing what it will do)", cmd_run)
    p.add_argument("--plan", metavar="PLAN.json", help="a plan written by `hvconsole patch plan`")
    _plan_options(p, required=False)
    confirm = p.add_mutually_exclusive_group()
    confirm.add_argument("-y", "--yes", action="store_true", help="start without asking for confirmation")
    confirm.add_argument("--dry-run", action="store_true", help="print what the run would do and exit")
    for name, help_ in (("resume", "continue a run from what the journal and the hosts say"),
                        ("pause", "pause a run before its next step"),
                        ("cancel", "cancel a run: drained hosts are put back"),
                        ("promote", "start production after the test ring passed its soak (a run waiting for it)"),
                        ("halt", "stop after the pilot: production is not started, the run ends cancelled")):
        cmd(name, help_, {"resume": cmd_resume, "pause": cmd_pause, "cancel": cmd_cancel,
                          "promote": cmd_promote, "halt": cmd_halt}[name]).add_argument("run", type=int, metavar="RUN")
    p = cmd("status", "runs, or where every host of one run stands", cmd_status)
    p.add_argument("run", type=int, nargs="?", metavar="RUN")
    p = cmd("report", "the verification report of a run", cmd_report)
    p.add_argument("run", type=int, metavar="RUN")
    p.add_argument("--html", metavar="FILE", help="write the self-contained HTML report")
    p.add_argument("--json", metavar="FILE", help="write the JSON report ('-' for stdout)")


def _plan_options(p: argparse.ArgumentParser, *, required: bool) -> None:
    p.add_argument("--kb", required=required, help="the update (as in `hvconsole patch catalog`)")
    p.add_argument("--pilot", required=required, metavar="HOSTS",
                   help="the test ring (pilot hosts, patched and soaked first): host[,host]")
    p.add_argument("--wave", action="append", default=[], metavar="NAME=HOSTS",
                   help="a production wave after the pilot (repeatable, in order)")
    p.add_argument("--parallel", type=int, default=1, metavar="N", help="hosts at a time per wave (default 1)")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--package", metavar="FILE", help="local package file, pushed to each host over SMB")
    src.add_argument("--package-on-host", metavar="PATH", help="the package is already on each host at PATH")
    p.add_argument("--sha256", help="the package's SHA-256 (else the catalog's, else the local file's)")
    choices_later(p.add_argument("--vm-action", default="save", help="what happens to running VMs"), _vm_actions)
    p.add_argument("--destination", metavar="HOST", help="live-migration destination")
    p.add_argument("--soak-minutes", type=float, default=30.0, help="health watch after the pilot (default 30)")
    p.add_argument("--reboot-timeout", type=float, default=1800.0, metavar="SECONDS",
                   help="how long a host may take to come back (host time, default 1800)")
    p.add_argument("--continue-on-failure", action="store_true", help="do not stop a wave at its first failure")
    p.add_argument("--confirm-promotion", action="store_true",
                   help="after the pilot's soak passes, wait for `hvconsole patch promote RUN` before production")
    p.add_argument("--window-start", metavar="ISO-TIME", help="maintenance window start (for the notice)")
    p.add_argument("--contact", default="", help="who stakeholders ask (for the notice)")
    p.add_argument("--smb-port", type=int, default=445, help="SMB port of the hosts' admin share")
    p.add_argument("--no-check", action="store_true", help="skip the compliance check of the plan's hosts")


def _vm_actions() -> tuple[str, ...]:
    from hvconsole.core.patch.plan import VM_ACTIONS
    return VM_ACTIONS


def _guard(handler: Any, args: argparse.Namespace) -> int:
    try:
        return int(handler(args))
    except CliError as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return exc.code
    except Exception as exc:
        if not isinstance(exc, _bad_input_errors()):
            raise
        print(f"{PROG}: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT


def _bad_input_errors() -> tuple[type[BaseException], ...]:
    """The errors that mean bad input (exit 2). The engine's and the sites' are looked up
    only in modules already imported: `status`, `pause`, `cancel` ... never import the
    engine (it brings the WinRM client), and a module never imported raised nothing."""
    from hvconsole.core.catalog import CatalogError
    from hvconsole.core.patch.journal import JournalError
    from hvconsole.core.patch.plan import PlanError
    from hvconsole.patch.control import ControlError
    errors: list[type[BaseException]] = [PlanError, CatalogError, JournalError, ControlError, OSError]
    for module, name in (("hvconsole.patch.engine", "EngineError"), ("hvconsole.patch.sites", "SiteError")):
        if module in sys.modules:
            errors.append(getattr(sys.modules[module], name))
    return tuple(errors)


# -- hosts and journal -----------------------------------------------------------------------

def _open_site(args: argparse.Namespace, *, existing_run: bool = False, strict: bool = True) -> Site:
    """The hosts (``hvconsole.site``): the inventory, or with --demo the simulated site. An
    existing run (resume, cancel) must go on against the site it started on, never a fresh
    embedded one. ``strict``: a host that cannot be reached as configured refuses the
    command (a patch run needs every host); otherwise it is reported and left out."""
    from hvconsole.site import open_configured_site, open_demo_site
    if args.demo:
        site = open_demo_site(speed=args.demo_speed, name="demo-patch", embedded=not existing_run)
    else:
        site = open_configured_site(allow_session_only=False)
    if site.problems and (strict or not site.targets):
        site.close()
        raise CliError("; ".join(site.problems))
    for line in site.problems + site.warnings:
        print(f"warning: {clean(line)}", file=sys.stderr)
    if not site.targets:
        site.close()
        raise CliError("no hosts in the inventory; add them with `hvconsole hosts add`, or use --demo")
    return site


def _directory(site: Site, args: argparse.Namespace) -> HostDirectory:
    directory = site.directory()
    if getattr(args, "smb_port", None):
        directory.smb_port = args.smb_port
    return directory


def _journal(args: argparse.Namespace) -> Journal:
    """The demo's own journal with --demo, the real one otherwise."""
    from hvconsole.patch.journal_access import open_journal
    from hvconsole.paths import patch_journal_path
    return open_journal(patch_journal_path(demo=bool(args.demo)))


def clean(value: Any, limit: int = 300) -> str:
    from hvconsole.patch.text import clean as _clean
    return _clean(value, limit)


# -- commands --------------------------------------------------------------------------------

def cmd_catalog(args: argparse.Namespace) -> int:
    from hvconsole.cli.patch_text import catalog_text
    from hvconsole.patch.engine import load_site_catalog
    catalog = load_site_catalog()
    if args.json:
        print(json.dumps([{"kb": u.kb, "title": u.title, "released": u.released.isoformat(), "kind": u.kind,
                           "targets": [t.version for t in u.targets]} for u in catalog.updates], indent=2))
    else:
        print(catalog_text(catalog))
    return EXIT_OK


def cmd_check(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from hvconsole.cli.patch_text import compliance_text
    from hvconsole.patch.engine import catalog_update, load_site_catalog
    from hvconsole.patch.planning import PlanningService
    catalog = load_site_catalog()
    if args.kb:
        catalog_update(args.kb.strip().upper(), catalog)
    with _open_site(args, strict=False) as site:
        service = PlanningService(_directory(site, args), catalog)
        rows = service.compliance(service.survey(), args.kb.strip().upper() if args.kb else None)
    print(json.dumps([asdict(r) for r in rows], indent=2) if args.json else compliance_text(rows))
    return EXIT_OK


def cmd_plan(args: argparse.Namespace) -> int:
    plan = _plan_from_options(args)
    with _open_site(args) as site:
        plan, _ = _reviewed(plan, site, args)
    Path(args.output).write_text(json.dumps(plan.to_dict(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(plan.notice or f"plan for {plan.kb} written")
    print(f"\nplan written to {args.output}")
    return EXIT_OK


def cmd_run(args: argparse.Namespace) -> int:
    from hvconsole.cli.patch_text import review_text
    from hvconsole.patch.engine import create_run
    if args.plan:
        plan = _plan_from_file(args.plan)
    elif args.kb and args.pilot:
        plan = _plan_from_options(args)
    else:
        raise CliError("give --plan FILE, or --kb and --pilot")
    with _open_site(args) as site:
        plan, review = _reviewed(plan, site, args)
        print(review_text(plan, review), flush=True)
        if args.dry_run:
            print("\ndry run: nothing was started and no host was changed")
            return EXIT_OK
        if not args.yes and not _confirmed():
            print("not started: no host was changed")
            return EXIT_FAILED
        with _journal(args) as journal:
            run_id = create_run(journal, plan)
            print(f"patch run {run_id}: {plan.kb} on {', '.join(plan.hosts)} (journal {journal.path})", flush=True)
            return _execute(journal, run_id, _directory(site, args))


def _confirmed() -> bool:
    """Ask on the terminal; without one, refuse (a script must say --yes)."""
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise CliError("`patch run` asks before it changes any host, and there is no terminal to ask on: "
                       "add --yes to start without asking, or --dry-run to only see what it would do")
    try:
        answer = input("\nStart run? [y/N] ")
    except (EOFError, KeyboardInterrupt):
        print()
        return False
    return answer.strip().lower() in ("y", "yes")


def cmd_resume(args: argparse.Namespace) -> int:
    from hvconsole.core.patch.vocabulary import FINISHED_STATES, RunState
    from hvconsole.patch.control import request
    from hvconsole.patch.journal_access import is_being_executed
    with _journal(args) as journal:
        run = journal.run(args.run)
        if run.state in FINISHED_STATES:
            print(f"run {run.id} is {run.state}; nothing to resume (plan a new run for failed hosts)")
            return EXIT_OK if run.state == RunState.DONE else EXIT_FAILED
        pid = is_being_executed(journal, run.id)
        if pid:
            state = request(journal, run.id, "continue")
            if state == RunState.AWAITING_PROMOTION:
                print(f"run {run.id} is being executed by process {pid} and waits for your decision after the "
                      f"pilot: `{PROG} promote {run.id}` or `{PROG} halt {run.id}`")
            else:
                print(f"run {run.id} is being executed by process {pid}; it is {state} again")
            return EXIT_OK
        with _open_site(args, existing_run=True) as site:
            return _execute(journal, run.id, _directory(site, args))


@contextmanager
def _requested(args: argparse.Namespace, action: str) -> Iterator[tuple[Journal, int | None]]:
    """The journal with ``action`` requested for run ``args.run``, and the process id
    executing that run (None: no process is), for the command to say what happens next."""
    from hvconsole.patch.control import request
    from hvconsole.patch.journal_access import is_being_executed
    with _journal(args) as journal:
        request(journal, args.run, action)
        yield journal, is_being_executed(journal, args.run)


def _request_and_tell(args: argparse.Namespace, action: str, *, executing: str, idle: str) -> int:
    """Request ``action`` and say what happens next: ``executing`` (``{pid}`` in it is the
    process that acts on it) when a process executes the run, else ``idle``."""
    with _requested(args, action) as (_, pid):
        print(f"run {args.run} " + (executing.format(pid=pid) if pid else idle))
    return EXIT_OK


def cmd_pause(args: argparse.Namespace) -> int:
    return _request_and_tell(args, "pause", executing="paused: process {pid} stops before its next step",
                             idle=f"paused: `{PROG} resume {args.run}` continues it")


def cmd_cancel(args: argparse.Namespace) -> int:
    from hvconsole.core.patch.vocabulary import RunState
    with _requested(args, "cancel") as (journal, pid):
        if pid:
            print(f"run {args.run}: cancel requested; process {pid} puts drained hosts back and stops")
            return EXIT_OK
        print(f"run {args.run}: cancelling here (no process is executing it)", flush=True)
        with _open_site(args, existing_run=True) as site:
            code = _execute(journal, args.run, _directory(site, args))
        return EXIT_OK if journal.run(args.run).state == RunState.CANCELLED else code


def cmd_promote(args: argparse.Namespace) -> int:
    return _request_and_tell(args, "promote",
                             executing="promoted to production: process {pid} starts the production waves",
                             idle=f"promoted to production: no process is executing it; "
                                  f"`{PROG} resume {args.run}` starts the production waves")


def cmd_halt(args: argparse.Namespace) -> int:
    from hvconsole.core.patch.vocabulary import HALTED_REASON
    from hvconsole.patch.control import end_halted
    with _requested(args, "halt") as (journal, pid):
        if pid:
            print(f"run {args.run} halted after the pilot: process {pid} ends it without starting production")
        elif end_halted(journal, args.run):
            print(f"run {args.run}: {HALTED_REASON}; production was not started")
        else:
            print(f"run {args.run} halted; `{PROG} cancel {args.run}` finishes it")
    return EXIT_OK


def cmd_status(args: argparse.Namespace) -> int:
    from hvconsole.cli.patch_text import run_text, runs_text
    from hvconsole.patch.run_view import run_view
    with _journal(args) as journal:
        if args.run is None:
            print(runs_text(journal))
        else:
            print(run_text(run_view(journal, args.run)))
    return EXIT_OK


def cmd_report(args: argparse.Namespace) -> int:
    from hvconsole.cli.patch_text import report_text
    from hvconsole.core.patch.report import build_report, render_html
    from hvconsole.core.patch.vocabulary import RunState
    with _journal(args) as journal:
        report = build_report(journal, args.run)
    if args.json == "-":
        # ASCII escapes on a terminal: a VM name's bidi override or ESC must not act on it.
        print(json.dumps(report, indent=2, ensure_ascii=True))
    else:
        print(report_text(report))
        if args.json:
            Path(args.json).write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    if args.html:
        Path(args.html).write_text(render_html(report), encoding="utf-8")
    ok = report["state"] == RunState.DONE and report["summary"]["verified"] == report["summary"]["hosts"]
    return EXIT_OK if ok else EXIT_FAILED


# -- helpers ---------------------------------------------------------------------------------

def _execute(journal: Journal, run_id: int, directory: HostDirectory) -> int:
    from hvconsole.cli.patch_text import ProgressPrinter
    from hvconsole.core.patch.vocabulary import HostState, RunState
    from hvconsole.patch.engine import execute
    stop = threading.Event()
    previous = {s: signal.signal(s, lambda *_: stop.set()) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        result = execute(journal, run_id, directory, progress=ProgressPrinter(sys.stdout), stop=stop)
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    print(f"run {run_id}: {result.state}: {clean(result.reason, 2000)}")
    verified = result.state == RunState.DONE and all(s == HostState.DONE for s in result.hosts.values())
    return EXIT_OK if verified else EXIT_FAILED


def _plan_from_file(path: str) -> Any:
    from hvconsole.core.patch.plan import PatchPlan
    from hvconsole.patch.planning import local_package_problem
    try:
        plan = PatchPlan.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CliError(f"{path} is not a plan file: {exc}") from None
    if plan.package.kind == "smb-push" and plan.package.location:
        refusal = local_package_problem(Path(plan.package.location))
        if refusal:
            raise CliError(refusal)
    return plan


def _plan_from_options(args: argparse.Namespace) -> Any:
    """CLI options → :class:`PlanDraft` → :func:`build_plan` (the wizard's path)."""
    from hvconsole.core.patch.plan import VmHandling
    from hvconsole.core.timeutil import parse_time
    from hvconsole.patch.engine import load_site_catalog
    from hvconsole.patch.planning import PlanDraft, build_plan

    def hosts(text: str) -> list[str]:
        return [h.strip() for h in text.split(",") if h.strip()]
    waves = []
    for i, spec in enumerate(args.wave, start=1):
        name, sep, names = spec.partition("=")
        if not sep:
            name, names = f"production-{i}", spec
        waves.append((name.strip() or f"production-{i}", hosts(names)))
    if args.package:
        kind, location = "smb-push", args.package
    elif args.package_on_host or args.demo:
        kind, location = "on-host", args.package_on_host       # None: the catalog's path (staged in the demo)
    else:
        raise CliError("give --package FILE (pushed over SMB) or --package-on-host PATH")
    try:
        window = parse_time(args.window_start) if args.window_start else None
    except ValueError as exc:
        raise CliError(f"--window-start: {exc}") from None
    draft = PlanDraft(kb=args.kb, pilot=hosts(args.pilot), waves=waves, parallel=args.parallel,
                      stop_on_failure=not args.continue_on_failure, package_kind=kind, package_location=location,
                      sha256=args.sha256, vm_default=VmHandling(args.vm_action, args.destination),
                      window_start=window, soak_minutes=args.soak_minutes, reboot_timeout_s=args.reboot_timeout,
                      confirm_promotion=args.confirm_promotion, contact=args.contact)
    return build_plan(draft, load_site_catalog())


def _reviewed(plan: Any, site: Site, args: argparse.Namespace) -> tuple[Any, Any]:
    """The plan checked against the hosts by the planning service, with its notice; the
    review says what the run will do. Problems refuse the plan."""
    from hvconsole.patch.engine import catalog_update, load_site_catalog
    from hvconsole.patch.planning import PlanningService, with_notice
    catalog = load_site_catalog()
    catalog_update(plan.kb, catalog)
    service = PlanningService(_directory(site, args), catalog)
    review = service.review(plan, service.survey(plan.hosts), contact=getattr(args, "contact", ""),
                            check_compliance=not args.no_check)
    if review.problems:
        raise CliError("the plan cannot run:\n  " + "\n  ".join(clean(p, 400) for p in review.problems))
    return with_notice(plan, review), review


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
