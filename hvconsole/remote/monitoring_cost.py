"""What monitoring costs a host, in the words the window shows ("monitoring costs 0.4 s of
CPU per poll, 8 % of one core at 5 s"), from the ``collect_cost`` collect.ps1 reports about
itself (snapshot-v1.1). Pure functions, no Qt: the host panel calls them on its rows.

Every poll starts one powershell.exe on the host; its start-up dominates the cost, so the
poll interval is the admin's lever: :func:`interval_for_share` says which interval keeps
monitoring under a given share of one core.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable
from dataclasses import dataclass

from hvconsole.core.snapshot import CollectCost, Snapshot

# Above this share of one core the panel suggests a longer interval.
HIGH_SHARE = 0.05


@dataclass(frozen=True)
class MonitoringCost:
    cpu_s_per_poll: float                # median over the snapshots given
    interval_s: float
    peak_working_set_mb: float | None
    polls: int                           # how many snapshots reported a cost

    @property
    def core_share(self) -> float:
        """The share of one logical processor monitoring takes (0.08 = 8 %)."""
        return self.cpu_s_per_poll / self.interval_s

    @property
    def high(self) -> bool:
        return self.core_share > HIGH_SHARE

    def text(self) -> str:
        share = self.core_share * 100
        shown = f"{share:.0f} %" if share >= 1 else ("under 1 %" if share > 0 else "0 %")
        return (f"monitoring costs {_seconds(self.cpu_s_per_poll)} of CPU per poll, {shown} of one core "
                f"at {_seconds(self.interval_s)}")

    def suggestion(self) -> str:
        """One sentence offering a longer interval when the cost is high, else ""."""
        if not self.high:
            return ""
        better = interval_for_share(self.cpu_s_per_poll, HIGH_SHARE)
        return f"raise the poll interval to {_seconds(better)} to keep it under {HIGH_SHARE * 100:.0f} % of one core"


def monitoring_cost(snapshots: Iterable[Snapshot], interval_s: float) -> MonitoringCost | None:
    """The cost from a host's recent snapshots (those that report one), or None when none
    does (an older collect.ps1, or nothing polled yet)."""
    return cost_of_polls((s.collect_cost for s in snapshots if s.collect_cost is not None), interval_s)


def cost_of_polls(costs: Iterable[CollectCost], interval_s: float) -> MonitoringCost | None:
    """The same from the ``collect_cost`` of recent polls (a host worker can keep these few
    small objects instead of whole snapshots)."""
    if not (interval_s > 0 and math.isfinite(interval_s)):
        raise ValueError("the poll interval must be a positive number of seconds")
    costs = list(costs)
    cpu = [c.cpu_ms for c in costs if c.cpu_ms is not None]
    if not cpu:
        return None
    peaks = [c.peak_working_set_mb for c in costs if c.peak_working_set_mb is not None]
    return MonitoringCost(statistics.median(cpu) / 1000.0, float(interval_s), max(peaks) if peaks else None, len(cpu))


def interval_for_share(cpu_s_per_poll: float, share: float) -> float:
    """The shortest whole-second interval at which polls take at most ``share`` of one core."""
    if share <= 0:
        raise ValueError("the share must be positive")
    return float(max(1, math.ceil(cpu_s_per_poll / share)))


def _seconds(value: float) -> str:
    if value >= 10 or float(value).is_integer():
        return f"{value:.0f} s"
    return f"{value:.1f} s" if value >= 0.1 else f"{value * 1000:.0f} ms"
