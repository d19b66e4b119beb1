"""A host's storage latency in milliseconds, from two consecutive polls of its raw counters.

Hyper-V's ``\\Hyper-V Virtual Storage Device(*)\\Latency`` is a PERF_AVERAGE_TIMER: the
raw ``Latency`` is the running total of every operation's time in ticks of the
performance frequency, ``Latency_Base`` the running count of operations, and the average
is ``((N1 - N0) / F) / (B1 - B0)`` seconds between two samples
(https://learn.microsoft.com/en-us/windows/win32/wmisdk/timer-algorithm-counter-types ,
https://learn.microsoft.com/en-us/previous-versions/ms938538(v=msdn.10) ). The formatted
WMI class cooks it into a uint32 of whole *seconds*, so it reads 0 on every healthy host
(https://github.com/DataDog/dd-agent/issues/1244 for the same counter type on
PhysicalDisk; https://github.com/prometheus-community/windows_exporter/issues/2282 for
this counter: ``Get-Counter`` shows 0.00056, seconds). collect.ps1 therefore sends, per
device, a short digest of its instance name and its raw pair
(``storage_latency_raw: [[key, Latency, Latency_Base], ...]``) and the frequency once
(``storage_latency_freq``, ``Frequency_PerfTime``); :class:`StorageLatency` turns two
consecutive polls of one host into ``storage_latency_ms``: the operation-weighted average
over the interval, as ``Get-Counter`` would show for it.

Per device, not summed on the host: both raw values are uint32 per device (``Latency``/
``Latency_Base`` in the class definition), so a device's ticks wrap every 2**32 ticks
(429 s of latency at the usual 10 MHz). A sum over the host's devices cannot be unwrapped
once the host's total latency in one interval passes that (a storage stall, a busy
40-VM host: ~86 operations in flight on average at 5 s), and it would then read low
exactly when the figure matters. Each device's delta is taken modulo 2**32 against the
same device's previous pair instead: right while *that device's* latency in one interval
stays under 429 s (a single virtual disk with ~86 operations in flight for a whole 5 s
poll); only beyond that does it read low.

A device contributes nothing to a poll when it cannot be compared: seen the first time
(a VM that started), gone (a VM that stopped), its operation count went backwards (it
was recreated: counters restart from zero; or its uint32 count wrapped, after 2**32
operations: one poll of that device lost every ~5 days at 10,000 a second), or its count
stood still while its ticks moved (recreated and caught up). The whole figure is unknown (None), never a negative or
made-up one, when no device can be compared, on the host's first poll, after a poll
without the counters, across a reboot or a frequency change. No operations in between is
0 ms, as perfmon shows it. The keys are only compared, never shown or spliced anywhere.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from .snapshot import HostResources, Snapshot

WRAP = 1 << 32          # the raw counters are uint32 per device


@dataclass(frozen=True, slots=True)
class RawStorageSample:
    """One poll's raw pairs, by device key."""

    freq: float
    devices: dict[str, tuple[int, int]]      # key -> (Latency ticks, Latency_Base operations)
    last_boot: datetime | None = None


def raw_sample(res: HostResources | None, last_boot: datetime | None = None) -> RawStorageSample | None:
    """The raw pairs a poll carried, or None when it carried none usable."""
    if res is None or res.storage_latency_raw is None:
        return None
    freq = res.storage_latency_freq
    if freq is None or freq <= 0:
        return None
    devices: dict[str, tuple[int, int]] = {}
    twice: set[str] = set()
    for key, ticks, ops in res.storage_latency_raw:
        if key in devices:
            twice.add(key)                   # two devices, one key: neither can be told apart
        devices[key] = (ticks, ops)
    for key in twice:
        del devices[key]
    return RawStorageSample(freq, devices, last_boot)


def latency_ms(prev: RawStorageSample, cur: RawStorageSample) -> float | None:
    """The average latency of the operations the devices present in both samples completed
    between them, in ms."""
    if cur.freq != prev.freq or (prev.last_boot is not None and cur.last_boot is not None
                                 and cur.last_boot != prev.last_boot):
        return None
    before = prev.devices
    ticks = ops = compared = 0
    for key, (t1, b1) in cur.devices.items():
        old = before.get(key)
        if old is None:
            continue                          # new device: nothing to compare yet
        t0, b0 = old
        if b1 < b0 or (b1 == b0 and t1 != t0):
            continue                          # recreated since: its counters started over
        compared += 1
        ops += b1 - b0
        ticks += (t1 - t0) % WRAP             # this device's own wrap (429 s at 10 MHz)
    if not compared:
        return None
    if ops == 0:
        return 0.0
    return round(ticks / cur.freq / ops * 1000.0, 3)


class StorageLatency:
    """One host's latency from poll to poll: keeps the previous poll's raw pairs. Used by
    that host's poll worker only (one thread)."""

    __slots__ = ("_last",)

    def __init__(self) -> None:
        self._last: RawStorageSample | None = None

    def apply(self, snap: Snapshot) -> Snapshot:
        """``snap`` with ``resources.storage_latency_ms`` worked out from the previous poll.
        A snapshot without the raw pairs (an unreachable poll, an older recording that
        carries the host's own figure) passes unchanged and the next poll starts over."""
        res = snap.resources
        sample = raw_sample(res, None if snap.os is None else snap.os.last_boot)
        if sample is None or res is None:
            self._last = None
            return snap
        prev, self._last = self._last, sample
        ms = None if prev is None else latency_ms(prev, sample)
        if ms == res.storage_latency_ms:
            return snap
        return replace(snap, resources=replace(res, storage_latency_ms=ms))
