"""A Kerberos host logs on with the ticket cache, never with a stored password
(docs/kerberos.md): adding one asks for no password and touches no keyring, and the
configured site makes a target for it instead of "no password saved"."""

from __future__ import annotations

from pathlib import Path

import pytest
from keyring.backends import fail

from hvconsole import paths
from hvconsole.cli import hosts as cli
from hvconsole.remote.configured import load_configured
from tests.integration import keyrings


@pytest.fixture
def home(tmp_path: Path, monkeypatch) -> Path:
    monkeypatch.setenv(paths.HOME_ENV, str(tmp_path))
    return tmp_path


def test_a_kerberos_host_is_added_without_a_password_or_a_keyring(home, monkeypatch, capsys):
    keyrings.install(monkeypatch, fail.Keyring())      # any keyring access would fail loudly
    monkeypatch.setattr("sys.stdin.isatty", lambda: False)   # and no prompt is possible
    code = cli.main(["add", "HV01", "--address", "hv01.corp.example", "--user", "CORP\\admin",
                     "--transport", "kerberos"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "no password stored" in out and "Kerberos" in out


def test_the_configured_site_makes_a_target_for_a_kerberos_host_without_a_password(home, monkeypatch):
    keyrings.install(monkeypatch)                       # an empty, working keyring
    assert cli.main(["add", "HV01", "--address", "hv01.corp.example", "--user", "CORP\\admin",
                     "--transport", "kerberos"]) == 0
    site = load_configured(allow_session_only=False)
    assert [t.name for t in site.targets] == ["HV01"] and site.problems == [], site.problems
    assert site.targets[0].transport == "kerberos"


def test_an_ntlm_host_without_a_password_is_still_one_problem(home, monkeypatch):
    keyrings.install(monkeypatch)
    from hvconsole.core.inventory import Host, HostBook, InventoryStore
    book = HostBook(InventoryStore(paths.inventory_path()), None)
    book.add(Host(name="HV02", address="hv02.corp.example", username="CORP\\admin"), None)
    site = load_configured(allow_session_only=False)
    assert site.targets == [] and any("HV02" in p and "no password" in p for p in site.problems)
