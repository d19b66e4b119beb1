"""The health check's rules as data: id, area, severity, what it means, the fix, the source.

The judging itself is in ``judge.py``; this table is what the CLI, the GUI and
``docs/health-check.md`` show (a test checks that every rule here is documented there and
fires in the simulated site). ``judgement=True`` marks a rule whose default threshold is our
judgement rather than a number Microsoft publishes.
"""

from __future__ import annotations

from dataclasses import dataclass

CRITICAL = "critical"
WARNING = "warning"
INFO = "info"
SEVERITIES = (CRITICAL, WARNING, INFO)          # most severe first
SEVERITY_RANK = {CRITICAL: 0, WARNING: 1, INFO: 2}

CONSOLE = "console"
HOST_BPA = "host-bpa"


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    area: str
    severity: str          # the usual severity; a rule may raise or lower it with the evidence
    title: str
    fix: str
    source: str
    judgement: bool = False
    needs: str = "Get-VM and the Hyper-V module (Hyper-V Administrators)"
    live: bool = False     # judged from what the console saw while polling, not from audit.ps1


@dataclass(frozen=True, slots=True)
class Problem:
    rule: str
    severity: str
    area: str
    host: str
    vm_id: str | None
    vm_name: str | None
    title: str
    evidence: str
    fix: str
    source: str
    origin: str = CONSOLE

    def as_dict(self) -> dict[str, object]:
        return {"rule": self.rule, "severity": self.severity, "area": self.area, "host": self.host,
                "vm_id": self.vm_id, "vm_name": self.vm_name, "title": self.title,
                "evidence": self.evidence, "fix": self.fix, "source": self.source, "origin": self.origin}


_LEARN = "Microsoft Learn"
RULES: tuple[Rule, ...] = (
    Rule("cpu-overcommit", "cpu", WARNING, "Running vCPUs per logical processor too high",
         "Move VMs to a less loaded host or reduce their virtual processors (Set-VMProcessor -Count).",
         "Judgement: Microsoft publishes no ratio for current Hyper-V (Windows Server 2008 R2 supported 8:1, "
         "\"Hyper-V: Virtual processor to logical processor ratio\"); 8:1 is kept as the warning line.",
         judgement=True, needs="Get-VM, Get-VMProcessor; Win32_ComputerSystem"),
    Rule("vm-spans-numa", "cpu", INFO, "VM has more vCPUs than one NUMA node has logical processors",
         "Reduce the VM's virtual processors to fit one NUMA node, or keep NUMA spanning and virtual NUMA "
         "aligned with the host (Get-VMHostNumaNode).",
         f"{_LEARN}: \"Hyper-V virtual NUMA\" (a VM larger than a node spans nodes and pays remote memory access).",
         needs="Get-VMHostNumaNode"),
    Rule("memory-overcommit-at-boot", "memory", CRITICAL,
         "VMs that start with the host need more memory than the host has",
         "Lower startup memory, set some VMs' automatic start action to Nothing, or add memory.",
         "Hyper-V starts a VM only if its startup memory is free; the host reserve (4 GB + 2 %) is a judgement: "
         "Hyper-V sizes its own reserve and publishes no number.", judgement=True,
         needs="Get-VM, Get-VMMemory; Win32_OperatingSystem"),
    Rule("host-memory-low", "memory", WARNING, "Host available memory low",
         "Lower VMs' assigned or maximum memory, move VMs away, or add memory.",
         "Judgement: below 5 % available the host has no room for a VM restart or a live migration in.",
         judgement=True, needs="Win32_OperatingSystem"),
    Rule("dm-unbounded-maximum", "memory", WARNING, "Dynamic memory maximum unbounded",
         "Set a maximum the guest really needs (Set-VMMemory -MaximumBytes).",
         f"{_LEARN}: \"Hyper-V Dynamic Memory overview\"; Hyper-V Manager's default maximum is 1,048,576 MB "
         "(1 TB), more than the host has: one guest can take memory from all others.",
         needs="Get-VMMemory"),
    Rule("dm-starved-minimum", "memory", WARNING, "Dynamic memory minimum can starve the guest",
         "Raise the minimum (Set-VMMemory -MinimumBytes) to what the guest needs at idle.",
         "Judgement (1,024 MB): Windows Server needs 512 MB (Server Core) to 2 GB (Desktop Experience), "
         f"{_LEARN} \"Hardware requirements for Windows Server\".", judgement=True, needs="Get-VMMemory"),
    Rule("memory-pressure", "memory", WARNING, "Memory demand above assigned for a long time",
         "Raise the VM's maximum or startup memory, or free memory on the host.",
         "Judgement (30 minutes): demand above assigned means the guest is paging; seen live by the console "
         "(Get-VM MemoryDemand, MemoryAssigned).", judgement=True,
         needs="the console's live polling (collect.ps1)", live=True),
    Rule("checkpoint-old", "checkpoints", WARNING, "Checkpoint older than the limit",
         "Delete the checkpoint once it is no longer needed (Remove-VMSnapshot); checkpoints are no backup.",
         f"{_LEARN}: \"Using checkpoints to revert virtual machines to a previous state\" (checkpoints are not "
         "backups; differencing disks grow and slow I/O); 7 days is a judgement.", judgement=True,
         needs="Get-VMSnapshot"),
    Rule("checkpoint-chain-deep", "checkpoints", WARNING, "Checkpoint chain deeper than the limit",
         "Delete checkpoints no longer needed so the chain merges back.",
         "Judgement (3): every level is one more differencing disk on each read; Hyper-V allows 50 per VM "
         f"({_LEARN} \"Plan for Hyper-V scalability\").", judgement=True, needs="Get-VMSnapshot"),
    Rule("checkpoint-standard", "checkpoints", WARNING, "Standard (not production) checkpoints",
         "Set-VM -CheckpointType Production (or ProductionOnly); restoring a standard checkpoint of a server "
         "rolls back application state the guest does not know about.",
         f"{_LEARN}: \"Choose between standard or production checkpoints in Hyper-V\" (production checkpoints "
         "are the default and are recommended for production workloads).", needs="Get-VM, Get-VMSnapshot"),
    Rule("checkpoint-merge-stuck", "checkpoints", CRITICAL, "Checkpoint merge stuck",
         "Check the Hyper-V-VMMS log; with the VM off, Edit-VHD -Merge the .avhdx into its parent, or "
         "contact support before deleting any file.",
         "A differencing (.avhdx) disk attached with no checkpoint left means a merge did not finish; a merge "
         "seen for over 60 minutes (judgement) is stuck.", needs="Get-VMHardDiskDrive, Get-VHD, Get-VMSnapshot"),
    Rule("vhd-on-system-drive", "storage", WARNING, "Virtual disk on the system drive",
         "Move the VM's storage to a data volume (Move-VMStorage); a full system drive stops the host.",
         "Hyper-V Best Practices Analyzer guidance: keep virtual machine files off the system volume.",
         needs="Get-VMHardDiskDrive; Win32_Volume"),
    Rule("volume-low-free", "storage", WARNING, "Little free space on a volume holding virtual disks",
         "Free space or move virtual disks away; below about 200 MB free Hyper-V pauses the VMs (Paused-Critical).",
         "Judgement (10 %); Ben Armstrong (Microsoft), \"Why is my virtual machine Paused-Critical?\" for the "
         "200 MB line.", judgement=True, needs="Get-VHD; Win32_Volume"),
    Rule("volume-overprovisioned", "storage", WARNING, "Dynamically expanding disks could fill their volume",
         "Convert busy disks to fixed size, add space, or move disks so their growth fits.",
         "Dynamically expanding VHDX grow to their maximum size (Get-VHD Size vs FileSize); the volume pauses "
         "VMs when full.", needs="Get-VHD; Win32_Volume"),
    Rule("paused-critical", "storage", CRITICAL, "VM paused critical (storage full) now or recently",
         "Free space on the VM's volume, then Resume-VM.",
         "Ben Armstrong (Microsoft), \"Why is my virtual machine Paused-Critical?\"; seen in Get-VM State.",
         needs="Get-VM (and the console's live polling for history)"),
    Rule("ic-service-disabled", "integration", WARNING, "Heartbeat or shutdown integration service disabled",
         "Enable-VMIntegrationService -Name Heartbeat/Shutdown: without them the host cannot shut the guest "
         "down cleanly and no one sees it freeze.",
         f"{_LEARN}: \"Manage Hyper-V Integration Services\".", needs="Get-VMIntegrationService"),
    Rule("ic-out-of-date", "integration", WARNING, "Integration services out of date",
         "Update the guest's integration services (Windows Update inside the guest for current Windows).",
         f"{_LEARN}: \"Manage Hyper-V Integration Services\"; Get-VM IntegrationServicesState.",
         needs="Get-VM"),
    Rule("stop-action-turnoff", "start-stop", WARNING, "Automatic stop action TurnOff",
         "Set-VM -AutomaticStopAction ShutDown (or Save): TurnOff pulls the power cord when the host shuts down.",
         f"{_LEARN}: Set-VM -AutomaticStopAction (TurnOff, Save, ShutDown).", needs="Get-VM"),
    Rule("boot-storm", "start-stop", WARNING, "VMs all start at once with the host",
         "Stagger Set-VM -AutomaticStartDelay (for example 30 to 120 s apart, domain controllers first).",
         f"{_LEARN}: Set-VM -AutomaticStartDelay; 4 VMs at once is a judgement.", judgement=True,
         needs="Get-VM"),
    Rule("config-version-old", "versions", INFO, "VM configuration version older than the host supports",
         "After every host that may run it is upgraded: Update-VMVersion (one way, the VM must be off).",
         f"{_LEARN}: \"Upgrade virtual machine version in Hyper-V on Windows or Windows Server\".",
         needs="Get-VM, Get-VMHostSupportedVersion"),
    Rule("generation-1", "versions", INFO, "Generation 1 VM",
         "Plan to rebuild as generation 2 (UEFI, Secure Boot, faster boot) when the guest supports it.",
         f"{_LEARN}: \"Should I create a generation 1 or 2 virtual machine in Hyper-V?\"", needs="Get-VM"),
    Rule("vm-not-clustered", "cluster", WARNING, "VM on a cluster node is not clustered",
         "Add-ClusterVirtualMachineRole so the VM fails over when its node fails.",
         f"{_LEARN}: \"Deploy a Hyper-V cluster\" (only clustered VM roles fail over).",
         needs="Get-VM IsClustered; the FailoverClusters module"),
    Rule("node-paused-outside-maintenance", "cluster", WARNING,
         "Cluster node paused or drained outside a maintenance window",
         "Resume-ClusterNode (with -Failback if wanted) or open a maintenance window in the console.",
         f"{_LEARN}: Suspend-ClusterNode / Resume-ClusterNode; the window is the console's own.",
         needs="Get-ClusterNode"),
    Rule("backup-missing", "backup", WARNING, "No successful backup within the limit",
         "Check the backup job for this VM; a VM that is never backed up cannot be restored.",
         "Msvm_ComputerSystem LastSuccessfulBackupTime (set by Hyper-V VSS backups); 26 hours (daily plus "
         "slack) is a judgement.", judgement=True, needs="Msvm_ComputerSystem (root/virtualization/v2)"),
    Rule("host-below-target", "patching", CRITICAL, "Host below the catalog's target build",
         "Run a patch run for this host (Patch in the console, or hvconsole patch).",
         "The console's update catalog; the running build (CurrentBuild.UBR) is the proof.",
         needs="collect.ps1 (the console's compliance)"),
    Rule("pending-reboot-long", "patching", WARNING, "Reboot pending for more than a day",
         "Plan the host's restart (drain first); an update is not in force until the host restarts.",
         "Judgement (24 hours); the pending-reboot registry keys (CBS RebootPending, PendingFileRenameOperations).",
         judgement=True, needs="the registry; Get-HotFix for since when"),
    Rule("host-bpa", "host-bpa", WARNING, "The host's own Best Practices Analyzer result",
         "As the result says (its Resolution).",
         "Windows Server Best Practices Analyzer, model Microsoft/Windows/Hyper-V (Get-BpaResult); shown as the "
         "host's, severity as the host rated it.",
         needs="the BestPractices module and a scan run on the host (Invoke-BpaModel)"),
)
RULES_BY_ID = {r.id: r for r in RULES}


def rule(rule_id: str) -> Rule:
    return RULES_BY_ID[rule_id]


def at_or_above(severity: str, floor: str) -> bool:
    return SEVERITY_RANK[severity] <= SEVERITY_RANK[floor]
