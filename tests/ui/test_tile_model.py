"""The tile model: qtmodeltester, batching (one dataChanged per tick), order and filter."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QPersistentModelIndex, Qt
from ui_support import T0, make_vm

from hvconsole.monitoring.rows import TileFinding, TileRow
from hvconsole.ui.monitor.tile_filter import TileFilter, TileFilterProxy
from hvconsole.ui.monitor.tile_model import TileModel, TileRole, tile_tooltip


def tile(host, i, *, name=None, state="Running", cpu=10.0, severity=None, stale=None, history=()):
    findings = ()
    if severity:
        findings = (TileFinding("heartbeat-lost", severity, T0, ("heartbeat lost for 3 polls",)),)
    return TileRow(host=host, vm=make_vm(host, i, name=name, state=state, cpu=cpu),
                   cpu_history=history, findings=findings, stale_reason=stale)


def host_tiles(host, n, **kw):
    return [tile(host, i, **kw) for i in range(n)]


class Spy:
    def __init__(self, model):
        self.data_changed = []
        self.inserted = []
        self.removed = []
        self.layouts = 0
        model.dataChanged.connect(lambda a, b, roles: self.data_changed.append((a.row(), b.row())))
        model.rowsInserted.connect(lambda p, a, b: self.inserted.append((a, b)))
        model.rowsRemoved.connect(lambda p, a, b: self.removed.append((a, b)))
        model.layoutChanged.connect(lambda *args: setattr(self, "layouts", self.layouts + 1))


@pytest.mark.parametrize("force_py", [False, True], ids=["qt-tester", "py-tester"])
def test_model_passes_qtmodeltester_through_updates(qtmodeltester, force_py):
    # The tester re-checks the model on every signal it emits, so each update is checked.
    # (Qt's C++ tester reports problems as Qt warnings, which fail the test.)
    model = TileModel()
    qtmodeltester.check(model, force_py=force_py)
    model.apply({"HV01": host_tiles("HV01", 5), "HV02": host_tiles("HV02", 3)})
    # changes, a new problem (reorder), a vanished VM and a new one, a removed host
    model.apply({"HV01": [tile("HV01", 0, cpu=50), tile("HV01", 1, severity="critical"),
                          tile("HV01", 2), tile("HV01", 3), tile("HV01", 9)]})
    model.apply({"HV02": []})
    model.remove_host("HV01")
    assert model.rowCount() == 0


@pytest.mark.parametrize("force_py", [False, True], ids=["qt-tester", "py-tester"])
def test_model_with_proxy_passes_qtmodeltester(qtmodeltester, force_py):
    model = TileModel()
    proxy = TileFilterProxy(model)
    model.apply({"HV01": host_tiles("HV01", 6)})
    qtmodeltester.check(proxy, force_py=force_py)
    proxy.set_tile_filter(TileFilter(text="vm00"))
    model.apply({"HV01": [tile("HV01", i, severity="warning" if i == 2 else None) for i in range(6)]})
    proxy.set_tile_filter(TileFilter(problems_only=True))
    model.apply({"HV01": host_tiles("HV01", 3)})
    assert proxy.rowCount() == 0


def test_one_data_changed_per_tick_however_many_tiles_changed():
    model = TileModel()
    model.apply({h: host_tiles(h, 40) for h in ("HV01", "HV02", "HV03")})
    spy = Spy(model)
    stats = model.apply({h: host_tiles(h, 40, cpu=77.0) for h in ("HV01", "HV02", "HV03")})
    assert stats.changed == 120
    assert len(spy.data_changed) == 1
    assert spy.data_changed[0] == (0, 119)
    assert spy.inserted == [] and spy.removed == [] and spy.layouts == 0


def test_unchanged_tiles_emit_nothing():
    model = TileModel()
    rows = host_tiles("HV01", 10)
    model.apply({"HV01": rows})
    spy = Spy(model)
    stats = model.apply({"HV01": list(rows)})
    assert stats.changed == 0
    assert spy.data_changed == [] and spy.layouts == 0


def test_problems_sort_first_then_by_name():
    model = TileModel()
    model.apply({"HV01": [tile("HV01", 0, name="alpha"), tile("HV01", 1, name="Bravo"),
                          tile("HV01", 2, name="charlie")]})
    assert [r.vm.name for r in model.rows()] == ["alpha", "Bravo", "charlie"]
    persistent = QPersistentModelIndex(model.index(2))  # "charlie"
    spy = Spy(model)
    stats = model.apply({"HV01": [tile("HV01", 0, name="alpha"), tile("HV01", 1, name="Bravo", severity="warning"),
                                  tile("HV01", 2, name="charlie", severity="critical")]})
    assert stats.reordered
    assert [r.vm.name for r in model.rows()] == ["charlie", "Bravo", "alpha"]
    assert spy.layouts == 1
    assert persistent.row() == 0  # the selection follows the VM, not the position
    assert model.position("HV01", make_vm("HV01", 2).id) == 0


def test_stale_tiles_sort_between_warnings_and_healthy():
    model = TileModel()
    model.apply({"HV01": [tile("HV01", 0, name="a")], "HV02": [tile("HV02", 0, name="b", stale="host unreachable")],
                 "HV03": [tile("HV03", 0, name="c", severity="warning")]})
    assert [r.vm.name for r in model.rows()] == ["c", "b", "a"]


def test_vanished_vms_are_removed_and_new_ones_inserted():
    model = TileModel()
    model.apply({"HV01": host_tiles("HV01", 5)})
    spy = Spy(model)
    stats = model.apply({"HV01": [tile("HV01", i) for i in (0, 2, 4, 7)]})
    assert (stats.removed, stats.inserted) == (2, 1)
    assert sorted(r.vm.name for r in model.rows()) == ["HV01-VM000", "HV01-VM002", "HV01-VM004", "HV01-VM007"]
    assert spy.removed and spy.inserted
    for i, row in enumerate(model.rows()):
        assert model.position(row.host, row.vm.id) == i


def test_other_hosts_are_untouched_by_a_host_update():
    model = TileModel()
    model.apply({"HV01": host_tiles("HV01", 3), "HV02": host_tiles("HV02", 3)})
    model.apply({"HV01": []})
    assert {r.host for r in model.rows()} == {"HV02"}
    assert model.hosts() == ["HV02"]


def test_data_roles():
    model = TileModel()
    model.apply({"HV01": [tile("HV01", 0, name="<b>DC01</b>", severity="critical")]})
    index = model.index(0)
    assert index.data(Qt.ItemDataRole.DisplayRole) == "<b>DC01</b>"
    assert isinstance(index.data(TileRole), TileRow)
    tooltip = index.data(Qt.ItemDataRole.ToolTipRole)
    assert "Name: <b>DC01</b>" in tooltip and "heartbeat lost for 3 polls" in tooltip


def test_tooltips_with_markup_in_host_data_stay_plain_text():
    from PySide6.QtGui import Qt as GuiQt
    row = tile("HV01", 0, name="<b>evil</b><img src=x>", severity="critical")
    text = tile_tooltip(row)
    assert "<b>evil</b>" in text
    assert not GuiQt.mightBeRichText(text)


@pytest.mark.parametrize("flt,expected", [
    (TileFilter(), {"web-1", "web-2", "db-1", "off-1", "frozen-1", "stale-1"}),
    (TileFilter(hosts=frozenset({"HV02"})), {"db-1", "off-1"}),
    (TileFilter(groups=frozenset({"Off"})), {"off-1"}),
    (TileFilter(problems_only=True), {"frozen-1", "stale-1"}),
    (TileFilter(text="WEB"), {"web-1", "web-2"}),
    (TileFilter(text=" web-2 "), {"web-2"}),
    (TileFilter(hosts=frozenset({"HV01"}), text="1"), {"web-1", "frozen-1"}),
])
def test_filter_proxy(flt, expected):
    model = TileModel()
    model.apply({
        "HV01": [tile("HV01", 0, name="web-1"), tile("HV01", 1, name="web-2"),
                 tile("HV01", 2, name="frozen-1", severity="critical")],
        "HV02": [tile("HV02", 0, name="db-1"), tile("HV02", 1, name="off-1", state="Off")],
        "HV03": [tile("HV03", 0, name="stale-1", stale="host unreachable (timeout)")],
    })
    proxy = TileFilterProxy(model)
    proxy.set_tile_filter(flt)
    shown = {proxy.index(r, 0).data(TileRole).vm.name for r in range(proxy.rowCount())}
    assert shown == expected


def test_proxy_refilters_when_a_tile_becomes_a_problem():
    model = TileModel()
    model.apply({"HV01": host_tiles("HV01", 4)})
    proxy = TileFilterProxy(model)
    proxy.set_tile_filter(TileFilter(problems_only=True))
    assert proxy.rowCount() == 0
    model.apply({"HV01": [tile("HV01", i, severity="critical" if i == 3 else None) for i in range(4)]})
    assert proxy.rowCount() == 1
    assert proxy.index(0, 0).data(TileRole).vm.name == "HV01-VM003"
    model.apply({"HV01": host_tiles("HV01", 4)})
    assert proxy.rowCount() == 0


def test_proxy_keeps_problems_first_order():
    model = TileModel()
    proxy = TileFilterProxy(model)
    model.apply({"HV01": [tile("HV01", 0, name="a"), tile("HV01", 1, name="b", severity="warning")]})
    assert [proxy.index(r, 0).data(TileRole).vm.name for r in range(proxy.rowCount())] == ["b", "a"]


def test_a_vm_with_new_values_replaces_its_row_in_place():
    model = TileModel()
    model.apply({"HV01": [tile("HV01", 0, cpu=1.0)]})
    model.apply({"HV01": [tile("HV01", 0, cpu=2.0, history=(1.0, 2.0))]})
    assert model.row(0).vm.cpu_pct == 2.0 and model.rowCount() == 1
    assert model.row(0).cpu_history == (1.0, 2.0)
