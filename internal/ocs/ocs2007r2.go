package ocs

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/ocsha/ocs-ha-operator/internal/contacts"
)

// ocsDialect speaks to OCS 2007 R2: WMI through PowerShell, dbimpexp, lcscmd and sc.
type ocsDialect struct {
	*runner
	tools Tools

	mu      sync.Mutex
	poolDNs map[string]string // lower-case pool FQDN -> PoolDN; nil until loaded
}

func (d *ocsDialect) serviceHealth(ctx context.Context, s Server, services []string) ([]ServiceStatus, error) {
	const op = OpServiceHealth
	line, err := scQueryCommand(services)
	if err != nil {
		return nil, fmt.Errorf("%s on %s: %w", op, s.Name, err)
	}
	// The exit code is the last sc's (1060 for a missing service); the text says it all.
	res, err := d.run(ctx, op, s.Name, line, nil)
	if err != nil {
		return nil, err
	}
	st, err := parseSCQuery(res.Stdout, services)
	if err != nil {
		if res.ExitCode != 0 && res.ExitCode != 1060 {
			return nil, commandError(op, s.Name, res)
		}
		return nil, fmt.Errorf("%s on %s: %w", op, s.Name, err)
	}
	return st, nil
}

// pools returns the pool DN table, loading it through via on first use or when refresh is set.
func (d *ocsDialect) pools(ctx context.Context, op, via string, refresh bool) (map[string]string, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.poolDNs != nil && !refresh {
		return d.poolDNs, nil
	}
	out, err := csvOf(op, via)(d.runPS(ctx, op, via, ocsPoolScript(), nil))
	if err != nil {
		return nil, err
	}
	rows, err := parseCSVTable(out, "PoolFQDN", "PoolDN")
	if err != nil {
		return nil, fmt.Errorf("%s on %s: pool table: %w", op, via, err)
	}
	m := map[string]string{}
	for _, r := range rows {
		if r["poolfqdn"] != "" && r["pooldn"] != "" {
			m[strings.ToLower(r["poolfqdn"])] = r["pooldn"]
		}
	}
	d.poolDNs = m
	return m, nil
}

// poolDN returns the PoolDN of server s, reloading the table once if it is missing.
func (d *ocsDialect) poolDN(ctx context.Context, op, via string, s Server) (string, error) {
	for _, refresh := range []bool{false, true} {
		m, err := d.pools(ctx, op, via, refresh)
		if err != nil {
			return "", err
		}
		if dn, ok := m[strings.ToLower(s.FQDN)]; ok {
			return dn, nil
		}
	}
	return "", fmt.Errorf("%s on %s: %w: no pool DN for %s", op, via, ErrPoolNotFound, s.FQDN)
}

func (d *ocsDialect) listUsers(ctx context.Context, op string, via Server, home *Server) ([]HomedUser, error) {
	m, err := d.pools(ctx, op, via.Name, false)
	if err != nil {
		return nil, err
	}
	filterDN := ""
	if home != nil {
		dn, err := d.poolDN(ctx, op, via.Name, *home)
		if err != nil {
			return nil, err
		}
		if wqlSafe(dn) {
			filterDN = dn
		}
	}
	script, err := ocsUsersScript(filterDN)
	if err != nil {
		return nil, fmt.Errorf("%s on %s: %w", op, via.Name, err)
	}
	out, err := csvOf(op, via.Name)(d.runPS(ctx, op, via.Name, script, nil))
	if err != nil {
		return nil, err
	}
	rows, err := parseCSVTable(out, "PrimaryURI", "HomeServerDN")
	if err != nil {
		return nil, fmt.Errorf("%s on %s: %w", op, via.Name, err)
	}
	byDN := map[string]string{}
	// m is never modified once published (a reload replaces it), so it is read unlocked.
	for fqdn, dn := range m {
		byDN[strings.ToLower(dn)] = d.serverByFQDN(fqdn)
	}
	users := make([]HomedUser, 0, len(rows))
	for _, r := range rows {
		users = append(users, HomedUser{SIP: r["primaryuri"], Server: byDN[strings.ToLower(r["homeserverdn"])], Enabled: parseBool(r["enabled"])})
	}
	return users, nil
}

func (d *ocsDialect) moveUsers(ctx context.Context, via Server, sips []string, target Server, force bool) ([]resultRow, error) {
	const op = OpMoveUsers
	dn, err := d.poolDN(ctx, op, via.Name, target)
	if err != nil {
		return nil, err
	}
	render := func(up string) (string, error) { return ocsMoveScript(dn, force, up) }
	out, err := csvOf(op, via.Name)(d.runPSWithData(ctx, op, via.Name, []byte(strings.Join(sips, "\n")+"\n"), render))
	if err != nil {
		return nil, err
	}
	rows, err := parseResultRows(out)
	if err != nil {
		return nil, fmt.Errorf("%s on %s: %w", op, via.Name, err)
	}
	return rows, nil
}

func (d *ocsDialect) homes(ctx context.Context, via Server, sips []string) (map[string]string, error) {
	const op = OpMoveUsers
	m, err := d.pools(ctx, op, via.Name, false)
	if err != nil {
		return nil, err
	}
	render := func(up string) (string, error) {
		read, err := psReadUpload(up)
		return psHeader + read + homesLoop(
			"  $u = Get-WmiObject -Namespace 'root\\cimv2' -Class MSFT_SIPESUserSetting -Filter (\"PrimaryURI='\" + "+psWQLSIP+" + \"'\")\n"+
				"  if ($u -ne $null) { $h = [string]$u.HomeServerDN }\n"), err
	}
	out, err := csvOf(op, via.Name)(d.runPSWithData(ctx, op, via.Name, []byte(strings.Join(sips, "\n")+"\n"), render))
	if err != nil {
		return nil, err
	}
	byDN := map[string]string{}
	for fqdn, dn := range m {
		byDN[strings.ToLower(dn)] = d.serverByFQDN(fqdn)
	}
	return homesOf(out, func(home string) string { return byDN[strings.ToLower(home)] })
}

func (d *ocsDialect) exportContacts(ctx context.Context, s Server) (*contacts.Document, error) {
	const op = OpExportContacts
	script, err := ocsExportScript(d.tools.DBImpExpPath, tempName(".xml"))
	if err != nil {
		return nil, fmt.Errorf("%s on %s: %w", op, s.Name, err)
	}
	files, err := framesOf(op, s.Name, 1)(d.runPS(ctx, op, s.Name, script, nil))
	if err != nil {
		return nil, err
	}
	doc, err := contacts.ParseHomedResources(files[0])
	if err != nil {
		return nil, fmt.Errorf("%s on %s: %w: %w", op, s.Name, ErrBadOutput, err)
	}
	return doc, nil
}

func (d *ocsDialect) importContacts(ctx context.Context, s Server, doc *contacts.Document) ([]ImportResult, error) {
	const op = OpImportContacts
	data, err := contacts.MarshalHomedResources(doc)
	if err != nil {
		return nil, fmt.Errorf("%s on %s: %w", op, s.Name, err)
	}
	text, err := utf16Text(data)
	if err != nil {
		return nil, fmt.Errorf("%s on %s: %w", op, s.Name, err)
	}
	payload, err := gzipPayload(importPayload(doc, []byte(text)))
	if err != nil {
		return nil, fmt.Errorf("%s on %s: %w", op, s.Name, err)
	}
	name := tempName(".xml")
	render := func(up string) (string, error) { return ocsImportScript(d.tools.DBImpExpPath, name, up) }
	frames, err := framesOf(op, s.Name, len(doc.Resources))(d.runPSWithData(ctx, op, s.Name, payload, render))
	if err != nil {
		return nil, err
	}
	got, why, err := readBackOf(frames, contacts.ParseHomedResources)
	if err != nil {
		return nil, fmt.Errorf("%s on %s: %w", op, s.Name, err)
	}
	return judgeImport(doc, got, why), nil
}

func (d *ocsDialect) exportConfiguration(ctx context.Context, s Server) ([]ConfigFile, error) {
	const op = OpExportConfiguration
	dn, err := d.poolDN(ctx, op, s.Name, s)
	if err != nil {
		return nil, err
	}
	pool, ok := poolNameOf(dn)
	if !ok {
		return nil, fmt.Errorf("%s on %s: %w: pool DN %q names no pool", op, s.Name, ErrBadOutput, dn)
	}
	names := []string{tempName("-global.xml"), tempName("-pool.xml"), tempName("-machine.xml")}
	script, err := ocsConfigScript(d.tools.LcscmdPath, pool, names)
	if err != nil {
		return nil, fmt.Errorf("%s on %s: %w", op, s.Name, err)
	}
	files, err := framesOf(op, s.Name, 3)(d.runPS(ctx, op, s.Name, script, nil))
	if err != nil {
		return nil, err
	}
	return []ConfigFile{
		{Name: "global.xml", Data: files[0]},
		{Name: "pool.xml", Data: files[1]},
		{Name: "machine-" + strings.ToLower(s.FQDN) + ".xml", Data: files[2]},
	}, nil
}

// poolNameOf returns the name of a pool from its DN: the CN just before CN=Pools
// (CN=LC Services,CN=Microsoft,CN=<pool>,CN=Pools,…), which lcscmd's /poolname takes.
func poolNameOf(dn string) (string, bool) {
	var rdns []string
	var cur strings.Builder
	for i := 0; i < len(dn); i++ {
		switch c := dn[i]; {
		case c == '\\' && i+1 < len(dn):
			i++
			cur.WriteByte(dn[i])
		case c == ',':
			rdns = append(rdns, strings.TrimSpace(cur.String()))
			cur.Reset()
		default:
			cur.WriteByte(c)
		}
	}
	rdns = append(rdns, strings.TrimSpace(cur.String()))
	for i := 1; i < len(rdns); i++ {
		if strings.EqualFold(rdns[i], "CN=Pools") && len(rdns[i-1]) > 3 && strings.EqualFold(rdns[i-1][:3], "CN=") {
			return rdns[i-1][3:], true
		}
	}
	return "", false
}

// preflight checks the tools, the WMI classes and that users can be read.
func (d *ocsDialect) preflight(ctx context.Context, s Server) ([]PreflightCheck, error) {
	lcs, err := psToolCheck(CheckLcscmdPath, "LCSCmd.exe", "lcscmdPath", d.tools.LcscmdPath)
	if err != nil {
		return nil, fmt.Errorf("%s on %s: %w", OpPreflight, s.Name, err)
	}
	dbi, err := psToolCheck(CheckDBImpExpPath, "DBImpExp.exe", "dbimpexpPath", d.tools.DBImpExpPath)
	if err != nil {
		return nil, fmt.Errorf("%s on %s: %w", OpPreflight, s.Name, err)
	}
	script := psHeader + lcs + dbi +
		"$wmi = $true\n" +
		psCheck(CheckWMIClasses, "  $x = Get-WmiObject -Namespace 'root\\cimv2' -Class MSFT_SIPPoolSetting\n  if ($x -eq $null) { throw 'MSFT_SIPPoolSetting has no instance: is OCS 2007 R2 installed?' }\n",
			"The OCS 2007 R2 WMI classes answer.") +
		"if ($row.Contains('\"Failed\"')) { $wmi = $false }\n" +
		"if ($wmi) {\n" +
		psCheck(CheckReadUsers, "  $x = Get-WmiObject -Namespace 'root\\cimv2' -Class MSFT_SIPESUserSetting | Select-Object -First 1 PrimaryURI\n",
			"Users can be read.") +
		"} else {\n$row = '\"" + CheckReadUsers + "\",\"Skipped\",\"Not checked: the WMI classes are missing.\"'\n" + psFrameCSV("row") + "}\n"
	return d.preflightRows(ctx, s, script)
}

// --- scripts ----------------------------------------------------------------------------------

func ocsPoolScript() string {
	return psHeader + "$rows = Get-WmiObject -Namespace 'root\\cimv2' -Class MSFT_SIPPoolSetting | Select-Object PoolFQDN,PoolDN | ConvertTo-Csv -NoTypeInformation\n" +
		psFrameCSV("rows")
}

// ocsUsersScript lists users, as one gzip frame of CSV; with homeDN set, only those homed there.
func ocsUsersScript(homeDN string) (string, error) {
	if homeDN == "" {
		return psHeader + "$rows = Get-WmiObject -Namespace 'root\\cimv2' -Class MSFT_SIPESUserSetting | Select-Object PrimaryURI,HomeServerDN,Enabled | ConvertTo-Csv -NoTypeInformation\n" +
			psFrameCSVGzip("rows"), nil
	}
	q, err := QuotePS(homeDN)
	if err != nil {
		return "", err
	}
	return psHeader + "$dn = " + q + "\n" +
		"$rows = Get-WmiObject -Namespace 'root\\cimv2' -Class MSFT_SIPESUserSetting -Filter ('HomeServerDN=' + \"'\" + $dn + \"'\") | Select-Object PrimaryURI,HomeServerDN,Enabled | ConvertTo-Csv -NoTypeInformation\n" +
		psFrameCSVGzip("rows"), nil
}

// psWQLSIP is the uploaded address $sip as the inside of a WQL single-quoted string: WQL
// escapes a quote or a backslash with a backslash (see inferred.go). It runs on the server, on
// data, so the address never becomes part of the script.
const psWQLSIP = `($sip -replace '\\', '\\' -replace '''', '\''')`

// wqlSafe reports whether s can sit inside a WQL single-quoted string unescaped.
func wqlSafe(s string) bool { return !strings.ContainsAny(s, `'\`) }

func ocsMoveScript(targetDN string, force bool, upload string) (string, error) {
	q, err := QuotePS(targetDN)
	if err != nil {
		return "", err
	}
	read, err := psReadUpload(upload)
	if err != nil {
		return "", err
	}
	return psHeader + read +
		"$target = " + q + "\n" +
		"$force = " + psBool(force) + "\n" +
		moveLoop(
			"    $u = Get-WmiObject -Namespace 'root\\cimv2' -Class MSFT_SIPESUserSetting -Filter (\"PrimaryURI='\" + "+psWQLSIP+" + \"'\")\n"+
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

// ocsExportScript exports the server's homed resources with dbimpexp and prints the file as a
// gzip frame (UTF-16 XML shrinks many times). The export is judged by the file it wrote, not by
// dbimpexp's words.
func ocsExportScript(dbimpexp, name string) (string, error) {
	tool, err := psTool("exe", "DBImpExp.exe", "dbimpexpPath", dbimpexp)
	if err != nil {
		return "", err
	}
	n, err := QuotePS(name)
	if err != nil {
		return "", err
	}
	return psHeader + tool +
		"$p = Join-Path $env:TEMP " + n + "\n" +
		psRunTool("exe", `"/hrxmlfile:$p"`, "/restype:user") +
		"if (-not [IO.File]::Exists($p)) { throw ('DBImpExp.exe wrote no file (exit code ' + $code + '): ' + ($out -join ' ')) }\n" +
		psFrameGzip("[IO.File]::ReadAllBytes($p)") +
		"Remove-Item -LiteralPath $p\n", nil
}

// ocsImportScript imports the homed-resources document of the payload with dbimpexp (written
// back as UTF-16 with its BOM, as dbimpexp exports it; the payload carries it as UTF-8, gzipped,
// to cut the transfer) and reads each user back with its own export (readback.go). A non-zero exit
// code of the import fails the whole import, with dbimpexp's output as the message. The read-back
// files travel as gzip frames.
func ocsImportScript(dbimpexp, name, upload string) (string, error) {
	tool, err := psTool("exe", "DBImpExp.exe", "dbimpexpPath", dbimpexp)
	if err != nil {
		return "", err
	}
	n, err := QuotePS(name)
	if err != nil {
		return "", err
	}
	read, err := psReadGzipUploadText(upload)
	if err != nil {
		return "", err
	}
	return psHeader + tool + read + psSplitImportPayload +
		"$p = Join-Path $env:TEMP " + n + "\n" +
		"[IO.File]::WriteAllText($p, $file, [Text.Encoding]::Unicode)\n" +
		psRunTool("exe", "/import", `"/hrxmlfile:$p"`, "/restype:user") +
		"Remove-Item -LiteralPath $p\n" +
		"if ($code -ne 0) {\n" +
		"$row = '\"\",\"Failed\",\"DBImpExp.exe /import exited with ' + $code + ': ' + (($out -join ' ') -replace '\"','\"\"') + '\"'\n" +
		psFrameCSV("row") +
		"exit $code\n}\n" +
		"foreach ($u in $users) {\n" +
		"$ErrorActionPreference = 'Continue'\n" +
		"$o = & $exe \"/hrxmlfile:$p\" /restype:user \"/user:$u\"\n" +
		"$c = $LASTEXITCODE\n" +
		"$ErrorActionPreference = 'Stop'\n" +
		"if ([IO.File]::Exists($p)) {\n" +
		psFrameGzip("[IO.File]::ReadAllBytes($p)") +
		"Remove-Item -LiteralPath $p\n" +
		"} else {\n" + psNoFile() + "}\n}\n", nil
}

// ocsConfigScript exports the global, pool and machine levels with lcscmd, one level per call
// and each with /poolname, as the only public R2 backup script does (Get-OCSBackup.ps1), and
// prints the three files as frames in that order. names are the temporary files, one a level.
func ocsConfigScript(lcscmd, pool string, names []string) (string, error) {
	tool, err := psTool("exe", "LCSCmd.exe", "lcscmdPath", lcscmd)
	if err != nil {
		return "", err
	}
	q, err := QuotePS(pool)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	b.WriteString(psHeader + tool + "$pool = " + q + "\n")
	for i, level := range []string{"global", "pool", "machine"} {
		n, err := QuotePS(names[i])
		if err != nil {
			return "", err
		}
		b.WriteString("$p = Join-Path $env:TEMP " + n + "\n")
		b.WriteString(psRunTool("exe", "/config", "/action:export", "/level:"+level, `"/poolname:$pool"`, `"/configfile:$p"`))
		b.WriteString("if (-not [IO.File]::Exists($p)) { throw ('LCSCmd.exe /level:" + level + " wrote no file (exit code ' + $code + '): ' + ($out -join ' ')) }\n")
	}
	read, err := readDeleteScript("", names...)
	if err != nil {
		return "", err
	}
	b.WriteString(read)
	return b.String(), nil
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
