# hvconsole-script: recover_inspect
param([Parameter(Mandatory=$true)][string]$HvcParams)
$ProgressPreference='SilentlyContinue'; $ErrorActionPreference='Stop'
# Recovery, read-only: everything the guided recovery of one VM reads before (and between)
# its steps. The VMMS service and its process, one bounded Get-VM -Id (a wedged VMMS blocks
# Get-VM for minutes: the query runs in a second runspace, as in collect.ps1), the VM's
# state, status, heartbeat and shutdown integration service, the VM's worker process
# (vmwp.exe whose command line carries the VM id: never looked up by name) and the
# Hyper-V Worker/VMMS events that name the VM. Changes nothing. docs/recovery.md.

$where = 'start'
$abandoned = [Collections.Generic.List[object]]::new()
$inv = [Globalization.CultureInfo]::InvariantCulture

function Get-InnermostMessage($Failure) {
  $ex = $Failure
  if ($Failure -is [Management.Automation.ErrorRecord]) { $ex = $Failure.Exception }
  if ($ex -isnot [Exception]) { return [string]$Failure }
  while ($null -ne $ex.InnerException) { $ex = $ex.InnerException }
  return $ex.Message
}

function Get-IsoTime($Value) {
  if ($null -eq $Value) { return $null }
  return ([DateTime]$Value).ToUniversalTime().ToString('yyyy-MM-ddTHH:mm:ss.fffZ', $inv)
}

function Get-IntParam($Value, [int]$Default, [int]$Min, [int]$Max) {
  if ($null -eq $Value) { return $Default }
  return [int][Math]::Min($Max, [Math]::Max($Min, [int]$Value))
}

# The vmms service and the process behind it (Win32_Service.ProcessId; 0 when stopped).
function Get-VmmsState {
  $result = [ordered]@{ status = $null; process_id = $null; started_at = $null; error = $null }
  try {
    $svc = Get-CimInstance -ClassName Win32_Service -Filter "Name='vmms'"
    if ($null -ne $svc) {
      $result.status = [string]$svc.State
      $result.process_id = [int]$svc.ProcessId
      if ($svc.ProcessId -gt 0) {
        $result.started_at = Get-IsoTime (Get-Process -Id $svc.ProcessId).StartTime
      }
    }
  } catch { $result.error = Get-InnermostMessage $_ }
  return $result
}

# Runs in a second runspace: the VM by Id, with its heartbeat and shutdown services.
$vmQueryBody = {
  param([string]$Id)
  $ErrorActionPreference = 'Stop'; $ProgressPreference = 'SilentlyContinue'
  $clock = [Diagnostics.Stopwatch]::StartNew()
  $vm = @(Hyper-V\Get-VM | Where-Object { $_.VMId -eq [guid]$Id })
  if ($vm.Count -eq 0) { return [pscustomobject]@{ vm = $null; elapsed_ms = [int64]$clock.ElapsedMilliseconds } }
  $vm = $vm[0]
  $ics = @(Hyper-V\Get-VMIntegrationService -VM $vm)
  $hb = $ics | Where-Object { $_.Id -like '*84EAAE65-2F2E-45F5-9BB5-0E857DC8EB47' }
  $sd = $ics | Where-Object { $_.Id -like '*9F8233AC-BE49-4C79-8EE3-E7E1985B2077' }
  $doc = [ordered]@{
    id = $vm.VMId.ToString(); name = [string]$vm.Name; state = [string]$vm.State; status = [string]$vm.Status
    operational_status = @($vm.OperationalStatus | ForEach-Object { [string]$_ })
    heartbeat = $null; shutdown_service = $null; uptime_s = [int64]$vm.Uptime.TotalSeconds
    cpu_pct = [int]$vm.CPUUsage
  }
  if ($null -ne $hb) { $doc.heartbeat = [string]$hb.PrimaryStatusDescription }
  if ($null -ne $sd) {
    $doc.shutdown_service = [ordered]@{ enabled = [bool]$sd.Enabled; status = [string]$sd.PrimaryStatusDescription }
  }
  return [pscustomobject]@{ vm = $doc; elapsed_ms = [int64]$clock.ElapsedMilliseconds }
}

# The VM's worker process: vmwp.exe carries the VM id on its command line (docs/recovery.md).
function Get-Worker([string]$Id) {
  $procs = @(Get-CimInstance -ClassName Win32_Process -Filter "Name='vmwp.exe'" |
    Where-Object { $null -ne $_.CommandLine -and $_.CommandLine.IndexOf($Id, [StringComparison]::OrdinalIgnoreCase) -ge 0 })
  if ($procs.Count -eq 0) { return $null }
  $cim = $procs[0]
  $doc = [ordered]@{ pid = [int]$cim.ProcessId; started_at = Get-IsoTime $cim.CreationDate
    cpu_s = $null; threads = [int]$cim.ThreadCount; handles = [int]$cim.HandleCount }
  $cpu = ([double]$cim.KernelModeTime + [double]$cim.UserModeTime) / 1e7
  $doc.cpu_s = [Math]::Round($cpu, 1)
  return $doc
}

function Get-VmEvents([string]$Id, $Since, [int]$Max) {
  $rows = [Collections.Generic.List[object]]::new()
  if ($Max -le 0) { return , $rows.ToArray() }
  $logs = @('Microsoft-Windows-Hyper-V-Worker-Admin', 'Microsoft-Windows-Hyper-V-VMMS-Admin')
  foreach ($log in $logs) {
    $filter = @{ LogName = $log }
    if ($null -ne $Since) { $filter.StartTime = $Since.ToLocalTime() }
    try {
      foreach ($e in @(Get-WinEvent -FilterHashtable $filter -MaxEvents 2000 -ErrorAction Stop)) {
        $text = [string]$e.Message
        if ($text.IndexOf($Id, [StringComparison]::OrdinalIgnoreCase) -lt 0) { continue }
        $rows.Add([ordered]@{ time = Get-IsoTime $e.TimeCreated; log = $log; id = [int]$e.Id
          level = [string]$e.LevelDisplayName; message = $text })
      }
    } catch {
      # No events in the window is "No events were found": not a failure.
      if ([string]$_.FullyQualifiedErrorId -notlike 'NoMatchingEventsFound*') { throw }
    }
  }
  $sorted = @($rows | Sort-Object { $_.time })
  if ($sorted.Count -gt $Max) { $sorted = $sorted[($sorted.Count - $Max)..($sorted.Count - 1)] }
  return , $sorted
}

try {
  $where = 'params'
  $params = [Text.Encoding]::UTF8.GetString([Convert]::FromBase64String($HvcParams.Trim())) | ConvertFrom-Json
  $id = ([guid]::Parse([string]$params.vm_id)).ToString()
  $maxEvents = Get-IntParam $params.max_events 50 0 500
  $timeoutMs = Get-IntParam $params.vm_query_timeout_ms 10000 500 120000
  $since = $null
  if ($params.events_since -is [DateTime]) { $since = $params.events_since.ToUniversalTime() }
  elseif ($params.events_since) {
    $since = [DateTime]::Parse([string]$params.events_since, $inv, [Globalization.DateTimeStyles]'AdjustToUniversal, AssumeUniversal')
  }

  $where = 'vm query'
  $clock = [Diagnostics.Stopwatch]::StartNew()
  $shell = [powershell]::Create([Management.Automation.Runspaces.InitialSessionState]::CreateDefault2())
  [void]$shell.AddScript($vmQueryBody.ToString()).AddArgument($id)
  $handle = $shell.BeginInvoke()
  $where = 'vmms'
  $vmms = Get-VmmsState
  $where = 'worker'
  $worker = Get-Worker $id
  $where = 'events'
  $events = Get-VmEvents $id $since $maxEvents

  $where = 'vm query'
  $query = [ordered]@{ ok = $false; elapsed_ms = $null; error = $null }
  $vm = $null
  $left = [int][Math]::Max(0, $timeoutMs - $clock.ElapsedMilliseconds)
  if (-not $handle.AsyncWaitHandle.WaitOne($left)) {
    [void]$shell.BeginStop($null, $null)
    $abandoned.Add($shell)
    $query.error = "timeout after $timeoutMs ms"
  } else {
    try {
      $out = @($shell.EndInvoke($handle))
      if ($out.Count -gt 0) { $vm = $out[$out.Count - 1].vm }
      $query.ok = $true
    } catch { $query.error = Get-InnermostMessage $_ }
  }
  $query.elapsed_ms = [int64]$clock.ElapsedMilliseconds

  $where = 'output'
  $doc = [ordered]@{ host_time = Get-IsoTime ([DateTime]::UtcNow); vm_id = $id; vmms = $vmms
    vm_query = $query; vm = $vm; worker = $worker; events = $events }
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
# A Get-VM still blocked on a wedged VMMS keeps its runspace alive: leave at once.
if ($abandoned.Count -gt 0) { [Environment]::Exit(0) }
exit 0
