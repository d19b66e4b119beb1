"""One host's maintenance windows on its poll clock.

A window's ``since``/``until`` are on the console's clock as it was when the caller wrote
them (now + the window's length); the detector's time of a host (:mod:`.poll_clock`) does
not count the steps of that clock. Compared with ``polled_at`` as they are, a step forward
would end a patched host's window early (freeze alerts for a host rebooting on purpose) and
a step back would hold a dead workflow's alerts for as long again. So each window is taken
onto the poll clock once, when the detector first sees it (by the offset between the two
clocks on the side of a step it was written on, :meth:`PollClock.offset`), and measured
there: a window lasts the length it was given in time watched, whatever the console's
clock does meanwhile. A window replaced in the registry (renewed, begun again) is a new
object and is taken anew. Without a step both clocks agree and nothing changes.
"""

from __future__ import annotations

from ..maintenance import MaintenanceWindow
from .poll_clock import PollClock

_NEVER = float("-inf")


class WindowClock:
    __slots__ = ("_known",)

    def __init__(self) -> None:
        # vm_id (None: the host's own window) -> (window, since, until) in detector time
        self._known: dict[str | None, tuple[MaintenanceWindow, float, float]] = {}

    def covering(self, windows: list[MaintenanceWindow], clock: PollClock,
                 t: float) -> tuple[tuple[MaintenanceWindow, float] | None, dict[str, MaintenanceWindow]]:
        """The host's window covering detector time ``t`` with its end in detector time
        (or None), and the VMs' own windows covering it by VM id. ``windows``: all of the
        host's windows in the registry now; ``clock``: the host's clock at the poll of ``t``."""
        known = self._known
        if not windows:
            if known:
                known.clear()
            return None, {}
        fresh: dict[str | None, tuple[MaintenanceWindow, float, float]] = {}
        host: tuple[MaintenanceWindow, float] | None = None
        vms: dict[str, MaintenanceWindow] = {}
        for w in windows:
            entry = known.get(w.vm_id)
            if entry is None or entry[0] is not w:
                ref = w.begun if w.begun is not None else w.since
                off = clock.offset(None if ref is None else ref.timestamp())
                entry = (w, _NEVER if w.since is None else w.since.timestamp() - off, w.until.timestamp() - off)
            fresh[w.vm_id] = entry
            if entry[1] <= t < entry[2]:
                if w.vm_id is None:
                    host = (w, entry[2])
                else:
                    vms[w.vm_id] = w
        self._known = fresh
        return host, vms
