"""What a poll costs once its answer is in: the JSON, the snapshot parse, the detector, the
history, the tile and host rows. Prints numbers; asserts nothing.

The answers are recorded first from an in-process simulated site (the hosts and VMs of
``console_cpu.py``, the collect script's real answers, 5 s of simulated time apart), then
replayed through ``HostWorker.poll_once`` with a collector that does the client's half of
a poll (``json_document`` and ``snapshot_from_answer``) on the recorded text, so no
network and no NTLM are measured. Each stage's thread CPU time (``time.thread_time()``)
is summed per poll (and, apart, the sparkline geometry within the tile rows, and the
garbage collections that ran during the polls), in four arrangements of the same work:

* ``hot``: one host polled again and again in a loop (what a micro-benchmark sees);
* ``round``: every host in turn on one thread, as many hosts as ``console_cpu.py``
  (each host's data was last touched a whole round ago);
* ``turns``: one thread per host, released one after the other (each poll on its own
  thread, as in the console, but never two wanting the GIL at once);
* ``threads``: one thread per host, all released together each round (50 poll workers
  taking turns on the GIL).

Run::

    .venv/bin/python benchmarks/rows_cost.py [--hosts 50] [--vms 40] [--rounds 12]
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]

STAGES = ("json_document", "snapshot_from_answer", "detector", "history", "tile_rows", "sparklines", "host_row",
          "gc")


class Stages:
    """Thread CPU seconds per stage, summed over polls (one instance per arrangement)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.polls = 0
        self.on = False
        self._lock = threading.Lock()

    def timed(self, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def run(*args: Any, **kwargs: Any) -> Any:
            started = time.thread_time()
            try:
                return fn(*args, **kwargs)
            finally:
                if self.on:
                    spent = time.thread_time() - started
                    with self._lock:
                        self.seconds[name] += spent
        return run


def record_answers(hosts: int, vms: int, rounds: int) -> dict[str, list[str]]:
    """``rounds`` collect answers (stdout text) per host, 5 simulated seconds apart."""
    from bench_site import populate

    from hvconsole.remote import loader
    from hvconsole.sim.agent.host_agent import HostAgent
    from hvconsole.sim.model.clock import SimClock
    from hvconsole.sim.model.site import SimSite

    clock = SimClock.manual()
    site = SimSite(clock, seed=7, name="rows-bench")
    populate(site, hosts, vms)      # the same site as console_cpu.py's
    env = loader.shell_environment(("collect",))
    agents = {name: HostAgent(sim, site, latency_scale=0.0) for name, sim in site.hosts.items()}
    answers: dict[str, list[str]] = {name: [] for name in agents}
    for _ in range(rounds):
        clock.advance(5.0)
        for name, agent in agents.items():
            call = loader.prepare_call("collect", {"events_since": None, "max_events": 200,
                                                   "vm_query_timeout_ms": 7000})
            out = agent.execute(f"{call.command} {call.arguments}", env, call.stdin)
            answers[name].append(out.stdout.decode("utf-8").lstrip("\ufeff"))
    return answers


class Replay:
    """A collector that answers with the recorded texts, doing the client's half of a poll."""

    def __init__(self, host: str, texts: list[str], stages: Stages):
        from hvconsole.remote import collector
        from hvconsole.remote.session import ScriptResult
        self.host, self.texts, self.n = host, texts, 0
        self._result = ScriptResult
        self._json = stages.timed("json_document", collector.json_document)
        self._parse = stages.timed("snapshot_from_answer", collector.snapshot_from_answer)
        self._t0, self._step = datetime(2026, 1, 1, tzinfo=UTC), timedelta(seconds=5)

    def poll(self, cancel: Any = None) -> Any:
        text = self.texts[self.n % len(self.texts)]
        self.n += 1
        doc = self._json(self._result(text, "", 0, 3, 100), host=self.host, script="collect")
        snap, _ = self._parse(doc, self.host, self._t0 + self.n * self._step)
        return snap

    def close(self) -> None:
        pass


def make_workers(answers: dict[str, list[str]], stages: Stages) -> list[Any]:
    from hvconsole.core.detector import Detector
    from hvconsole.core.history import SiteHistory
    from hvconsole.monitoring import host_worker

    class Timed(SiteHistory):
        add = stages.timed("history", SiteHistory.add)

    workers = []
    for name, texts in answers.items():
        replay = Replay(name, texts, stages)

        def detector(stages: Stages = stages) -> Any:
            d = Detector()
            d.feed = stages.timed("detector", d.feed)   # type: ignore[method-assign]
            return d
        w = host_worker.HostWorker(name, name.lower(), collector_factory=lambda r=replay: r,
                                   detector_factory=detector, poll_interval_s=5.0)
        w.history = Timed(poll_interval_s=5.0)
        workers.append(w)
    return workers


def patch_rows(stages: Stages) -> Callable[[], None]:
    """Time the row builders where host_worker calls them, the sparkline geometry (part of
    tile_rows) where rows calls it, and the garbage collections; returns the undo."""
    from hvconsole.monitoring import host_worker, rows
    saved = host_worker.build_tile_rows, host_worker.build_host_row, rows.spark_batch
    host_worker.build_tile_rows = stages.timed("tile_rows", saved[0])
    host_worker.build_host_row = stages.timed("host_row", saved[1])
    rows.spark_batch = stages.timed("sparklines", saved[2])
    started: dict[int, float] = {}

    def collection(phase: str, info: dict[str, Any]) -> None:
        key = threading.get_ident()
        if phase == "start":
            started[key] = time.thread_time()
        elif key in started and stages.on:
            spent = time.thread_time() - started.pop(key)
            with stages._lock:
                stages.seconds["gc"] += spent
    gc.callbacks.append(collection)

    def undo() -> None:
        host_worker.build_tile_rows, host_worker.build_host_row, rows.spark_batch = saved
        gc.callbacks.remove(collection)
    return undo


def run(arrangement: str, answers: dict[str, list[str]], rounds: int, warm: int) -> Stages:
    stages = Stages()
    undo = patch_rows(stages)
    try:
        workers = make_workers(answers, stages)
        whole = stages.timed("poll_once", lambda w: w.poll_once())
        if arrangement == "hot":
            w = workers[0]
            for r in range(warm + rounds * len(workers)):
                stages.on = r >= warm
                whole(w)
                stages.polls += stages.on
        elif arrangement == "round":
            for r in range(warm + rounds):
                stages.on = r >= warm
                for w in workers:
                    whole(w)
                    stages.polls += stages.on
        else:
            go = [threading.Event() for _ in workers]
            done = threading.Barrier(len(workers) + 1)

            def loop(i: int, w: Any) -> None:
                for _ in range(warm + rounds):
                    go[i].wait()
                    go[i].clear()
                    whole(w)
                    done.wait()
            threads = [threading.Thread(target=loop, args=(i, w), daemon=True) for i, w in enumerate(workers)]
            for t in threads:
                t.start()
            for r in range(warm + rounds):
                stages.on = r >= warm
                if arrangement == "threads":
                    for g in go:
                        g.set()
                    done.wait()
                else:   # "turns": the same threads, one at a time (no two want the GIL at once)
                    for i, g in enumerate(go):
                        g.set()
                        while go[i].is_set() or done.n_waiting < i + 1:
                            time.sleep(0.0002)
                    done.wait()
                stages.polls += len(workers) if stages.on else 0
            for t in threads:
                t.join()
    finally:
        undo()
    return stages


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=50)
    parser.add_argument("--vms", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=12, help="measured rounds (every host polled once a round)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each arrangement; the median is shown")
    parser.add_argument("--switch-interval", type=float, default=None,
                        help="sys.setswitchinterval (default: the app's)")
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores "
          "(figures are thread CPU time, not wall)")
    sys.path.insert(0, str(ROOT))
    from hvconsole.app import SWITCH_INTERVAL_S
    sys.setswitchinterval(args.switch_interval or SWITCH_INTERVAL_S)
    warm = 3
    answers = record_answers(args.hosts, args.vms, warm + args.rounds)
    size = statistics.mean(len(t) for texts in answers.values() for t in texts)
    print(f"{args.hosts} hosts × {args.vms} VMs, answers of {size / 1000:.1f} kB, "
          f"{args.rounds} rounds measured after {warm}; CPU µs a poll, median of {args.repeat} runs")
    gc.collect()
    gc.freeze()     # as the app does at its first tick: what was there before is left alone
    names = ("poll_once", *STAGES)
    print("(sparklines: the NumPy geometry, within tile_rows; gc: the collections during the polls, "
          "within whichever stage made them)")
    print(f"{'arrangement':<10}" + "".join(f"{n[:18]:>20}" for n in names))
    for arrangement in ("hot", "round", "turns", "threads"):
        runs = [run(arrangement, answers, args.rounds, warm) for _ in range(args.repeat)]
        line = f"{arrangement:<10}"
        for n in names:
            line += f"{statistics.median(1e6 * s.seconds[n] / max(1, s.polls) for s in runs):>20.0f}"
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
