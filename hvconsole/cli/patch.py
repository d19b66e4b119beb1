"""``hvconsole patch``: the update catalog, compliance, and a journalled, resumable rollout.

    hvconsole patch catalog
    hvconsole patch check [--kb KB]
    hvconsole patch plan --kb KB --pilot HOST[,HOST] [--wave NAME=HOST,HOST ...] ... -o plan.json
    hvconsole patch run (--plan FILE | --kb KB --pilot ... [same options as plan])
    hvconsole patch resume RUN | status [RUN] | pause RUN | cancel RUN
    hvconsole patch report RUN [--html FILE] [--json FILE]

Every command accepts ``--demo``: the simulated demo site instead of the inventory (a
``hvconsole-sim serve`` that is running is used, so it outlives a killed runner; otherwise
one is started in this process). The journal is ``<data dir>/patch-journal.sqlite``.

Exit codes: 0 done and every host verified (or the command did what it was asked), 1 the
run failed, stopped or was cancelled, 2 bad input.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from pathlib import Path
from typing import Any

PROG = "hvconsole patch"
EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2
DEMO_SPEED = 20.0      # an embedded demo site runs this much faster than real time


class CliError(Exception):
    def __init__(self, message: str, code: int = EXIT_BAD_INPUT):
        super().__init__(message)
        self.code = code


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("patch", help="update catalog, compliance and a safe patch rollout",
                              description=__doc__.split("\n\n")[0])
    _add_commands(p)


def main(argv: list[str] | None = None) -> int:
    """Stand-alone entry (``python -m hvconsole.cli.patch``): the same commands."""
    parser = argparse.ArgumentParser(prog=PROG)
    _add_commands(parser)
    args = parser.parse_args(argv)
    return int(args.handler(args))


def _add_commands(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="patch_command", metavar="COMMAND", required=True)

    def cmd(name: str, help_: str, handler: Any) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_, description=help_)
        p.add_argument("--demo", action="store_true", help="use the simulated demo site")
        p.add_argument("--demo-speed", type=float, default=DEMO_SPEED, metavar="N",
                       help=f"speed of an embedded demo site (default {DEMO_SPEED:g}x real time)")
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
    p = cmd("run", "create a run from a plan and execute it", cmd_run)
    p.add_argument("--plan", metavar="PLAN.json", help="a plan written by `hvconsole patch plan`")
    _plan_options(p, required=False)
    for name, help_ in (("resume", "continue a run from what the journal and the hosts say"),
                        ("pause", "pause a run before its next step"),
                        ("cancel", "cancel a run: drained hosts are put back")):
        cmd(name, help_, {"resume": cmd_resume, "pause": cmd_pause, "cancel": cmd_cancel}[name]).add_argument(
            "run", type=int, metavar="RUN")
    p = cmd("status", "runs, or where every host of one run stands", cmd_status)
    p.add_argument("run", type=int, nargs="?", metavar="RUN")
    p = cmd("report", "the verification report of a run", cmd_report)
    p.add_argument("run", type=int, metavar="RUN")
    p.add_argument("--html", metavar="FILE", help="write the self-contained HTML report")
    p.add_argument("--json", metavar="FILE", help="write the JSON report ('-' for stdout)")


def _plan_options(p: argparse.ArgumentParser, *, required: bool) -> None:
    from hvconsole.core.patch.plan import VM_ACTIONS
    p.add_argument("--kb", required=required, help="the update (as in `hvconsole patch catalog`)")
    p.add_argument("--pilot", required=required, metavar="HOSTS", help="the pilot wave: host[,host]")
    p.add_argument("--wave", action="append", default=[], metavar="NAME=HOSTS",
                   help="a production wave after the pilot (repeatable, in order)")
    p.add_argument("--parallel", type=int, default=1, metavar="N", help="hosts at a time per wave (default 1)")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--package", metavar="FILE", help="local package file, pushed to each host over SMB")
    src.add_argument("--package-on-host", metavar="PATH", help="the package is already on each host at PATH")
    p.add_argument("--sha256", help="the package's SHA-256 (else the catalog's, else the local file's)")
    p.add_argument("--vm-action", choices=VM_ACTIONS, default="save", help="what happens to running VMs")
    p.add_argument("--destination", metavar="HOST", help="live-migration destination")
    p.add_argument("--soak-minutes", type=float, default=30.0, help="health watch after the pilot (default 30)")
    p.add_argument("--reboot-timeout", type=float, default=1800.0, metavar="SECONDS",
                   help="how long a host may take to come back (host time, default 1800)")
    p.add_argument("--continue-on-failure", action="store_true", help="do not stop a wave at its first failure")
    p.add_argument("--window-start", metavar="ISO-TIME", help="maintenance window start (for the notice)")
    p.add_argument("--smb-port", type=int, default=445, help="SMB port of the hosts' admin share")
    p.add_argument("--no-check", action="store_true", help="skip the compliance check of the plan's hosts")


def _guard(handler: Any, args: argparse.Namespace) -> int:
    from hvconsole.core.catalog import CatalogError
    from hvconsole.core.patch.journal import JournalError
    from hvconsole.core.patch.plan import PlanError
    from hvconsole.patch.control import ControlError
    from hvconsole.patch.engine import EngineError
    from hvconsole.patch.sites import SiteError
    try:
        return int(handler(args))
    except CliError as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return exc.code
    except (PlanError, EngineError, SiteError, CatalogError, JournalError, ControlError, OSError) as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT


# -- hosts -----------------------------------------------------------------------------------

def _directory(args: argparse.Namespace, *, existing_run: bool = False) -> Any:
    """The hosts: the inventory, or with --demo the simulated site. An existing run (resume,
    cancel) must go on against the site it started on, never a fresh embedded one."""
    from hvconsole.patch import sites
    if not args.demo:
        directory = sites.from_inventory()
    else:
        directory = sites.demo_directory(args.demo_speed, embedded=not existing_run)
        if directory is None:
            raise CliError("no simulated site is running: the run's hosts live in the `hvconsole-sim serve "
                           "--state-file` process it started against (an embedded demo site dies with the "
                           "process that ran it)")
    if getattr(args, "smb_port", None):
        directory.smb_port = args.smb_port
    return directory


# -- commands --------------------------------------------------------------------------------

def cmd_catalog(args: argparse.Namespace) -> int:
    from hvconsole.patch.engine import load_site_catalog
    from hvconsole.patch.text import catalog_text
    catalog = load_site_catalog()
    if args.json:
        print(json.dumps([{"kb": u.kb, "title": u.title, "released": u.released.isoformat(), "kind": u.kind,
                           "targets": [t.version for t in u.targets]} for u in catalog.updates], indent=2))
    else:
        print(catalog_text(catalog))
    return EXIT_OK


def cmd_check(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from hvconsole.patch.engine import catalog_update, load_site_catalog
    from hvconsole.patch.survey import compliance_table, poll_all
    from hvconsole.patch.text import compliance_text
    catalog = load_site_catalog()
    if args.kb:
        catalog_update(args.kb, catalog)
    directory = _directory(args)
    try:
        rows = compliance_table(poll_all(directory), catalog, args.kb)
    finally:
        directory.close()
    print(json.dumps([asdict(r) for r in rows], indent=2) if args.json else compliance_text(rows))
    return EXIT_OK


def cmd_plan(args: argparse.Namespace) -> int:
    plan = _plan_from_options(args)
    directory = _directory(args)
    try:
        plan = _checked(plan, directory, args.no_check)
    finally:
        directory.close()
    Path(args.output).write_text(json.dumps(plan.to_dict(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(plan.notice or f"plan for {plan.kb} written")
    print(f"\nplan written to {args.output}")
    return EXIT_OK


def cmd_run(args: argparse.Namespace) -> int:
    from hvconsole.core.patch.plan import PatchPlan
    from hvconsole.patch.engine import create_run, open_journal
    if args.plan:
        try:
            plan = PatchPlan.from_dict(json.loads(Path(args.plan).read_text(encoding="utf-8")))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise CliError(f"{args.plan} is not a plan file: {exc}") from None
    elif args.kb and args.pilot:
        plan = _plan_from_options(args)
    else:
        raise CliError("give --plan FILE, or --kb and --pilot")
    directory = _directory(args)
    try:
        plan = _checked(plan, directory, args.no_check)
        with open_journal() as journal:
            run_id = create_run(journal, plan)
            print(f"patch run {run_id}: {plan.kb} on {', '.join(plan.hosts)} (journal {journal.path})", flush=True)
            return _execute(journal, run_id, directory)
    finally:
        directory.close()


def cmd_resume(args: argparse.Namespace) -> int:
    from hvconsole.patch.control import request
    from hvconsole.patch.engine import is_being_executed, open_journal
    with open_journal() as journal:
        run = journal.run(args.run)
        if run.state in ("done", "failed", "cancelled"):
            print(f"run {run.id} is {run.state}; nothing to resume (plan a new run for failed hosts)")
            return EXIT_OK if run.state == "done" else EXIT_FAILED
        pid = is_being_executed(journal, run.id)
        if pid:
            state = request(journal, run.id, "continue")
            print(f"run {run.id} is being executed by process {pid}; it is {state} again")
            return EXIT_OK
        directory = _directory(args, existing_run=True)
        try:
            return _execute(journal, run.id, directory)
        finally:
            directory.close()


def cmd_pause(args: argparse.Namespace) -> int:
    from hvconsole.patch.control import request
    from hvconsole.patch.engine import is_being_executed, open_journal
    with open_journal() as journal:
        request(journal, args.run, "pause")
        pid = is_being_executed(journal, args.run)
        print(f"run {args.run} paused: " + (f"process {pid} stops before its next step" if pid
                                            else f"`{PROG} resume {args.run}` continues it"))
    return EXIT_OK


def cmd_cancel(args: argparse.Namespace) -> int:
    from hvconsole.patch.control import request
    from hvconsole.patch.engine import is_being_executed, open_journal
    with open_journal() as journal:
        request(journal, args.run, "cancel")
        pid = is_being_executed(journal, args.run)
        if pid:
            print(f"run {args.run}: cancel requested; process {pid} puts drained hosts back and stops")
            return EXIT_OK
        print(f"run {args.run}: cancelling here (no process is executing it)", flush=True)
        directory = _directory(args, existing_run=True)
        try:
            code = _execute(journal, args.run, directory)
        finally:
            directory.close()
        return EXIT_OK if journal.run(args.run).state == "cancelled" else code


def cmd_status(args: argparse.Namespace) -> int:
    from hvconsole.patch.engine import is_being_executed, open_journal
    from hvconsole.patch.text import run_text, runs_text
    with open_journal() as journal:
        if args.run is None:
            print(runs_text(journal))
        else:
            print(run_text(journal, journal.run(args.run), is_being_executed(journal, args.run)))
    return EXIT_OK


def cmd_report(args: argparse.Namespace) -> int:
    from hvconsole.core.patch.report import build_report, render_html
    from hvconsole.patch.engine import open_journal
    from hvconsole.patch.text import report_text
    with open_journal() as journal:
        report = build_report(journal, args.run)
    if args.json == "-":
        print(json.dumps(report, indent=2, ensure_ascii=False))
    else:
        print(report_text(report))
        if args.json:
            Path(args.json).write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    if args.html:
        Path(args.html).write_text(render_html(report), encoding="utf-8")
    ok = report["state"] == "done" and report["summary"]["verified"] == report["summary"]["hosts"]
    return EXIT_OK if ok else EXIT_FAILED


# -- helpers ---------------------------------------------------------------------------------

def _execute(journal: Any, run_id: int, directory: Any) -> int:
    from hvconsole.patch.engine import execute
    from hvconsole.patch.text import ProgressPrinter
    stop = threading.Event()
    previous = {s: signal.signal(s, lambda *_: stop.set()) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        result = execute(journal, run_id, directory, progress=ProgressPrinter(sys.stdout), stop=stop)
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    print(f"run {run_id}: {result.state}: {result.reason}")
    verified = result.state == "done" and all(s == "done" for s in result.hosts.values())
    return EXIT_OK if verified else EXIT_FAILED


def _plan_from_options(args: argparse.Namespace) -> Any:
    from hvconsole.core.patch.plan import HealthGate, PackageSource, PatchPlan, VmHandling, Wave
    from hvconsole.core.timeutil import parse_time

    def hosts(text: str) -> tuple[str, ...]:
        return tuple(h.strip() for h in text.split(",") if h.strip())
    waves = [Wave("pilot", hosts(args.pilot), 1)]
    for i, spec in enumerate(args.wave, start=1):
        name, sep, names = spec.partition("=")
        if not sep:
            name, names = f"production-{i}", spec
        waves.append(Wave(name.strip() or f"production-{i}", hosts(names), args.parallel))
    if args.package:
        package = PackageSource("smb-push", str(Path(args.package).resolve()), args.sha256)
    elif args.package_on_host or args.demo:
        package = PackageSource("on-host", args.package_on_host or _catalog_host_path(args.kb), args.sha256)
    else:
        raise CliError("give --package FILE (pushed over SMB) or --package-on-host PATH")
    try:
        window = parse_time(args.window_start) if args.window_start else None
    except ValueError as exc:
        raise CliError(f"--window-start: {exc}") from None
    return PatchPlan(kb=args.kb.strip().upper(), waves=tuple(waves), package=package,
                     vm_default=VmHandling(args.vm_action, args.destination), window_start=window,
                     stop_on_failure=not args.continue_on_failure, gate=HealthGate(soak_minutes=args.soak_minutes),
                     reboot_timeout_s=args.reboot_timeout)


def _catalog_host_path(kb: str) -> str | None:
    """Where the catalog's package for ``kb`` is staged on a host (the demo stages it there)."""
    from hvconsole.patch.engine import catalog_update
    from hvconsole.remote.smb_stage import host_path_for
    update = catalog_update(kb.strip().upper())
    return host_path_for(update.packages[0].file) if update.packages else None


def _checked(plan: Any, directory: Any, skip: bool) -> Any:
    """The plan checked against the hosts (compliance, inventory), with its notice."""
    import dataclasses

    from hvconsole.core.patch.notice import compose_notice
    from hvconsole.core.patch.plan import check_plan
    from hvconsole.patch.engine import catalog_update
    from hvconsole.patch.survey import affected_vms, needs_update, poll_all
    update = catalog_update(plan.kb)
    known = directory.names()
    unknown = [h for h in plan.hosts if h.casefold() not in {k.casefold() for k in known}]
    snaps = poll_all(directory, [h for h in plan.hosts if h not in unknown])
    problems = check_plan(plan, known, {} if skip else needs_update(snaps, update))
    if problems:
        raise CliError("the plan cannot run:\n  " + "\n  ".join(problems))
    if not plan.notice:
        plan = dataclasses.replace(plan, notice=compose_notice(plan, update.title, affected_vms(snaps)))
    return plan


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
