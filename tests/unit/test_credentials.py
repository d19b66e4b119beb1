"""Passwords in the OS keyring (an in-memory keyring backend stands in for it here), the
plain refusal when no keyring is usable, session-only credentials, and proof that the
secret shows up in no log line, no error message and no repr."""

from __future__ import annotations

import logging
import pickle
import secrets

import keyring.errors
import pytest
from keyring.backends import fail, null

from hvconsole.credentials import (SERVICE, CredentialStore, CredentialStoreError,
                                   KeyringUnavailableError, Secret, SessionOnlyStore, open_store)
from tests.integration import keyrings
from tests.integration.keyrings import MemoryKeyring


@pytest.fixture
def password() -> str:
    return secrets.token_urlsafe(18)


@pytest.fixture
def memory(monkeypatch) -> MemoryKeyring:
    return keyrings.install(monkeypatch)


class LockedKeyring(MemoryKeyring):
    """A Secret Service whose collection stays locked (the unlock prompt was dismissed)."""

    def get_password(self, service, username):
        raise keyring.errors.KeyringLocked("Failed to unlock the collection!")

    set_password = delete_password = get_password


class EchoingKeyring(MemoryKeyring):
    """A badly behaved backend that puts the value it was given into its error text."""

    def set_password(self, service, username, password):
        raise keyring.errors.PasswordSetError(f"cannot store {password!r} for {username}")


# -- Secret -------------------------------------------------------------------------------

def test_secret_never_shows_itself(password: str) -> None:
    s = Secret(password)
    for shown in (repr(s), str(s), f"{s}", f"{s!r}", "%s" % s, repr([s]), repr({"pw": s})):
        assert password not in shown and "****" in shown
    assert s.reveal() == password
    with pytest.raises(TypeError):
        pickle.dumps(s)


def test_secret_equality_and_bad_values(password: str) -> None:
    assert Secret(password) == Secret(password) and Secret(password) != Secret(password + "x")
    with pytest.raises(ValueError):
        Secret("")
    with pytest.raises(TypeError):
        Secret(None)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        hash(Secret(password))


# -- the keyring store --------------------------------------------------------------------

def test_save_read_update_delete(memory: MemoryKeyring, password: str) -> None:
    store = CredentialStore()
    store.save("a" * 32, Secret(password))
    assert memory.entries == {(SERVICE, "a" * 32): password}
    assert store.get("a" * 32) == Secret(password)
    store.save("a" * 32, Secret(password + "-new"))                 # update in place
    assert store.get("a" * 32).reveal() == password + "-new"
    assert store.get("b" * 32) is None                              # other hosts untouched
    assert store.delete("a" * 32) is True
    assert store.get("a" * 32) is None and memory.entries == {}
    assert store.delete("a" * 32) is False


def test_save_wants_a_secret_object(memory: MemoryKeyring, password: str) -> None:
    with pytest.raises(TypeError):
        CredentialStore().save("a" * 32, password)  # type: ignore[arg-type]
    assert memory.entries == {}


def test_reads_on_demand_so_changes_in_the_keyring_are_seen(memory: MemoryKeyring, password: str) -> None:
    store = CredentialStore()
    store.save("a" * 32, Secret(password))
    changed = secrets.token_urlsafe(12)
    memory.entries[(SERVICE, "a" * 32)] = changed                  # e.g. by the CLI in another process
    assert store.get("a" * 32).reveal() == changed


def test_secret_is_absent_from_logs(memory: MemoryKeyring, password: str, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    store = CredentialStore()
    store.save("a" * 32, Secret(password))
    store.get("a" * 32)
    store.delete("a" * 32)
    assert caplog.records, "the store logs what it does"
    assert password not in caplog.text


# -- no usable keyring --------------------------------------------------------------------

@pytest.mark.parametrize("backend, says", [
    (fail.Keyring(), "No OS keyring is available"),
    (null.Keyring(), "switched off"),
])
def test_unusable_backends_are_refused_plainly(monkeypatch, backend, says: str) -> None:
    keyrings.install(monkeypatch, backend)
    with pytest.raises(KeyringUnavailableError) as info:
        CredentialStore()
    assert says in str(info.value) and "session only" in str(info.value)


def test_plaintext_file_backends_are_refused(monkeypatch) -> None:
    class PlaintextKeyring(MemoryKeyring):  # the name keyrings.alt gives its cleartext file store
        pass

    keyrings.install(monkeypatch, PlaintextKeyring())
    with pytest.raises(KeyringUnavailableError, match="unencrypted"):
        CredentialStore()


def test_locked_secret_service_is_reported_and_offers_session_only(monkeypatch, password: str) -> None:
    keyrings.install(monkeypatch, LockedKeyring())
    with pytest.raises(KeyringUnavailableError, match="locked"):
        open_store()
    store = open_store(allow_session_only=True)
    assert isinstance(store, SessionOnlyStore) and "locked" in store.reason
    store.save("a" * 32, Secret(password))
    assert store.get("a" * 32).reveal() == password


def test_without_any_keyring_session_only_keeps_passwords_in_memory(monkeypatch, password: str) -> None:
    keyrings.install(monkeypatch, fail.Keyring())
    store = open_store(allow_session_only=True)
    assert store.kind == "session" and "forgotten" in store.description
    assert "No OS keyring" in store.reason
    store.save("a" * 32, Secret(password))
    assert store.get("a" * 32) == Secret(password)
    assert store.delete("a" * 32) and store.get("a" * 32) is None and not store.delete("a" * 32)


def test_backend_errors_never_carry_the_secret(monkeypatch, password: str, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    keyrings.install(monkeypatch, EchoingKeyring())
    store = CredentialStore()
    with pytest.raises(CredentialStoreError) as info:
        store.save("a" * 32, Secret(password))
    assert "could not save the password" in str(info.value)
    assert password not in str(info.value) and info.value.__cause__ is None
    assert info.value.__suppress_context__
    assert password not in caplog.text


def test_a_backend_that_cannot_reach_dbus_is_unavailable(monkeypatch) -> None:
    class NoBus(MemoryKeyring):
        def get_password(self, service, username):
            raise keyring.errors.InitError("Failed to create the collection: no D-Bus session")

    keyrings.install(monkeypatch, NoBus())
    with pytest.raises(KeyringUnavailableError, match="did not answer"):
        open_store()
