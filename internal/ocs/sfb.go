package ocs

import (
	"context"
	"encoding/base64"
	"fmt"
	"strings"

	"github.com/ocsha/ocs-ha-operator/internal/contacts"
)

// sfbDialect speaks to Skype for Business Server through its PowerShell module.
type sfbDialect struct {
	*runner
}

func (d *sfbDialect) serviceHealth(ctx context.Context, s Server, services []string) ([]ServiceStatus, error) {
	const op = OpServiceHealth
	script, err := sfbServicesScript(services)
	if err != nil {
		return nil, fmt.Errorf("%s on %s: %w", op, s.Name, err)
	}
	out, err := csvOf(op, s.Name)(d.runPS(ctx, op, s.Name, script, nil))
	if err != nil {
		return nil, err
	}
	return parseSfBServices(out, services)
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
	script, err := sfbMoveScript(target.FQDN, force)
	if err != nil {
		return nil, fmt.Errorf("%s on %s: %w", op, via.Name, err)
	}
	out, err := csvOf(op, via.Name)(d.runPS(ctx, op, via.Name, script, []byte(strings.Join(sips, "\n")+"\n")))
	if err != nil {
		return nil, err
	}
	rows, err := parseResultRows(out)
	if err != nil {
		return nil, fmt.Errorf("%s on %s: %w", op, via.Name, err)
	}
	return rows, nil
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
	return doc, nil
}

func (d *sfbDialect) importContacts(ctx context.Context, s Server, doc *contacts.Document) ([]ImportResult, error) {
	const op = OpImportContacts
	data, err := contacts.WriteUserDataZip(doc)
	if err != nil {
		return nil, fmt.Errorf("%s on %s: %w", op, s.Name, err)
	}
	script, err := sfbImportScript(s.FQDN, tempName(".zip"))
	if err != nil {
		return nil, fmt.Errorf("%s on %s: %w", op, s.Name, err)
	}
	payload := base64.StdEncoding.EncodeToString(importPayload(doc, []byte(base64.StdEncoding.EncodeToString(data))))
	frames, err := framesOf(op, s.Name, len(doc.Resources))(d.runPS(ctx, op, s.Name, script, []byte(payload)))
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
		psFrame("[IO.File]::ReadAllBytes($p)") +
		"Remove-Item -LiteralPath $p\n", nil
}

// sfbImportScript merges the ZIP of the payload with Update-CsUserData and reads each user back
// with Export-CsUserData -UserFilter (readback.go). -Confirm:$false: under -NonInteractive a
// confirmation prompt is a terminating error (both public restore scripts pass it).
func sfbImportScript(poolFQDN, name string) (string, error) {
	pool, err := QuotePS(poolFQDN)
	if err != nil {
		return "", err
	}
	n, err := QuotePS(name)
	if err != nil {
		return "", err
	}
	return sfbHeader + psImportPayload +
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
