# hvconsole-script: patch_cleanup
param([Parameter(Mandatory=$true)][string]$HvcParams)
$ProgressPreference='SilentlyContinue'; $ErrorActionPreference='Stop'
# Patch step "maintenance-off", host side: removes what the run left on the host: the
# install task, its wrapper and inputs, its work folder (unpacked cabs, DISM logs) and, when
# asked, the staged package (and an unfinished .partial copy of it). The install result
# file stays: it is evidence. A task that is still running is never removed. Idempotent:
# "removed" means "not there any more". docs/patching.md, docs/patch-scripts.md.

$where = 'start'
$taskNamePattern = '\A[A-Za-z0-9][A-Za-z0-9._-]{0,99}\z'
$hvcPathPattern = '\AC:\\hvconsole(\\[A-Za-z0-9_-]([A-Za-z0-9._-]*[A-Za-z0-9_-])?)+\z'
$reservedSegment = '\\(CON|PRN|AUX|NUL|COM[0-9]|LPT[0-9])(\.[^\\]*)?(\\|\z)'
$taskFolder = '\hvconsole\'
$tasksDir = 'C:\hvconsole\tasks'
$workRoot = 'C:\hvconsole\work'
$warnings = [Collections.Generic.List[string]]::new()

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

# The task, or $null. "Not found" is an answer; other failures must not look like one.
function Get-HvcTask([string]$Name) {
  $problems = $null
  $task = Get-ScheduledTask -TaskPath $taskFolder -TaskName $Name -ErrorAction SilentlyContinue -ErrorVariable problems
  foreach ($problem in @($problems)) {
    if ($null -ne $problem -and [string]$problem.CategoryInfo.Category -ne 'ObjectNotFound') { throw $problem }
  }
  return $task
}

# -> $true when nothing is left at $Path; a failure is a warning, not a failed cleanup.
function Remove-IfPresent([string]$Path) {
  try {
    if (Test-Path -LiteralPath $Path) { Remove-Item -LiteralPath $Path -Recurse -Force }
  } catch { $warnings.Add($Path + ': ' + (Get-InnermostMessage $_)) }
  return -not (Test-Path -LiteralPath $Path)
}

function Remove-InstallTask([string]$Name) {
  $task = Get-HvcTask $Name
  if ($null -ne $task -and @('Running', 'Queued') -contains [string]$task.State) {
    $warnings.Add('the install task is still running: left in place')
    return $false
  }
  if ($null -ne $task) { Unregister-ScheduledTask -TaskName $Name -TaskPath $taskFolder -Confirm:$false }
  $gone = $true
  foreach ($leftover in @((Join-Path $tasksDir ($Name + '.ps1')), (Join-Path $tasksDir ($Name + '.json')), (Join-Path $workRoot $Name))) {
    $gone = (Remove-IfPresent $leftover) -and $gone
  }
  return $gone -and $null -eq (Get-HvcTask $Name)
}

try {
  $where = 'params'
  $params = [Text.Encoding]::UTF8.GetString([Convert]::FromBase64String($HvcParams.Trim())) | ConvertFrom-Json
  $taskName = Assert-TaskName $params.task_name
  $packagePath = $null
  if ($null -ne $params.remove_package_path) {
    $packagePath = Assert-HvcPath $params.remove_package_path 'remove_package_path'
    # Only a package file: a wrong value must never delete results\ (the evidence) or tasks\.
    if ($packagePath -notmatch '\.(msu|cab)\z') { throw 'remove_package_path must name a .msu or .cab file' }
  }

  $doc = [ordered]@{ task_removed = $false; package_removed = $null; warnings = @() }
  $where = 'task'
  $doc.task_removed = Remove-InstallTask $taskName
  if ($null -ne $packagePath) {
    $where = 'package'
    # The SMB push (remote/smb_stage.py) leaves a .partial file when it was interrupted.
    $fileGone = Remove-IfPresent $packagePath
    $partialGone = Remove-IfPresent ($packagePath + '.partial')
    $doc.package_removed = $fileGone -and $partialGone
  }
  $doc.warnings = $warnings.ToArray()

  $where = 'output'
  $json = ConvertTo-Json -InputObject $doc -Depth 3 -Compress
} catch {
  $failure = [ordered]@{ hvc_error = [ordered]@{ message = (Get-InnermostMessage $_); where = $where } }
  [Console]::Out.Write((ConvertTo-Json -InputObject $failure -Compress))
  exit 1
}
[Console]::Out.Write($json)
exit 0
