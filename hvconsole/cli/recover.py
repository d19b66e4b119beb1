"""``hvconsole recover HOST VM``: the guided recovery of a frozen VM (or of the host's
wedged VMMS) from a terminal, the twin of the window's Recover… dialog (docs/recovery.md).

The same engine, rules and journal: evidence first, the gentlest step that can still
work, hard steps only after it failed and only with the VM's name (the host's, for a VMMS
restart) typed to confirm, unless ``--yes``. An unfinished recovery of the same VM is
offered to be continued. The incident record (HTML and JSON) is written after every step.

Exit codes: 0 the VM runs and is verified (or had nothing to recover; with
``--capture-only`` the evidence was captured); 1 not recovered; 2 usage or refusal;
3 the host does not answer (the out-of-band options are printed).
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from hvconsole.cli.common import EXIT_USAGE, CliError, add_demo_arguments, clean

if TYPE_CHECKING:
    from hvconsole.cli.common import Subcommands
    from hvconsole.remote.target import Target
    from hvconsole.site import Site

EXIT_NOT_RECOVERED, EXIT_UNREACHABLE = 1, 3
MAX_STEPS = 12
_GUID = re.compile(r"^\{?[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\}?$")
OUT_OF_BAND = ("The console can no longer read or act on this host: WinRM does not answer. What is left is "
               "out of band: the server's management controller (iDRAC, iLO, XClarity, IPMI, BMC) for its "
               "console, power state and a power cycle, or someone at the machine. A power cycle of the host "
               "stops every VM on it the hard way.")


def register(subparsers: Subcommands) -> None:
    p = subparsers.add_parser("recover", help="guided recovery of a frozen VM: evidence first, gentle before hard",
                              description="Recover a frozen VM (or the host's wedged VMMS): capture evidence, "
                                          "try the guest shutdown, then Turn off, then end the VM's worker "
                                          "process, start and verify; every step journalled, an incident record "
                                          "written (docs/recovery.md). Exit 0 recovered, 1 not, 2 usage, 3 host "
                                          "unreachable.")
    p.add_argument("host", metavar="HOST", help="the Hyper-V host")
    p.add_argument("vm", metavar="VM", help="the VM's name or id (GUID)")
    add_demo_arguments(p, demo_help="the simulated demo site",
                       speed_help="with --demo (embedded site): simulated seconds per real second")
    p.add_argument("--capture-only", action="store_true", help="capture the evidence, change nothing")
    p.add_argument("--nmi", action="store_true",
                   help="after the evidence, inject an NMI for a guest crash dump (a hard step)")
    p.add_argument("--yes", action="store_true",
                   help="confirm the hard steps without typing the name (and continue an unfinished recovery)")
    p.set_defaults(handler=run)


def say(text: str) -> None:
    print(clean(text, 2000))


def run(args: argparse.Namespace) -> int:
    try:
        return _run(args, input_fn=input)
    except CliError as exc:
        print(f"error: {clean(str(exc), 1000)}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("interrupted: the recovery journal keeps what was done; run the command again to continue",
              file=sys.stderr)
        return EXIT_NOT_RECOVERED


def _open_site(args: argparse.Namespace) -> tuple[Site, Target]:
    """The site and the target of ``args.host``; a CliError when either cannot be had."""
    from hvconsole.patch.sites import SiteError
    from hvconsole.site import open_configured_site, open_demo_site
    try:
        site = open_demo_site(speed=args.demo_speed) if args.demo else \
            open_configured_site(only=[args.host], allow_session_only=False)
    except SiteError as exc:
        raise CliError(str(exc)) from None
    target = site.target(args.host)
    if target is None:
        problems = "; ".join(site.problems)
        site.close()
        raise CliError(f"{args.host} is not a host of {site.description or site.label}"
                       + (f" ({problems})" if problems else ""))
    return site, target


def resolve_vm(target: Target, host: str, vm: str) -> tuple[str, str | None]:
    """The VM's id (and name) from a name or an id: a name is looked up in one poll of the
    host; two VMs with that name are a usage error listing their ids."""
    if _GUID.match(vm.strip()):
        return vm.strip().strip("{}").lower(), None
    from hvconsole.remote.collector import Collector
    collector = Collector(target, timeout_s=60)
    try:
        snap = collector.poll()
    finally:
        collector.close()
    if not snap.reachable:
        raise CliError(f"{host} does not answer ({snap.error.message if snap.error else 'no answer'}); "
                       "give the VM's id to recover it anyway (its host must answer for any step)")
    matches = [v for v in snap.vms if v.name == vm] or [v for v in snap.vms if v.name.casefold() == vm.casefold()]
    if not matches:
        if snap.vm_query is not None and not snap.vm_query.ok:
            raise CliError(f"{host} cannot list its VMs (VMMS does not answer): give the VM's id instead of its name")
        raise CliError(f"no VM called {vm!r} on {host}")
    if len(matches) > 1:
        raise CliError(f"{len(matches)} VMs are called {vm!r} on {host}: give one of their ids "
                       f"({', '.join(v.id for v in matches)})")
    return matches[0].id, matches[0].name


def _run(args: argparse.Namespace, input_fn: Callable[[str], str]) -> int:
    from hvconsole.core.recovery import rules
    from hvconsole.recovery.engine import StepRefused, describe
    from hvconsole.recovery.sites import engine_for
    from hvconsole.remote.errors import RemoteError

    site, target = _open_site(args)
    try:
        vm_id, vm_name = resolve_vm(target, args.host, args.vm)

        def progress(kind: str, data: Any) -> None:
            if kind == "step-started":
                say(f"  … {rules.TITLES[data['step']]} (at most {data['deadline_s']:.0f} s)")

        engine = engine_for(site, target.name, vm_id, vm_name=vm_name, progress=progress)
        try:
            obs = engine.open()
        except RemoteError as exc:
            raise CliError(exc.message) from None
        if engine.continued:
            last = engine.interrupted[-1].step if engine.interrupted else None
            say(f"An unfinished recovery of this VM exists (incident {engine.incident_id})"
                + (f"; it stopped during: {rules.TITLES[last]}" if last else "") + ".")
            if not args.yes and not _ask_yes(input_fn, "Continue it? [Y/n] "):
                say("Left as it was; run again to continue.")
                return EXIT_NOT_RECOVERED
            say("Continuing it. Read now: " + describe(obs))
        else:
            say(f"Incident {engine.incident_id}: {engine.vm_name or vm_id} on {engine.host.name}: " + describe(obs))
        if obs.situation == "unreachable":
            say(OUT_OF_BAND)
            return EXIT_UNREACHABLE
        if rules.CAPTURE not in [s for s, o in engine.history() if o == rules.OK]:
            _step(engine, rules.CAPTURE, args, input_fn)
        if args.nmi:
            _step(engine, rules.NMI, args, input_fn)
        if args.capture_only:
            _paths(engine)
            return 0
        failed: list[str] = []
        for _ in range(MAX_STEPS):
            seen = engine.observation
            if seen is not None and seen.situation == "unreachable":
                say(OUT_OF_BAND)
                return EXIT_UNREACHABLE
            step = engine.recommended()
            if step is None:
                if seen is not None and seen.situation == "paused":
                    say(engine.offers()[rules.TURN_OFF].reason + ". Nothing was done.")
                break
            if step in failed and step != rules.VERIFY:
                say(f"{rules.TITLES[step]} failed already; stopping here. The journal and the record say what "
                    "was tried.")
                break
            outcome = _step(engine, step, args, input_fn)
            if outcome in (rules.FAILED, rules.CANCELLED):
                failed.append(step)
            if step == rules.VERIFY and outcome == rules.OK:
                _paths(engine)
                return 0
            if step == rules.VERIFY:
                break
        _paths(engine)
        final = engine.observation
        if final is not None and final.situation == "healthy":
            say("The VM runs and its heartbeat is OK.")
            return 0
        return EXIT_NOT_RECOVERED
    except StepRefused as exc:
        raise CliError(str(exc)) from None
    finally:
        site.close()


def _step(engine: Any, step: str, args: argparse.Namespace, input_fn: Callable[[str], str]) -> str:
    from hvconsole.core.recovery import rules
    confirmation = None
    if step in rules.HARD_STEPS:
        expected = rules.confirmation_name(step, engine.host.name, engine.vm_name)
        say(f"{rules.TITLES[step]}: {rules.RISKS[step]}")
        if args.yes:
            confirmation = expected
        else:
            what = "host" if step == rules.RESTART_VMMS else "VM"
            try:
                confirmation = input_fn(f"Type the {what}'s name ({rules.typeable(expected or '')}) to go ahead: ")
            except EOFError:
                raise CliError(f"{rules.TITLES[step]} needs the {what}'s name typed (or --yes)") from None
    say(f"{rules.TITLES[step]}: {engine.offers()[step].reason}")
    result = engine.run(step, confirmation)
    say(f"  {result.outcome}: {result.summary}")
    return result.outcome


def _ask_yes(input_fn: Callable[[str], str], prompt: str) -> bool:
    try:
        answer = input_fn(prompt).strip().lower()
    except EOFError:
        return False
    return answer in ("", "y", "yes")


def _paths(engine: Any) -> None:
    if engine.record_paths:
        json_path, html_path = engine.record_paths
        say(f"Incident record: {html_path} and {json_path}")
