"""Offers made after ticks were applied (the page made after the first answers): the
offers show at once, without waiting for the next tick or for the wizard to be set."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from tests.ui.test_tick_walks_random import line, result

pytestmark = pytest.mark.usefixtures("qapp")


def test_offers_made_after_a_freeze_was_applied_show_it_at_once(qtbot):
    from hvconsole.core.detector.findings import Finding
    from hvconsole.monitoring.host_compliance import FreezeFix, HostCompliance
    from hvconsole.ui.findings.fix_banner import FixOffers
    from hvconsole.ui.monitor.monitor import Monitor

    monitor = Monitor.waiting([("HV01", "hv01")])
    fix = FreezeFix("KB9990001", "Fix: VMs stop responding", "VMs freeze")
    row = replace(line("HV01", True, 1),
                  compliance=HostCompliance("needs-update", "needs update", needs=(), freeze_fixes=(fix,)))
    at = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
    r = result(row)
    r.changed_findings = (Finding("HV01", "vm-1", "VM1", "heartbeat-lost", "warning", at, at, True,
                                  ("heartbeat lost",)),)
    monitor.apply_batch([r])
    shown = []
    offers = FixOffers(monitor, shown.append, None)     # made after the tick, no wizard yet
    try:
        assert list(offers.banners) == ["KB9990001"]
        assert shown == [offers.banners["KB9990001"]]
    finally:
        offers.close()
        monitor.shutdown(0.5)
