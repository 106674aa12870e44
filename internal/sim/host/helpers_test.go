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

type result struct {
	stdout, stderr string
	code           int
}

func newTestWorld(t *testing.T, users, contactsPerUser int) *World {
	t.Helper()
	return newProductWorld(t, ProductOCS2007R2, users, contactsPerUser)
}

// newSfBWorld is a Skype for Business site: the Cs cmdlets, no MSFT_SIP* classes.
func newSfBWorld(t *testing.T, users, contactsPerUser int) *World {
	t.Helper()
	return newProductWorld(t, ProductSkypeForBusiness, users, contactsPerUser)
}

// newProductWorld is a site whose powershell.exe does not wrap: these tests read the programs'
// answers line by line (wrap_test.go and the agent's tests run at the default width).
func newProductWorld(t *testing.T, product Product, users, contactsPerUser int) *World {
	t.Helper()
	w, err := NewWorld(Config{
		Product: product, Profile: Profile{ConsoleWidth: -1},
		Servers: []ServerConfig{{Name: "ocs1"}, {Name: "ocs2"}},
		Users:   users, ContactsPerUser: contactsPerUser, Seed: 7,
	})
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// runProg runs one emulated program as cmd.exe would hand it over.
func runProg(t *testing.T, w *World, server, prog string, args []string, stdin string) result {
	t.Helper()
	return runProgCtx(context.Background(), t, w, server, prog, args, stdin)
}

func runProgCtx(ctx context.Context, t *testing.T, w *World, server, prog string, args []string, stdin string) result {
	t.Helper()
	p := w.Programs(server)[programKey(prog)]
	if p == nil {
		t.Fatalf("no program %s on %s", prog, server)
	}
	var out, errb bytes.Buffer
	proc := &cmdexe.Proc{Name: prog + ".exe", Args: args, RawArgs: strings.Join(args, " "), Stdin: strings.NewReader(stdin),
		Stdout: &out, Stderr: &errb, FS: w.FS(server), Env: map[string]string{"TEMP": winfs.TempDir}}
	code := p(ctx, proc)
	return result{out.String(), errb.String(), code}
}

// runPS sends a script as -EncodedCommand; data, when given, waits in %TEMP%\ocsha-in.txt (read
// with inFile), as the agent uploads its data before a script runs.
func runPS(t *testing.T, w *World, server, script, data string) result {
	t.Helper()
	if data != "" {
		if err := w.FS(server).WriteFile(winfs.TempDir+`\ocsha-in.txt`, []byte(data)); err != nil {
			t.Fatal(err)
		}
	}
	return runProg(t, w, server, "powershell", []string{"-NoProfile", "-NonInteractive", "-EncodedCommand", ps.EncodeCommand(script)}, "")
}

// inFile is the script expression reading runPS's data.
const inFile = "[IO.File]::ReadAllText((Join-Path $env:TEMP 'ocsha-in.txt'))"

func (w *World) dbOf(server, userAtHost string) (int, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	r, ok := w.server(server).db[strings.ToLower(userAtHost)]
	return r.Count(), ok
}

func homeOf(w *World, sip string) string {
	for _, u := range w.Users() {
		if u.SIP == sip {
			return u.Home
		}
	}
	return ""
}

func encode(s string) string { return ps.EncodeCommand(s) }

// programKey is the Programs key of a program the tests name by its base name.
func programKey(prog string) string {
	switch prog {
	case "dbimpexp":
		return strings.ToLower(DBImpExpPath)
	case "lcscmd":
		return strings.ToLower(LcscmdPath)
	}
	return prog
}
