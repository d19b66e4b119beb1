# hvconsole-script: patch_reboot
param([Parameter(Mandatory=$true)][string]$HvcParams)
$ProgressPreference='SilentlyContinue'; $ErrorActionPreference='Stop'
# Patch step "reboot": schedules the restart a few seconds ahead with the reason "planned,
# operating system hotfix" (p:2:17) so that this WinRM call returns cleanly before the host
# goes away (hyperv-notes section 7). Answers with the last boot time *before* the reboot:
# the engine knows the host is back when a later last boot differs. A reboot that is
# already scheduled is reported as scheduled, never doubled. docs/patch-scripts.md.

$where = 'start'
$inv = [Globalization.CultureInfo]::InvariantCulture
# ERROR_SHUTDOWN_IS_SCHEDULED: Windows already has a shutdown pending.
$alreadyScheduled = 1190

function Get-InnermostMessage($Failure) {
  $ex = $Failure
  if ($Failure -is [Management.Automation.ErrorRecord]) { $ex = $Failure.Exception }
  if ($ex -isnot [Exception]) { return [string]$Failure }
  while ($null -ne $ex.InnerException) { $ex = $ex.InnerException }
  return $ex.Message
}

function ConvertTo-IsoUtc($Time) {
  if ($null -eq $Time) { return $null }
  $t = [DateTime]$Time
  if ($t.Kind -ne [DateTimeKind]::Utc) { $t = $t.ToUniversalTime() }
  return $t.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", $inv)
}

# The comment becomes one argument of shutdown.exe. Windows PowerShell 5.1 does not escape
# a quote inside a native argument, so a quote (or a backslash before one) could split it
# into arguments of its own: those characters, and control characters, become spaces.
function Get-SafeComment($Value) {
  $text = 'hvconsole: planned restart to complete an update'
  if ($null -ne $Value) {
    $clean = (([string]$Value) -replace '[\x00-\x1F\x7F"\\]', ' ').Trim()
    if ($clean.Length -gt 500) { $clean = $clean.Substring(0, 500) }
    if ($clean) { $text = $clean }
  }
  return $text
}

function Invoke-Shutdown([int]$DelayS, [string]$Comment) {
  $shutdownExe = Join-Path $env:SystemRoot 'System32\shutdown.exe'
  # Windows PowerShell 5.1 turns native stderr lines into errors that 'Stop' makes fatal;
  # the exit code is what decides here.
  $ErrorActionPreference = 'Continue'
  $null = & $shutdownExe @('/r', '/t', [string]$DelayS, '/d', 'p:2:17', '/c', $Comment) 2>&1
  return [int]$LASTEXITCODE
}

try {
  $where = 'params'
  $params = [Text.Encoding]::UTF8.GetString([Convert]::FromBase64String($HvcParams.Trim())) | ConvertFrom-Json
  # At least 10 s so the answer leaves before the host does; at most 10 minutes.
  $delayS = 30
  if ($null -ne $params.delay_s) { $delayS = [int][Math]::Min(600, [Math]::Max(10, [int]$params.delay_s)) }
  $comment = Get-SafeComment $params.comment

  $where = 'last boot'
  $lastBoot = ConvertTo-IsoUtc (Get-CimInstance -ClassName 'Win32_OperatingSystem').LastBootUpTime
  $where = 'schedule'
  $code = Invoke-Shutdown $delayS $comment
  $doc = [ordered]@{ scheduled = ($code -eq 0 -or $code -eq $alreadyScheduled)
    already_scheduled = $code -eq $alreadyScheduled; last_boot = $lastBoot; delay_s = $delayS
    comment = $comment; exit_code = $code; error = $null }
  if (-not $doc.scheduled) { $doc.error = 'shutdown.exe failed with exit code ' + $code }

  $where = 'output'
  $json = ConvertTo-Json -InputObject $doc -Depth 3 -Compress
} catch {
  $failure = [ordered]@{ hvc_error = [ordered]@{ message = (Get-InnermostMessage $_); where = $where } }
  [Console]::Out.Write((ConvertTo-Json -InputObject $failure -Compress))
  exit 1
}
[Console]::Out.Write($json)
exit 0
