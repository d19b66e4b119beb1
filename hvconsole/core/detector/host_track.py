"""What the detector remembers about one host: whether and how it stopped answering, the
state of its VM query, recent events, and the :class:`~.vm_track.VmTrack` of each VM.

Like the VM track it keeps run counters and "since" times, not history. A host that never
answered is told apart from one that answered before (hyperv-notes §3 indicator 6).
"""

from __future__ import annotations

from datetime import datetime

from ..snapshot import Snapshot
from .events import HOST_CATEGORIES, RecentEvents, SeenEvents
from .findings import Slots
from .poll_clock import PollClock
from .vm_track import VmTrack
from .window_clock import WindowClock

# Error kinds that prove the host answered (it rejected us, or the script failed on it).
ANSWERED_KINDS = frozenset({"auth", "tls", "fault", "protocol", "script"})


class HostTrack:
    __slots__ = (
        "name", "last_t", "polls", "answered", "answered_t", "down_since", "down_polls",
        "down_kinds", "last_error", "last_boot", "boot_before_down",
        "query_since", "query_polls", "vmms_status", "query_error", "query_elapsed_ms",
        "vms", "slots", "seen", "events", "clock", "windows",
    )

    def __init__(self, name: str) -> None:
        self.name = name
        self.last_t = float("-inf")
        self.polls = 0
        self.answered = False
        self.answered_t: float | None = None
        self.down_since: float | None = None
        self.down_polls = 0
        self.down_kinds: dict[str, int] = {}
        self.last_error: tuple[str, str, int | None] | None = None  # kind, message, elapsed ms
        self.last_boot: datetime | None = None
        self.boot_before_down: datetime | None = None
        self.query_since: float | None = None  # VM query failing since
        self.query_polls = 0
        self.vmms_status: str | None = None
        self.query_error: str | None = None
        self.query_elapsed_ms: int | None = None
        self.vms: dict[str, VmTrack] = {}
        self.slots: Slots = {}
        self.seen = SeenEvents()
        self.events = {c: RecentEvents() for c in HOST_CATEGORIES}
        self.clock = PollClock()   # detector time of this host's polls (see poll_clock)
        self.windows = WindowClock()    # its maintenance windows on that clock

    def observe(self, snap: Snapshot, t: float) -> bool:
        """Reachability and VM-query runs; True when the VM inventory can be trusted."""
        self.polls += 1
        self.last_t = t
        if not snap.reachable:
            self._failed(snap, t)
            return False
        if self.down_since is not None:
            self.down_since, self.down_polls, self.down_kinds = None, 0, {}
        self.answered = True
        self.answered_t = t
        if snap.os is not None and snap.os.last_boot is not None:
            self.last_boot = snap.os.last_boot
        services = snap.services
        self.vmms_status = "unknown" if services is None else (services.get("vmms") or "not installed")
        q = snap.vm_query
        if q is None or q.ok:  # None: a collector that does not report the query itself
            self.query_since, self.query_polls = None, 0
            return True
        if self.query_since is None:
            self.query_since, self.query_polls = t, 0
        self.query_polls += 1
        self.query_error, self.query_elapsed_ms = q.error, q.elapsed_ms
        return False

    def _failed(self, snap: Snapshot, t: float) -> None:
        err = snap.error
        kind = err.kind if err is not None else "unknown"
        if self.down_since is None:
            self.down_since, self.down_polls, self.down_kinds = t, 0, {}
            self.boot_before_down = self.last_boot
        self.down_polls += 1
        self.down_kinds[kind] = self.down_kinds.get(kind, 0) + 1
        self.last_error = (kind, err.message if err else "", err.elapsed_ms if err else None)
