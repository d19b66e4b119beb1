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
    (b'{"format": "hvconsole.inventory", "version": "one", "hosts": []}', "version 'one'"),
    (b'{"format": "hvconsole.inventory", "version": 0, "hosts": []}', "version 0"),
    (b'{"format": "hvconsole.inventory", "version": 1, "hosts": {}}', "must be a list"),
    (b'{"format": "hvconsole.inventory", "version": 1, "hosts": [' + b"[" * 100_000, "nested too deeply"),
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


# -- one bad entry, a newer version, a password in the file (issue 10, item 6) --------------

def _doc(*entries: dict, version: int = 1) -> bytes:
    return json.dumps({"format": "hvconsole.inventory", "version": version, "hosts": list(entries)}).encode()


GOOD_A = {"name": "HV01", "address": "hv01.corp.example", "username": "CORP\\a"}
GOOD_B = {"name": "HV02", "address": "10.0.0.2", "username": "CORP\\b"}


@pytest.mark.parametrize("bad, says", [
    ({"name": "HV03", "address": "bad address", "username": "u"}, "hosts[1] ('HV03'): address:"),
    ({"name": "hv01", "address": "c.example", "username": "u"}, "hosts[1] ('hv01'): a host named 'HV01' already exists"),
    ({"name": ["HV03"], "address": "c.example", "username": "u"}, "hosts[1]: name: must be text"),
    ({"name": "HV03", "address": "c.example", "username": "u", "port": 10**5000}, "hosts[1] ('HV03'): port:"),
    ({"name": "HV03", "address": "fe80::1%\r\n\x1b[2J", "username": "u"}, "hosts[1] ('HV03'): address: the IPv6 zone"),
    ("not an object", "hosts[1]: host: must be an object"),
])
def test_one_bad_entry_is_set_aside_alone_and_the_good_ones_stay(tmp_path: Path, bad, says: str) -> None:
    path = tmp_path / "hosts.json"
    import sys
    old = sys.get_int_max_str_digits()
    sys.set_int_max_str_digits(0)               # only to WRITE a 5,001-digit port
    try:
        path.write_bytes(_doc(GOOD_A, bad, GOOD_B))
    finally:
        sys.set_int_max_str_digits(old)
    result = InventoryStore(path).load()
    assert [h.name for h in result.inventory] == ["HV01", "HV02"]
    assert result.moved_to is None and not result.read_only
    assert result.set_aside_to is not None and result.set_aside_to.name.startswith("hosts.json.rejected-")
    assert result.problems[0].startswith(f"hosts.json: {says}"), result.problems
    assert f"set aside in {result.set_aside_to} " in result.problems[0]
    assert result.problems[-1] == "hosts.json: the other 2 hosts are loaded"
    assert "\x1b" not in result.problem and "\r" not in result.problem
    # the file now holds the good entries only; the rejected one is kept, importable once fixed
    again = InventoryStore(path).load()
    assert again.problems == () and [h.name for h in again.inventory] == ["HV01", "HV02"]
    kept = json.loads(result.set_aside_to.read_text(encoding="utf-8"))
    assert len(kept["hosts"]) == 1 and kept["set_aside_because"] == [result.problems[0].split(": ", 1)[1]
                                                                       .split("; this entry was set aside")[0]]
    assert oct(result.set_aside_to.stat().st_mode & 0o777) == "0o600"


def test_a_password_field_is_removed_from_every_file_and_the_admin_told(tmp_path: Path) -> None:
    secret_a, secret_b = secrets.token_urlsafe(12), secrets.token_urlsafe(12)
    path = tmp_path / "hosts.json"
    path.write_bytes(_doc({**GOOD_A, "Password": secret_a},
                          {"name": "HV03", "address": "bad address", "username": "u", "pwd": secret_b}))
    result = InventoryStore(path).load()
    assert [h.name for h in result.inventory] == ["HV01"]          # kept, without its password
    assert any("hosts[0].Password, hosts[1].pwd: a password field was removed from the file; "
               "hvconsole keeps passwords only in the OS keyring" in p for p in result.problems)
    every_file = b"".join(p.read_bytes() for p in tmp_path.iterdir())
    assert secret_a.encode() not in every_file and secret_b.encode() not in every_file
    assert result.set_aside_to is not None                           # the bad entry, minus its secret


@pytest.mark.parametrize("content", [
    b'{"format": "hvconsole.inventory", "version": 1, "hosts": [{"name": "A", "password": "SECRET-1"}',
    b'{"format": "not-ours", "hosts": [{"name": "A", "Password": "SECRET-1"}]}',
])
def test_an_unusable_file_moved_aside_keeps_no_password(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "hosts.json"
    path.write_bytes(content)
    result = InventoryStore(path).load()
    assert result.moved_to is not None and len(result.inventory) == 0
    assert b"SECRET-1" not in result.moved_to.read_bytes()
    assert b'"name": "A"' in result.moved_to.read_bytes() or b'"name":"A"' in result.moved_to.read_bytes()


def test_a_newer_versions_file_is_neither_used_nor_renamed_nor_changed(tmp_path: Path) -> None:
    path = tmp_path / "hosts.json"
    content = _doc(GOOD_A, {**GOOD_B, "new_field_of_v2": {"x": 1}}, version=2)
    path.write_bytes(content)
    store = InventoryStore(path)
    result = store.load()
    assert result.read_only and len(result.inventory) == 0 and result.moved_to is None
    assert result.problem.startswith("hosts.json was written by a newer hvconsole (inventory version 2; "
                                     "this one reads version 1); this version will not change it.")
    with pytest.raises(InventoryError, match="written by a newer hvconsole.*nothing was saved"):
        store.save(sample())
    assert path.read_bytes() == content and sorted(p.name for p in tmp_path.iterdir()) == ["hosts.json"]


def test_a_huge_integer_in_the_file_is_the_entrys_problem_not_a_crash(tmp_path: Path) -> None:
    path = tmp_path / "hosts.json"
    text = _doc(GOOD_A, {**GOOD_B, "port": 5985}).decode().replace("5985", "9" * 5000)
    path.write_text(text)
    result = InventoryStore(path).load()
    assert [h.name for h in result.inventory] == ["HV01"]
    assert "hosts[1] ('HV02'): port:" in result.problem and "9" * 61 not in result.problem


def test_a_huge_integer_in_the_header_moves_the_file_aside(tmp_path: Path) -> None:
    path = tmp_path / "hosts.json"
    path.write_text('{"format": "hvconsole.inventory", "version": ' + "9" * 5000 + ', "hosts": []}')
    result = InventoryStore(path).load()
    assert result.moved_to is not None and "version 'this" not in result.problem
    assert "is not one this hvconsole reads" in result.problem


@pytest.mark.parametrize("text, fmt, says", [
    ('{"format": "hvconsole.inventory", "version": 1, "hosts": [' + "[" * 50_000, "json", "nested too deeply"),
    ('{"format": "hvconsole.inventory", "version": 1, "hosts": [{"name": "A", "address": "a.example", '
     '"username": "u", "port": ' + "9" * 5000 + "}]}", "json", "port:"),
    ("name,address,username\nA," + "a" * 140_000 + ",u\n", "csv", "line 2: not a CSV row"),
    ("name,address,username\nA,fe80::1%]@evil.example,u\n", "csv", "the IPv6 zone"),
])
def test_import_problems_are_one_inventory_error(text: str, fmt: str, says: str) -> None:
    with pytest.raises(InventoryError, match=None) as info:
        parse_import(text, fmt)
    assert says in str(info.value)


def test_a_file_that_cannot_be_repaired_is_used_read_only_and_left_alone(tmp_path: Path, monkeypatch) -> None:
    import errno

    from hvconsole.core.inventory import store as store_module

    def read_only(path, text, **_):
        raise OSError(errno.EROFS, "Read-only file system", str(path))
    monkeypatch.setattr(store_module, "atomic_write_text", read_only)
    monkeypatch.setattr(store_module, "move_aside",
                        lambda *a, **k: (_ for _ in ()).throw(OSError(errno.EROFS, "Read-only file system")))
    path = tmp_path / "hosts.json"
    content = _doc(GOOD_A, {"name": "HV03", "address": "bad address", "username": "u"})
    path.write_bytes(content)
    store = InventoryStore(path)
    result = store.load()
    assert [h.name for h in result.inventory] == ["HV01"] and result.read_only
    assert "could not be repaired (Read-only file system)" in result.problem
    with pytest.raises(InventoryError, match="could not be set aside; nothing was saved"):
        store.save(result.inventory)
    path.write_bytes(b"{ not json")
    result = InventoryStore(path).load()
    assert result.read_only and "could not be moved aside (Read-only file system)" in result.problem
    assert path.read_bytes() == b"{ not json"
