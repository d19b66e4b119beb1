# hvconsole-script: recover_worker
param([Parameter(Mandatory=$true)][string]$HvcParams)
$ProgressPreference='SilentlyContinue'; $ErrorActionPreference='Stop'
# Recovery, last resort for one VM: end its worker process (vmwp.exe), which Microsoft
# documents for a VM stuck in Stopping / Starting whose Turn Off does not work. The worker
# is found by the VM id on its command line, never by name (every VM has a vmwp.exe), and
# only ended when it is still the process the console read before (expected_pid): after a
# console crash the same call ends nothing twice, and never a new worker. docs/recovery.md.

$where = 'start'
$restingStates = @('Off', 'Saved', 'OffCritical', 'SavedCritical')

function Get-InnermostMessage($Failure) {
  $ex = $Failure
  if ($Failure -is [Management.Automation.ErrorRecord]) { $ex = $Failure.Exception }
  if ($ex -isnot [Exception]) { return [string]$Failure }
  while ($null -ne $ex.InnerException) { $ex = $ex.InnerException }
  return $ex.Message
}

function Get-Name($Value) { if ($null -ne $Value) { return $Value.ToString() } }

function Find-WorkerId([string]$Id) {
  $procs = @(Get-CimInstance -ClassName Win32_Process -Filter "Name='vmwp.exe'" |
    Where-Object { $null -ne $_.CommandLine -and $_.CommandLine.IndexOf($Id, [StringComparison]::OrdinalIgnoreCase) -ge 0 })
  if ($procs.Count -eq 0) { return $null }
  return [int]$procs[0].ProcessId
}

function Get-VmState([guid]$Id) {
  $vm = @(Hyper-V\Get-VM | Where-Object { $_.VMId -eq $Id })
  if ($vm.Count -eq 0) { return $null }
  return [pscustomobject]@{ name = [string]$vm[0].Name; state = Get-Name $vm[0].State }
}

try {
  $where = 'params'
  $params = [Text.Encoding]::UTF8.GetString([Convert]::FromBase64String($HvcParams.Trim())) | ConvertFrom-Json
  $id = [guid]::Parse([string]$params.vm_id)
  $expected = $null
  if ($null -ne $params.expected_pid) { $expected = [int]$params.expected_pid }

  $where = 'read'
  $row = [ordered]@{ id = $id.ToString(); name = $null; pid = $null; ended = $false
    state_before = $null; state_after = $null; skipped_reason = $null; error = $null }
  $before = Get-VmState $id
  $workerId = Find-WorkerId $id.ToString()
  $row.pid = $workerId
  if ($null -ne $before) { $row.name = $before.name; $row.state_before = $before.state }
  if ($null -eq $before) { $row.skipped_reason = 'not on this host' }
  elseif ($restingStates -contains $before.state) { $row.skipped_reason = 'VM is ' + $before.state }
  elseif ($null -eq $workerId) { $row.skipped_reason = 'no worker process carries this VM id' }
  elseif ($null -ne $expected -and $expected -ne $workerId) {
    $row.skipped_reason = "the worker is process $workerId, not $expected as read before: read again"
  } else {
    $where = 'stop'
    $null = Stop-Process -Id $workerId -Force
    $row.ended = $true
    # The VM reads Off once VMMS has seen its worker go; give it a little time.
    $where = 'read after'
    $waited = 0
    $after = Get-VmState $id
    while ($waited -lt 30 -and $null -ne $after -and $restingStates -notcontains $after.state) {
      $null = Start-Sleep -Seconds 1
      $waited += 1
      $after = Get-VmState $id
    }
  }
  $after = Get-VmState $id
  if ($null -ne $after) { $row.state_after = $after.state }

  $where = 'output'
  $json = ConvertTo-Json -InputObject $row -Depth 4 -Compress
} catch {
  $failure = [ordered]@{ hvc_error = [ordered]@{ message = (Get-InnermostMessage $_); where = $where } }
  [Console]::Out.Write((ConvertTo-Json -InputObject $failure -Compress))
  exit 1
}
[Console]::Out.Write($json)
exit 0
