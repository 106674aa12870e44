package sim

import (
	"bytes"
	"context"
	"encoding/base64"
	"net/http"
	"strings"
	"testing"

	"github.com/ocsha/ocs-ha-operator/internal/sim/ps"
	"github.com/ocsha/ocs-ha-operator/internal/sim/winfs"
)

// startHost starts the emulator on the real OCS host emulation, with PowerShell 5.1: masterzen's
// RunPS and RunCmd never close stdin, which a PowerShell 2.0 host waits for
// (TestPowerShell2WithStdinClosed).
func startHost(t testing.TB, users, contactsPerUser int) *Emulator {
	t.Helper()
	e, err := Start(context.Background(), Config{Users: users, ContactsPerUser: contactsPerUser, Admin: "127.0.0.1:0",
		Profile: Profile{PowerShell: "5.1"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	return e
}

func TestHostWorldEndToEnd(t *testing.T) {
	e := startHost(t, 10, 3)
	c := client(t, e, "ocs1", nil)
	ctx := context.Background()
	out, _, code, err := c.RunCmdWithContext(ctx, "sc query RtcSrv")
	if err != nil || code != 0 || !strings.Contains(out, "RUNNING") {
		t.Errorf("sc query: %q %d %v", out, code, err)
	}
	out, errs, code, err := c.RunPSWithContext(ctx, "Write-Output 'hello'")
	if err != nil || code != 0 || out != "hello\r\n" {
		t.Errorf("RunPSWithContext: %q %q %d %v", out, errs, code, err)
	}
	out, errs, code, err = c.RunPSWithContext(ctx, "$ErrorActionPreference = 'Stop'; throw 'boom'")
	if err != nil || code != 1 || !strings.HasPrefix(errs, "#< CLIXML\r\n") || out != "" {
		t.Errorf("failing script: %q %q %d %v", out, errs, code, err)
	}
	if st := send(t, http.MethodPost, e.AdminURL()+"/servers/ocs1/stop-service", ""); st != 200 {
		t.Fatalf("stop-service: %d", st)
	}
	if out, _, _, _ := c.RunCmdWithContext(ctx, "sc query RtcSrv"); !strings.Contains(out, "STOPPED") {
		t.Errorf("sc query after stop-service: %q", out)
	}
	var users []map[string]any
	getJSON(t, e.AdminURL()+"/users", &users)
	if len(users) != 10 || users[0]["sip"] != "sip:user0001@corp.example.com" || users[0]["home"] != "ocs1" || users[0]["contacts"] != 3.0 {
		t.Errorf("/users = %v", users[:min(len(users), 2)])
	}
	var list contactListJSON
	getJSON(t, e.AdminURL()+"/users/sip:user0002@corp.example.com", &list)
	if len(list.Contacts) != 3 {
		t.Errorf("contact list %+v", list)
	}
}

// TestStartLargeSite starts the emulator at the size of the quality bars; BenchmarkStartLargeSite
// measures how long that takes.
func TestStartLargeSite(t *testing.T) {
	e := startHost(t, 5000, 20)
	var servers []serverJSON
	getJSON(t, e.AdminURL()+"/servers", &servers)
	if len(servers) != 2 || servers[0].HomedUsers != 2500 || servers[1].HomedUsers != 2500 {
		t.Errorf("/servers = %+v", servers)
	}
	out, _, code, err := client(t, e, "ocs2", nil).RunCmdWithContext(context.Background(), "echo ready")
	if err != nil || code != 0 || out != "ready\r\n" {
		t.Errorf("echo: %q %d %v", out, code, err)
	}
}

func BenchmarkStartLargeSite(b *testing.B) {
	for b.Loop() {
		e, err := Start(context.Background(), Config{Users: 5000, ContactsPerUser: 20, Admin: "127.0.0.1:0"})
		if err != nil {
			b.Fatal(err)
		}
		e.Close()
	}
}

// TestExportFlowThroughCmd runs a contact export (dbimpexp at its install path, then a PowerShell
// read-and-delete of the %TEMP% file) as one command line: it needs cmd's && and %TEMP%, and one
// file system shared by the programs.
func TestExportFlowThroughCmd(t *testing.T) {
	e := startHost(t, 4, 2)
	script := "$ErrorActionPreference = 'Stop'\n$p = Join-Path $env:TEMP 'ocsha-0123456789abcdef.xml'\n" +
		"[Convert]::ToBase64String([IO.File]::ReadAllBytes($p))\nRemove-Item -LiteralPath $p"
	// The tool is not on PATH: its quoted install path comes first, so the whole line takes an
	// extra pair of quotes that cmd /C strips (cmd /?).
	line := `""%CommonProgramFiles%\Microsoft Office Communications Server 2007 R2\Support\DBImpExp.exe" /hrxmlfile:%TEMP%\ocsha-0123456789abcdef.xml /restype:user && powershell.exe -NoProfile -NonInteractive -EncodedCommand ` +
		ps.EncodeCommand(script) + `"`
	out, errs, code, err := client(t, e, "ocs1", nil).RunCmdWithContext(context.Background(), line)
	if err != nil || code != 0 {
		t.Fatalf("export: %q %d %v", errs, code, err)
	}
	// dbimpexp's summary line comes first; the base64 follows, wrapped at 80 columns by the
	// PowerShell 2.0 console.
	lines := strings.Split(strings.TrimSpace(out), "\r\n")
	raw, err := base64.StdEncoding.DecodeString(strings.Join(lines[1:], ""))
	if err != nil || len(raw) < 2 || raw[0] != 0xFF || raw[1] != 0xFE {
		t.Fatalf("output is not base64 of UTF-16LE with BOM: %q", out)
	}
	if files := e.servers[0].fs.ListUnder(winfs.TempDir); len(files) != 0 {
		t.Errorf("files left behind: %v", files)
	}
	if cmds := e.Commands("ocs1"); len(cmds) != 1 || cmds[0] != line {
		t.Errorf("recorded commands %q", cmds)
	}
}

// TestPowerShell2WithStdinClosed: the emulated PowerShell 2.0 host of OCS 2007 R2 reads a
// redirected stdin to its end before the script runs (ocs-evidence.md #14), so a client must
// close it, as the operator does; masterzen's RunPS does not (startHost uses 5.1 for it).
func TestPowerShell2WithStdinClosed(t *testing.T) {
	e, err := Start(context.Background(), Config{Users: 2, Admin: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	var out, errs bytes.Buffer
	line := "powershell.exe -NoProfile -NonInteractive -EncodedCommand " + ps.EncodeCommand("Write-Output 'hello'")
	code, err := client(t, e, "ocs1", nil).RunWithContextWithInput(context.Background(), line, &out, &errs, strings.NewReader("ignored"))
	if err != nil || code != 0 || out.String() != "hello\r\n" {
		t.Fatalf("with stdin closed: %q %q %d %v", out.String(), errs.String(), code, err)
	}
}
