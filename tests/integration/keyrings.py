"""Keyring backends for tests: an in-memory one that behaves like a real store (the unit,
CLI and dialog tests install it with ``keyring.set_keyring``), and helpers to install it
for one test only. A real Secret Service for the integration test is in
``secret_service.py`` beside this file."""

from __future__ import annotations

import keyring
import keyring.core
import keyring.errors
from keyring.backend import KeyringBackend
from keyring.compat import properties


class MemoryKeyring(KeyringBackend):
    """Passwords in a dict, keyed by (service, username), like a real keyring."""

    @properties.classproperty
    def priority(cls) -> float:
        # Never auto-selected by keyring's detection: only when a test installs it.
        raise RuntimeError("test backend, installed explicitly")

    def __init__(self) -> None:
        super().__init__()
        self.entries: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.entries.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.entries[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        try:
            del self.entries[(service, username)]
        except KeyError:
            raise keyring.errors.PasswordDeleteError("no such password") from None


def install(monkeypatch, backend: KeyringBackend | None = None) -> KeyringBackend:
    """Make ``backend`` (a fresh MemoryKeyring by default) keyring's backend for this test;
    monkeypatch puts the previous one back afterwards."""
    backend = backend if backend is not None else MemoryKeyring()
    monkeypatch.setattr(keyring.core, "_keyring_backend", keyring.core._keyring_backend)
    keyring.set_keyring(backend)
    return backend
