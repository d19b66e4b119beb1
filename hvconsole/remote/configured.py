"""The configured site: the host inventory plus each host's password from the OS keyring,
turned into connection targets. ``hvconsole.site.open_configured_site`` builds on it for
the window (``hvconsole`` without ``--demo``), the headless commands (``collect``,
``record``) and the patch engine, so all of them reach the same hosts the same way.

Reading the keyring can block (Secret Service over D-Bus, a locked keychain): callers run
this off the GUI thread. A host without a saved password is reported, not guessed.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from hvconsole import paths
from hvconsole.core.inventory import Host, InventoryStore, Transport
from hvconsole.core.inventory.book import HostBook, Password, PasswordStore
from hvconsole.credentials import CredentialStoreError, KeyringUnavailableError, open_store

from .probe import target_for
from .target import Target


@dataclass
class ConfiguredSite:
    book: HostBook
    targets: list[Target] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)   # one sentence per host left out
    warnings: list[str] = field(default_factory=list)   # one sentence per host in, but weakly protected

    @property
    def empty(self) -> bool:
        return len(self.book.inventory) == 0


def tls_warning(name: str) -> str:
    """The one sentence every command and the window say about a host whose HTTPS
    certificate is not checked."""
    return (f"{name}: certificate checking is off; anyone on the network path could pose as this "
            f"host and receive its password (edit the host to check its certificate)")


def open_book(*, allow_session_only: bool = True, passwords: PasswordStore | None = None) -> HostBook:
    """The inventory from the platform config folder (read afresh), with ``passwords`` if
    given (the window keeps one store for its whole session, so passwords typed "for this
    session only" survive a reload), else the OS keyring, or, when there is none and the
    caller allows it, a session-only store. Raises KeyringUnavailableError otherwise."""
    if passwords is None:
        passwords = open_store(allow_session_only=allow_session_only)
    return HostBook(InventoryStore(paths.inventory_path()), passwords)


def host_poll_intervals(site: Any) -> dict[str, float]:
    """Each host's own poll interval from ``site``'s inventory (``hvconsole.site.Site``),
    by name; hosts without one (and a site without an inventory, the demo) are absent and
    use the window's or agent's default."""
    book = getattr(site, "book", None)
    if book is None:
        return {}
    names = {t.name for t in getattr(site, "targets", ())}
    return {h.name: float(h.poll_interval_s) for h in book.inventory
            if h.poll_interval_s is not None and h.name in names}


def load_configured(book: HostBook | None = None, *, only: list[str] | None = None,
                    allow_session_only: bool = True) -> ConfiguredSite:
    """Targets for every host in the inventory (or the names in ``only``). A command line
    cannot keep a password for a session: it passes ``allow_session_only=False`` and a
    missing keyring is then one problem with its reason, not "no password" per host."""
    wanted = {n.casefold() for n in only} if only is not None else None
    keyring_problem: str | None = None
    if book is None:
        book = HostBook(InventoryStore(paths.inventory_path()), None)
        # The keyring is opened only when a host needs a password: an empty inventory or
        # an unknown name is said without touching it (a locked keyring would prompt).
        if any(wanted is None or host.key in wanted for host in book.inventory):
            try:
                book.passwords = open_store(allow_session_only=allow_session_only)
            except KeyringUnavailableError as exc:
                keyring_problem = str(exc)
    site = ConfiguredSite(book=book)
    if book.load_problem:
        site.problems.append(book.load_problem)
    if only is not None:
        known = {host.key for host in book.inventory}
        site.problems += [f"no host {name!r} in the inventory (see `hvconsole hosts list`)"
                          for name in only if name.casefold() not in known]
    for host in book.inventory:
        if wanted is not None and host.key not in wanted:
            continue
        if keyring_problem is not None:
            site.problems.append(f"no password can be read: {keyring_problem}")
            break
        _add_host(site, book, host)
    return site


def _add_host(site: ConfiguredSite, book: HostBook, host: Host) -> None:
    """One host in, or one problem naming it: nothing about one host stops the others."""
    password: Password | str | None
    try:
        password = book.password(host)
    except CredentialStoreError as exc:
        site.problems.append(f"{host.name}: cannot read its password: {exc}")
        return
    if password is None and host.transport is Transport.KERBEROS:
        # Kerberos logs on with the ticket cache (a domain logon, or kinit), never with a
        # stored password (docs/kerberos.md): a Kerberos host needs none.
        password = ""
    elif password is None:
        site.problems.append(f"{host.name}: no password saved; edit the host to enter it")
        return
    try:
        target = target_for(host, password)
        # The host's collect-loop switch (docs/winrm.md, "The collect loop"), off by default.
        site.targets.append(replace(target, collect_loop=True) if host.collect_loop else target)
    except ValueError as exc:       # TargetError, or an address no URL can carry (an IPv6 zone)
        reason = str(exc)
        site.problems.append(reason if reason.startswith(f"{host.name}:") else f"{host.name}: {reason}")
        return
    if host.tls_unverified:
        site.warnings.append(tls_warning(host.name))
