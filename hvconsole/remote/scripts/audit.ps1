# hvconsole-script: audit
param([Parameter(Mandatory=$true)][string]$HvcParams)
$ProgressPreference='SilentlyContinue'; $ErrorActionPreference='Stop'
# The health check's read of one Hyper-V host (docs/health-check.md): host configuration,
# every VM's configuration, checkpoints, disks and volumes, and the host's own Best
# Practices Analyzer results. Read-only: it changes nothing and starts no BPA scan. Runs
# every 15 minutes, never every poll. The Hyper-V part runs in a second runspace bounded by
# vm_query_timeout_ms (a wedged VMMS blocks Get-VM for minutes). $HvcParams is data.

$clock = [Diagnostics.Stopwatch]::StartNew()
$hostTime = [DateTime]::UtcNow
$where = 'start'
$warnings = [Collections.Generic.List[string]]::new()
$abandoned = [Collections.Generic.List[object]]::new()
$inv = [Globalization.CultureInfo]::InvariantCulture

function ConvertTo-IsoUtc($Time) {
  if ($null -eq $Time) { return $null }
  $t = [DateTime]$Time
  if ($t.Kind -ne [DateTimeKind]::Utc) { $t = $t.ToUniversalTime() }
  return $t.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", $inv)
}

function Get-InnermostMessage($Failure) {
  $ex = $Failure
  if ($Failure -is [Management.Automation.ErrorRecord]) { $ex = $Failure.Exception }
  if ($ex -isnot [Exception]) { return [string]$Failure }
  while ($null -ne $ex.InnerException) { $ex = $ex.InnerException }
  return $ex.Message
}

function Add-Warning([string]$Area, $Failure) { $warnings.Add($Area + ': ' + (Get-InnermostMessage $Failure)) }

function Get-IntParam($Value, [int]$Default, [int]$Min, [int]$Max) {
  if ($null -eq $Value) { return $Default }
  return [int][Math]::Min($Max, [Math]::Max($Min, [int]$Value))
}

function Get-Mb($Bytes) { if ($null -ne $Bytes) { [Math]::Round([double]$Bytes / 1048576, 1) } }

# -- bounded queries (as in collect.ps1) ----------------------------------------------------
function Start-BoundedQuery([scriptblock]$Body, $Argument) {
  $started = [Diagnostics.Stopwatch]::StartNew()
  try {
    # CreateDefault2: core commands only, modules load on first use; quicker to open.
    $shell = [powershell]::Create([Management.Automation.Runspaces.InitialSessionState]::CreateDefault2())
    [void]$shell.AddScript($Body.ToString()).AddArgument($started).AddArgument($Argument)
    return [pscustomobject]@{ Shell = $shell; Clock = $started; Handle = $shell.BeginInvoke(); Failure = $null }
  } catch {
    return [pscustomobject]@{ Shell = $null; Clock = $started; Handle = $null; Failure = (Get-InnermostMessage $_) }
  }
}

function Wait-BoundedQuery($Job, [int]$TimeoutMs) {
  $result = [pscustomobject]@{ ok = $false; elapsed_ms = $null; error = $Job.Failure; value = $null }
  if ($null -eq $Job.Failure) {
    $left = [int][Math]::Max(0, $TimeoutMs - $Job.Clock.ElapsedMilliseconds)
    if (-not $Job.Handle.AsyncWaitHandle.WaitOne($left)) {
      # BeginStop, never Stop(): Stop() blocks until the stuck call returns.
      [void]$Job.Shell.BeginStop($null, $null)
      $abandoned.Add($Job.Shell)
      $result.error = "timeout after $TimeoutMs ms"
    } else {
      try {
        $out = @($Job.Shell.EndInvoke($Job.Handle))
        if ($out.Count -gt 0) { $result.value = $out[$out.Count - 1] }
        $result.ok = $true
      } catch { $result.error = Get-InnermostMessage $_ }
    }
  }
  $result.elapsed_ms = [int64]$Job.Clock.ElapsedMilliseconds
  # The query's own time when it reports one: the script may come to wait for it late.
  if ($result.ok -and $null -ne $result.value.elapsed_ms) { $result.elapsed_ms = [int64]$result.value.elapsed_ms }
  return $result
}

# Runs in the second runspace: nothing from this script's scope is visible there.
$vmAuditBody = {
  param($Clock, $MaxCheckpoints)
  $ErrorActionPreference = 'Stop'; $ProgressPreference = 'SilentlyContinue'
  $inv = [Globalization.CultureInfo]::InvariantCulture
  function Get-Name($Value) { if ($null -ne $Value) { return $Value.ToString() } }
  function Get-Mb($Bytes) { if ($null -ne $Bytes) { [Math]::Round([double]$Bytes / 1048576, 1) } }
  function ConvertTo-IsoUtc($Time) {
    if ($null -eq $Time) { return $null }
    $t = [DateTime]$Time
    if ($t.Kind -ne [DateTimeKind]::Utc) { $t = $t.ToUniversalTime() }
    return $t.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", $inv)
  }
  $problems = [Collections.Generic.List[string]]::new()
  $getVmErrors = $null
  $vms = @(Hyper-V\Get-VM -ErrorAction SilentlyContinue -ErrorVariable getVmErrors)
  foreach ($er in @($getVmErrors)) { if ($null -ne $er) { $problems.Add('Get-VM: ' + $er.ToString()) } }
  if ($vms.Count -eq 0 -and $problems.Count -gt 0) { throw $problems[0] }

  $numa = @()
  try {
    $numa = @(Hyper-V\Get-VMHostNumaNode | ForEach-Object {
      [ordered]@{ node = [int]$_.NodeId; logical_processors = @($_.ProcessorsAvailability).Count
                  memory_mb = $_.MemoryTotal } })
  } catch { $problems.Add('Get-VMHostNumaNode: ' + $_.Exception.Message) }
  $supported = $null
  try { $supported = (Hyper-V\Get-VMHostSupportedVersion -Default).Version.ToString() }
  catch { $problems.Add('Get-VMHostSupportedVersion: ' + $_.Exception.Message) }

  # Bulk calls for all VMs, grouped by VM id; never one call per VM where a bulk one exists.
  $snaps = @{}; $ics = @{}; $drives = @{}; $msvm = @{}
  if ($vms.Count -gt 0) {
    try { foreach ($s in @(Hyper-V\Get-VMSnapshot -VM $vms)) { $k = [string]$s.VMId; if (-not $snaps[$k]) { $snaps[$k] = [Collections.Generic.List[object]]::new() }; $snaps[$k].Add($s) } }
    catch { $problems.Add('Get-VMSnapshot: ' + $_.Exception.Message) }
    try { foreach ($i in @(Hyper-V\Get-VMIntegrationService -VM $vms)) { $k = [string]$i.VMId; if (-not $ics[$k]) { $ics[$k] = [Collections.Generic.List[object]]::new() }; $ics[$k].Add($i) } }
    catch { $problems.Add('Get-VMIntegrationService: ' + $_.Exception.Message) }
    try { foreach ($d in @(Hyper-V\Get-VMHardDiskDrive -VM $vms)) { $k = [string]$d.VMId; if (-not $drives[$k]) { $drives[$k] = [Collections.Generic.List[object]]::new() }; $drives[$k].Add($d) } }
    catch { $problems.Add('Get-VMHardDiskDrive: ' + $_.Exception.Message) }
    try { foreach ($cs in @(Get-CimInstance -Namespace 'root/virtualization/v2' -ClassName 'Msvm_ComputerSystem')) { $msvm[[string]$cs.Name] = $cs } }
    catch { $problems.Add('Msvm_ComputerSystem: ' + $_.Exception.Message) }
  }
  # Integration services by the GUID at the end of their Id (names are localized):
  # Heartbeat 84EAAE65-..., Shutdown 9F8233AC-...
  $heartbeatId = '84EAAE65-2F2E-45F5-9BB5-0E857DC8EB47'
  $shutdownId = '9F8233AC-BE49-4C79-8EE3-E7E1985B2077'
  $out = [Collections.Generic.List[object]]::new()
  foreach ($vm in $vms) {
    $id = ([string]$vm.Id).ToLowerInvariant()
    $list = @(); if ($snaps[[string]$vm.Id]) { $list = @($snaps[[string]$vm.Id]) }
    $byId = @{}; foreach ($s in $list) { $byId[[string]$s.Id] = $s }
    $checkpoints = [Collections.Generic.List[object]]::new()
    foreach ($s in ($list | Sort-Object -Property CreationTime)) {
      if ($checkpoints.Count -ge $MaxCheckpoints) { break }
      $depth = 1; $p = [string]$s.ParentSnapshotId
      while ($p -and $byId.ContainsKey($p) -and $depth -lt 500) { $depth++; $p = [string]$byId[$p].ParentSnapshotId }
      $checkpoints.Add([ordered]@{ name = [string]$s.Name; created = ConvertTo-IsoUtc $s.CreationTime; depth = $depth
                                   type = Get-Name $s.SnapshotType })
    }
    $hb = $null; $sd = $null
    if ($ics[[string]$vm.Id]) {
      foreach ($i in $ics[[string]$vm.Id]) {
        if ([string]$i.Id -like "*$heartbeatId") { $hb = [bool]$i.Enabled }
        if ([string]$i.Id -like "*$shutdownId") { $sd = [bool]$i.Enabled }
      }
    }
    $disks = [Collections.Generic.List[object]]::new()
    if ($drives[[string]$vm.Id]) {
      foreach ($d in $drives[[string]$vm.Id]) {
        if (-not $d.Path) { continue }
        $disk = [ordered]@{ path = [string]$d.Path; type = $null; size_mb = $null; file_size_mb = $null; volume = $null }
        try {
          $vhd = Hyper-V\Get-VHD -Path $d.Path
          $disk.type = Get-Name $vhd.VhdType; $disk.size_mb = Get-Mb $vhd.Size; $disk.file_size_mb = Get-Mb $vhd.FileSize
        } catch { $problems.Add('Get-VHD ' + $vm.Name + ': ' + $_.Exception.Message) }
        $disks.Add($disk)
      }
    }
    $backup = $null
    $cs = $msvm[[string]$vm.Id]
    if ($null -ne $cs -and $null -ne $cs.LastSuccessfulBackupTime) { $backup = ConvertTo-IsoUtc $cs.LastSuccessfulBackupTime }
    $merging = $false
    foreach ($st in @($vm.OperationalStatus)) { if ((Get-Name $st) -eq 'MergingDisks') { $merging = $true } }
    $checkpointType = $null
    try { $checkpointType = Get-Name $vm.CheckpointType } catch { $checkpointType = $null }
    $out.Add([ordered]@{
      id = $id; name = [string]$vm.Name; state = Get-Name $vm.State; generation = $vm.Generation
      config_version = Get-Name $vm.Version; vcpus = $vm.ProcessorCount
      memory_startup_mb = Get-Mb $vm.MemoryStartup; dynamic_memory = [bool]$vm.DynamicMemoryEnabled
      memory_minimum_mb = Get-Mb $vm.MemoryMinimum; memory_maximum_mb = Get-Mb $vm.MemoryMaximum
      memory_assigned_mb = Get-Mb $vm.MemoryAssigned; memory_demand_mb = Get-Mb $vm.MemoryDemand
      automatic_start_action = Get-Name $vm.AutomaticStartAction
      automatic_start_delay_s = $vm.AutomaticStartDelay
      automatic_stop_action = Get-Name $vm.AutomaticStopAction
      checkpoint_type = $checkpointType; checkpoints = $checkpoints.ToArray(); merge_in_progress = $merging
      integration_services = [ordered]@{ heartbeat = $hb; shutdown = $sd
        state = Get-Name $vm.IntegrationServicesState; version = Get-Name $vm.IntegrationServicesVersion }
      disks = $disks.ToArray(); is_clustered = $vm.IsClustered; last_backup = $backup
    })
  }
  [pscustomobject]@{ vms = $out.ToArray(); numa = $numa; supported = $supported; problems = $problems.ToArray()
                     elapsed_ms = [int64]$Clock.ElapsedMilliseconds }
}

$clusterQueryBody = {
  param($Clock, $Unused)
  $ErrorActionPreference = 'Stop'
  Import-Module FailoverClusters
  $node = FailoverClusters\Get-ClusterNode -Name $env:COMPUTERNAME
  [pscustomobject]@{ name = [string](FailoverClusters\Get-Cluster).Name; node_state = [string]$node.State
                     drain_status = [string]$node.DrainStatus }
}

# -- host facts (main runspace) -------------------------------------------------------------
function Get-PendingReboot {
  $keys = @('HKLM:\SOFTWARE\Microsoft\Windows\CurrentVersion\Component Based Servicing\RebootPending',
            'HKLM:\SOFTWARE\Microsoft\Windows\CurrentVersion\WindowsUpdate\Auto Update\RebootRequired')
  foreach ($k in $keys) { if (Test-Path -LiteralPath $k) { return $true } }
  $sm = Get-ItemProperty -LiteralPath 'HKLM:\SYSTEM\CurrentControlSet\Control\Session Manager' -ErrorAction SilentlyContinue
  return [bool]($null -ne $sm -and $null -ne $sm.PendingFileRenameOperations)
}

# Get-HotFix gives the day an update was installed (InstalledOn, local midnight), not the
# time: the earliest such day on or after the last boot day is "pending since".
function Get-PendingSince($LastBoot) {
  $bootDay = ([DateTime]$LastBoot).Date
  $days = @(Get-HotFix | Where-Object { $null -ne $_.InstalledOn -and $_.InstalledOn -ge $bootDay } |
            ForEach-Object { [DateTime]$_.InstalledOn } | Sort-Object)
  if ($days.Count -eq 0) { return $null }
  return ConvertTo-IsoUtc $days[0]
}

function Get-Volumes([string]$SystemDrive) {
  $system = $SystemDrive.TrimEnd('\') + '\'
  @(Get-CimInstance -ClassName Win32_Volume | Where-Object { $_.Name -and $_.Capacity -gt 0 -and $_.Name -notlike '\\?\*' } |
    ForEach-Object { [ordered]@{ path = [string]$_.Name; label = [string]$_.Label; size_mb = Get-Mb $_.Capacity
                                 free_mb = Get-Mb $_.FreeSpace; is_system = ([string]$_.Name -eq $system) } })
}

# The volume holding a file: the longest mount path it starts with (a CSV under
# C:\ClusterStorage is not the system drive).
function Get-VolumeOf([string]$Path, $Volumes) {
  $best = $null
  foreach ($v in $Volumes) {
    if ($Path.StartsWith($v.path, [StringComparison]::OrdinalIgnoreCase) -and ($null -eq $best -or $v.path.Length -gt $best.Length)) { $best = $v.path }
  }
  return $best
}

function Get-BpaFacts {
  $bpa = [ordered]@{ available = $false; error = $null; results = @() }
  if (-not (Get-Command -Name 'Get-BpaResult' -ErrorAction SilentlyContinue)) {
    $bpa.error = 'the BestPractices module is not installed'
    return $bpa
  }
  try {
    # Reads the last scan's results; Invoke-BpaModel (a scan) is never started from here.
    $found = @(BestPractices\Get-BpaResult -ModelId 'Microsoft/Windows/Hyper-V' -ErrorAction Stop |
      Where-Object { -not $_.Excluded -and ([string]$_.Severity -eq 'Error' -or [string]$_.Severity -eq 'Warning') } |
      Select-Object -First 100)
    $bpa.results = @($found | ForEach-Object { [ordered]@{ rule_id = $_.RuleId; severity = [string]$_.Severity
      category = [string]$_.Category; title = [string]$_.Title; problem = [string]$_.Problem
      impact = [string]$_.Impact; resolution = [string]$_.Resolution } })
    $bpa.available = $true
  } catch { $bpa.error = 'Get-BpaResult: ' + (Get-InnermostMessage $_) }
  return $bpa
}

# -- main --------------------------------------------------------------------------------
try {
  $where = 'params'
  $params = [Text.Encoding]::UTF8.GetString([Convert]::FromBase64String($HvcParams.Trim())) | ConvertFrom-Json
  $vmTimeoutMs = Get-IntParam $params.vm_query_timeout_ms 60000 1000 300000
  $maxCheckpoints = Get-IntParam $params.max_checkpoints 50 0 500
  $readBpa = $true
  if ($null -ne $params.bpa) { $readBpa = [bool]$params.bpa }

  $where = 'vm query start'
  $vmJob = Start-BoundedQuery $vmAuditBody $maxCheckpoints
  $clusterJob = $null
  $clussvc = Get-Service -Name 'clussvc' -ErrorAction SilentlyContinue
  if ($null -ne $clussvc -and [string]$clussvc.Status -eq 'Running') { $clusterJob = Start-BoundedQuery $clusterQueryBody $null }

  $where = 'os'
  $osCim = Get-CimInstance -ClassName Win32_OperatingSystem
  $csCim = Get-CimInstance -ClassName Win32_ComputerSystem
  $cv = Get-ItemProperty -LiteralPath 'HKLM:\SOFTWARE\Microsoft\Windows NT\CurrentVersion'
  $os = [ordered]@{ product = [string]$osCim.Caption; build = [int]$osCim.BuildNumber; ubr = $null
                    last_boot = ConvertTo-IsoUtc $osCim.LastBootUpTime; pending_reboot = $null; pending_reboot_since = $null }
  if ($null -ne $cv.UBR) { $os.ubr = [int]$cv.UBR }
  try { $os.pending_reboot = Get-PendingReboot } catch { $null = Add-Warning 'pending_reboot' $_ }
  if ($os.pending_reboot) { try { $os.pending_reboot_since = Get-PendingSince $osCim.LastBootUpTime } catch { $null = Add-Warning 'pending_reboot_since' $_ } }

  $where = 'memory'
  $reserve = $null
  try {
    $virt = Get-ItemProperty -LiteralPath 'HKLM:\SOFTWARE\Microsoft\Windows NT\CurrentVersion\Virtualization' -ErrorAction SilentlyContinue
    if ($null -ne $virt -and $null -ne $virt.MemoryReserve) { $reserve = [double]$virt.MemoryReserve }
  } catch { $null = Add-Warning 'memory_reserve' $_ }

  $where = 'volumes'
  $volumes = @()
  try { $volumes = @(Get-Volumes $env:SystemDrive) } catch { $null = Add-Warning 'volumes' $_ }

  $where = 'bpa'
  $bpa = [ordered]@{ available = $false; error = 'not asked for'; results = @() }
  if ($readBpa) { $bpa = Get-BpaFacts }

  $where = 'vm query'
  $vmResult = Wait-BoundedQuery $vmJob $vmTimeoutMs
  $vms = @(); $numa = @(); $supported = $null
  if ($vmResult.ok) {
    $vms = @($vmResult.value.vms); $numa = @($vmResult.value.numa); $supported = $vmResult.value.supported
    foreach ($problem in @($vmResult.value.problems)) { if ($problem) { $warnings.Add('vm_query: ' + $problem) } }
  }
  foreach ($vm in $vms) { foreach ($d in $vm.disks) { $d.volume = Get-VolumeOf $d.path $volumes } }
  # Only the volumes that hold a virtual disk, and the system volume.
  $used = @{}; foreach ($vm in $vms) { foreach ($d in $vm.disks) { if ($d.volume) { $used[$d.volume] = $true } } }
  $volumes = @($volumes | Where-Object { $_.is_system -or $used.ContainsKey($_.path) })

  $where = 'cluster'
  $cluster = $null
  if ($null -ne $clusterJob) {
    $c = Wait-BoundedQuery $clusterJob $vmTimeoutMs
    if ($c.ok) { $cluster = [ordered]@{ name = $c.value.name; node_state = $c.value.node_state; drain_status = $c.value.drain_status } }
    else { $warnings.Add('cluster: ' + $c.error); $cluster = [ordered]@{ name = $null; node_state = 'Unknown'; drain_status = 'Unknown' } }
  }

  $where = 'output'
  $doc = [ordered]@{
    audit_version = 1
    host_time = ConvertTo-IsoUtc $hostTime
    audit_ms = [int64]$clock.ElapsedMilliseconds
    host = [ordered]@{
      computer_name = $env:COMPUTERNAME
      os = $os
      logical_processors = [int]$csCim.NumberOfLogicalProcessors
      numa_nodes = $numa
      memory_total_mb = [Math]::Round([double]$osCim.TotalVisibleMemorySize / 1024, 1)
      memory_available_mb = [Math]::Round([double]$osCim.FreePhysicalMemory / 1024, 1)
      memory_reserve_mb = $reserve
      system_drive = $env:SystemDrive
      supported_config_version = $supported
      volumes = $volumes
      cluster = $cluster
    }
    vm_query = [ordered]@{ ok = $vmResult.ok; elapsed_ms = $vmResult.elapsed_ms; error = $vmResult.error }
    vms = $vms
    bpa = $bpa
    warnings = $warnings.ToArray()
  }
  $json = ConvertTo-Json -InputObject $doc -Depth 8 -Compress
} catch {
  $failure = [ordered]@{ hvc_error = [ordered]@{ message = (Get-InnermostMessage $_); where = $where } }
  [Console]::Out.Write((ConvertTo-Json -InputObject $failure -Compress))
  [Console]::Out.Flush()
  if ($abandoned.Count -gt 0) { [Environment]::Exit(1) }
  exit 1
}
[Console]::Out.Write($json)
[Console]::Out.Flush()
# A timed-out pipeline may never leave its call; the answer is written, leave at once.
if ($abandoned.Count -gt 0) { [Environment]::Exit(0) }
exit 0
