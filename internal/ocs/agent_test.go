package ocs

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"errors"
	"io"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ocsha/ocs-ha-operator/internal/contacts"
	"github.com/ocsha/ocs-ha-operator/internal/winrm"
)

// call is one command the agent sent; data is what it uploaded for the command (upload.go).
type call struct {
	server, line, stdin, data string
	scripts                   []string
}

// scriptedExec answers commands with a function of the call and records every call. It keeps
// the uploads as the server's %TEMP% would: echo lines append to them, and a command running a
// script sees the upload's content as its data.
type scriptedExec struct {
	t       *testing.T
	mu      sync.Mutex
	calls   []call
	echoes  int
	uploads map[string]string
	answer  func(c call) (Result, error)
}

var echoPattern = regexp.MustCompile(`^echo ([A-Za-z0-9+/=]+) >> "%TEMP%\\(ocsha-[0-9a-f]{16}\.b64)"(?: && |$)`)

func (e *scriptedExec) Run(_ context.Context, server, command string, stdin []byte) (Result, error) {
	e.mu.Lock()
	if e.uploads == nil {
		e.uploads = map[string]string{}
	}
	rest := command
	if m := echoPattern.FindStringSubmatch(command); m != nil {
		e.uploads[m[2]] += m[1]
		e.echoes++
		rest = command[len(m[0]):]
	}
	e.mu.Unlock()
	if rest == "" {
		return Result{}, nil
	}
	scripts, _ := decodeLine(e.t, rest)
	c := call{server: server, line: rest, stdin: string(stdin), scripts: scripts}
	e.mu.Lock()
	for name, b64 := range e.uploads {
		if strings.Contains(c.script(), "'"+name+"'") {
			raw, err := base64.StdEncoding.DecodeString(b64)
			if err != nil {
				e.t.Errorf("upload %s is not base64: %v", name, err)
			}
			if strings.Contains(c.script(), "[IO.Compression.CompressionMode]::Decompress") {
				// The script decompresses its upload, as Windows would.
				raw = gunzipForTest(e.t, raw)
			}
			c.data = string(raw)
			delete(e.uploads, name)
		}
	}
	e.calls = append(e.calls, c)
	e.mu.Unlock()
	return e.answer(c)
}

func (c call) script() string { return strings.Join(c.scripts, "\n") }

const (
	dn1 = "CN=LC Services,CN=Microsoft,CN=ocs1,CN=Pools,CN=RTC Service,CN=Services,CN=Configuration,DC=corp,DC=example,DC=com"
	dn2 = "CN=LC Services,CN=Microsoft,CN=ocs2,CN=Pools,CN=RTC Service,CN=Services,CN=Configuration,DC=corp,DC=example,DC=com"
)

var testServers = []Server{{Name: "ocs1", FQDN: "ocs1.corp.example.com"}, {Name: "ocs2", FQDN: "ocs2.corp.example.com"}}

func ok(out string) (Result, error) { return Result{Stdout: []byte(out)}, nil }

// frame renders data as a script frames it, wrapped at 80 columns as the PowerShell 2.0
// console wraps it.
func frame(data string) string {
	b64 := base64.StdEncoding.EncodeToString([]byte(data))
	var out strings.Builder
	out.WriteString(frameBegin + "\r\n")
	for len(b64) > 76 {
		out.WriteString(b64[:76] + "\r\n")
		b64 = b64[76:]
	}
	out.WriteString(b64 + "\r\n" + frameEnd + " " + strconv.Itoa(len(data)) + "\r\n")
	return out.String()
}

// framed is ok with the text as one frame.
func framed(text string) (Result, error) { return ok(frame(text)) }

// ocsAnswer emulates the OCS scripts just enough for the agent's parsing.
func ocsAnswer(c call) (Result, error) {
	s := c.script()
	switch {
	case strings.Contains(s, "MSFT_SIPPoolSetting"):
		return framed("\"PoolFQDN\",\"PoolDN\"\n\"OCS1.corp.example.com\",\"" + dn1 + "\"\n\"ocs2.corp.example.com\",\"" + dn2 + "\"")
	case strings.Contains(s, "$h = ''"):
		// The re-read after a move: everyone asked about is on ocs2.
		var out strings.Builder
		for _, sip := range strings.Fields(c.data) {
			home := dn2
			if strings.Contains(s, "Get-CsUser") {
				home = "ocs2.corp.example.com"
			}
			out.WriteString(frame("\"" + sip + "\",\"" + home + "\""))
		}
		return ok(out.String())
	case strings.Contains(s, "GetString($data).Split"):
		var out strings.Builder
		for _, sip := range strings.Fields(c.data) {
			if strings.Contains(sip, "fail") {
				out.WriteString(frame("\"" + sip + "\",\"Failed\",\"The user was not found in the directory.\""))
			} else if !strings.Contains(sip, "silent") {
				out.WriteString(frame("\"" + sip + "\",\"OK\",\"\""))
			}
		}
		return ok(out.String())
	case strings.Contains(s, "MSFT_SIPESUserSetting"):
		return framed("\"PrimaryURI\",\"HomeServerDN\",\"Enabled\"\n\"sip:a@corp.example.com\",\"" + dn1 + "\",\"True\"\n\"sip:b@corp.example.com\",\"" + strings.ToUpper(dn2) + "\",\"False\"\n\"sip:c@corp.example.com\",\"CN=elsewhere\",\"True\"")
	}
	return Result{ExitCode: 9009, Stderr: []byte("unexpected")}, nil
}

// moveMarker is in the scripts of move batches only: the row of a moved user.
const moveMarker = `"OK"`

// noSleep ends a pause at once.
func noSleep(ctx context.Context, _ time.Duration) error { return ctx.Err() }

func newTestAgent(t *testing.T, product Product, answer func(call) (Result, error)) (Agent, *scriptedExec) {
	t.Helper()
	e := &scriptedExec{t: t, answer: answer}
	a, err := NewAgent(product, testServers, e, WithMoveConfirmation(3, noSleep))
	if err != nil {
		t.Fatal(err)
	}
	return a, e
}

func TestNewAgentValidates(t *testing.T) {
	e := &scriptedExec{t: t}
	tests := map[string]func() error{
		"unknown product": func() error { _, err := NewAgent("Lync", testServers, e); return err },
		"nil executor":    func() error { _, err := NewAgent(ProductOCS2007R2, testServers, nil); return err },
		"duplicate name":  func() error { _, err := NewAgent(ProductOCS2007R2, append(testServers, testServers[0]), e); return err },
		"bad FQDN":        func() error { _, err := NewAgent(ProductOCS2007R2, []Server{{Name: "x", FQDN: "a b"}}, e); return err },
	}
	for name, fn := range tests {
		t.Run(name, func(t *testing.T) {
			if err := fn(); !errors.Is(err, ErrInvalidArgument) {
				t.Fatalf("err = %v", err)
			}
		})
	}
}

func TestOCSListUsersMapsDNsAndCachesPools(t *testing.T) {
	a, e := newTestAgent(t, ProductOCS2007R2, ocsAnswer)
	ctx := context.Background()
	users, err := a.ListUsers(ctx, "ocs2")
	if err != nil {
		t.Fatal(err)
	}
	want := []HomedUser{
		{SIP: "sip:a@corp.example.com", Server: "ocs1", Enabled: true},
		{SIP: "sip:b@corp.example.com", Server: "ocs2"},
		{SIP: "sip:c@corp.example.com", Enabled: true},
	}
	if !reflect.DeepEqual(users, want) {
		t.Fatalf("got %+v", users)
	}
	homed, err := a.ListHomedUsers(ctx, "ocs1", "ocs1")
	if err != nil {
		t.Fatal(err)
	}
	if len(homed) != 1 || homed[0].SIP != "sip:a@corp.example.com" {
		t.Fatalf("homed %+v", homed)
	}
	pools := 0
	for _, c := range e.calls {
		if strings.Contains(c.script(), "MSFT_SIPPoolSetting") {
			pools++
		}
	}
	if pools != 1 || len(e.calls) != 3 {
		t.Fatalf("%d pool queries in %d calls, want 1 in 3", pools, len(e.calls))
	}
	last := e.calls[2].script()
	if !strings.Contains(last, "$dn = '"+dn1+"'") || !strings.Contains(last, "-Filter ('HomeServerDN=' + \"'\" + $dn + \"'\")") {
		t.Fatalf("homed-users script:\n%s", last)
	}
}

func TestMoveUsersSendsUsersOnlyOnStdin(t *testing.T) {
	for _, product := range []Product{ProductOCS2007R2, ProductSkypeForBusiness} {
		t.Run(string(product), func(t *testing.T) {
			a, e := newTestAgent(t, product, ocsAnswer)
			users := []string{
				"sip:a@corp.example.com", "sip:o'neil@corp.example.com", "sip:fail@corp.example.com",
				`sip:a"b@corp.example.com`, "sip:x;y@corp.example.com", "sip:$(calc)@corp.example.com",
				"sip:a`b@corp.example.com", "sip:a&b@corp.example.com", "sip:50%off@corp.example.com",
				"sip:a b@corp.example.com", "sip:silent@corp.example.com", "sip:a@corp.example.com",
			}
			res, err := a.MoveUsers(context.Background(), "ocs2", users, "ocs2", true)
			if err != nil {
				t.Fatal(err)
			}
			wantOK := map[int]bool{0: true, 1: true, 8: true, 11: true}
			for i, r := range res {
				if r.SIP != users[i] || r.OK != wantOK[i] {
					t.Errorf("result %d = %+v", i, r)
				}
				if !r.OK && r.Message == "" {
					t.Errorf("result %d failed without a message", i)
				}
			}
			var moves []call
			for _, c := range e.calls {
				if strings.Contains(c.script(), moveMarker) {
					moves = append(moves, c)
				}
			}
			if len(moves) != 1 {
				t.Fatalf("%d move commands, want 1", len(moves))
			}
			m := moves[0]
			for _, u := range users {
				if strings.Contains(m.line, u) || strings.Contains(m.script(), u) {
					t.Errorf("user %q appears in the command text", u)
				}
			}
			if m.data != "sip:a@corp.example.com\nsip:o'neil@corp.example.com\nsip:fail@corp.example.com\nsip:50%off@corp.example.com\nsip:silent@corp.example.com\nsip:a@corp.example.com\n" {
				t.Errorf("uploaded %q", m.data)
			}
			if m.stdin != "" {
				t.Errorf("stdin %q", m.stdin)
			}
			if product == ProductOCS2007R2 && !strings.Contains(m.script(), "$target = '"+dn2+"'") {
				t.Errorf("target DN not a literal:\n%s", m.script())
			}
			if product == ProductSkypeForBusiness && !strings.Contains(m.script(), "$target = 'ocs2.corp.example.com'") {
				t.Errorf("target FQDN not a literal:\n%s", m.script())
			}
		})
	}
}

func TestMoveUsersWithOnlyInvalidUsersSendsNothing(t *testing.T) {
	a, e := newTestAgent(t, ProductSkypeForBusiness, ocsAnswer)
	res, err := a.MoveUsers(context.Background(), "ocs1", []string{"sip:bad user@x"}, "ocs2", false)
	if err != nil || len(res) != 1 || res[0].OK || len(e.calls) != 0 {
		t.Fatalf("res %+v err %v calls %d", res, err, len(e.calls))
	}
}

func TestErrorsKeepTheirKind(t *testing.T) {
	transport := &winrm.Error{Server: "ocs1", Kind: winrm.ErrUnauthorized, Detail: "http response error: 401 - invalid content type"}
	tests := map[string]struct {
		answer  func(call) (Result, error)
		wantErr error
		wantCmd *CommandError
	}{
		"unauthorized": {answer: func(call) (Result, error) { return Result{}, transport }, wantErr: ErrUnauthorized},
		"unreachable": {answer: func(call) (Result, error) {
			return Result{}, &winrm.Error{Server: "ocs1", Kind: winrm.ErrUnreachable}
		}, wantErr: ErrUnreachable},
		"PowerShell failure": {answer: func(call) (Result, error) {
			return Result{ExitCode: 1, Stderr: []byte(clixmlSample)}, nil
		}, wantCmd: &CommandError{Server: "ocs1", Op: OpListUsers, ExitCode: 1, Message: "Get-WmiObject : Invalid class"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			a, _ := newTestAgent(t, ProductSkypeForBusiness, tc.answer)
			_, err := a.ListUsers(context.Background(), "ocs1")
			if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if tc.wantCmd != nil {
				var ce *CommandError
				if !errors.As(err, &ce) || !reflect.DeepEqual(ce, tc.wantCmd) {
					t.Fatalf("err = %#v, want %#v", err, tc.wantCmd)
				}
			}
			if strings.Count(err.Error(), OpListUsers) != 1 {
				t.Fatalf("operation named %d times in %q", strings.Count(err.Error(), OpListUsers), err)
			}
		})
	}
	a, _ := newTestAgent(t, ProductOCS2007R2, ocsAnswer)
	if _, err := a.ServiceHealth(context.Background(), "ocs9", nil); !errors.Is(err, ErrUnknownServer) {
		t.Fatalf("unknown server: %v", err)
	}
}

func TestServiceHealth(t *testing.T) {
	ocs, e := newTestAgent(t, ProductOCS2007R2, func(c call) (Result, error) {
		return Result{Stdout: []byte(scRunning + scMissing), ExitCode: 1060}, nil
	})
	st, err := ocs.ServiceHealth(context.Background(), "ocs1", []string{"RtcSrv", "Nope"})
	if err != nil || !st[0].Running || st[1].State != StateNotFound {
		t.Fatalf("OCS: %+v, %v", st, err)
	}
	if e.calls[0].line != "sc query RtcSrv & sc query Nope" || e.calls[0].stdin != "" {
		t.Fatalf("OCS line %q", e.calls[0].line)
	}
	sfb, e := newTestAgent(t, ProductSkypeForBusiness, func(c call) (Result, error) {
		return framed("\"Name\",\"Status\"\n\"RtcSrv\",\"Stopped\"")
	})
	st, err = sfb.ServiceHealth(context.Background(), "ocs1", nil)
	if err != nil || st[0].Running || st[0].State != StateStopped || st[0].Name != DefaultService {
		t.Fatalf("SfB: %+v, %v", st, err)
	}
	if !strings.Contains(e.calls[0].script(), "Get-CsWindowsService -Name $n") {
		t.Fatalf("SfB script:\n%s", e.calls[0].script())
	}
	// IIS and SQL Server are not Skype for Business services: sc query asks about them.
	sfb, e = newTestAgent(t, ProductSkypeForBusiness, func(c call) (Result, error) {
		return ok(scStopped + scMissing + frame("\"Name\",\"Status\"\n\"RtcSrv\",\"Running\""))
	})
	st, err = sfb.ServiceHealth(context.Background(), "ocs1", []string{"RtcSrv", "W3SVC", "MSSQL$RTC"})
	want := []ServiceStatus{{Name: "RtcSrv", Running: true, State: StateRunning}, {Name: "W3SVC", State: StateStopped}, {Name: "MSSQL$RTC", State: StateNotFound}}
	if err != nil || !reflect.DeepEqual(st, want) {
		t.Fatalf("SfB mixed: %+v, %v", st, err)
	}
	if line := e.calls[0].line; !strings.HasPrefix(line, "sc query W3SVC & sc query MSSQL$RTC & powershell.exe ") || !strings.Contains(e.calls[0].script(), "$n = 'RtcSrv'") ||
		strings.Contains(e.calls[0].script(), "W3SVC") {
		t.Fatalf("SfB mixed line %q", line)
	}
}

func sampleDoc() *contacts.Document {
	return &contacts.Document{Resources: []contacts.Resource{
		{UserAtHost: "a@corp.example.com", Groups: []contacts.Group{{Number: 1, DisplayName: "fg=="}}, Contacts: []contacts.Contact{{Buddy: "b@corp.example.com", SubscribePresence: true, Groups: []int{1}}}},
		{UserAtHost: "b@corp.example.com"},
	}}
}

func TestOCSExportAndImportContacts(t *testing.T) {
	xmlDoc, err := contacts.MarshalHomedResources(sampleDoc())
	if err != nil {
		t.Fatal(err)
	}
	var imported []byte
	a, e := newTestAgent(t, ProductOCS2007R2, func(c call) (Result, error) {
		switch s := c.script(); {
		case strings.Contains(s, `& $exe /import "/hrxmlfile:$p" /restype:user`):
			users, file := splitPayload(t, c.data)
			imported = file
			if users != "a@corp.example.com\nb@corp.example.com" {
				t.Errorf("read-back users %q", users)
			}
			// a reads back with what was imported, b was not homed here: no file.
			back, _ := contacts.MarshalHomedResources(&contacts.Document{Resources: sampleDoc().Resources[:1]})
			return ok("Imported a@corp.example.com\r\n" + frame(string(back)) + frame(noFileFrame+"1 b@corp.example.com"))
		case strings.Contains(s, `& $exe "/hrxmlfile:$p" /restype:user`):
			return ok("DBImpExp: exported 2 homed resources to x.\r\n" + frame(string(xmlDoc)))
		}
		return Result{ExitCode: 1}, nil
	})
	ctx := context.Background()
	doc, err := a.ExportContacts(ctx, "ocs1", nil)
	if err != nil || !reflect.DeepEqual(doc, sampleDoc()) {
		t.Fatalf("export: %+v, %v", doc, err)
	}
	one, err := a.ExportContacts(ctx, "ocs1", []string{"sip:B@corp.example.com"})
	if err != nil || len(one.Resources) != 1 || one.Resources[0].UserAtHost != "b@corp.example.com" {
		t.Fatalf("filtered export: %+v, %v", one, err)
	}
	in := sampleDoc()
	in.Resources = append(in.Resources, contacts.Resource{UserAtHost: "bad user@x"})
	res, err := a.ImportContacts(ctx, "ocs1", in)
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 3 || !res[0].OK || res[1].OK || !strings.Contains(res[1].Message, "wrote no file (exit code 1)") || res[2].OK {
		t.Fatalf("import results %+v", res)
	}
	utf16Doc, _ := contacts.MarshalHomedResources(sampleDoc())
	text, _ := utf16Text(utf16Doc)
	if string(imported) != text {
		t.Fatalf("imported text is not the document as UTF-8:\n%s", imported)
	}
	got, err := contacts.ParseHomedResources(imported)
	if err != nil || !reflect.DeepEqual(got, sampleDoc()) {
		t.Fatalf("imported XML %+v, %v", got, err)
	}
	script := e.calls[len(e.calls)-1].script()
	if !strings.Contains(script, "$exe = [Environment]::ExpandEnvironmentVariables('"+defaultDBImpExpPath+"')") ||
		!strings.Contains(script, "Remove-Item -LiteralPath $p") {
		t.Fatalf("import script does not run dbimpexp at its path or keeps its file:\n%s", script)
	}
}

func TestSfBExportImportAndConfig(t *testing.T) {
	zipDoc, err := contacts.WriteUserDataZip(sampleDoc())
	if err != nil {
		t.Fatal(err)
	}
	var imported []byte
	a, e := newTestAgent(t, ProductSkypeForBusiness, func(c call) (Result, error) {
		s := c.script()
		switch {
		case strings.Contains(s, "Update-CsUserData -FileName $p -Confirm:$false"):
			_, file := splitPayload(t, c.data)
			imported, _ = base64.StdEncoding.DecodeString(string(file))
			// The read-back exports each user alone.
			var out strings.Builder
			for _, r := range sampleDoc().Resources {
				z, _ := contacts.WriteUserDataZip(&contacts.Document{Resources: []contacts.Resource{r}})
				out.WriteString(frame(string(z)))
			}
			return ok(out.String())
		case strings.Contains(s, "Export-CsUserData -PoolFqdn 'ocs2.corp.example.com' -FileName $p"):
			return ok(frame(string(zipDoc)))
		case strings.Contains(s, "Export-CsConfiguration -FileName $p"):
			return ok(frame("PK-config"))
		}
		return Result{ExitCode: 1}, nil
	})
	ctx := context.Background()
	doc, err := a.ExportContacts(ctx, "ocs2", nil)
	if err != nil || !reflect.DeepEqual(doc, sampleDoc()) {
		t.Fatalf("export: %+v, %v", doc, err)
	}
	res, err := a.ImportContacts(ctx, "ocs2", sampleDoc())
	if err != nil || len(res) != 2 || !res[0].OK || !res[1].OK {
		t.Fatalf("import: %+v, %v", res, err)
	}
	got, err := contacts.ReadUserDataZip(imported)
	if err != nil || !reflect.DeepEqual(got, sampleDoc()) {
		t.Fatalf("imported ZIP: %+v, %v", got, err)
	}
	files, err := a.ExportConfiguration(ctx, "ocs2")
	if err != nil || len(files) != 1 || string(files[0].Data) != "PK-config" {
		t.Fatalf("config: %+v, %v", files, err)
	}
	if len(e.calls) != 3 {
		t.Fatalf("%d commands, want 3", len(e.calls))
	}
}

func TestOCSExportConfiguration(t *testing.T) {
	a, e := newTestAgent(t, ProductOCS2007R2, func(c call) (Result, error) {
		if strings.Contains(c.script(), "MSFT_SIPPoolSetting") {
			return ocsAnswer(c)
		}
		return ok("Export succeeded.\r\n" + frame("<global/>") + frame("<pool/>") + frame("<machine/>"))
	})
	files, err := a.ExportConfiguration(context.Background(), "ocs1")
	if err != nil {
		t.Fatal(err)
	}
	want := []ConfigFile{{Name: "global.xml", Data: []byte("<global/>")}, {Name: "pool.xml", Data: []byte("<pool/>")},
		{Name: "machine-ocs1.corp.example.com.xml", Data: []byte("<machine/>")}}
	if !reflect.DeepEqual(files, want) {
		t.Fatalf("got %+v", files)
	}
	script := e.calls[len(e.calls)-1].script()
	for _, level := range []string{"global", "pool", "machine"} {
		if !strings.Contains(script, "& $exe /config /action:export /level:"+level+" \"/poolname:$pool\" \"/configfile:$p\"") {
			t.Fatalf("no %s export with /poolname in:\n%s", level, script)
		}
	}
	if !strings.Contains(script, "$pool = 'ocs1'") || strings.Contains(script, "/fqdn") || strings.Contains(script, "global,pool") {
		t.Fatalf("script:\n%s", script)
	}
}

func TestPoolNameOf(t *testing.T) {
	tests := map[string]struct {
		dn, want string
		ok       bool
	}{
		"Standard Edition":      {dn1, "ocs1", true},
		"escaped comma":         {`CN=LC Services,CN=Microsoft,CN=pool\,one,CN=Pools,CN=RTC Service,DC=x`, "pool,one", true},
		"System container":      {`CN=LC Services,CN=Microsoft,CN=EEPool01,cn=pools,CN=RTC Service,CN=Microsoft,CN=System,DC=x`, "EEPool01", true},
		"no Pools container":    {`CN=x,DC=y`, "", false},
		"Pools at the very top": {`CN=Pools,DC=y`, "", false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, ok := poolNameOf(tc.dn)
			if got != tc.want || ok != tc.ok {
				t.Fatalf("poolNameOf(%q) = %q, %v", tc.dn, got, ok)
			}
		})
	}
}

func TestCommandFailuresCarryReadableMessages(t *testing.T) {
	tests := map[string]struct {
		product Product
		run     func(a Agent) error
		answer  Result
		want    *CommandError
	}{
		"a move script that dies reports the CLIXML message": {
			product: ProductOCS2007R2,
			run: func(a Agent) error {
				_, err := a.MoveUsers(context.Background(), "ocs1", []string{"sip:a@corp.example.com"}, "ocs2", false)
				return err
			},
			answer: Result{ExitCode: 1, Stderr: []byte(clixmlSample)},
			want:   &CommandError{Server: "ocs1", Op: OpMoveUsers, ExitCode: 1, Message: "Get-WmiObject : Invalid class"},
		},
		"a failed SfB import reports the caught message": {
			product: ProductSkypeForBusiness,
			run: func(a Agent) error {
				_, err := a.ImportContacts(context.Background(), "ocs2", sampleDoc())
				return err
			},
			answer: Result{ExitCode: 1, Stdout: []byte(frame("\"\",\"Failed\",\"The file is \"\"corrupt\"\".\""))},
			want:   &CommandError{Server: "ocs2", Op: OpImportContacts, ExitCode: 1, Message: `The file is "corrupt".`},
		},
		"an OCS import that dbimpexp fails reports its output": {
			product: ProductOCS2007R2,
			run: func(a Agent) error {
				_, err := a.ImportContacts(context.Background(), "ocs2", sampleDoc())
				return err
			},
			answer: Result{ExitCode: 5, Stdout: []byte(frame(`"","Failed","DBImpExp.exe /import exited with 5: Cannot open the database."`))},
			want:   &CommandError{Server: "ocs2", Op: OpImportContacts, ExitCode: 5, Message: "DBImpExp.exe /import exited with 5: Cannot open the database."},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			a, _ := newTestAgent(t, tc.product, func(c call) (Result, error) {
				if strings.Contains(c.script(), "MSFT_SIPPoolSetting") {
					return ocsAnswer(c)
				}
				return tc.answer, nil
			})
			err := tc.run(a)
			var ce *CommandError
			if !errors.As(err, &ce) || !reflect.DeepEqual(ce, tc.want) {
				t.Fatalf("err = %#v, want %#v", err, tc.want)
			}
		})
	}
}

// splitPayload splits an import's uploaded data into its read-back user lines and its file.
func splitPayload(t *testing.T, data string) (users string, file []byte) {
	t.Helper()
	u, f, ok := strings.Cut(data, "\n\n")
	if !ok {
		t.Fatalf("payload without a blank line: %q", data)
	}
	return u, []byte(f)
}

// TestImportIsJudgedByTheReadBack: the import of three users succeeds as a command, but the
// read-back of one of them lacks an imported contact and another's lacks a container member:
// exactly those two are reported failed, whatever the tool printed.
func TestImportIsJudgedByTheReadBack(t *testing.T) {
	want := &contacts.Document{Resources: []contacts.Resource{
		{UserAtHost: "a@corp.example.com", Contacts: []contacts.Contact{{Buddy: "x@corp.example.com"}}},
		{UserAtHost: "b@corp.example.com", Contacts: []contacts.Contact{{Buddy: "x@corp.example.com"}, {Buddy: "y@corp.example.com"}}},
		{UserAtHost: "c@corp.example.com", Containers: []contacts.Container{{Number: 200, Members: []string{"sip:x@corp.example.com"}}}},
	}}
	back := &contacts.Document{Resources: []contacts.Resource{
		// a has more than was imported (a merge keeps the user's own contacts): fine.
		{UserAtHost: "A@corp.example.com", Contacts: []contacts.Contact{{Buddy: "own@corp.example.com"}, {Buddy: "X@corp.example.com"}}},
		{UserAtHost: "b@corp.example.com", Contacts: []contacts.Contact{{Buddy: "x@corp.example.com"}}},
		{UserAtHost: "c@corp.example.com"},
	}}
	for _, product := range []Product{ProductOCS2007R2, ProductSkypeForBusiness} {
		t.Run(string(product), func(t *testing.T) {
			a, _ := newTestAgent(t, product, func(c call) (Result, error) {
				if strings.Contains(c.script(), "MSFT_SIPPoolSetting") {
					return ocsAnswer(c)
				}
				if !strings.Contains(c.script(), "Update-CsUserData") && strings.Contains(c.script(), "-UserFilter 'a@corp.example.com'") {
					// The first restore on a Skype for Business agent fetches a package to shape its own on.
					z, _ := contacts.WriteUserDataZip(&contacts.Document{})
					return ok(frame(string(z)))
				}
				var out strings.Builder
				out.WriteString("DBImpExp: imported 3 of 3 homed resources.\r\n")
				for _, r := range back.Resources {
					one := &contacts.Document{Resources: []contacts.Resource{r}}
					var data []byte
					if product == ProductOCS2007R2 {
						data, _ = contacts.MarshalHomedResources(one)
					} else {
						data, _ = contacts.WriteUserDataZip(one)
					}
					out.WriteString(frame(string(data)))
				}
				return ok(out.String())
			})
			res, err := a.ImportContacts(context.Background(), "ocs1", want)
			if err != nil {
				t.Fatal(err)
			}
			if !res[0].OK || res[1].OK || res[2].OK {
				t.Fatalf("results %+v", res)
			}
			if !strings.Contains(res[1].Message, "contact y@corp.example.com") || !strings.Contains(res[2].Message, "container 200 member sip:x@corp.example.com") {
				t.Fatalf("messages %q / %q", res[1].Message, res[2].Message)
			}
		})
	}
}

// gunzipForTest decompresses a gzipped upload.
func gunzipForTest(t *testing.T, data []byte) []byte {
	t.Helper()
	z, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		t.Errorf("upload is not gzip: %v", err)
		return nil
	}
	out, err := io.ReadAll(z)
	if err != nil {
		t.Errorf("upload is not gzip: %v", err)
	}
	return out
}
