"""A session prepares a script call again only when its parameters change (same names in
the same order, values of the same type and equal): what is sent is always what
``loader.prepare_call`` makes of the parameters of that call."""

from __future__ import annotations

from hvconsole.remote import loader
from hvconsole.remote.session import HostSession
from hvconsole.remote.target import Target


def _session() -> HostSession:
    return HostSession(Target("h1", "http://h1:5985/wsman", "user", "x", transport="ntlm"),
                       scripts=("collect",))


def test_equal_parameters_reuse_the_prepared_call():
    s = _session()
    params = {"events_since": "2026-01-01T00:00:00Z", "max_events": 200, "vm_query_timeout_ms": 5000}
    first = s._prepared("collect", params)
    assert first == loader.prepare_call("collect", params)
    assert s._prepared("collect", dict(params)) is first


def test_any_change_prepares_again_and_matches_a_fresh_preparation():
    s = _session()
    base = {"events_since": None, "max_events": 200, "vm_query_timeout_ms": 5000}
    s._prepared("collect", base)
    variants = [
        {**base, "events_since": "2026-01-01T00:00:05Z"},   # the bookmark moved
        {**base, "max_events": True},                       # equal to 1 would be; another type
        {"max_events": 200, "events_since": None, "vm_query_timeout_ms": 5000},   # another order
        {**base, "vm_query_timeout_ms": 5000.0},            # a float: never reused
    ]
    for params in variants:
        assert s._prepared("collect", params) == loader.prepare_call("collect", params)
        assert s._prepared("collect", params) == loader.prepare_call("collect", params)


def test_a_list_parameter_is_prepared_every_time():
    s = _session()
    vms = ["a"]
    params = {"vm_ids": vms}
    first = s._prepared("collect", params)
    vms.append("b")     # changed in place: equal to itself, but not what was prepared
    again = s._prepared("collect", params)
    assert again is not first
    assert again == loader.prepare_call("collect", {"vm_ids": ["a", "b"]})
