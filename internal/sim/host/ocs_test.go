package host

import (
	"context"
	"encoding/base64"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ocsha/ocs-ha-operator/internal/contacts"
	"github.com/ocsha/ocs-ha-operator/internal/sim/winfs"
)

func TestScQuery(t *testing.T) {
	w := newTestWorld(t, 2, 1)
	tests := []struct {
		name, service string
		state         State
		want          string
		code          int
	}{
		{"running", "RtcSrv", StateUp, "        STATE              : 4  RUNNING\r\n", 0},
		{"case-insensitive name", "rtcsrv", StateUp, "SERVICE_NAME: RtcSrv\r\n", 0},
		{"stopped", "RtcSrv", StateServiceStopped, "        STATE              : 1  STOPPED\r\n                                (NOT_STOPPABLE, NOT_PAUSABLE, IGNORES_SHUTDOWN)\r\n", 0},
		{"other services keep running", "W3SVC", StateServiceStopped, "4  RUNNING", 0},
		{"unknown", "NoSuchSvc", StateUp, "[SC] EnumQueryServicesStatus:OpenService FAILED 1060:\r\n\r\nThe specified service does not exist as an installed service.\r\n", 1060},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := w.SetState("ocs1", tt.state); err != nil {
				t.Fatal(err)
			}
			r := runProg(t, w, "ocs1", "sc", []string{"query", tt.service}, "")
			if r.code != tt.code || !strings.Contains(r.stdout, tt.want) {
				t.Errorf("got %q code %d", r.stdout, r.code)
			}
		})
	}
	if r := runProg(t, w, "ocs1", "sc", nil, ""); r.code == 0 {
		t.Error("sc without arguments succeeded")
	}
}

func TestWMIListings(t *testing.T) {
	w := newTestWorld(t, 3, 1)
	r := runPS(t, w, "ocs1", poolScript, "")
	want := "\"PoolFQDN\",\"PoolDN\"\r\n" +
		"\"ocs1.corp.example.com\",\"" + dn1 + "\"\r\n" +
		"\"ocs2.corp.example.com\",\"" + dn2 + "\"\r\n"
	if r.code != 0 || r.stdout != want {
		t.Errorf("pools: code %d stdout %q stderr %q", r.code, r.stdout, r.stderr)
	}
	r = runPS(t, w, "ocs2", usersScript, "")
	want = "\"PrimaryURI\",\"HomeServerDN\",\"Enabled\"\r\n" +
		"\"sip:user0001@corp.example.com\",\"" + dn1 + "\",\"True\"\r\n" +
		"\"sip:user0002@corp.example.com\",\"" + dn2 + "\",\"True\"\r\n" +
		"\"sip:user0003@corp.example.com\",\"" + dn1 + "\",\"True\"\r\n"
	if r.code != 0 || r.stdout != want {
		t.Errorf("users: code %d stdout %q stderr %q", r.code, r.stdout, r.stderr)
	}
	r = runPS(t, w, "ocs1", usersOfServerScript, "")
	if r.code != 0 || r.stdout != "\"PrimaryURI\",\"HomeServerDN\",\"Enabled\"\r\n\"sip:user0002@corp.example.com\",\""+dn2+"\",\"True\"\r\n" {
		t.Errorf("filtered users: %+v", r)
	}
	query := `Get-WmiObject -Namespace root\cimv2 -Query "SELECT PrimaryURI,HomeServerDN,Enabled FROM MSFT_SIPESUserSetting WHERE HomeServerDN='` + dn1 + `'" | Select-Object PrimaryURI | ConvertTo-Csv -NoTypeInformation`
	r = runProg(t, w, "ocs1", "powershell", []string{"-NoProfile", "-Command", query}, "")
	if r.code != 0 || r.stdout != "\"PrimaryURI\"\r\n\"sip:user0001@corp.example.com\"\r\n\"sip:user0003@corp.example.com\"\r\n" {
		t.Errorf("-Query: %+v", r)
	}
	r = runPS(t, w, "ocs1", "$ErrorActionPreference = 'Stop'\nGet-WmiObject -Class MSFT_Nothing", "")
	if r.code != 1 || !strings.Contains(r.stderr, "Get-WmiObject : Invalid class_x000D__x000A_") {
		t.Errorf("unknown class: %+v", r)
	}
	r = runPS(t, w, "ocs2", "Get-WmiObject -Class MSFT_SIPESServerSetting | Select-Object FQDN,HomeUsers | ConvertTo-Csv -NoTypeInformation", "")
	if r.code != 0 || r.stdout != "\"FQDN\",\"HomeUsers\"\r\n\"ocs2.corp.example.com\",\"1\"\r\n" {
		t.Errorf("server setting: %+v", r)
	}
}

func TestPlannedMoveKeepsContacts(t *testing.T) {
	w := newTestWorld(t, 10, 5)
	before, _ := w.UserContacts("sip:user0001@corp.example.com")
	r := runPS(t, w, "ocs2", moveScript(moveTemplate, dn2, false), "sip:user0001@corp.example.com\r\nsip:user0003@corp.example.com\r\n")
	want := "\"sip:user0001@corp.example.com\",\"OK\",\"\"\r\n\"sip:user0003@corp.example.com\",\"OK\",\"\"\r\n"
	if r.code != 0 || r.stdout != want {
		t.Fatalf("move: %+v", r)
	}
	if homeOf(w, "sip:user0001@corp.example.com") != "ocs2" {
		t.Error("home not changed")
	}
	after, _ := w.UserContacts("sip:user0001@corp.example.com")
	if !reflect.DeepEqual(before, after) {
		t.Errorf("contacts changed: %+v -> %+v", before, after)
	}
	if _, ok := w.dbOf("ocs1", "user0001@corp.example.com"); ok {
		t.Error("contacts left in the source database")
	}
	if n, ok := w.dbOf("ocs2", "user0001@corp.example.com"); !ok || n != 5 {
		t.Error("contacts not in the target database")
	}
	// A move to the current home is a no-op success.
	r = runPS(t, w, "ocs1", moveScript(moveTemplate, dn2, false), "sip:user0001@corp.example.com")
	if r.stdout != "\"sip:user0001@corp.example.com\",\"OK\",\"\"\r\n" {
		t.Errorf("no-op move: %+v", r)
	}
}

func TestForcedMoveLosesContacts(t *testing.T) {
	w := newTestWorld(t, 10, 5)
	if err := w.SetState("ocs1", StateDown); err != nil {
		t.Fatal(err)
	}
	r := runPS(t, w, "ocs2", moveScript(moveTemplate, dn2, true), "sip:user0001@corp.example.com\n")
	if r.code != 0 || r.stdout != "\"sip:user0001@corp.example.com\",\"OK\",\"\"\r\n" {
		t.Fatalf("forced move: %+v", r)
	}
	got, ok := w.UserContacts("sip:user0001@corp.example.com")
	if !ok || got.Count() != 0 || homeOf(w, "sip:user0001@corp.example.com") != "ocs2" {
		t.Errorf("after forced move: %+v", got)
	}
	if n, ok := w.dbOf("ocs1", "user0001@corp.example.com"); !ok || n != 5 {
		t.Error("contacts should stay in the dead source's database")
	}
}

func TestPlannedMoveRefusedWhileSourceDown(t *testing.T) {
	for _, st := range []State{StateDown, StateServiceStopped} {
		t.Run(string(st), func(t *testing.T) {
			w := newTestWorld(t, 4, 5)
			if err := w.SetState("ocs1", st); err != nil {
				t.Fatal(err)
			}
			r := runPS(t, w, "ocs2", moveScript(moveTemplate, dn2, false), "sip:user0001@corp.example.com\n")
			want := `"sip:user0001@corp.example.com","Failed","Exception calling ""Put"" with ""0"" argument(s): ""The move failed: the source server ocs1.corp.example.com is not available."""` + "\r\n"
			if r.code != 0 || r.stdout != want {
				t.Errorf("got %q, want %q", r.stdout, want)
			}
			if homeOf(w, "sip:user0001@corp.example.com") != "ocs1" {
				t.Error("home changed")
			}
		})
	}
}

func TestBatchMoveOf500WithThreeUnknown(t *testing.T) {
	w := newTestWorld(t, 1000, 2)
	var in strings.Builder
	unknown := map[string]bool{}
	n := 0
	for i := 1; n < 497; i += 2 {
		fmt.Fprintf(&in, "sip:user%04d@corp.example.com\r\n", i)
		n++
		if n%150 == 0 {
			sip := fmt.Sprintf("sip:ghost%d@corp.example.com", n)
			unknown[sip] = true
			in.WriteString(sip + "\r\n")
		}
	}
	r := runPS(t, w, "ocs1", moveScript(moveTemplate, dn2, false), in.String())
	ok, failed := 0, 0
	for _, line := range strings.Split(strings.TrimSuffix(r.stdout, "\r\n"), "\r\n") {
		switch {
		case strings.HasSuffix(line, `,"OK",""`):
			ok++
		case strings.Contains(line, `,"Failed","The user was not found in the directory."`):
			failed++
			sip := strings.Trim(strings.Split(line, ",")[0], `"`)
			if !unknown[sip] {
				t.Errorf("unexpected failure %s", line)
			}
		default:
			t.Errorf("unexpected line %q", line)
		}
	}
	if r.code != 0 || ok != 497 || failed != 3 {
		t.Errorf("code %d, %d OK, %d Failed", r.code, ok, failed)
	}
	if w.Servers()[1].HomedUsers != 997 {
		t.Errorf("ocs2 homes %d users", w.Servers()[1].HomedUsers)
	}
}

func TestHostileSIPsAreData(t *testing.T) {
	w := newTestWorld(t, 2, 1)
	hostile := []string{
		"sip:o'brien@corp.example.com",
		"sip:x' OR PrimaryURI='sip:user0001@corp.example.com",
		`sip:a"b@corp.example.com`,
		"sip:a;Remove-Item -LiteralPath x@corp.example.com",
		"sip:$(Get-WmiObject)@corp.example.com",
		"sip:`$env:TEMP@corp.example.com",
		"sip:a&calc.exe@corp.example.com",
		"sip:%TEMP%@corp.example.com",
		"sip:with space@corp.example.com",
	}
	r := runPS(t, w, "ocs1", moveScript(moveTemplate, dn2, false), strings.Join(hostile, "\n"))
	lines := strings.Split(strings.TrimSuffix(r.stdout, "\r\n"), "\r\n")
	if r.code != 0 || len(lines) != len(hostile) {
		t.Fatalf("code %d lines %q stderr %q", r.code, lines, r.stderr)
	}
	for i, line := range lines {
		quoted := `"` + strings.ReplaceAll(hostile[i], `"`, `"`) + `","Failed","`
		if !strings.HasPrefix(line, quoted) {
			t.Errorf("line %d = %q, want prefix %q", i, line, quoted)
		}
	}
	if homeOf(w, "sip:user0001@corp.example.com") != "ocs1" {
		t.Error("an injected filter moved user0001")
	}
	if !strings.Contains(lines[0], "Invalid query") {
		t.Errorf("a quote in the WQL filter should fail the query: %q", lines[0])
	}
}

func TestDbimpexpRoundTrip(t *testing.T) {
	w := newTestWorld(t, 6, 4)
	file := winfs.TempDir + `\ocsha-00112233aabbccdd.xml`
	r := runProg(t, w, "ocs1", "dbimpexp", []string{"/hrxmlfile:" + file, "/restype:user"}, "")
	if r.code != 0 || r.stdout != "DBImpExp: exported 3 homed resources to "+file+".\r\n" {
		t.Fatalf("export: %+v", r)
	}
	data, err := w.FS("ocs1").ReadFile(file)
	if err != nil || data[0] != 0xFF || data[1] != 0xFE {
		t.Fatalf("export file not UTF-16LE with BOM: %v", err)
	}
	doc, err := contacts.ParseHomedResources(data)
	if err != nil || len(doc.Resources) != 3 {
		t.Fatalf("parse: %v", err)
	}
	original := map[string]contacts.Resource{}
	for _, res := range doc.Resources {
		want, _ := w.UserContacts(res.UserAtHost)
		if !reflect.DeepEqual(res, want) {
			t.Errorf("exported %+v, database has %+v", res, want)
		}
		original[res.UserAtHost] = res
		if err := w.SetContacts(res.UserAtHost, contacts.Resource{}); err != nil {
			t.Fatal(err)
		}
	}
	// Read back through the agent's read-and-delete script.
	r = runPS(t, w, "ocs1", readAndDelete(`ocsha-00112233aabbccdd.xml`), "")
	if r.code != 0 || r.stdout != base64.StdEncoding.EncodeToString(data)+"\r\n" || w.FS("ocs1").Exists(file) {
		t.Fatalf("read-and-delete: code %d stderr %q", r.code, r.stderr)
	}
	// Write it again through the agent's write script, then import.
	r = runPS(t, w, "ocs1", writeFromStdin(`ocsha-00112233aabbccdd.xml`), base64.StdEncoding.EncodeToString(data))
	if r.code != 0 {
		t.Fatalf("write: %+v", r)
	}
	// One resource of a user homed elsewhere is skipped.
	doc.Resources = append(doc.Resources, contacts.Resource{UserAtHost: "user0002@corp.example.com"})
	data, _ = contacts.MarshalHomedResources(doc)
	_ = w.FS("ocs1").WriteFile(file, data)
	r = runProg(t, w, "ocs1", "dbimpexp", []string{"/Import", "/hrxmlfile:" + file, "/restype:user"}, "")
	want := "Imported user0001@corp.example.com\r\nImported user0003@corp.example.com\r\nImported user0005@corp.example.com\r\n" +
		"Skipped user0002@corp.example.com: the user is not homed on this server.\r\nDBImpExp: imported 3 of 4 homed resources.\r\n"
	if r.code != 0 || r.stdout != want {
		t.Fatalf("import: %+v", r)
	}
	for u, res := range original {
		got, _ := w.UserContacts(u)
		if !reflect.DeepEqual(got, res) {
			t.Errorf("%s after import: %+v, want %+v", u, got, res)
		}
	}
	if n, _ := w.dbOf("ocs2", "user0002@corp.example.com"); n != 4 {
		t.Error("skipped user's list changed")
	}
}

func TestDbimpexpOptionsAndErrors(t *testing.T) {
	w := newTestWorld(t, 4, 2)
	f := winfs.TempDir + `\one.xml`
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"single user", []string{"/hrxmlfile:" + f, "/user:user0003@corp.example.com"}, 0, "exported 1 homed resources"},
		{"own sql server", []string{"/hrxmlfile:" + f, `/sqlserver:ocs1.corp.example.com\rtc`}, 0, "exported 2"},
		{"other sql server", []string{"/hrxmlfile:" + f, "/sqlserver:ocs2.corp.example.com"}, 1, "cannot connect"},
		{"user not homed here", []string{"/hrxmlfile:" + f, "/user:user0002@corp.example.com"}, 1, "not homed"},
		{"missing file flag", []string{"/restype:user"}, 1, "Usage"},
		{"unknown flag", []string{"/hrxmlfile:" + f, "/bogus"}, 1, "Usage"},
		{"import of missing file", []string{"/import", `/hrxmlfile:C:\none.xml`}, 1, "cannot read"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runProg(t, w, "ocs1", "dbimpexp", tt.args, "")
			if r.code != tt.code || !strings.Contains(r.stdout, tt.want) {
				t.Errorf("got %+v", r)
			}
		})
	}
	_ = w.FS("ocs1").WriteFile(`C:\bad.xml`, []byte("<other/>"))
	if r := runProg(t, w, "ocs1", "dbimpexp", []string{"/import", `/hrxmlfile:C:\bad.xml`}, ""); r.code != 1 {
		t.Errorf("bad namespace imported: %+v", r)
	}
}

func TestLcscmd(t *testing.T) {
	w := newTestWorld(t, 2, 1)
	file := func(level string) string { return winfs.TempDir + `\ocsha-1-` + level + `.xml` }
	for _, level := range []string{"global", "Pool", "MACHINE"} {
		r := runProg(t, w, "ocs1", "lcscmd", []string{"/Config", "/Action:Export", "/Level:" + level, "/PoolName:ocs2", "/ConfigFile:" + file(strings.ToLower(level))}, "")
		if r.code != 0 || !strings.Contains(r.stdout, "exported "+strings.ToLower(level)+" configuration") {
			t.Fatalf("%s export: %+v", level, r)
		}
	}
	read := func(level string) string { data, _ := w.FS("ocs1").ReadFile(file(level)); return string(data) }
	if g := read("global"); !strings.Contains(g, `SipDomain="corp.example.com"`) || strings.Contains(g, "<Pool ") {
		t.Errorf("global export: %s", g)
	}
	if p := read("pool"); !strings.Contains(p, dn2) || strings.Contains(p, dn1) {
		t.Errorf("pool export of ocs2: %s", p)
	}
	if m := read("machine"); !strings.Contains(m, "RtcSrv") || !strings.Contains(m, `FQDN="ocs1.corp.example.com"`) {
		t.Errorf("machine export (the server running it): %s", m)
	}
	if r := runProg(t, w, "ocs1", "lcscmd", []string{"/config", "/action:import", "/level:pool", "/poolname:ocs1", "/configfile:" + file("pool")}, ""); r.code != 0 {
		t.Errorf("import: %+v", r)
	}
	refused := map[string][]string{
		"a list of levels":      {"/config", "/action:export", "/level:global,pool", "/poolname:ocs1", "/configfile:" + file("x")},
		"/fqdn":                 {"/config", "/action:export", "/level:machine", "/fqdn:ocs1.corp.example.com", "/poolname:ocs1", "/configfile:" + file("x")},
		"no /poolname":          {"/config", "/action:export", "/level:global", "/configfile:" + file("x")},
		"an unknown pool":       {"/config", "/action:export", "/level:global", "/poolname:nope", "/configfile:" + file("x")},
		"another context":       {"/forest", "/action:export"},
		"no /configfile":        {"/config", "/action:export", "/level:global", "/poolname:ocs1"},
		"an unknown action":     {"/config", "/action:destroy", "/configfile:" + file("x")},
		"an unknown level":      {"/config", "/action:export", "/level:galaxy", "/poolname:ocs1", "/configfile:" + file("x")},
		"a missing import file": {"/config", "/action:import", `/configfile:C:\missing.xml`},
	}
	for name, args := range refused {
		if r := runProg(t, w, "ocs1", "lcscmd", args, ""); r.code == 0 || !strings.Contains(r.stdout, "Failure") && !strings.Contains(r.stdout, "usage") {
			t.Errorf("%s: %+v", name, r)
		}
	}
	if w.FS("ocs1").Exists(file("x")) {
		t.Error("a refused export wrote its file")
	}
}

func TestMoveCostRespectsCancellation(t *testing.T) {
	w, err := NewWorld(Config{Servers: []ServerConfig{{Name: "a"}, {Name: "b"}}, Users: 4, MoveCost: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan result)
	go func() {
		done <- runProgCtx(ctx, t, w, "a", "powershell", []string{"-EncodedCommand", encode(moveScript(moveTemplate, poolDN("b", "corp.example.com"), false))}, "sip:user0001@corp.example.com\n")
	}()
	cancel()
	select {
	case r := <-done:
		if r.code == 0 {
			t.Errorf("cancelled move succeeded: %+v", r)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("move did not stop on cancellation")
	}
	if homeOf(w, "sip:user0001@corp.example.com") != "a" {
		t.Error("cancelled move changed the home")
	}
}
