# hvconsole-script: patch_restore
param([Parameter(Mandatory=$true)][string]$HvcParams)
$ProgressPreference='SilentlyContinue'; $ErrorActionPreference='Stop'
# Patch step "restore": after the reboot, put things back as they were before maintenance.
# Resumes the cluster node (with the failback asked for), then starts or resumes each listed
# VM, but only when its current state calls for it: a VM the host already brought back is
# reported, not touched; "none" is never acted on. The engine decides each action from the
# VM's state before maintenance (core/patch/steps.py restore_actions). VMs one after the
# other, each wait bounded. VMs by Id only. docs/patching.md, docs/patch-scripts.md.

$where = 'start'
$validActions = @('start', 'resume', 'none')
$failbackModes = @('Immediate', 'NoFailback', 'Policy')
$runningStates = @('Running', 'RunningCritical')
# What each action can bring back to Running.
$startable = @('Off', 'Saved', 'FastSaved', 'Hibernated', 'OffCritical', 'SavedCritical', 'FastSavedCritical')
$resumable = @('Paused', 'PausedCritical')
# Start-VM from a saved state reads the VM's memory back from disk: minutes for a big VM.
$budgetS = 600
$abandoned = [Collections.Generic.List[object]]::new()

function Get-InnermostMessage($Failure) {
  $ex = $Failure
  if ($Failure -is [Management.Automation.ErrorRecord]) { $ex = $Failure.Exception }
  if ($ex -isnot [Exception]) { return [string]$Failure }
  while ($null -ne $ex.InnerException) { $ex = $ex.InnerException }
  return $ex.Message
}

function Get-Name($Value) { if ($null -ne $Value) { return $Value.ToString() } }

function Get-SecondsLeft([DateTime]$Deadline) { [int][Math]::Max(0, [Math]::Ceiling(($Deadline - [DateTime]::UtcNow).TotalSeconds)) }

# The VM with this Id on this host, or $null when it is not here. Get-VM -Id throws for an
# unknown id; a full listing then tells "not here" from "VMMS failed".
function Find-Vm([guid]$Id) {
  try { return Hyper-V\Get-VM -Id $Id }
  catch {
    $here = @(Hyper-V\Get-VM | Where-Object { $_.VMId -eq $Id })
    if ($here.Count -eq 0) { return $null }
    throw
  }
}

# -> validated requests; any invalid value rejects the whole call before anything is done.
function Read-RestoreRequests($Items) {
  $requests = [Collections.Generic.List[object]]::new()
  foreach ($request in @($Items)) {
    if ($null -eq $request) { continue }
    $id = [guid]::Parse([string]$request.id)
    $action = [string]$request.action
    if ($validActions -cnotcontains $action) { throw "action must be one of: $($validActions -join ', ')" }
    $requests.Add([pscustomobject]@{ id = $id; action = $action })
  }
  return , $requests.ToArray()
}

# Accepts a mode name, or true (Immediate) / false (NoFailback); null leaves it to the
# cluster group's own failback policy.
function Read-Failback($Value) {
  if ($null -eq $Value) { return 'Policy' }
  if ($Value -is [bool]) { if ($Value) { return 'Immediate' } else { return 'NoFailback' } }
  $mode = $failbackModes | Where-Object { $_ -eq [string]$Value }
  if ($null -eq $mode) { throw "failback must be true, false or one of: $($failbackModes -join ', ')" }
  return $mode
}

function Resume-Node([string]$Failback) {
  $result = [ordered]@{ node = $env:COMPUTERNAME; state_before = $null; state_after = $null
    failback = $Failback; ok = $false; skipped_reason = $null; error = $null }
  try {
    $svc = Get-Service -Name 'clussvc' -ErrorAction SilentlyContinue
    if ($null -eq $svc -or [string]$svc.Status -ne 'Running') {
      $result.error = 'not a cluster node with a running cluster service'
      return $result
    }
    $result.state_before = Get-Name (FailoverClusters\Get-ClusterNode -Name $env:COMPUTERNAME).State
    if ($result.state_before -eq 'Paused') {
      $null = FailoverClusters\Resume-ClusterNode -Name $env:COMPUTERNAME -Failback $Failback
    } else {
      $result.skipped_reason = 'node is ' + $result.state_before
    }
    $result.state_after = Get-Name (FailoverClusters\Get-ClusterNode -Name $env:COMPUTERNAME).State
    $result.ok = $result.state_after -eq 'Up'
    if (-not $result.ok) { $result.error = 'node is ' + $result.state_after }
  } catch { $result.error = Get-InnermostMessage $_ }
  return $result
}

function Restore-Vm($Request, [DateTime]$Deadline) {
  $row = [ordered]@{ id = $Request.id.ToString(); name = $null; action = $Request.action; ok = $false
    state_before = $null; state_after = $null; skipped_reason = $null; error = $null }
  try {
    $vm = Find-Vm $Request.id
    if ($null -eq $vm) {
      $row.ok = $Request.action -eq 'none'
      $row.skipped_reason = 'not on this host'
      return $row
    }
    $row.name = [string]$vm.Name
    $row.state_before = Get-Name $vm.State
    $job = $null
    if ($Request.action -eq 'none') {
      $row.skipped_reason = 'no action asked'
    } elseif ($runningStates -contains $row.state_before) {
      $row.skipped_reason = 'already ' + $row.state_before
    } elseif ((Get-SecondsLeft $Deadline) -le 0) {
      $row.error = 'not attempted: the time budget ran out; run restore again'
    } elseif ($Request.action -eq 'start' -and $startable -contains $row.state_before) {
      $job = Hyper-V\Start-VM -VM $vm -AsJob
    } elseif ($Request.action -eq 'resume' -and $resumable -contains $row.state_before) {
      $job = Hyper-V\Resume-VM -VM $vm -AsJob
    } else {
      $row.skipped_reason = $row.state_before + ' does not call for ' + $Request.action
    }
    if ($null -ne $job) {
      if ($null -eq (Wait-Job -Job $job -Timeout (Get-SecondsLeft $Deadline))) {
        $abandoned.Add($job)
        $row.error = 'still in progress when the time budget ran out; run restore again'
      } else {
        try { $null = Receive-Job -Job $job -ErrorAction Stop } catch { $row.error = Get-InnermostMessage $_ }
        Remove-Job -Job $job -Force
      }
    }
    $row.state_after = Get-Name (Find-Vm $Request.id).State
    if ($Request.action -eq 'none') { $row.ok = $true }
    else { $row.ok = $runningStates -contains $row.state_after }
    if (-not $row.ok -and $null -eq $row.error) { $row.error = 'VM is ' + $row.state_after }
  } catch { $row.ok = $false; $row.error = Get-InnermostMessage $_ }
  return $row
}

try {
  $where = 'params'
  $params = [Text.Encoding]::UTF8.GetString([Convert]::FromBase64String($HvcParams.Trim())) | ConvertFrom-Json
  $requests = Read-RestoreRequests $params.vms
  $clusterResume = $params.cluster_resume -eq $true
  $failback = Read-Failback $params.failback
  $deadline = [DateTime]::UtcNow.AddSeconds($budgetS)

  $doc = [ordered]@{ cluster = $null; vms = @() }
  # The node first: clustered VMs can only come back to a node that is up.
  if ($clusterResume) {
    $where = 'cluster resume'
    $doc.cluster = Resume-Node $failback
  }
  # One VM after the other: a host just back from a reboot is busy enough.
  $where = 'vms'
  $doc.vms = @(foreach ($request in $requests) { Restore-Vm $request $deadline })

  $where = 'output'
  $json = ConvertTo-Json -InputObject $doc -Depth 6 -Compress
} catch {
  $failure = [ordered]@{ hvc_error = [ordered]@{ message = (Get-InnermostMessage $_); where = $where } }
  [Console]::Out.Write((ConvertTo-Json -InputObject $failure -Compress))
  [Console]::Out.Flush()
  if ($abandoned.Count -gt 0) { [Environment]::Exit(1) }
  exit 1
}
[Console]::Out.Write($json)
[Console]::Out.Flush()
# A job still waiting on VMMS may keep powershell.exe from exiting; the answer is written,
# the host-side operation carries on without us. Leave at once rather than hang WinRM.
if ($abandoned.Count -gt 0) { [Environment]::Exit(0) }
exit 0
