"""Smooth, deterministic load curves for simulated VMs and hosts.

Load is a *pure function of time* (seed, t): value noise over two time scales plus a
workday curve. Nothing is stepped or stored, so a VM's CPU at 10:03:07 is the same
whether the site was polled every 2 s, every 60 s or never before, and a 50-host site
costs nothing between polls. Random draws that must not depend on poll timing come from
:func:`unit` (a counter-based hash), never from a shared ``random.Random``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

_MASK = (1 << 64) - 1


def mix64(x: int) -> int:
    """SplitMix64 finaliser: a fast, well-spread 64-bit integer hash."""
    x = (x + 0x9E3779B97F4A7C15) & _MASK
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK
    return x ^ (x >> 31)



def text_key(text: str) -> int:
    """A 64-bit key for a name (a host's seed, an RNG's purpose): FNV-1a, stable across
    runs, unlike hash()."""
    h = 0xCBF29CE484222325
    for b in text.encode("utf-8"):
        h = ((h ^ b) * 0x100000001B3) & _MASK
    return h

def unit(seed: int, *keys: int) -> float:
    """A uniform number in [0, 1) determined by ``seed`` and integer ``keys``."""
    h = mix64(seed & _MASK)
    for k in keys:
        h = mix64(h ^ (k & _MASK))
    return (h >> 11) / float(1 << 53)


def value_noise(seed: int, t: float, period: float) -> float:
    """Smooth noise in [0, 1): random knots every ``period`` seconds, eased between."""
    x = t / period
    i = math.floor(x)
    f = x - i
    f = f * f * (3.0 - 2.0 * f)  # smoothstep: no kinks at the knots
    a = unit(seed, i)
    b = unit(seed, i + 1)
    return a + (b - a) * f


def workday_factor(hour_local: float) -> float:
    """0.35 at night rising to 1.0 in office hours: the diurnal shape of a site's load."""
    # A raised cosine centred on 13:00, clipped so nights stay flat and low.
    c = math.cos((hour_local - 13.0) / 24.0 * 2.0 * math.pi)
    return 0.35 + 0.65 * max(0.0, c) ** 1.5


@dataclass(frozen=True, slots=True)
class LoadProfile:
    """How busy a VM is when healthy: ``base`` % at peak hours, ``swing`` % of noise.

    ``diurnal`` = 0 for batch or infrastructure VMs that do not follow office hours.
    An idle VM has base and swing near zero and shows 0 % after rounding.
    """

    base: float
    swing: float
    diurnal: float = 1.0
    period_s: float = 90.0      # the slow wander; a fast jitter at period_s / 12 rides on it

    def cpu(self, seed: int, t: float, hour_local: float) -> float:
        day = 1.0 - self.diurnal + self.diurnal * workday_factor(hour_local)
        slow = value_noise(seed, t, self.period_s)
        fast = value_noise(seed ^ 0x5A5A, t, self.period_s / 12.0)
        value = self.base * day + self.swing * (0.7 * slow + 0.3 * fast - 0.35) * 2.0
        return min(100.0, max(0.0, value))


IDLE = LoadProfile(base=0.1, swing=0.15, diurnal=0.0)   # rounds to 0 %


def jitter(seed: int, t: float, low: float, high: float, *, grain_s: float = 1.0) -> float:
    """A number in [low, high) that is fixed within each ``grain_s`` of time."""
    return low + (high - low) * unit(seed, int(t // grain_s))
