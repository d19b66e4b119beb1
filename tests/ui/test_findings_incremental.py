"""The findings table changes line by line: a finding that appears, changes, ends or is
acknowledged inserts, moves or repaints its own line (no reset), the selection stays on
its finding, the columns are as wide as ``resizeColumnToContents`` makes them, and what the
view painted incrementally is what a full repaint draws."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import timedelta

import pytest
from PySide6.QtCore import QCoreApplication
from PySide6.QtGui import QImage
from ui_support import T0, StubFinding

from hvconsole.ui.findings.findings_model import COL_EVIDENCE, COL_STATUS, COLUMNS, FindingsModel, finding_key
from hvconsole.ui.findings.findings_panel import FindingsPanel
from hvconsole.ui.table_base import _longest_ascending, runs

pytestmark = pytest.mark.usefixtures("qapp")


def finding(i: int, severity: str = "critical", active: bool = True, evidence: str = "", seen: int = 0):
    at = T0 + timedelta(minutes=i)
    return StubFinding(f"HV{i % 3:02d}", f"id-{i}", f"VM-{i:03d}", "heartbeat-lost" if i % 2 else "cpu-stuck",
                       severity, at, at + timedelta(minutes=seen), active,
                       (evidence or f"heartbeat lost for {'long ' * (i % 4)}{i} s",))


def watch(model: FindingsModel) -> list[str]:
    said: list[str] = []
    model.modelReset.connect(lambda: said.append("reset"))
    model.layoutChanged.connect(lambda *_: said.append("layout"))
    model.rowsInserted.connect(lambda _p, a, b: said.append(f"insert {a}-{b}"))
    model.rowsRemoved.connect(lambda _p, a, b: said.append(f"remove {a}-{b}"))
    model.rowsMoved.connect(lambda _p, a, b, _d, to: said.append(f"move {a}-{b} to {to}"))
    model.dataChanged.connect(lambda a, b, *_: said.append(f"cells {a.row()},{a.column()}-{b.row()},{b.column()}"))
    return said


def test_lines_are_inserted_moved_and_removed_never_reset(qtmodeltester):
    """Random reports (new, changed, ended, acknowledged; few ended kept): after each
    the lines are what the reports say, in order, and the model never resets."""
    model = FindingsModel(keep_ended=6)
    qtmodeltester.check(model)
    said = watch(model)
    rng = random.Random(12)
    latest: dict = {}
    acknowledged: set = set()
    for _ in range(60):
        batch = []
        for _ in range(rng.randint(1, 4)):
            i = rng.randrange(20)
            old = latest.get(i)
            if old is None or not old.active:
                f = finding(i, rng.choice(("critical", "warning")), evidence=f"e{rng.random()}")
            else:
                f = replace(old, evidence=(f"e{rng.random()}",), last_seen=old.last_seen + timedelta(seconds=5),
                            active=rng.random() > 0.4)
            latest[i] = f
            batch.append(f)
        model.apply(batch)
        if rng.random() < 0.3 and model.rowCount():
            key = model.line(rng.randrange(model.rowCount())).key
            model.acknowledge([key])
            acknowledged.add(key)
        lines = model.lines()
        assert [line.order for line in lines] == sorted(line.order for line in lines)
        assert len({line.key for line in lines}) == len(lines)
        assert sum(1 for line in lines if not line.finding.active) <= 6
        by_key = {finding_key(f): f for f in latest.values()}
        for line in lines:
            assert by_key.get(line.key, line.finding) is line.finding or line.key not in by_key
        assert all(line.acknowledged == (line.key in acknowledged) for line in lines
                   if line.key in acknowledged or line.acknowledged)
    assert "reset" not in said and "layout" not in said
    assert any(s.startswith("move") for s in said)


def test_a_changed_evidence_repaints_only_that_cell():
    model = FindingsModel()
    model.apply([finding(i) for i in range(5)])
    said = watch(model)
    row = next(r for r in range(5) if model.line(r).finding.vm_name == "VM-002")
    model.apply([finding(2, evidence="a new reading")])
    assert said == [f"cells {row},{COL_EVIDENCE}-{row},{COL_EVIDENCE}"]
    assert model.index(row, COL_EVIDENCE).data() == "a new reading"


def test_an_ended_finding_moves_down_and_keeps_its_selection(qtbot):
    model = FindingsModel()
    panel = FindingsPanel(model)
    qtbot.addWidget(panel)
    model.apply([finding(i) for i in range(6)])
    top = model.line(0).finding            # the newest critical
    panel.view.selectRow(0)
    said = watch(model)
    model.apply([replace(top, active=False)])
    assert said[0] == "move 0-0 to 6" and model.line(5).key == finding_key(top)
    assert model.index(5, COL_STATUS).data() == "Ended"
    assert [i.row() for i in panel.view.selectionModel().selectedRows()] == [5]
    assert not panel.recover_button.isEnabled()     # ended: nothing left to recover


def test_a_new_finding_is_inserted_at_its_place_and_the_selection_stays(qtbot):
    model = FindingsModel()
    panel = FindingsPanel(model)
    qtbot.addWidget(panel)
    model.apply([finding(i) for i in (1, 3, 5)])
    panel.view.selectRow(1)                # VM-003
    said = watch(model)
    model.apply([finding(4), finding(9, "warning")])
    assert said == ["insert 1-1", "insert 4-4"]
    assert [model.line(r).finding.vm_name for r in range(5)] == ["VM-005", "VM-004", "VM-003", "VM-001", "VM-009"]
    assert [i.row() for i in panel.view.selectionModel().selectedRows()] == [2]


def test_columns_are_as_wide_as_resize_to_contents_makes_them(qtbot):
    model = FindingsModel()
    panel = FindingsPanel(model)
    qtbot.addWidget(panel)
    panel.resize(1200, 300)
    panel.show()
    qtbot.waitExposed(panel)
    header = panel.view.horizontalHeader()

    def fitted_by_qt() -> list[int]:
        widths = []
        for col in range(len(COLUMNS)):
            if col != COL_EVIDENCE:
                panel.view.resizeColumnToContents(col)
            widths.append(header.sectionSize(col))
        return widths

    steps = [
        lambda: model.apply([finding(i) for i in range(4)]),
        lambda: model.apply([finding(12, "warning"), finding(2, evidence="x")]),
        lambda: model.acknowledge([model.line(0).key]),
        lambda: model.apply([replace(finding(12, "warning"), active=False)]),
        lambda: model.apply([StubFinding("A-MUCH-LONGER-HOST-NAME", None, None, "host-wide-failure", "critical",
                                         T0, T0, True, ())]),
        lambda: model.apply([StubFinding("A-MUCH-LONGER-HOST-NAME", None, None, "host-wide-failure", "critical",
                                         T0, T0, False, ())]),
    ]
    for step in steps:
        step()
        mine = [header.sectionSize(col) for col in range(len(COLUMNS))]
        assert mine == fitted_by_qt()


def grab(panel: FindingsPanel) -> QImage:
    return panel.screen().grabWindow(panel.winId()).toImage().convertToFormat(QImage.Format.Format_RGB32)


def test_the_incremental_picture_is_a_full_repaint(qtbot):
    model = FindingsModel()
    panel = FindingsPanel(model)
    qtbot.addWidget(panel)
    panel.resize(1100, 260)
    panel.show()
    qtbot.waitExposed(panel)
    model.apply([finding(i, "critical" if i % 3 else "warning") for i in range(8)])
    panel.view.selectRow(2)
    QCoreApplication.processEvents()
    for step in (lambda: model.apply([finding(3, evidence="changed"), finding(20)]),
                 lambda: model.apply([replace(finding(5), active=False)]),
                 lambda: model.acknowledge([model.line(4).key]),
                 lambda: model.apply([finding(3, evidence="changed again")]),     # no width changes
                 lambda: model.acknowledge([model.line(6).key]),
                 lambda: model.refresh_seen([finding(i, "critical" if i % 3 else "warning", seen=3) for i in (1, 6)])):
        step()
        for _ in range(2):   # a move lays the view out on a zero timer, then repaints
            QCoreApplication.sendPostedEvents()
            QCoreApplication.processEvents()
        incremental = grab(panel)
        panel.view.viewport().repaint()
        assert grab(panel) == incremental


@pytest.mark.parametrize("values", [[], [3], [1, 2, 3], [3, 2, 1], [2, 5, 1, 3, 4, 0], [4, 0, 1, 2, 3]])
def test_longest_ascending_run(values):
    run = _longest_ascending(values)
    assert run == sorted(run) and len(set(run)) == len(run)
    positions = [values.index(v) for v in run]
    assert positions == sorted(positions)
    best = max((len(_brute(values[i:])) for i in range(len(values))), default=0)
    assert len(run) == best


def _brute(values: list[int]) -> list[int]:
    if not values:
        return []
    first, rest = values[0], values[1:]
    with_first = [first, *_brute([v for v in rest if v > first])]
    without = _brute(rest)
    return with_first if len(with_first) >= len(without) else without


def test_runs():
    assert runs([]) == [] and runs([1, 2, 3, 7, 9, 10]) == [(1, 3), (7, 7), (9, 10)]
