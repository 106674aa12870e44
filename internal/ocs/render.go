package ocs

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"
	"unicode/utf16"
)

// The scripts below are the shapes of docs/admin-scripts.md. Every value that comes from users
// or the directory enters a script either on stdin or through QuotePS; cmd.exe arguments are
// only validated FQDNs, service names and temporary file names the agent generated.

const (
	// psPrefix runs an encoded script. -NonInteractive keeps a script from waiting for a prompt.
	psPrefix = "powershell.exe -NoProfile -NonInteractive -EncodedCommand "
	// maxScriptChars keeps a script within the -EncodedCommand budget: cmd.exe accepts 8,191
	// characters, and the base64 of UTF-16LE takes 8/3 characters per script character.
	maxScriptChars = 3000
	// maxCommandLine is cmd.exe's limit on a composed command line.
	maxCommandLine = 8191
)

// psHeader starts every script: stop on the first error (so failures reach catch or the exit
// code) and suppress progress records, which would otherwise arrive as CLIXML on stderr.
const psHeader = "$ErrorActionPreference = 'Stop'\n$ProgressPreference = 'SilentlyContinue'\n"

// sfbHeader adds the management module for Skype for Business scripts.
const sfbHeader = psHeader + "Import-Module " + sfbModule + "\n"

// encodePS returns the powershell.exe command line running script.
func encodePS(script string) (string, error) {
	if n := len([]rune(script)); n > maxScriptChars {
		return "", fmt.Errorf("%w: script of %d characters exceeds the %d-character budget", ErrInvalidArgument, n, maxScriptChars)
	}
	u := utf16.Encode([]rune(script))
	b := make([]byte, 2*len(u))
	for i, c := range u {
		b[2*i], b[2*i+1] = byte(c), byte(c>>8)
	}
	return psPrefix + base64.StdEncoding.EncodeToString(b), nil
}

// joinCmd joins cmd.exe commands with op ("&&" or "&") and checks the line length.
func joinCmd(op string, parts ...string) (string, error) {
	line := strings.Join(parts, " "+op+" ")
	if len(line) > maxCommandLine {
		return "", fmt.Errorf("%w: command line of %d characters exceeds %d", ErrInvalidArgument, len(line), maxCommandLine)
	}
	return line, nil
}

// tempName returns a fresh temporary file name "ocsha-<16 hex><suffix>".
func tempName(suffix string) string {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		// crypto/rand does not fail on supported platforms.
		panic(err)
	}
	return tempPrefix + hex.EncodeToString(b[:]) + suffix
}

// cmdTempPath is a temporary file's path for cmd.exe, quoted because %TEMP% may hold spaces (a
// profile named after a user with a space); the name itself is agent-generated.
func cmdTempPath(name string) string { return `"%TEMP%\` + name + `"` }

// readDeleteScript prints each temporary file as one base64 line and deletes it.
func readDeleteScript(header string, names ...string) (string, error) {
	var b strings.Builder
	b.WriteString(header)
	for _, n := range names {
		q, err := QuotePS(n)
		if err != nil {
			return "", err
		}
		b.WriteString("$p = Join-Path $env:TEMP " + q + "\n")
		b.WriteString("[Convert]::ToBase64String([IO.File]::ReadAllBytes($p))\n")
		b.WriteString("Remove-Item -LiteralPath $p\n")
	}
	return b.String(), nil
}

// writeScript writes the base64 read from stdin to a temporary file.
func writeScript(name string) (string, error) {
	q, err := QuotePS(name)
	if err != nil {
		return "", err
	}
	return psHeader +
		"$p = Join-Path $env:TEMP " + q + "\n" +
		"[IO.File]::WriteAllBytes($p, [Convert]::FromBase64String([Console]::In.ReadToEnd()))\n", nil
}

// moveLoop is the per-user loop shared by both dialects: one SIP address per stdin line, one CSV
// result row per user, a failure of one user never stopping the batch.
func moveLoop(body string) string {
	return "foreach ($line in [Console]::In.ReadToEnd().Split(\"`n\")) {\n" +
		"  $sip = $line.Trim()\n" +
		"  if ($sip -eq '') { continue }\n" +
		"  try {\n" +
		body +
		"    Write-Output ('\"' + $sip + '\",\"OK\",\"\"')\n" +
		"  } catch {\n" +
		"    Write-Output ('\"' + $sip + '\",\"Failed\",\"' + ($_.Exception.Message -replace '\"','\"\"') + '\"')\n" +
		"  }\n" +
		"}\n"
}

// --- OCS 2007 R2 -------------------------------------------------------------------------------

func ocsPoolScript() string {
	return psHeader + "Get-WmiObject -Namespace 'root\\cimv2' -Class MSFT_SIPPoolSetting | Select-Object PoolFQDN,PoolDN | ConvertTo-Csv -NoTypeInformation\n"
}

// ocsUsersScript lists users; with homeDN set, only those homed there.
func ocsUsersScript(homeDN string) (string, error) {
	if homeDN == "" {
		return psHeader + "Get-WmiObject -Namespace 'root\\cimv2' -Class MSFT_SIPESUserSetting | Select-Object PrimaryURI,HomeServerDN,Enabled | ConvertTo-Csv -NoTypeInformation\n", nil
	}
	q, err := QuotePS(homeDN)
	if err != nil {
		return "", err
	}
	return psHeader + "$dn = " + q + "\n" +
		"Get-WmiObject -Namespace 'root\\cimv2' -Class MSFT_SIPESUserSetting -Filter ('HomeServerDN=' + \"'\" + $dn + \"'\") | Select-Object PrimaryURI,HomeServerDN,Enabled | ConvertTo-Csv -NoTypeInformation\n", nil
}

// wqlSafe reports whether s can sit inside a WQL single-quoted string unescaped.
func wqlSafe(s string) bool { return !strings.ContainsAny(s, `'\`) }

func ocsMoveScript(targetDN string, force bool) (string, error) {
	q, err := QuotePS(targetDN)
	if err != nil {
		return "", err
	}
	return psHeader +
		"$target = " + q + "\n" +
		"$force = " + psBool(force) + "\n" +
		moveLoop(
			"    $u = Get-WmiObject -Namespace 'root\\cimv2' -Class MSFT_SIPESUserSetting -Filter (\"PrimaryURI='\" + $sip + \"'\")\n"+
				"    if ($u -eq $null) { throw 'The user was not found in the directory.' }\n"+
				"    if ($force) { $u.TargetServerDNIfMoving = $target }\n"+
				"    $u.HomeServerDN = $target\n"+
				"    [void]$u.Put()\n"), nil
}

func psBool(b bool) string {
	if b {
		return "$true"
	}
	return "$false"
}

// ocsExportCommand exports the server's homed resources and prints them as base64.
func ocsExportCommand() (string, error) {
	name := tempName(".xml")
	read, err := readDeleteScript(psHeader, name)
	if err != nil {
		return "", err
	}
	ps, err := encodePS(read)
	if err != nil {
		return "", err
	}
	return joinCmd("&&", dbimpexpExe+" /hrxmlfile:"+cmdTempPath(name)+" /restype:user", ps)
}

// ocsImportCommand writes the XML from stdin (base64), imports it and deletes the file whatever
// happened; the result is read from dbimpexp's output, not from the exit code.
func ocsImportCommand() (string, error) {
	name := tempName(".xml")
	write, err := writeScript(name)
	if err != nil {
		return "", err
	}
	ps, err := encodePS(write)
	if err != nil {
		return "", err
	}
	imp, err := joinCmd("&&", ps, dbimpexpExe+" /import /hrxmlfile:"+cmdTempPath(name)+" /restype:user")
	if err != nil {
		return "", err
	}
	return joinCmd("&", imp, "del "+cmdTempPath(name))
}

// ocsConfigCommand exports global and pool settings, then machine settings, and prints both
// files as base64 lines (pool first).
func ocsConfigCommand(fqdn string) (string, error) {
	if err := ValidateFQDN(fqdn); err != nil {
		return "", err
	}
	pool, machine := tempName("-pool.xml"), tempName("-machine.xml")
	read, err := readDeleteScript(psHeader, pool, machine)
	if err != nil {
		return "", err
	}
	ps, err := encodePS(read)
	if err != nil {
		return "", err
	}
	return joinCmd("&&",
		lcscmdExe+" /config /action:export /level:global,pool /configfile:"+cmdTempPath(pool),
		lcscmdExe+" /config /action:export /level:machine /fqdn:"+fqdn+" /configfile:"+cmdTempPath(machine),
		ps)
}

// scQueryCommand queries each service; the outputs follow one another in order.
func scQueryCommand(services []string) (string, error) {
	parts := make([]string, 0, len(services))
	for _, s := range services {
		if err := validateServiceName(s); err != nil {
			return "", err
		}
		parts = append(parts, "sc query "+s)
	}
	return joinCmd("&", parts...)
}

// --- Skype for Business ------------------------------------------------------------------------

func sfbServicesScript(services []string) (string, error) {
	var b strings.Builder
	b.WriteString(sfbHeader)
	for _, s := range services {
		if err := validateServiceName(s); err != nil {
			return "", err
		}
		q, err := QuotePS(s)
		if err != nil {
			return "", err
		}
		b.WriteString("$n = " + q + "\n")
		b.WriteString("try { Get-CsWindowsService -Name $n | Select-Object Name,Status | ConvertTo-Csv -NoTypeInformation } catch { Write-Output ('\"' + $n + '\",\"NotFound\"') }\n")
	}
	return b.String(), nil
}

// sfbUsersScript lists users; with fqdn set, only those whose registrar pool it is.
func sfbUsersScript(fqdn string) (string, error) {
	if fqdn == "" {
		return sfbHeader + "Get-CsUser | Select-Object SipAddress,RegistrarPool | ConvertTo-Csv -NoTypeInformation\n", nil
	}
	// The filter is a script block, so the FQDN is pasted only after strict validation.
	if err := ValidateFQDN(fqdn); err != nil {
		return "", err
	}
	return sfbHeader + "Get-CsUser -Filter {RegistrarPool -eq \"" + fqdn + "\"} | Select-Object SipAddress,RegistrarPool | ConvertTo-Csv -NoTypeInformation\n", nil
}

func sfbMoveScript(targetFQDN string, force bool) (string, error) {
	if err := ValidateFQDN(targetFQDN); err != nil {
		return "", err
	}
	q, err := QuotePS(targetFQDN)
	if err != nil {
		return "", err
	}
	move := "    Move-CsUser -Identity $sip -Target $target -Confirm:$false\n"
	if force {
		move = "    Move-CsUser -Identity $sip -Target $target -Force -Confirm:$false\n"
	}
	return sfbHeader + "$target = " + q + "\n" + moveLoop(move), nil
}

func sfbExportScript(poolFQDN, name string) (string, error) {
	q, err := QuotePS(poolFQDN)
	if err != nil {
		return "", err
	}
	n, err := QuotePS(name)
	if err != nil {
		return "", err
	}
	return sfbHeader +
		"$p = Join-Path $env:TEMP " + n + "\n" +
		"Export-CsUserData -PoolFqdn " + q + " -FileName $p\n" +
		"[Convert]::ToBase64String([IO.File]::ReadAllBytes($p))\n" +
		"Remove-Item -LiteralPath $p\n", nil
}

func sfbImportScript(name string) (string, error) {
	n, err := QuotePS(name)
	if err != nil {
		return "", err
	}
	return sfbHeader +
		"$p = Join-Path $env:TEMP " + n + "\n" +
		"[IO.File]::WriteAllBytes($p, [Convert]::FromBase64String([Console]::In.ReadToEnd()))\n" +
		"$failed = ''\n" +
		"try { Update-CsUserData -FileName $p } catch { $failed = $_.Exception.Message }\n" +
		"Remove-Item -LiteralPath $p\n" +
		// The subset has no finally: the file is deleted first, then the failure reported.
		"if ($failed -ne '') { Write-Output ('\"\",\"Failed\",\"' + ($failed -replace '\"','\"\"') + '\"'); exit 1 }\n", nil
}

func sfbConfigScript(name string) (string, error) {
	n, err := QuotePS(name)
	if err != nil {
		return "", err
	}
	return sfbHeader +
		"$p = Join-Path $env:TEMP " + n + "\n" +
		"Export-CsConfiguration -FileName $p\n" +
		"[Convert]::ToBase64String([IO.File]::ReadAllBytes($p))\n" +
		"Remove-Item -LiteralPath $p\n", nil
}
