package ps

// The script shapes of docs/admin-scripts.md, shared by the tests of this package.
const moveScript = `$ErrorActionPreference = 'Stop'
$target = 'CN=LC Services,CN=Microsoft,CN=ocs2,CN=Pools,CN=RTC Service,CN=Services,CN=Configuration,DC=corp,DC=example,DC=com'
$force = $false                       # $true for a forced move
foreach ($line in [Console]::In.ReadToEnd().Split("` + "`" + `n")) {
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

const exportScript = `$ErrorActionPreference = 'Stop'
$p = Join-Path $env:TEMP 'ocsha-0123456789abcdef.xml'
[Convert]::ToBase64String([IO.File]::ReadAllBytes($p))
Remove-Item -LiteralPath $p
`
