package host

import "strings"

// The script shapes of docs/admin-scripts.md, as the agent sends them.

const poolScript = `$ErrorActionPreference = 'Stop'
Get-WmiObject -Namespace 'root\cimv2' -Class MSFT_SIPPoolSetting | Select-Object PoolFQDN,PoolDN | ConvertTo-Csv -NoTypeInformation`

const usersScript = `$ErrorActionPreference = 'Stop'
Get-WmiObject -Namespace 'root\cimv2' -Class MSFT_SIPESUserSetting | Select-Object PrimaryURI,HomeServerDN,Enabled | ConvertTo-Csv -NoTypeInformation`

const usersOfServerScript = `$ErrorActionPreference = 'Stop'
$dn = 'CN=LC Services,CN=Microsoft,CN=ocs2,CN=Pools,CN=RTC Service,CN=Services,CN=Configuration,DC=corp,DC=example,DC=com'
Get-WmiObject -Namespace 'root\cimv2' -Class MSFT_SIPESUserSetting -Filter ('HomeServerDN=' + "'" + $dn + "'") | Select-Object PrimaryURI,HomeServerDN,Enabled | ConvertTo-Csv -NoTypeInformation`

const moveTemplate = `$ErrorActionPreference = 'Stop'
$target = '<TARGET>'
$force = <FORCE>                       # $true for a forced move
foreach ($line in ` + inFile + `.Split("` + "`" + `n")) {
  $sip = $line.Trim()
  if ($sip -eq '') { continue }
  try {
    $u = Get-WmiObject -Namespace 'root\cimv2' -Class MSFT_SIPESUserSetting -Filter ("PrimaryURI='" + $sip + "'")
    if ($u -eq $null) { throw 'The user was not found in the directory.' }
    if ($force) { $u.TargetServerDNIfMoving = $target }
    $u.HomeServerDN = $target
    [void]$u.Put()
    Write-Output ('"' + $sip + '","OK",""')
  } catch {
    Write-Output ('"' + $sip + '","Failed","' + ($_.Exception.Message -replace '"','""') + '"')
  }
}
`

const csMoveTemplate = `$ErrorActionPreference = 'Stop'
Import-Module SkypeForBusiness
$target = '<TARGET>'
$force = <FORCE>
foreach ($line in ` + inFile + `.Split("` + "`" + `n")) {
  $sip = $line.Trim()
  if ($sip -eq '') { continue }
  try {
    if ($force) { Move-CsUser -Identity $sip -Target $target -Force -Confirm:$false }
    else { Move-CsUser -Identity $sip -Target $target -Confirm:$false }
    Write-Output ('"' + $sip + '","OK",""')
  } catch {
    Write-Output ('"' + $sip + '","Failed","' + ($_.Exception.Message -replace '"','""') + '"')
  }
}
`

func moveScript(template, target string, force bool) string {
	f := "$false"
	if force {
		f = "$true"
	}
	return strings.NewReplacer("<TARGET>", target, "<FORCE>", f).Replace(template)
}

func readAndDelete(name string) string {
	return `$ErrorActionPreference = 'Stop'
$p = Join-Path $env:TEMP '` + name + `'
[Convert]::ToBase64String([IO.File]::ReadAllBytes($p))
Remove-Item -LiteralPath $p
`
}

func writeFromStdin(name string) string {
	return `$ErrorActionPreference = 'Stop'
$p = Join-Path $env:TEMP '` + name + `'
[IO.File]::WriteAllBytes($p, [Convert]::FromBase64String(` + inFile + `))
`
}

const dn1 = "CN=LC Services,CN=Microsoft,CN=ocs1,CN=Pools,CN=RTC Service,CN=Services,CN=Configuration,DC=corp,DC=example,DC=com"
const dn2 = "CN=LC Services,CN=Microsoft,CN=ocs2,CN=Pools,CN=RTC Service,CN=Services,CN=Configuration,DC=corp,DC=example,DC=com"
