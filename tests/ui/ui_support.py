"""Helpers for the GUI tests: snapshot builders, a scripted collector, a small
deterministic stand-in for the freeze detector, and workers built from them.

The stand-in detector keeps these tests about the window, not about detection
thresholds: it flags a Running VM whose heartbeat is LostCommunication as a critical
``heartbeat-lost`` finding at once, and clears it when the heartbeat is back.
"""

from __future__ import annotations

import threading
import time
import zlib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from hvconsole.core.detector.findings import Finding
from hvconsole.core.snapshot import HostEvent, HostResources, OsInfo, Snapshot, VmQuery, VmSample, unreachable
from hvconsole.monitoring.host_worker import HostWorker

T0 = datetime(2026, 11, 25, 9, 0, 0, tzinfo=UTC)


def vm_id(host: str, i: int) -> str:
    return f"00000000-0000-4000-8000-{zlib.crc32(host.encode()) % 10**6:06d}{i:06d}"


def make_vm(host: str, i: int, *, name: str | None = None, state: str = "Running",
            heartbeat: str | None = "OkApplicationsHealthy", cpu: float | None = 12.0,
            uptime_s: int = 86400) -> VmSample:
    running = state.startswith("Running")
    return VmSample(id=vm_id(host, i), name=name or f"{host}-VM{i:03d}", state=state,
                    health="Ok", heartbeat=heartbeat if running else None,
                    operational_status=("Ok",), cpu_pct=cpu if running else None, vcpus=4,
                    memory_assigned_mb=8192 if running else 0,
                    memory_demand_mb=5120 if running else 0, dynamic_memory=True,
                    uptime_s=uptime_s if running else 0)


def make_snapshot(host: str, vms: tuple[VmSample, ...], at: datetime, *,
                  events: tuple[HostEvent, ...] = (), vm_query_ok: bool = True) -> Snapshot:
    return Snapshot(
        host=host, polled_at=at, reachable=True, host_time=at, collect_ms=300,
        os=OsInfo(product="Windows Server 2022 Datacenter", build=20348, ubr=3692,
                  display_version="21H2", pending_reboot=False),
        services={"vmms": "Running", "winrm": "Running"},
        resources=HostResources(logical_processors=32, cpu_total_run_pct=23.0,
                                memory_total_mb=262144, memory_available_mb=90000),
        vm_query=VmQuery(ok=vm_query_ok, elapsed_ms=120,
                         error=None if vm_query_ok else "Get-VM timed out"),
        vms=vms if vm_query_ok else (), events=events)


def down(host: str, at: datetime, kind: str = "timeout",
         message: str = "no answer in 10 s") -> Snapshot:
    return unreachable(host, at, kind, message, 10000)


# The detector's own finding, made by a stub detector (below) that is quicker to steer.
StubFinding = Finding


class StubDetector:
    """See the module docstring."""

    def __init__(self) -> None:
        self._open: dict[str, StubFinding] = {}

    def feed(self, snap: Snapshot) -> list[StubFinding]:
        if not snap.reachable:
            return []
        changed = []
        lost = {vm.id: vm for vm in snap.vms
                if vm.state == "Running" and vm.heartbeat == "LostCommunication"}
        for vid, vm in lost.items():
            if vid not in self._open:
                f = StubFinding(snap.host, vid, vm.name, "heartbeat-lost", "critical",
                                snap.polled_at, snap.polled_at, True,
                                (f"heartbeat LostCommunication at {snap.polled_at:%H:%M:%S}",
                                 "<b>not markup</b> & friends"))
                self._open[vid] = f
                changed.append(f)
        for vid in [v for v in self._open if v not in lost]:
            f = self._open.pop(vid)
            ended = StubFinding(f.host, f.vm_id, f.vm_name, f.kind, f.severity, f.first_seen,
                                snap.polled_at, False, f.evidence)
            changed.append(ended)
        return changed

    def active(self) -> list[StubFinding]:
        return list(self._open.values())


class ScriptedCollector:
    """Answers each poll with ``script(n)`` (n = 1, 2, ...). Can be made to block, like a
    hung host, until released or cancelled."""

    def __init__(self, script: Callable[[int], Snapshot]):
        self.script = script
        self.polls = 0
        self.closed = False
        self.threads: set[int] = set()
        self.hang = threading.Event()      # set: polls block
        self.release = threading.Event()

    def poll(self, cancel=None) -> Snapshot:
        self.threads.add(threading.get_ident())
        self.polls += 1
        n = self.polls
        if self.hang.is_set():
            # Like a blocked HTTP read: a cancel does not interrupt it, only the release
            # (the read timeout) does.
            self.release.wait(30)
        return self.script(n)

    def close(self) -> None:
        self.closed = True


def steady_site(hosts: int = 3, vms: int = 5, step_s: float = 5.0
                ) -> dict[str, Callable[[int], Snapshot]]:
    """Scripts for ``hosts`` healthy hosts whose CPU moves a little every poll."""
    def script_for(host: str) -> Callable[[int], Snapshot]:
        def script(n: int) -> Snapshot:
            at = T0 + timedelta(seconds=step_s * n)
            return make_snapshot(host, tuple(make_vm(host, i, cpu=float((n * 7 + i * 13) % 90))
                                             for i in range(vms)), at)
        return script
    return {f"HV{h + 1:02d}": script_for(f"HV{h + 1:02d}") for h in range(hosts)}


def make_worker(name: str, collector: ScriptedCollector, detector: StubDetector | None = None) -> HostWorker:
    det = detector or StubDetector()
    return HostWorker(name, f"{name.lower()}.example.test", collector_factory=lambda: collector,
                      detector_factory=lambda: det)


def settle(win) -> None:
    """Let the monitor's turns run: a tick whose tiles on screen changed shows them in one
    turn and its host lines, findings and events in the next, a frame later."""
    from PySide6.QtTest import QTest
    deadline = time.monotonic() + 5
    while win.monitor.results_waiting() and time.monotonic() < deadline:
        QTest.qWait(5)
    assert not win.monitor.results_waiting()


def release_input() -> None:
    """Qt keeps the mouse buttons and keyboard modifiers last pressed, and a mouse grab,
    process-wide; a test whose window closed on a click (a double click that opened another
    window) never delivers their release, and the next GUI test in the same worker would
    start with Left held (no hover drawn, Shift-click selection) or its mouse moves sent to
    a dead grabber. When anything is held, release it through a window of our own."""
    from PySide6.QtCore import QPoint, Qt
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication, QWidget

    if not isinstance(QApplication.instance(), QApplication):
        return
    buttons, modifiers = QApplication.mouseButtons(), QApplication.keyboardModifiers()
    grabber = QWidget.mouseGrabber()
    if grabber is not None:
        grabber.releaseMouse()
    if buttons == Qt.MouseButton.NoButton and modifiers == Qt.KeyboardModifier.NoModifier:
        return
    window = QWidget()
    window.resize(20, 20)
    window.show()
    try:
        if buttons != Qt.MouseButton.NoButton:
            QTest.mouseRelease(window, buttons, Qt.KeyboardModifier.NoModifier, QPoint(10, 10))
        for key in (Qt.Key.Key_Control, Qt.Key.Key_Shift, Qt.Key.Key_Alt, Qt.Key.Key_Meta):
            QTest.keyRelease(window, key)
    finally:
        window.close()
        window.deleteLater()
