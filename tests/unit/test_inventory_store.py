"""The inventory file (atomic, versioned, corrupt files moved aside and reported, changes
by another process never overwritten) and CSV/JSON import/export without secrets."""

from __future__ import annotations

import json
import os
import secrets
import stat
from datetime import datetime, timezone
from pathlib import Path

import pytest

from hvconsole.core import atomic_file
from hvconsole.core.inventory import (Host, Inventory, InventoryConflictError, InventoryError,
                                      InventoryStore, export_csv, export_json, parse_import)


def sample() -> Inventory:
    return Inventory([
        Host(name="HV01", address="hv01.corp.example", username="CORP\\hvadmin", group="pilot"),
        Host(name="Ústí-HV02", address="10.0.0.22", username="jörg@corp.example", transport="https",
             ca_bundle="/etc/ssl/corp-ca.pem"),
    ])


def test_save_then_load_round_trips(tmp_path: Path) -> None:
    store = InventoryStore(tmp_path / "cfg" / "hosts.json")
    store.load()
    saved = sample()
    store.save(saved)
    result = InventoryStore(store.path).load()
    assert result.problem is None and list(result.inventory) == list(saved)
    doc = json.loads(store.path.read_text(encoding="utf-8"))
    assert doc["format"] == "hvconsole.inventory" and doc["version"] == 1
    assert "Ústí-HV02" in store.path.read_text(encoding="utf-8")  # readable, not \u-escaped


def test_file_is_private_and_no_temp_files_remain(tmp_path: Path) -> None:
    store = InventoryStore(tmp_path / "hosts.json")
    store.load()
    for _ in range(3):
        store.save(sample())
    assert [p.name for p in tmp_path.iterdir()] == ["hosts.json"]
    if os.name == "posix":
        assert stat.S_IMODE(store.path.stat().st_mode) == 0o600


def test_missing_file_is_an_empty_inventory_without_complaint(tmp_path: Path) -> None:
    result = InventoryStore(tmp_path / "hosts.json").load()
    assert len(result.inventory) == 0 and result.problem is None and result.moved_to is None


@pytest.mark.parametrize("content, says", [
    (b"{\"format\": \"hvconsole.inventory\", \"version\": 1, \"hosts\": [", "not valid JSON"),
    (b"\xff\xfe garbage", "not UTF-8"),
    (b"[]", "JSON object"),
    (b'{"format": "hvconsole.inventory", "version": 7, "hosts": []}', "version 7"),
    (b'{"format": "hvconsole.inventory", "version": 1, "hosts": [{"name": "A", "address": "a.example", '
     b'"username": "u"}, {"name": "a", "address": "b.example", "username": "u"}]}', "already exists"),
    (b'{"format": "hvconsole.inventory", "version": 1, "hosts": [{"name": "A", "address": "a.example", '
     b'"username": "u", "group": 1}]}', "group: must be text"),
    (b'{"format": "hvconsole.inventory", "version": 1, "hosts": [{"name": ["A"], "address": "a.example", '
     b'"username": "u"}]}', "name: must be text"),
])
def test_corrupt_or_unknown_version_file_is_moved_aside_and_reported(tmp_path: Path, content: bytes,
                                                                      says: str) -> None:
    path = tmp_path / "hosts.json"
    path.write_bytes(content)
    store = InventoryStore(path)
    result = store.load()
    assert says in result.problem and result.problem.startswith("hosts.json: ")
    assert len(result.inventory) == 0
    assert result.moved_to is not None and result.moved_to.name.startswith("hosts.json.corrupt-")
    assert result.moved_to.read_bytes() == content      # kept byte for byte
    assert not path.exists()
    store.save(sample())                                # a fresh start never touches the kept file
    assert result.moved_to.read_bytes() == content
    assert len(InventoryStore(path).load().inventory) == 2


def test_unreadable_file_is_an_error_not_corruption(tmp_path: Path) -> None:
    path = tmp_path / "hosts.json"
    path.mkdir()  # a folder where the file should be: cannot be read, must not be moved
    with pytest.raises(InventoryError, match="cannot read"):
        InventoryStore(path).load()
    assert path.is_dir()


def test_change_by_another_process_is_not_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "hosts.json"
    gui, cli = InventoryStore(path), InventoryStore(path)
    gui.load()
    cli.load()
    cli.save(sample())
    with pytest.raises(InventoryConflictError, match="changed by another hvconsole"):
        gui.save(Inventory())
    assert len(InventoryStore(path).load().inventory) == 2
    gui.load()                                          # reload, then the change goes through
    gui.save(Inventory())
    assert len(InventoryStore(path).load().inventory) == 0


def test_saving_over_a_file_never_read_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "hosts.json"
    first = InventoryStore(path)
    first.load()
    first.save(sample())
    with pytest.raises(InventoryConflictError):
        InventoryStore(path).save(Inventory())


def test_failed_write_leaves_the_old_file_and_no_temp(tmp_path: Path, monkeypatch) -> None:
    store = InventoryStore(tmp_path / "hosts.json")
    store.load()
    store.save(sample())
    before = store.path.read_bytes()

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(atomic_file.os, "replace", disk_full)
    with pytest.raises(OSError):
        store.save(Inventory())
    assert store.path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["hosts.json"]


def test_move_aside_never_overwrites_an_earlier_copy(tmp_path: Path) -> None:
    now = datetime(2026, 11, 25, 9, 0, 0, tzinfo=timezone.utc)
    names = []
    for content in (b"one", b"two"):
        path = tmp_path / "hosts.json"
        path.write_bytes(content)
        names.append(atomic_file.move_aside(path, "corrupt", now=now))
    assert [p.name for p in names] == ["hosts.json.corrupt-20261125T090000Z",
                                       "hosts.json.corrupt-20261125T090000Z-1"]
    assert [p.read_bytes() for p in names] == [b"one", b"two"]


# -- import / export ----------------------------------------------------------------------

@pytest.mark.parametrize("fmt, export", [("csv", export_csv), ("json", export_json)])
def test_export_import_round_trip_with_fresh_ids(fmt: str, export) -> None:
    original = sample()
    text = export(original)
    assert "id" not in (json.loads(text)["hosts"][0] if fmt == "json" else text.splitlines()[0].split(","))
    imported = parse_import(text, fmt)
    assert [h.to_dict(include_id=False) for h in imported] == \
           [h.to_dict(include_id=False) for h in original]
    assert {h.id for h in imported}.isdisjoint({h.id for h in original})


def test_csv_export_has_the_documented_columns() -> None:
    lines = export_csv(sample()).splitlines()
    assert lines[0] == "name,address,port,transport,username,group,ca_bundle,verify_tls"
    assert lines[1] == "HV01,hv01.corp.example,,ntlm,CORP\\hvadmin,pilot,,True"


def test_csv_with_a_password_column_is_refused_outright() -> None:
    value = secrets.token_urlsafe(12)
    text = f"name,address,username,Password\nHV01,hv01.example,CORP\\u,{value}\n"
    with pytest.raises(InventoryError, match="never imports passwords") as info:
        parse_import(text, "csv")
    assert value not in str(info.value)


def test_json_import_with_a_secret_key_is_refused() -> None:
    value = secrets.token_urlsafe(12)
    doc = {"format": "hvconsole.inventory", "version": 1,
           "hosts": [{"name": "HV01", "address": "hv01.example", "username": "u", "secret": value}]}
    with pytest.raises(InventoryError, match="never reads passwords") as info:
        parse_import(json.dumps(doc), "json")
    assert value not in str(info.value)


def test_csv_problems_are_reported_together_with_line_numbers() -> None:
    text = ("name,address,username,transport\n"
            "HV01,hv01.example,CORP\\u,ntlm\n"
            "HV02,not an address,CORP\\u,ntlm\n"
            "HV03,10.0.0.3,CORP\\u,plaintext\n")
    with pytest.raises(InventoryError) as info:
        parse_import(text, "csv")
    message = str(info.value)
    assert "line 3: address" in message and "line 4: transport" in message


def test_csv_needs_the_key_columns_and_a_known_format() -> None:
    with pytest.raises(InventoryError, match="lacks the column"):
        parse_import("name,address\nHV01,hv01.example\n", "csv")
    with pytest.raises(InventoryError, match="unknown import format"):
        parse_import("", "xml")
    with pytest.raises(InventoryError, match="not valid JSON"):
        parse_import("{", "json")
