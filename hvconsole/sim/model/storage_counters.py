"""The raw storage latency counters of a simulated host, as a real host's
``Win32_PerfRawData_Counters_HyperVVirtualStorageDevice`` holds them, one instance per
open virtual disk: a running total of its operations' time in ticks of the performance
frequency (``Latency``, a uint32 that wraps) and a running count of its operations
(``Latency_Base``, a uint32 too). A device counts from zero when it appears (its VM
started; at boot for the VMs that run from then on) and is gone when its VM stops.

Each read adds the operations each device completed since the previous read, at the
latency the host models now, so a console that polls alone sees, between two polls,
exactly that latency (hvconsole.core.storage_latency divides each device's growth in
ticks by its growth in operations and adds them up). Whole operations only, each with its
ticks: a fraction of an operation counted in one poll and its ticks in the next would
bend the figure.

The answer carries each device's key as collect.ps1 computes it: the first 5 bytes of the
SHA-256 of the instance name's UTF-8, in lower-case hex.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterable

PERF_FREQUENCY = 10_000_000      # Frequency_PerfTime of Windows 10 / Server 2016 and later
_WRAP = 1 << 32


def device_key(instance_name: str) -> str:
    """collect.ps1's key for a storage device instance (its VHD path as perf names it)."""
    return hashlib.sha256(instance_name.encode("utf-8")).hexdigest()[:10]


class _Device:
    __slots__ = ("key", "ops_done", "ops", "ticks")

    def __init__(self, name: str) -> None:
        self.key = device_key(name)
        self.ops_done = 0.0       # operations completed, fractions included
        self.ops = 0              # whole operations counted (Latency_Base before the wrap)
        self.ticks = 0.0          # their total time in ticks (Latency before the wrap)


class StorageCounters:
    """One host's devices and their running totals. Thread-safe: two consoles may poll
    the same host."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._boot_t: float | None = None
        self._t = 0.0
        self._devices: dict[str, _Device] = {}

    def read(self, t: float, boot_t: float,
             load: Iterable[tuple[str, float, float]]) -> list[list[str | int]]:
        """``[[key, Latency, Latency_Base], ...]`` at ``t`` for the open devices in ``load``
        (instance name, operations a second, latency in ms), after their operations since
        the previous read (since boot for the devices open at the first read after it)."""
        with self._lock:
            since_boot = self._boot_t != boot_t
            if since_boot:                           # booted since: counters start over
                self._boot_t, self._t, self._devices = boot_t, boot_t, {}
            span = max(0.0, t - self._t)
            devices: dict[str, _Device] = {}
            out: list[list[str | int]] = []
            for name, iops, latency_ms in load:
                d = self._devices.get(name)
                if d is None:
                    d = _Device(name)
                    grow = span if since_boot else 0.0   # a new device starts now, at zero
                else:
                    grow = span
                d.ops_done += iops * grow
                done = int(d.ops_done) - d.ops
                d.ops += done
                d.ticks += done * latency_ms / 1000.0 * PERF_FREQUENCY
                devices[name] = d
                out.append([d.key, int(d.ticks) % _WRAP, d.ops % _WRAP])
            self._devices = devices                  # a device not open now is gone
            self._t = max(self._t, t)
            return out
