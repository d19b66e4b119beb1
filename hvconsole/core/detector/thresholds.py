"""Every number the freeze detector decides with, declared once with its default.

The defaults follow ``shared/reference/hyperv-notes.md`` §3 (see
``docs/freeze-detection.md`` for the reason behind each). A user overrides them with a
JSON object (``hvconsole detect --thresholds FILE.json``); :meth:`Thresholds.from_mapping`
validates the names, the types and the ranges, and says exactly what is wrong.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..threshold_overrides import threshold_overrides


@dataclass(frozen=True, slots=True)
class Thresholds:
    # -- debounce and recovery: one bad poll is never a freeze ---------------------------
    # Rules ask for N polls in a row AND a minimum time. At the usual 5 s interval the poll
    # count decides; the seconds (a little under (N-1) intervals, because polled_at jitters
    # with the collection time) keep a faster poller from declaring a freeze in seconds.
    recovery_polls: int = 2
    """A finding ends only after this many consecutive polls without its condition."""

    # -- heartbeat (notes §2, §3 indicators 1-2) -----------------------------------------
    heartbeat_lost_polls: int = 6
    """LostCommunication/Error while Running for at least this many polls in a row ..."""
    heartbeat_lost_s: float = 20.0
    """... and for at least this long, before a ``heartbeat-lost`` warning."""
    heartbeat_lost_critical_s: float = 120.0
    """Heartbeat lost this long without a reboot is critical whatever the CPU does."""
    cpu_window_polls: int = 6
    """CPU samples, all taken while the heartbeat is lost, that must agree (flat/pegged).
    No more than ``heartbeat_lost_polls``, so that the first finding already knows the CPU."""
    cpu_flat_max_pct: float = 2.0
    """Every sample at or below this = CPU flat (halted guest)."""
    cpu_pegged_min_pct: float = 95.0
    """Every sample at or above this = CPU pegged (spinning guest)."""
    cpu_steady_band_pct: float = 1.5
    """Samples within this band at k/vcpus x 100 % (0 < k < vcpus) = k vCPUs spinning."""

    # -- boot, reboot and migration grace (notes §3 look-alikes) -------------------------
    boot_grace_s: float = 180.0
    """A VM up for less than this is booting: no heartbeat rule fires."""
    migration_grace_s: float = 60.0
    """After a migration status clears, or a VM arrives already running, heartbeat rules wait this long."""
    heartbeat_restore_s: float = 300.0
    """A VM that had a heartbeat, restarted, and shows none after this long: warning."""

    # -- uptime (notes §3 indicator 3) ----------------------------------------------------
    uptime_stall_s: float = 25.0
    """Running, and uptime advanced less than ``uptime_stall_ratio`` of this much host time."""
    uptime_stall_polls: int = 4
    uptime_stall_ratio: float = 0.5

    # -- VM state and health (notes §2, §3 indicators 4-5) -------------------------------
    critical_state_polls: int = 3
    """``*Critical`` state, health CriticalFailure or CommunicationTimedOut/Failed this many polls."""
    critical_state_s: float = 8.0
    warning_state_polls: int = 3
    """MajorFailure / Degraded / OkApplicationsCritical this many polls: warning."""
    transition_stuck_s: float = 120.0
    """Starting, Pausing, Resuming, Reset, ... longer than this: stuck."""
    stopping_stuck_s: float = 315.0
    """Stopping: Stop-VM -Force waits 5 minutes before forcing, plus time to turn off."""
    saving_stuck_s: float = 600.0
    """Saving / FastSaving writes the VM's memory to disk: minutes for a large VM."""
    restart_loop_window_s: float = 600.0
    """Restarts within this span count towards a restart loop ..."""
    restart_loop_count: int = 3
    """... this many uptime resets while Running ..."""
    crash_loop_count: int = 2
    """... or this many guest crash resets (18560/18590): the guest never comes up."""

    # -- host (notes §3 indicators 6-7) ---------------------------------------------------
    unreachable_polls: int = 3
    """Failed polls in a row before a host-level finding about reachability."""
    unreachable_s: float = 8.0
    host_down_critical_s: float = 30.0
    """Timed out or refused for this long, outside maintenance: the host is down (critical)."""
    vmms_polls: int = 3
    """VM query failing while vmms says Running, this many polls in a row ..."""
    vmms_s: float = 8.0
    vmms_start_pending_s: float = 120.0
    """vmms StartPending (starting after a boot) gets this long before a warning."""
    host_wide_min_vms: int = 3
    """VMs going bad together on one host that make a host-level finding ..."""
    host_wide_min_fraction: float = 0.5
    """... or at least 2 VMs that are this fraction of the host's running VMs."""
    host_wide_window_s: float = 60.0
    """Onsets within this span count as "together"."""

    # -- events (notes §4) ---------------------------------------------------------------
    event_active_s: float = 600.0
    """An event-based finding stays active this long after its newest event."""
    event_max_age_s: float = 900.0
    """Events older than this (host clock) when first seen are old news, not findings."""
    crash_escalation_s: float = 300.0
    """A guest crash event this recent turns a heartbeat-lost warning critical."""

    # -- memory bounds -------------------------------------------------------------------
    vm_forget_s: float = 600.0
    """State of a VM missing from its host's inventory this long is dropped."""
    host_forget_s: float = 1800.0
    """State of a host with no poll at all for this long (trace time) is dropped."""

    @classmethod
    def from_mapping(cls, overrides: Mapping[str, Any]) -> Thresholds:
        """Defaults with ``overrides`` applied; raises ValueError naming the bad key."""
        result = cls(**threshold_overrides(cls, overrides))
        result.validate()
        return result

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}

    def validate(self) -> None:
        """Ranges and cross-field rules; raises ValueError naming the threshold."""
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if f.type == "int" and v < 1:
                raise ValueError(f"{f.name} must be at least 1, got {v}")
            if f.type == "float" and v < 0:
                raise ValueError(f"{f.name} must not be negative, got {v}")
        for name in ("cpu_flat_max_pct", "cpu_pegged_min_pct", "cpu_steady_band_pct"):
            if getattr(self, name) > 100:
                raise ValueError(f"{name} is a percentage (0-100), got {getattr(self, name)}")
        for name in ("uptime_stall_ratio", "host_wide_min_fraction"):
            if not 0 < getattr(self, name) <= 1:
                raise ValueError(f"{name} must be in (0, 1], got {getattr(self, name)}")
        if self.cpu_flat_max_pct >= self.cpu_pegged_min_pct:
            raise ValueError("cpu_flat_max_pct must be below cpu_pegged_min_pct")
        if self.cpu_window_polls > self.heartbeat_lost_polls:
            raise ValueError("cpu_window_polls must not exceed heartbeat_lost_polls")
        if self.heartbeat_lost_critical_s < self.heartbeat_lost_s:
            raise ValueError("heartbeat_lost_critical_s must not be below heartbeat_lost_s")
        if self.restart_loop_count < 2 or self.crash_loop_count < 2:
            raise ValueError("restart_loop_count and crash_loop_count must be at least 2: one restart is not a loop")
        if self.host_wide_min_vms < 2:
            raise ValueError("host_wide_min_vms must be at least 2: one VM is not a host problem")



DEFAULT_THRESHOLDS = Thresholds()
