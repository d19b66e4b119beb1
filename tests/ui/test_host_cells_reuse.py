"""A host line whose look did not change keeps its cells and gets new texts only: the
cells after every poll are the ones a line built from scratch has, and the cells
announced are exactly those that differ, whatever changed from one poll to the next."""

from __future__ import annotations

from dataclasses import replace

import pytest

from hvconsole.core import compliance as cc
from hvconsole.monitoring.host_compliance import HostCompliance
from hvconsole.monitoring.rows import HostRow
from hvconsole.ui.hosts.host_model import COLUMNS, HostHealth, HostListModel
from hvconsole.ui.table_base import DECORATION

pytestmark = pytest.mark.usefixtures("qapp")


def plain(cells: list[dict]) -> list[dict]:
    """Cells with their icons by cache key (QIcon has no value equality)."""
    return [{role: (value.cacheKey() if role == DECORATION else value) for role, value in cell.items()}
            for cell in cells]


def polls() -> list[HostRow]:
    """One host's rows as polls bring them: the poll time moving, then each of the facts
    that change the line's look (and back), texts and look changing together."""
    first = HostRow(name="HV01", address="hv01", reachable=True, os_build=20348, os_ubr=3692,
                    poll_ms=120.0, vm_total=10, vm_running=9)
    steps = [
        dict(poll_ms=121.0),
        dict(poll_ms=121.0, vm_running=8),
        dict(critical=1),
        dict(critical=0, warning=2),
        dict(warning=0, reachable=False, error_kind="timeout"),
        dict(reachable=None),
        dict(reachable=True, vm_query_ok=False),
        dict(vm_query_ok=True, patching="patching: install"),
        dict(patching=None, cert_check_off=True),
        dict(cert_check_off=False,
             compliance=HostCompliance(cc.NEEDS_UPDATE, "needs update (KB1)")),
        dict(compliance=HostCompliance(cc.COMPLIANT, "compliant")),
        dict(poll_ms=None),
        dict(os_ubr=3700, poll_ms=99.0),
    ]
    rows = [first]
    for step in steps:
        rows.append(replace(rows[-1], **step))
        rows.append(replace(rows[-1], poll_ms=(rows[-1].poll_ms or 0) + 1))  # a plain poll after it
    return rows


@pytest.mark.parametrize("health", [None, HostHealth("2", "two problems", "warning")])
def test_cells_after_each_poll_are_built_ones(health):
    rows = polls()
    model = HostListModel([("HV01", "hv01"), ("HV02", "hv02")])
    if health is not None:
        model.set_health("HV01", health)
    announced: list[tuple[int, int, int, int]] = []
    model.dataChanged.connect(lambda a, b, *_: announced.append((a.row(), a.column(), b.row(), b.column())))
    for row in rows:
        before = plain(model._cells[0])
        announced.clear()
        model.apply([row])
        after = plain(model._cells[0])
        assert after == plain(model._make_cells(row))
        cells = {(0, c) for c in range(len(COLUMNS)) if after[c] != before[c]}
        named = {(r, c) for r0, c0, r1, c1 in announced
                 for r in range(r0, r1 + 1) for c in range(c0, c1 + 1)}
        assert named == cells
        assert model.row_for("HV01") is row
