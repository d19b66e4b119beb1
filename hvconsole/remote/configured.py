"""The configured site: the host inventory plus each host's password from the OS keyring,
turned into connection targets. Used by the window (``hvconsole`` without ``--demo``) and by
the headless commands (``collect``, ``record``), so both reach the same hosts the same way.

Reading the keyring can block (Secret Service over D-Bus, a locked keychain): callers run
this off the GUI thread. A host without a saved password is reported, not guessed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable

from hvconsole import paths
from hvconsole.core.inventory import InventoryStore
from hvconsole.core.inventory.book import HostBook, PasswordStore
from hvconsole.credentials import CredentialStoreError, KeyringUnavailableError, open_store

from .probe import target_for
from .target import Target, TargetError


@dataclass
class ConfiguredSite:
    book: HostBook
    targets: list[Target] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)   # one sentence per host left out

    @property
    def empty(self) -> bool:
        return len(self.book.inventory) == 0


def served_targets(hosts: Iterable[Any]) -> list[Target]:
    """Targets for simulated hosts (objects with name, url, user, password, as
    ``hvconsole.sim.serve.ServedHost`` or a state-file entry gives them). The demo endpoints
    speak Basic over HTTP on loopback: pywinrm's "plaintext", which Target allows there only."""
    return [Target(name=h.name, url=h.url, username=h.user, password=h.password,
                   transport=getattr(h, "transport", "plaintext")) for h in hosts]


def open_book(*, allow_session_only: bool = True, passwords: PasswordStore | None = None) -> HostBook:
    """The inventory from the platform config folder (read afresh), with ``passwords`` if
    given (the window keeps one store for its whole session, so passwords typed "for this
    session only" survive a reload), else the OS keyring, or, when there is none and the
    caller allows it, a session-only store. Raises KeyringUnavailableError otherwise."""
    if passwords is None:
        passwords = open_store(allow_session_only=allow_session_only)
    return HostBook(InventoryStore(paths.inventory_path()), passwords)


def load_configured(book: HostBook | None = None, *, only: list[str] | None = None,
                    allow_session_only: bool = True) -> ConfiguredSite:
    """Targets for every host in the inventory (or the names in ``only``). A command line
    cannot keep a password for a session: it passes ``allow_session_only=False`` and a
    missing keyring is then one problem with its reason, not "no password" per host."""
    keyring_problem: str | None = None
    if book is None:
        try:
            book = open_book(allow_session_only=allow_session_only)
        except KeyringUnavailableError as exc:
            book = HostBook(InventoryStore(paths.inventory_path()), None)
            keyring_problem = str(exc)
    site = ConfiguredSite(book=book)
    if book.load_problem:
        site.problems.append(book.load_problem)
    wanted = {n.casefold() for n in only} if only else None
    for host in book.inventory:
        if wanted is not None and host.key not in wanted:
            continue
        if keyring_problem is not None:
            site.problems.append(f"no password can be read: {keyring_problem}")
            break
        try:
            password = book.password(host)
        except CredentialStoreError as exc:
            site.problems.append(f"{host.name}: cannot read its password: {exc}")
            continue
        if password is None:
            site.problems.append(f"{host.name}: no password saved; edit the host to enter it")
            continue
        try:
            site.targets.append(target_for(host, password))
        except TargetError as exc:
            site.problems.append(f"{host.name}: {exc}")
    return site
