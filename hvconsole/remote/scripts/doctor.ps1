# hvconsole-script: doctor
param([Parameter(Mandatory=$true)][string]$HvcParams)
$ProgressPreference='SilentlyContinue'; $ErrorActionPreference='Stop'
# `hvconsole doctor`, host side: the facts the connection test does not read. Only reads.
# PowerShell language mode (a host under AppLocker/WDAC runs remote sessions in
# ConstrainedLanguage, where our scripts' .NET calls fail), the WinRM shell quotas that
# bound how many shells we may hold (WSMan:\localhost\Shell, readable by administrators
# only), the host clock and the system drive's free space. Each fact is read in its own
# try/catch: a failed read is null and named in "checks_failed". docs/doctor.md.

$inv = [Globalization.CultureInfo]::InvariantCulture
$failed = [Collections.Generic.List[string]]::new()

function Get-WsmanValue([string]$Path) {
  # Values under WSMan:\ are strings; quotas are numbers of shells or milliseconds.
  $item = Get-Item -LiteralPath $Path
  if ($null -eq $item -or $null -eq $item.Value -or [string]$item.Value -eq '') { return $null }
  return [int64]$item.Value
}

try {
  $null = [Text.Encoding]::UTF8.GetString([Convert]::FromBase64String($HvcParams.Trim())) | ConvertFrom-Json
  $doc = [ordered]@{
    doctor_version = 1
    host_time = [DateTime]::UtcNow.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", $inv)
    ps_version = $PSVersionTable.PSVersion.ToString()
    language_mode = $null
    winrm = [ordered]@{ max_shells_per_user = $null; idle_timeout_ms = $null; max_concurrent_users = $null
      max_processes_per_shell = $null; max_memory_per_shell_mb = $null; max_concurrent_operations_per_user = $null }
    system_drive = [ordered]@{ name = $env:SystemDrive; free_mb = $null; size_mb = $null }
    checks_failed = @()
  }

  try { $doc.language_mode = [string]$ExecutionContext.SessionState.LanguageMode } catch { $failed.Add('language_mode') }

  # MaxShellsPerUser is 30 by default; IdleTimeout is 7,200,000 ms on real hosts (Microsoft's
  # configuration page says 180,000). Read back as set, never assumed (docs/doctor.md).
  $quotaPaths = [ordered]@{
    max_shells_per_user = 'WSMan:\localhost\Shell\MaxShellsPerUser'
    idle_timeout_ms = 'WSMan:\localhost\Shell\IdleTimeout'
    max_concurrent_users = 'WSMan:\localhost\Shell\MaxConcurrentUsers'
    max_processes_per_shell = 'WSMan:\localhost\Shell\MaxProcessesPerShell'
    max_memory_per_shell_mb = 'WSMan:\localhost\Shell\MaxMemoryPerShellMB'
    max_concurrent_operations_per_user = 'WSMan:\localhost\Service\MaxConcurrentOperationsPerUser'
  }
  foreach ($key in @($quotaPaths.Keys)) {
    try { $doc.winrm[$key] = Get-WsmanValue $quotaPaths[$key] } catch { $failed.Add('winrm.' + $key) }
  }

  try {
    $disk = Get-CimInstance -ClassName Win32_LogicalDisk -Filter ("DeviceID='" + $env:SystemDrive + "'")
    if ($null -ne $disk) {
      $doc.system_drive.free_mb = [int64]([double]$disk.FreeSpace / 1048576)
      $doc.system_drive.size_mb = [int64]([double]$disk.Size / 1048576)
    }
  } catch { $failed.Add('system_drive') }

  $doc.checks_failed = @($failed.ToArray())
  $json = ConvertTo-Json -InputObject $doc -Depth 4 -Compress
} catch {
  $failure = [ordered]@{ hvc_error = [ordered]@{ message = [string]$_.Exception.Message; where = 'doctor' } }
  [Console]::Out.Write((ConvertTo-Json -InputObject $failure -Compress))
  exit 1
}
[Console]::Out.Write($json)
exit 0
