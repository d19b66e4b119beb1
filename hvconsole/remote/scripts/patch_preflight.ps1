# hvconsole-script: patch_preflight
param([Parameter(Mandatory=$true)][string]$HvcParams)
$ProgressPreference='SilentlyContinue'; $ErrorActionPreference='Stop'
# Patch step "preflight": everything the console must know about a host before it touches
# it (hyperv-notes sections 6 and 8): who we are, build, pending reboot, services, free
# space, cluster membership, every VM and what it is doing, and the staged package if
# present. Only reads. Each probe fails on its own into "warnings" with null values.
# docs/patching.md "Script contract", docs/patch-scripts.md. $HvcParams is data.

$where = 'start'
$warnings = [Collections.Generic.List[string]]::new()
$inv = [Globalization.CultureInfo]::InvariantCulture
$hvcPathPattern = '\AC:\\hvconsole(\\[A-Za-z0-9_-]([A-Za-z0-9._-]*[A-Za-z0-9_-])?)+\z'
$reservedSegment = '\\(CON|PRN|AUX|NUL|COM[0-9]|LPT[0-9])(\.[^\\]*)?(\\|\z)'
$fileNamePattern = '\A[A-Za-z0-9_-][A-Za-z0-9._-]{0,150}\.(msu|cab)\z'
$hostNamePattern = '\A[A-Za-z0-9]([A-Za-z0-9-]{0,62})(\.[A-Za-z0-9]([A-Za-z0-9-]{0,62}))*\z'
# Services a patch run depends on: Schedule runs the installer task, TrustedInstaller is the
# servicing engine behind DISM, the rest are what must be healthy before and after.
$serviceNames = @('vmms', 'vmcompute', 'clussvc', 'winrm', 'Schedule', 'TrustedInstaller')

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

function Invoke-Probe([string]$ProbeName, [scriptblock]$Body) {
  try { $null = & $Body } catch { Add-Warning $ProbeName $_ }
}

function Assert-HvcPath($Value, [string]$Name) {
  if ($Value -isnot [string] -or $Value.Length -gt 200 -or $Value -notmatch $hvcPathPattern -or
      $Value.Contains('..') -or $Value -match $reservedSegment) {
    throw "$Name must be a plain path under C:\hvconsole\"
  }
  if ([IO.Path]::GetFullPath($Value) -ne $Value) { throw "$Name is not in canonical form" }
  return $Value
}

function Get-Name($Value) { if ($null -ne $Value) { return $Value.ToString() } }

# The VM with this Id on this host, or $null when it is not here (moved, deleted). Get-VM -Id
# throws for an unknown id; a full listing then tells "not here" from "VMMS failed".
function Find-Vm([guid]$Id) {
  try { return Hyper-V\Get-VM -Id $Id }
  catch {
    $here = @(Hyper-V\Get-VM | Where-Object { $_.VMId -eq $Id })
    if ($here.Count -eq 0) { return $null }
    throw
  }
}

# -> the validated live migrations the plan intends: [{id, destination}].
function Read-Migrations($Items) {
  $list = [Collections.Generic.List[object]]::new()
  foreach ($item in @($Items)) {
    if ($null -eq $item) { continue }
    $id = [guid]::Parse([string]$item.id)
    $destination = [string]$item.destination
    if ($destination.Length -gt 253 -or $destination -notmatch $hostNamePattern) { throw 'destination must be a host name' }
    $list.Add([pscustomobject]@{ id = $id; destination = $destination })
  }
  return , $list.ToArray()
}

# Can each planned live migration work when started from this WinRM session? Move-VM from a
# remote session makes a second hop to the destination: it needs Kerberos with constrained
# delegation for live migration; CredSSP cannot be used remotely (Microsoft's
# Move-ClusterVirtualMachineRole and live-migration setup pages; windows-facts-checked).
# Compare-VM -DestinationHost makes the same connection and fails the same way, early,
# without changing anything. Clustered VMs are left to the cluster's node drain.
function Get-MigrationReadiness($Migrations) {
  $result = [ordered]@{ enabled = $null; authentication = $null; checks = @() }
  if ($Migrations.Count -eq 0) { return $result }
  $vmHost = Hyper-V\Get-VMHost
  $result.enabled = [bool]$vmHost.VirtualMachineMigrationEnabled
  $result.authentication = Get-Name $vmHost.VirtualMachineMigrationAuthenticationType
  $checks = [Collections.Generic.List[object]]::new()
  foreach ($m in $Migrations) {
    $check = [ordered]@{ id = $m.id.ToString(); name = $null; destination = $m.destination; ok = $false
      incompatibilities = @(); skipped_reason = $null; error = $null }
    try {
      $vm = Find-Vm $m.id
      if ($null -eq $vm) { $check.ok = $true; $check.skipped_reason = 'not on this host' }
      elseif ($vm.IsClustered) { $check.name = [string]$vm.Name; $check.ok = $true; $check.skipped_reason = 'clustered: the cluster node drain moves it' }
      elseif (-not $result.enabled) { $check.name = [string]$vm.Name; $check.error = 'live migration is not enabled on this host' }
      else {
        $check.name = [string]$vm.Name
        $report = Hyper-V\Compare-VM -VM $vm -DestinationHost $m.destination
        $check.incompatibilities = @(foreach ($i in @($report.Incompatibilities)) { if ($null -ne $i) { [string]$i.Message } })
        $check.ok = $check.incompatibilities.Count -eq 0
      }
    } catch { $check.error = Get-InnermostMessage $_ }
    $checks.Add($check)
  }
  $result.checks = $checks.ToArray()
  return $result
}

function Get-FreeMb([string]$Path) {
  $drive = New-Object System.IO.DriveInfo -ArgumentList ([IO.Path]::GetPathRoot($Path))
  return [Math]::Round($drive.AvailableFreeSpace / 1048576, 1)
}

function Open-RegistryKey([string]$Path) { [Microsoft.Win32.Registry]::LocalMachine.OpenSubKey($Path) }

function Get-PendingRebootReasons {
  $reasons = [Collections.Generic.List[string]]::new()
  if (Open-RegistryKey 'SOFTWARE\Microsoft\Windows\CurrentVersion\Component Based Servicing\RebootPending') { $reasons.Add('CBS') }
  if (Open-RegistryKey 'SOFTWARE\Microsoft\Windows\CurrentVersion\WindowsUpdate\Auto Update\RebootRequired') { $reasons.Add('WindowsUpdate') }
  # A value, not a key (hyperv-notes section 6): look at its content.
  $renames = (Open-RegistryKey 'SYSTEM\CurrentControlSet\Control\Session Manager').GetValue('PendingFileRenameOperations')
  if (@($renames | Where-Object { $_ }).Count -gt 0) { $reasons.Add('PendingFileRename') }
  return , $reasons.ToArray()
}

# -> name -> status name, or null when the service is not installed.
function Get-PreflightServiceStates {
  $states = [ordered]@{}
  foreach ($n in $serviceNames) {
    $states[$n] = $null
    try {
      $svc = Get-Service -Name $n -ErrorAction Stop
      $states[$n] = $svc.Status.ToString()
      if ([string]$svc.StartType -eq 'Disabled' -and $n -in @('Schedule', 'TrustedInstaller', 'vmms')) {
        $warnings.Add("services: $n is disabled; the install or the VMs cannot work until it is enabled")
      }
    } catch {
      if ([string]$_.FullyQualifiedErrorId -notlike 'NoServiceFoundForGivenName*') {
        $states[$n] = 'Unknown'; $warnings.Add('services.' + $n + ': ' + (Get-InnermostMessage $_))
      }
    }
  }
  return $states
}

# null when this host is not a cluster node; otherwise its node and the others' states.
function Get-ClusterState($ClussvcStatus) {
  if ($null -eq $ClussvcStatus) { return $null }
  $svc = Get-Service -Name 'clussvc'
  if ([string]$svc.StartType -eq 'Disabled') { return $null }
  if ($ClussvcStatus -ne 'Running') {
    return [ordered]@{ name = ''; node_state = 'Down'; drain_status = 'Unknown'; other_nodes = @(); bitlocker_csvs = $null }
  }
  $cluster = FailoverClusters\Get-Cluster
  $others = [Collections.Generic.List[object]]::new()
  $me = $null
  foreach ($node in @(FailoverClusters\Get-ClusterNode)) {
    if ([string]$node.Name -eq $env:COMPUTERNAME) { $me = $node; continue }
    $others.Add([ordered]@{ name = [string]$node.Name; state = Get-Name $node.State })
  }
  # BitLocker-protected cluster shared volumes (catalog applicability, KB5063877).
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
  } catch { $warnings.Add('cluster.bitlocker_csvs: ' + (Get-InnermostMessage $_)) }
  return [ordered]@{ name = [string]$cluster.Name; node_state = Get-Name $me.State
    drain_status = Get-Name $me.DrainStatus; other_nodes = $others.ToArray(); bitlocker_csvs = $bitlocker }
}

function Get-VmRows {
  $vms = @(Hyper-V\Get-VM)
  # Bulk queries, never one per VM: checkpoints by VM id, last backup by VM GUID.
  $checkpoints = $null
  if ($vms.Count -gt 0) {
    try {
      $checkpoints = @{}
      foreach ($cp in @(Hyper-V\Get-VMSnapshot -VM $vms)) {
        $key = ([string]$cp.VMId).ToLowerInvariant()
        $checkpoints[$key] = 1 + [int]$checkpoints[$key]
      }
    } catch { $checkpoints = $null; $warnings.Add('vms.checkpoints: ' + (Get-InnermostMessage $_)) }
  }
  $backups = @{}
  if ($vms.Count -gt 0) {
    try {
      foreach ($cs in @(Get-CimInstance -Namespace 'root/virtualization/v2' -ClassName 'Msvm_ComputerSystem')) {
        $b = $cs.LastSuccessfulBackupTime
        # WMI says "never" with a zero date.
        if ($b -is [DateTime] -and $b.Year -gt 1970) { $backups[([string]$cs.Name).ToLowerInvariant()] = ConvertTo-IsoUtc $b }
      }
    } catch { $warnings.Add('vms.last_backup: ' + (Get-InnermostMessage $_)) }
  }
  # Confidential VMs (catalog applicability, KB5061906), as collect.ps1 reads them.
  $isolated = @{}
  if ($vms.Count -gt 0) {
    try {
      foreach ($sd in @(Get-CimInstance -Namespace 'root/virtualization/v2' -ClassName 'Msvm_VirtualSystemSettingData' -Filter "VirtualSystemType = 'Microsoft:Hyper-V:System:Realized'")) {
        $p = $sd.CimInstanceProperties['GuestStateIsolationEnabled']
        if ($null -ne $p -and $null -ne $p.Value) { $isolated[([string]$sd.VirtualSystemIdentifier).ToLowerInvariant()] = [bool]$p.Value }
      }
    } catch { $warnings.Add('vms.confidential: ' + (Get-InnermostMessage $_)) }
  }
  $rows = [Collections.Generic.List[object]]::new()
  foreach ($vm in $vms) {
    $id = ([string]$vm.VMId).ToLowerInvariant()
    $state = Get-Name $vm.State
    $heartbeat = $null
    if ($state -notlike 'Off*') { $heartbeat = Get-Name $vm.Heartbeat }
    $status = @(foreach ($s in @($vm.OperationalStatus)) { Get-Name $s })
    $count = $null
    if ($null -ne $checkpoints) { $count = [int]$checkpoints[$id] }
    $rows.Add([ordered]@{
      id = $id; name = [string]$vm.Name; state = $state; heartbeat = $heartbeat
      automatic_start_action = Get-Name $vm.AutomaticStartAction
      automatic_stop_action = Get-Name $vm.AutomaticStopAction
      is_clustered = [bool]$vm.IsClustered
      merging = $status -contains 'MergingDisks'
      checkpoints = $count; last_backup = $backups[$id]; confidential = $isolated[$id]
    })
  }
  return , $rows.ToArray()
}

# The answer; each probe sets its own fields and leaves null + a warning when it fails.
function Get-PreflightDocument([string]$StagingDir, $PackageFile, [int]$RequiredFreeMb, $Migrations) {
  $doc = [ordered]@{
    is_admin = $null; product = $null; build = $null; ubr = $null; last_boot = $null
    pending_reboot = $null; pending_reboot_reasons = @(); services = $null
    system_drive_free_mb = $null; staging_drive_free_mb = $null; space_ok = $null
    cluster = $null; vms = @(); staged = $null; migration = $null; warnings = @()
  }
  Invoke-Probe 'is_admin' {
    # The token of this session: remote UAC may filter a local admin account.
    $principal = New-Object System.Security.Principal.WindowsPrincipal([Security.Principal.WindowsIdentity]::GetCurrent())
    $doc.is_admin = $principal.IsInRole([Security.Principal.WindowsBuiltInRole]::Administrator)
  }
  Invoke-Probe 'os.version' {
    $cv = Open-RegistryKey 'SOFTWARE\Microsoft\Windows NT\CurrentVersion'
    $doc.product = $cv.GetValue('ProductName')
    $build = $cv.GetValue('CurrentBuild'); if ($null -ne $build) { $doc.build = [int]$build }
    $ubr = $cv.GetValue('UBR'); if ($null -ne $ubr) { $doc.ubr = [int]$ubr }
  }
  Invoke-Probe 'os.last_boot' { $doc.last_boot = ConvertTo-IsoUtc (Get-CimInstance -ClassName 'Win32_OperatingSystem').LastBootUpTime }
  Invoke-Probe 'os.pending_reboot' {
    $doc.pending_reboot_reasons = Get-PendingRebootReasons
    $doc.pending_reboot = $doc.pending_reboot_reasons.Count -gt 0
  }
  $doc.services = Get-PreflightServiceStates
  Invoke-Probe 'space' {
    $doc.system_drive_free_mb = Get-FreeMb $env:SystemDrive
    $doc.staging_drive_free_mb = Get-FreeMb $StagingDir
    $doc.space_ok = $doc.system_drive_free_mb -ge $RequiredFreeMb -and $doc.staging_drive_free_mb -ge $RequiredFreeMb
  }
  Invoke-Probe 'cluster' { $doc.cluster = Get-ClusterState $doc.services['clussvc'] }
  Invoke-Probe 'vms' { $doc.vms = Get-VmRows }
  Invoke-Probe 'migration' { $doc.migration = Get-MigrationReadiness $Migrations }
  if ($null -ne $PackageFile) {
    Invoke-Probe 'staged' {
      $file = Join-Path $StagingDir $PackageFile
      if ([IO.File]::Exists($file)) {
        $doc.staged = [ordered]@{ path = $file; size = [int64](Get-Item -LiteralPath $file -Force).Length
          sha256 = (Get-FileHash -LiteralPath $file -Algorithm SHA256).Hash.ToLowerInvariant() }
      }
    }
  }
  $doc.warnings = $warnings.ToArray()
  return $doc
}

try {
  $where = 'params'
  $params = [Text.Encoding]::UTF8.GetString([Convert]::FromBase64String($HvcParams.Trim())) | ConvertFrom-Json
  $stagingDir = Assert-HvcPath $params.staging_dir 'staging_dir'
  $packageFile = $null
  if ($null -ne $params.package_file) {
    if ($params.package_file -isnot [string] -or $params.package_file -notmatch $fileNamePattern -or $params.package_file.Contains('..')) {
      throw 'package_file must be a plain .msu or .cab file name'
    }
    $packageFile = $params.package_file
  }
  $requiredFreeMb = 0
  if ($null -ne $params.required_free_mb) { $requiredFreeMb = [Math]::Max(0, [int]$params.required_free_mb) }
  $migrations = Read-Migrations $params.live_migrations

  $where = 'checks'
  $doc = Get-PreflightDocument $stagingDir $packageFile $requiredFreeMb $migrations

  $where = 'output'
  $json = ConvertTo-Json -InputObject $doc -Depth 6 -Compress
} catch {
  $failure = [ordered]@{ hvc_error = [ordered]@{ message = (Get-InnermostMessage $_); where = $where } }
  [Console]::Out.Write((ConvertTo-Json -InputObject $failure -Compress))
  exit 1
}
[Console]::Out.Write($json)
exit 0
