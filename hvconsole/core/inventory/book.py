"""The inventory file and the password store together, so that a host and its password are
added, changed and removed as one step by both the command line and the host dialog.

The password store is anything with ``save(host_id, secret)``, ``get(host_id)`` and
``delete(host_id)`` (``hvconsole.credentials`` provides the keyring-backed one and the
session-only one); this module never sees a password's text, only the opaque object.
Order of writes: the step most likely to fail goes first, and a later failure undoes the
earlier write, so no host is left without its secret and no secret outlives its host.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

from .model import Host, Inventory
from .store import InventoryStore


class Password(Protocol):
    """A password that shows its text only when asked (hvconsole.credentials.Secret)."""

    def reveal(self) -> str: ...


class PasswordStore(Protocol):
    @property
    def kind(self) -> str: ...
    @property
    def description(self) -> str: ...

    # Each store keeps the secret type it hands out (hvconsole.credentials.Secret): what
    # ``save`` takes is that store's own type, hence not narrowed here.
    def save(self, host_id: str, password: Any) -> None: ...
    def get(self, host_id: str) -> Password | None: ...
    def delete(self, host_id: str) -> bool: ...


class HostBook:
    """The loaded inventory plus where its passwords live. ``load_problems`` say what was
    wrong with the inventory file and what was done about it (show each to the admin;
    ``load_problem`` is all of them in one text); ``moved_to``/``set_aside_to`` are where
    an unusable file or its rejected entries were kept; ``read_only`` means the file was
    written by a newer hvconsole and is neither used nor changed."""

    def __init__(self, store: InventoryStore, passwords: PasswordStore | None):
        self.store = store
        self.passwords = passwords
        result = store.load()
        self.inventory: Inventory = result.inventory
        self.load_problems: tuple[str, ...] = result.problems
        self.load_problem: str | None = result.problem
        self.moved_to: Path | None = result.moved_to
        self.set_aside_to: Path | None = result.set_aside_to
        self.read_only: bool = result.read_only

    def add(self, host: Host, password: Password | None) -> Host:
        staged = Inventory(self.inventory)
        staged.add(host)                       # a duplicate name fails before anything is written
        if password is not None:
            self._passwords().save(host.id, password)
        try:
            self.store.save(staged)
        except BaseException:
            if password is not None:
                self._passwords().delete(host.id)
            raise
        self.inventory = staged
        return host

    def add_many(self, hosts: list[Host]) -> list[Host]:
        """Add imported hosts (no passwords yet), all or none."""
        staged = Inventory(self.inventory)
        added = staged.add_all(hosts)
        self.store.save(staged)
        self.inventory = staged
        return added

    def update(self, name: str, new: Host, password: Password | None = None) -> Host:
        """Replace host ``name`` by ``new`` (same id); store ``password`` if given."""
        staged = Inventory(self.inventory)
        staged.update(name, new)
        previous = self._passwords().get(new.id) if password is not None else None
        if password is not None:
            self._passwords().save(new.id, password)
        try:
            self.store.save(staged)
        except BaseException:
            if password is not None:           # put the old password back (or none)
                if previous is not None:
                    self._passwords().save(new.id, previous)
                else:
                    self._passwords().delete(new.id)
            raise
        self.inventory = staged
        return new

    def remove(self, name: str) -> tuple[Host, bool | None]:
        """Remove the host, then its password. Returns the host and whether a password was
        deleted (``None`` when there is no password store to ask). If deleting the password
        fails, the host is already removed and the store's error propagates."""
        staged = Inventory(self.inventory)
        host = staged.remove(name)
        self.store.save(staged)
        self.inventory = staged
        if self.passwords is None:
            return host, None
        return host, self.passwords.delete(host.id)

    def password(self, host: Host) -> Password | None:
        return self._passwords().get(host.id)

    def _passwords(self) -> PasswordStore:
        if self.passwords is None:
            raise RuntimeError("this HostBook was opened without a password store")
        return self.passwords
