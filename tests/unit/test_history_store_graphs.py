"""The window's graphs over the history file: 1 day / 7 days / 90 days read off the GUI
thread with findings as markers, and after a restart the stored polls before the
in-memory hour shown at once (host graphs and the VM detail dialog)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pytest

from hvconsole.core.history import HOST_FIELDS, SiteHistory
from hvconsole.core.historydb import Annotation
from hvconsole.core.historydb.ingest import Ingest
from hvconsole.core.historydb.schema import connect
from hvconsole.core.snapshot import HostResources, Snapshot, VmQuery, VmSample
from hvconsole.ui.hosts import stored_history
from hvconsole.ui.hosts.host_graphs import WINDOW_CHOICES, HostGraphs

END = datetime(2026, 5, 4, 8, 0, tzinfo=timezone.utc)
VM = "11111111-2222-3333-4444-555555555555"


def poll(at: datetime, cpu: float) -> Snapshot:
    return Snapshot(host="HV01", polled_at=at, reachable=True,
                    resources=HostResources(cpu_total_run_pct=cpu, memory_total_mb=65536, memory_available_mb=30000),
                    vm_query=VmQuery(ok=True),
                    vms=(VmSample(id=VM, name="SQL-01", state="Running", heartbeat="OkApplicationsHealthy",
                                  cpu_pct=cpu / 2, memory_assigned_mb=8192, memory_demand_mb=6000),))


@pytest.fixture
def stored(tmp_path: Path):
    """A week of 1-minute history (CPU 30 %), then 20 minutes polled every 5 s (CPU 50 %)
    whose last 5 minutes are also in memory (a window that restarted 5 minutes ago)."""
    path = tmp_path / "history.sqlite"
    conn = connect(path)
    ing = Ingest(conn)
    live_start = END - timedelta(minutes=20)
    start = int(live_start.timestamp()) - 7 * 86400
    host_values = np.full((len(HOST_FIELDS), 7 * 1440), np.nan)
    host_values[0] = 30.0
    conn.execute("BEGIN")
    ing.import_minutes("host", "hv01", "HV01", "HV01", start, host_values)
    ing.import_minutes("vm", VM, "HV01", "SQL-01", start, np.vstack([np.full(7 * 1440, 15.0),
                                                                      np.full(7 * 1440, 8192.0),
                                                                      np.full(7 * 1440, 6000.0)]))
    conn.execute("COMMIT")
    snaps = [poll(live_start + timedelta(seconds=5 * i), 50.0) for i in range(240)]
    notes = [Annotation(start + d * 86400 + 3600, "HV01", VM, "finding", "heartbeat-lost", "critical",
                        f"heartbeat-lost opened on SQL-01: day {d}") for d in range(7)]
    ing.apply(snaps, annotations=notes, finish=True)
    conn.close()
    site = SiteHistory(poll_interval_s=5.0)
    for s in snaps[-60:]:
        site.add(s)
    stored_history.set_store(path)
    yield site
    stored_history.set_store(None)


@pytest.fixture
def graphs(qtbot) -> HostGraphs:
    w = HostGraphs()
    qtbot.addWidget(w)
    w.resize(420, 760)
    w.show()
    qtbot.waitExposed(w)
    return w


def points(curve) -> tuple[np.ndarray, np.ndarray]:
    x, y = curve.getData()
    return (np.array([]), np.array([])) if x is None else (np.asarray(x), np.asarray(y))


def test_the_toggle_offers_the_long_ranges(graphs) -> None:
    assert [text for text, _ in WINDOW_CHOICES] == ["5 min", "1 h", "1 day", "7 days", "90 days"]
    assert set(graphs.toggle.buttons) == {300, 3600, 86400, 7 * 86400, 90 * 86400}


def test_seven_days_come_from_the_file_with_markers(graphs, stored, qtbot) -> None:
    graphs.set_history(stored.host("HV01"))
    graphs.toggle.buttons[7 * 86400].click()                   # as the admin does
    qtbot.waitUntil(lambda: points(graphs.cpu_total)[0].size > 10_000, timeout=20_000)
    x, y = points(graphs.cpu_total)
    assert np.nanmax(x) - np.nanmin(x) >= 7 * 86400 - 3600
    assert np.nanmedian(y) == pytest.approx(30.0, abs=0.01)    # the stored week, not the live hour
    assert len(graphs.markers) == 7
    lo, hi = graphs.cpu_plot.view_range()[0]
    assert hi - lo == pytest.approx(7 * 86400, rel=1e-6)
    # Back to the hour: the in-memory 5 minutes and, before them, the stored polls.
    graphs.toggle.buttons[3600].click()
    qtbot.waitUntil(lambda: points(graphs.cpu_total)[0].size >= 200, timeout=20_000)
    assert len(graphs.markers) == 0
    x, y = points(graphs.cpu_total)
    assert x.min() <= (END - timedelta(minutes=19)).timestamp()
    assert np.nanmax(y) == pytest.approx(50.0)


def test_back_to_seven_days_within_the_minute_reads_them_again(graphs, stored, qtbot) -> None:
    """The hour's curves replaced the stored week's: coming back must not count on them."""
    graphs.set_history(stored.host("HV01"))
    graphs.set_window(7 * 86400)
    qtbot.waitUntil(lambda: points(graphs.cpu_total)[0].size > 10_000, timeout=20_000)
    graphs.set_window(3600)
    graphs.set_window(7 * 86400)
    qtbot.waitUntil(lambda: points(graphs.cpu_total)[0].size > 10_000, timeout=20_000)
    assert len(graphs.markers) == 7


def test_a_host_shown_again_while_another_s_range_is_read_gets_its_own(graphs, stored, qtbot) -> None:
    """HV01's week shown, HV02 asked for (the read still running), HV01 again: HV01's
    week comes back, not empty curves until the next minute."""
    stored.add(Snapshot(host="HV02", polled_at=END, reachable=True,
                        resources=HostResources(cpu_total_run_pct=10.0)))
    graphs.set_history(stored.host("HV01"))
    graphs.set_window(7 * 86400)
    qtbot.waitUntil(lambda: points(graphs.cpu_total)[0].size > 10_000, timeout=20_000)
    graphs.set_history(stored.host("HV02"))
    graphs.set_history(stored.host("HV01"))
    qtbot.waitUntil(lambda: points(graphs.cpu_total)[0].size > 10_000, timeout=20_000)
    assert graphs.title.text() == "HV01" and len(graphs.markers) == 7


def test_a_stored_range_holds_its_axes_still_between_its_reads(graphs, stored, qtbot) -> None:
    """Polls between two reads of the range (a minute apart) draw no axis again."""
    host = stored.host("HV01")
    graphs.set_history(host)
    graphs.set_window(86400)
    qtbot.waitUntil(lambda: points(graphs.cpu_total)[0].size > 1_000, timeout=20_000)
    graphs.graphics.grab()
    drawn, shown = graphs.graphics.still_draws, graphs.shown_range()
    for i in range(1, 6):
        stored.add(poll(END + timedelta(seconds=5 * i), 40.0))
        graphs.refresh()
        graphs.graphics.grab()
    assert graphs.graphics.still_draws == drawn and graphs.shown_range() == shown
    stored.add(poll(END + timedelta(seconds=65), 40.0))    # a minute on: read again, moved
    graphs.refresh()
    qtbot.waitUntil(lambda: graphs.shown_range()[1] == pytest.approx(host.last_time), timeout=20_000)


def test_without_a_history_file_the_long_range_shows_the_hour_held(graphs, stored, qtbot) -> None:
    stored_history.set_store(None)
    graphs.set_history(stored.host("HV01"))
    graphs.set_window(86400)
    x, _ = points(graphs.cpu_total)
    assert x.size == 60


def test_the_vm_dialog_reads_seven_days_too(stored, qtbot) -> None:
    from hvconsole.ui.vm.vm_detail import VmDetailDialog
    d = VmDetailDialog(VM, "HV01", stored, [], [], window_s=7 * 86400)
    qtbot.addWidget(d)
    d.show()
    qtbot.waitUntil(lambda: points(d.cpu_curve)[0].size > 10_000, timeout=20_000)
    _, y = points(d.cpu_curve)
    assert np.nanmedian(y) == pytest.approx(15.0, abs=0.01)
    assert len(d.markers) == 7
    d.set_window(300)
    x, _ = points(d.cpu_curve)
    assert x.size == 60 and len(d.markers) == 0


def test_the_window_s_poll_worker_queues_each_poll_and_its_findings(tmp_path: Path) -> None:
    """What app.py wires: each HostWorker hands its snapshot and changed findings to the
    site's HistoryWriter (queued, written by the writer's thread)."""
    from hvconsole.core.detector import Detector
    from hvconsole.core.historydb import HistoryReader, HistoryWriter
    from hvconsole.monitoring.host_worker import HostWorker

    snaps = [poll(END + timedelta(seconds=5 * i), 40.0) for i in range(3)]
    lost = [Snapshot(host="HV01", polled_at=END + timedelta(seconds=15 + 5 * i), reachable=True,
                     resources=snaps[0].resources, vm_query=VmQuery(ok=True),
                     vms=(VmSample(id=VM, name="SQL-01", state="Running", heartbeat="LostCommunication",
                                   cpu_pct=0.0, memory_assigned_mb=8192, memory_demand_mb=6000),))
            for i in range(10)]
    queue = snaps + lost

    class Collector:
        def poll(self, cancel=None):
            return queue.pop(0)

        def close(self):
            pass

    worker = HostWorker("HV01", "hv01.example.test", collector_factory=Collector, detector_factory=Detector)
    writer = HistoryWriter(tmp_path / "history.sqlite", flush_interval_s=0.05)
    worker.history_writer = writer
    for _ in range(13):
        worker.poll_once()
    assert writer.flush(30) and writer.close()
    with HistoryReader(tmp_path / "history.sqlite") as r:
        times, cpu = r.read(r.host("HV01"), END.timestamp(), END.timestamp() + 120).field("cpu_total_pct")
        assert len(times) == 13 and cpu[0] == 40.0
        kinds = {m.kind for m in r.markers("HV01", 0, 2e9, categories=("finding",))}
        assert kinds & {"heartbeat-lost", "heartbeat-lost-cpu-flat"}


def test_ranges_asked_for_and_replaced_while_queued_are_not_read(monkeypatch) -> None:
    queued: list = []

    class Runner:
        def submit(self, fn, done, failed):
            queued.append((fn, done))

    reads: list[str] = []
    monkeypatch.setattr(stored_history, "read_range",
                        lambda path, host, *args: reads.append(host) or host)
    loader = stored_history.RangeLoader(runner=Runner())
    shown: list[str] = []
    for host in ("HV01", "HV02", "HV03"):
        loader.request(Path("h.sqlite"), host, None, 90 * 86400, 1e9, shown.append)
    for fn, done in queued:      # the one worker thread gets to them in turn
        done(fn())
    assert reads == ["HV03"] and shown == ["HV03"]
