# hvconsole-script: collect
param([Parameter(Mandatory=$true)][string]$HvcParams)
$ProgressPreference = "SilentlyContinue"; $ErrorActionPreference = "Stop"
# placeholder until the collector lands
exit 1
