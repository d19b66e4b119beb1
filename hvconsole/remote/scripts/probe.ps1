# hvconsole-script: probe
param([Parameter(Mandatory=$true)][string]$HvcParams)
$ProgressPreference = 'SilentlyContinue'; $ErrorActionPreference = 'Stop'
# Connection test ("Test connection" in the host dialog, `hvconsole hosts test`).
# Answers one question for the admin: can this account manage Hyper-V on this host from
# here? Each check runs in its own try/catch so that one failure still reports the others;
# a failed check is named in "checks_failed" and its value is null (unknown, not false).
# Takes no parameters today; the argument is decoded anyway so a malformed call fails
# loudly instead of being ignored.

try {
    $null = [System.Text.Encoding]::UTF8.GetString([System.Convert]::FromBase64String($HvcParams)) | ConvertFrom-Json

    $failed = New-Object System.Collections.Generic.List[string]
    $result = [ordered]@{
        probe_version = 1
        computer_name = $env:COMPUTERNAME
        user = $null
        ps_version = $PSVersionTable.PSVersion.ToString()
        ps_edition = $null
        is_admin = $null
        in_hyperv_admins = $null
        hyperv_module = $null
        hyperv_module_version = $null
        vmms = $null
        os = $null
        host_time = [DateTime]::UtcNow.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", [Globalization.CultureInfo]::InvariantCulture)
        checks_failed = @()
    }

    try { $result.ps_edition = [string]$PSVersionTable.PSEdition } catch { $failed.Add('ps_edition') }

    # Token membership, not group listing: what counts is whether *this* remote session
    # runs elevated (remote UAC filters local accounts unless LocalAccountTokenFilterPolicy=1).
    try {
        $identity = [System.Security.Principal.WindowsIdentity]::GetCurrent()
        $principal = New-Object System.Security.Principal.WindowsPrincipal($identity)
        $result.user = $identity.Name
        $result.is_admin = $principal.IsInRole([System.Security.Principal.WindowsBuiltInRole]::Administrator)
        # BUILTIN\Hyper-V Administrators by its well-known SID (the group name is localized).
        $hvAdmins = New-Object System.Security.Principal.SecurityIdentifier('S-1-5-32-578')
        $result.in_hyperv_admins = $principal.IsInRole($hvAdmins)
    } catch { $failed.Add('identity') }

    try {
        $module = Get-Module -ListAvailable -Name 'Hyper-V' | Sort-Object -Property 'Version' -Descending | Select-Object -First 1
        $result.hyperv_module = [bool]$module
        if ($module) { $result.hyperv_module_version = $module.Version.ToString() }
    } catch { $failed.Add('hyperv_module') }

    # vmms absent = the Hyper-V role is not installed; null is sent for that, as collect does.
    try {
        $svc = Get-Service -Name 'vmms' -ErrorAction SilentlyContinue
        if ($svc) { $result.vmms = $svc.Status.ToString() }
    } catch { $failed.Add('vmms') }

    try {
        $cv = Get-ItemProperty -LiteralPath 'HKLM:\SOFTWARE\Microsoft\Windows NT\CurrentVersion'
        $ubr = $null
        if ($null -ne $cv.UBR) { $ubr = [int]$cv.UBR }
        $result.os = [ordered]@{
            product = [string]$cv.ProductName
            build = [int]$cv.CurrentBuild
            ubr = $ubr
            display_version = [string]$cv.DisplayVersion
        }
    } catch { $failed.Add('os') }

    $result.checks_failed = @($failed.ToArray())
    [Console]::Out.Write((ConvertTo-Json -InputObject $result -Depth 4 -Compress))
    exit 0
} catch {
    $envelope = @{ hvc_error = @{ message = [string]$_.Exception.Message; where = 'probe' } }
    [Console]::Out.Write((ConvertTo-Json -InputObject $envelope -Depth 3 -Compress))
    exit 1
}
