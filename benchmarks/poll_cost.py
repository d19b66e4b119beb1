"""What one poll costs: our reused shell vs. a fresh pywinrm session and shell per poll.

Starts the simulated site in a separate process (``hvconsole-sim serve --json``) so that
the numbers are the client's alone, then polls one host both ways:

* **reuse** (hvconsole): ``Collector.poll()`` on one HostSession: Command + Receive + Signal
  on a shell opened once, over one kept-alive connection;
* **fresh** (what ``winrm.Session.run_ps`` does): a new ``winrm.Session`` per poll, Create
  shell, Command, Receive, Signal, Delete shell, and a new connection (with NTLM, a new
  handshake). The collect body cannot go through ``run_ps`` itself (the command line is
  limited to ~8 KB), so it travels the same way as ours: in the new shell's environment.

HTTP requests are counted on the client: ours by the session's own count (its steady-state
requests bypass requests' adapter), the fresh way by wrapping ``requests``' HTTPAdapter.send,
which sees every request, authentication legs included. Run::

    .venv/bin/python benchmarks/poll_cost.py [--polls 20] [--host NAME]
    # one host of console_cpu.py's site instead: 40 VMs, NTLM with sealed messages
    .venv/bin/python benchmarks/poll_cost.py --ntlm --polls 200
    # ours through the collect loop (docs/winrm.md, "The collect loop"): Send + Receive
    .venv/bin/python benchmarks/poll_cost.py --ntlm --polls 40 --loop
    # ours only (no fresh-session comparison): half the run time, for before/after pairs
    .venv/bin/python benchmarks/poll_cost.py --ntlm --polls 200 --ours-only
"""

from __future__ import annotations

import argparse
import json
import queue
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import requests.adapters
import winrm

from hvconsole.core.timeutil import utcnow
from hvconsole.remote import loader
from hvconsole.remote.answer import json_document
from hvconsole.remote.collector import Collector, snapshot_from_answer
from hvconsole.remote.session import ScriptResult
from hvconsole.remote.target import Target


class RequestCounter:
    """Counts every HTTP request requests sends in this process."""

    def __init__(self) -> None:
        self.count = 0
        self._lock = threading.Lock()
        self._original = requests.adapters.HTTPAdapter.send

    def install(self) -> None:
        counter, original = self, self._original

        def counting_send(adapter, request, *args, **kwargs):
            with counter._lock:
                counter.count += 1
            return original(adapter, request, *args, **kwargs)

        requests.adapters.HTTPAdapter.send = counting_send  # type: ignore[method-assign]

    def uninstall(self) -> None:
        requests.adapters.HTTPAdapter.send = self._original  # type: ignore[method-assign]


def start_site(ntlm: bool = False) -> tuple[subprocess.Popen, list[dict]]:
    """Run ``hvconsole-sim serve --json``; it prints one JSON object per host, then serves.
    With ``ntlm``: one host of console_cpu.py's site (40 VMs, NTLM, sealed bodies)."""
    if ntlm:
        from console_cpu import ROOT, SITE
        cmd = [sys.executable, "-c", SITE, "1", "40", str(Path(__file__).resolve().parent)]  # + bench_site.py
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, cwd=ROOT)
    else:
        exe = Path(sys.executable).with_name("hvconsole-sim")
        cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "hvconsole.sim.cli"]
        proc = subprocess.Popen([*cmd, "serve", "--json"], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in proc.stdout], daemon=True).start()
    hosts = []
    try:
        hosts.append(json.loads(lines.get(timeout=60)))
        while True:   # the rest of the announcement follows at once
            hosts.append(json.loads(lines.get(timeout=1.0)))
    except queue.Empty:
        pass
    if not hosts:
        proc.kill()
        raise SystemExit("hvconsole-sim serve --json announced no hosts")
    return proc, hosts


def target_of(host: dict, loop: bool = False) -> Target:
    # hvconsole-sim serve speaks Basic over HTTP on loopback (pywinrm's "plaintext").
    extra = {"collect_loop": True} if loop else {}      # a "before" export's Target has no such field
    return Target(name=host["host"], url=host["url"], username=host["user"], password=host["password"],
                  transport=host.get("transport", "plaintext"), **extra)


Sample = tuple[float, float, int]   # wall seconds, client CPU seconds, HTTP requests


def measure(count, fn) -> Sample:
    """``count()``: HTTP requests sent so far."""
    before, t0, c0 = count(), time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - t0, time.process_time() - c0, count() - before


def poll_reuse(target: Target, polls: int) -> list[Sample]:
    collector = Collector(target, timeout_s=60)
    try:
        warm = collector.poll()   # opens the shell (and authenticates): not steady state
        if not warm.reachable:
            raise SystemExit(f"{target.name}: {warm.error.kind}: {warm.error.message}")
        samples = []
        for _ in range(polls):
            results: list = []
            samples.append(measure(lambda: collector.session.requests_sent,
                                   lambda results=results: results.append(collector.poll())))
            assert results[0].reachable, results[0].error
        return samples
    finally:
        collector.close()


def poll_fresh(target: Target, polls: int, counter: RequestCounter) -> list[Sample]:
    return [measure(lambda: counter.count, lambda: fresh_poll(target)) for _ in range(polls)]


def fresh_poll(target: Target) -> None:
    """One poll the way ``Session.run_ps`` works, with the body in the environment instead
    of the command line: new Session, Create, Command (through cmd.exe), Receive until
    done, Signal, Delete (which also closes the HTTP session)."""
    params = {"events_since": None, "max_events": 200, "vm_query_timeout_ms": 15000}
    session = winrm.Session(target.url, auth=(target.username, target.password),
                            transport=target.transport, proxy=None)
    protocol = session.protocol
    # The same shell environment as the Collector's: the collect script's body only.
    shell_id = protocol.open_shell(env_vars=loader.shell_environment(("collect",)), codepage=65001,
                                   noprofile=True)
    call = loader.prepare_call("collect", params)
    command_id = protocol.run_command(shell_id, call.command, [call.arguments])
    stdout, stderr, code = protocol.get_command_output(shell_id, command_id)
    protocol.cleanup_command(shell_id, command_id)
    protocol.close_shell(shell_id)
    assert code == 0, stderr
    # The same client-side work as Collector.poll: decode (either answer form), add client
    # fields, parse.
    result = ScriptResult(stdout.decode("utf-8").lstrip("\ufeff"), stderr.decode("utf-8", "replace"), code, 0, 0)
    doc = json_document(result, host=target.name, script="collect")
    snapshot_from_answer(doc, target.name, utcnow())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--polls", type=int, default=20)
    parser.add_argument("--host", help="demo host to poll (default: the first)")
    parser.add_argument("--ntlm", action="store_true",
                        help="poll one 40-VM host over NTLM with sealed messages (console_cpu.py's site)")
    parser.add_argument("--loop", action="store_true",
                        help="ours through the collect loop (Target.collect_loop): Send + Receive a poll")
    parser.add_argument("--ours-only", action="store_true",
                        help="measure ours alone, without the fresh session+shell comparison")
    args = parser.parse_args()

    proc, hosts = start_site(args.ntlm)
    if args.ntlm:
        hosts = [{**h, "transport": "ntlm"} for h in hosts]
    counter = RequestCounter()
    counter.install()
    try:
        host = next((h for h in hosts if h["host"] == args.host), None) if args.host else hosts[0]
        if host is None:
            raise SystemExit(f"no host {args.host!r}; the site has {', '.join(h['host'] for h in hosts)}")
        target = target_of(host, args.loop)
        reuse = poll_reuse(target, args.polls)
        fresh = [] if args.ours_only else poll_fresh(target, args.polls, counter)
    finally:
        counter.uninstall()
        proc.terminate()
        proc.wait(10)

    def row(name: str, samples: list[Sample]) -> str:
        wall = sorted(s[0] for s in samples)
        p90 = wall[max(0, int(len(wall) * 0.9) - 1)]
        return (f"{name:<24}{len(samples):>6}{statistics.mean(s[2] for s in samples):>11.1f}"
                f"{statistics.median(wall) * 1000:>12.1f}{p90 * 1000:>10.1f}"
                f"{statistics.median(s[1] for s in samples) * 1000:>15.1f}")

    def ratio(index: int, fn=statistics.median) -> float:
        return fn(s[index] for s in fresh) / fn(s[index] for s in reuse)

    print(f"host {target.name} ({target.transport}, {target.url}), {args.polls} steady-state polls each")
    print(f"{'approach':<24}{'polls':>6}{'HTTP/poll':>11}{'median ms':>12}{'p90 ms':>10}{'client CPU ms':>15}")
    print(row("collect loop (ours)" if args.loop else "reused shell (ours)", reuse))
    if fresh:
        print(row("fresh session+shell", fresh))
        print(f"{'ratio fresh / ours':<30}{ratio(2, statistics.mean):>11.2f}x{ratio(0):>11.2f}x"
              f"{'':>10}{ratio(1):>14.2f}x")
    # The mean beside the median: the median of per-poll figures hides rare costly polls
    # (a collection, a new connection) that a long run pays all the same.
    print(f"ours: client CPU a poll, mean {statistics.mean(s[1] for s in reuse) * 1000:.2f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
