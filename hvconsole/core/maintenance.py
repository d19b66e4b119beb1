"""Maintenance windows: hosts and VMs the console (or the admin) is working on on purpose.

A host being patched stops answering, its VMs are saved, stopped and restarted; none of
that may page anyone (hyperv-notes §3, last look-alike). The patch workflow calls
:meth:`MaintenanceRegistry.begin` before it touches a host and :meth:`~MaintenanceRegistry.end`
when it has verified it; the detector asks :meth:`~MaintenanceRegistry.covers` for each poll.

Windows always carry an ``until``: a workflow that dies must not silence a host forever.
``since`` (optional) bounds the start, so a recorded window can be replayed over a trace.
Times are compared with the poll's ``polled_at``, never the wall clock, so live and replay
agree. Thread-safe: the patch workflow and the GUI tick run on different threads.

``since`` and ``until`` are on the console's clock as it was when the caller set them
(now + the window's length). That clock may be stepped while the window is open
(core.timeutil): a step forward would end a patched host's window early (alerts while it
reboots on purpose), a step back would hold a dead workflow's alerts for longer. So the
freeze detector does not compare them with ``polled_at`` once the console's clock has
stepped: it takes each window onto the host's poll clock when it first sees it
(core.detector.window_clock) and measures it there. ``begun`` (the console's clock when
the caller wrote the times) tells it which side of a step they were written on. The plain
lookups here (:meth:`~MaintenanceRegistry.covers` and co.) compare the times as given.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class MaintenanceWindow:
    host: str
    vm_id: str | None
    until: datetime
    reason: str
    since: datetime | None = None
    begun: datetime | None = None   # the console's clock when since/until were written

    def covers(self, at: datetime) -> bool:
        return (self.since is None or self.since <= at) and at < self.until


def _host_key(host: str) -> str:
    # Windows host names are case-insensitive; the inventory may spell them either way.
    return host.casefold()


def _vm_key(vm_id: str | None) -> str | None:
    # The parser lower-cases VM ids (GUIDs); do the same so either spelling matches.
    return None if vm_id is None else vm_id.lower()


def _check_time(name: str, value: datetime | None) -> None:
    if value is not None and (not isinstance(value, datetime) or value.tzinfo is None):
        raise ValueError(f"{name} must be an aware datetime (UTC)")


class MaintenanceRegistry:
    """Hosts (``vm_id=None``) and single VMs under maintenance, each until a given time."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._windows: dict[tuple[str, str | None], MaintenanceWindow] = {}

    def begin(self, host: str, vm_id: str | None = None, *, until: datetime, reason: str,
              since: datetime | None = None, begun: datetime | None = None) -> None:
        """Start (or replace) the window for ``host`` or one of its VMs. ``begun``: the
        console's clock (the pollers' clock) when ``until`` was computed from it."""
        if not isinstance(host, str) or not host:
            raise ValueError("host must be a non-empty string")
        if not isinstance(reason, str) or not reason.strip():
            raise ValueError("a maintenance window needs a reason")
        _check_time("until", until)
        _check_time("since", since)
        _check_time("begun", begun)
        if since is not None and since >= until:
            raise ValueError("since must be before until")
        window = MaintenanceWindow(host=host, vm_id=_vm_key(vm_id), until=until,
                                   reason=reason.strip(), since=since, begun=begun)
        with self._lock:
            self._windows[(_host_key(host), window.vm_id)] = window

    def end(self, host: str, vm_id: str | None = None) -> bool:
        """End the window now; True if there was one."""
        with self._lock:
            removed = self._windows.pop((_host_key(host), _vm_key(vm_id)), None)
        return removed is not None

    def window_for(self, host: str, vm_id: str | None, at: datetime) -> MaintenanceWindow | None:
        """The window that covers ``host`` (or the VM) at ``at``: the host's own window
        first, since it covers every VM on the host."""
        key = _host_key(host)
        with self._lock:
            w = self._windows.get((key, None))
            if w is not None and w.covers(at):
                return w
            if vm_id is not None:
                w = self._windows.get((key, _vm_key(vm_id)))
                if w is not None and w.covers(at):
                    return w
        return None

    def covers(self, host: str, vm_id: str | None, at: datetime) -> bool:
        """True when ``host`` (``vm_id=None``) or that VM is under maintenance at ``at``.
        A host-level window covers all its VMs; expiry (``until``) is honoured."""
        return self.window_for(host, vm_id, at) is not None

    def covered_vm_ids(self, host: str, at: datetime) -> frozenset[str]:
        """Ids of the VMs of ``host`` with their own window covering ``at`` (one call per
        poll instead of one per VM: the detector's hot path)."""
        key = _host_key(host)
        with self._lock:
            if not self._windows:
                return frozenset()
            return frozenset(vm for (h, vm), w in self._windows.items()
                             if h == key and vm is not None and w.covers(at))

    def host_windows(self, host: str) -> list[MaintenanceWindow]:
        """Every window of ``host`` and of its VMs, whatever their times (the detector
        judges them on the host's poll clock)."""
        key = _host_key(host)
        with self._lock:
            if not self._windows:
                return []
            return [w for (h, _vm), w in self._windows.items() if h == key]

    def windows(self) -> list[MaintenanceWindow]:
        with self._lock:
            return list(self._windows.values())

    def prune(self, at: datetime) -> int:
        """Forget windows that ended before ``at``; returns how many."""
        with self._lock:
            old = [k for k, w in self._windows.items() if w.until <= at]
            for k in old:
                del self._windows[k]
        return len(old)
