"""VmDetailDialog: header, plots, events and findings of one VM from the site's data;
host text is shown literally; updates, vanished VMs and unreachable hosts."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import timedelta

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel
from test_host_graphs_synthetic import (
    FROZEN_VM,
    HOSTILE_NAME,
    INTERVAL_S,
    START,
    TICKS,
    events,
    findings,
    synthetic_site,
    vm_ids,
)

from hvconsole.core.detector import Finding
from hvconsole.core.history import SiteHistory
from hvconsole.core.snapshot import HostResources, Snapshot, VmSample, unreachable
from hvconsole.monitoring.formatting import format_clock
from hvconsole.ui.hosts.host_graphs import local_hms
from hvconsole.ui.vm.vm_detail import VmDetailDialog

HOSTILE_VM = vm_ids()[0]


@pytest.fixture(scope="module")
def site() -> SiteHistory:
    return synthetic_site()


@pytest.fixture
def open_dialog(qtbot):
    def make(vm_id, host, site, evs=(), fnds=(), **kw):
        d = VmDetailDialog(vm_id, host, site, list(evs), list(fnds), **kw)
        qtbot.addWidget(d)
        return d
    return make


def texts(view) -> list[list[str]]:
    return [[view.topLevelItem(i).text(c) for c in range(view.columnCount())]
            for i in range(view.topLevelItemCount())]


def test_header_shows_the_vm_as_the_host_reported_it(open_dialog, site):
    d = open_dialog(FROZEN_VM, "HV01", site, events(), findings())
    v = {k: label.text() for k, label in d.values.items()}
    assert d.name_label.text() == "VM02"
    assert v["host"] == "HV01" and v["state"] == "Running"
    assert v["heartbeat"] == "LostCommunication"
    assert "font-weight: bold" in d.values["heartbeat"].styleSheet()  # flagged in red
    assert v["vcpus"] == "4" and v["generation"] == "2" and v["health"] == "Ok"
    assert v["memory"].startswith("8.0 / ") and v["memory"].endswith(", dynamic")
    assert v["start_action"] == "StartIfRunning" and v["stop_action"] == "Save"
    assert v["uptime"] == "1 d 0 h"
    assert v["last_backup"] == format_clock(START - timedelta(hours=11))
    assert v["operational"] == "Ok"
    assert d.notice.isHidden()


def test_host_provided_text_is_never_rich_text(open_dialog, site):
    d = open_dialog(HOSTILE_VM, "HV01", site, events(), findings())
    assert d.name_label.text() == HOSTILE_NAME
    assert HOSTILE_NAME in d.windowTitle()
    for label in [d.name_label, d.notice, *d.values.values()]:
        assert label.textFormat() == Qt.TextFormat.PlainText
    # The captions are ours; everything else that shows host data is plain text.
    shown = [w for w in d.findChildren(QLabel) if w.text() == HOSTILE_NAME]
    assert shown and all(w.textFormat() == Qt.TextFormat.PlainText for w in shown)


def test_events_are_only_this_vms_newest_first_and_literal(open_dialog, site):
    d = open_dialog(FROZEN_VM, "HV01", site, events(), findings())
    rows = texts(d.events_view)
    assert len(rows) == 1
    assert rows[0][1:4] == ["Error", "18590", "Microsoft-Windows-Hyper-V-Worker-Admin"]
    assert rows[0][4] == "'<i>guest</i>' reported a fatal error & stopped"
    assert d.tabs.tabText(1) == "Events (1)"
    tip = d.events_view.topLevelItem(0).toolTip(4)
    assert tip.startswith("Event 18590 (Error)\n")  # fixed first line: Qt shows it as plain


def test_findings_of_the_vm_and_its_host_with_evidence(open_dialog, site):
    d = open_dialog(FROZEN_VM, "HV01", site, events(), findings())
    rows = texts(d.findings_view)
    # Its own critical finding first, then the host-level one; another VM's is not shown.
    # In words (a kind the window does not know is spelled out from its hyphens).
    assert [r[:2] for r in rows] == [["critical", "Heartbeat lost"],
                                     ["warning", "Vmms slow (host HV01)"]]
    assert all(r[4] == "active" for r in rows)
    top = d.findings_view.topLevelItem(0)
    evidence = [top.child(i).text(1) for i in range(top.childCount())]
    assert evidence == list(findings()[0].evidence)
    assert evidence[1].endswith("<script>")
    assert top.isExpanded()
    assert d.tabs.tabText(0) == "Findings (2)"


def test_real_detector_findings_are_accepted(open_dialog, site):
    at = START + timedelta(minutes=50)
    f = Finding(host="HV01", vm_id=FROZEN_VM.upper(), vm_name="VM02", kind="heartbeat-lost",
                severity="critical", first_seen=at, last_seen=at, active=False,
                evidence=("heartbeat LostCommunication for 3 polls",))
    d = open_dialog(FROZEN_VM, "HV01", site, (), [f])
    rows = texts(d.findings_view)
    assert rows == [["critical", "Heartbeat lost", format_clock(at), format_clock(at), "ended"]]
    assert not d.findings_view.topLevelItem(0).isExpanded()


def test_plots_cover_the_window_and_toggle(open_dialog, site, qtbot):
    d = open_dialog(FROZEN_VM, "HV01", site)
    x, y = d.cpu_curve.getData()
    assert len(x) == TICKS
    assert y[-1] == 0.0  # the frozen VM sits at 0 %
    assert math.isnan(y[97])  # a poll without a CPU value is a gap, not 0
    qtbot.mouseClick(d.toggle.buttons[300], Qt.MouseButton.LeftButton)
    assert d.window_s == 300
    assert len(d.cpu_curve.getData()[0]) == 300 // INTERVAL_S + 1
    _, assigned = d.mem_assigned.getData()
    assert assigned[-1] == pytest.approx(8.0)  # GB
    assert "assigned</span>&nbsp;8.0 GB" in d.mem_plot.titleLabel.text


def _small_site() -> SiteHistory:
    site = SiteHistory()
    for k in range(3):
        site.add(Snapshot(host="HV01", polled_at=START + timedelta(seconds=5 * k), reachable=True,
                          resources=HostResources(),
                          vms=(VmSample(id="a", name="app", state="Running", cpu_pct=10.0 + k,
                                        heartbeat="OkApplicationsHealthy"),)))
    return site


def test_update_from_shows_new_state_and_findings(open_dialog):
    site = _small_site()
    d = open_dialog("A", "HV01", site, (), findings())
    assert d.tabs.tabText(0) == "Findings (1)"  # the host-level one
    assert d.tabs.tabText(2) == "State changes (1)"
    site.add(Snapshot(host="HV01", polled_at=START + timedelta(seconds=15), reachable=True,
                      vms=(VmSample(id="a", name="app", state="Off"),)))
    d.update_from(site, [], [])
    assert d.values["state"].text() == "Off" and d.values["heartbeat"].text() == "—"
    assert d.values["vcpus"].text() == "—"  # unknown, not 0
    assert d.tabs.tabText(0) == "Findings (0)" and d.findings_view.topLevelItemCount() == 0
    assert texts(d.changes_view)[0][1:] == ["Off", "—"]
    assert d.tabs.tabText(2) == "State changes (2)"


def test_vanished_vm_says_so(open_dialog):
    site = _small_site()
    d = open_dialog("a", "HV01", site)
    gone_at = START + timedelta(seconds=20)
    site.add(Snapshot(host="HV01", polled_at=gone_at, reachable=True))
    d.update_from(site, [], [])
    assert not d.notice.isHidden()
    assert d.notice.text().startswith(f"HV01 no longer reports this VM (since {local_hms(gone_at)})")


def test_unreachable_host_says_since_when_and_how_old_the_values_are(open_dialog):
    site = _small_site()
    down_at = START + timedelta(seconds=15)
    site.add(unreachable("HV01", down_at, "refused", "connection refused"))
    d = open_dialog("a", "HV01", site)
    assert d.notice.text() == (f"Host HV01 unreachable since {local_hms(down_at)}; "
                               f"values below are from {local_hms(START + timedelta(seconds=10))}.")
    x, y = d.cpu_curve.getData()
    assert math.isnan(y[-1])  # the outage is a gap on the VM's plot too
    assert d.cpu_plot.viewRange()[0][1] == pytest.approx(down_at.timestamp())


def test_unknown_vm_opens_with_a_message_and_empty_plots(open_dialog, site):
    d = open_dialog("no-such-vm", "HV09", site, events(), findings())
    assert d.name_label.text() == "no-such-vm"
    assert d.values["host"].text() == "HV09"
    assert d.notice.text().startswith("No data for this VM")
    assert all(c.getData()[0] is None or len(c.getData()[0]) == 0 for c in d.curves)
    assert d.events_view.topLevelItemCount() == 0


def test_unchanged_findings_keep_the_admins_view(open_dialog, site):
    fnds = findings()
    d = open_dialog(FROZEN_VM, "HV01", site, events(), fnds)
    d.findings_view.topLevelItem(0).setExpanded(False)
    d.update_from(site, events(), fnds)
    assert not d.findings_view.topLevelItem(0).isExpanded()
    changed = [replace(fnds[0], evidence=[*fnds[0].evidence, "one more fact"]), *fnds[1:]]
    d.update_from(site, events(), changed)
    top = d.findings_view.topLevelItem(0)
    assert top.childCount() == 3 and top.isExpanded()


def test_dialog_shows_and_updates_without_qt_warnings(open_dialog, site, qtbot):
    """Shown, as the main window opens it; qt_log_level_fail turns any Qt warning (e.g.
    size-hint churn on every update) into a failure."""
    d = open_dialog(FROZEN_VM, "HV01", site, events(), findings())
    d.resize(760, 720)
    d.show()
    qtbot.waitExposed(d)
    d.update_from(site, events(), findings()[:1])
    d.set_window(300)
    image = d.grab().toImage()
    assert (image.width(), image.height()) == (760, 720)
    assert d.findings_view.topLevelItemCount() == 1


def test_opens_on_the_range_it_is_given_and_long_uptimes_read_as_days(open_dialog, site):
    # The main window passes its graphs' range (5 min), so both show the same stretch.
    d = open_dialog(FROZEN_VM, "HV01", site, (), [], window_s=300)
    assert d.window_s == 300 and d.toggle.buttons[300].isChecked()
    assert len(d.cpu_curve.getData()[0]) == 300 // INTERVAL_S + 1
    at = START + timedelta(minutes=50)
    f = Finding(host="HV01", vm_id=FROZEN_VM, vm_name="VM02", kind="heartbeat-lost-cpu-pegged",
                severity="critical", first_seen=at, last_seen=at, active=True,
                evidence=("uptime 1603607 s and advancing: the VM runs, the guest does not answer",
                          "heartbeat lost for 45 s"))
    d.update_from(site, (), [f])
    top = d.findings_view.topLevelItem(0)
    assert top.text(1) == "Heartbeat lost, CPU pegged (guest spinning)"
    assert [top.child(i).text(1) for i in range(top.childCount())] == [
        "uptime 18 d 13 h and advancing: the VM runs, the guest does not answer",
        "heartbeat lost for 45 s"]           # short counts stay exact
    assert "heartbeat-lost-cpu-pegged" in top.toolTip(1)   # the machine name, for a search
