# hvconsole-script: collect
param([string]$HvcParams, [switch]$HvcLoop)
$ProgressPreference='SilentlyContinue'; $ErrorActionPreference='Stop'
# One poll of one Hyper-V host: the snapshot-v1 host part as one JSON document on stdout
# (docs/collection-script.md). Windows PowerShell 5.1, any UI language: enums go out as
# names, times as UTC ISO text we format ourselves, counters come from CIM classes (English
# names) rather than localized Get-Counter paths. $HvcParams is data, never script text.
# With -HvcLoop the same poll answers one request line after another on stdin (the loop
# mode, docs/collection-script.md "Loop mode"); without it, one poll and exit as always.

# Pipelines that timed out; their threads may never come back (see the end of the script).
# Kept for the life of the process: the loop ends once it holds one.
$abandoned = [Collections.Generic.List[object]]::new()
$inv = [Globalization.CultureInfo]::InvariantCulture
$levelNames = @{ 0 = 'Information'; 1 = 'Critical'; 2 = 'Error'; 3 = 'Warning'; 4 = 'Information'; 5 = 'Verbose' }
$hyperVChannels = @('VMMS', 'Worker', 'Compute', 'Hypervisor', 'StorageVSP', 'High-Availability') |
  ForEach-Object { "Microsoft-Windows-Hyper-V-$_-Admin" }
# System log: which provider may report which id (ids alone collide between providers).
# BugCheck 1001 is written by WER-SystemErrorReporting, event source name BugCheck.
$systemSources = @{
  'Microsoft-Windows-Kernel-Power' = @(41); 'EventLog' = @(6008)
  'Microsoft-Windows-WER-SystemErrorReporting' = @(1001); 'BugCheck' = @(1001)
  'Service Control Manager' = @(7031, 7034)
  'Microsoft-Windows-FailoverClustering' = @(1069, 1135, 1146, 1177, 1205, 1230, 1672)
}
$vmIdPattern = '(?i)(?:Name=[''"]VmId[''"]>|<VmId>)\s*\{?([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})'
$messageMax = 600

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

# What this poll costs the host (collect_cost): when each stage ended ($stageEnds of
# Invoke-CollectPoll, ms since the poll began), the CPU time and the peak working set of this
# powershell.exe. TotalProcessorTime is user + kernel time of this process since it started
# (powershell.exe start-up, .NET and module loading included): what one poll costs the host's
# CPU. $CpuBaseMs is that time when the poll began: 0 for the one-shot call, whose cost is
# the whole process's; in the loop, the poll's own share.
function Get-OwnCost([double]$CpuBaseMs) {
  $probesMs = [ordered]@{}
  $previous = [int64]0
  foreach ($stage in @($stageEnds.Keys)) {
    $probesMs[$stage] = [int64]$stageEnds[$stage] - $previous
    $previous = [int64]$stageEnds[$stage]
  }
  $cost = [ordered]@{ cpu_ms = $null; peak_working_set_mb = $null; probes_ms = $probesMs }
  Invoke-Probe 'collect_cost' {
    $self = [Diagnostics.Process]::GetCurrentProcess()
    $cost.cpu_ms = [int64]($self.TotalProcessorTime.TotalMilliseconds - $CpuBaseMs)
    $cost.peak_working_set_mb = [Math]::Round($self.PeakWorkingSet64 / 1048576, 1)
  }
  return $cost
}

# A failing probe becomes a warning, not a failed snapshot. Its output is discarded so no
# probe can leak text into stdout.
function Invoke-Probe([string]$ProbeName, [scriptblock]$Body) {
  try { $null = & $Body } catch { Add-Warning $ProbeName $_ }
}

# A counter value; a missing property throws so a wrong name shows as a warning, not a 0.
function Get-CimNumber($Instance, [string]$Property) {
  if ($null -eq $Instance) { return $null }
  $prop = $Instance.CimInstanceProperties[$Property]
  if ($null -eq $prop) { throw "$($Instance.CimClass.CimClassName) has no property $Property" }
  if ($null -eq $prop.Value) { return $null }
  return [double]$prop.Value
}

function Get-CimSum($Instances, [string]$Property) {
  $sum = 0.0
  foreach ($i in $Instances) { $v = Get-CimNumber $i $Property; if ($null -ne $v) { $sum += $v } }
  return $sum
}

function Get-TotalInstance([string]$ClassName) { Get-CimInstance -ClassName $ClassName -Filter "Name='_Total'" }

# The instances of a counter class to add up: never its _Total, which would count every
# instance twice (windows_exporter's Hyper-V collector drops _Total from every counter set).
function Get-PerfInstances([string]$ClassName) {
  @(Get-CimInstance -ClassName $ClassName | Where-Object { $_.Name -ne '_Total' })
}

# -- bounded queries ---------------------------------------------------------------------
# Get-VM against a wedged VMMS (Get-Cluster against a sick cluster) can block for minutes.
# Such a query runs in a second runspace and we wait at most its budget. On timeout:
# BeginStop, never Stop(), which blocks until the stuck call returns.

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

# -> { ok, elapsed_ms, error, value }; value is the last object the query returned.
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

# The loop's process outlives a query: free its runspace (and the modules loaded in it)
# once the query finished, or every poll would leave one behind. The PowerShell does not
# own that runspace: Create(InitialSessionState) hands it over through the Runspace setter
# (IsRunspaceOwner stays false) and PowerShell.Dispose() disposes only a runspace it owns
# (PowerShell/PowerShell, engine/hostifaces/PowerShell.cs), so both are disposed. Never a
# stuck (abandoned) one: that blocks like Stop(). A one-shot process ends anyway. Kept
# apart from Wait-BoundedQuery, whose text audit.ps1 shares (docs/house-rules.md). A
# failure here must not fail the poll.
function Close-FinishedQuery($Job) {
  if (-not $HvcLoop -or $null -eq $Job -or $null -ne $Job.Failure) { return }
  if ($abandoned.Contains($Job.Shell) -or -not $Job.Handle.IsCompleted) { return }
  try {
    $runspace = $Job.Shell.Runspace
    $Job.Shell.Dispose()
    $runspace.Dispose()
  } catch { Add-Warning 'query.dispose' $_ }
}

# Runs in the second runspace: nothing from this script's scope is visible there.
$vmQueryBody = {
  param($Clock)
  $ErrorActionPreference = 'Stop'; $ProgressPreference = 'SilentlyContinue'
  function Get-Name($Value) { if ($null -ne $Value) { return $Value.ToString() } }
  function Get-Mb($Bytes) { if ($null -ne $Bytes) { [Math]::Round([double]$Bytes / 1048576, 1) } }
  $problems = [Collections.Generic.List[string]]::new()
  # One unreadable VM must not hide the others: report its error, fail only on nothing.
  $getVmErrors = $null
  $vms = @(Hyper-V\Get-VM -ErrorAction SilentlyContinue -ErrorVariable getVmErrors)
  foreach ($er in @($getVmErrors)) { if ($null -ne $er) { $problems.Add('Get-VM: ' + $er.ToString()) } }
  if ($vms.Count -eq 0 -and $problems.Count -gt 0) { throw $problems[0] }
  # One bulk CIM call for all VMs, never one per VM: health and last backup by VM GUID.
  $msvm = @{}
  if ($vms.Count -gt 0) {
    try {
      foreach ($cs in @(Get-CimInstance -Namespace 'root/virtualization/v2' -ClassName 'Msvm_ComputerSystem')) { $msvm[[string]$cs.Name] = $cs }
    } catch { $problems.Add('Msvm_ComputerSystem: ' + $_.Exception.Message) }
  }
  # Confidential (guest-state isolated) VMs, for catalog applicability (KB5061906): one bulk
  # call, matched by VirtualSystemIdentifier = VM GUID. A build without the property leaves
  # the VM's value null (unknown), never false.
  $isolated = @{}
  if ($vms.Count -gt 0) {
    try {
      foreach ($sd in @(Get-CimInstance -Namespace 'root/virtualization/v2' -ClassName 'Msvm_VirtualSystemSettingData' -Filter "VirtualSystemType = 'Microsoft:Hyper-V:System:Realized'")) {
        $p = $sd.CimInstanceProperties['GuestStateIsolationEnabled']
        if ($null -ne $p -and $null -ne $p.Value) { $isolated[([string]$sd.VirtualSystemIdentifier).ToLowerInvariant()] = [bool]$p.Value }
      }
    } catch { $problems.Add('Msvm_VirtualSystemSettingData: ' + $_.Exception.Message) }
  }
  $healthNames = @{ 5 = 'Ok'; 20 = 'MajorFailure'; 25 = 'CriticalFailure' }
  $rows = [Collections.Generic.List[object]]::new()
  foreach ($vm in $vms) {
    $id = ([string]$vm.VMId).ToLowerInvariant()
    $state = Get-Name $vm.State
    $cs = $msvm[$id]
    $health = $null; $backup = $null
    if ($null -ne $cs) {
      $health = $healthNames[[int]$cs.HealthState]
      if ($null -eq $health) { $health = 'Unknown' }
      $b = $cs.LastSuccessfulBackupTime
      # WMI says "never" with a zero date.
      if ($b -is [DateTime] -and $b.Year -gt 1970) {
        $backup = $b.ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", [Globalization.CultureInfo]::InvariantCulture)
      }
    }
    # Get-VM's own VMHeartbeatStatus (the WMI heartbeat numbers differ); none when off.
    $heartbeat = $null
    if ($state -notlike 'Off*') { $heartbeat = Get-Name $vm.Heartbeat }
    $uptime = $null
    if ($null -ne $vm.Uptime) { $uptime = [int64][Math]::Floor($vm.Uptime.TotalSeconds) }
    $rows.Add([ordered]@{
      id = $id; name = [string]$vm.Name; state = $state; health = $health; heartbeat = $heartbeat
      operational_status = @(foreach ($s in @($vm.OperationalStatus)) { if ($null -ne $s) { $s.ToString() } })
      cpu_pct = $vm.CPUUsage; vcpus = $vm.ProcessorCount
      memory_assigned_mb = Get-Mb $vm.MemoryAssigned; memory_demand_mb = Get-Mb $vm.MemoryDemand
      dynamic_memory = $vm.DynamicMemoryEnabled; uptime_s = $uptime
      automatic_start_action = Get-Name $vm.AutomaticStartAction
      automatic_stop_action = Get-Name $vm.AutomaticStopAction
      generation = $vm.Generation; is_clustered = $vm.IsClustered; last_backup = $backup
      confidential = $isolated[$id]
    })
  }
  [pscustomobject]@{ vms = $rows.ToArray(); problems = $problems.ToArray(); elapsed_ms = [int64]$Clock.ElapsedMilliseconds }
}

$clusterQueryBody = {
  param($Clock)
  $ErrorActionPreference = 'Stop'; $ProgressPreference = 'SilentlyContinue'
  if (-not (Get-Module -ListAvailable -Name 'FailoverClusters')) { return [pscustomobject]@{ module = $false } }
  $cluster = FailoverClusters\Get-Cluster
  $node = FailoverClusters\Get-ClusterNode -Name $env:COMPUTERNAME
  # BitLocker-protected cluster shared volumes, for catalog applicability (KB5063877):
  # Get-BitLockerVolume on each CSV's mount point, as Microsoft's "Use BitLocker with
  # Cluster Shared Volumes" does. Unknown (null) when it cannot be read.
  $bitlocker = $null
  try {
    $count = 0
    foreach ($csv in @(FailoverClusters\Get-ClusterSharedVolume)) {
      foreach ($info in @($csv.SharedVolumeInfo)) {
        $volume = BitLocker\Get-BitLockerVolume -MountPoint ([string]$info.FriendlyVolumeName)
        if ([string]$volume.VolumeStatus -ne 'FullyDecrypted') { $count++ }
      }
    }
    $bitlocker = $count
  } catch { $bitlocker = $null }
  [pscustomobject]@{ module = $true; name = [string]$cluster.Name
    node_state = $node.State.ToString(); drain_status = $node.DrainStatus.ToString(); bitlocker_csvs = $bitlocker }
}

# -- host sections -----------------------------------------------------------------------

function Open-RegistryKey([string]$Path) { [Microsoft.Win32.Registry]::LocalMachine.OpenSubKey($Path) }

# Win32_OperatingSystem feeds both os.last_boot and the memory figures: read it once.
function Get-OsCim { try { return Get-CimInstance -ClassName 'Win32_OperatingSystem' } catch { Add-Warning 'os.cim' $_ } }

function Get-OsInfo($OsCim) {
  $os = [ordered]@{ product = $null; build = $null; ubr = $null; display_version = $null
    last_boot = $null; pending_reboot = $null; pending_reboot_reasons = @(); hotfixes = @() }
  Invoke-Probe 'os.version' {
    $cv = Open-RegistryKey 'SOFTWARE\Microsoft\Windows NT\CurrentVersion'
    $os.product = $cv.GetValue('ProductName')
    $os.display_version = $cv.GetValue('DisplayVersion')
    $build = $cv.GetValue('CurrentBuild'); if ($null -ne $build) { $os.build = [int]$build }
    $ubr = $cv.GetValue('UBR'); if ($null -ne $ubr) { $os.ubr = [int]$ubr }
  }
  if ($null -ne $OsCim) { $os.last_boot = ConvertTo-IsoUtc $OsCim.LastBootUpTime }
  Invoke-Probe 'os.pending_reboot' {
    $reasons = [Collections.Generic.List[string]]::new()
    if (Open-RegistryKey 'SOFTWARE\Microsoft\Windows\CurrentVersion\Component Based Servicing\RebootPending') { $reasons.Add('CBS') }
    if (Open-RegistryKey 'SOFTWARE\Microsoft\Windows\CurrentVersion\WindowsUpdate\Auto Update\RebootRequired') { $reasons.Add('WindowsUpdate') }
    # PendingFileRenameOperations is a value, not a key: look at its content.
    $renames = (Open-RegistryKey 'SYSTEM\CurrentControlSet\Control\Session Manager').GetValue('PendingFileRenameOperations')
    if (@($renames | Where-Object { $_ }).Count -gt 0) { $reasons.Add('PendingFileRename') }
    $os.pending_reboot = $reasons.Count -gt 0
    $os.pending_reboot_reasons = $reasons.ToArray()
  }
  Invoke-Probe 'os.hotfixes' {
    # The class behind Get-HotFix, without Get-HotFix's per-entry account lookups.
    $ids = [Collections.Generic.SortedSet[string]]::new()
    foreach ($q in @(Get-CimInstance -ClassName 'Win32_QuickFixEngineering' -Property 'HotFixID')) {
      $id = [string]$q.HotFixID
      if ($id -match '^KB\d+$') { [void]$ids.Add($id.ToUpperInvariant()) }
    }
    $os.hotfixes = @($ids)
  }
  return $os
}

# -> { states: name -> status name or null (not installed), objects: name -> service }
function Get-ServiceStates($Names) {
  $states = [ordered]@{}; $objects = @{}
  foreach ($n in $Names) {
    $states[$n] = $null
    try {
      $objects[$n] = Get-Service -Name $n -ErrorAction Stop
      $states[$n] = $objects[$n].Status.ToString()
    } catch {
      if ([string]$_.FullyQualifiedErrorId -notlike 'NoServiceFoundForGivenName*') { $states[$n] = 'Unknown'; Add-Warning "services.$n" $_ }
    }
  }
  return [pscustomobject]@{ states = $states; objects = $objects }
}

function Get-HostResources($OsCim) {
  $r = [ordered]@{ logical_processors = $null; cpu_total_run_pct = $null; cpu_guest_run_pct = $null
    cpu_root_run_pct = $null; memory_total_mb = $null; memory_available_mb = $null
    storage_read_bps = $null; storage_write_bps = $null; storage_latency_ms = $null
    network_rx_bps = $null; network_tx_bps = $null; system_drive_free_mb = $null
    storage_latency_freq = $null; storage_latency_raw = $null }
  $hv = 'Win32_PerfFormattedData_HvStats_HyperVHypervisor'
  Invoke-Probe 'resources.cpu_total' {
    # The non-_Total instances count the host's logical processors, which the root
    # partition's own view (Win32_ComputerSystem) can under-report.
    $count = 0
    foreach ($lp in @(Get-CimInstance -ClassName ($hv + 'LogicalProcessor'))) {
      if ($lp.Name -eq '_Total') { $r.cpu_total_run_pct = Get-CimNumber $lp 'PercentTotalRunTime' } else { $count++ }
    }
    if ($count -gt 0) { $r.logical_processors = $count }
  }
  if ($null -eq $r.logical_processors) {
    Invoke-Probe 'resources.logical_processors' {
      $r.logical_processors = [int](Get-CimInstance -ClassName 'Win32_ComputerSystem').NumberOfLogicalProcessors
    }
  }
  Invoke-Probe 'resources.cpu_root' { $r.cpu_root_run_pct = Get-CimNumber (Get-TotalInstance ($hv + 'RootVirtualProcessor')) 'PercentTotalRunTime' }
  Invoke-Probe 'resources.cpu_guest' { $r.cpu_guest_run_pct = Get-CimNumber (Get-TotalInstance ($hv + 'VirtualProcessor')) 'PercentGuestRunTime' }
  if ($null -ne $OsCim) {
    $r.memory_total_mb = [Math]::Round([double]$OsCim.TotalVisibleMemorySize / 1024, 1)
    $r.memory_available_mb = [Math]::Round([double]$OsCim.FreePhysicalMemory / 1024, 1)
  }
  Invoke-Probe 'resources.storage' {
    $devices = $null
    try { $devices = Get-PerfInstances 'Win32_PerfFormattedData_Counters_HyperVVirtualStorageDevice' }
    catch { Add-Warning 'resources.storage (Hyper-V class; PhysicalDisk used)' $_ }
    if ($null -ne $devices) {
      $r.storage_read_bps = Get-CimSum $devices 'ReadBytesPersec'
      $r.storage_write_bps = Get-CimSum $devices 'WriteBytesPersec'
      # Latency is a PERF_AVERAGE_TIMER: the formatted class holds it as whole seconds, 0 on
      # a healthy host (https://github.com/prometheus-community/windows_exporter/issues/2282,
      # https://github.com/DataDog/dd-agent/issues/1244). The raw class keeps per device
      # the total time of its operations in ticks of Frequency_PerfTime (Latency, a uint32
      # that wraps) and their count (Latency_Base). Each device's pair goes to the console,
      # which takes each device's growth between two polls (a sum over devices could not be
      # unwrapped in a storage stall; docs/collection-script.md). A device is named by the
      # first 5 bytes of the SHA-256 of its instance name (a VHD path) in hex: short, and the
      # path itself never leaves the host. The CryptoServiceProvider class, since the managed
      # one throws on hosts in FIPS mode. storage_latency_ms stays null here.
      try {
        $raw = @(Get-PerfInstances 'Win32_PerfRawData_Counters_HyperVVirtualStorageDevice')
        $pairs = [Collections.Generic.List[object]]::new()
        if ($raw.Count -gt 0) {
          $r.storage_latency_freq = Get-CimNumber $raw[0] 'Frequency_PerfTime'
          $sha = [Security.Cryptography.SHA256CryptoServiceProvider]::new()   # freed at process end or, in the loop, by its finalizer
          foreach ($d in $raw) {
            $ticks = Get-CimNumber $d 'Latency'; $ops = Get-CimNumber $d 'Latency_Base'
            if ($null -eq $ticks -or $null -eq $ops) { continue }
            $hash = $sha.ComputeHash([Text.Encoding]::UTF8.GetBytes([string]$d.Name))
            $key = [BitConverter]::ToString($hash, 0, 5).Replace('-', '').ToLowerInvariant()
            $pairs.Add(@($key, [int64]$ticks, [int64]$ops))
          }
        }
        $r.storage_latency_raw = $pairs
      } catch {
        $r.storage_latency_freq = $null; $r.storage_latency_raw = $null
        Add-Warning 'resources.storage_latency' $_
      }
    } else {
      # Formatted PhysicalDisk latency is in whole seconds (always 0): leave it unknown.
      $disk = Get-TotalInstance 'Win32_PerfFormattedData_PerfDisk_PhysicalDisk'
      $r.storage_read_bps = Get-CimNumber $disk 'DiskReadBytesPersec'
      $r.storage_write_bps = Get-CimNumber $disk 'DiskWriteBytesPersec'
    }
  }
  Invoke-Probe 'resources.network' {
    $nics = $null
    # __DEVICE_/__TEAMNIC_ instances are the host's physical side: the same bytes again.
    try {
      $nics = @(Get-PerfInstances 'Win32_PerfFormattedData_NvspNicStats_HyperVVirtualNetworkAdapter' |
        Where-Object { $_.Name -notlike '*__DEVICE*' -and $_.Name -notlike '*__TEAMNIC*' })
    } catch { Add-Warning 'resources.network (Hyper-V class; Tcpip used)' $_ }
    if ($null -eq $nics) { $nics = Get-PerfInstances 'Win32_PerfFormattedData_Tcpip_NetworkInterface' }
    $r.network_rx_bps = Get-CimSum $nics 'BytesReceivedPersec'
    $r.network_tx_bps = Get-CimSum $nics 'BytesSentPersec'
  }
  Invoke-Probe 'resources.system_drive' {
    $r.system_drive_free_mb = [Math]::Round((New-Object System.IO.DriveInfo -ArgumentList $env:SystemDrive).TotalFreeSpace / 1048576, 1)
  }
  return $r
}

# Appends one Get-WinEvent query's events to $Into. "No events" and "no such log" are
# normal answers; anything else becomes one warning.
function Read-Events([hashtable]$Filter, [int]$Max, [bool]$WithVmId, $Into) {
  $errs = $null
  $found = @(Get-WinEvent -FilterHashtable $Filter -MaxEvents $Max -ErrorAction SilentlyContinue -ErrorVariable errs)
  foreach ($er in @($errs)) {
    if ($null -ne $er -and [string]$er.FullyQualifiedErrorId -notlike 'NoMatching*') { Add-Warning "events.$($Filter.LogName)" $er; break }
  }
  foreach ($e in $found) {
    if ($Filter.LogName -eq 'System' -and $systemSources[[string]$e.ProviderName] -notcontains $e.Id) { continue }
    $vmId = $null
    if ($WithVmId) {
      $m = [regex]::Match($e.ToXml(), $vmIdPattern)
      if ($m.Success) { $vmId = $m.Groups[1].Value.ToLowerInvariant() }
    }
    $level = $levelNames[[int]$e.Level]
    if ($null -eq $level) { $level = 'Information' }
    $message = [string]$e.Message
    if ($message.Length -gt $messageMax) { $message = $message.Substring(0, $messageMax) + '...' }
    if (-not $message) { $message = $null }
    # %1 of the event: FailoverClustering 1135 names the removed node there, not the reporter.
    $first = $null
    if (@($e.Properties).Count -gt 0 -and $null -ne $e.Properties[0].Value) {
      $first = [string]$e.Properties[0].Value
      if ($first.Length -gt 200) { $first = $first.Substring(0, 200) }
    }
    $Into.Add([pscustomobject]@{ time = ConvertTo-IsoUtc $e.TimeCreated; log = [string]$e.LogName
      provider = [string]$e.ProviderName; id = [int]$e.Id; level = $level; vm_id = $vmId; message = $message
      first_insertion_string = $first })
  }
}

# -> { events, bookmark }: the newest $Max events after $Since (exclusive: the previous
# bookmark, already delivered) over all channels, oldest first.
function Get-HostEvents($Since, [int]$Max) {
  $sinceText = ConvertTo-IsoUtc $Since
  if ($Max -le 0) { return [pscustomobject]@{ events = @(); bookmark = $sinceText } }
  # Get-WinEvent turns StartTime into text and back in the current culture: the Kind
  # (a UTC value would move by the zone offset) and the milliseconds are lost. So pass
  # local time, and filter exactly on our own ISO strings below.
  $start = (Get-Date).AddMinutes(-60)
  if ($null -ne $Since) { $start = $Since.ToLocalTime() }
  $all = [Collections.Generic.List[object]]::new()
  foreach ($channel in $hyperVChannels) {
    Invoke-Probe "events.$channel" { Read-Events @{ LogName = $channel; StartTime = $start } $Max $true $all }
  }
  $systemIds = @($systemSources.Values | ForEach-Object { $_ } | Sort-Object -Unique)
  Invoke-Probe 'events.System' { Read-Events @{ LogName = 'System'; Id = $systemIds; StartTime = $start } $Max $false $all }
  $fresh = @($all | Where-Object { $null -eq $sinceText -or [string]::CompareOrdinal($_.time, $sinceText) -gt 0 })
  $newest = @($fresh | Sort-Object -Property 'time', 'log', 'id' -Descending | Select-Object -First $Max)
  [array]::Reverse($newest)
  $bookmark = $sinceText
  if ($newest.Count -gt 0) { $bookmark = $newest[$newest.Count - 1].time }
  return [pscustomobject]@{ events = $newest; bookmark = $bookmark }
}

function Get-ClusterInfo($Services, $Job, [int]$TimeoutMs) {
  $svc = $Services.objects['clussvc']
  if ($null -eq $svc) { return $null }
  if ($null -eq $Job) {
    # Feature installed but never joined leaves clussvc disabled: not a cluster node.
    if ([string]$svc.StartType -eq 'Disabled') { return $null }
    return [ordered]@{ name = ''; node_state = 'Down'; drain_status = 'Unknown'; bitlocker_csvs = $null }
  }
  $result = Wait-BoundedQuery $Job $TimeoutMs
  Close-FinishedQuery $Job
  if (-not $result.ok) {
    $warnings.Add('cluster: ' + $result.error)
    return [ordered]@{ name = ''; node_state = 'Unknown'; drain_status = 'Unknown'; bitlocker_csvs = $null }
  }
  $v = $result.value
  if (-not $v.module) { $warnings.Add('cluster: clussvc runs but the FailoverClusters module is missing'); return $null }
  return [ordered]@{ name = $v.name; node_state = $v.node_state; drain_status = $v.drain_status
    bitlocker_csvs = $v.bitlocker_csvs }
}

# The answer on the wire (docs/collection-script.md "The answer on the wire"): 'HVCZ1:' then
# base64 of gzip of the UTF-8 JSON, about a fifth of the JSON's size and never mistaken for
# JSON by the client (remote/answer.py). GZipStream compresses with zlib from .NET 4.5 on and
# at CompressionLevel.Optimal by default (Microsoft Learn, "GZipStream Class" and
# "GZipStream Constructor (Stream, CompressionMode, Boolean)"); Dispose writes the gzip
# footer (Close is Dispose), and MemoryStream.ToArray "works when the MemoryStream is closed" (Microsoft
# Learn, "MemoryStream.ToArray Method"). ToBase64String inserts no line breaks unless asked.
function ConvertTo-WireAnswer([string]$Json) {
  $bytes = (New-Object Text.UTF8Encoding $false).GetBytes($Json)
  $packed = New-Object IO.MemoryStream
  $gzip = New-Object IO.Compression.GZipStream($packed, [IO.Compression.CompressionMode]::Compress)
  try { $gzip.Write($bytes, 0, $bytes.Length) } finally { $gzip.Close() }
  return 'HVCZ1:' + [Convert]::ToBase64String($packed.ToArray())
}

function Get-IntParam($Value, [int]$Default, [int]$Min, [int]$Max) {
  if ($null -eq $Value) { return $Default }
  return [int][Math]::Min($Max, [Math]::Max($Min, [int]$Value))
}

# -- one poll ----------------------------------------------------------------------------
# The whole work of one poll, for the one-shot call and for each request of the loop. It
# never exits (an `exit` here would end powershell.exe, and with it the loop) and writes
# nothing: the answer goes into $Result (answer: the text for stdout; failed: whether it is
# the hvc_error document), and callers discard its pipeline output ($null = ...), so no stray
# value can reach stdout. $ParamsText is base64 of a UTF-8 JSON object, data only. The
# per-poll state ($stageEnds, $where, $warnings) lives in this function's scope, where the
# helpers above find it (PowerShell looks a variable up through the callers' scopes).
function Invoke-CollectPoll([string]$ParamsText, [double]$CpuBaseMs, [hashtable]$Result) {
  $clock = [Diagnostics.Stopwatch]::StartNew()
  $hostTime = [DateTime]::UtcNow
  $stageEnds = [ordered]@{}
  $where = 'start'
  $warnings = [Collections.Generic.List[string]]::new()
  $Result.answer = ''; $Result.failed = $false
  try {
    $where = 'params'
    $params = [Text.Encoding]::UTF8.GetString([Convert]::FromBase64String($ParamsText.Trim())) | ConvertFrom-Json
    $maxEvents = Get-IntParam $params.max_events 100 0 1000
    # The default is the client's budget for a 10 s poll (core/poll_budget.py): the script
    # gives up on Get-VM early enough for its answer to beat the call's deadline.
    $vmTimeoutMs = Get-IntParam $params.vm_query_timeout_ms 7000 500 120000
    $since = $null
    if ($params.events_since -is [DateTime]) { $since = $params.events_since.ToUniversalTime() }
    elseif ($params.events_since) {
      $since = [DateTime]::Parse([string]$params.events_since, $inv, [Globalization.DateTimeStyles]'AdjustToUniversal, AssumeUniversal')
    }

    $stageEnds['params'] = $clock.ElapsedMilliseconds

    # Start the slow, bounded queries first; the rest of the collection overlaps with them.
    $where = 'vm query start'
    $vmJob = Start-BoundedQuery $vmQueryBody
    $stageEnds['vm_query_start'] = $clock.ElapsedMilliseconds
    $where = 'services'
    $services = Get-ServiceStates @('vmms', 'vmcompute', 'clussvc', 'winrm')
    $clusterJob = $null
    if ($services.states['clussvc'] -eq 'Running') { $clusterJob = Start-BoundedQuery $clusterQueryBody }
    $stageEnds['services'] = $clock.ElapsedMilliseconds

    $where = 'os'
    $osCim = Get-OsCim
    $os = Get-OsInfo $osCim
    $stageEnds['os'] = $clock.ElapsedMilliseconds
    $where = 'resources'
    $resources = Get-HostResources $osCim
    $stageEnds['resources'] = $clock.ElapsedMilliseconds
    $where = 'events'
    $events = Get-HostEvents $since $maxEvents
    $stageEnds['events'] = $clock.ElapsedMilliseconds

    $where = 'vm query'
    $vmResult = Wait-BoundedQuery $vmJob $vmTimeoutMs
    Close-FinishedQuery $vmJob
    $vms = @()
    if ($vmResult.ok) {
      $vms = @($vmResult.value.vms)
      foreach ($problem in @($vmResult.value.problems)) { if ($problem) { $warnings.Add('vm_query: ' + $problem) } }
    }
    $stageEnds['vm_query'] = $clock.ElapsedMilliseconds
    $where = 'cluster'
    $cluster = Get-ClusterInfo $services $clusterJob $vmTimeoutMs
    $stageEnds['cluster'] = $clock.ElapsedMilliseconds

    $where = 'output'
    $cost = Get-OwnCost $CpuBaseMs
    $doc = [ordered]@{
      host_time = ConvertTo-IsoUtc $hostTime
      collect_ms = [int64]$clock.ElapsedMilliseconds
      os = $os
      services = $services.states
      cluster = $cluster
      resources = $resources
      vm_query = [ordered]@{ ok = $vmResult.ok; elapsed_ms = $vmResult.elapsed_ms; error = $vmResult.error }
      vms = $vms
      events = @($events.events)
      events_bookmark = $events.bookmark
      warnings = $warnings.ToArray()
      collect_cost = $cost
    }
    $json = ConvertTo-Json -InputObject $doc -Depth 6 -Compress
    # If compression itself fails, the plain JSON still reads: the client takes both forms.
    try { $json = ConvertTo-WireAnswer $json } catch { }
    $Result.answer = $json
  } catch {
    # The failure document stays plain JSON: a few hundred bytes, which compression would
    # only make longer, and readable whatever went wrong above.
    $failure = [ordered]@{ hvc_error = [ordered]@{ message = (Get-InnermostMessage $_); where = $where } }
    $Result.answer = ConvertTo-Json -InputObject $failure -Compress
    $Result.failed = $true
  }
}

# -- loop mode (-HvcLoop) ------------------------------------------------------------------
# One long-running powershell.exe per polling shell answers poll after poll: no process
# start on the host every interval, one Send and one Receive for the client. (Each poll's
# VM query still opens a runspace and loads the Hyper-V module into it, as the one-shot
# call does; docs/collection-script.md "Loop mode".) The protocol is fixed for the client and the simulator (docs/collection-script.md
# "Loop mode"): a request line is "<seq> <params>" (seq 1..2^31-1, params exactly the
# one-shot call's base64 text); the answer line is "<seq> <answer>" with exactly what the
# one-shot call would have written. The loop ends by itself, exit code 0, at end of input,
# after $loopIdleMs without a request, after $loopMaxAnswers answers or $loopMaxSeconds, and
# after any poll that abandoned a query (its thread may never return; the next poll starts
# a new loop, as a one-shot call would start a new process). A line that is not a request
# is answered "0" + the hvc_error document and ends the loop with exit code 2.
$loopIdleMs = 120000
$loopMaxAnswers = 720
$loopMaxSeconds = 3600
$loopBadLine = '0 {"hvc_error":{"message":"bad request line"}}'
$requestLine = '^([0-9]{1,10}) ([A-Za-z0-9+/=]+)$'

# Reading stdin with a timeout. [Console]::In cannot give up: on .NET Framework it is a
# SyncTextReader whose ReadLineAsync simply runs ReadLine (Microsoft Learn, "Console.In
# Property": read operations on it "execute synchronously ... even if an asynchronous
# method, such as ReadLineAsync, is called"; dotnet/interactive#1907 met exactly that). A
# StreamReader of our own over the raw stdin stream reads through Stream.ReadAsync, which a
# stream without asynchronous I/O of its own (the console stream) runs as its synchronous
# Read on a thread-pool thread (the .NET Framework's Stream.cs: "default implementations of
# asynchronous reads & writes, in terms of the synchronous reads & writes"), so the caller
# can wait with a timeout; a thread-pool thread still blocked in that read does not keep
# the process alive. Under WinRS stdin is a pipe the client feeds with Send (MS-WSMV
# 3.1.4.13; WSManSendShellInput "pipes the input stream to a running command"); a closed
# input reads as end of stream (null): mscorlib 4.x's __ConsoleStream has no asynchronous
# read of its own, reads a pipe with ReadFile and takes ERROR_BROKEN_PIPE / ERROR_NO_DATA as
# end of stream. StreamReader.ReadLineAsync awaits with ConfigureAwait(false), so Wait() on
# this thread cannot deadlock; a line ending in a bare CR at the end of what has arrived
# makes it read on (is an LF next?), which is why request lines end in LF. [Console]::Out is a StreamWriter with AutoFlush
# (the .NET Framework's Console.cs, InitializeStdOutError); each answer line is flushed
# anyway so that it leaves before the next request is read.
function Invoke-CollectLoop([hashtable]$State) {
  $reader = New-Object IO.StreamReader([Console]::OpenStandardInput(), (New-Object Text.UTF8Encoding $false))
  $alive = [Diagnostics.Stopwatch]::StartNew()
  $answered = 0
  while ($true) {
    $line = $null
    try {
      $task = $reader.ReadLineAsync()
      if (-not $task.Wait($loopIdleMs)) { return }      # idle: nobody polls any more
      $line = $task.Result
    } catch { return }                                   # stdin broken: same as its end
    if ($null -eq $line) { return }                      # end of input
    $request = [regex]::Match($line.TrimEnd([char]13), $requestLine)
    $seq = [int64]0
    if ($request.Success) { $seq = [int64]$request.Groups[1].Value }
    if ($seq -lt 1 -or $seq -gt [int]::MaxValue) {
      [Console]::Out.Write($loopBadLine + "`n")
      [Console]::Out.Flush()
      $State.exit_code = 2
      return
    }
    $poll = @{ answer = ''; failed = $false }
    $cpuMs = [Diagnostics.Process]::GetCurrentProcess().TotalProcessorTime.TotalMilliseconds
    $null = Invoke-CollectPoll $request.Groups[2].Value $cpuMs $poll
    [Console]::Out.Write($seq.ToString($inv) + ' ' + $poll.answer + "`n")
    [Console]::Out.Flush()
    $answered += 1
    if ($answered -ge $loopMaxAnswers -or $alive.Elapsed.TotalSeconds -ge $loopMaxSeconds -or $abandoned.Count -gt 0) { return }
  }
}

# -- main --------------------------------------------------------------------------------
if ($HvcLoop) {
  $loop = @{ exit_code = 0 }
  $null = Invoke-CollectLoop $loop
  # [Environment]::Exit, not exit: a read may still wait on stdin and an abandoned pipeline
  # may hold a foreground thread; the answers are written, so leave at once.
  [Environment]::Exit($loop.exit_code)
}
$poll = @{ answer = ''; failed = $false }
$null = Invoke-CollectPoll $HvcParams 0 $poll
[Console]::Out.Write($poll.answer)
[Console]::Out.Flush()
# A timed-out pipeline runs on a foreground thread that may never leave its WMI call, and
# powershell.exe may wait for it (or try to close its runspace) on the way out. The answer
# is written; leave at once rather than hang the WinRM command.
if ($abandoned.Count -gt 0) {
  if ($poll.failed) { [Environment]::Exit(1) }
  [Environment]::Exit(0)
}
if ($poll.failed) { exit 1 }
exit 0
