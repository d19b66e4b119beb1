"""End to end: the shipped audit.ps1 sent by the real client (remote.audit over
remote.session) over WS-Management to a served simulated site, recognised by the host
agent by its exact body and answered by the simulated host; then judged. Also the deadline,
the cancel token and a host that answers garbage."""

from __future__ import annotations

import threading
import time
from typing import Iterator

import pytest

pytest.importorskip("hvconsole.sim.wsman")

from hvconsole.core.health import HealthThresholds  # noqa: E402
from hvconsole.remote.audit import Auditor, audit_host  # noqa: E402
from hvconsole.remote.target import CancelToken, Target  # noqa: E402
from hvconsole.sim.model.clock import SimClock  # noqa: E402
from hvconsole.sim.scenarios.audit import MISCONFIGURATIONS, build_well_set_site  # noqa: E402
from hvconsole.sim.serve import ServedHost, ServedSite, serve_site  # noqa: E402


def target(h: ServedHost) -> Target:
    return Target(name=h.name, url=h.url, username=h.user, password=h.password, transport="plaintext")


@pytest.fixture
def served() -> Iterator[ServedSite]:
    site = build_well_set_site(SimClock())
    MISCONFIGURATIONS["checkpoint-old"].apply(site)
    MISCONFIGURATIONS["vm-not-clustered"].apply(site)
    with serve_site(site, latency_scale=0.0) as s:
        yield s


def by_name(served: ServedSite, name: str) -> ServedHost:
    return next(h for h in served.hosts if h.name == name)


def test_audit_over_wsman_finds_the_misconfigurations(served):
    good = audit_host(target(by_name(served, "GOOD01")), HealthThresholds(), timeout_s=60)
    assert good.reachable, good.error_message
    assert [p.rule for p in good.problems] == ["checkpoint-old"]
    assert good.problems[0].vm_name == "OK-SQL01"
    node = audit_host(target(by_name(served, "GOODN2")), HealthThresholds(), timeout_s=60)
    assert [(p.rule, p.vm_name) for p in node.problems] == [("vm-not-clustered", "OK-WEB02")]
    assert node.facts is not None and node.facts.cluster_name == "GOODCL"


def test_the_audit_shell_carries_only_the_audit_script(served):
    auditor = Auditor(target(by_name(served, "GOOD01")), timeout_s=60)
    try:
        assert auditor.session.scripts == ("audit",)
        assert auditor.read().facts is not None
    finally:
        auditor.close()


def test_a_hung_host_is_an_error_within_the_deadline(served):
    host = by_name(served, "GOOD01")
    host.sim.hang()
    served.sync()
    started = time.monotonic()
    audit = Auditor(target(host), timeout_s=3.0).read()
    elapsed = time.monotonic() - started
    assert not audit.reachable and audit.error_kind == "timeout", audit
    assert elapsed < 30.0            # generous: a loaded 2-core machine


def test_cancel_stops_a_running_audit(served):
    host = by_name(served, "GOOD01")
    host.sim.hang()
    served.sync()
    cancel = CancelToken()
    threading.Timer(0.5, cancel.cancel).start()
    started = time.monotonic()
    audit = Auditor(target(host), timeout_s=120.0).read(cancel)
    assert not audit.reachable and audit.cancelled, audit
    assert time.monotonic() - started < 60.0


def test_a_wedged_vmms_still_answers_the_host_part(served):
    host = by_name(served, "GOOD01")
    host.sim.vmms_wedged = True
    audit = audit_host(target(host), HealthThresholds(), timeout_s=8.0)
    assert audit.reachable, audit.error_message
    assert audit.facts is not None and not audit.facts.vm_query_ok
    assert audit.judgement is not None and any("VM query failed" in s for s in audit.judgement.skipped)
