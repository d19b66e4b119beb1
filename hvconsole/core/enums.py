"""Hyper-V and Windows enumerations: the names the contract speaks, and the integers
Windows PowerShell 5.1 ``ConvertTo-Json`` emits for them.

Snapshots carry names. Older or hand-made recordings may carry integers, so the parser
maps them through these tables (facts from ``shared/reference/hyperv-notes.md`` §2). The
PowerShell VMHeartbeatStatus and the WMI Msvm heartbeat use *different* numbers; only the
PowerShell table is used here, because that is what ``Get-VM`` reports.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

# Microsoft.HyperV.PowerShell.VMState. Values above ForceShutdown differ between Windows
# versions, which is why the collector sends names; this table is the 2019+ numbering.
VM_STATE_BY_INT: Mapping[int, str] = MappingProxyType({
    1: "Other", 2: "Running", 3: "Off", 4: "Stopping", 6: "Saved", 9: "Paused",
    10: "Starting", 11: "Reset", 32773: "Saving", 32776: "Pausing", 32777: "Resuming",
    32779: "FastSaved", 32780: "FastSaving", 32781: "ForceShutdown", 32782: "ForceReboot",
    32783: "Hibernated", 32784: "ComponentServicing", 32785: "RunningCritical",
    32786: "OffCritical", 32787: "StoppingCritical", 32788: "SavedCritical",
    32789: "PausedCritical", 32790: "StartingCritical", 32791: "ResetCritical",
    32792: "SavingCritical", 32793: "PausingCritical", 32794: "ResumingCritical",
    32795: "FastSavedCritical", 32796: "FastSavingCritical",
})
VM_STATES = frozenset(VM_STATE_BY_INT.values())

# A VM whose guest runs (RunningCritical: running, with the VM's health not OK). Patching
# drains and restores these; the detector watches their heartbeat.
RUNNING_VM_STATES = frozenset({"Running", "RunningCritical"})

# States in which the VM is moving between two stable states. Lasting minutes in one of
# these is a classic stuck-VM sign (hyperv-notes §3, indicator 5).
TRANSITIONAL_VM_STATES = frozenset({
    "Starting", "Stopping", "Saving", "Pausing", "Resuming", "FastSaving", "Reset",
    "ForceShutdown", "ForceReboot", "ComponentServicing",
})

# Microsoft.HyperV.PowerShell.VMHeartbeatStatus (not the WMI numbering).
HEARTBEAT_BY_INT: Mapping[int, str] = MappingProxyType({
    0: "Unknown", 1: "Disabled", 2: "NoContact", 3: "Error", 4: "LostCommunication",
    5: "OkApplicationsUnknown", 6: "OkApplicationsHealthy", 7: "OkApplicationsCritical",
    8: "Paused",
})
HEARTBEATS = frozenset(HEARTBEAT_BY_INT.values())
HEARTBEAT_OK = frozenset({"OkApplicationsUnknown", "OkApplicationsHealthy", "OkApplicationsCritical"})

# Msvm_ComputerSystem.HealthState.
HEALTH_BY_INT: Mapping[int, str] = MappingProxyType({
    5: "Ok", 20: "MajorFailure", 25: "CriticalFailure", 0: "Unknown",
})
HEALTHS = frozenset(HEALTH_BY_INT.values())

# System.ServiceProcess.ServiceControllerStatus.
SERVICE_STATUS_BY_INT: Mapping[int, str] = MappingProxyType({
    1: "Stopped", 2: "StartPending", 3: "StopPending", 4: "Running",
    5: "ContinuePending", 6: "PausePending", 7: "Paused",
})
SERVICE_STATUSES = frozenset(SERVICE_STATUS_BY_INT.values()) | {"Unknown"}

# Microsoft.HyperV.PowerShell.StartAction / StopAction.
START_ACTION_BY_INT: Mapping[int, str] = MappingProxyType({2: "Nothing", 3: "StartIfRunning", 4: "Start"})
STOP_ACTION_BY_INT: Mapping[int, str] = MappingProxyType({2: "TurnOff", 3: "Save", 4: "ShutDown"})

# Microsoft.FailoverClusters.PowerShell.ClusterNodeState / NodeDrainStatus.
CLUSTER_NODE_STATE_BY_INT: Mapping[int, str] = MappingProxyType({
    -1: "Unknown", 0: "Up", 1: "Down", 2: "Paused", 3: "Joining",
})
DRAIN_STATUS_BY_INT: Mapping[int, str] = MappingProxyType({
    0: "NotInitiated", 1: "InProgress", 2: "Completed", 3: "Failed",
})

# System.Diagnostics.Eventing.Reader.StandardEventLevel. Level 0 (LogAlways) is shown as
# Information: it carries no severity of its own.
EVENT_LEVEL_BY_INT: Mapping[int, str] = MappingProxyType({
    0: "Information", 1: "Critical", 2: "Error", 3: "Warning", 4: "Information", 5: "Verbose",
})
EVENT_LEVELS = frozenset(EVENT_LEVEL_BY_INT.values())

# Microsoft.HyperV.PowerShell.VMOperationalStatus, as the decompiled module declares it
# (neonSDK and fog-hyperv copies of Microsoft.HyperV.PowerShell agree): PredictiveFailure is 5,
# ApplyingSnapshot is 23769 (sic: Microsoft's typo for 32769, kept because that is the
# integer the cmdlet emits) and CriticalIoError is 32795. 32769, 32775 and 32791-32794 are
# not in the enum. An unknown integer is kept as its number in text rather than guessed.
OPERATIONAL_STATUS_BY_INT: Mapping[int, str] = MappingProxyType({
    2: "Ok", 3: "Degraded", 5: "PredictiveFailure", 11: "InService", 15: "Dormant",
    16: "SupportingEntityInError", 23769: "ApplyingSnapshot", 32768: "CreatingSnapshot",
    32770: "DeletingSnapshot", 32771: "WaitingToStart", 32772: "MergingDisks",
    32773: "ExportingVirtualMachine", 32774: "MigratingVirtualMachine",
    32776: "BackingUpVirtualMachine", 32777: "ModifyingUpVirtualMachine",
    32778: "StorageMigrationPhaseOne", 32779: "StorageMigrationPhaseTwo",
    32780: "MigratingPlannedVm", 32781: "CheckingCompatibility",
    32782: "ApplicationCriticalState", 32783: "CommunicationTimedOut",
    32784: "CommunicationFailed", 32785: "NoIommu", 32786: "NoIovSupportInNic",
    32787: "SwitchNotInIovMode", 32788: "IovBlockedByPolicy", 32789: "IovNoAvailResources",
    32790: "IovGuestDriversNeeded", 32795: "CriticalIoError",
})

ERROR_KINDS = frozenset({"timeout", "refused", "auth", "tls", "fault", "protocol", "script"})
