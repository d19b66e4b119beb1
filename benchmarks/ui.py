"""Performance of the live monitoring window. Prints numbers; asserts nothing.

Each benchmark prints the load average first, and CPU time beside wall time (on a shared
machine wall time is mostly waiting for a core). See docs/performance.md.

* ``tick``    GUI-thread time per tick applying one poll of 50 hosts × 40 VMs (2,000 tiles)
              to the window's models, including the repaint Qt then does (targets: median
              ≤ 4 ms, p95 ≤ 8 ms; with the host graphs refreshed median ≤ 8 ms, p95 ≤ 12 ms).
              The per-host work (parse, detect, history, rows) is done beforehand, as the
              worker threads do it, and reported separately.
* ``stall``   the longest event-loop stall while 20 hosts are polled every 2 s and 4 of
              them hang (target ≤ 16 ms, one frame), and what ran in the five worst gaps
              (every event dispatch and Python garbage collection of 1 ms or more). The
              live hosts are four ``hvconsole-sim serve --json`` processes (the demo site
              has 4 hosts; each process's hosts are renamed S1-HV01 ...); the hung hosts
              are a separate process whose sockets accept connections and never answer,
              which is what a hung host looks like.
* ``memory``  resident memory after an hour of history (720 polls at 5 s) at 50 × 40 VMs,
              with the real freeze detector, window shown (target ≤ 400 MB).
* ``startup`` time from process start to the first painted window with ``--demo``
              (target ≤ 2.5 s), to the first painted tiles (target ≤ 1.0 s) and to the first
              live one; cold (a fresh home: no last known state) and warm (a second start,
              which shows the last known tiles first).

The console's steady-state CPU against a simulated 50 × 40 site is ``console_cpu.py``.

Run (offscreen works)::

    QT_QPA_PLATFORM=offscreen .venv/bin/python benchmarks/ui.py [tick|stall|memory|startup|all]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

HOSTS, VMS = 50, 40
ROOT = Path(__file__).resolve().parents[1]
T0 = datetime(2026, 11, 25, 9, 0, tzinfo=timezone.utc)


# -- a synthetic site (no network: the tick and memory numbers are the GUI's own) ------

def synthetic_workers(hosts: int, vms: int, interval_s: float = 5.0) -> list:
    from hvconsole.core.detector import Detector
    from hvconsole.core.snapshot import HostResources, OsInfo, Snapshot, VmQuery, VmSample
    from hvconsole.monitoring.host_worker import HostWorker

    class Scripted:
        def __init__(self, host: str, index: int):
            self.host, self.index, self.n = host, index, 0

        def poll(self, cancel=None) -> Snapshot:
            self.n += 1
            n, at = self.n, T0 + timedelta(seconds=interval_s * self.n)
            samples = tuple(VmSample(
                id=f"{self.index:04d}-{i:04d}-0000-0000-000000000000", name=f"{self.host}-VM{i:03d}",
                state="Running" if i % 10 else "Off", health="Ok",
                heartbeat="OkApplicationsHealthy" if i % 10 else None, operational_status=("Ok",),
                cpu_pct=float((n * 7 + i * 13) % 97) if i % 10 else None, vcpus=4,
                memory_assigned_mb=8192.0, memory_demand_mb=4000.0 + (n * 31 + i) % 2000,
                uptime_s=86400 + n * 5) for i in range(vms))
            return Snapshot(host=self.host, polled_at=at, reachable=True, host_time=at, collect_ms=400,
                            os=OsInfo(product="Windows Server 2022 Datacenter", build=20348, ubr=3692),
                            services={"vmms": "Running"},
                            resources=HostResources(logical_processors=64, cpu_total_run_pct=30.0,
                                                    memory_total_mb=524288, memory_available_mb=200000),
                            vm_query=VmQuery(ok=True, elapsed_ms=100), vms=samples)

        def close(self) -> None:
            pass

    workers = []
    for h in range(hosts):
        name = f"HV{h + 1:03d}"
        collector = Scripted(name, h)
        workers.append(HostWorker(name, name.lower(), collector_factory=lambda c=collector: c,
                                  detector_factory=Detector, poll_interval_s=interval_s))
    return workers


class DispatchLog:
    """What the GUI thread ran: one span per top-level event dispatch (start, end, CPU ms,
    what), so that a long event-loop gap can be explained. Spans under 1 ms are dropped."""

    def __init__(self) -> None:
        self.spans: list[tuple[float, float, float, str]] = []
        self.depth = 0
        self.skip: set[int] = set()   # receivers not worth naming (the meter's own timer)
        self.labels: dict[int, str] = {}

    def name(self, receiver, event) -> str:
        try:
            return self._name(receiver, event)
        except RuntimeError:   # the receiver was deleted by its own event (deleteLater)
            return f"{event.type().name} → (deleted object)"

    def _name(self, receiver, event) -> str:
        label = self.labels.get(id(receiver))
        if label is None:
            parent = receiver.parent() if hasattr(receiver, "parent") else None
            who = type(receiver).__name__
            if receiver.objectName():
                who += f"({receiver.objectName()})"
            if parent is not None and type(receiver).__name__ in ("QTimer", "QWidget", "QObject"):
                who = f"{type(parent).__name__}{'(' + parent.objectName() + ')' if parent.objectName() else ''}.{who}"
            label = who
        return f"{event.type().name} → {label}"

    def among(self, start: float, end: float) -> list[tuple[float, float, str]]:
        """The spans inside [start, end], longest first: (wall ms, CPU ms, what)."""
        inside = [((t1 - t0) * 1000, cpu, what) for t0, t1, cpu, what in self.spans
                  if t1 > start and t0 < end]
        return sorted(inside, reverse=True)


def make_app(log: DispatchLog | None = None):
    from PySide6.QtCore import QObject
    from PySide6.QtWidgets import QApplication

    from hvconsole.app import SWITCH_INTERVAL_S
    from hvconsole.ui import theme
    sys.setswitchinterval(SWITCH_INTERVAL_S)  # as the app does
    if log is not None and QApplication.instance() is None:
        class TimedApplication(QApplication):
            def notify(self, receiver, event):  # noqa: N802 - Qt's name
                if log.depth or id(receiver) in log.skip or not isinstance(receiver, QObject):
                    return super().notify(receiver, event)
                log.depth += 1
                t0, c0 = time.perf_counter(), time.thread_time()
                try:
                    return super().notify(receiver, event)
                finally:
                    log.depth -= 1
                    t1 = time.perf_counter()
                    if t1 - t0 >= 0.001:
                        log.spans.append((t0, t1, (time.thread_time() - c0) * 1000, log.name(receiver, event)))
        app = TimedApplication([sys.argv[0]])
    else:
        app = QApplication.instance() or QApplication([sys.argv[0]])
    theme.apply_theme(app)
    return app


def make_window(monitor, size=(1920, 1080)):
    from hvconsole.ui.main_window import MainWindow
    window = MainWindow()
    window.resize(*size)
    window.attach(monitor, "benchmark")
    window.page.build_graphs()      # the app makes them just after the page's first paint
    window.show()
    return window


def idle_monitor(workers):
    """A monitor whose polling never starts: the benchmark hands it batches itself."""
    from hvconsole.ui.background import InlineTaskRunner
    from hvconsole.ui.monitor.monitor import Monitor
    from hvconsole.ui.monitor.polling import PollingService
    return Monitor(workers, polling=PollingService(workers, runner_factory=lambda n: InlineTaskRunner()))


def stats_ms(values: list[float]) -> str:
    values = sorted(values)
    p95 = values[min(len(values) - 1, int(len(values) * 0.95))]
    return f"median {statistics.median(values):6.2f} ms   p95 {p95:6.2f} ms   max {values[-1]:6.2f} ms"


# -- tick -------------------------------------------------------------------------------

def print_load() -> None:
    print(f"load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores "
          "(wall-clock numbers grow with it; CPU time much less)")


def bench_tick(ticks: int = 40) -> None:
    from PySide6.QtCore import QCoreApplication
    print_load()
    app = make_app()
    workers = synthetic_workers(HOSTS, VMS)
    print(f"tick: {HOSTS} hosts × {VMS} VMs = {HOSTS * VMS} tiles, window 1920×1080, {ticks} ticks, "
          f"all 50 hosts and every tile changed in every tick (the worst case: normally a tick "
          f"carries the few hosts that answered in the last 250 ms); wall time, and the GUI "
          f"thread's CPU time in brackets")
    for graphs in (False, True):
        monitor = idle_monitor(workers)
        window = make_window(monitor)
        page = window.page
        if not graphs:
            # Tiles, host list and findings alone: the page's per-tick hook without the
            # graph refresh (the graphs stay on screen, idle). Taking the widget away while
            # the page still schedules its refresh would only measure a failing call.
            monitor.applied.disconnect(page._applied)
            monitor.applied.connect(lambda _stats, page=page: page.host_panel.update_alerts())
        app.processEvents()
        rec: dict[str, list[float]] = {k: [] for k in (
            "worker", "apply", "apply_cpu", "tick", "tick_cpu", "next", "next_cpu", "both", "both_cpu",
            "full", "graphs", "graphs_cpu", "longest", "longest_cpu")}
        for k in range(ticks + 3):
            started = time.perf_counter()
            batch = [w.poll_once() for w in workers]          # the worker threads' share
            per_host = (time.perf_counter() - started) * 1000 / len(workers)
            c0, t0 = time.thread_time(), time.perf_counter()
            monitor.apply_batch(batch)
            t1, c1 = time.perf_counter(), time.thread_time()
            # This turn of the event loop: the repaint Qt posted for what changed (and
            # anything the tick queued for the next turn, e.g. the graphs' refresh).
            QCoreApplication.sendPostedEvents()
            t2, c2 = time.perf_counter(), time.thread_time()
            # The graphs are refreshed by a timer a frame after the tick. Under load that
            # timer could fire inside the processEvents below and its cost land in this
            # turn's figure: held here, and run as its own turn right after.
            graphs_due = page._graphs_timer.isActive()
            page._graphs_timer.stop()
            app.processEvents()        # whatever is left in this turn
            t3, c3 = time.perf_counter(), time.thread_time()
            g0, gc0 = time.perf_counter(), time.thread_time()
            if graphs_due:
                page._refresh_graphs()
                QCoreApplication.sendPostedEvents()
                app.processEvents()
                # A new y ceiling spreads the plots over a few 2 ms turns: counted here,
                # with the graphs, not in the next tick's turn.
                if page._graphs is not None:
                    page._graphs.finish_staged()
                    app.processEvents()
            g1, gc1 = time.perf_counter(), time.thread_time()
            window.repaint()           # for reference: everything
            t4 = time.perf_counter()
            if k >= 3:  # the first ticks insert rows and lay out the grid
                for key, value in (("worker", per_host), ("apply", t1 - t0), ("apply_cpu", c1 - c0),
                                   ("tick", t2 - t0), ("tick_cpu", c2 - c0), ("next", t3 - t2),
                                   ("next_cpu", c3 - c2), ("graphs", g1 - g0), ("graphs_cpu", gc1 - gc0),
                                   ("both", t3 - t0 + g1 - g0), ("both_cpu", c3 - c0 + gc1 - gc0),
                                   ("longest", max(t3 - t0, g1 - g0)), ("longest_cpu", max(c3 - c0, gc1 - gc0)),
                                   ("full", t4 - g1)):
                    rec[key].append(value * (1 if key == "worker" else 1000))
        # Steady state: 50 hosts every 5 s, staggered, 250 ms ticks = ~3 hosts per tick.
        steady_ms, steady_cpu = [], []
        for k in range(ticks):
            part = workers[(k * 3) % HOSTS:(k * 3) % HOSTS + 3]
            batch = [w.poll_once() for w in part]
            c0, t0 = time.thread_time(), time.perf_counter()
            monitor.apply_batch(batch)
            app.processEvents()
            if page._graphs_timer.isActive():   # the graphs' turn, counted with the tick
                page._graphs_timer.stop()
                page._refresh_graphs()
                app.processEvents()
            steady_ms.append((time.perf_counter() - t0) * 1000)
            steady_cpu.append((time.thread_time() - c0) * 1000)
        if graphs:
            label, target = "with the host graphs refreshed every tick", "median ≤ 8 ms, p95 ≤ 12 ms"
        else:
            label, target = "tiles, host list, findings", "median ≤ 4 ms, p95 ≤ 8 ms"
        print(f" {label}:")
        print(f"  apply batch to models            {stats_ms(rec['apply'])}")
        print(f"                          (CPU)    {stats_ms(rec['apply_cpu'])}")
        print(f"  apply + repaint, this turn       {stats_ms(rec['tick'])}")
        print(f"                          (CPU)    {stats_ms(rec['tick_cpu'])}")
        print(f"  next event-loop turn             {stats_ms(rec['next'])}")
        print(f"                          (CPU)    {stats_ms(rec['next_cpu'])}")
        if graphs:
            print(f"  graphs' turn, a frame later      {stats_ms(rec['graphs'])}")
            print(f"                          (CPU)    {stats_ms(rec['graphs_cpu'])}")
        print(f"  whole tick (all turns)           {stats_ms(rec['both'])}   target {target}")
        print(f"                          (CPU)    {stats_ms(rec['both_cpu'])}")
        if graphs:
            print(f"  longest single turn              {stats_ms(rec['longest'])}   (one frame: 16.7 ms)")
            print(f"                          (CPU)    {stats_ms(rec['longest_cpu'])}")
        print(f"  full-window repaint (reference)  {stats_ms(rec['full'])}")
        print(f"  steady state, 3 hosts per tick   {stats_ms(steady_ms)}   (both turns)")
        print(f"                          (CPU)    {stats_ms(steady_cpu)}")
        if not graphs:
            print(f"  worker thread, per host poll     {stats_ms(rec['worker'])}  (off the GUI thread)")
        window.close()


# -- stall ------------------------------------------------------------------------------

BLACKHOLE = r"""
import json, socket, sys, time
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(64); socks.append(s)
print(json.dumps([s.getsockname()[1] for s in socks]), flush=True)
held = []
import selectors
sel = selectors.DefaultSelector()
for s in socks: sel.register(s, selectors.EVENT_READ)
while True:
    for key, _ in sel.select():
        conn, _ = key.fileobj.accept(); held.append(conn)  # accept, read nothing, never answer
"""


def _start_sim(index: int) -> tuple[subprocess.Popen, list[dict]]:
    proc = subprocess.Popen([sys.executable, "-m", "hvconsole.sim.cli", "serve", "--json"],
                            stdout=subprocess.PIPE, text=True, cwd=ROOT)
    hosts = [json.loads(proc.stdout.readline()) for _ in range(4)]
    return proc, hosts


def bench_stall(seconds: float = 60.0, live_sites: int = 4, hung: int = 4, interval_s: float = 2.0,
                gc_freeze: bool = True) -> None:
    from PySide6.QtCore import Qt, QTimer

    from hvconsole.monitoring.host_worker import worker_for_target
    from hvconsole.remote.target import Target
    from hvconsole.ui.monitor.monitor import Monitor
    print_load()
    log = DispatchLog()
    app = make_app(log)
    procs, targets = [], []
    try:
        for k in range(live_sites):
            proc, hosts = _start_sim(k)
            procs.append(proc)
            targets += [Target(f"S{k + 1}-{h['host']}", h["url"], h["user"], h["password"], transport="plaintext")
                        for h in hosts]
        hole = subprocess.Popen([sys.executable, "-c", BLACKHOLE, str(hung)], stdout=subprocess.PIPE, text=True)
        procs.append(hole)
        for i, port in enumerate(json.loads(hole.stdout.readline())):
            targets.append(Target(f"HUNG-{i + 1}", f"http://127.0.0.1:{port}/wsman", "demo", "x" * 12,
                                  transport="plaintext"))
        workers = [worker_for_target(t, timeout_s=10.0, poll_interval_s=interval_s) for t in targets]
        monitor = Monitor(workers, interval_s=interval_s)
        window = make_window(monitor)
        frozen: list[bool] = []
        if gc_freeze:
            # As the app does (run_gui): once the first answers are shown, everything
            # alive is moved out of the collector's sight (hvconsole.app.freeze_startup_objects).
            from hvconsole.app import freeze_startup_objects

            def first_tick(_stats) -> None:
                monitor.applied.disconnect(first_tick)
                freeze_startup_objects()
                # Counted after the run: counting walks every frozen object (~7 ms), which
                # the app never does, inside the measured window.
                frozen.append(True)
            monitor.applied.connect(first_tick)
        gaps: list[float] = []
        # (s since start, ticks so far, GUI CPU ms in gap, perf_counter at the gap's end)
        at: list[tuple[float, int, float, float]] = []
        last = [time.perf_counter(), time.thread_time()]
        begin = time.perf_counter()
        gui_cpu0 = time.thread_time()

        def beat() -> None:
            now, cpu = time.perf_counter(), time.thread_time()
            gaps.append((now - last[0]) * 1000)
            at.append((now - begin, monitor.ticks, (cpu - last[1]) * 1000, now))
            last[0], last[1] = now, cpu

        slow_ticks: list = []
        ticks_at: list[tuple[float, object]] = []
        monitor.applied.connect(lambda st: slow_ticks.append(st) if st.apply_ms > 10 else None)
        monitor.applied.connect(lambda st: ticks_at.append((time.perf_counter(), st)))
        meter = QTimer()
        log.skip.add(id(meter))
        # Python's own garbage collections on the GUI thread are named too.
        gc_started: list[tuple[float, float]] = []

        def gc_span(phase: str, info: dict) -> None:
            if threading.get_ident() != gui_thread:
                return
            if phase == "start":
                gc_started[:] = [(time.perf_counter(), time.thread_time())]
            elif gc_started:
                (t0, c0), t1 = gc_started[0], time.perf_counter()
                if t1 - t0 >= 0.001:
                    log.spans.append((t0, t1, (time.thread_time() - c0) * 1000,
                                      f"Python gc generation {info.get('generation')}"))
        gui_thread = threading.get_ident()
        gc.callbacks.append(gc_span)
        meter.setTimerType(Qt.TimerType.PreciseTimer)
        meter.timeout.connect(beat)
        monitor.start()
        meter.start(5)

        def finish() -> None:
            # The meter stops first: quitting (the pollers told to stop) is no stall of the run.
            meter.stop()
            app.quit()
        QTimer.singleShot(int(seconds * 1000), finish)
        app.exec()  # the real event loop, as in the product
        meter.stop()
        gc.callbacks.remove(gc_span)
        if frozen:
            print(f"  at the first tick, as the app does: {gc.get_freeze_count()} objects frozen")
        wall_s, gui_cpu_s = time.perf_counter() - begin, time.thread_time() - gui_cpu0
        first_tick = next((i for i, (_, ticks, _, _) in enumerate(at) if ticks >= 1), 0)
        # From the first applied tick on (before it, nothing but the empty window exists);
        # the first tick itself, which inserts every tile, is included.
        window_gaps = list(zip(gaps, at))[first_tick:]
        stalls = sorted(g - 5.0 for g, _ in window_gaps)
        worst = sorted(window_gaps, reverse=True)[:5]
        rows = monitor.hosts.rows()
        print(f"stall: {len(targets)} hosts polled every {interval_s:g} s ({hung} hung), {seconds:g} s, "
              f"window 1920×1080, {monitor.ticks} ticks applied, {monitor.tiles.rowCount()} tiles")
        print(f"  longest event-loop stall {stalls[-1]:6.1f} ms   p99 {stalls[int(len(stalls) * 0.99)]:5.1f} ms"
              f"   median {statistics.median(stalls):4.1f} ms   target ≤ 16 ms")
        cpu_in_gaps = sorted(c for _, (_, _, c, _) in window_gaps)
        print(f"  most GUI-thread CPU in one gap {cpu_in_gaps[-1]:5.1f} ms   p99 "
              f"{cpu_in_gaps[int(len(cpu_in_gaps) * 0.99)]:4.1f} ms   (the stall on an idle machine)")
        print(f"  GUI thread CPU {gui_cpu_s:.1f} s in {wall_s:.0f} s ({100 * gui_cpu_s / wall_s:.1f} % of one core)")
        print("  the five worst gaps: stall (GUI thread's own CPU time in it) at time, and what ran in it "
              "(event → receiver: wall ms / CPU ms, dispatches of 1 ms or more):")
        by_cpu = sorted(window_gaps, key=lambda gap: -gap[1][2])[:5]
        for title, rows_ in (("by wall time (includes waiting for a CPU the other processes hold)", worst),
                             ("by the GUI thread's own CPU time (what this code controls)", by_cpu)):
            print(f"   {title}:")
            explain_gaps(rows_, log, ticks_at)
        for st in sorted(slow_ticks, key=lambda st: -st.apply_ms)[:3]:
            print(f"  slow tick: apply {st.apply_ms:.0f} ms, {len(st.hosts)} hosts, tiles {st.tiles}, "
                  f"{st.new_findings} new findings, {st.new_events} events")
        print(f"  reachable {sum(1 for r in rows if r.reachable)}, unreachable "
              f"{sum(1 for r in rows if r.reachable is False)}: "
              + ", ".join(f"{r.name}={r.error_kind}" for r in rows if r.reachable is False))
        t = time.perf_counter()
        window.close()
        print(f"  closing the window with {hung} hosts hung took {(time.perf_counter() - t) * 1000:.0f} ms")
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(10)


def explain_gaps(gaps: list, log: DispatchLog, ticks_at: list) -> None:
    for g, (t, _, c, end) in gaps:
        start = end - g / 1000
        ran = log.among(start, end)[:4]
        ticks = [st for when, st in ticks_at if start <= when <= end]
        what = "; ".join(f"{name} {w:.0f}/{cpu:.0f}" for w, cpu, name in ran) or "nothing over 1 ms"
        tick = "".join(f" [tick: {len(st.hosts)} hosts, {st.tiles.changed} tiles changed, "
                       f"apply {st.apply_ms:.1f} ms]" for st in ticks)
        print(f"    {g - 5:5.1f} ms ({c:4.1f} ms) at {t:5.1f} s: {what}{tick}")


# -- memory -----------------------------------------------------------------------------

def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def bench_memory(polls: int = 720) -> None:
    print_load()
    app = make_app()
    before = rss_mb()
    workers = synthetic_workers(HOSTS, VMS)
    monitor = idle_monitor(workers)
    window = make_window(monitor)
    started, cpu = time.perf_counter(), time.process_time()
    for _ in range(polls):
        monitor.apply_batch([w.poll_once() for w in workers])
        app.processEvents()
    took, cpu = time.perf_counter() - started, time.process_time() - cpu
    history_mb = sum(w.history.nbytes for w in workers) / 2**20
    print(f"memory: {HOSTS} hosts × {VMS} VMs, {polls} polls each ({polls * 5 / 3600:g} h at 5 s), "
          f"real detector, window shown; fed in {took:.0f} s (CPU {cpu:.0f} s)")
    print(f"  resident {rss_mb():6.0f} MB (Qt and window alone: {before:.0f} MB before the site)"
          f"   target ≤ 400 MB")
    print(f"  history ring buffers {history_mb:.0f} MB, {monitor.events.rowCount()} events, "
          f"{monitor.findings.rowCount()} findings")
    window.close()


# -- startup ----------------------------------------------------------------------------

CHILD = r"""
import sys, time
from PySide6.QtCore import QEvent, QObject
from PySide6.QtWidgets import QApplication
app = QApplication([sys.argv[0]])
def mark(what):
    print(what, time.time(), time.process_time(), flush=True)
class Watch(QObject):
    window_painted = tiles_painted = False
    def eventFilter(self, obj, event):
        if event.type() == QEvent.Type.Paint:
            name = obj.objectName() if hasattr(obj, "objectName") else ""
            if not self.window_painted and name == "mainWindow":
                self.window_painted = True
                mark("window")
            elif name == "qt_scrollarea_viewport" and obj.parent().objectName() == "tileView" \
                    and obj.parent().model().rowCount() > 0:
                if not self.tiles_painted:
                    self.tiles_painted = True
                    mark("tiles")
                tiles = obj.parent().model().sourceModel()
                if any(tiles.row(i).stale_reason is None for i in range(tiles.rowCount())):
                    mark("live")
                    import os; os._exit(0)
        return False
watch = Watch()
app.installEventFilter(watch)
from hvconsole.app import run_gui
run_gui(demo=True)
"""


# A first start's timeline: the same child, with marks where the first tiles wait (the
# site's modules and start, the GUI's turn, each host's shell, command and answer, the
# batch handed to the monitor), each with its thread and that thread's CPU time.
TIMELINE = r"""
import functools, importlib.abc, importlib.util, sys, threading, time
T0 = float(sys.argv[1])
LOCK = threading.Lock()
def mark(what):
    line = (f"{(time.time() - T0) * 1000:7.0f} ms  {threading.current_thread().name[:20]:20s}"
            f"  thread CPU {time.thread_time() * 1000:5.0f} ms"
            f"  process CPU {time.process_time() * 1000:5.0f} ms  {what}\n")
    with LOCK:
        sys.stdout.write(line)
        sys.stdout.flush()
def wrap(owner, attr, label, who=None):
    orig = getattr(owner, attr, None)
    if orig is None:
        return
    @functools.wraps(orig)
    def marked(*a, **k):
        name = label + (" " + who(*a) if who else "")
        mark("> " + name)
        try:
            return orig(*a, **k)
        finally:
            mark("< " + name)
    setattr(owner, attr, marked)
host = lambda self, *a: self.target.name
PATCHES = {
    "hvconsole.app": lambda m: [wrap(m, "_open_demo", "the demo site opens"),
                                wrap(m, "_with_history", "its history file opens"),
                                wrap(m, "_prepare_site_view", "the workers' and monitor's modules"),
                                wrap(m, "_read_last_known", "the last known state"),
                                wrap(m.GuiSession, "open_demo", "GUI: the demo opens"),
                                wrap(m.GuiSession, "_monitor_site", "GUI: workers, monitor, page"),
                                wrap(m.GuiSession, "_show_page", "GUI: the page"),
                                wrap(m.GuiSession, "_start_polling", "GUI: polling starts"),
                                wrap(m.GuiSession, "_after_polls_away", "GUI: health check, history, page")],
    "hvconsole.sim.child": lambda m: [wrap(m.DemoProcess, "spawn", "the demo's process starts"),
                                      wrap(m.DemoProcess, "_read_first_line", "the demo's process answers")],
    "hvconsole.monitoring.host_compliance": lambda m: wrap(m.CatalogSource, "get", "the site catalog"),
    "hvconsole.remote.collector": lambda m: wrap(m.Collector, "poll", "poll", host),
    "hvconsole.remote.session": lambda m: [wrap(m.HostSession, "_ensure_shell", "shell opened", host),
                                           wrap(m.HostSession, "_receive_all", "command's answer", host)],
    "hvconsole.ui.monitor.polling": lambda m: wrap(m.PollingService, "flush", "batch to the monitor"),
}
class Hook(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name not in PATCHES:
            return None
        sys.meta_path.remove(self)
        try:
            spec = importlib.util.find_spec(name)
        finally:
            sys.meta_path.insert(0, self)
        run = spec.loader.exec_module
        def exec_module(module):
            mark(f"import {name}")
            run(module)
            PATCHES[name](module)
        spec.loader.exec_module = exec_module
        return spec
sys.meta_path.insert(0, Hook())
"""


def bench_timeline() -> None:
    """One first start (a fresh home), marked: where the time to the first tiles goes."""
    import tempfile
    print_load()
    base = dict(os.environ, QT_QPA_PLATFORM=os.environ.get("QT_QPA_PLATFORM", "offscreen"))
    child = TIMELINE + CHILD.replace("def mark(what):\n    print(what, time.time(), time.process_time(), flush=True)\n",
                                     "").replace("import os; os._exit(0)", "sys.stdout.flush(); import os; os._exit(0)")
    with tempfile.TemporaryDirectory(prefix="hvconsole-timeline-") as tmp:
        proc = subprocess.run([sys.executable, "-c", child, repr(time.time())], capture_output=True, text=True,
                              env=dict(base, HVCONSOLE_HOME=tmp), timeout=120, cwd=ROOT)
    print("a first start of --demo, from process start (wall), by thread:")
    print(proc.stdout, end="")
    if proc.returncode != 0:
        print(proc.stderr[-2000:])


def _startup_run(env: dict) -> dict[str, tuple[float, float]]:
    """One child process: {mark: (seconds since start, its CPU seconds by then)}."""
    t0 = time.time()
    proc = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True, env=env,
                          timeout=120, cwd=ROOT)
    marks = {}
    for line in proc.stdout.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[0] in ("window", "tiles", "live"):
            marks[parts[0]] = (float(parts[1]) - t0, float(parts[2]))
    if "live" not in marks:
        raise RuntimeError(f"the window never showed live tiles: {proc.stderr[-2000:]}")
    return marks


def bench_startup(runs: int = 5) -> None:
    """Cold: a fresh HVCONSOLE_HOME each run (no last known state). Warm: one home, which a
    first run of 5 s (not counted) left its last known state in, as a second start finds it."""
    import tempfile
    print_load()
    base = dict(os.environ, QT_QPA_PLATFORM=os.environ.get("QT_QPA_PLATFORM", "offscreen"))
    with tempfile.TemporaryDirectory(prefix="hvconsole-startup-") as tmp:
        cold = []
        for k in range(runs):
            cold.append(_startup_run(dict(base, HVCONSOLE_HOME=str(Path(tmp) / f"cold-{k}"))))
        warm_home = str(Path(tmp) / "warm")
        subprocess.run([sys.executable, "-m", "hvconsole", "--demo", "--screenshot", str(Path(tmp) / "seed.png"),
                        "--after", "5"], env=dict(base, HVCONSOLE_HOME=warm_home), cwd=ROOT,
                       capture_output=True, timeout=120, check=True)
        warm = [_startup_run(dict(base, HVCONSOLE_HOME=warm_home)) for _ in range(runs)]
    for title, results in (("cold (first start: no last known state)", cold),
                           ("warm (second start: last known tiles)", warm)):
        print(f"startup --demo, {title}, {runs} runs, from process start (wall / the process's CPU):")
        for key, words in (("window", "first painted window"), ("tiles", "first painted tiles"),
                           ("live", "first painted live tile")):
            wall = [r[key][0] for r in results]
            cpu = [r[key][1] for r in results]
            print(f"  {words:24s} median {statistics.median(wall):.2f} s  max {max(wall):.2f} s"
                  f"   CPU median {statistics.median(cpu):.2f} s")
    print("  targets: window ≤ 2.5 s, tiles ≤ 1.0 s (the last known ones on a second start)")


def _headless_default() -> None:
    # Without a display the xcb plugin cannot start: measure offscreen instead of aborting.
    if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

def main() -> int:
    _headless_default()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", nargs="?", default="all", choices=("tick", "stall", "memory", "startup", "all"))
    parser.add_argument("--seconds", type=float, default=60.0, help="stall: how long to watch")
    parser.add_argument("--timeline", action="store_true",
                        help="startup: one first start's timeline instead of the 5+5 runs")
    parser.add_argument("--no-gc-freeze", dest="gc_freeze", action="store_false",
                        help="stall: leave out the app's gc.freeze() at the first tick (to compare)")
    args = parser.parse_args()
    if args.what == "startup" and args.timeline:
        bench_timeline()
    elif args.what in ("startup", "all"):
        bench_startup()
    if args.what in ("tick", "all"):
        bench_tick()
    if args.what in ("stall", "all"):
        bench_stall(seconds=args.seconds, gc_freeze=args.gc_freeze)
    if args.what in ("memory", "all"):
        bench_memory()
    return 0


if __name__ == "__main__":
    sys.exit(main())
