"""A host's own poll interval (issue 17 #3): the inventory field (5–3600 s, absent = the
default), its file, import/export and CLI, and the agent honouring it."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import pytest

from hvconsole import paths
from hvconsole.cli import hosts as cli
from hvconsole.core.inventory import (
    Host,
    HostValidationError,
    Inventory,
    InventoryError,
    InventoryStore,
    export_csv,
    export_json,
    parse_import,
)
from tests.integration import keyrings


def host(**changes) -> Host:
    fields = {"name": "HV01", "address": "hv01.corp.example", "username": "CORP\\hvadmin"}
    fields.update(changes)
    return Host(**fields)


# -- the field -------------------------------------------------------------------------------

@pytest.mark.parametrize("given, kept", [(None, None), ("", None), (5, 5), (3600, 3600), ("30", 30),
                                         (" 60 ", 60), ("9 s", 9), (120.0, 120)])
def test_accepted_values_are_normalised_to_whole_seconds(given, kept) -> None:
    assert host(poll_interval_s=given).poll_interval_s == kept


@pytest.mark.parametrize("bad", [4, 0, -5, 3601, 10**40, "4", "abc", "1e3", "9.5", 7.5, True, [30], {"s": 9}])
def test_bad_values_get_one_message_naming_the_field_and_the_range(bad) -> None:
    with pytest.raises(HostValidationError) as info:
        host(poll_interval_s=bad)
    assert info.value.field == "poll_interval_s"
    assert "from 5 to 3600" in str(info.value)
    assert "\n" not in str(info.value)


def test_the_file_round_trips_the_interval_and_omits_it_when_unset(tmp_path: Path) -> None:
    store = InventoryStore(tmp_path / "hosts.json")
    store.load()
    store.save(Inventory([host(poll_interval_s=30), host(name="HV02", address="hv02.corp.example")]))
    doc = json.loads((tmp_path / "hosts.json").read_text(encoding="utf-8"))
    assert doc["version"] == 1
    assert doc["hosts"][0]["poll_interval_s"] == 30
    assert "poll_interval_s" not in doc["hosts"][1]       # absent = the default, file as before
    loaded = InventoryStore(tmp_path / "hosts.json").load()
    assert not loaded.problems
    assert [h.poll_interval_s for h in loaded.inventory] == [30, None]


def test_an_old_hosts_json_without_the_field_still_loads_unchanged(tmp_path: Path) -> None:
    # A file as the versions before this field wrote it (docs/hosts-and-credentials.md).
    old = ('{\n  "format": "hvconsole.inventory",\n  "version": 1,\n  "hosts": [\n    {"id": "' + "a" * 32
           + '", "name": "HV01", "address": "hv01.corp.example", "port": null, "transport": "ntlm",'
           ' "username": "CORP\\\\hvadmin", "group": "pilot", "ca_bundle": null, "verify_tls": true}\n  ]\n}\n')
    path = tmp_path / "hosts.json"
    path.write_text(old, encoding="utf-8")
    result = InventoryStore(path).load()
    assert result.problems == () and not result.read_only
    [loaded] = result.inventory
    assert loaded.name == "HV01" and loaded.poll_interval_s is None
    assert path.read_text(encoding="utf-8") == old          # loading did not rewrite it


def test_a_bad_interval_in_the_file_sets_aside_only_that_host(tmp_path: Path) -> None:
    path = tmp_path / "hosts.json"
    doc = Inventory([host(), host(name="HV02", address="hv02.corp.example")]).to_document()
    doc["hosts"][1]["poll_interval_s"] = 1
    path.write_text(json.dumps(doc), encoding="utf-8")
    result = InventoryStore(path).load()
    assert [h.name for h in result.inventory] == ["HV01"]
    assert any("HV02" in p and "poll_interval_s" in p and "from 5 to 3600" in p for p in result.problems)


def test_export_and_import_keep_the_interval() -> None:
    inventory = Inventory([host(poll_interval_s=45), host(name="HV02", address="hv02.corp.example")])
    for text, fmt in ((export_json(inventory), "json"), (export_csv(inventory), "csv")):
        imported = parse_import(text, fmt)
        assert [(h.name, h.poll_interval_s) for h in imported] == [("HV01", 45), ("HV02", None)], fmt
    assert export_csv(inventory).splitlines()[0].endswith(",verify_tls,poll_interval_s")
    # Without any interval the CSV keeps the columns it always had.
    assert export_csv(Inventory([host()])).splitlines()[0].endswith(",verify_tls")


def test_a_bad_interval_in_an_import_names_its_line() -> None:
    text = "name,address,username,poll_interval_s\nHV01,hv01.corp.example,CORP\\u,2\n"
    with pytest.raises(InventoryError, match=r"line 2: poll_interval_s: must be a whole number of seconds"):
        parse_import(text, "csv")


# -- the command line --------------------------------------------------------------------------

@pytest.fixture
def home(tmp_path: Path, monkeypatch) -> Path:
    monkeypatch.setenv(paths.HOME_ENV, str(tmp_path))
    keyrings.install(monkeypatch)
    return tmp_path


def run(monkeypatch, *argv: str, stdin: str = "") -> int:
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    return cli.main(list(argv))


def saved_intervals() -> dict[str, int | None]:
    doc = json.loads(paths.inventory_path().read_text(encoding="utf-8"))
    return {h["name"]: h.get("poll_interval_s") for h in doc["hosts"]}


def add_args(name: str, *extra: str) -> list[str]:
    return ["add", name, "--address", f"{name.lower()}.corp.example", "--user", "CORP\\hvadmin",
            "--password-stdin", *extra]


def test_cli_add_and_edit_set_and_clear_the_interval(home, monkeypatch, capsys) -> None:
    assert run(monkeypatch, *add_args("HV01", "--poll-interval", "30"), stdin="pw\n") == cli.EXIT_OK
    assert run(monkeypatch, *add_args("HV02"), stdin="pw\n") == cli.EXIT_OK
    assert saved_intervals() == {"HV01": 30, "HV02": None}
    assert run(monkeypatch, "edit", "HV02", "--poll-interval", "120") == cli.EXIT_OK
    assert saved_intervals() == {"HV01": 30, "HV02": 120}
    assert run(monkeypatch, "edit", "HV01", "--poll-interval", "default") == cli.EXIT_OK
    assert saved_intervals() == {"HV01": None, "HV02": 120}
    capsys.readouterr()
    assert run(monkeypatch, "list", "--json") == cli.EXIT_OK
    rows = json.loads(capsys.readouterr().out)
    assert [r.get("poll_interval_s") for r in rows] == [None, 120]
    assert run(monkeypatch, "list") == cli.EXIT_OK
    header, first, second = capsys.readouterr().out.splitlines()
    assert header.split()[-1] == "POLL" and first.split()[-1] == "default" and second.endswith("120 s")


@pytest.mark.parametrize("value", ["2", "3601", "often", "10.5"])
def test_cli_bad_interval_is_one_line_and_changes_nothing(home, monkeypatch, capsys, value) -> None:
    code = run(monkeypatch, *add_args("HV01", "--poll-interval", value), stdin="pw\n")
    err = capsys.readouterr().err
    assert code == cli.EXIT_BAD_INPUT
    assert err.count("\n") == 1 and "poll_interval_s" in err and "Traceback" not in err
    assert not paths.inventory_path().exists()

    assert run(monkeypatch, *add_args("HV01", "--poll-interval", "60"), stdin="pw\n") == cli.EXIT_OK
    before = paths.inventory_path().read_bytes()
    capsys.readouterr()
    assert run(monkeypatch, "edit", "HV01", "--poll-interval", value) == cli.EXIT_BAD_INPUT
    assert "poll_interval_s" in capsys.readouterr().err
    assert paths.inventory_path().read_bytes() == before


# -- the agent -----------------------------------------------------------------------------------

class _Worker:
    def __init__(self, name: str, own: float | None):
        self.name = name
        self.scheduled_interval_s = own


def test_the_agent_polls_each_host_at_its_own_interval() -> None:
    from hvconsole.agent.runner import AgentRunner
    runner = AgentRunner([], interval_s=15.0)
    assert runner.interval_for(_Worker("HV01", 60.0)) == 60.0
    assert runner.interval_for(_Worker("HV02", None)) == 15.0


def test_configured_site_workers_carry_each_hosts_interval() -> None:
    from types import SimpleNamespace

    from hvconsole.monitoring.workers import site_workers
    from hvconsole.core.inventory import InventoryStore as Store
    from hvconsole.remote.target import Target

    class Book:
        inventory = Inventory([host(poll_interval_s=40), host(name="HV02", address="hv02.corp.example")])
        store = Store(Path("unused.json"))

    targets = [Target(name=n, url=f"http://{n.lower()}.corp.example:5985/wsman", username="CORP\\u", password="x")
               for n in ("HV01", "HV02")]
    site = SimpleNamespace(book=Book(), targets=targets, clock=None, speed=1.0)
    workers = {w.name: w for w in site_workers(site, poll_interval_s=15.0)}
    assert workers["HV01"].scheduled_interval_s == 40.0 and workers["HV01"].poll_interval_s == 40.0
    assert workers["HV02"].scheduled_interval_s is None and workers["HV02"].poll_interval_s == 15.0


# -- the collect loop's switch (docs/winrm.md, "The collect loop") -----------------------------------

def saved_loops() -> dict[str, bool | None]:
    doc = json.loads(paths.inventory_path().read_text(encoding="utf-8"))
    return {h["name"]: h.get("collect_loop") for h in doc["hosts"]}


def test_cli_add_and_edit_turn_the_collect_loop_on_and_off(home, monkeypatch, capsys) -> None:
    assert run(monkeypatch, *add_args("HV01", "--collect-loop", "on"), stdin="pw\n") == cli.EXIT_OK
    assert run(monkeypatch, *add_args("HV02"), stdin="pw\n") == cli.EXIT_OK
    assert saved_loops() == {"HV01": True, "HV02": None}          # off is left out of the file
    capsys.readouterr()
    assert run(monkeypatch, "list") == cli.EXIT_OK
    header, first, second = capsys.readouterr().out.splitlines()
    assert header.split()[-1] == "LOOP" and first.split()[-1] == "on" and second.split()[-1] == "off"
    assert run(monkeypatch, "edit", "HV01", "--collect-loop", "off") == cli.EXIT_OK
    assert run(monkeypatch, "edit", "HV02", "--collect-loop", "on") == cli.EXIT_OK
    assert saved_loops() == {"HV01": None, "HV02": True}
    assert run(monkeypatch, "edit", "HV02", "--group", "pilot") == cli.EXIT_OK   # untouched unless given
    assert saved_loops() == {"HV01": None, "HV02": True}
    capsys.readouterr()
    assert run(monkeypatch, "list") == cli.EXIT_OK
    assert "LOOP" in capsys.readouterr().out.splitlines()[0]
    assert run(monkeypatch, "edit", "HV02", "--collect-loop", "off") == cli.EXIT_OK
    capsys.readouterr()
    assert run(monkeypatch, "list") == cli.EXIT_OK
    assert "LOOP" not in capsys.readouterr().out.splitlines()[0]
