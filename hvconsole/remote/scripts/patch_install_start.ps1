# hvconsole-script: patch_install_start
param([Parameter(Mandatory=$true)][string]$HvcParams)
$ProgressPreference='SilentlyContinue'; $ErrorActionPreference='Stop'
# Patch step "install", start. The install never runs inside this WinRM call (wusa refuses
# WinRM sessions; a process started here dies with the shell: hyperv-notes section 7). We
# write a fixed wrapper and its inputs to C:\hvconsole\tasks, register a task that runs it
# once as SYSTEM, and start it. Reality first: a result file means done, a running task
# means running; only otherwise is the task (re)registered and started.
# docs/patching.md "Script contract", docs/patch-scripts.md. $HvcParams is data.

$where = 'start'
$inv = [Globalization.CultureInfo]::InvariantCulture
$validMethods = @('auto', 'dism', 'wusa', 'add-windowspackage')
$taskNamePattern = '\A[A-Za-z0-9][A-Za-z0-9._-]{0,99}\z'
$hvcPathPattern = '\AC:\\hvconsole(\\[A-Za-z0-9_-]([A-Za-z0-9._-]*[A-Za-z0-9_-])?)+\z'
$reservedSegment = '\\(CON|PRN|AUX|NUL|COM[0-9]|LPT[0-9])(\.[^\\]*)?(\\|\z)'
$taskFolder = '\hvconsole\'
$hvcRoot = 'C:\hvconsole'
$tasksDir = 'C:\hvconsole\tasks'
$workRoot = 'C:\hvconsole\work'
# Administrators, SYSTEM, TrustedInstaller: owners that cannot be a local user's trap.
$trustedOwners = @('S-1-5-32-544', 'S-1-5-18', 'S-1-5-80-956008885-3418522649-1831038044-1853292631-2271478464')

# The installer the task runs. A constant, written as is; its inputs are in the JSON beside it.
$wrapperText = @'
# hvconsole install wrapper, written by patch_install_start and run by its task as SYSTEM.
# Inputs: <task>.json beside this file, checked again here. Installs one package, writes
# {exit_code, started_at, finished_at, method, steps, log} atomically; codes unsigned 32-bit.
$ErrorActionPreference = 'Stop'; $ProgressPreference = 'SilentlyContinue'
$inv = [Globalization.CultureInfo]::InvariantCulture
$startedAt = [DateTime]::UtcNow
$steps = [Collections.Generic.List[object]]::new()
$log = [Collections.Generic.List[string]]::new()
$method = $null
$resultPath = $null
$failure = $null
[int64[]]$okCodes = @(0, 3010, 1641, 2359302)
[int64]$notApplicable = 2148468766   # 0x800F081E CBS_E_NOT_APPLICABLE (decimal: a hex literal is negative in PS 5.1)
[int64]$wrapperFailed = 2147500037   # 0x80004005 E_FAIL
$validMethods = @('auto', 'dism', 'wusa', 'add-windowspackage')
$hvcPathPattern = '\AC:\\hvconsole(\\[A-Za-z0-9_-]([A-Za-z0-9._-]*[A-Za-z0-9_-])?)+\z'
$reservedSegment = '\\(CON|PRN|AUX|NUL|COM[0-9]|LPT[0-9])(\.[^\\]*)?(\\|\z)'
$system32 = Join-Path $env:SystemRoot 'System32'
$dismExe = Join-Path $system32 'dism.exe'

function Get-Iso([DateTime]$Time) { $Time.ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", $inv) }

function ConvertTo-Unsigned($Code) {
  $c = [int64]$Code
  if ($c -lt 0) { $c += 4294967296 }
  return $c
}

function Add-Log([string]$Line) { $log.Add((Get-Iso ([DateTime]::UtcNow)) + ' ' + $Line) }

function Assert-HvcPath($Value, [string]$Name) {
  if ($Value -isnot [string] -or $Value.Length -gt 200 -or $Value -notmatch $hvcPathPattern -or
      $Value.Contains('..') -or $Value -match $reservedSegment) {
    throw "$Name must be a plain path under C:\hvconsole\"
  }
  if ([IO.Path]::GetFullPath($Value) -ne $Value) { throw "$Name is not in canonical form" }
  return $Value
}

# Runs one installer and records its exit code as a step; keeps only the output's tail.
function Invoke-Installer([string]$Label, [string]$Exe, [string[]]$Arguments) {
  Add-Log ('run ' + $Label)
  # A missing program would leave a stale $LASTEXITCODE behind.
  if (-not [IO.File]::Exists($Exe)) { throw ('not found: ' + $Exe) }
  # PS 5.1 turns native stderr lines into errors that 'Stop' makes fatal; the code decides.
  $ErrorActionPreference = 'Continue'
  $output = @(& $Exe @Arguments 2>&1)
  $code = ConvertTo-Unsigned $LASTEXITCODE
  $ErrorActionPreference = 'Stop'
  foreach ($line in @($output | Select-Object -Last 5)) {
    $text = ([string]$line).Trim()
    if ($text) { Add-Log ('  ' + $text) }
  }
  $steps.Add([ordered]@{ cab = $Label; exit_code = $code })
  Add-Log ($Label + ': exit code ' + $code)
  return $code
}

# An SSU cab that is "not applicable" (same or newer stack present) is no failure.
function Test-StepFailed($Step) {
  if ($Step.cab -like 'SSU-*' -and $Step.exit_code -eq $notApplicable) { return $false }
  return $okCodes -notcontains $Step.exit_code
}

# WS2016-2022: DISM takes no .msu online. Unpack it, add SSU-* first, then the other cabs;
# WSUSSCAN.cab is WSUS metadata, not a package.
function Install-Expanded([string]$Msu, [string]$WorkDir) {
  $extracted = Join-Path $WorkDir 'expanded'
  if ([IO.Directory]::Exists($extracted)) { Remove-Item -LiteralPath $extracted -Recurse -Force }
  $null = [IO.Directory]::CreateDirectory($extracted)
  $code = Invoke-Installer ('expand ' + [IO.Path]::GetFileName($Msu)) (Join-Path $system32 'expand.exe') @('-F:*', $Msu, $extracted)
  if ($code -ne 0) { return }
  $all = @(Get-ChildItem -LiteralPath $extracted -Filter '*.cab' | Where-Object { $_.Name -ne 'WSUSSCAN.cab' })
  $ssu = @($all | Where-Object { $_.Name -like 'SSU-*' } | Sort-Object -Property 'Name')
  $rest = @($all | Where-Object { $_.Name -notlike 'SSU-*' } | Sort-Object -Property 'Name')
  $cabs = $ssu + $rest
  if ($cabs.Count -eq 0) { throw 'the package holds no installable cab' }
  $n = 0
  foreach ($cab in $cabs) {
    $n++
    $cabPath = $cab.FullName
    $logPath = Join-Path $WorkDir ('dism-' + $n + '.log')
    $null = Invoke-Installer $cab.Name $dismExe @('/Online', '/Add-Package', "/PackagePath:$cabPath", '/Quiet', '/NoRestart', "/LogPath:$logPath")
    if (Test-StepFailed ($steps[$steps.Count - 1])) { Add-Log 'stopped after the first failure'; return }
  }
}

function Install-WithCmdlet([string]$Package, [string]$LogPath) {
  $label = [IO.Path]::GetFileName($Package)
  Add-Log ('run Add-WindowsPackage ' + $label)
  [int64]$code = 0
  try {
    $image = Add-WindowsPackage -Online -PackagePath $Package -NoRestart -LogPath $LogPath
    if ($image.RestartNeeded) { $code = 3010 }
  } catch {
    $code = ConvertTo-Unsigned $_.Exception.HResult
    if ($code -eq 0) { $code = $wrapperFailed }
    Add-Log ('  ' + $_.Exception.Message)
  }
  $steps.Add([ordered]@{ cab = $label; exit_code = $code })
}

# First failure, else 3010 if any, else 1641, else 0; all "already installed" keeps that.
function Select-ExitCode {
  $codes = [Collections.Generic.List[int64]]::new()
  foreach ($step in $steps) {
    if (Test-StepFailed $step) { return [int64]$step.exit_code }
    $codes.Add([int64]$step.exit_code)
  }
  if ($null -ne $failure) { return $wrapperFailed }
  foreach ($preferred in @(3010, 1641, 0)) { if ($codes -contains $preferred) { return [int64]$preferred } }
  if ($codes.Count -gt 0) { return $codes[0] }
  return $wrapperFailed
}

function Write-Result {
  $text = [string]::Join("`n", $log.ToArray())
  if ($text.Length -gt 8000) { $text = $text.Substring($text.Length - 8000) }
  $result = [ordered]@{ exit_code = Select-ExitCode; started_at = Get-Iso $startedAt
    finished_at = Get-Iso ([DateTime]::UtcNow); method = $method; steps = $steps.ToArray(); log = $text }
  $json = ConvertTo-Json -InputObject $result -Depth 4 -Compress
  $folder = [IO.Path]::GetDirectoryName($resultPath)
  if (-not [IO.Directory]::Exists($folder)) { $null = [IO.Directory]::CreateDirectory($folder) }
  # Never half a file for the poller: write beside it, then rename over it.
  $tmp = $resultPath + '.tmp'
  [IO.File]::WriteAllText($tmp, $json, (New-Object System.Text.UTF8Encoding -ArgumentList $false))
  Move-Item -LiteralPath $tmp -Destination $resultPath -Force
}

try {
  $inputPath = [IO.Path]::ChangeExtension($PSCommandPath, '.json')
  $in = [IO.File]::ReadAllText($inputPath, [Text.Encoding]::UTF8) | ConvertFrom-Json
  $resultPath = Assert-HvcPath $in.result_path 'result_path'
  $package = Assert-HvcPath $in.package_path 'package_path'
  $workDir = Assert-HvcPath $in.work_dir 'work_dir'
  $method = [string]$in.method
  if ($validMethods -cnotcontains $method) { throw 'unknown install method' }
  if (-not [IO.File]::Exists($package)) { throw 'package not found' }
  if (-not [IO.Directory]::Exists($workDir)) { $null = [IO.Directory]::CreateDirectory($workDir) }
  # Installers misbehave on packages on a share (wusa: 0x800700A1 on WS2025).
  $drive = New-Object System.IO.DriveInfo -ArgumentList ([IO.Path]::GetPathRoot($package))
  if ($drive.DriveType -ne [IO.DriveType]::Fixed) {
    $local = Join-Path $workDir ([IO.Path]::GetFileName($package))
    Copy-Item -LiteralPath $package -Destination $local -Force
    Add-Log 'copied the package to a local disk first'
    $package = $local
  }
  $build = [int](Get-ItemProperty -LiteralPath 'HKLM:\SOFTWARE\Microsoft\Windows NT\CurrentVersion' -Name 'CurrentBuild').CurrentBuild
  $isCab = $package.EndsWith('.cab', [StringComparison]::OrdinalIgnoreCase)
  if ($method -eq 'auto') { $method = 'dism' }
  $label = [IO.Path]::GetFileName($package)
  $logPath = Join-Path $workDir 'dism.log'
  Add-Log ('build ' + $build + ', method ' + $method + ', package ' + $label)
  if ($method -eq 'wusa') {
    if ($isCab) { throw 'wusa installs .msu packages only' }
    $wusaLog = Join-Path $workDir 'wusa.evtx'
    $null = Invoke-Installer $label (Join-Path $system32 'wusa.exe') @($package, '/quiet', '/norestart', "/log:$wusaLog")
  } elseif ($method -eq 'add-windowspackage') {
    Install-WithCmdlet $package $logPath
  } elseif ($isCab -or $build -ge 26100) {
    # WS2025 (26100+) and single cabs: DISM adds the package as is (the prerequisite .msu
    # files of a checkpoint update are found in the same folder).
    $null = Invoke-Installer $label $dismExe @('/Online', '/Add-Package', "/PackagePath:$package", '/Quiet', '/NoRestart', "/LogPath:$logPath")
  } else {
    Install-Expanded $package $workDir
  }
} catch {
  $failure = $_.Exception.Message
  Add-Log ('wrapper failed: ' + $failure)
}
# Without a result file, this exit code (the task's last result) is all that is left.
if ($null -eq $resultPath) { exit 2 }
try { Write-Result } catch { exit 3 }
exit 0
'@

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

# The wrapper's result file as answer fields, or $null when there is none yet.
function Read-InstallResult([string]$Path) {
  if (-not [IO.File]::Exists($Path)) { return $null }
  $r = [IO.File]::ReadAllText($Path, [Text.Encoding]::UTF8) | ConvertFrom-Json
  $stepRows = @(foreach ($s in @($r.steps)) { if ($null -ne $s) { [ordered]@{ cab = [string]$s.cab; exit_code = $s.exit_code } } })
  # Windows PowerShell 5.1 leaves ISO time strings as strings: they pass through unchanged.
  return [ordered]@{ exit_code = $r.exit_code; started_at = $r.started_at; finished_at = $r.finished_at
    method = [string]$r.method; steps = $stepRows; log = [string]$r.log }
}

# The task runs what lies here as SYSTEM: only Administrators and SYSTEM may write, or a
# local user could swap the wrapper. A folder someone else created first is refused.
function Protect-HvcFolder([string]$Path) {
  if (-not [IO.Directory]::Exists($Path)) { $null = [IO.Directory]::CreateDirectory($Path) }
  $owner = (Get-Acl -LiteralPath $Path).GetOwner([Security.Principal.SecurityIdentifier]).Value
  $me = [Security.Principal.WindowsIdentity]::GetCurrent().User.Value
  if ($trustedOwners -notcontains $owner -and $owner -ne $me) {
    throw "$Path is owned by $owner, not by Administrators: remove it or take ownership, then retry"
  }
  $acl = New-Object System.Security.AccessControl.DirectorySecurity
  $acl.SetAccessRuleProtection($true, $false)
  foreach ($sid in @('S-1-5-32-544', 'S-1-5-18')) {
    $identity = New-Object System.Security.Principal.SecurityIdentifier -ArgumentList $sid
    $acl.AddAccessRule((New-Object System.Security.AccessControl.FileSystemAccessRule -ArgumentList @(
      $identity, 'FullControl', 'ContainerInherit, ObjectInherit', 'None', 'Allow')))
  }
  [IO.Directory]::SetAccessControl($Path, $acl)
}

function Write-TextFile([string]$Path, [string]$Text) {
  [IO.File]::WriteAllText($Path, $Text, (New-Object System.Text.UTF8Encoding -ArgumentList $false))
}

# Writes wrapper and inputs, registers the task (replacing a finished one) and starts it.
function Start-InstallTask([string]$TaskName, [string]$PackagePath, [string]$ResultPath, [string]$Method) {
  foreach ($folder in @($hvcRoot, $tasksDir)) { Protect-HvcFolder $folder }
  $wrapperPath = Join-Path $tasksDir ($TaskName + '.ps1')
  $inputs = [ordered]@{ package_path = $PackagePath; result_path = $ResultPath; method = $Method
    work_dir = (Join-Path $workRoot $TaskName) }
  Write-TextFile (Join-Path $tasksDir ($TaskName + '.json')) (ConvertTo-Json -InputObject $inputs -Compress)
  Write-TextFile $wrapperPath ($wrapperText -replace '\r?\n', "`r`n")

  $powershellExe = Join-Path $env:SystemRoot 'System32\WindowsPowerShell\v1.0\powershell.exe'
  # Task Scheduler takes one argument string: constants and the wrapper path, whose only
  # variable part is the validated task name (no space, no quote).
  $taskArguments = @('-NoProfile', '-NonInteractive', '-ExecutionPolicy', 'Bypass', '-File', $wrapperPath) -join ' '
  $action = New-ScheduledTaskAction -Execute $powershellExe -Argument $taskArguments -WorkingDirectory $tasksDir
  # LocalSystem by its SID: the account name is localized on non-English Windows
  # (chef/win32-taskscheduler #68), S-1-5-18 is not.
  $principal = New-ScheduledTaskPrincipal -UserId 'S-1-5-18' -LogonType ServiceAccount -RunLevel Highest
  # A WS2016 cumulative update can take an hour; past three the task is stopped.
  $settings = New-ScheduledTaskSettingsSet -AllowStartIfOnBatteries -DontStopIfGoingOnBatteries `
    -ExecutionTimeLimit (New-TimeSpan -Hours 3) -MultipleInstances IgnoreNew
  $null = Register-ScheduledTask -TaskName $TaskName -TaskPath $taskFolder -Action $action -Principal $principal `
    -Settings $settings -Description 'hvconsole: installs one update package, then writes its result file' -Force
  $null = Start-ScheduledTask -TaskName $TaskName -TaskPath $taskFolder
}

try {
  $where = 'params'
  $params = [Text.Encoding]::UTF8.GetString([Convert]::FromBase64String($HvcParams.Trim())) | ConvertFrom-Json
  $packagePath = Assert-HvcPath $params.package_path 'package_path'
  if ($packagePath -notmatch '\.(msu|cab)\z') { throw 'package_path must name a .msu or .cab file' }
  $taskName = Assert-TaskName $params.task_name
  $resultPath = Assert-HvcPath $params.result_path 'result_path'
  if ($resultPath -notmatch '\.json\z') { throw 'result_path must name a .json file' }
  $method = 'auto'
  if ($null -ne $params.method) { $method = [string]$params.method }
  if ($validMethods -cnotcontains $method) { throw "method must be one of: $($validMethods -join ', ')" }

  # Task first, then file: the wrapper writes its result before it ends, so "not running
  # and no file" read in this order is no race.
  $where = 'task'
  $task = Get-HvcTask $taskName
  $where = 'result'
  $result = Read-InstallResult $resultPath
  $doc = [ordered]@{ state = $null; exit_code = $null; started_at = $null; finished_at = $null
    method = $null; steps = @(); log = $null }
  if ($null -ne $result) {
    $doc.state = 'done'
    foreach ($key in @($result.Keys)) { $doc[$key] = $result[$key] }
  } elseif ($null -ne $task -and @('Running', 'Queued') -contains [string]$task.State) {
    $doc.state = 'running'
  } else {
    $where = 'start task'
    $null = Start-InstallTask $taskName $packagePath $resultPath $method
    $doc.state = 'started'
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
