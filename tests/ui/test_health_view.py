"""The Health check view and its service: filters, detail, export, the VM panel and the
host count, over audits of the simulated site (the simulated host's audit.ps1 answer, the
client's parser and the judge; the network path itself is tested in
tests/sim/test_audit_through_client.py). The service runs its work on the real background
pool; the GUI thread never waits for it."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import jsonschema
import pytest

from hvconsole.core.health import HostAudit, parse_audit
from hvconsole.remote.audit import judged
from hvconsole.remote.collector import snapshot_from_answer
from hvconsole.remote.target import Target
from hvconsole.sim.agent.audit import audit_document
from hvconsole.sim.agent.collect import CollectParams, collect_document
from hvconsole.sim.scenarios.audit import MISCONFIGURATIONS, build_well_set_site
from hvconsole.ui.health import INTERVAL_S, HealthService, VmProblemsPanel
from hvconsole.ui.health.view import HealthView

SCHEMA = json.loads((Path(__file__).parents[1] / "fixtures" / "contracts" / "audit-v1.schema.json").read_text())
HOSTILE = "=cmd|' /C calc'!A0 <b>bold</b>"


@pytest.fixture
def site():
    s = build_well_set_site()
    for rule in ("checkpoint-old", "boot-storm", "vm-not-clustered", "generation-1"):
        MISCONFIGURATIONS[rule].apply(s)
    s.vm("OK-SQL01").name = HOSTILE
    return s


def sim_audit(site):
    """What audit_host does, against the simulated host directly (no network)."""
    def audit(target, thresholds, *, snapshot=None, live=None, in_maintenance=False, cancel=None, clock=None,
              updates=(), timeout_s=None):
        host = site.host(target.name)
        with site.acting() as t:
            doc, _ = audit_document(host, {}, t)
        result = HostAudit(target.name, site.now(), answer=doc, facts=parse_audit(doc))
        return judged(result, thresholds, now=site.now(), snapshot=snapshot, updates=updates,
                      in_maintenance=in_maintenance, live=live)
    return audit


def targets(site):
    return [Target(name=n, url="http://127.0.0.1:1/wsman", username="u", password="p", transport="plaintext")
            for n in site.hosts]


@pytest.fixture
def service(qtbot, site):
    svc = HealthService(targets(site), audit=sim_audit(site), clock=site.now)
    yield svc
    svc.stop()


def run_all(qtbot, svc):
    svc.run_now()
    qtbot.waitUntil(lambda: len(svc.audits()) == len(svc.hosts) and not svc.running, timeout=30000)


def test_the_service_audits_every_15_minutes_not_every_poll(service):
    assert INTERVAL_S == 900 and service._timer.interval() == 900_000


def test_view_shows_problems_per_host_and_filters(qtbot, service):
    view = HealthView(service)
    qtbot.addWidget(view)
    run_all(qtbot, service)
    rules = {p.rule for p in view.visible_problems()}
    assert {"checkpoint-old", "boot-storm", "vm-not-clustered", "generation-1"} <= rules
    assert view.tree.topLevelItemCount() == 3
    view.severity.setCurrentIndex(1)                       # warning and critical
    assert "generation-1" not in {p.rule for p in view.visible_problems()}
    view.severity.setCurrentIndex(0)
    view.host_filter.setCurrentIndex(view.host_filter.findData("GOODN2"))
    assert {p.host for p in view.visible_problems()} == {"GOODN2"}
    assert view.tree.topLevelItemCount() == 1
    view.host_filter.setCurrentIndex(0)
    view.search.setText("storm")
    assert [p.rule for p in view.visible_problems()] == ["boot-storm"]
    assert "3 of 3 hosts audited" in view.summary.text()


def test_detail_escapes_host_text(qtbot, service):
    view = HealthView(service)
    qtbot.addWidget(view)
    run_all(qtbot, service)
    view.search.setText("checkpoint-old")
    top = view.tree.topLevelItem(0)
    view.tree.setCurrentItem(top.child(0))
    shown = view.detail.toPlainText()
    assert "<b>bold</b>" in shown and "Evidence:" in shown and "Fix:" in shown     # shown as text, not markup


def test_export_json_csv_html(qtbot, service, tmp_path):
    view = HealthView(service)
    qtbot.addWidget(view)
    run_all(qtbot, service)
    view.export(tmp_path / "h.json")
    jsonschema.Draft202012Validator(SCHEMA).validate(json.loads((tmp_path / "h.json").read_text()))
    view.export(tmp_path / "h.csv")
    with (tmp_path / "h.csv").open(encoding="utf-8-sig", newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0][:3] == ["host", "vm", "severity"]
    assert any(r[1] == "'" + HOSTILE for r in rows)                                  # no spreadsheet formula
    view.export(tmp_path / "h.html")
    text = (tmp_path / "h.html").read_text()
    assert "<b>bold</b>" not in text and "&lt;b&gt;bold&lt;/b&gt;" in text
    with pytest.raises(ValueError):
        view.export(tmp_path / "h.txt")


def test_vm_panel_and_host_count(qtbot, service, site):
    run_all(qtbot, service)
    vm = site.vm("OK-WEB02")
    panel = VmProblemsPanel(service, vm.id.upper())
    qtbot.addWidget(panel)
    assert panel.count == 1 and "not a clustered role" in panel.text.toPlainText()
    assert service.problem_count("GOOD01") >= 2          # boot storm, old checkpoint (warnings)
    assert service.count_text("GOODN2") == "1 warning"
    assert service.problem_count("GOODN1") == 0


def test_live_observations_reach_the_judge(qtbot, site):
    MISCONFIGURATIONS["memory-pressure"].apply(site)
    svc = HealthService(targets(site), audit=sim_audit(site), clock=site.now)
    try:
        for _ in range(40):
            site.clock.advance(60.0)
            site.advance()
            with site.acting() as t:
                doc, _ = collect_document(site.host("GOOD01"), CollectParams(None, 0, 10000), t)
            svc.observe(snapshot_from_answer(doc, "GOOD01", site.now())[0])
        run_all(qtbot, svc)
        assert [p.vm_name for p in svc.problems("GOOD01") if p.rule == "memory-pressure"] == ["OK-WEB01"]
    finally:
        svc.stop()


def test_stop_cancels_a_running_audit(qtbot, site):
    import threading
    started, cancelled = threading.Event(), threading.Event()

    def slow(target, thresholds, *, cancel=None, **kw):
        started.set()
        while not cancel.wait(0.05):
            pass
        cancelled.set()
        return HostAudit(target.name, site.now(), error_kind="timeout", error_message="cancelled", cancelled=True)

    svc = HealthService(targets(site)[:1], audit=slow, clock=site.now)
    svc.run_now()
    assert started.wait(10)
    svc.stop()
    assert cancelled.wait(10)
    assert svc.audits() == []


def test_a_deleted_view_or_panel_is_never_called_again(qtbot, service, site):
    """A closed Health check window (open_health_view deletes it) or a VM detail window's
    panel must not be reached by the service's next update: that raised "Internal C++
    object already deleted" with lambda connections."""
    from PySide6.QtCore import QCoreApplication, QEvent
    view = HealthView(service)
    panel = VmProblemsPanel(service, site.vm("OK-WEB02").id)
    for widget in (view, panel):
        widget.deleteLater()
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    service.updated.emit("GOOD01")             # no exception, nothing left listening
    service.running_changed.emit(False)
    run_all(qtbot, service)
