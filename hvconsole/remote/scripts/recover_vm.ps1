# hvconsole-script: recover_vm
param([Parameter(Mandatory=$true)][string]$HvcParams)
$ProgressPreference='SilentlyContinue'; $ErrorActionPreference='Stop'
# Recovery, one VM action: nmi | shutdown | turn_off | reset | start. The VM is found by Id
# and read first; the action is taken only when its state calls for it, so running this
# again after a console crash never acts twice (a VM already Off is not turned off again,
# one already Running is not started again). Each action is bounded by wait_s; an action
# still in progress then is reported, not abandoned silently. docs/recovery.md.

$where = 'start'
$validActions = @('nmi', 'shutdown', 'turn_off', 'reset', 'start')
$runningStates = @('Running', 'RunningCritical')
$restingStates = @('Off', 'Saved', 'OffCritical', 'SavedCritical', 'FastSaved', 'FastSavedCritical')
$abandoned = [Collections.Generic.List[object]]::new()
$inv = [Globalization.CultureInfo]::InvariantCulture

function Get-InnermostMessage($Failure) {
  $ex = $Failure
  if ($Failure -is [Management.Automation.ErrorRecord]) { $ex = $Failure.Exception }
  if ($ex -isnot [Exception]) { return [string]$Failure }
  while ($null -ne $ex.InnerException) { $ex = $ex.InnerException }
  return $ex.Message
}

function Get-Name($Value) { if ($null -ne $Value) { return $Value.ToString() } }

# The shutdown integration service's status ("OK" when the guest answers it), by its
# language-independent id rather than its localised name.
function Get-ShutdownStatus($Vm) {
  $sd = @(Hyper-V\Get-VMIntegrationService -VM $Vm | Where-Object { $_.Id -like '*9F8233AC-BE49-4C79-8EE3-E7E1985B2077' })
  if ($sd.Count -eq 0 -or -not $sd[0].Enabled) { return $null }
  return [string]$sd[0].PrimaryStatusDescription
}

# Runs a Hyper-V action as a job and waits at most $Seconds; $null when it finished.
function Wait-Action($Job, [int]$Seconds) {
  if ($null -eq (Wait-Job -Job $Job -Timeout $Seconds)) {
    $abandoned.Add($Job)
    return "still in progress after $Seconds s"
  }
  try { $null = Receive-Job -Job $Job -ErrorAction Stop } catch { return Get-InnermostMessage $_ }
  Remove-Job -Job $Job -Force
  return $null
}

try {
  $where = 'params'
  $params = [Text.Encoding]::UTF8.GetString([Convert]::FromBase64String($HvcParams.Trim())) | ConvertFrom-Json
  $id = [guid]::Parse([string]$params.vm_id)
  $action = [string]$params.action
  if ($validActions -cnotcontains $action) { throw "action must be one of: $($validActions -join ', ')" }
  $waitS = 120
  if ($null -ne $params.wait_s) { $waitS = [Math]::Min(900, [Math]::Max(5, [int]$params.wait_s)) }
  $clock = [Diagnostics.Stopwatch]::StartNew()

  $where = 'read'
  $row = [ordered]@{ id = $id.ToString(); name = $null; action = $action; done = $false
    state_before = $null; state_after = $null; skipped_reason = $null; error = $null; elapsed_ms = $null }
  $vm = @(Hyper-V\Get-VM | Where-Object { $_.VMId -eq $id })
  if ($vm.Count -eq 0) {
    $row.skipped_reason = 'not on this host'
  } else {
    $vm = $vm[0]
    $row.name = [string]$vm.Name
    $row.state_before = Get-Name $vm.State
    $job = $null
    $where = $action
    if ($action -eq 'shutdown') {
      $status = $null
      if ($runningStates -contains $row.state_before) { $status = Get-ShutdownStatus $vm }
      if ($runningStates -notcontains $row.state_before) { $row.skipped_reason = 'VM is ' + $row.state_before }
      elseif ($status -ne 'OK') { $row.skipped_reason = 'the guest does not answer its shutdown service (' + [string]$status + ')' }
      # No -Force: -Force turns the VM off after five minutes, which is the hard step.
      else { $job = Hyper-V\Stop-VM -VM $vm -Confirm:$false -AsJob }
    } elseif ($action -eq 'turn_off') {
      if ($restingStates -contains $row.state_before) { $row.skipped_reason = 'VM is ' + $row.state_before }
      else { $job = Hyper-V\Stop-VM -VM $vm -TurnOff -Force -Confirm:$false -AsJob }
    } elseif ($action -eq 'reset') {
      if ($runningStates -notcontains $row.state_before) { $row.skipped_reason = 'VM is ' + $row.state_before }
      else { $job = Hyper-V\Restart-VM -VM $vm -Force -Confirm:$false -AsJob }
    } elseif ($action -eq 'start') {
      if ($restingStates -notcontains $row.state_before) { $row.skipped_reason = 'VM is ' + $row.state_before }
      else { $job = Hyper-V\Start-VM -VM $vm -AsJob }
    } else {
      if ($runningStates -notcontains $row.state_before) { $row.skipped_reason = 'VM is ' + $row.state_before }
      else {
        $null = Hyper-V\Debug-VM -VM $vm -InjectNonMaskableInterrupt -Force -Confirm:$false
        $row.done = $true
      }
    }
    if ($null -ne $job) {
      $row.error = Wait-Action $job $waitS
      $row.done = $null -eq $row.error
    }
    $where = 'read after'
    $after = @(Hyper-V\Get-VM | Where-Object { $_.VMId -eq $id })
    if ($after.Count -gt 0) { $row.state_after = Get-Name $after[0].State }
  }
  $row.elapsed_ms = [int64]$clock.ElapsedMilliseconds

  $where = 'output'
  $json = ConvertTo-Json -InputObject $row -Depth 4 -Compress
} catch {
  $failure = [ordered]@{ hvc_error = [ordered]@{ message = (Get-InnermostMessage $_); where = $where } }
  [Console]::Out.Write((ConvertTo-Json -InputObject $failure -Compress))
  [Console]::Out.Flush()
  if ($abandoned.Count -gt 0) { [Environment]::Exit(1) }
  exit 1
}
[Console]::Out.Write($json)
[Console]::Out.Flush()
# A job still waiting on the worker may keep powershell.exe from exiting: leave at once.
if ($abandoned.Count -gt 0) { [Environment]::Exit(0) }
exit 0
