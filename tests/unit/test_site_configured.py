"""``hvconsole.site`` for the configured hosts: the inventory as the admin left it (a bad
entry among good ones, a host whose certificate is not checked, a name that is not there)
becomes targets, one problem per host left out and one warning per weak host; nothing
about one host stops the others, and the keyring is not touched when no host needs it."""

from __future__ import annotations

import json
import threading
import time

import pytest

from hvconsole import paths, site
from hvconsole.core.inventory import Host, InventoryStore
from hvconsole.core.inventory.book import HostBook
from hvconsole.credentials import Secret, SessionOnlyStore
from tests.integration import keyrings


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv(paths.HOME_ENV, str(tmp_path))
    return tmp_path


def book_with(hosts: list[Host], passwords: dict[str, str] | None = None) -> HostBook:
    store = SessionOnlyStore()
    book = HostBook(InventoryStore(paths.inventory_path()), store)
    for host in hosts:
        book.add(host, Secret((passwords or {}).get(host.name, f"pw-{host.name}")))
    return HostBook(InventoryStore(paths.inventory_path()), store)     # read back from the file


def good_hosts() -> list[Host]:
    return [Host(name="HV01", address="hv01.corp.example", username="CORP\\admin"),
            Host(name="HV02", address="10.0.0.2", username="CORP\\admin", transport="https")]


def test_every_good_host_is_a_target_with_no_problem(home):
    s = site.open_configured_site(book_with(good_hosts()))
    assert (s.kind, s.label, s.simulated, s.clock, s.speed) == ("configured", site.CONFIGURED_LABEL, False, None, 1.0)
    assert s.names() == ["HV01", "HV02"] and s.problems == [] and s.warnings == []
    assert s.target("hv02").url == "https://10.0.0.2:5986/wsman"
    assert s.journal_path == home / "data" / "patch-journal.sqlite"
    directory = s.directory()
    assert directory.names() == ["HV01", "HV02"] and directory.speed == 1.0
    assert s.close() and s.close()


def test_a_host_whose_target_cannot_be_made_is_one_problem_and_the_others_go_on(home):
    """Issue 10 item 5: an imported IPv6 zone that no URL can carry used to raise out of the
    loader and stop monitoring for every host."""
    book = book_with(good_hosts())
    doc = json.loads(paths.inventory_path().read_text(encoding="utf-8"))
    bad = dict(doc["hosts"][0], id="f" * 32, name="HV-BAD", address="fe80::1%]@evil.example")
    doc["hosts"].insert(1, bad)
    paths.inventory_path().write_text(json.dumps(doc), encoding="utf-8")
    book = HostBook(InventoryStore(paths.inventory_path()), book.passwords)
    book.passwords.save("f" * 32, Secret("pw-bad"))

    s = site.open_configured_site(book)
    assert s.names() == ["HV01", "HV02"]
    assert len(s.problems) == 1 and "HV-BAD" in s.problems[0], s.problems


def test_a_target_error_is_one_problem_too(home, monkeypatch):
    """Whatever a target refuses (TargetError or a plain ValueError from the URL) is one
    problem for that host, with the reason."""
    from hvconsole.remote import configured, probe
    real = probe.target_for

    def target_for(host, password):
        if host.name == "HV01":
            raise ValueError("'fe80::1%' does not appear to be an IPv4 or IPv6 address")
        return real(host, password)
    monkeypatch.setattr(configured, "target_for", target_for)
    s = site.open_configured_site(book_with(good_hosts()))
    assert s.names() == ["HV02"]
    assert s.problems == ["HV01: 'fe80::1%' does not appear to be an IPv4 or IPv6 address"]


def test_certificate_checking_off_is_one_warning_for_that_host(home):
    hosts = good_hosts() + [Host(name="HV03", address="hv03.lab.example", username="admin",
                                 transport="https", verify_tls=False)]
    s = site.open_configured_site(book_with(hosts))
    assert s.names() == ["HV01", "HV02", "HV03"]
    assert len(s.warnings) == 1
    assert s.warnings[0].startswith("HV03: certificate checking is off")
    assert s.target("HV03").server_cert_validation == "ignore"


def test_only_selects_hosts_and_names_an_unknown_one(home):
    s = site.open_configured_site(book_with(good_hosts()), only=["hv02", "NOPE"])
    assert s.names() == ["HV02"]
    assert s.problems == ["no host 'NOPE' in the inventory (see `hvconsole hosts list`)"]


def test_a_host_without_a_password_is_left_out(home):
    book = book_with(good_hosts())
    book.passwords.delete(book.inventory.get("HV01").id)
    s = site.open_configured_site(book)
    assert s.names() == ["HV02"]
    assert s.problems == ["HV01: no password saved; edit the host to enter it"]


class CountingKeyring(keyrings.MemoryKeyring):
    def __init__(self):
        super().__init__()
        self.calls = 0

    def get_password(self, service, username):
        self.calls += 1
        return super().get_password(service, username)

    def set_password(self, service, username, password):
        self.calls += 1
        super().set_password(service, username, password)


def test_the_keyring_is_touched_only_when_a_host_needs_a_password(home, monkeypatch):
    backend = keyrings.install(monkeypatch, CountingKeyring())
    InventoryStore(paths.inventory_path()).save(_inventory(good_hosts()))
    s = site.open_configured_site(only=["NOPE"], allow_session_only=False)
    assert s.targets == [] and backend.calls == 0
    assert s.problems == ["no host 'NOPE' in the inventory (see `hvconsole hosts list`)"]
    s = site.open_configured_site(only=["HV01"], allow_session_only=False)
    assert backend.calls > 0
    assert s.problems == ["HV01: no password saved; edit the host to enter it"]


def test_an_empty_inventory_is_an_empty_site_without_a_keyring(home, monkeypatch):
    backend = keyrings.install(monkeypatch, CountingKeyring())
    s = site.open_configured_site(allow_session_only=False)
    assert (s.targets, s.problems, backend.calls) == ([], [], 0)
    assert s.book is not None and len(s.book.inventory) == 0


def test_journal_paths_keep_the_demo_apart(home):
    assert site.journal_path(False) == home / "data" / "patch-journal.sqlite"
    assert site.journal_path(True) == home / "data" / "demo" / "patch-journal.sqlite"
    assert paths.patch_journal_path() == site.journal_path(False)


def test_close_is_idempotent_and_bounded():
    release = threading.Event()
    calls = []

    def hanging_stop():
        calls.append(1)
        release.wait(30)
    s = site.Site(kind="demo", label=site.DEMO_LABEL, targets=[], simulated=True, _closer=hanging_stop)
    started = time.monotonic()
    assert s.close(wait_s=0.2) is False          # gave up waiting, did not hang
    assert time.monotonic() - started < 5
    assert s.closed and s.close() is False and calls == [1]
    release.set()
    for _ in range(100):
        if s.close():
            break
        time.sleep(0.05)
    assert s.close() is True and calls == [1]


def _inventory(hosts):
    from hvconsole.core.inventory import Inventory
    inv = Inventory()
    for h in hosts:
        inv.add(h)
    return inv
