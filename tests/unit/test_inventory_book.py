"""HostBook: a host and its password change together; a failure half-way undoes the
first write, so no secret outlives its host and no host silently loses its secret."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest

from hvconsole.core.inventory import (DuplicateHostError, Host, HostBook, InventoryConflictError,
                                      InventoryStore)
from hvconsole.credentials import CredentialStoreError, Secret, SessionOnlyStore


class FailingDelete(SessionOnlyStore):
    def delete(self, host_id: str) -> bool:
        raise CredentialStoreError("could not delete the password in the OS keyring: bus gone")


def host(name: str = "HV01") -> Host:
    return Host(name=name, address="hv01.corp.example", username="CORP\\hvadmin")


def pw() -> Secret:
    return Secret(secrets.token_urlsafe(12))


def touch_elsewhere(path: Path) -> None:
    """Another hvconsole process saves the file meanwhile (a trailing space makes the bytes
    differ from what the book read, even where the hosts are the same)."""
    other = InventoryStore(path)
    other.save(other.load().inventory)
    path.write_text(path.read_text(encoding="utf-8") + " ", encoding="utf-8")


def test_add_then_failed_save_removes_the_new_secret(tmp_path: Path) -> None:
    passwords = SessionOnlyStore()
    book = HostBook(InventoryStore(tmp_path / "hosts.json"), passwords)
    touch_elsewhere(tmp_path / "hosts.json")
    h = host()
    with pytest.raises(InventoryConflictError):
        book.add(h, pw())
    assert passwords.get(h.id) is None and len(book.inventory) == 0


def test_duplicate_add_writes_nothing(tmp_path: Path) -> None:
    passwords = SessionOnlyStore()
    book = HostBook(InventoryStore(tmp_path / "hosts.json"), passwords)
    book.add(host("HV01"), pw())
    twin = host("hv01")
    with pytest.raises(DuplicateHostError):
        book.add(twin, pw())
    assert passwords.get(twin.id) is None


@pytest.mark.parametrize("had_password", [True, False])
def test_failed_update_restores_the_previous_password(tmp_path: Path, had_password: bool) -> None:
    passwords = SessionOnlyStore()
    book = HostBook(InventoryStore(tmp_path / "hosts.json"), passwords)
    old_secret = pw()
    h = book.add(host(), old_secret if had_password else None)
    touch_elsewhere(tmp_path / "hosts.json")
    with pytest.raises(InventoryConflictError):
        book.update("HV01", h.with_changes(address="10.0.0.1"), pw())
    assert passwords.get(h.id) == (old_secret if had_password else None)
    assert book.inventory.get("HV01").address == "hv01.corp.example"


def test_remove_reports_whether_a_secret_went(tmp_path: Path) -> None:
    passwords = SessionOnlyStore()
    book = HostBook(InventoryStore(tmp_path / "hosts.json"), passwords)
    a, b = book.add(host("HV01"), pw()), book.add(host("HV02"), None)
    assert book.remove("hv01") == (a, True) and book.remove("HV02") == (b, False)
    assert len(HostBook(InventoryStore(tmp_path / "hosts.json"), None).inventory) == 0


def test_remove_without_a_store_and_with_a_failing_one(tmp_path: Path) -> None:
    path = tmp_path / "hosts.json"
    HostBook(InventoryStore(path), SessionOnlyStore()).add(host("HV01"), pw())
    assert HostBook(InventoryStore(path), None).remove("HV01")[1] is None
    failing = HostBook(InventoryStore(path), FailingDelete())
    failing.add(host("HV02"), pw())
    with pytest.raises(CredentialStoreError):
        failing.remove("HV02")
    assert "HV02" not in failing.inventory                       # the host is gone regardless
    assert len(HostBook(InventoryStore(path), None).inventory) == 0


def test_import_is_all_or_nothing(tmp_path: Path) -> None:
    book = HostBook(InventoryStore(tmp_path / "hosts.json"), None)
    book.add(host("HV01"), None)
    with pytest.raises(DuplicateHostError):
        book.add_many([host("HV02"), host("HV01")])
    assert [h.name for h in HostBook(InventoryStore(tmp_path / "hosts.json"), None).inventory] == ["HV01"]
    with pytest.raises(RuntimeError, match="without a password store"):
        book.password(book.inventory.get("HV01"))
