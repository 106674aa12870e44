package ocs

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/ocsha/ocs-ha-operator/internal/contacts"
)

// sfbDialect speaks to Skype for Business Server through its PowerShell module.
type sfbDialect struct {
	*runner

	// warm, when set, runs the scripts in persistent PowerShell processes (warm.go).
	warm *warmPS

	mu sync.Mutex
	// template is a ZIP that Export-CsUserData wrote; restores re-use its parts (userdata below).
	template []byte
}

// serviceHealth asks Get-CsWindowsService about the product's own services and sc query about
// the others (IIS, SQL Server), which that cmdlet does not report; both in one command line,
// sc first.
func (d *sfbDialect) serviceHealth(ctx context.Context, s Server, services []string) ([]ServiceStatus, error) {
	const op = OpServiceHealth
	var cs, other []string
	for _, name := range services {
		if isSfBService(name) {
			cs = append(cs, name)
		} else {
			other = append(other, name)
		}
	}
	var parts []string
	if len(other) > 0 {
		sc, err := scQueryCommand(other)
		if err != nil {
			return nil, fmt.Errorf("%s on %s: %w", op, s.Name, err)
		}
		parts = append(parts, sc)
	}
	var script string
	if len(cs) > 0 {
		var err error
		if script, err = sfbServicesScript(cs); err != nil {
			return nil, fmt.Errorf("%s on %s: %w", op, s.Name, err)
		}
		if d.warm != nil {
			return d.warmHealth(ctx, s, services, cs, other, parts, script)
		}
		line, err := encodePS(script)
		if err != nil {
			return nil, fmt.Errorf("%s on %s: %w", op, s.Name, err)
		}
		parts = append(parts, line)
	}
	line, err := joinCmd("&", parts...)
	if err != nil {
		return nil, fmt.Errorf("%s on %s: %w", op, s.Name, err)
	}
	// stdin is closed when PowerShell runs: it may wait for its end.
	var stdin []byte
	if len(cs) > 0 {
		stdin = []byte{}
	}
	res, err := d.run(ctx, op, s.Name, line, stdin)
	if err != nil {
		return nil, err
	}
	return d.parseHealth(res, s.Name, services, cs, other)
}

// warmHealth is serviceHealth with Get-CsWindowsService asked in a warm PowerShell (warm.go),
// so that a probe does not start powershell.exe and load the module every probeInterval; sc
// query, when other services are asked too, runs as a command of its own before it. Both are
// read-only: a probe whose answer is lost is simply a failed probe.
func (d *sfbDialect) warmHealth(ctx context.Context, s Server, services, cs, other, scLine []string, script string) ([]ServiceStatus, error) {
	const op = OpServiceHealth
	var scOut []byte
	if len(scLine) > 0 {
		res, err := d.run(ctx, op, s.Name, scLine[0], nil)
		if err != nil {
			return nil, err
		}
		scOut = res.Stdout
	}
	res, err := d.warm.run(ctx, op, s.Name, script)
	if errors.Is(err, errNotWarm) {
		res, err = d.runner.runPS(ctx, op, s.Name, script, nil)
	}
	if err != nil {
		return nil, err
	}
	// The shape parseHealth reads: sc's sections first, then the frames and PowerShell's exit code.
	res.Stdout = append(scOut, res.Stdout...)
	return d.parseHealth(res, s.Name, services, cs, other)
}

// parseHealth reads the sc sections (before the first frame) and the Get-CsWindowsService rows,
// and answers in the order of services.
func (d *sfbDialect) parseHealth(res Result, server string, services, cs, other []string) ([]ServiceStatus, error) {
	const op = OpServiceHealth
	byName := map[string]ServiceStatus{}
	if len(cs) > 0 {
		// The PowerShell part runs last: its exit code is the line's.
		if res.ExitCode != 0 {
			return nil, commandError(op, server, res)
		}
		text, err := csvOf(op, server)(res, nil)
		if err != nil {
			return nil, err
		}
		st, err := parseSfBServices(text, cs)
		if err != nil {
			return nil, fmt.Errorf("%s on %s: %w", op, server, err)
		}
		for _, x := range st {
			byName[strings.ToLower(x.Name)] = x
		}
	}
	if len(other) > 0 {
		out, _, _ := strings.Cut(string(res.Stdout), frameBegin)
		st, err := parseSCQuery([]byte(out), other)
		if err != nil {
			return nil, fmt.Errorf("%s on %s: %w", op, server, err)
		}
		for _, x := range st {
			byName[strings.ToLower(x.Name)] = x
		}
	}
	out := make([]ServiceStatus, len(services))
	for i, name := range services {
		out[i] = byName[strings.ToLower(name)]
		out[i].Name = name
	}
	return out, nil
}

// parseSfBServices maps Get-CsWindowsService CSV rows (and the script's NotFound rows) to the
// requested services, in order.
func parseSfBServices(out []byte, services []string) ([]ServiceStatus, error) {
	records, err := readCSV(out)
	if err != nil {
		return nil, err
	}
	states := map[string]string{}
	for _, rec := range records {
		if len(rec) < 2 || (strings.EqualFold(rec[0], "Name") && strings.EqualFold(rec[1], "Status")) {
			continue
		}
		states[strings.ToLower(rec[0])] = sfbState(rec[1])
	}
	outSt := make([]ServiceStatus, len(services))
	for i, s := range services {
		state, ok := states[strings.ToLower(s)]
		if !ok {
			state = StateNotFound
		}
		outSt[i] = ServiceStatus{Name: s, State: state, Running: state == StateRunning}
	}
	return outSt, nil
}

func sfbState(status string) string {
	switch strings.ToLower(strings.TrimSpace(status)) {
	case "running":
		return StateRunning
	case "stopped":
		return StateStopped
	case "notfound":
		return StateNotFound
	case "startpending":
		return "START_PENDING"
	case "stoppending":
		return "STOP_PENDING"
	case "paused":
		return "PAUSED"
	}
	return strings.ToUpper(strings.TrimSpace(status))
}

func (d *sfbDialect) listUsers(ctx context.Context, op string, via Server, home *Server) ([]HomedUser, error) {
	fqdn := ""
	if home != nil {
		fqdn = home.FQDN
	}
	script, err := sfbUsersScript(fqdn)
	if err != nil {
		return nil, fmt.Errorf("%s on %s: %w", op, via.Name, err)
	}
	out, err := csvOf(op, via.Name)(d.runPS(ctx, op, via.Name, script, nil))
	if err != nil {
		return nil, err
	}
	rows, err := parseCSVTable(out, "SipAddress", "RegistrarPool")
	if err != nil {
		return nil, fmt.Errorf("%s on %s: %w", op, via.Name, err)
	}
	users := make([]HomedUser, 0, len(rows))
	for _, r := range rows {
		users = append(users, HomedUser{SIP: r["sipaddress"], Server: d.serverByFQDN(r["registrarpool"]), Enabled: parseBool(r["enabled"])})
	}
	return users, nil
}

func (d *sfbDialect) moveUsers(ctx context.Context, via Server, sips []string, target Server, force bool) ([]resultRow, error) {
	const op = OpMoveUsers
	render := func(up string) (string, error) { return sfbMoveScript(target.FQDN, force, up) }
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

func (d *sfbDialect) homes(ctx context.Context, via Server, sips []string) (map[string]string, error) {
	const op = OpMoveUsers
	render := func(up string) (string, error) {
		read, err := psReadUpload(up)
		return sfbHeader + read + homesLoop("  try { $h = [string](Get-CsUser -Identity $sip).RegistrarPool } catch { }\n"), err
	}
	out, err := csvOf(op, via.Name)(d.runPSWithData(ctx, op, via.Name, []byte(strings.Join(sips, "\n")+"\n"), render))
	if err != nil {
		return nil, err
	}
	return homesOf(out, d.serverByFQDN)
}

func (d *sfbDialect) exportContacts(ctx context.Context, s Server) (*contacts.Document, error) {
	const op = OpExportContacts
	script, err := sfbExportScript(s.FQDN, tempName(".zip"))
	if err != nil {
		return nil, fmt.Errorf("%s on %s: %w", op, s.Name, err)
	}
	files, err := framesOf(op, s.Name, 1)(d.runPS(ctx, op, s.Name, script, nil))
	if err != nil {
		return nil, err
	}
	doc, err := contacts.ReadUserDataZip(files[0])
	if err != nil {
		return nil, fmt.Errorf("%s on %s: %w: %w", op, s.Name, ErrBadOutput, err)
	}
	d.keepTemplate(files[0])
	return doc, nil
}

func (d *sfbDialect) keepTemplate(zip []byte) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.template = zip
}

// userDataPackage builds the ZIP a restore imports: the parts of a package Export-CsUserData
// wrote, with the restore's DocItemSet.xml (contacts.WriteUserDataZipFrom), as public restore
// scripts re-zip an export and as admins pre-populate contacts from a template user's export
// (teamsadmin.com, "docitemset-xml"). Without a package at hand it exports the first user to
// be restored to get one.
func (d *sfbDialect) userDataPackage(ctx context.Context, s Server, doc *contacts.Document) ([]byte, error) {
	const op = OpImportContacts
	d.mu.Lock()
	template := d.template
	d.mu.Unlock()
	if template == nil {
		script, err := sfbTemplateScript(s.FQDN, doc.Resources[0].UserAtHost, tempName(".zip"))
		if err != nil {
			return nil, fmt.Errorf("%s on %s: %w", op, s.Name, err)
		}
		files, err := framesOf(op, s.Name, 1)(d.runPS(ctx, op, s.Name, script, nil))
		if err != nil {
			return nil, err
		}
		template = files[0]
		d.keepTemplate(template)
	}
	data, err := contacts.WriteUserDataZipFrom(template, doc)
	if err != nil {
		return nil, fmt.Errorf("%s on %s: %w: %w", op, s.Name, ErrBadOutput, err)
	}
	return data, nil
}

func (d *sfbDialect) importContacts(ctx context.Context, s Server, doc *contacts.Document) ([]ImportResult, error) {
	const op = OpImportContacts
	data, err := d.userDataPackage(ctx, s, doc)
	if err != nil {
		return nil, err
	}
	name := tempName(".zip")
	render := func(up string) (string, error) { return sfbImportScript(s.FQDN, name, up) }
	payload := importPayload(doc, []byte(base64.StdEncoding.EncodeToString(data)))
	frames, err := framesOf(op, s.Name, len(doc.Resources))(d.runPSWithData(ctx, op, s.Name, payload, render))
	if err != nil {
		return nil, err
	}
	got, why, err := readBackOf(frames, contacts.ReadUserDataZip)
	if err != nil {
		return nil, fmt.Errorf("%s on %s: %w", op, s.Name, err)
	}
	return judgeImport(doc, got, why), nil
}

func (d *sfbDialect) exportConfiguration(ctx context.Context, s Server) ([]ConfigFile, error) {
	const op = OpExportConfiguration
	script, err := sfbConfigScript(tempName(".zip"))
	if err != nil {
		return nil, fmt.Errorf("%s on %s: %w", op, s.Name, err)
	}
	files, err := framesOf(op, s.Name, 1)(d.runPS(ctx, op, s.Name, script, nil))
	if err != nil {
		return nil, err
	}
	return []ConfigFile{{Name: "CsConfiguration.zip", Data: files[0]}}, nil
}

// preflight checks the SkypeForBusiness module and that users can be read. It imports the
// module itself: the usual header would stop the script where the module is missing.
func (d *sfbDialect) preflight(ctx context.Context, s Server) ([]PreflightCheck, error) {
	script := psHeader + "$module = $true\n" +
		psCheck(CheckSfBModule, "  Import-Module "+sfbModule+"\n", "The "+sfbModule+" module loads.") +
		"if ($row.Contains('\"Failed\"')) { $module = $false }\n" +
		"if ($module) {\n" +
		psCheck(CheckReadUsers, "  $x = Get-CsUser -ResultSize 1\n", "Users can be read.") +
		"} else {\n$row = '\"" + CheckReadUsers + "\",\"Skipped\",\"Not checked: the module is missing.\"'\n" + psFrameCSV("row") + "}\n"
	return d.preflightRows(ctx, s, script)
}

// --- scripts ----------------------------------------------------------------------------------

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
		b.WriteString("try { $rows = Get-CsWindowsService -Name $n | Select-Object Name,Status | ConvertTo-Csv -NoTypeInformation } catch { $rows = '\"' + $n + '\",\"NotFound\"' }\n")
		b.WriteString(psFrameCSV("rows"))
	}
	return b.String(), nil
}

// sfbUsersScript lists users; with fqdn set, only those whose registrar pool it is.
func sfbUsersScript(fqdn string) (string, error) {
	if fqdn == "" {
		return sfbHeader + "$rows = Get-CsUser | Select-Object SipAddress,RegistrarPool | ConvertTo-Csv -NoTypeInformation\n" + psFrameCSV("rows"), nil
	}
	// The filter is a script block, so the FQDN is pasted only after strict validation.
	if err := ValidateFQDN(fqdn); err != nil {
		return "", err
	}
	return sfbHeader + "$rows = Get-CsUser -Filter {RegistrarPool -eq \"" + fqdn + "\"} | Select-Object SipAddress,RegistrarPool | ConvertTo-Csv -NoTypeInformation\n" +
		psFrameCSV("rows"), nil
}

func sfbMoveScript(targetFQDN string, force bool, upload string) (string, error) {
	if err := ValidateFQDN(targetFQDN); err != nil {
		return "", err
	}
	q, err := QuotePS(targetFQDN)
	if err != nil {
		return "", err
	}
	read, err := psReadUpload(upload)
	if err != nil {
		return "", err
	}
	move := "    Move-CsUser -Identity $sip -Target $target -Confirm:$false\n"
	if force {
		move = "    Move-CsUser -Identity $sip -Target $target -Force -Confirm:$false\n"
	}
	return sfbHeader + read + "$target = " + q + "\n" + moveLoop(move), nil
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
		psFrame("[IO.File]::ReadAllBytes($p)") +
		"Remove-Item -LiteralPath $p\n", nil
}

// sfbImportScript merges the ZIP of the payload with Update-CsUserData and reads each user back
// with Export-CsUserData -UserFilter (readback.go). -Confirm:$false: under -NonInteractive a
// confirmation prompt is a terminating error (both public restore scripts pass it).
func sfbImportScript(poolFQDN, name, upload string) (string, error) {
	pool, err := QuotePS(poolFQDN)
	if err != nil {
		return "", err
	}
	n, err := QuotePS(name)
	if err != nil {
		return "", err
	}
	read, err := psReadUpload(upload)
	if err != nil {
		return "", err
	}
	return sfbHeader + read + psImportPayload +
		"$p = Join-Path $env:TEMP " + n + "\n" +
		"[IO.File]::WriteAllBytes($p, [Convert]::FromBase64String($file))\n" +
		"$failed = ''\n" +
		"try { Update-CsUserData -FileName $p -Confirm:$false } catch { $failed = $_.Exception.Message }\n" +
		"Remove-Item -LiteralPath $p\n" +
		// The subset has no finally: the file is deleted first, then the failure reported.
		"if ($failed -ne '') {\n" +
		"$row = '\"\",\"Failed\",\"' + ($failed -replace '\"','\"\"') + '\"'\n" +
		psFrameCSV("row") +
		"exit 1\n}\n" +
		"foreach ($u in $users) {\n" +
		"$c = 1\n" +
		"try { Export-CsUserData -PoolFqdn " + pool + " -FileName $p -UserFilter $u; $c = 0 } catch { }\n" +
		"if ([IO.File]::Exists($p)) {\n" +
		psFrame("[IO.File]::ReadAllBytes($p)") +
		"Remove-Item -LiteralPath $p\n" +
		"} else {\n" + psNoFile() + "}\n}\n", nil
}

// sfbTemplateScript exports one user's data, to get a package shaped as the server's exports are.
func sfbTemplateScript(poolFQDN, userAtHost, name string) (string, error) {
	pool, err := QuotePS(poolFQDN)
	if err != nil {
		return "", err
	}
	u, err := QuotePS(userAtHost)
	if err != nil {
		return "", err
	}
	n, err := QuotePS(name)
	if err != nil {
		return "", err
	}
	return sfbHeader +
		"$p = Join-Path $env:TEMP " + n + "\n" +
		"Export-CsUserData -PoolFqdn " + pool + " -FileName $p -UserFilter " + u + "\n" +
		psFrame("[IO.File]::ReadAllBytes($p)") +
		"Remove-Item -LiteralPath $p\n", nil
}

func sfbConfigScript(name string) (string, error) {
	n, err := QuotePS(name)
	if err != nil {
		return "", err
	}
	return sfbHeader +
		"$p = Join-Path $env:TEMP " + n + "\n" +
		"Export-CsConfiguration -FileName $p\n" +
		psFrame("[IO.File]::ReadAllBytes($p)") +
		"Remove-Item -LiteralPath $p\n", nil
}
