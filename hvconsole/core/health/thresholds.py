"""Every number the health check judges with, declared once with its default.

Where Microsoft publishes a number the default is that number; where it does not, the
default is a judgement and ``docs/health-check.md`` says so. A user overrides any of them
with a JSON object (``hvconsole audit --thresholds FILE.json``); :meth:`HealthThresholds.from_mapping`
checks names, types and ranges and says exactly what is wrong.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from ..threshold_overrides import ThresholdError, threshold_overrides

__all__ = ["HealthThresholds", "ThresholdError"]


@dataclass(frozen=True, slots=True)
class HealthThresholds:
    # -- CPU --------------------------------------------------------------------------------
    vcpus_per_lp: float = 8.0
    """Running vCPUs per logical processor above this: CPU over-committed (judgement)."""

    # -- memory -----------------------------------------------------------------------------
    host_reserve_mb: float = 4096.0
    """Memory the management OS keeps for itself, plus ``host_reserve_pct`` (judgement)."""
    host_reserve_pct: float = 2.0
    host_available_min_pct: float = 5.0
    """Available memory below this share of physical memory: host memory low (judgement)."""
    dm_unbounded_mb: float = 1048576.0
    """A dynamic-memory maximum at or above this (Hyper-V's default, 1 TB) is unbounded."""
    dm_min_floor_mb: float = 1024.0
    """A dynamic-memory minimum below this can starve a Windows guest (judgement)."""
    pressure_minutes: float = 30.0
    """Demand above assigned memory for this long (live history): memory pressure."""

    # -- checkpoints ------------------------------------------------------------------------
    checkpoint_age_days: float = 7.0
    checkpoint_depth: int = 3
    merge_stuck_minutes: float = 60.0
    """A checkpoint merge seen in progress for this long is stuck (judgement)."""

    # -- storage ----------------------------------------------------------------------------
    volume_free_pct: float = 10.0
    """Free space on a volume holding virtual disks below this share: warning (judgement)."""
    paused_critical_free_mb: float = 200.0
    """Below about this much free space Hyper-V pauses VMs (Paused-Critical)."""

    # -- start/stop, backups, patching ------------------------------------------------------
    boot_storm_vms: int = 4
    """This many or more VMs starting with the host with no start delay: boot storm."""
    backup_max_hours: float = 26.0
    """No successful backup for longer than this (a daily backup plus two hours of slack)."""
    pending_reboot_hours: float = 24.0

    @classmethod
    def from_mapping(cls, raw: object) -> HealthThresholds:
        """Defaults with ``raw`` (a JSON object) applied; raises ThresholdError naming the bad key."""
        return cls(**threshold_overrides(cls, raw))

    def as_dict(self) -> dict[str, float]:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
