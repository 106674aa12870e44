package host

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/ocsha/ocs-ha-operator/internal/sim/cmdexe"
	"github.com/ocsha/ocs-ha-operator/internal/sim/ps"
	"github.com/ocsha/ocs-ha-operator/internal/sim/winfs"
)

// runWindowsLine runs a command line through cmd.exe with the environment variables the tool
// paths use.
func runWindowsLine(t *testing.T, w *World, server, line string) result {
	t.Helper()
	var out, errb bytes.Buffer
	opts := cmdexe.Options{Programs: w.Programs(server), FS: w.FS(server), Env: cmdexe.NewEnvironment(
		"TEMP", winfs.TempDir, "CommonProgramFiles", `C:\Program Files\Common Files`,
		"Path", `C:\Windows\system32;C:\Windows;C:\Windows\System32\WindowsPowerShell\v1.0\`)}
	code := cmdexe.Run(context.Background(), opts, line, strings.NewReader(""), &out, &errb)
	return result{out.String(), errb.String(), code}
}

func TestToolsAreOnlyAtTheirInstallPaths(t *testing.T) {
	w := newTestWorld(t, 4, 1)
	for _, bare := range []string{"dbimpexp.exe", "DBImpExp.exe", "lcscmd.exe", "lcscmd"} {
		r := runWindowsLine(t, w, "ocs1", bare+` /hrxmlfile:%TEMP%\x.xml`)
		want := "'" + bare + "' is not recognized as an internal or external command,\r\noperable program or batch file.\r\n"
		if r.code != cmdexe.ExitNotRecognized || r.stderr != want || r.stdout != "" {
			t.Errorf("bare %s: %+v", bare, r)
		}
	}
	// The install path, quoted and written with %CommonProgramFiles%; cmd /C strips the outer pair.
	r := runWindowsLine(t, w, "ocs1", `""%CommonProgramFiles%\Microsoft Office Communications Server 2007 R2\Support\DBImpExp.exe" /hrxmlfile:"%TEMP%\x.xml" /restype:user"`)
	if r.code != 0 || !w.FS("ocs1").Exists(winfs.TempDir+`\x.xml`) {
		t.Fatalf("dbimpexp at its install path: %+v", r)
	}
	r = runWindowsLine(t, w, "ocs1", `"C:\Program Files\Common Files\Microsoft Office Communications Server 2007 R2\lcscmd.exe" /config /action:export /level:global /poolname:ocs1 /configfile:C:\x.xml`)
	if r.code != 0 {
		t.Fatalf("lcscmd at its install path: %+v", r)
	}
}

func TestPowerShellRunsToolsByPath(t *testing.T) {
	w, err := NewWorld(Config{Servers: []ServerConfig{{Name: "ocs1"}, {Name: "ocs2", Profile: Profile{MissingTools: []string{"dbimpexp"}}}}, Users: 4, Profile: Profile{ConsoleWidth: -1}})
	if err != nil {
		t.Fatal(err)
	}
	script := "$exe = [Environment]::ExpandEnvironmentVariables('%CommonProgramFiles%\\Microsoft Office Communications Server 2007 R2\\Support\\DBImpExp.exe')\n" +
		"[IO.File]::Exists($exe)\n" +
		"$p = Join-Path $env:TEMP 'x.xml'\n" +
		"$out = & $exe \"/hrxmlfile:$p\" /restype:user\n" +
		"'exit ' + $LASTEXITCODE\n" +
		"[IO.File]::Exists($p)\n"
	run := func(server string) result {
		var out, errb bytes.Buffer
		p := w.Programs(server)["powershell"]
		code := p(context.Background(), &cmdexe.Proc{Args: []string{"-NonInteractive", "-EncodedCommand", ps.EncodeCommand(script)},
			Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb, FS: w.FS(server),
			Env: map[string]string{"TEMP": winfs.TempDir, "COMMONPROGRAMFILES": `C:\Program Files\Common Files`}})
		return result{out.String(), errb.String(), code}
	}
	if r := run("ocs1"); r.code != 0 || r.stdout != "True\r\nexit 0\r\nTrue\r\n" {
		t.Fatalf("installed tool: %+v", r)
	}
	r := run("ocs2")
	if r.code != 1 || !strings.HasPrefix(r.stdout, "False\r\n") || !strings.Contains(r.stderr, "is not recognized as the name of a cmdlet") {
		t.Fatalf("missing tool: %+v", r)
	}
	if w.FS("ocs2").Exists(DBImpExpPath) || w.Programs("ocs2")[strings.ToLower(DBImpExpPath)] != nil {
		t.Fatal("a missing tool is installed")
	}
}

func TestProductsServeTheirOwnInterfaces(t *testing.T) {
	ocs := newTestWorld(t, 2, 1)
	if r := runPS(t, ocs, "ocs1", "Import-Module SkypeForBusiness", ""); r.code != 1 || !strings.Contains(r.stderr, "was not loaded") {
		t.Errorf("SkypeForBusiness module on OCS: %+v", r)
	}
	if r := runPS(t, ocs, "ocs1", "Get-CsUser", ""); r.code != 1 || !strings.Contains(r.stderr, "is not recognized") {
		t.Errorf("Get-CsUser on OCS: %+v", r)
	}
	sfb := newSfBWorld(t, 2, 1)
	if r := runPS(t, sfb, "ocs1", "Get-WmiObject -Class MSFT_SIPESUserSetting", ""); r.code != 1 || !strings.Contains(r.stderr, "Invalid class") {
		t.Errorf("MSFT_SIPESUserSetting on SfB: %+v", r)
	}
	if sfb.Programs("ocs1")[strings.ToLower(LcscmdPath)] != nil {
		t.Error("lcscmd installed on a Skype for Business server")
	}
}
