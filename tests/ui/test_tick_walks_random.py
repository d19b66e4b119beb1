"""The window's status text and the host alerts, kept from each tick's own hosts, against
a look at every line after random runs of ticks, last known lines and sites replaced:
hosts that stop answering, come back, are added, or go with their site."""

from __future__ import annotations

import random
from dataclasses import replace
from types import SimpleNamespace

import pytest

from hvconsole.monitoring.rows import HostRow
from hvconsole.ui.hosts.host_model import alert_text

pytestmark = pytest.mark.usefixtures("qapp")


def line(name: str, answering: bool, n: int) -> HostRow:
    row = HostRow(name=name, address=name.lower(), reachable=True, os_build=20348, os_ubr=3692,
                  poll_ms=100.0 + n, vm_total=0, vm_running=0)
    if answering:
        return row
    return replace(row, reachable=False, error_kind="timeout", error_message=f"no answer ({n % 3})")


def result(row: HostRow) -> SimpleNamespace:
    """What Monitor.apply_batch reads of a poll's result (a host without VMs)."""
    return SimpleNamespace(host=row.name, tiles=(), host_row=row, changed_findings=(), events=(),
                           active_findings=(), snapshot=SimpleNamespace(reachable=row.reachable, vm_query=None))


def recount(monitor) -> str:
    """The status text's counts as a look at every line gives them."""
    rows = monitor.hosts.rows()
    down = sum(1 for r in rows if r.reachable is False)
    parts = [f"{len(rows)} hosts"] + ([f"{down} not answering"] if down else []) + ["0 VMs"]
    stale = monitor.last_known_hosts()
    if stale:
        parts.append(f"{len(stale)} {'host' if len(stale) == 1 else 'hosts'} still as last known")
    return " · ".join(parts)


@pytest.mark.parametrize("seed", range(6))
def test_counts_and_alerts_equal_a_full_look_after_random_runs(qtbot, seed):
    from hvconsole.ui.main_window import MainWindow
    from hvconsole.ui.monitor.monitor import Monitor

    rng = random.Random(seed)
    window = MainWindow()
    qtbot.addWidget(window)
    monitors = []

    def new_site() -> Monitor:
        names = [f"HV{i:02d}" for i in rng.sample(range(12), rng.randint(1, 7))]
        if window.monitor is not None:
            window.detach(0.5)
        monitor = Monitor.waiting([(n, n.lower()) for n in names])
        monitors.append(monitor)
        window.attach(monitor, f"site {len(monitors)}")
        return monitor

    monitor = new_site()
    for step in range(150):
        names = monitor.host_names()
        choice = rng.random()
        if choice < 0.05:
            monitor = new_site()        # a host removed or added: the site is opened again
            continue
        if choice < 0.12:
            # Last known lines, outside a tick, for hosts with no result yet.
            shown = rng.sample(names, rng.randint(1, len(names)))
            monitor.show_last_known({n: () for n in shown},
                                     [line(n, rng.random() < 0.5, step) for n in shown])
            continue
        ticked = rng.sample(names, rng.randint(1, min(3, len(names))))
        if rng.random() < 0.05:
            ticked.append(f"NEW{step}")     # a line the list did not have
        monitor.apply_batch([result(line(n, rng.random() < 0.6, step)) for n in ticked])
        text = window.status_text.text()
        assert text.rsplit(" · updated ", 1)[0] == recount(monitor), (seed, step)
        expected = "\n".join(t for t in (alert_text(r) for r in monitor.hosts.rows()) if t)
        assert window.page.host_panel._alerts_text == expected, (seed, step)
    window.detach(0.5)


@pytest.mark.parametrize("seed", range(4))
def test_freeze_fix_offers_equal_a_full_look_after_random_ticks(qtbot, seed):
    """A tick with no banner up looks only at its own hosts' lines for a freeze fix; the
    offers then shown are the ones a look at every line and finding gives, whichever
    hosts ticked (a host with a finding that did not tick this time included)."""
    from datetime import UTC, datetime, timedelta

    from hvconsole.core.detector.findings import Finding
    from hvconsole.monitoring.host_compliance import FreezeFix, HostCompliance
    from hvconsole.ui.findings.fix_banner import FixOffers
    from hvconsole.ui.monitor.monitor import Monitor

    rng = random.Random(seed)
    names = [f"HV{i:02d}" for i in range(5)]
    monitor = Monitor.waiting([(n, n.lower()) for n in names])
    offers = FixOffers(monitor, lambda banner: None, None)
    fixes = [FreezeFix("KB9990001", "Fix: VMs stop responding", "VMs freeze"),
             FreezeFix("KB9990002", "Fix: hosts hang", "host hangs")]
    t0 = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
    open_findings: dict[str, Finding] = {}

    def shown() -> dict[str, list[str]]:
        return {kb: list(b.hosts) for kb, b in offers.banners.items()}

    for step in range(120):
        batch = []
        for host in rng.sample(names, rng.randint(1, 2)):
            needs = tuple(f for f in fixes if rng.random() < 0.4)
            row = replace(line(host, True, step),
                          compliance=HostCompliance("needs-update", "needs update", needs=(), freeze_fixes=needs))
            changed = []
            if rng.random() < 0.3:          # a freeze finding appears on this host, or ends
                old = open_findings.pop(host, None)
                if old is not None:
                    changed.append(replace(old, active=False, last_seen=t0 + timedelta(seconds=step)))
                else:
                    at = t0 + timedelta(seconds=step)
                    open_findings[host] = f = Finding(host, "vm-1", "VM1", "heartbeat-lost", "warning",
                                                      at, at, True, ("heartbeat lost",))
                    changed.append(f)
            r = result(row)
            r.changed_findings = tuple(changed)
            batch.append(r)
        monitor.apply_batch(batch)
        if offers.banners and rng.random() < 0.1:
            offers._dismiss(rng.choice(list(offers.banners)))
        before, dismissed = shown(), dict(offers._dismissed)
        offers.refresh()                    # a look at every line and finding
        assert shown() == before and offers._dismissed == dismissed, (seed, step)
    offers.close()
    monitor.shutdown(0.5)
