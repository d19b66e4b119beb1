"""``hvconsole hosts``: add/list/edit/remove/test/import/export with an in-memory keyring,
bad input refused before anything is written, and the password in no file, no output and
no log line."""

from __future__ import annotations

import io
import json
import logging
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from keyring.backends import fail

from hvconsole import paths
from hvconsole.cli import hosts as cli
from hvconsole.credentials import SERVICE
from tests.integration import keyrings
from tests.integration.simhost import sim_endpoint


@pytest.fixture
def home(tmp_path: Path, monkeypatch) -> Path:
    monkeypatch.setenv(paths.HOME_ENV, str(tmp_path))
    return tmp_path


@pytest.fixture
def memory(monkeypatch):
    return keyrings.install(monkeypatch)


@pytest.fixture
def password() -> str:
    return secrets.token_urlsafe(16)


def hosts(monkeypatch, *argv: str, stdin: str = "") -> int:
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    return cli.main(list(argv))


def inventory_doc() -> dict:
    return json.loads(paths.inventory_path().read_text(encoding="utf-8"))


def add(monkeypatch, password: str, name: str = "HV01", *extra: str) -> int:
    return hosts(monkeypatch, "add", name, "--address", "hv01.corp.example", "--user", "CORP\\hvadmin",
                 "--password-stdin", *extra, stdin=password + "\n")


# -- add ------------------------------------------------------------------------------------

def test_add_stores_host_in_file_and_password_in_keyring_only(home, memory, monkeypatch, password,
                                                              capsys, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    assert add(monkeypatch, password, "HV01", "--group", "pilot") == cli.EXIT_OK
    out = capsys.readouterr()
    assert "added HV01 (http://hv01.corp.example:5985/wsman, ntlm)" in out.out
    [entry] = inventory_doc()["hosts"]
    assert entry["name"] == "HV01" and entry["group"] == "pilot"
    assert memory.entries == {(SERVICE, entry["id"]): password}
    every_file = b"".join(p.read_bytes() for p in home.rglob("*") if p.is_file())
    assert password.encode() not in every_file
    assert password not in out.out + out.err + caplog.text


def test_hint_never_pastes_a_name_a_shell_would_expand(home, memory, monkeypatch, password, capsys) -> None:
    assert add(monkeypatch, password, "web $(id>x)") == cli.EXIT_OK
    out = capsys.readouterr().out
    assert "hvconsole hosts test <name>" in out and "$(" not in out.split("check it with:")[1]
    assert add(monkeypatch, password, "HV-02.lab") == cli.EXIT_OK
    assert "hvconsole hosts test HV-02.lab" in capsys.readouterr().out


def test_password_with_spaces_and_unicode_survives_stdin(home, memory, monkeypatch) -> None:
    tricky = f"  späce {secrets.token_urlsafe(8)} パス  "
    assert add(monkeypatch, tricky) == cli.EXIT_OK
    assert list(memory.entries.values()) == [tricky]


def test_duplicate_name_is_refused_before_the_password_is_read(home, memory, monkeypatch, password,
                                                                capsys) -> None:
    add(monkeypatch, password)
    monkeypatch.setattr(sys, "stdin", io.StringIO("second-password\n"))
    code = cli.main(["add", "hv01", "--address", "10.0.0.9", "--user", "u", "--password-stdin"])
    assert code == cli.EXIT_BAD_INPUT and "already exists" in capsys.readouterr().err
    assert sys.stdin.tell() == 0 and len(memory.entries) == 1 and len(inventory_doc()["hosts"]) == 1


@pytest.mark.parametrize("argv, says", [
    (["--address", "hv 01", "--user", "u"], "address: "),
    (["--address", "10.0.0.300", "--user", "u"], "not a valid IPv4"),
    (["--address", "10.0.0.5", "--user", "u", "--transport", "plaintext"], "only to this PC"),
    (["--address", "a.example", "--user", "a\\b\\c"], "username: "),
    (["--address", "a.example", "--user", "u", "--port", "70000"], "port: "),
    (["--address", "a.example", "--user", "u", "--no-verify"], "only to https"),
    (["--address", "a.example", "--user", "u", "--transport", "https", "--ca-bundle", "/nonexistent/ca.pem"],
     "is not a file"),
])
def test_bad_input_writes_nothing(home, memory, monkeypatch, password, capsys, argv, says) -> None:
    code = hosts(monkeypatch, "add", "HV01", *argv, "--password-stdin", stdin=password + "\n")
    assert code == cli.EXIT_BAD_INPUT
    assert says in capsys.readouterr().err
    assert not paths.inventory_path().exists() and memory.entries == {}


def test_empty_password_and_no_terminal_are_refused(home, memory, monkeypatch, capsys) -> None:
    assert add(monkeypatch, "") == cli.EXIT_BAD_INPUT
    assert "password is empty" in capsys.readouterr().err
    code = hosts(monkeypatch, "add", "HV01", "--address", "a.example", "--user", "u")
    assert code == cli.EXIT_BAD_INPUT and "--password-stdin" in capsys.readouterr().err
    assert memory.entries == {} and not paths.inventory_path().exists()


def test_password_is_never_taken_from_the_command_line(home, memory, monkeypatch) -> None:
    with pytest.raises(SystemExit) as info:
        hosts(monkeypatch, "add", "HV01", "--address", "a.example", "--user", "u", "--password", "x")
    assert info.value.code == 2


def test_without_a_keyring_nothing_is_added(home, monkeypatch, password, capsys) -> None:
    keyrings.install(monkeypatch, fail.Keyring())
    assert add(monkeypatch, password) == cli.EXIT_NO_KEYRING
    err = capsys.readouterr().err
    assert "No OS keyring is available" in err and "The host was not added" in err
    assert not paths.inventory_path().exists()


def test_https_without_validation_is_warned(home, memory, monkeypatch, password, capsys) -> None:
    code = hosts(monkeypatch, "add", "HV09", "--address", "10.0.0.9", "--user", "u", "--transport", "https",
                 "--no-verify", "--password-stdin", stdin=password + "\n")
    assert code == cli.EXIT_OK and "will NOT be validated" in capsys.readouterr().err
    hosts(monkeypatch, "list")
    assert "https (NOT VERIFIED)" in capsys.readouterr().out


# -- list, edit, remove ---------------------------------------------------------------------

def test_list_shows_hosts_and_whether_a_password_is_stored(home, memory, monkeypatch, password, capsys) -> None:
    add(monkeypatch, password, "HV01")
    hosts(monkeypatch, "add", "Hôte-02", "--address", "2001:db8::2", "--user", "КОРП\\админ",
          "--password-stdin", stdin=password + "\n")
    memory.entries.clear()
    add(monkeypatch, password, "HV03", "--port", "15985")
    capsys.readouterr()
    assert hosts(monkeypatch, "list", "--json", "--passwords") == cli.EXIT_OK
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["Hôte-02"]["url"] == "http://[2001:db8::2]:5985/wsman"
    assert rows["Hôte-02"]["username"] == "КОРП\\админ"
    assert [rows[n]["password_stored"] for n in ("HV01", "Hôte-02", "HV03")] == [False, False, True]
    hosts(monkeypatch, "list", "--passwords")
    table = capsys.readouterr().out
    assert "MISSING" in table and "stored" in table and password not in table
    hosts(monkeypatch, "list")
    assert "PASSWORD" not in capsys.readouterr().out


def test_edit_renames_keeps_the_secret_and_changes_the_password(home, memory, monkeypatch, password,
                                                                capsys) -> None:
    add(monkeypatch, password)
    host_id = inventory_doc()["hosts"][0]["id"]
    assert hosts(monkeypatch, "edit", "hv01", "--name", "HV01-new", "--address", "10.0.0.1") == cli.EXIT_OK
    assert memory.entries == {(SERVICE, host_id): password}         # renaming kept the secret
    new_password = secrets.token_urlsafe(16)
    assert hosts(monkeypatch, "edit", "HV01-new", "--password-stdin", stdin=new_password + "\n") == cli.EXIT_OK
    assert memory.entries == {(SERVICE, host_id): new_password}
    entry = inventory_doc()["hosts"][0]
    assert (entry["id"], entry["name"], entry["address"]) == (host_id, "HV01-new", "10.0.0.1")
    assert new_password not in capsys.readouterr().out


def test_edit_between_https_and_ntlm_carries_only_meaningful_options(home, memory, monkeypatch, password,
                                                                     capsys) -> None:
    add(monkeypatch, password)
    assert hosts(monkeypatch, "edit", "HV01", "--transport", "https", "--no-verify") == cli.EXIT_OK
    assert inventory_doc()["hosts"][0]["verify_tls"] is False
    assert hosts(monkeypatch, "edit", "HV01", "--transport", "ntlm") == cli.EXIT_OK
    entry = inventory_doc()["hosts"][0]
    assert entry["verify_tls"] is True and entry["port"] is None
    assert hosts(monkeypatch, "edit", "HV01", "--verify", "--no-verify") == cli.EXIT_BAD_INPUT
    assert hosts(monkeypatch, "edit", "HV02", "--group", "x") == cli.EXIT_BAD_INPUT
    assert "no host named 'HV02'" in capsys.readouterr().err


def test_remove_needs_confirmation_and_deletes_the_secret(home, memory, monkeypatch, password, capsys) -> None:
    add(monkeypatch, password)
    assert hosts(monkeypatch, "remove", "HV01") == cli.EXIT_BAD_INPUT        # not a terminal, no --yes
    assert len(inventory_doc()["hosts"]) == 1 and len(memory.entries) == 1
    assert hosts(monkeypatch, "remove", "hv01", "--yes") == cli.EXIT_OK
    assert "removed HV01 and its stored password" in capsys.readouterr().out
    assert inventory_doc()["hosts"] == [] and memory.entries == {}


def test_remove_without_a_keyring_still_removes_the_host(home, memory, monkeypatch, password, capsys) -> None:
    add(monkeypatch, password)
    keyrings.install(monkeypatch, fail.Keyring())
    assert hosts(monkeypatch, "remove", "HV01", "--yes") == cli.EXIT_OK
    assert "cannot be removed" in capsys.readouterr().err and inventory_doc()["hosts"] == []


def test_corrupt_inventory_is_reported_and_kept(home, memory, monkeypatch, password, capsys) -> None:
    path = paths.inventory_path()
    path.parent.mkdir(parents=True)
    path.write_text("{ this is not json", encoding="utf-8")
    assert add(monkeypatch, password) == cli.EXIT_OK
    err = capsys.readouterr().err
    assert "hosts.json: not valid JSON" in err and "the file was kept as " in err
    assert str(path.parent / "hosts.json.corrupt-") in err
    kept = [p for p in path.parent.iterdir() if p.name.startswith("hosts.json.corrupt-")]
    assert len(kept) == 1 and kept[0].read_text(encoding="utf-8") == "{ this is not json"


# -- test -----------------------------------------------------------------------------------

def test_connection_test_ok_and_wrong_password(home, memory, monkeypatch, capsys) -> None:
    with sim_endpoint() as sim:
        argv = ["add", "HV01", "--address", "127.0.0.1", "--port", str(sim.port), "--user", sim.user,
                "--transport", "plaintext", "--password-stdin"]
        assert hosts(monkeypatch, *argv, stdin=sim.password + "\n") == cli.EXIT_OK
        capsys.readouterr()
        assert hosts(monkeypatch, "test", "HV01") == cli.EXIT_OK
        assert capsys.readouterr().out.startswith("OK: connected to HV01")

        wrong = sim.password + "-old"
        assert hosts(monkeypatch, "edit", "HV01", "--password-stdin", stdin=wrong + "\n") == cli.EXIT_OK
        capsys.readouterr()
        assert hosts(monkeypatch, "test", "HV01") == cli.EXIT_TEST_FAILED
        out = capsys.readouterr().out
        assert out.startswith("FAILED (credentials-rejected): ") and "\n  fix: " in out
        assert hosts(monkeypatch, "test", "HV01", "--json", "--password-stdin",
                     stdin=sim.password + "\n") == cli.EXIT_OK
        out += capsys.readouterr().out
    assert json.loads(out[out.index("{"):])["outcome"] == "ok"
    assert sim.password not in out and wrong not in out


def test_connection_test_without_a_stored_password(home, memory, monkeypatch, password, capsys) -> None:
    add(monkeypatch, password)
    memory.entries.clear()
    assert hosts(monkeypatch, "test", "HV01") == cli.EXIT_BAD_INPUT
    assert "no password stored for HV01" in capsys.readouterr().err


# -- import / export ------------------------------------------------------------------------

def test_export_import_round_trip_without_secrets(home, memory, monkeypatch, password, tmp_path, capsys) -> None:
    add(monkeypatch, password, "HV01", "--group", "prod")
    out_csv, out_json = tmp_path / "hosts.csv", tmp_path / "hosts.json.export.json"
    assert hosts(monkeypatch, "export", str(out_csv)) == cli.EXIT_OK
    assert hosts(monkeypatch, "export", str(out_json)) == cli.EXIT_OK
    assert password not in out_csv.read_text(encoding="utf-8") + out_json.read_text(encoding="utf-8")
    capsys.readouterr()
    hosts(monkeypatch, "export", "-")
    assert capsys.readouterr().out.startswith("name,address,port,transport")

    assert hosts(monkeypatch, "remove", "HV01", "--yes") == cli.EXIT_OK
    assert hosts(monkeypatch, "import", str(out_csv)) == cli.EXIT_OK
    assert hosts(monkeypatch, "import", str(out_json)) == cli.EXIT_BAD_INPUT     # same name again
    assert "already exists" in capsys.readouterr().err
    [entry] = inventory_doc()["hosts"]
    assert entry["group"] == "prod" and memory.entries == {}


def test_import_refuses_a_password_column(home, memory, monkeypatch, password, tmp_path, capsys) -> None:
    src = tmp_path / "with-passwords.csv"
    src.write_text(f"name,address,username,password\nHV01,a.example,u,{password}\n", encoding="utf-8")
    assert hosts(monkeypatch, "import", str(src)) == cli.EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert "never imports passwords" in err and password not in err
    assert not paths.inventory_path().exists()


def test_stand_alone_module_runs_as_a_process(home, password) -> None:
    env = {**os.environ, paths.HOME_ENV: str(home), "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"}
    proc = subprocess.run([sys.executable, "-m", "hvconsole.cli.hosts", "add", "HV01", "--address", "a.example",
                           "--user", "u", "--password-stdin"], input=password + "\n", env=env,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == cli.EXIT_NO_KEYRING and "No OS keyring" in proc.stderr
    assert password not in proc.stdout + proc.stderr


# -- bad input, keyring never touched needlessly (issue 10: items 4, 6, 7, 14) --------------

class TouchyKeyring(keyrings.MemoryKeyring):
    """A keyring that counts every call and fails it as a locked Secret Service would: a
    command that must not need the keyring shows it by leaving ``calls`` at 0."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def get_password(self, service: str, username: str):
        self.calls += 1
        import keyring.errors
        raise keyring.errors.KeyringLocked("Failed to unlock the collection!")

    set_password = delete_password = get_password


def test_list_and_unknown_names_never_touch_the_keyring(home, monkeypatch, password, capsys) -> None:
    keyrings.install(monkeypatch)
    add(monkeypatch, password)
    touchy = keyrings.install(monkeypatch, TouchyKeyring())
    assert hosts(monkeypatch, "list") == cli.EXIT_OK
    assert hosts(monkeypatch, "list", "--json") == cli.EXIT_OK
    assert "HV01" in capsys.readouterr().out
    for argv in (["edit", "HV99", "--password-stdin"], ["remove", "HV99", "--yes"], ["test", "HV99"]):
        assert hosts(monkeypatch, *argv, stdin=password + "\n") == cli.EXIT_BAD_INPUT, argv
        assert "no host named 'HV99' in the inventory (known: HV01)" in capsys.readouterr().err
    assert touchy.calls == 0
    # asked for, the password column reads the keyring and says it is locked (not a traceback)
    assert hosts(monkeypatch, "list", "--passwords") == cli.EXIT_OK
    assert touchy.calls == 1 and "keyring is locked" in capsys.readouterr().err


def test_no_keyring_says_which_backends_work_and_how_to_unlock_one(home, monkeypatch, password, capsys) -> None:
    keyrings.install(monkeypatch, fail.Keyring())
    assert add(monkeypatch, password) == cli.EXIT_NO_KEYRING
    err = capsys.readouterr().err
    for words in ("GNOME Keyring", "KWallet", "keyrings.alt", "dbus-run-session",
                  "gnome-keyring-daemon --unlock", "docs/bad-input.md"):
        assert words in err, words


def test_a_huge_integer_in_hosts_json_is_no_traceback_for_any_command(home, memory, monkeypatch, password,
                                                                       capsys) -> None:
    add(monkeypatch, password, "HV01")
    add(monkeypatch, password, "HV02")
    path = paths.inventory_path()
    doc = path.read_text(encoding="utf-8")
    path.write_text(doc.replace('"port": null', '"port": ' + "9" * 5000, 1), encoding="utf-8")
    capsys.readouterr()
    assert hosts(monkeypatch, "list") == cli.EXIT_OK
    out, err = capsys.readouterr()
    assert "HV02" in out and "HV01" not in out                # only the bad entry set aside
    assert err.startswith("warning: hosts.json: hosts[0] ('HV01'): port:") and "set aside in" in err
    for argv in (["export", "-"], ["edit", "HV02", "--group", "g"], ["remove", "HV02", "--yes"]):
        assert hosts(monkeypatch, *argv) == cli.EXIT_OK, argv
    assert inventory_doc()["hosts"] == []


@pytest.mark.parametrize("name, content, says", [
    ("deep.json", '{"format": "hvconsole.inventory", "version": 1, "hosts": ' + "[" * 100_000, "nested too deeply"),
    ("big.csv", "name,address,username\nHV01,a.example," + "u" * 200_000 + "\n", "not a CSV row"),
    ("zone.csv", "name,address,username\nHV01,fe80::1%\u202eevil,u\n", "the IPv6 zone"),
])
def test_import_of_a_hostile_file_is_one_message(home, monkeypatch, tmp_path, capsys, name, content, says) -> None:
    src = tmp_path / name
    src.write_text(content, encoding="utf-8")
    assert hosts(monkeypatch, "import", str(src)) == cli.EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert says in err and len(err.splitlines()) == 1 and "\u202e" not in err
    assert not paths.inventory_path().exists()


def test_connection_test_cleans_the_hosts_own_text(home, memory, monkeypatch, capsys) -> None:
    with sim_endpoint() as sim:
        sim.sim.product = "Windows Server\x1b]0;pwned\x07 2022\u202e \x9b31m"
        argv = ["add", "HV01", "--address", "127.0.0.1", "--port", str(sim.port), "--user", sim.user,
                "--transport", "plaintext", "--password-stdin"]
        assert hosts(monkeypatch, *argv, stdin=sim.password + "\n") == cli.EXIT_OK
        capsys.readouterr()
        assert hosts(monkeypatch, "test", "HV01") == cli.EXIT_OK
        out = capsys.readouterr().out
        assert "Windows Server ]0;pwned 2022" in out
        assert hosts(monkeypatch, "test", "HV01", "--json") == cli.EXIT_OK
        out += capsys.readouterr().out
    for bad in ("\x1b", "\x07", "\u202e", "\x9b"):
        assert bad not in out
    assert "\\u202e" in out                                   # JSON keeps it, escaped


def test_import_of_a_file_that_is_not_utf8_or_too_big_is_one_message(home, monkeypatch, tmp_path, capsys) -> None:
    latin = tmp_path / "latin1.csv"
    latin.write_bytes("name,address,username\nZürich,a.example,u\n".encode("latin-1"))
    assert hosts(monkeypatch, "import", str(latin)) == cli.EXIT_BAD_INPUT
    assert "is not UTF-8 text" in capsys.readouterr().err
    big = tmp_path / "big.csv"
    big.write_bytes(b"name,address,username\n" + b"x" * (cli.MAX_IMPORT_BYTES + 1))
    assert hosts(monkeypatch, "import", str(big)) == cli.EXIT_BAD_INPUT
    assert "larger than 10 MB" in capsys.readouterr().err


def test_a_full_disk_is_one_message(home, memory, monkeypatch, password, capsys) -> None:
    import errno

    from hvconsole.core.inventory import store

    def full(path, text, **_):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))
    monkeypatch.setattr(store, "atomic_write_text", full)
    assert add(monkeypatch, password) == cli.EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert err == f"hvconsole hosts add: cannot write {paths.inventory_path()}: No space left on device\n"
    assert memory.entries == {}                       # the password saved first was taken back


def test_import_warns_about_a_host_whose_certificate_is_not_checked(home, memory, monkeypatch, tmp_path,
                                                                     capsys) -> None:
    """Issue 10 item 10: an imported line can turn certificate checking off; the admin is
    told once per such host, as `hosts add` and `edit` do."""
    src = tmp_path / "hosts.csv"
    src.write_text("name,address,transport,username,verify_tls\nHV01,hv01.example,https,u,false\n"
                   "HV02,hv02.example,https,u,true\n", encoding="utf-8")
    assert hosts(monkeypatch, "import", str(src)) == cli.EXIT_OK
    err = capsys.readouterr().err
    assert err.count("will NOT be validated") == 1 and "HV01" in err and "HV02" not in err, err
