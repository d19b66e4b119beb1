"""Steady-state CPU of the console: 50 hosts × 40 VMs polled every 5 s. Prints numbers;
asserts nothing.

The simulated site runs in a separate process (one WS-Management endpoint per host, NTLM
with message encryption, as a domain-joined Hyper-V host answers), so that the figure is
the console's alone: this process's CPU time (all threads: the poll workers' NTLM sealing,
HTTP, XML, JSON parsing, the freeze detector, history and rows; and the GUI thread's model
updates and painting) over a measured stretch, as percent of one core.

``--history`` attaches a history writer (a throwaway file) to every worker, as the window
does. ``--loop`` polls every host through the collect loop (``Target.collect_loop``,
docs/winrm.md "The collect loop"): a steady poll is Send + Receive instead of Command +
Receive + Signal. The figure is split per thread: the GUI thread, the poll workers, the watchdog, the
history writer and the rest, from each thread's own CPU time in ``/proc``.

``--phases`` says where the GUI thread's CPU goes: every top-level event dispatch timed in
the thread's CPU (event type and receiver), and the thread's Python profiled, over the
measured stretch. Both cost CPU themselves: compare phases with each other, and the
percentages only with runs without it.

Run (offscreen works)::

    QT_QPA_PLATFORM=offscreen .venv/bin/python benchmarks/console_cpu.py [--seconds 60] [--history] [--loop]
    # the GUI thread's CPU by event and by Python function
    QT_QPA_PLATFORM=offscreen .venv/bin/python benchmarks/console_cpu.py --phases
    # where the time goes: sample every thread with py-spy while it runs
    py-spy record --idle -o profile.svg -- .venv/bin/python benchmarks/console_cpu.py
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# The site process: HOSTS hosts of VMS VMs each, roles cycled from the demo's load
# profiles, served with NTLM over HTTP (sealed bodies), one line of JSON per host.
SITE = r"""
import json, secrets, sys, signal, threading
sys.path.insert(0, sys.argv[3])
from bench_site import populate
from hvconsole.sim.model.clock import SimClock
from hvconsole.sim.agent.host_agent import HostAgent
from hvconsole.sim.model.site import SimSite
from hvconsole.sim.serve import ServedHost, ServedSite
from hvconsole.sim.wsman import WsmanEndpoint
hosts, vms = int(sys.argv[1]), int(sys.argv[2])
site = SimSite(SimClock(), seed=7, name="cpu-bench")
populate(site, hosts, vms)
served_hosts = []
bench_password = secrets.token_urlsafe(16)      # made up at run time
for sim in site.hosts.values():
    ep = WsmanEndpoint(HostAgent(sim, site), username="bench", password=bench_password,
                       auth="ntlm", name=sim.name)
    ep.start()
    served_hosts.append(ServedHost(sim.name, ep.url, "bench", bench_password, ep, sim))
served = ServedSite(site, served_hosts)
served.start()
for s in served_hosts:
    print(json.dumps({"host": s.name, "url": s.url, "user": s.user, "password": s.password}), flush=True)
signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
threading.Event().wait()
"""


def process_cpu_s() -> float:
    """User + system CPU of this process, every thread included."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def thread_cpu_s() -> dict[int, float]:
    """Each thread's user + system CPU so far, by its native id (Linux; empty elsewhere)."""
    tick = os.sysconf("SC_CLK_TCK")
    out: dict[int, float] = {}
    try:
        tids = os.listdir("/proc/self/task")
    except OSError:
        return out
    for tid in tids:
        try:
            with open(f"/proc/self/task/{tid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:     # the thread ended meanwhile
            continue
        out[int(tid)] = (int(fields[11]) + int(fields[12])) / tick
    return out


def thread_split(before: dict[int, float], after: dict[int, float], kinds: dict[int, str]) -> dict[str, float]:
    """CPU seconds between two readings, summed by kind of thread."""
    split: dict[str, float] = {}
    for tid in set(before) | set(after):
        kind = kinds.get(tid, "other")
        split[kind] = split.get(kind, 0.0) + after.get(tid, before.get(tid, 0.0)) - before.get(tid, 0.0)
    return split


class Phases:
    """The GUI thread's CPU by top-level event dispatch (event type → receiver) and by
    Python function, between :meth:`measuring` (True) and :meth:`measuring` (False)."""

    def __init__(self) -> None:
        import cProfile

        from ui import DispatchLog  # benchmarks/ui.py: how a dispatch is named
        self.names = DispatchLog()
        self.by_event: dict[str, list[float]] = {}      # what -> [CPU s, count]
        self.depth = 0
        self.on = False
        self.profile = cProfile.Profile()

    def install(self) -> None:
        from PySide6.QtCore import QEvent, QObject
        from PySide6.QtWidgets import QApplication
        phases = self

        class PhaseApplication(QApplication):
            def notify(self, receiver, event):
                if not phases.on or not isinstance(receiver, QObject):
                    return super().notify(receiver, event)
                if phases.depth:
                    if event.type() != QEvent.Type.Paint:
                        return super().notify(receiver, event)
                    # A widget's paint (its children's are events of their own).
                    c0 = time.thread_time()
                    try:
                        return super().notify(receiver, event)
                    finally:
                        spent = time.thread_time() - c0
                        phases.count(f"  {phases.names.name(receiver, event)}", spent)
                phases.depth += 1
                c0 = time.thread_time()
                try:
                    return super().notify(receiver, event)
                finally:
                    phases.depth -= 1
                    spent = time.thread_time() - c0     # before the naming, which is not the event's
                    phases.count(phases.names.name(receiver, event), spent)
        self.app = PhaseApplication([sys.argv[0]])

    def count(self, what: str, spent: float) -> None:
        entry = self.by_event.setdefault(what, [0.0, 0])
        entry[0] += spent
        entry[1] += 1

    def measuring(self, on: bool) -> None:
        self.on = on
        if on:
            self.profile.enable()       # this thread only (Python < 3.12)
        else:
            self.profile.disable()

    def report(self, gui_s: float, wall_s: float) -> None:
        import io
        import pstats
        inside = sum(s for what, (s, _n) in self.by_event.items() if not what.startswith(" "))
        print(f"  GUI thread: {1000 * gui_s:.0f} ms of CPU, {1000 * inside:.0f} ms of it in event dispatches "
              f"(timed and profiled, so more than without --phases); by dispatch, most first "
              "(indented: widgets' paints inside them):")
        for what, (spent, count) in sorted(self.by_event.items(), key=lambda kv: -kv[1][0])[:25]:
            print(f"    {1000 * spent:7.1f} ms  {count:6d} × {1e6 * spent / count:7.0f} µs  {what}")
        out = io.StringIO()
        pstats.Stats(self.profile, stream=out).sort_stats("cumulative").print_stats(45)
        print("  the GUI thread's Python, by cumulative time:")
        print(out.getvalue())
        out = io.StringIO()
        pstats.Stats(self.profile, stream=out).sort_stats("tottime").print_stats(30)
        print("  the same, by own time:")
        print(out.getvalue())


def main() -> int:
    if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=50)
    parser.add_argument("--vms", type=int, default=40)
    parser.add_argument("--interval", type=float, default=5.0)
    parser.add_argument("--warmup", type=float, default=30.0, help="seconds before measuring")
    parser.add_argument("--seconds", type=float, default=60.0, help="seconds measured")
    parser.add_argument("--history", action="store_true",
                        help="attach a history writer to every worker, as the window does")
    parser.add_argument("--loop", action="store_true",
                        help="poll every host through the collect loop (Target.collect_loop)")
    parser.add_argument("--phases", action="store_true",
                        help="time the GUI thread's event dispatches and profile its Python (costs CPU itself)")
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores "
          "(CPU time is this process's own; wall-clock figures grow with the load)")

    sys.path.insert(0, str(ROOT))
    from PySide6.QtCore import QTimer

    from benchmarks.ui import make_app, make_window
    from hvconsole.monitoring.host_worker import worker_for_target
    from hvconsole.remote.target import Target
    from hvconsole.ui.monitor.monitor import Monitor

    site = subprocess.Popen([sys.executable, "-c", SITE, str(args.hosts), str(args.vms),
                             str(Path(__file__).resolve().parent)],
                            stdout=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        hosts = [json.loads(site.stdout.readline()) for _ in range(args.hosts)]
        phases = Phases() if args.phases else None
        if phases is not None:
            phases.install()    # the timing application must exist before make_app's
        app = make_app()
        # collect_loop only when asked: a "before" export's Target has no such field.
        loop = {"collect_loop": True} if args.loop else {}
        targets = [Target(h["host"], h["url"], h["user"], h["password"], transport="ntlm", **loop) for h in hosts]
        workers = [worker_for_target(t, timeout_s=10.0, poll_interval_s=args.interval) for t in targets]
        polls = [0]     # polls finished (a loaded machine may fit fewer into the minute)
        kinds: dict[int, str] = {threading.get_native_id(): "GUI thread"}

        def counted(poll_once):
            def poll(*a, **kw):
                kinds[threading.get_native_id()] = "poll workers"
                try:
                    return poll_once(*a, **kw)
                finally:
                    polls[0] += 1   # one int add under the GIL: exact enough for a figure
            return poll

        for w in workers:
            w.poll_once = counted(w.poll_once)
        monitor = Monitor(workers, interval_s=args.interval)
        history_writer = None
        if args.history:
            from hvconsole.core.historydb import HistoryWriter
            history_writer = HistoryWriter(Path(tempfile.mkdtemp(prefix="hvc-cpu-")) / "history.sqlite")
            for w in workers:
                w.history_writer = history_writer
        window = make_window(monitor)
        marks: dict[str, tuple[float, float, int, float, int]] = {}
        site_cpu: dict[str, float] = {}
        threads: dict[str, dict[int, float]] = {}

        def site_cpu_s() -> float:
            with open(f"/proc/{site.pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

        def mark(name: str) -> None:
            if phases is not None:
                phases.measuring(name == "start")
            marks[name] = (time.perf_counter(), process_cpu_s(), monitor.ticks, time.thread_time(), polls[0])
            site_cpu[name] = site_cpu_s()
            threads[name] = thread_cpu_s()

        # As the app does (run_gui): once the first answers are shown, everything alive is
        # moved out of the garbage collector's sight (hvconsole.app.freeze_startup_objects);
        # without it every collection of a worker walks the window's objects too.
        from hvconsole.app import freeze_startup_objects

        def first_tick(_stats: object) -> None:
            monitor.applied.disconnect(first_tick)
            freeze_startup_objects()
        monitor.applied.connect(first_tick)
        monitor.start()
        QTimer.singleShot(int(args.warmup * 1000), lambda: mark("start"))
        QTimer.singleShot(int((args.warmup + args.seconds) * 1000), lambda: (mark("end"), app.quit()))
        app.exec()
        wall = marks["end"][0] - marks["start"][0]
        cpu = marks["end"][1] - marks["start"][1]
        gui = marks["end"][3] - marks["start"][3]
        rows = monitor.hosts.rows()
        hosts_shown = sum(1 for _ in rows)
        measured_polls = marks["end"][4] - marks["start"][4]
        print(f"console CPU: {args.hosts} hosts × {args.vms} VMs = {monitor.tiles.rowCount()} tiles, polled every "
              f"{args.interval:g} s over NTLM (sealed), window 1920×1080 shown; {args.warmup:g} s warm-up, "
              f"{wall:.0f} s measured, {marks['end'][2] - marks['start'][2]} ticks"
              f"{', through the collect loop' if args.loop else ''}")
        # Hundredths and milliseconds: a change of a tenth of a percent is what a pass moves.
        print(f"  console process   {100 * cpu / wall:5.2f} % of one core   "
              f"(CPU {1000 * cpu:.0f} ms in {wall:.1f} s wall)")
        print(f"  of which GUI thread {100 * gui / wall:5.2f} % of one core   (CPU {1000 * gui:.0f} ms)")
        print(f"  {measured_polls} polls finished, {1000 * cpu / max(1, measured_polls):.2f} ms of console CPU a poll "
              f"({args.hosts * wall / args.interval:.0f} due)")
        for t in threading.enumerate():     # the Python threads' names, by native id
            if t.native_id is not None and t.native_id not in kinds:
                kinds[t.native_id] = {"hvc-watchdog": "watchdog", "history-writer": "history writer"}.get(
                    t.name, "other")
        split = thread_split(threads["start"], threads["end"], kinds)
        print("  by thread: " + ", ".join(f"{kind} {100 * s / wall:.2f} %"
                                          for kind, s in sorted(split.items(), key=lambda kv: -kv[1])))
        print(f"  simulated site process (not the console) {100 * (site_cpu['end'] - site_cpu['start']) / wall:5.1f} %")
        print(f"  reachable {sum(1 for r in rows if r.reachable)} of {hosts_shown} hosts")
        if phases is not None:
            phases.report(gui, wall)
        window.close()
        monitor.shutdown(5.0)
        if history_writer is not None:
            history_writer.close()
    finally:
        site.terminate()
        site.wait(10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
