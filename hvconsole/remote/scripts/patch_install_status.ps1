# hvconsole-script: patch_install_status
param([Parameter(Mandatory=$true)][string]$HvcParams)
$ProgressPreference='SilentlyContinue'; $ErrorActionPreference='Stop'
# Patch step "install", polling: where is the install task that patch_install_start
# started? "done" when its result file exists (exit code, times, steps), "running" while
# the task runs, "not-found" when there is neither task nor result. A task that ended
# without writing its result (killed at its time limit, wrapper could not start) is also
# "done", with the task's own last result as the exit code. Only reads.
# docs/patching.md "Script contract", docs/patch-scripts.md. $HvcParams is data.

$where = 'start'
$inv = [Globalization.CultureInfo]::InvariantCulture
$taskNamePattern = '\A[A-Za-z0-9][A-Za-z0-9._-]{0,99}\z'
$hvcPathPattern = '\AC:\\hvconsole(\\[A-Za-z0-9_-]([A-Za-z0-9._-]*[A-Za-z0-9_-])?)+\z'
$reservedSegment = '\\(CON|PRN|AUX|NUL|COM[0-9]|LPT[0-9])(\.[^\\]*)?(\\|\z)'
$taskFolder = '\hvconsole\'
# Task Scheduler's "has not run yet" (0x41303) and "is running" (0x41301): started, not over.
[int64[]]$notOverYet = @(267011, 267009)
[int64]$endedWithoutResult = 2147500037   # 0x80004005 E_FAIL

function Get-InnermostMessage($Failure) {
  $ex = $Failure
  if ($Failure -is [Management.Automation.ErrorRecord]) { $ex = $Failure.Exception }
  if ($ex -isnot [Exception]) { return [string]$Failure }
  while ($null -ne $ex.InnerException) { $ex = $ex.InnerException }
  return $ex.Message
}

function Assert-HvcPath($Value, [string]$Name) {
  if ($Value -isnot [string] -or $Value.Length -gt 200 -or $Value -notmatch $hvcPathPattern -or
      $Value.Contains('..') -or $Value -match $reservedSegment) {
    throw "$Name must be a plain path under C:\hvconsole\"
  }
  if ([IO.Path]::GetFullPath($Value) -ne $Value) { throw "$Name is not in canonical form" }
  return $Value
}

function Assert-TaskName($Value) {
  if ($Value -isnot [string] -or $Value -notmatch $taskNamePattern -or $Value.Contains('..')) {
    throw 'task_name must be 1-100 letters, digits, dots, dashes or underscores'
  }
  return $Value
}

function ConvertTo-Unsigned($Code) {
  if ($null -eq $Code) { return $null }
  $c = [int64]$Code
  if ($c -lt 0) { $c += 4294967296 }
  return $c
}

function ConvertTo-IsoUtc($Time) {
  if ($null -eq $Time) { return $null }
  $t = [DateTime]$Time
  if ($t.Kind -ne [DateTimeKind]::Utc) { $t = $t.ToUniversalTime() }
  return $t.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", $inv)
}

# The task, or $null. "Not found" is an answer; other failures must not look like one.
function Get-HvcTask([string]$Name) {
  $problems = $null
  $task = Get-ScheduledTask -TaskPath $taskFolder -TaskName $Name -ErrorAction SilentlyContinue -ErrorVariable problems
  foreach ($problem in @($problems)) {
    if ($null -ne $problem -and [string]$problem.CategoryInfo.Category -ne 'ObjectNotFound') { throw $problem }
  }
  return $task
}

# The wrapper's result file as answer fields, or $null when there is none yet.
function Read-InstallResult([string]$Path) {
  if (-not [IO.File]::Exists($Path)) { return $null }
  $r = [IO.File]::ReadAllText($Path, [Text.Encoding]::UTF8) | ConvertFrom-Json
  $stepRows = @(foreach ($s in @($r.steps)) { if ($null -ne $s) { [ordered]@{ cab = [string]$s.cab; exit_code = $s.exit_code } } })
  # Windows PowerShell 5.1 leaves ISO time strings as strings: they pass through unchanged.
  return [ordered]@{ exit_code = $r.exit_code; started_at = $r.started_at; finished_at = $r.finished_at
    method = [string]$r.method; steps = $stepRows; log = [string]$r.log }
}

try {
  $where = 'params'
  $params = [Text.Encoding]::UTF8.GetString([Convert]::FromBase64String($HvcParams.Trim())) | ConvertFrom-Json
  $taskName = Assert-TaskName $params.task_name
  $resultPath = Assert-HvcPath $params.result_path 'result_path'

  $doc = [ordered]@{ state = 'not-found'; exit_code = $null; started_at = $null; finished_at = $null
    method = $null; task_state = $null; last_task_result = $null; steps = @(); log = $null }
  # Task first, then file: the wrapper writes its result before it ends, so "not running
  # and no file" read in this order is no race.
  $where = 'task'
  $task = Get-HvcTask $taskName
  $lastRun = $null
  if ($null -ne $task) {
    $doc.task_state = [string]$task.State
    $info = Get-ScheduledTaskInfo -InputObject $task
    $doc.last_task_result = ConvertTo-Unsigned $info.LastTaskResult
    $lastRun = $info.LastRunTime
  }
  $where = 'result'
  $result = Read-InstallResult $resultPath
  if ($null -ne $result) {
    $doc.state = 'done'
    foreach ($key in @($result.Keys)) { $doc[$key] = $result[$key] }
  } elseif ($null -ne $task) {
    if (@('Running', 'Queued') -contains $doc.task_state -or $notOverYet -contains $doc.last_task_result) {
      $doc.state = 'running'
    } else {
      $doc.state = 'done'
      $doc.exit_code = $doc.last_task_result
      if ($doc.exit_code -eq 0) { $doc.exit_code = $endedWithoutResult }
      $doc.started_at = ConvertTo-IsoUtc $lastRun
      $doc.log = 'the install task ended without writing its result file (last task result ' + $doc.last_task_result + ')'
    }
  }

  $where = 'output'
  $json = ConvertTo-Json -InputObject $doc -Depth 5 -Compress
} catch {
  $failure = [ordered]@{ hvc_error = [ordered]@{ message = (Get-InnermostMessage $_); where = $where } }
  [Console]::Out.Write((ConvertTo-Json -InputObject $failure -Compress))
  exit 1
}
[Console]::Out.Write($json)
exit 0
