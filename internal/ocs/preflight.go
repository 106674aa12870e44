package ocs

import (
	"context"
	"fmt"
	"strings"
)

// Preflight checks, in the order they run. A later check is skipped when an earlier one failed
// in a way that makes it meaningless (no PowerShell 2.0, no management interface).
const (
	CheckPowerShellVersion = "PowerShellVersion"
	CheckLcscmdPath        = "LcscmdPath"
	CheckDBImpExpPath      = "DBImpExpPath"
	CheckWMIClasses        = "WMIClasses"
	CheckSfBModule         = "SkypeForBusinessModule"
	CheckReadUsers         = "ReadUsers"
	CheckDirectoryWrite    = "DirectoryWrite"
)

// CheckResult is the outcome of one preflight check.
type CheckResult string

// Check results.
const (
	CheckPassed  CheckResult = "Passed"
	CheckFailed  CheckResult = "Failed"
	CheckSkipped CheckResult = "Skipped"
)

// PreflightCheck is one check of a server.
type PreflightCheck struct {
	Name    string
	Result  CheckResult
	Message string
	// AccessDenied: the directory refused the account (a failed ReadUsers or DirectoryWrite).
	AccessDenied bool
}

// PreflightReport is what a preflight found on one server.
type PreflightReport struct {
	// PowerShellVersion is "1.0" when $PSVersionTable is absent.
	PowerShellVersion string
	Checks            []PreflightCheck
}

// FirstFailure returns the first failed check.
func (r PreflightReport) FirstFailure() (PreflightCheck, bool) {
	for _, c := range r.Checks {
		if c.Result == CheckFailed {
			return c, true
		}
	}
	return PreflightCheck{}, false
}

// psVersionScript prints the PowerShell version in a form PowerShell 1.0 parses and runs: no
// try/catch, no ConvertTo-Csv, a short line. $PSVersionTable came with 2.0.
const psVersionScript = "$v = '1.0'\n" +
	"if ($PSVersionTable -ne $null) { $v = [string]$PSVersionTable.PSVersion.Major + '.' + [string]$PSVersionTable.PSVersion.Minor }\n" +
	"'" + psVersionMarker + "' + $v\n"

const psVersionMarker = "#ocsha-psversion "

// Preflight implements Agent.
func (a *agent) Preflight(ctx context.Context, server string) (PreflightReport, error) {
	const op = OpPreflight
	s, err := a.server(op, server)
	if err != nil {
		return PreflightReport{}, err
	}
	res, err := a.run(ctx, op, server, psPrefix+encodeScript(psVersionScript), []byte{})
	if err != nil {
		return PreflightReport{}, err
	}
	report := PreflightReport{PowerShellVersion: psVersionOf(res.Stdout)}
	if report.PowerShellVersion == "" {
		msg := ErrorMessage(res.Stderr)
		if msg == "" {
			msg = lastLine(res.Stdout)
		}
		report.Checks = append(report.Checks, PreflightCheck{Name: CheckPowerShellVersion, Result: CheckFailed,
			Message: fmt.Sprintf("powershell.exe did not report its version (exit code %d): %s", res.ExitCode, msg)})
		return report, nil
	}
	if report.PowerShellVersion == "1.0" {
		report.Checks = append(report.Checks, PreflightCheck{Name: CheckPowerShellVersion, Result: CheckFailed,
			Message: "The server runs PowerShell 1.0 ($PSVersionTable is absent); the operator's scripts need PowerShell 2.0: install Windows Management Framework 2.0 (KB968929)."})
		return report, nil
	}
	report.Checks = append(report.Checks, PreflightCheck{Name: CheckPowerShellVersion, Result: CheckPassed, Message: "PowerShell " + report.PowerShellVersion + "."})
	checks, err := a.d.preflight(ctx, s)
	if err != nil {
		return PreflightReport{}, err
	}
	report.Checks = append(report.Checks, checks...)
	report.Checks = append(report.Checks, a.directoryWriteCheck(ctx, server, report))
	return report, nil
}

// directoryWriteCheck runs the WithDirectoryWriteCheck hook. Without one, the check is
// skipped: no public source shows a directory write that changes nothing, and a move the
// directory refuses is still reported per user.
func (a *agent) directoryWriteCheck(ctx context.Context, server string, report PreflightReport) PreflightCheck {
	c := PreflightCheck{Name: CheckDirectoryWrite}
	if _, failed := report.FirstFailure(); failed {
		c.Result, c.Message = CheckSkipped, "Not checked: an earlier check failed."
		return c
	}
	if a.opts.writeCheck == nil {
		c.Result, c.Message = CheckSkipped, "Not checked: no check of directory writes that changes nothing is known; a move the directory refuses is reported per user."
		return c
	}
	if err := a.opts.writeCheck(ctx, server); err != nil {
		c.Result, c.Message, c.AccessDenied = CheckFailed, err.Error(), true
		return c
	}
	c.Result, c.Message = CheckPassed, "Directory writes are allowed."
	return c
}

// WithDirectoryWriteCheck sets the preflight's directory-write check: check returns an error
// saying why writes would fail (e.g. a session without delegated credentials), nil when they
// will work.
func WithDirectoryWriteCheck(check func(ctx context.Context, server string) error) Option {
	return func(o *options) { o.writeCheck = check }
}

func psVersionOf(out []byte) string {
	for _, line := range strings.Split(string(out), "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), strings.TrimSpace(psVersionMarker)); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// checkRows turns the framed `"<check>","Passed|Failed|Skipped","<message>"` rows of a preflight
// script into checks, in order.
func checkRows(out []byte) ([]PreflightCheck, error) {
	records, err := readCSV(out)
	if err != nil {
		return nil, err
	}
	var checks []PreflightCheck
	for _, rec := range records {
		if len(rec) != 3 {
			continue
		}
		c := PreflightCheck{Name: rec[0], Result: CheckResult(rec[1]), Message: rec[2]}
		switch c.Result {
		case CheckPassed, CheckFailed, CheckSkipped:
		default:
			return nil, fmt.Errorf("%w: preflight row %q", ErrBadOutput, strings.Join(rec, ","))
		}
		c.AccessDenied = c.Result == CheckFailed && DirectoryDenied(c.Message)
		checks = append(checks, c)
	}
	return checks, nil
}

// psCheck renders a check that runs body (which fails by throwing) and prints its framed row.
func psCheck(name, body, passed string) string {
	return "try {\n" + body + "  $row = '\"" + name + "\",\"Passed\",\"" + passed + "\"'\n" +
		"} catch {\n  $row = '\"" + name + "\",\"Failed\",\"' + ($_.Exception.Message -replace '\"','\"\"') + '\"'\n}\n" +
		psFrameCSV("row")
}

// psToolCheck renders the check that a tool's file exists.
func psToolCheck(name, label, field, path string) (string, error) {
	if err := ValidateToolPath(path); err != nil {
		return "", err
	}
	q, err := QuotePS(path)
	if err != nil {
		return "", err
	}
	return psCheck(name,
		"  $t = [Environment]::ExpandEnvironmentVariables("+q+")\n"+
			"  if (-not [IO.File]::Exists($t)) { throw ('"+label+" is not at ' + $t + '; install it there or set spec.tools."+field+".') }\n",
		label+" is present."), nil
}

// preflightRows runs a preflight script and reads its rows.
func (r *runner) preflightRows(ctx context.Context, s Server, script string) ([]PreflightCheck, error) {
	const op = OpPreflight
	out, err := csvOf(op, s.Name)(r.runPS(ctx, op, s.Name, script, nil))
	if err != nil {
		return nil, err
	}
	checks, err := checkRows(out)
	if err != nil {
		return nil, fmt.Errorf("%s on %s: %w", op, s.Name, err)
	}
	return checks, nil
}

func encodeScript(script string) string {
	line, _ := encodePS(script)
	return strings.TrimPrefix(line, psPrefix)
}
