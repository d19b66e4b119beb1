# hvconsole-script: patch_stage_check
param([Parameter(Mandatory=$true)][string]$HvcParams)
$ProgressPreference='SilentlyContinue'; $ErrorActionPreference='Stop'
# Patch step "stage", host side: is the package file on this host, and is it the file we
# meant (SHA-256 computed here, on the host)? Only reads. docs/patching.md "Script
# contract", docs/patch-scripts.md. $HvcParams is data, never script text.

$where = 'start'
# A plain path under C:\hvconsole: fixed root, plain segments, no '..', no spaces or quotes.
$hvcPathPattern = '\AC:\\hvconsole(\\[A-Za-z0-9_-]([A-Za-z0-9._-]*[A-Za-z0-9_-])?)+\z'
$reservedSegment = '\\(CON|PRN|AUX|NUL|COM[0-9]|LPT[0-9])(\.[^\\]*)?(\\|\z)'

function Get-InnermostMessage($Failure) {
  $ex = $Failure
  if ($Failure -is [Management.Automation.ErrorRecord]) { $ex = $Failure.Exception }
  if ($ex -isnot [Exception]) { return [string]$Failure }
  while ($null -ne $ex.InnerException) { $ex = $ex.InnerException }
  return $ex.Message
}

# The only paths this project touches on a host are its own, under C:\hvconsole. The
# canonical-form comparison catches what Windows would silently rewrite (trailing dots).
function Assert-HvcPath($Value, [string]$Name) {
  if ($Value -isnot [string] -or $Value.Length -gt 200 -or $Value -notmatch $hvcPathPattern -or
      $Value.Contains('..') -or $Value -match $reservedSegment) {
    throw "$Name must be a plain path under C:\hvconsole\"
  }
  if ([IO.Path]::GetFullPath($Value) -ne $Value) { throw "$Name is not in canonical form" }
  return $Value
}

try {
  $where = 'params'
  $params = [Text.Encoding]::UTF8.GetString([Convert]::FromBase64String($HvcParams.Trim())) | ConvertFrom-Json
  $path = Assert-HvcPath $params.path 'path'
  $expected = $null
  if ($null -ne $params.sha256 -and [string]$params.sha256 -ne '') {
    if ([string]$params.sha256 -notmatch '\A[0-9A-Fa-f]{64}\z') { throw 'sha256 must be 64 hexadecimal digits' }
    $expected = ([string]$params.sha256).ToLowerInvariant()
  }

  $where = 'file'
  $doc = [ordered]@{ exists = $false; size = $null; sha256 = $null; matches = $null }
  if ($null -ne $expected) { $doc.matches = $false }
  if ([IO.File]::Exists($path)) {
    $doc.exists = $true
    $doc.size = [int64](Get-Item -LiteralPath $path -Force).Length
    $where = 'hash'
    # Get-FileHash reads the whole file: ~1-3 s per GB on a server disk.
    $doc.sha256 = (Get-FileHash -LiteralPath $path -Algorithm SHA256).Hash.ToLowerInvariant()
    if ($null -ne $expected) { $doc.matches = $doc.sha256 -eq $expected }
  }

  $where = 'output'
  $json = ConvertTo-Json -InputObject $doc -Depth 4 -Compress
} catch {
  $failure = [ordered]@{ hvc_error = [ordered]@{ message = (Get-InnermostMessage $_); where = $where } }
  [Console]::Out.Write((ConvertTo-Json -InputObject $failure -Compress))
  exit 1
}
[Console]::Out.Write($json)
exit 0
