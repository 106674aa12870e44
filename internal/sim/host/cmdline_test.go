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

func TestDocumentedCommandLines(t *testing.T) {
	w := newTestWorld(t, 6, 3)
	read := "powershell.exe -NoProfile -NonInteractive -EncodedCommand " + ps.EncodeCommand(readAndDelete("ocsha-0123456789abcdef.xml"))
	r := runLine(t, w, "ocs1", `"`+DBImpExpPath+`" /hrxmlfile:%TEMP%\ocsha-0123456789abcdef.xml /restype:user && `+read, "")
	lines := strings.Split(strings.TrimSpace(r.stdout), "\r\n")
	if r.code != 0 || len(lines) != 2 || !strings.HasPrefix(lines[0], "DBImpExp: exported 3 homed resources to ") {
		t.Fatalf("export line: %+v", r)
	}
	xmlData, err := base64.StdEncoding.DecodeString(lines[1])
	if err != nil {
		t.Fatal(err)
	}
	if doc, err := contacts.ParseHomedResources(xmlData); err != nil || len(doc.Resources) != 3 {
		t.Fatalf("exported document: %v", err)
	}
	for _, u := range []string{"user0001@corp.example.com", "user0003@corp.example.com"} {
		_ = w.SetContacts(u, contacts.Resource{})
	}
	write := "powershell.exe -NoProfile -NonInteractive -EncodedCommand " + ps.EncodeCommand(writeFromStdin("ocsha-0123456789abcdef.xml"))
	r = runLine(t, w, "ocs1", write+` && "`+DBImpExpPath+`" /import /hrxmlfile:%TEMP%\ocsha-0123456789abcdef.xml /restype:user & del %TEMP%\ocsha-0123456789abcdef.xml`, lines[1])
	if !strings.Contains(r.stdout, "DBImpExp: imported 3 of 3 homed resources.") {
		t.Fatalf("import line: %+v", r)
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
	pool := `%TEMP%\ocsha-1111111111111111-pool.xml`
	machine := `%TEMP%\ocsha-2222222222222222-machine.xml`
	both := "$ErrorActionPreference = 'Stop'\n" +
		"$p = Join-Path $env:TEMP 'ocsha-1111111111111111-pool.xml'\n[Convert]::ToBase64String([IO.File]::ReadAllBytes($p))\nRemove-Item -LiteralPath $p\n" +
		"$p = Join-Path $env:TEMP 'ocsha-2222222222222222-machine.xml'\n[Convert]::ToBase64String([IO.File]::ReadAllBytes($p))\nRemove-Item -LiteralPath $p\n"
	r = runLine(t, w, "ocs1", "ver >nul & \""+LcscmdPath+"\" /config /action:export /level:pool /poolname:ocs1 /configfile:"+pool+
		" && \""+LcscmdPath+"\" /config /action:export /level:machine /poolname:ocs1 /configfile:"+machine+
		" && powershell.exe -NoProfile -NonInteractive -EncodedCommand "+ps.EncodeCommand(both), "")
	out := strings.Split(strings.TrimSpace(r.stdout), "\r\n")
	if r.code != 0 || len(out) < 2 {
		t.Fatalf("configuration line: %+v", r)
	}
	for _, b64 := range out[len(out)-2:] {
		data, err := base64.StdEncoding.DecodeString(b64)
		if err != nil || !strings.Contains(string(data), "LcsConfiguration") {
			t.Errorf("configuration file: %v %q", err, data)
		}
	}
}
