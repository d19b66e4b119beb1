# hvconsole-script: patch_drain
param([Parameter(Mandatory=$true)][string]$HvcParams)
$ProgressPreference='SilentlyContinue'; $ErrorActionPreference='Stop'
# Patch step "drain": empty the host before its reboot (hyperv-notes section 8). Optionally
# pauses and drains the cluster node, then handles each listed VM as asked: save, shut
# down, live-migrate, or leave it to the host's automatic stop action. Clustered VMs move
# only through the cluster (Suspend-ClusterNode -Drain, whose moves the cluster service
# performs), never per VM from this session: Move-ClusterVirtualMachineRole "cannot be run
# remotely without CredSSP" (its Microsoft page). Reality first: a
# VM that is not Running is left alone and reported as found, so running this again after
# an interruption never applies anything twice. Everything waits at most timeout_s.
# VMs are addressed by Id only. docs/patching.md "Script contract", docs/patch-scripts.md.

$where = 'start'
$inv = [Globalization.CultureInfo]::InvariantCulture
$validActions = @('save', 'shutdown', 'live-migrate', 'host-default')
$runningStates = @('Running', 'RunningCritical')
# States a VM keeps through a host reboot without anything in flight.
$restingStates = @('Off', 'Saved', 'Paused', 'FastSaved', 'Hibernated', 'OffCritical', 'SavedCritical',
  'PausedCritical', 'FastSavedCritical')
$hostNamePattern = '\A[A-Za-z0-9]([A-Za-z0-9-]{0,62})(\.[A-Za-z0-9]([A-Za-z0-9-]{0,62}))*\z'
# Jobs still running when the budget ran out (see the end of the script).
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

# -> the list of validated requests; any invalid value rejects the whole call before acting.
function Read-DrainRequests($Items) {
  $requests = [Collections.Generic.List[object]]::new()
  foreach ($request in @($Items)) {
    if ($null -eq $request) { continue }
    $id = [guid]::Parse([string]$request.id)
    $action = [string]$request.action
    if ($validActions -cnotcontains $action) { throw "action must be one of: $($validActions -join ', ')" }
    $destination = $null
    if ($action -eq 'live-migrate') {
      $destination = [string]$request.destination
      if ($destination.Length -gt 253 -or $destination -notmatch $hostNamePattern) { throw 'destination must be a host name' }
    }
    $requests.Add([pscustomobject]@{ id = $id; action = $action; destination = $destination })
  }
  return , $requests.ToArray()
}

function Invoke-ClusterDrain([DateTime]$Deadline) {
  $result = [ordered]@{ node = $env:COMPUTERNAME; state_before = $null; state_after = $null
    drain_status = $null; ok = $false; skipped_reason = $null; error = $null }
  try {
    $svc = Get-Service -Name 'clussvc' -ErrorAction SilentlyContinue
    if ($null -eq $svc -or [string]$svc.Status -ne 'Running') {
      $result.error = 'not a cluster node with a running cluster service'
      return $result
    }
    $node = FailoverClusters\Get-ClusterNode -Name $env:COMPUTERNAME
    $result.state_before = Get-Name $node.State
    $drain = Get-Name $node.DrainStatus
    if ($result.state_before -eq 'Paused' -and $drain -eq 'Completed') {
      $result.skipped_reason = 'already paused and drained'
    } elseif ($drain -ne 'InProgress') {
      # Without -Wait the cmdlet returns once the drain has started; we wait ourselves,
      # bounded by the budget.
      $null = FailoverClusters\Suspend-ClusterNode -Name $env:COMPUTERNAME -Drain
    }
    while ($drain -ne 'Completed' -and $drain -ne 'Failed' -and (Get-SecondsLeft $Deadline) -gt 0) {
      Start-Sleep -Seconds 2
      $drain = Get-Name (FailoverClusters\Get-ClusterNode -Name $env:COMPUTERNAME).DrainStatus
    }
    $node = FailoverClusters\Get-ClusterNode -Name $env:COMPUTERNAME
    $result.state_after = Get-Name $node.State
    $result.drain_status = Get-Name $node.DrainStatus
    $result.ok = $result.state_after -eq 'Paused' -and $result.drain_status -eq 'Completed'
    if (-not $result.ok) { $result.error = "node is $($result.state_after), drain $($result.drain_status)" }
  } catch { $result.error = Get-InnermostMessage $_ }
  return $result
}

# Reads the VM, decides, and starts the action. -> a work item; .Job is the running Hyper-V
# job (or $null when nothing was started or the action already finished).
function Start-VmAction($Request, [DateTime]$Deadline) {
  $row = [ordered]@{ id = $Request.id.ToString(); name = $null; action = $Request.action; ok = $false
    state_before = $null; state_after = $null; skipped_reason = $null; error = $null }
  $work = [pscustomobject]@{ Row = $row; Job = $null; Request = $Request }
  try {
    $vm = Find-Vm $Request.id
    if ($null -eq $vm) { $row.skipped_reason = 'not on this host'; return $work }
    $row.name = [string]$vm.Name
    $row.state_before = Get-Name $vm.State
    if ($Request.action -eq 'host-default') {
      $row.skipped_reason = 'left to the host automatic stop action (' + (Get-Name $vm.AutomaticStopAction) + ')'
    } elseif ($runningStates -notcontains $row.state_before) {
      $row.skipped_reason = 'already ' + $row.state_before
    } elseif ((Get-SecondsLeft $Deadline) -le 0) {
      # The cluster drain used up the budget: start nothing the engine no longer waits for
      # (a save landing after a restore would leave the VM saved).
      $row.error = 'still in progress when the time budget ran out; run drain again'
    } elseif ($Request.action -eq 'save') {
      $work.Job = Hyper-V\Save-VM -VM $vm -AsJob
    } elseif ($Request.action -eq 'shutdown') {
      # A guest shutdown through integration services. -Force: go ahead despite unsaved
      # application data (the guest gets five minutes to save it) instead of prompting,
      # which this non-interactive session could not answer.
      $work.Job = Hyper-V\Stop-VM -VM $vm -Force -AsJob
    } elseif ($vm.IsClustered) {
      # Never Move-VM behind the cluster's back, and never a per-VM cluster move from a
      # remote session (second hop): the node drain is the cluster's own way.
      $row.error = 'a clustered VM moves only through the cluster: drain the node (cluster_drain), it is not moved per VM'
    } else {
      # Needs Kerberos constrained delegation from a remote session; patch_preflight checks
      # it first with Compare-VM -DestinationHost.
      $work.Job = Hyper-V\Move-VM -VM $vm -DestinationHost $Request.destination -AsJob
    }
  } catch { $row.error = Get-InnermostMessage $_ }
  return $work
}

function Complete-VmAction($Work, [DateTime]$Deadline) {
  $row = $Work.Row
  if ($null -ne $Work.Job) {
    $finished = Wait-Job -Job $Work.Job -Timeout (Get-SecondsLeft $Deadline)
    if ($null -eq $finished) {
      $abandoned.Add($Work.Job)
      $row.error = 'still in progress when the time budget ran out; run drain again'
    } else {
      try { $null = Receive-Job -Job $Work.Job -ErrorAction Stop } catch { $row.error = Get-InnermostMessage $_ }
      Remove-Job -Job $Work.Job -Force
    }
  }
  try {
    $vm = Find-Vm $Work.Request.id
    if ($null -ne $vm) {
      $row.state_after = Get-Name $vm.State
      if ($null -eq $row.name) { $row.name = [string]$vm.Name }
    }
    # Gone from this host (moved by us, by the cluster drain or by someone) is drained.
    if ($null -eq $vm) { $row.ok = $true }
    elseif ($row.action -eq 'host-default') { $row.ok = $null -eq $row.error }
    elseif ($row.action -eq 'live-migrate' -and $null -eq $row.skipped_reason) { $row.ok = $false }
    else { $row.ok = $restingStates -contains $row.state_after }
    if (-not $row.ok -and $null -eq $row.error) { $row.error = 'VM is ' + $row.state_after + ' after ' + $row.action }
  } catch { $row.ok = $false; $row.error = Get-InnermostMessage $_ }
  return $row
}

try {
  $where = 'params'
  $params = [Text.Encoding]::UTF8.GetString([Convert]::FromBase64String($HvcParams.Trim())) | ConvertFrom-Json
  $requests = Read-DrainRequests $params.vms
  $clusterDrain = $params.cluster_drain -eq $true
  $timeoutS = 900
  if ($null -ne $params.timeout_s) { $timeoutS = [int][Math]::Min(7200, [Math]::Max(30, [int]$params.timeout_s)) }
  $deadline = [DateTime]::UtcNow.AddSeconds($timeoutS)

  $doc = [ordered]@{ cluster = $null; vms = @() }
  if ($clusterDrain) {
    $where = 'cluster drain'
    $doc.cluster = Invoke-ClusterDrain $deadline
  }
  # All actions start first and run side by side (the host queues live migrations beyond
  # its own limit), then each is waited for within what is left of the budget.
  $where = 'vm actions'
  $started = @(foreach ($request in $requests) { Start-VmAction $request $deadline })
  $where = 'vm results'
  $doc.vms = @(foreach ($work in $started) { Complete-VmAction $work $deadline })

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
