"""Findings, events and host-list models; the notifier's text; formatting helpers."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from PySide6.QtCore import QModelRoleData, QModelRoleDataSpan, Qt
from PySide6.QtGui import QIcon
from PySide6.QtGui import Qt as GuiQt
from ui_support import T0, StubFinding

from hvconsole.core.snapshot import HostEvent
from hvconsole.monitoring import formatting
from hvconsole.monitoring.rows import HostRow
from hvconsole.ui.findings.events_model import LEVEL_CHOICES, EventsFilterProxy, EventsModel
from hvconsole.ui.findings.findings_model import COL_LAST, COL_STATUS, FindingsModel, finding_key
from hvconsole.ui.findings.notify import notification_text
from hvconsole.ui.hosts.host_model import COL_BUILD, COL_FINDINGS, HostListModel, alert_text
from hvconsole.ui.hosts.host_model import COL_STATUS as HOST_STATUS

pytestmark = pytest.mark.usefixtures("qapp")


def finding(vm="VM1", severity="critical", minutes=0, active=True, kind="heartbeat-lost", host="HV01"):
    at = T0 + timedelta(minutes=minutes)
    return StubFinding(host, None if vm is None else f"id-{vm}", vm, kind, severity, at, at, active,
                       (f"{kind} evidence for {vm}",))


# -- findings ---------------------------------------------------------------------------

def test_findings_order_active_critical_newest_first(qtmodeltester):
    model = FindingsModel()
    qtmodeltester.check(model)
    model.apply([finding("old-crit", minutes=1), finding("warn", "warning", minutes=5),
                 finding("new-crit", minutes=3), finding("ended", minutes=9, active=False)])
    names = [model.line(r).finding.vm_name for r in range(model.rowCount())]
    assert names == ["new-crit", "old-crit", "warn", "ended"]


def test_a_changed_finding_replaces_its_line_and_keeps_its_acknowledgement():
    model = FindingsModel()
    f = finding("VM1")
    model.apply([f])
    assert model.acknowledge([finding_key(f)]) == 1
    ended = StubFinding(f.host, f.vm_id, f.vm_name, f.kind, f.severity, f.first_seen,
                        f.first_seen + timedelta(minutes=2), False, f.evidence)
    model.apply([ended])
    assert model.rowCount() == 1
    line = model.line(0)
    assert not line.finding.active and line.acknowledged
    assert model.index(0, COL_STATUS).data() == "Ended, acknowledged"


def test_a_moved_last_seen_repaints_only_its_lines_last_seen_cells():
    model = FindingsModel()
    found = [finding(f"VM{i}", minutes=i) for i in range(5)]
    model.apply(found)
    shown = [model.index(r, COL_LAST).data() for r in range(model.rowCount())]
    announced: list[tuple[int, int, int, int]] = []
    model.dataChanged.connect(lambda a, b, *_: announced.append((a.row(), a.column(), b.row(), b.column())))
    later = [replace(f, last_seen=f.last_seen + timedelta(hours=1)) for f in found]
    assert model.refresh_seen([later[0], later[1], later[4]]) == 3
    rows = {model.line(r).finding.vm_name: r for r in range(model.rowCount())}
    moved = sorted(rows[n] for n in ("VM0", "VM1", "VM4"))
    assert announced == [(moved[0], COL_LAST, moved[0], COL_LAST), (moved[1], COL_LAST, moved[2], COL_LAST)]
    after = [model.index(r, COL_LAST).data() for r in range(model.rowCount())]
    changed = {r for r in range(model.rowCount()) if after[r] != shown[r]}
    assert changed == set(moved)      # the new figures are shown, the others kept


def test_new_critical_is_announced_once():
    model = FindingsModel()
    announced = []
    model.new_critical.connect(announced.append)
    f = finding("VM1")
    model.apply([f, finding("VM2", "warning")])
    model.apply([f])  # reported again (changed evidence): not new
    assert [[x.vm_name for x in batch] for batch in announced] == [["VM1"]]
    assert [x.vm_name for x in model.unacknowledged_critical()] == ["VM1"]


def test_ended_findings_are_bounded():
    model = FindingsModel(keep_ended=3)
    model.apply([finding(f"VM{i}", minutes=i, active=False) for i in range(6)] + [finding("live")])
    assert model.rowCount() == 4
    kept = {model.line(r).finding.vm_name for r in range(model.rowCount())}
    assert kept == {"live", "VM3", "VM4", "VM5"}  # the most recent ended ones


def test_finding_tooltip_is_plain_text_with_all_evidence():
    model = FindingsModel()
    f = StubFinding("HV01", "id", "<i>vm</i>", "heartbeat-lost", "critical", T0, T0, True,
                    ("first <b>line</b>", "second & third"))
    model.apply([f])
    tip = model.index(0, 0).data(Qt.ItemDataRole.ToolTipRole)
    assert "first <b>line</b>" in tip and "second & third" in tip and "<i>vm</i>" in tip
    assert not GuiQt.mightBeRichText(tip)


# -- events -----------------------------------------------------------------------------

def event(seconds, level="Error", event_id=18590, vm_id=None, message="guest reported a fatal error"):
    return HostEvent(time=T0 + timedelta(seconds=seconds), log="Microsoft-Windows-Hyper-V-Worker-Admin",
                     id=event_id, level=level, provider="Microsoft-Windows-Hyper-V-Worker",
                     vm_id=vm_id, message=message)


def test_events_newest_first_deduplicated_and_bounded(qtmodeltester):
    model = EventsModel(limit=5)
    qtmodeltester.check(model)
    assert model.add("HV01", [event(1), event(2)]) == 2
    assert model.add("HV01", [event(2), event(3)]) == 1  # the boundary event came twice
    assert model.add("HV02", [event(0.5)]) == 1          # older than the newest: re-sorted
    times = [model.line(r).event.time for r in range(model.rowCount())]
    assert times == sorted(times, reverse=True)
    model.add("HV01", [event(10 + i) for i in range(4)])
    assert model.rowCount() == 5
    assert model.line(0).event.time == T0 + timedelta(seconds=13)


def test_events_filter_by_level_host_and_vm():
    model = EventsModel()
    model.add("HV01", [event(1, "Critical", vm_id="a1"), event(2, "Warning"), event(3, "Information", 7036)],
              vm_name=lambda vm_id: {"a1": "SQL-PROD-02"}.get(vm_id))
    model.add("HV02", [event(4, "Error", vm_id="b2")])
    proxy = EventsFilterProxy(model)
    assert proxy.rowCount() == 4
    proxy.set_criteria(levels=LEVEL_CHOICES["Critical and errors"])
    assert proxy.rowCount() == 2
    proxy.set_criteria(host="HV01")
    assert proxy.rowCount() == 1
    proxy.set_criteria(levels=frozenset(), host="", vm="sql-prod")
    assert proxy.rowCount() == 1 and proxy.index(0, 3).data() == "SQL-PROD-02"


# -- hosts ------------------------------------------------------------------------------

def test_host_list_marks_unreachable_hosts_with_kind_and_message(qtmodeltester):
    model = HostListModel([("HV01", "hv01"), ("HV02", "hv02")])
    qtmodeltester.check(model)
    assert model.index(0, HOST_STATUS).data() == "Connecting…"
    model.apply([HostRow(name="HV01", address="hv01", reachable=True, os_build=20348, os_ubr=3692, critical=1),
                 HostRow(name="HV02", address="hv02", reachable=False, error_kind="refused",
                         error_message="connection refused by 10.0.0.2:5985", unreachable_since=T0)])
    assert model.index(0, HOST_STATUS).data() == "OK"
    assert model.index(0, COL_BUILD).data() == "20348.3692"
    assert model.index(0, COL_FINDINGS).data() == "1 crit"
    assert model.index(1, HOST_STATUS).data() == "Refused"
    assert "connection refused by 10.0.0.2:5985" in model.index(1, 0).data(Qt.ItemDataRole.ToolTipRole)
    assert model.index(1, HOST_STATUS).data(Qt.ItemDataRole.FontRole).bold()
    alert = alert_text(model.row_for("HV02"))
    assert alert.startswith("HV02 unreachable since") and "refused: connection refused" in alert
    assert alert_text(model.row_for("HV01")) is None


# -- notifications and formatting -------------------------------------------------------

def test_notification_text_for_one_and_many():
    title, body = notification_text([finding("SQL-PROD-02")])
    assert title == "Critical: possible frozen VM"
    # the detector's machine name in words (issue 10 #15)
    assert body.startswith("VM SQL-PROD-02 on HV01: Heartbeat lost\n")
    title, body = notification_text([finding(f"VM{i}") for i in range(7)])
    assert title == "7 new critical findings" and "… and 2 more" in body
    title, _ = notification_text([finding(None, kind="host-unreachable")])
    assert title == "Critical: host problem"


@pytest.mark.parametrize("mb,text", [(None, "—"), (512, "512 MB"), (4096, "4.0 GB"), (2 * 1024 * 1024, "2.00 TB")])
def test_format_mb(mb, text):
    assert formatting.format_mb(mb) == text


@pytest.mark.parametrize("seconds,text", [(None, "—"), (42, "42 s"), (600, "10 min"),
                                          (3 * 3600 + 5 * 60, "3 h 05 min"), (5 * 86400 + 7200, "5 d 2 h")])
def test_format_duration(seconds, text):
    assert formatting.format_duration(seconds) == text


def test_format_mem_pair_and_build():
    assert formatting.format_mem_pair(8192, 5120) == "8.0 / 5.0 GB"
    assert formatting.format_mem_pair(512, None) == "512 / — MB"
    assert formatting.format_os_build(20348, 3692) == "20348.3692"
    assert formatting.format_os_build(None, 5) == "—"


def test_plain_tooltip_header_cannot_turn_rich():
    tip = formatting.plain_tooltip("<b>header</b> & more", ["<html>body</html>", "x" * 250])
    assert not GuiQt.mightBeRichText(tip)
    assert "<html>body</html>" in tip
    assert max(len(line) for line in tip.splitlines()) <= formatting.TOOLTIP_WIDTH + 4


# -- what a repaint reads ---------------------------------------------------------------

def _multi(model, index, roles):
    """What ``multiData`` answers for each of ``roles`` (a view's delegate asks for seven
    at once; Python builds spans of one)."""
    answers = []
    for role in roles:
        item = QModelRoleData(role)
        model.multiData(index, QModelRoleDataSpan(item))
        answers.append(_comparable(item.data()))
    return answers


def _comparable(value):
    return ("icon", value.cacheKey()) if isinstance(value, QIcon) else value


PAINT_ROLES = [int(role) for role in (
    Qt.ItemDataRole.FontRole, Qt.ItemDataRole.TextAlignmentRole, Qt.ItemDataRole.ForegroundRole,
    Qt.ItemDataRole.CheckStateRole, Qt.ItemDataRole.DecorationRole, Qt.ItemDataRole.DisplayRole,
    Qt.ItemDataRole.BackgroundRole, Qt.ItemDataRole.ToolTipRole, int(Qt.ItemDataRole.UserRole) + 1)]


def test_every_table_answers_a_cells_roles_at_once_as_one_by_one():
    """A cell's paint asks for its roles in one multiData call; the answers are data()'s,
    and the flags are Qt's own for a table (enabled, selectable, no children)."""
    hosts = HostListModel([("HV01", "hv01"), ("HV02", "hv02"), ("HV03", "hv03")])
    hosts.apply([HostRow(name="HV01", address="hv01", reachable=True, os_build=20348, os_ubr=3692, critical=1),
                 HostRow(name="HV02", address="hv02", reachable=False, error_kind="refused",
                         error_message="connection refused", unreachable_since=T0)])
    findings = FindingsModel()
    findings.apply([finding("VM1"), finding("VM2", "warning", minutes=2), finding("VM3", active=False)])
    findings.acknowledge([finding_key(finding("VM1"))])
    events = EventsModel()
    events.add("HV01", [event(1, "Critical", vm_id="a1"), event(2, "Warning")],
               vm_name=lambda vm_id: {"a1": "SQL-PROD-02"}.get(vm_id))
    expected_flags = (Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
                      | Qt.ItemFlag.ItemNeverHasChildren)
    for model in (hosts, findings, events):
        for row in range(model.rowCount()):
            for col in range(model.columnCount()):
                index = model.index(row, col)
                assert _multi(model, index, PAINT_ROLES) == [_comparable(index.data(role)) for role in PAINT_ROLES]
                assert model.flags(index) == expected_flags
        assert model.flags(model.index(-1, 0)) == Qt.ItemFlag.NoItemFlags
