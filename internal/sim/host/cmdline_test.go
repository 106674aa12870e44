package host

import (
	"bytes"
	"context"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/ocsha/ocs-ha-operator/internal/contacts"
	"github.com/ocsha/ocs-ha-operator/internal/sim/cmdexe"
	"github.com/ocsha/ocs-ha-operator/internal/sim/ps"
	"github.com/ocsha/ocs-ha-operator/internal/sim/winfs"
)

// runLine runs a whole command line through cmd.exe, as WinRM delivers it.
func runLine(t *testing.T, w *World, server, line, stdin string) result {
	t.Helper()
	var out, errb bytes.Buffer
	opts := cmdexe.Options{Programs: w.Programs(server), FS: w.FS(server),
		Env: cmdexe.NewEnvironment("TEMP", winfs.TempDir, "TMP", winfs.TempDir)}
	code := cmdexe.Run(context.Background(), opts, line, strings.NewReader(stdin), &out, &errb)
	return result{out.String(), errb.String(), code}
}

// TestCommandLineShapes runs the shapes of docs/admin-scripts.md through cmd.exe: data uploaded
// in echo chunks, the tools run by path from PowerShell, files read back as frames.
func TestCommandLineShapes(t *testing.T) {
	w := newTestWorld(t, 6, 3)
	tool := "$exe = [Environment]::ExpandEnvironmentVariables('" + DBImpExpPath + "')\n"
	export := "$ErrorActionPreference = 'Stop'\n" + tool +
		"$p = Join-Path $env:TEMP 'ocsha-0123456789abcdef.xml'\n" +
		"$ErrorActionPreference = 'Continue'\n$out = & $exe \"/hrxmlfile:$p\" /restype:user\n$code = $LASTEXITCODE\n$ErrorActionPreference = 'Stop'\n" +
		"'#ocsha-begin'\n[Convert]::ToBase64String([IO.File]::ReadAllBytes($p), [Base64FormattingOptions]::InsertLineBreaks)\n'#ocsha-end'\n" +
		"Remove-Item -LiteralPath $p\n"
	r := runLine(t, w, "ocs1", "powershell.exe -NoProfile -NonInteractive -EncodedCommand "+ps.EncodeCommand(export), "")
	lines := strings.Split(strings.TrimSpace(r.stdout), "\r\n")
	if r.code != 0 || lines[0] != "#ocsha-begin" || lines[len(lines)-1] != "#ocsha-end" {
		t.Fatalf("export: %+v", r)
	}
	xmlData, err := base64.StdEncoding.DecodeString(strings.Join(lines[1:len(lines)-1], ""))
	if err != nil {
		t.Fatal(err)
	}
	if doc, err := contacts.ParseHomedResources(xmlData); err != nil || len(doc.Resources) != 3 {
		t.Fatalf("exported document: %v", err)
	}
	for _, u := range []string{"user0001@corp.example.com", "user0003@corp.example.com"} {
		_ = w.SetContacts(u, contacts.Resource{})
	}
	// The XML travels in two echo chunks, the last one on the line that runs the import.
	b64 := base64.StdEncoding.EncodeToString(xmlData)
	half := len(b64) / 8 * 4
	upload := `"%TEMP%\ocsha-1111111111111111.b64"`
	if r := runLine(t, w, "ocs1", "echo "+b64[:half]+" >> "+upload, ""); r.code != 0 {
		t.Fatalf("first chunk: %+v", r)
	}
	imp := "$ErrorActionPreference = 'Stop'\n" + tool +
		"$up = Join-Path $env:TEMP 'ocsha-1111111111111111.b64'\n$data = [Convert]::FromBase64String([IO.File]::ReadAllText($up))\nRemove-Item -LiteralPath $up\n" +
		"$p = Join-Path $env:TEMP 'ocsha-2222222222222222.xml'\n[IO.File]::WriteAllBytes($p, $data)\n" +
		"$out = & $exe /import \"/hrxmlfile:$p\" /restype:user\nRemove-Item -LiteralPath $p\nexit $LASTEXITCODE\n"
	r = runLine(t, w, "ocs1", "echo "+b64[half:]+" >> "+upload+" && powershell.exe -NoProfile -NonInteractive -EncodedCommand "+ps.EncodeCommand(imp), "")
	if r.code != 0 {
		t.Fatalf("import: %+v", r)
	}
	if got, _ := w.UserContacts("user0003@corp.example.com"); got.Count() != 3 {
		t.Errorf("user0003 has %d contacts after the import", got.Count())
	}
	if files := w.FS("ocs1").ListUnder(winfs.TempDir); len(files) != 0 {
		t.Errorf("files left behind: %v", files)
	}
	r = runLine(t, w, "ocs1", "sc query RtcSrv & sc query NoSuch", "")
	if !strings.Contains(r.stdout, "4  RUNNING") || !strings.Contains(r.stdout, "FAILED 1060") {
		t.Errorf("sc chain: %+v", r)
	}
}
