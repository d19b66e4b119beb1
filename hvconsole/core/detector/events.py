"""Which host events matter to freeze detection, and a bounded memory of recent ones.

The table is data (hyperv-notes §4): event ids whose meaning the notes give, matched with
their channel and, when the host sent it, their provider; and a catch-all for any
Critical/Error event in a Hyper-V channel whose meaning we cannot check. Events are
evidence and escalation, never a freeze on their own: each category becomes a *warning*
finding that stays active for a while after its newest event.
"""

from __future__ import annotations

from collections import deque
from typing import NamedTuple

from ..snapshot import HostEvent
from .text import clean, clock

GUEST_CRASH = "guest-crash-events"
HYPERV_ERROR = "hyperv-error-events"
HOST_CRASH = "host-crash-events"
CLUSTER_FAILURE = "cluster-failure-events"
HOST_CATEGORIES = (HOST_CRASH, CLUSTER_FAILURE, HYPERV_ERROR)

HYPERV_LOG_PREFIX = "microsoft-windows-hyper-v"
CLUSTER_LOG_PREFIX = "microsoft-windows-failoverclustering"
SEVERE_LEVELS = frozenset({"Critical", "Error"})
# Listed ids also count at Warning: a level differing between Windows versions must not hide
# a listed event. (Microsoft's "Failover Clustering system log events" gives 1672, node
# quarantined, as Critical like 1135/1146/1177; 1069/1205/1230 are Error.)
LISTED_LEVELS = frozenset({"Critical", "Error", "Warning"})
# FailoverClustering 1135 is written by the *surviving* nodes; its first insertion string
# (%1) is the node that was removed, not the host that reports it (Microsoft's event
# reference; real captures in public bug reports agree).
NODE_REMOVED = 1135


class _Known(NamedTuple):
    category: str
    meaning: str
    providers: tuple[str, ...]  # accepted provider substrings (casefolded); () = any


# (channel family, id) -> meaning. Channel family: "hyperv", "system", "cluster".
KNOWN_EVENTS: dict[tuple[str, int], _Known] = {
    ("hyperv", 18560): _Known(GUEST_CRASH, "VM reset after a virtual-processor triple fault", ()),
    ("hyperv", 18590): _Known(GUEST_CRASH, "guest reported a fatal error", ()),
    ("system", 41): _Known(HOST_CRASH, "host rebooted without a clean shutdown", ("kernel-power",)),
    ("system", 6008): _Known(HOST_CRASH, "unexpected host shutdown", ("eventlog",)),
    ("system", 1001): _Known(HOST_CRASH, "host bugcheck", ("bugcheck", "wer-systemerrorreporting")),
    ("system", 7031): _Known(HOST_CRASH, "service terminated unexpectedly", ("service control manager",)),
    ("system", 7034): _Known(HOST_CRASH, "service terminated unexpectedly", ("service control manager",)),
}
for _id, _meaning in {
    1069: "cluster resource failed", 1146: "cluster resource host subsystem (RHS) terminated",
    1230: "cluster component did not respond in time (RHS deadlock)",
    1205: "cluster role not brought online/offline", 1135: "cluster node removed",
    1672: "cluster node quarantined", 1177: "cluster quorum lost",
}.items():
    KNOWN_EVENTS[("cluster", _id)] = _Known(CLUSTER_FAILURE, _meaning, ("failoverclustering",))


def _family(event: HostEvent) -> str | None:
    log = event.log.casefold()
    provider = (event.provider or "").casefold()
    if log.startswith(HYPERV_LOG_PREFIX):
        return "hyperv"
    if log.startswith(CLUSTER_LOG_PREFIX) or "failoverclustering" in provider:
        return "cluster"
    if log == "system":
        # FailoverClustering writes to System; without a provider the id decides below.
        return "system"
    return None


def classify(event: HostEvent) -> tuple[str, str] | None:
    """``(category, meaning)`` for an event that matters, else None."""
    family = _family(event)
    if family is None:
        return None
    provider = (event.provider or "").casefold()
    keys = [(family, event.id)]
    if family == "system" and not provider:
        keys.append(("cluster", event.id))
    for key in keys:
        known = KNOWN_EVENTS.get(key)
        if known is None or event.level not in LISTED_LEVELS:
            continue
        if provider and known.providers and not any(p in provider for p in known.providers):
            continue  # same id, another provider: a different event
        return known.category, known.meaning
    if family == "hyperv" and event.level in SEVERE_LEVELS:
        return HYPERV_ERROR, f"{event.level} event in a Hyper-V channel"
    return None


def short_log(log: str) -> str:
    """``Worker-Admin`` for ``Microsoft-Windows-Hyper-V-Worker-Admin``."""
    for prefix in ("Microsoft-Windows-Hyper-V-", "Microsoft-Windows-"):
        if log.startswith(prefix):
            return log[len(prefix):]
    return log


def describe(event: HostEvent, meaning: str, ref: float) -> str:
    """``Worker-Admin 18560 at 09:01:07Z: <message>`` (message cleaned and cut). A node
    removal names the removed node first: the reporting host is the one that survived."""
    label = f"{clean(short_log(event.log), 60)} {event.id}"
    if event.log.casefold() == "system" and event.provider:
        label += f" ({clean(short_log(event.provider), 40)})"
    text = clean(event.message) or meaning
    removed = removed_node(event)
    if removed:
        text = f"node {removed} was removed from the cluster (reported by a surviving node): {text}"
    return f"{label} at {clock(event.time.timestamp(), ref)}: {text}"


def removed_node(event: HostEvent) -> str | None:
    """The node a FailoverClustering 1135 says was removed (its first insertion string)."""
    if event.id != NODE_REMOVED or _family(event) not in ("cluster", "system"):
        return None
    return clean(event.first_insertion_string, 63) or None


class SeenEvents:
    """Recently seen event identities, so an event delivered twice (the collector's
    bookmark is inclusive) is counted once. Bounded: the oldest identities are forgotten."""

    def __init__(self, capacity: int = 512) -> None:
        self._order: deque[tuple] = deque()
        self._set: set[tuple] = set()
        self._capacity = capacity

    def first_time(self, event: HostEvent) -> bool:
        key = (event.time, event.log, event.id, event.vm_id, event.message)
        if key in self._set:
            return False
        self._set.add(key)
        self._order.append(key)
        if len(self._order) > self._capacity:
            self._set.discard(self._order.popleft())
        return True


class RecentEvents:
    """The newest few events of one category for one entity, and when the newest arrived
    (poll time, so that expiry does not depend on the host's clock)."""

    __slots__ = ("lines", "times", "count", "last_received")

    def __init__(self, keep: int = 5) -> None:
        self.lines: deque[str] = deque(maxlen=keep)
        self.times: deque[float] = deque(maxlen=keep)  # the events' own times (host clock)
        self.count = 0
        self.last_received = float("-inf")

    def add(self, line: str, event_time: float, received: float) -> None:
        self.lines.append(line)
        self.times.append(event_time)
        self.count += 1
        self.last_received = received

    def within(self, start: float) -> int:
        """How many of the kept events happened at or after ``start`` (host clock)."""
        return sum(1 for x in self.times if x >= start)
