# hvconsole-script: recover_vmms
param([Parameter(Mandatory=$true)][string]$HvcParams)
$ProgressPreference='SilentlyContinue'; $ErrorActionPreference='Stop'
# Recovery, host level: restart the Virtual Machine Management service when it is wedged
# (Get-VM times out). Running VMs keep running: each runs in its own worker process, which
# does not stop with VMMS. Reads the service and its process first and restarts only when
# the process is still the one the console read (expected_pid): after a console crash the
# same call does not restart it twice. Then a bounded Get-VM says whether VMMS answers.
# docs/recovery.md.

$where = 'start'
$abandoned = [Collections.Generic.List[object]]::new()

function Get-InnermostMessage($Failure) {
  $ex = $Failure
  if ($Failure -is [Management.Automation.ErrorRecord]) { $ex = $Failure.Exception }
  if ($ex -isnot [Exception]) { return [string]$Failure }
  while ($null -ne $ex.InnerException) { $ex = $ex.InnerException }
  return $ex.Message
}

function Get-Vmms {
  $svc = Get-CimInstance -ClassName Win32_Service -Filter "Name='vmms'"
  if ($null -eq $svc) { throw 'the vmms service is not installed on this host' }
  return [pscustomobject]@{ status = [string]$svc.State; pid = [int]$svc.ProcessId }
}

# Get-VM in a second runspace, waited on at most $TimeoutMs (as collect.ps1 does).
function Test-VmQuery([int]$TimeoutMs) {
  $result = [ordered]@{ ok = $false; elapsed_ms = $null; error = $null; vms = $null }
  $clock = [Diagnostics.Stopwatch]::StartNew()
  $shell = [powershell]::Create([Management.Automation.Runspaces.InitialSessionState]::CreateDefault2())
  [void]$shell.AddScript('@(Hyper-V\Get-VM).Count')
  $handle = $shell.BeginInvoke()
  if (-not $handle.AsyncWaitHandle.WaitOne($TimeoutMs)) {
    [void]$shell.BeginStop($null, $null)
    $abandoned.Add($shell)
    $result.error = "timeout after $TimeoutMs ms"
  } else {
    try { $result.vms = [int](@($shell.EndInvoke($handle))[0]); $result.ok = $true }
    catch { $result.error = Get-InnermostMessage $_ }
  }
  $result.elapsed_ms = [int64]$clock.ElapsedMilliseconds
  return $result
}

try {
  $where = 'params'
  $params = [Text.Encoding]::UTF8.GetString([Convert]::FromBase64String($HvcParams.Trim())) | ConvertFrom-Json
  $expected = $null
  if ($null -ne $params.expected_pid) { $expected = [int]$params.expected_pid }
  $timeoutMs = 15000
  if ($null -ne $params.vm_query_timeout_ms) { $timeoutMs = [Math]::Min(120000, [Math]::Max(500, [int]$params.vm_query_timeout_ms)) }

  $where = 'read'
  $before = Get-Vmms
  $doc = [ordered]@{ status_before = $before.status; pid_before = $before.pid; restarted = $false
    status_after = $null; pid_after = $null; vm_query = $null; skipped_reason = $null; error = $null }
  if ($null -ne $expected -and $expected -ne $before.pid) {
    $doc.skipped_reason = "vmms is process $($before.pid), not $expected as read before: it was restarted already"
  } else {
    $where = 'restart'
    $null = Restart-Service -Name 'vmms' -Force
    $doc.restarted = $true
  }
  $where = 'read after'
  $waited = 0
  $after = Get-Vmms
  while ($waited -lt 60 -and $after.status -ne 'Running') {
    $null = Start-Sleep -Seconds 1
    $waited += 1
    $after = Get-Vmms
  }
  $doc.status_after = $after.status
  $doc.pid_after = $after.pid
  $doc.vm_query = Test-VmQuery $timeoutMs

  $where = 'output'
  $json = ConvertTo-Json -InputObject $doc -Depth 4 -Compress
} catch {
  $failure = [ordered]@{ hvc_error = [ordered]@{ message = (Get-InnermostMessage $_); where = $where } }
  [Console]::Out.Write((ConvertTo-Json -InputObject $failure -Compress))
  [Console]::Out.Flush()
  if ($abandoned.Count -gt 0) { [Environment]::Exit(1) }
  exit 1
}
[Console]::Out.Write($json)
[Console]::Out.Flush()
if ($abandoned.Count -gt 0) { [Environment]::Exit(0) }
exit 0
