"""Inventory hosts: field validation with clear messages, transport rules, names unique
regardless of case."""

from __future__ import annotations

import pytest

from hvconsole.core.inventory import (DuplicateHostError, Host, HostValidationError, Inventory,
                                      InventoryError, Transport, UnknownHostError)


def host(**kw) -> Host:
    base = {"name": "HV01", "address": "hv01.corp.example", "username": "CORP\\hvadmin"}
    base.update(kw)
    return Host(**base)


# -- addresses ----------------------------------------------------------------------------

@pytest.mark.parametrize("typed, stored", [
    ("hv01.corp.example", "hv01.corp.example"),
    ("  HV01  ", "HV01"),
    ("hv01.corp.example.", "hv01.corp.example."),
    ("10.0.0.21", "10.0.0.21"),
    ("fe80::1%eth0", "fe80::1%eth0"),
    ("[2001:db8:0:0:0:0:0:21]", "2001:db8::21"),
    ("::1", "::1"),
])
def test_valid_addresses_are_normalised(typed: str, stored: str) -> None:
    assert host(address=typed).address == stored


@pytest.mark.parametrize("typed, says", [
    ("", "must not be empty"),
    ("http://hv01:5985/wsman", "without http://"),
    ("hv01.corp.example:5985", "use the port field"),
    ("999.1.1.1", "not a valid IPv4 address"),
    ("10.0.0", "not a valid IPv4 address"),
    ("hv_01.corp.example", "not a valid DNS name"),
    ("hv 01", "not a valid DNS name"),
    ("-hv01.corp.example", "not a valid DNS name"),
    ("a" * 64 + ".example", "not a valid DNS name"),
    ("hyper-v-ünïcode.example", "punycode"),
    ("2001:db8::zz", "not a valid IPv6 address"),
])
def test_malformed_addresses_are_refused_with_a_reason(typed: str, says: str) -> None:
    with pytest.raises(HostValidationError) as info:
        host(address=typed)
    assert info.value.field == "address"
    assert says in str(info.value)


# -- user names ---------------------------------------------------------------------------

@pytest.mark.parametrize("user", [
    "CORP\\hvadmin", ".\\Administrator", "hvadmin@corp.example", "localadmin",
    "КОРП\\администратор", "jörg.müller@corp.example", "管理者", "HV01\\Ádám",
])
def test_domain_upn_local_and_non_ascii_usernames_are_kept_verbatim(user: str) -> None:
    assert host(username=user).username == user


@pytest.mark.parametrize("user, says", [
    ("", "must not be empty"),
    ("CORP\\a\\b", "one backslash"),
    ("\\hvadmin", "one backslash"),
    ("@corp.example", "user@domain"),
    ("hvadmin@", "user@domain"),
    ("CORP\\hv:admin", "forbids"),
    ("hv*admin", "forbids"),
    ("CO*RP\\admin", "forbids"),
    ("hv\x00admin", "control"),
])
def test_bad_usernames_are_refused(user: str, says: str) -> None:
    with pytest.raises(HostValidationError) as info:
        host(username=user)
    assert info.value.field == "username" and says in str(info.value)


# -- names, ports, groups -----------------------------------------------------------------

def test_name_is_trimmed_and_control_characters_are_refused() -> None:
    assert host(name="  HV01 ").name == "HV01"
    for bad in ("", "   ", "HV\u200b01", "HV\n01", "x" * 65):
        with pytest.raises(HostValidationError) as info:
            host(name=bad)
        assert info.value.field == "name"


@pytest.mark.parametrize("transport, port", [
    (Transport.NTLM, 5985), (Transport.KERBEROS, 5985), (Transport.CREDSSP, 5985),
    (Transport.HTTPS, 5986), (Transport.HTTPS_BASIC, 5986),
])
def test_default_port_follows_the_transport(transport: Transport, port: int) -> None:
    h = host(transport=transport)
    assert h.port is None and h.effective_port == port
    scheme = "https" if transport.uses_tls else "http"
    assert h.url == f"{scheme}://hv01.corp.example:{port}/wsman"


def test_explicit_port_and_ipv6_url() -> None:
    assert host(address="2001:db8::21", port="15985").url == "http://[2001:db8::21]:15985/wsman"
    for bad in (0, 65536, "abc", -1):
        with pytest.raises(HostValidationError) as info:
            host(port=bad)
        assert info.value.field == "port"


def test_transport_accepts_text_and_rejects_unknown_names() -> None:
    assert host(transport=" HTTPS ").transport is Transport.HTTPS
    with pytest.raises(HostValidationError, match="not one of ntlm, kerberos"):
        host(transport="winrs")


def test_group_is_optional_and_trimmed() -> None:
    assert host(group="  pilot ").group == "pilot"
    assert host(group="   ").group is None


# -- transport rules ----------------------------------------------------------------------

@pytest.mark.parametrize("address", ["127.0.0.1", "127.0.0.2", "::1", "localhost"])
def test_plaintext_is_allowed_to_loopback(address: str) -> None:
    assert host(address=address, transport="plaintext", username="demo").transport is Transport.PLAINTEXT


@pytest.mark.parametrize("address", ["10.0.0.21", "hv01.corp.example", "2001:db8::21"])
def test_plaintext_to_a_real_host_is_refused(address: str) -> None:
    with pytest.raises(HostValidationError, match="only to this PC"):
        host(address=address, transport="plaintext")


def test_kerberos_needs_a_domain_account() -> None:
    assert host(transport="kerberos", username="hvadmin@corp.example")
    with pytest.raises(HostValidationError, match="domain account"):
        host(transport="kerberos", username="localadmin")


def test_tls_options_belong_to_https_only_and_do_not_contradict() -> None:
    assert host(transport="https", ca_bundle="/etc/ca.pem").ca_bundle == "/etc/ca.pem"
    assert host(transport="https", verify_tls=False).tls_unverified
    with pytest.raises(HostValidationError, match="only to https"):
        host(transport="ntlm", ca_bundle="/etc/ca.pem")
    with pytest.raises(HostValidationError, match="only to https"):
        host(transport="ntlm", verify_tls=False)
    with pytest.raises(HostValidationError, match="contradict"):
        host(transport="https", ca_bundle="/etc/ca.pem", verify_tls=False)


def test_with_changes_revalidates_and_keeps_the_id() -> None:
    h = host()
    moved = h.with_changes(address="10.0.0.22", name="HV01-new")
    assert moved.id == h.id and moved.address == "10.0.0.22"
    with pytest.raises(HostValidationError):
        h.with_changes(address="not a host")


# -- the collection -----------------------------------------------------------------------

def test_names_are_unique_ignoring_case_and_unicode_case_forms() -> None:
    inv = Inventory([host(name="HV01"), host(name="Straße", address="hv02.corp.example")])
    with pytest.raises(DuplicateHostError, match="already exists"):
        inv.add(host(name="hv01", address="10.0.0.99"))
    with pytest.raises(DuplicateHostError):
        inv.add(host(name="STRASSE", address="10.0.0.98"))
    assert len(inv) == 2
    assert inv.get("hV01").name == "HV01" and "straße" in inv


def test_same_id_twice_is_refused() -> None:
    h = host()
    with pytest.raises(DuplicateHostError, match="id"):
        Inventory([h, host(name="Other", id=h.id)])


def test_update_renames_but_not_onto_another_host() -> None:
    a, b = host(name="HV01"), host(name="HV02", address="hv02.corp.example")
    inv = Inventory([a, b])
    inv.update("hv01", a.with_changes(name="hv01"))  # case change of itself is fine
    assert inv.get("HV01").name == "hv01"
    with pytest.raises(DuplicateHostError):
        inv.update("HV01", a.with_changes(name="HV02"))
    with pytest.raises(InventoryError, match="keep its id"):
        inv.update("HV01", host(name="HV03"))
    assert [h.name for h in inv] == ["hv01", "HV02"]


def test_remove_and_unknown_names() -> None:
    inv = Inventory([host(name="HV01"), host(name="HV02", address="hv02.corp.example")])
    assert inv.remove("hv02").name == "HV02"
    with pytest.raises(UnknownHostError, match="known: HV01"):
        inv.get("HV02")
    with pytest.raises(UnknownHostError):
        inv.remove("HV02")


def test_add_all_is_all_or_nothing() -> None:
    inv = Inventory([host(name="HV01")])
    with pytest.raises(DuplicateHostError):
        inv.add_all([host(name="HV02", address="a.example"), host(name="HV01", address="b.example")])
    assert [h.name for h in inv] == ["HV01"]
    inv.add_all([host(name="HV02", address="a.example"), host(name="HV03", address="b.example")])
    assert [h.name for h in inv] == ["HV01", "HV02", "HV03"]


def test_document_round_trip_keeps_every_field() -> None:
    hosts = [host(name="HV01", group="pilot"),
             host(name="HV02", address="10.0.0.22", transport="https", port=15986,
                  ca_bundle="/etc/ssl/corp-ca.pem", username="jörg@corp.example"),
             host(name="HV03", address="10.0.0.23", transport="https", verify_tls=False)]
    again = Inventory.from_document(Inventory(hosts).to_document())
    assert list(again) == hosts


@pytest.mark.parametrize("doc, says", [
    ([], "JSON object"),
    ({"format": "something-else", "version": 1, "hosts": []}, "not an hvconsole inventory"),
    ({"format": "hvconsole.inventory", "version": 2, "hosts": []}, "written by a newer hvconsole"),
    ({"format": "hvconsole.inventory", "version": 1, "hosts": {}}, "must be a list"),
    ({"format": "hvconsole.inventory", "version": 1,
      "hosts": [{"name": "HV01", "address": "bad address", "username": "u"}]}, "hosts[0] ('HV01'): address"),
    ({"format": "hvconsole.inventory", "version": 1,
      "hosts": [{"name": "HV01", "address": "a.example", "username": "u", "password": "x"}]},
     "never reads passwords"),
])
def test_bad_documents_name_the_problem(doc, says: str) -> None:
    with pytest.raises(InventoryError) as info:
        Inventory.from_document(doc)
    assert says in str(info.value)


# -- IPv6 zones (issue 10, item 5) ----------------------------------------------------------

@pytest.mark.parametrize("zone", ["eth0", "12", "enp0s31f6", "br-lan.10", "wl_0"])
def test_a_sane_ipv6_zone_is_kept_and_makes_a_target(zone: str) -> None:
    from hvconsole.remote.probe import target_for

    host = Host(name="HV01", address=f"fe80::1%{zone}", username="CORP\\a")
    assert host.address == f"fe80::1%{zone}"
    target = target_for(host, "not-a-real-password")
    assert target.url == f"http://[fe80::1%{zone}]:5985/wsman"


@pytest.mark.parametrize("zone", ["", "eth0\r\nX-Evil: 1", "\x1b[2J", "eth\u202e0", "]@evil.example", "a" * 65,
                                  "eth 0", "eth0%25", "eth0]:80"])
def test_a_hostile_ipv6_zone_is_refused_as_a_validation_error(zone: str) -> None:
    with pytest.raises(HostValidationError) as info:
        Host(name="HV01", address=f"fe80::1%{zone}", username="CORP\\a")
    assert info.value.field == "address" and "zone" in info.value.problem
    assert zone.strip() == "" or zone.strip() not in str(info.value)   # never echoed back raw
