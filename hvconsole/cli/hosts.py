"""``hvconsole hosts``: the host inventory and its passwords from the command line.

    hvconsole hosts add NAME --address A --user U [--port N] [--transport T]
                        [--ca-bundle PEM] [--no-verify] [--group G] [--password-stdin]
    hvconsole hosts list [--json] [--passwords]
    hvconsole hosts edit NAME [--name NEW] [--address A] ... [--password | --password-stdin]
    hvconsole hosts remove NAME [--yes]
    hvconsole hosts test NAME [--timeout S] [--json] [--password-stdin]
    hvconsole hosts import FILE [--format csv|json]
    hvconsole hosts export FILE|- [--format csv|json]

A password is typed at a no-echo prompt (``getpass``) or read as one line from stdin with
``--password-stdin``; never from the command line, where other users could read it in the
process list and the shell would keep it in its history. It goes to the OS keyring only.

Exit codes: 0 done (or connection OK), 1 the connection test failed, 2 bad input or
inventory problem, 3 no usable OS keyring, 4 the connection works with a warning.

The keyring is opened only by a command that needs a password, and only after the host
name was found: ``list`` never touches it (unless ``--passwords`` asks which are stored),
so a locked keyring cannot make it prompt, and a mistyped name is said as such. Every line
of host- or file-supplied text (a connection test's answer, an inventory problem, a
keyring backend's message) is printed through the detector's ``clean``: no terminal
escape, control or bidi character reaches the terminal (docs/bad-input.md).
"""

from __future__ import annotations

import argparse
import getpass
import json
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hvconsole.cli.common import EXIT_USAGE, CliError, add_command_group, choices_later, run_group

if TYPE_CHECKING:
    from collections.abc import Callable

    from hvconsole.cli.common import Subcommands
    from hvconsole.core.inventory import Host, HostBook
    from hvconsole.core.inventory.book import PasswordStore
    from hvconsole.credentials import CredentialStore, Secret

EXIT_OK, EXIT_TEST_FAILED, EXIT_BAD_INPUT, EXIT_NO_KEYRING, EXIT_TEST_WARNING = 0, 1, EXIT_USAGE, 3, 4
MAX_IMPORT_BYTES = 10_000_000   # thousands of hosts fit in far less; a bigger file is a mistake
TLS_WARNING = ("WARNING: the server certificate of {name} will NOT be validated; anyone on the network "
               "path can impersonate the host and capture the credential. Use a CA bundle instead.")


def register(subparsers: Subcommands) -> None:
    add_command_group(subparsers, "hosts", _add_commands, help="manage the host inventory and stored passwords",
                      description="Manage the Hyper-V hosts and their passwords (OS keyring).")


def main(argv: list[str] | None = None) -> int:
    """Stand-alone entry (``python -m hvconsole.cli.hosts``), the same commands."""
    return run_group("hvconsole hosts", _add_commands, argv)


def _add_commands(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="hosts_command", metavar="COMMAND", required=True)

    def connection_options(p: argparse.ArgumentParser, *, editing: bool) -> None:
        req = not editing
        p.add_argument("--address", required=req, help="DNS name, IPv4 or IPv6 address of the host")
        p.add_argument("--user", required=req, help="DOMAIN\\user or user@domain (or a local account)")
        p.add_argument("--port", type=int, help="WinRM port (default 5985, 5986 for https)")
        choices_later(p.add_argument("--transport", help="default ntlm (encrypted over HTTP)"), _transports)
        p.add_argument("--ca-bundle", metavar="PEM", help="CA certificate(s) that issued the host's HTTPS certificate")
        p.add_argument("--no-verify", action="store_true", help="https: do NOT validate the certificate (lab only)")
        p.add_argument("--group", help="free label, e.g. a patch ring such as pilot or prod")
        p.add_argument("--poll-interval", metavar="S",
                       help="seconds between polls of this host, 5 to 3600 (default: the window's)"
                            + ("; 'default' goes back to it" if editing else ""))
        # Off until the host passed the checks in docs/winrm.md ("The collect loop").
        p.add_argument("--collect-loop", choices=("on", "off"),
                       help="poll through one long-running collect per shell (Send + Receive a poll, no "
                            "powershell.exe start each time); off by default until the checks in "
                            "docs/winrm.md pass on the host")

    p = sub.add_parser("add", help="add a host and store its password")
    p.add_argument("name")
    connection_options(p, editing=False)
    p.add_argument("--password-stdin", action="store_true", help="read the password as one line from stdin")
    p.set_defaults(handler=_guard(cmd_add))

    p = sub.add_parser("list", help="list the hosts (never needs the keyring)")
    p.add_argument("--json", action="store_true")
    p.add_argument("--passwords", action="store_true",
                   help="also say whether a password is stored (reads the OS keyring, which may prompt)")
    p.set_defaults(handler=_guard(cmd_list))

    p = sub.add_parser("edit", help="change a host (and optionally its password)")
    p.add_argument("name")
    p.add_argument("--name", dest="new_name", help="rename the host")
    connection_options(p, editing=True)
    p.add_argument("--verify", action="store_true", help="https: validate the certificate again")
    pw = p.add_mutually_exclusive_group()
    pw.add_argument("--password", action="store_true", help="prompt for a new password")
    pw.add_argument("--password-stdin", action="store_true", help="read a new password from stdin")
    p.set_defaults(handler=_guard(cmd_edit))

    p = sub.add_parser("remove", help="remove a host and its stored password")
    p.add_argument("name")
    p.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    p.set_defaults(handler=_guard(cmd_remove))

    p = sub.add_parser("test", help="test the connection and say what to fix")
    p.add_argument("name")
    p.add_argument("--timeout", type=float, default=30.0, metavar="SECONDS")
    p.add_argument("--json", action="store_true")
    p.add_argument("--password-stdin", action="store_true", help="test with this password instead of the stored one")
    p.set_defaults(handler=_guard(cmd_test))

    p = sub.add_parser("import", help="add hosts from a CSV or JSON export (no passwords)")
    p.add_argument("file", type=Path)
    p.add_argument("--format", choices=("csv", "json"))
    p.set_defaults(handler=_guard(cmd_import))

    p = sub.add_parser("export", help="write the hosts as CSV or JSON (never passwords)")
    p.add_argument("file", help="a path, or - for stdout")
    p.add_argument("--format", choices=("csv", "json"))
    p.set_defaults(handler=_guard(cmd_export))


def _transports() -> list[str]:
    from hvconsole.core.inventory import Transport
    return [t.value for t in Transport]


def _guard(handler: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """Turn the expected failures into one line on stderr and an exit code."""
    def run(args: argparse.Namespace) -> int:
        from hvconsole.core.inventory import InventoryError
        from hvconsole.credentials import CredentialStoreError, KeyringUnavailableError
        prefix = f"hvconsole hosts {args.hosts_command}: "
        try:
            return handler(args)
        except CliError as exc:
            _err(prefix + str(exc))
            return exc.code
        except KeyringUnavailableError as exc:
            _err(prefix + str(exc))
            return EXIT_NO_KEYRING
        except (InventoryError, CredentialStoreError) as exc:
            _err(prefix + str(exc))
            return EXIT_BAD_INPUT
        except OSError as exc:        # the inventory folder not writable, a full disk, ...
            where = f" {exc.filename}" if exc.filename else ""
            _err(f"{prefix}cannot write{where}: {exc.strerror or exc}")
            return EXIT_BAD_INPUT
    return run


# -- commands -----------------------------------------------------------------------------

def cmd_add(args: argparse.Namespace) -> int:
    from hvconsole.core.inventory import DuplicateHostError, Host, Transport

    host = Host(name=args.name, address=args.address, username=args.user, port=args.port,
                transport=Transport(args.transport or "ntlm"), ca_bundle=args.ca_bundle,
                verify_tls=not args.no_verify, group=args.group, poll_interval_s=args.poll_interval,
                collect_loop=args.collect_loop == "on")
    _check_ca_bundle(host)
    # Kerberos logs on with the ticket cache (domain logon or kinit), never with a stored
    # password (docs/kerberos.md): none is asked for unless one is piped in.
    ticket_only = host.transport is Transport.KERBEROS and not args.password_stdin
    book = _open_book(None if ticket_only else _keyring(unchanged="the host was not added"))
    existing = book.inventory.find(host.name)
    if existing is not None:       # before the password prompt, not after
        raise DuplicateHostError(f"a host named {existing.name!r} already exists (names ignore case)")
    book.add(host, None if ticket_only else _read_password(args, host))
    stored = ("Kerberos: logs on with your ticket (domain logon or kinit), no password stored" if ticket_only
              else "password stored in the OS keyring")
    print(f"added {host.name} ({host.url}, {host.transport.value}); {stored}")
    print(f"check it with: hvconsole hosts test {_quote(host.name)}")
    _warn_unverified(host)
    return EXIT_OK


def cmd_list(args: argparse.Namespace) -> int:
    book = _open_book(None)
    passwords, note = None, None
    if args.passwords and len(book.inventory):
        passwords, note = _keyring_or_none()
        book.passwords = passwords
    rows = []
    for h in book.inventory:
        stored = None if passwords is None else book.password(h) is not None
        rows.append({**h.to_dict(), "url": h.url, "password_stored": stored})
    if args.json:
        print(json.dumps(rows, ensure_ascii=False, indent=2))
    elif not rows:
        print("no hosts yet: add one with `hvconsole hosts add NAME --address A --user U`")
    else:
        # The POLL column only when some host has its own interval (the others: "default").
        polls = any(r.get("poll_interval_s") for r in rows)
        loops = any(r.get("collect_loop") for r in rows)     # LOOP likewise, only once one is on
        table = [("NAME", "URL", "TRANSPORT", "USER", "GROUP") + (("POLL",) if polls else ())
                 + (("LOOP",) if loops else ()) + (("PASSWORD",) if args.passwords else ())]
        for r in rows:
            pw = {True: "stored", False: "MISSING", None: "?"}[r["password_stored"]]
            transport = r["transport"] + (" (NOT VERIFIED)" if r["verify_tls"] is False else "")
            poll = f"{r['poll_interval_s']} s" if r.get("poll_interval_s") else "default"
            table.append((r["name"], r["url"], transport, r["username"], r["group"] or "")
                         + ((poll,) if polls else ()) + (("on" if r.get("collect_loop") else "off",) if loops else ())
                         + ((pw,) if args.passwords else ()))
        widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
        for row in table:
            print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    if note and rows:
        _err(f"note: stored passwords cannot be checked: {note}")
    return EXIT_OK


def cmd_edit(args: argparse.Namespace) -> int:
    from hvconsole.core.inventory import Transport

    if args.no_verify and args.verify:
        raise CliError("--verify and --no-verify contradict each other")
    want_password = args.password or args.password_stdin
    book = _open_book(None)
    old = book.inventory.get(args.name)         # an unknown name is said before the keyring is asked
    if want_password:
        book.passwords = _keyring(unchanged="nothing was changed")
    changes: dict[str, Any] = {}
    for attr, value in (("name", args.new_name), ("address", args.address), ("username", args.user),
                        ("port", args.port), ("transport", args.transport), ("group", args.group),
                        ("ca_bundle", args.ca_bundle)):
        if value is not None:
            changes[attr] = value
    if args.poll_interval is not None:
        # Validated by Host (one message naming the field); "default" clears it.
        changes["poll_interval_s"] = None if args.poll_interval.strip().lower() == "default" else args.poll_interval
    if args.collect_loop is not None:
        changes["collect_loop"] = args.collect_loop == "on"
    if args.no_verify or args.verify:
        changes["verify_tls"] = bool(args.verify)
    if args.no_verify:
        changes.setdefault("ca_bundle", None)
    if not Transport(changes.get("transport", old.transport)).uses_tls:
        # Leaving HTTPS: its certificate options no longer mean anything.
        changes.setdefault("ca_bundle", None)
        changes.setdefault("verify_tls", True)
    new = old.with_changes(**changes)
    _check_ca_bundle(new)
    book.update(old.name, new, _read_password(args, new) if want_password else None)
    print(f"updated {new.name} ({new.url}, {new.transport.value})" +
          ("; new password stored" if want_password else ""))
    _warn_unverified(new)
    return EXIT_OK


def cmd_remove(args: argparse.Namespace) -> int:
    from hvconsole.credentials import CredentialStoreError

    book = _open_book(None)
    host = book.inventory.get(args.name)        # an unknown name is said before the keyring is asked
    passwords, reason = _keyring_or_none()
    book.passwords = passwords
    if passwords is None:
        _err(f"warning: the stored password cannot be removed: {reason}")
    if not args.yes:
        if not sys.stdin.isatty():
            raise CliError(f"not removing {host.name} without confirmation: add --yes")
        reply = input(f"Remove {host.name} ({host.address}) and its stored password? [y/N] ")
        if reply.strip().lower() not in ("y", "yes"):
            print("nothing removed")
            return EXIT_OK
    try:
        _, deleted = book.remove(host.name)
    except CredentialStoreError as exc:   # the host is gone already; only the secret stayed
        _err(f"the stored password could not be removed: {exc}")
        deleted = None
    suffix = {True: " and its stored password", False: " (it had no stored password)", None: ""}[deleted]
    print(f"removed {host.name}{suffix}")
    return EXIT_OK


def cmd_test(args: argparse.Namespace) -> int:
    from hvconsole.remote.probe import probe_host

    book = _open_book(None)
    host = book.inventory.get(args.name)        # an unknown name is said before the keyring is asked
    if not args.password_stdin:
        book.passwords = _keyring(unchanged="nothing was tested")
    password = _read_password(args, host) if args.password_stdin else book.password(host)
    if password is None:
        raise CliError(f"no password stored for {host.name}: set one with "
                       f"`hvconsole hosts edit {_quote(host.name)} --password`")
    result = probe_host(host, password, timeout_s=args.timeout)
    if args.json:
        # ASCII JSON: the host's own text (OS product, user, PowerShell version) may hold
        # bidi or C1 control characters, which JSON leaves raw unless every non-ASCII
        # character is escaped.
        print(json.dumps(result.to_dict(), ensure_ascii=True, indent=2))
    else:
        label = {"ok": "OK", "warning": "WARNING", "cancelled": "CANCELLED"}.get(result.severity, "FAILED")
        tag = "" if result.ok else f" ({result.outcome.value})"
        print(f"{label}{tag}: {_clean(result.message)}")
        if result.hint:
            print(f"  fix: {_clean(result.hint)}")
        if result.wsman_code is not None:
            print(f"  WS-Management code: {result.wsman_code} (0x{result.wsman_code:08X})")
    _warn_unverified(host)
    return {"ok": EXIT_OK, "warning": EXIT_TEST_WARNING}.get(result.severity, EXIT_TEST_FAILED)


def cmd_import(args: argparse.Namespace) -> int:
    from hvconsole.core.inventory import parse_import

    fmt = args.format or _format_of(str(args.file))
    try:
        with args.file.open("rb") as f:
            data = f.read(MAX_IMPORT_BYTES + 1)
    except OSError as exc:
        raise CliError(f"cannot read {args.file}: {exc.strerror or exc}") from None
    if len(data) > MAX_IMPORT_BYTES:
        raise CliError(f"{args.file} is larger than {MAX_IMPORT_BYTES // 1_000_000} MB: not a host list")
    try:
        text = data.decode("utf-8-sig")   # Excel writes a BOM
    except UnicodeDecodeError:
        raise CliError(f"{args.file} is not UTF-8 text (in Excel: Save As, CSV UTF-8)") from None
    hosts = parse_import(text, fmt)
    added = _open_book(None).add_many(hosts)
    print(f"imported {len(added)} host(s): {', '.join(_clean(h.name) for h in added) or 'none'}")
    if added:
        print("set each password with: hvconsole hosts edit NAME --password")
    for host in added:               # an imported line may turn certificate checking off
        _warn_unverified(host)
    return EXIT_OK


def cmd_export(args: argparse.Namespace) -> int:
    from hvconsole.core.atomic_file import atomic_write_text
    from hvconsole.core.inventory import export_csv, export_json

    fmt = args.format or ("csv" if args.file == "-" else _format_of(args.file))
    inventory = _open_book(None).inventory
    text = export_csv(inventory) if fmt == "csv" else export_json(inventory)
    if args.file == "-":
        sys.stdout.write(text)
    else:
        atomic_write_text(Path(args.file), text)
        print(f"exported {len(inventory)} host(s) to {args.file} (no passwords)")
    return EXIT_OK


# -- helpers ------------------------------------------------------------------------------

def _open_book(passwords: PasswordStore | None) -> HostBook:
    from hvconsole import paths
    from hvconsole.core.inventory import HostBook, InventoryStore

    book = HostBook(InventoryStore(paths.inventory_path()), passwords)
    for problem in book.load_problems:     # each says what was wrong and what was done
        _err(f"warning: {problem}")
    return book


def _keyring(*, unchanged: str) -> CredentialStore:
    """The OS keyring, or a CliError saying it is unusable and that ``unchanged`` holds."""
    store, reason = _keyring_or_none()
    if store is None:
        raise CliError(f"{reason}\n{unchanged[:1].upper()}{unchanged[1:]}: the command line cannot keep a "
                       "password for later without a keyring (the window can, for its session).",
                       EXIT_NO_KEYRING)
    return store


def _keyring_or_none() -> tuple[CredentialStore | None, str | None]:
    """(store, None) when the OS keyring answers, else (None, why not)."""
    from hvconsole.credentials import CredentialStore, KeyringUnavailableError

    try:
        store = CredentialStore()
        store.verify()
        return store, None
    except KeyringUnavailableError as exc:
        return None, str(exc)


def _read_password(args: argparse.Namespace, host: Host) -> Secret:
    from hvconsole.credentials import Secret

    if getattr(args, "password_stdin", False):
        line = sys.stdin.readline()
        text = line[:-1] if line.endswith("\n") else line
        text = text[:-1] if text.endswith("\r") else text
    else:
        if not sys.stdin.isatty():
            raise CliError("no terminal to ask for the password: pipe it in with --password-stdin")
        text = getpass.getpass(f"Password for {host.username} on {host.name}: ")
    if not text:
        raise CliError("the password is empty")
    return Secret(text)


def _check_ca_bundle(host: Host) -> None:
    if host.ca_bundle and not Path(host.ca_bundle).is_file():
        raise CliError(f"--ca-bundle: {host.ca_bundle} is not a file")


def _warn_unverified(host: Host) -> None:
    if host.tls_unverified:
        _err(TLS_WARNING.format(name=host.name))


def _format_of(name: str) -> str:
    lowered = name.lower()
    if lowered.endswith(".csv"):
        return "csv"
    if lowered.endswith(".json"):
        return "json"
    raise CliError(f"cannot tell the format of {name}: add --format csv or --format json")


_SAFE_NAME = re.compile(r"^[A-Za-z0-9._-]+$")


def _quote(name: str) -> str:
    """A host name to show inside a copy-paste command. Only names that need no quoting in
    any shell are pasted; others (e.g. ``web $(id)``, which double quotes would not defuse in
    bash or PowerShell) become a placeholder, so a printed hint never runs anything."""
    return name if _SAFE_NAME.match(name) else "<name>"


def _clean(text: str) -> str:
    """Host- or file-supplied text made safe for a terminal (the one cleaning function)."""
    from hvconsole.core.detector.text import clean
    return clean(text, 1000)


def _err(message: str) -> None:
    print("\n".join(_clean(line) for line in str(message).splitlines()), file=sys.stderr)


if __name__ == "__main__":
    raise SystemExit(main())
