"""Property-based tests: the inventory loader and the importer let out one documented
error type (:class:`InventoryError`) and nothing else, whatever ``hosts.json`` or an
imported file holds; the loader never raises for a file's content at all, keeps every good
entry, and leaves no secret in any file it writes.

Fixed example budget, derandomized: stable and fast.
"""

from __future__ import annotations

import copy
import csv
import io
import json
import secrets
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hvconsole.core.inventory import Host, InventoryError, InventoryStore, parse_import

SETTINGS = settings(max_examples=60, derandomize=True, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.function_scoped_fixture])

SECRET = secrets.token_urlsafe(16)           # made up at run time; must never reach a file
HUGE_INT = "\x00HUGE-INT\x00"            # stands for a 5,000-digit integer in the JSON text
HUGE_INT_JSON = json.dumps(HUGE_INT)

BASE = {"format": "hvconsole.inventory", "version": 1, "hosts": [
    {"id": "0" * 31 + "1", "name": "HV01", "address": "hv01.corp.example", "port": None, "transport": "ntlm",
     "username": "CORP\\admin", "group": "pilot", "ca_bundle": None, "verify_tls": True},
    {"id": "0" * 31 + "2", "name": "HV02", "address": "fe80::1%eth0", "port": 5986, "transport": "https",
     "username": "admin@corp.example", "group": None, "ca_bundle": "/etc/ssl/ca.pem", "verify_tls": True},
    {"id": "0" * 31 + "3", "name": "Hôte-03", "address": "10.0.0.3", "port": 15985, "transport": "kerberos",
     "username": "CORP\\svc", "group": "prod", "ca_bundle": None, "verify_tls": True},
]}

NASTY = st.sampled_from([
    HUGE_INT, "", " ", "\x1b[2J", "\u202eevil", "fe80::1%\r\nX", "fe80::1%]@evil", "fe80::1%eth0",
    "localhost.", "127.0.0.1", "::1", "https", "plaintext", "kerberos", "x" * 300, "9" * 40, "-1", "0",
    "65536", "true", "no", "HV01", "hv02", "CORP\\", "@corp", "a\\b\\c", "0" * 32, "g" * 32, SECRET,
])
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
                    st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=20), NASTY)
VALUES = st.one_of(NASTY, st.recursive(
    SCALARS, lambda c: st.one_of(st.lists(c, max_size=3), st.dictionaries(st.text(max_size=8), c, max_size=3)),
    max_leaves=8))
KEYS = st.sampled_from(["format", "version", "hosts", "name", "address", "port", "transport", "username",
                        "group", "ca_bundle", "verify_tls", "id", "password", "Password", "pwd", "extra"])


@st.composite
def documents(draw) -> Any:
    doc = copy.deepcopy(BASE)
    for _ in range(draw(st.integers(min_value=0, max_value=4))):
        where = draw(st.sampled_from(["top", "entry", "entry", "entry", "hosts"]))
        if where == "top":
            doc[draw(KEYS)] = draw(VALUES)
        elif where == "hosts":
            twice = doc["hosts"] * 2 if isinstance(doc.get("hosts"), list) else None   # duplicates
            doc["hosts"] = draw(st.one_of(VALUES, st.just(twice)))
        elif isinstance(doc.get("hosts"), list) and doc["hosts"]:
            i = draw(st.integers(min_value=0, max_value=len(doc["hosts"]) - 1))
            if isinstance(doc["hosts"][i], dict):
                key = draw(KEYS)
                doc["hosts"][i][key] = SECRET if key.lower() in ("password", "pwd") else draw(VALUES)
            else:
                doc["hosts"][i] = draw(VALUES)
    return doc


def _text(doc: Any) -> str:
    return json.dumps(doc, ensure_ascii=False).replace(HUGE_INT_JSON, "9" * 5000)


@st.composite
def file_bytes(draw) -> bytes:
    text = _text(draw(documents()))
    cut = draw(st.sampled_from(["whole", "whole", "whole", "truncated", "deep", "bytes"]))
    if cut == "truncated":
        return text[: draw(st.integers(min_value=0, max_value=len(text)))].encode()
    if cut == "deep":
        return text.replace('"hosts": [', '"hosts": [' + "[" * 50_000, 1).encode()
    if cut == "bytes":
        return draw(st.binary(max_size=200))
    return text.encode()


@SETTINGS
@given(file_bytes())
def test_loading_hosts_json_never_raises_and_keeps_good_entries(tmp_path_factory, content: bytes):
    folder = tmp_path_factory.mktemp("inv")
    path = folder / "hosts.json"
    path.write_bytes(content)
    result = InventoryStore(path).load()          # nothing in the file's content may raise
    everything = b"".join(p.read_bytes() for p in folder.iterdir() if p.is_file())
    assert SECRET.encode() not in everything or result.read_only   # a newer version's file is not touched
    if result.read_only:
        assert path.read_bytes() == content and result.moved_to is None
    elif result.moved_to is not None:
        assert len(result.inventory) == 0 and not path.exists()
    elif path.exists():
        # what was kept is a clean inventory: it loads again without a word
        again = InventoryStore(path).load()
        assert again.problems == () and [h.name for h in again.inventory] == [h.name for h in result.inventory]
    for problem in result.problems:
        assert "\x1b" not in problem and "\r" not in problem and "\n" not in problem


@SETTINGS
@given(file_bytes())
def test_json_import_raises_only_inventory_error(content: bytes):
    try:
        hosts = parse_import(content.decode("utf-8", "replace"), "json")
    except InventoryError as exc:
        assert SECRET not in str(exc)
    else:
        assert all(isinstance(h, Host) for h in hosts)


CSV_CELLS = st.one_of(NASTY, st.text(max_size=15), st.just("a" * 140_000), st.just('"'), st.just("\x00"))


@st.composite
def csv_texts(draw) -> str:
    header = draw(st.sampled_from(["name,address,username", "name,address,username,port,transport,verify_tls",
                                   "Name, Address ,USERNAME,group", "name,address", "name,address,username,password"]))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator=draw(st.sampled_from(["\n", "\r\n"])))
    for _ in range(draw(st.integers(min_value=0, max_value=4))):
        writer.writerow(draw(st.lists(CSV_CELLS, min_size=0, max_size=7)))
    body = out.getvalue()
    if draw(st.booleans()):
        body = body.replace(",", draw(st.sampled_from(['"', ";", "\n", ",,"])), 1)
    return header + "\n" + body


@SETTINGS
@given(csv_texts())
def test_csv_import_raises_only_inventory_error(text: str):
    try:
        hosts = parse_import(text, "csv")
    except InventoryError as exc:
        assert SECRET not in str(exc)
    else:
        assert all(isinstance(h, Host) for h in hosts)


def test_the_good_entries_survive_one_bad_one_in_every_position(tmp_path: Path):
    for i in range(3):
        doc = copy.deepcopy(BASE)
        doc["hosts"][i]["address"] = "fe80::1%\x1b[2J"
        path = tmp_path / f"{i}" / "hosts.json"
        path.parent.mkdir()
        path.write_text(json.dumps(doc))
        result = InventoryStore(path).load()
        assert len(result.inventory) == 2 and f"hosts[{i}]" in result.problems[0]
