"""Record a simulated site as a snapshot-v1 trace, fast and without a network.

Each host gets a poller like the real one (``remote/collector.py``): one poll at a time,
the next starting ``interval`` after the previous one started or when it finished,
whichever is later. A poll runs the real command line (``remote/loader.prepare_call``)
through the host's :class:`~hvconsole.sim.agent.host_agent.HostAgent`, and the answer is turned
into a snapshot the way the collector does it: ``events_bookmark`` taken out and sent
back next time, ``schema/host/polled_at/reachable/error`` added, and the result parsed
and re-serialised by ``core.parse``. A hung host yields ``reachable: false`` with error
kind ``timeout`` after the poll timeout; a host that is down, kind ``refused``, at once.
The site's manual clock is driven forward; nothing waits for real time.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator
from typing import Any

from hvconsole.core.parse import SnapshotFormatError
from hvconsole.core.poll_budget import DEFAULT_POLL_TIMEOUT_S, vm_query_budget_ms
from hvconsole.core.snapshot import unreachable
from hvconsole.remote.answer import json_document
from hvconsole.remote.collector import snapshot_from_answer
from hvconsole.remote.errors import RemoteError
from hvconsole.remote.loader import prepare_call, shell_environment
from hvconsole.remote.session import ScriptResult

from .agent.host_agent import HostAgent
from .model.host import SimHost
from .model.load import jitter
from .model.site import SimSite

NETWORK_S = 0.035        # HTTP round trips of one call on a LAN (Command + Receive + Signal)


def record(site: SimSite, *, seconds: float, interval: float = 5.0, poll_timeout_s: float = DEFAULT_POLL_TIMEOUT_S,
           max_events: int = 200, vm_query_timeout_ms: int | None = None) -> Iterator[dict[str, Any]]:
    """Snapshot-v1 dicts for every host every ``interval`` seconds, ``polled_at`` ascending.

    The site must run on a manual clock (``SimClock.manual``); it is advanced to the end.
    """
    if not site.clock.is_manual:
        raise ValueError("record() drives the site's clock: build the site with SimClock.manual()")
    if interval <= 0 or seconds < 0:
        raise ValueError("interval must be positive and seconds not negative")
    # The client's own rule (core/poll_budget.py): the VM query gives up before the deadline.
    budget_ms = vm_query_budget_ms(poll_timeout_s) if vm_query_timeout_ms is None else vm_query_timeout_ms
    pollers = [_Poller(host, site, poll_timeout_s, max_events, budget_ms)
               for host in site.hosts.values()]
    t0 = site.advance()
    end = t0 + seconds
    starts = [(t0, i) for i in range(len(pollers))]
    finished: list[tuple[float, int, dict[str, Any]]] = []
    heapq.heapify(starts)
    while starts and starts[0][0] <= end:
        start_t, i = heapq.heappop(starts)
        while finished and finished[0][0] <= start_t:
            yield heapq.heappop(finished)[2]
        _move_clock(site, start_t)
        snapshot, finish_t = pollers[i].poll(start_t)
        heapq.heappush(finished, (finish_t, i, snapshot))
        heapq.heappush(starts, (max(start_t + interval, finish_t), i))
    while finished:
        finish_t, _, snapshot = heapq.heappop(finished)
        _move_clock(site, finish_t)
        yield snapshot
    _move_clock(site, end)


def _move_clock(site: SimSite, t: float) -> None:
    gap = t - site.t_of(site.clock.now())
    if gap > 0:
        site.clock.advance(gap)
    site.advance()


class _Poller:
    """One host's poller: its shell environment, its events bookmark."""

    def __init__(self, host: SimHost, site: SimSite, timeout_s: float, max_events: int,
                 vm_query_timeout_ms: int):
        self.host, self.site = host, site
        self.timeout_s = timeout_s
        self.max_events = max_events
        self.vm_query_timeout_ms = vm_query_timeout_ms
        self.agent = HostAgent(host, site, latency_scale=0.0)
        self.env = shell_environment(("collect",))   # what the real polling shell carries
        self.bookmark: str | None = None

    def poll(self, t: float) -> tuple[dict[str, Any], float]:
        """Run one poll starting at ``t``; returns the snapshot dict and when it finished."""
        name = self.host.name
        reach = self.host.reachability()
        if reach == "down":
            took = jitter(self.host.seed ^ 91, t, 0.002, 0.02)
            return self._failed(t, t + took, "refused",
                                f"{name} refused the connection (is WinRM running and the port open?)"), t + took
        if reach == "hung":
            return self._failed(t, t + self.timeout_s, "timeout",
                                f"no answer from {name} within {self.timeout_s:g} s"), t + self.timeout_s
        call = prepare_call("collect", {"events_since": self.bookmark, "max_events": self.max_events,
                                        "vm_query_timeout_ms": self.vm_query_timeout_ms})
        answer = self.agent.execute(f"{call.command} {call.arguments}", self.env, call.stdin)
        took = answer.duration_s + NETWORK_S
        if took > self.timeout_s:
            return self._failed(t, t + self.timeout_s, "timeout",
                                f"no answer from {name} within {self.timeout_s:g} s"), t + self.timeout_s
        finish = t + took
        # The same judgement and client fields as the real collector (remote/answer.py,
        # remote/collector.py), so a recorded trace is what the product would have seen.
        result = ScriptResult(stdout=answer.stdout.decode("utf-8", errors="replace"),
                              stderr=answer.stderr.decode("utf-8", errors="replace"),
                              exit_code=answer.exit_code, requests=3, elapsed_ms=int(took * 1000))
        try:
            doc = json_document(result, host=name, script="collect")
            snapshot, bookmark = snapshot_from_answer(doc, name, self.site.time_of(finish))
        except RemoteError as exc:
            return self._failed(t, finish, exc.kind, exc.message), finish
        except SnapshotFormatError as exc:  # a simulator bug: recorded, like the collector would
            return self._failed(t, finish, "protocol", f"bad field {exc.field}: {exc.problem}"), finish
        if bookmark is not None:
            self.bookmark = bookmark
        return snapshot.to_dict(), finish

    def _failed(self, start_t: float, finish_t: float, kind: str, message: str) -> dict[str, Any]:
        return unreachable(self.host.name, self.site.time_of(finish_t), kind, message,
                           int((finish_t - start_t) * 1000)).to_dict()
