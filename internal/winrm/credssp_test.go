package winrm_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ocsha/ocs-ha-operator/internal/sim"
	"github.com/ocsha/ocs-ha-operator/internal/winrm"
)

// credsspPool returns a pool whose one target logs on to e's server with CredSSP as username.
func credsspPool(t *testing.T, e *sim.Emulator, endpoint, username, password string, maxConcurrent int) *winrm.Pool {
	t.Helper()
	p := winrm.NewPool(winrm.Options{Backoff: time.Millisecond, MaxConcurrent: maxConcurrent})
	t.Cleanup(p.Close)
	if err := p.SetTargets([]winrm.Target{{Server: "ocs1", Endpoint: endpoint, Auth: winrm.AuthCredSSP,
		Username: username, Password: password, CACert: e.CACertPEM()}}); err != nil {
		t.Fatal(err)
	}
	return p
}

// credsspOnly is a listener as Windows is with Enable-WSManCredSSP -Role Server and its other
// defaults: CredSSP offered, unencrypted bodies refused over HTTP.
func credsspOnly(tls bool, failures *logonFailures) sim.Config {
	return sim.Config{TLS: tls, RequireEncryption: true, Auth: []string{"credssp"}, NetBIOSDomain: "CORP",
		OnLogonFailure: failures.record}
}

// TestCredSSPAgainstTheEmulator runs the CredSSP transport over HTTPS and, encrypted, over plain
// HTTP: each user name form, large stdin, exit codes, and a wrong password refused with a 401.
func TestCredSSPAgainstTheEmulator(t *testing.T) {
	for _, tls := range []bool{false, true} {
		t.Run(fmt.Sprintf("tls=%v", tls), func(t *testing.T) {
			var failures logonFailures
			e := startProtoWith(t, credsspOnly(tls, &failures))
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			for _, user := range []string{`CORP\` + sim.DefaultUsername, sim.DefaultUsername + "@corp.example.com"} {
				p := credsspPool(t, e, e.Endpoint("ocs1"), user, sim.DefaultPassword, 2)
				payload := strings.Repeat("0123456789", 25_000) // 250 KB: several encrypted Sends of many parts
				res, err := p.Run(ctx, "ocs1", "stdinlen", []byte(payload))
				if err != nil || strings.TrimSpace(string(res.Stdout)) != fmt.Sprint(len(payload)) {
					t.Fatalf("%s: stdin: %q, %v", user, res.Stdout, err)
				}
				res, err = p.Run(ctx, "ocs1", "exit3", nil)
				if err != nil || res.ExitCode != 3 || string(res.Stderr) != "bad\r\n" {
					t.Fatalf("%s: exit3: %+v, %v", user, res, err)
				}
			}
			if f := failures.list(); len(f) != 0 {
				t.Fatalf("the emulator refused logons: %v", f)
			}

			bad := credsspPool(t, e, e.Endpoint("ocs1"), `CORP\`+sim.DefaultUsername, "wrong-"+sim.DefaultPassword, 2)
			_, err := bad.Run(ctx, "ocs1", "exit3", nil)
			if !errors.Is(err, winrm.ErrUnauthorized) || !winrm.IsTerminal(err) || !strings.Contains(err.Error(), "401") ||
				!strings.Contains(err.Error(), "STATUS_LOGON_FAILURE") || strings.Contains(err.Error(), sim.DefaultPassword) {
				t.Fatalf("wrong password: %v", err)
			}
			if len(failures.list()) == 0 {
				t.Fatal("the emulator saw no failed logon")
			}
		})
	}
}

// TestCredSSPNeverFallsBack: a listener without CredSSP gets no NTLM or Basic logon instead, and
// the error says what to enable.
func TestCredSSPNeverFallsBack(t *testing.T) {
	var failures logonFailures
	e := startProtoWith(t, sim.Config{Auth: []string{"basic", "ntlm"}, OnLogonFailure: failures.record})
	tap := startWireTap(t, strings.TrimSuffix(strings.TrimPrefix(e.Endpoint("ocs1"), "http://"), "/wsman"))
	p := credsspPool(t, e, "http://"+tap.ln.Addr().String()+"/wsman", `CORP\`+sim.DefaultUsername, sim.DefaultPassword, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := p.Run(ctx, "ocs1", "exit3", nil)
	if !errors.Is(err, winrm.ErrUnauthorized) || !strings.Contains(err.Error(), "Enable-WSManCredSSP") {
		t.Fatalf("err = %v", err)
	}
	for _, reqs := range tap.requests(t) {
		for _, r := range reqs {
			if a := r.Header.Get("Authorization"); !strings.HasPrefix(a, "CredSSP ") {
				t.Errorf("request with Authorization %q", a)
			}
		}
	}
}

// TestCredSSPEncryptsEveryBodyOnTheWire reads both directions over plain HTTP: after the logon's
// legs (empty bodies) every body is CredSSP-encrypted, and neither the command, its stdin, its
// output, the account nor the password appears.
func TestCredSSPEncryptsEveryBodyOnTheWire(t *testing.T) {
	var failures logonFailures
	e := startProtoWith(t, credsspOnly(false, &failures))
	tap := startWireTap(t, strings.TrimSuffix(strings.TrimPrefix(e.Endpoint("ocs1"), "http://"), "/wsman"))
	p := credsspPool(t, e, "http://"+tap.ln.Addr().String()+"/wsman", `CORP\`+sim.DefaultUsername, sim.DefaultPassword, 2)
	const marker = "stdin-marker-7f3a"
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := p.Run(ctx, "ocs1", "stdinlen", []byte(marker))
	if err != nil || strings.TrimSpace(string(res.Stdout)) != strconv.Itoa(len(marker)) {
		t.Fatalf("stdinlen: %q, %v", res.Stdout, err)
	}
	for dir, wire := range map[string][]byte{"request": tap.bytes(), "response": tap.received()} {
		for _, clear := range []string{"Envelope", "<s:", "stdinlen", marker, "ShellId", sim.DefaultPassword,
			sim.DefaultUsername, "NTLMSSP", "Authorization: Basic", "Authorization: Negotiate"} {
			if bytes.Contains(wire, []byte(clear)) {
				t.Errorf("%q travelled in the clear in a %s", clear, dir)
			}
		}
	}
	encrypted := 0
	for i, reqs := range tap.requests(t) {
		for j, req := range reqs {
			body, _ := io.ReadAll(req.Body)
			leg := strings.HasPrefix(req.Header.Get("Authorization"), "CredSSP ")
			switch {
			case leg && len(body) == 0:
			case !leg && strings.Contains(req.Header.Get("Content-Type"), `protocol="application/HTTP-CredSSP-session-encrypted"`) &&
				bytes.HasPrefix(body, []byte("--Encrypted Boundary\r\n")):
				encrypted++
			default:
				t.Errorf("connection %d request %d: Authorization %q, Content-Type %q, %d bytes",
					i, j, req.Header.Get("Authorization"), req.Header.Get("Content-Type"), len(body))
			}
		}
	}
	// Create, Command, Send, Receive, Signal: the shell stays open for the next command.
	if encrypted < 5 {
		t.Fatalf("%d encrypted messages, want at least 5", encrypted)
	}
}

// TestCredSSPParallelCommands runs 20 commands at once on one target: each request keeps its
// logon and its messages on one connection, so none is refused.
func TestCredSSPParallelCommands(t *testing.T) {
	for _, tls := range []bool{false, true} {
		t.Run(fmt.Sprintf("tls=%v", tls), func(t *testing.T) {
			var failures logonFailures
			e := startProtoWith(t, credsspOnly(tls, &failures))
			p := credsspPool(t, e, e.Endpoint("ocs1"), `CORP\`+sim.DefaultUsername, sim.DefaultPassword, 20)
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			errs := make(chan error, 20)
			for i := range 20 {
				go func() {
					res, err := p.Run(ctx, "ocs1", "stdinlen", bytes.Repeat([]byte("x"), i))
					if err == nil && strings.TrimSpace(string(res.Stdout)) != strconv.Itoa(i) {
						err = fmt.Errorf("command %d printed %q", i, res.Stdout)
					}
					errs <- err
				}()
			}
			for range 20 {
				if err := <-errs; err != nil {
					t.Error(err)
				}
			}
			if f := failures.list(); len(f) != 0 {
				t.Errorf("the emulator refused %d logons: %v", len(f), f)
			}
		})
	}
}

// TestCredSSPReusesItsLogon: commands one after the other run on one authenticated connection,
// logged on once, not a handshake per command.
func TestCredSSPReusesItsLogon(t *testing.T) {
	var failures logonFailures
	e := startProtoWith(t, credsspOnly(false, &failures))
	tap := startWireTap(t, strings.TrimSuffix(strings.TrimPrefix(e.Endpoint("ocs1"), "http://"), "/wsman"))
	p := credsspPool(t, e, "http://"+tap.ln.Addr().String()+"/wsman", `CORP\`+sim.DefaultUsername, sim.DefaultPassword, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for range 10 {
		if res, err := p.Run(ctx, "ocs1", "exit3", nil); err != nil || res.ExitCode != 3 {
			t.Fatalf("%+v, %v", res, err)
		}
	}
	logons, messages := 0, 0
	for _, reqs := range tap.requests(t) {
		for _, r := range reqs {
			token, isLeg := strings.CutPrefix(r.Header.Get("Authorization"), "CredSSP ")
			raw, _ := base64.StdEncoding.DecodeString(token)
			switch {
			case isLeg && len(raw) > 5 && raw[0] == 22 && raw[5] == 1: // a handshake record holding a ClientHello
				logons++
			case !isLeg:
				messages++
			}
		}
	}
	// 10 commands in one kept shell: at least Command, Receive and Signal each.
	if tap.connections() != 1 || logons != 1 || messages < 30 {
		t.Fatalf("%d connections, %d logons for %d messages; want 1 connection logged on once", tap.connections(), logons, messages)
	}
}

// TestCredSSPLogsOnAgainAfterAServerRestart: a crash drops the connections and their logons; the
// next command logs on again.
func TestCredSSPLogsOnAgainAfterAServerRestart(t *testing.T) {
	var failures logonFailures
	e := startProtoWith(t, credsspOnly(false, &failures))
	p := credsspPool(t, e, e.Endpoint("ocs1"), `CORP\`+sim.DefaultUsername, sim.DefaultPassword, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := p.Run(ctx, "ocs1", "exit3", nil); err != nil {
		t.Fatal(err)
	}
	for _, action := range []string{"crash", "start"} {
		if err := adminPost(e, "/servers/ocs1/"+action); err != nil {
			t.Fatal(err)
		}
	}
	if res, err := p.Run(ctx, "ocs1", "exit3", nil); err != nil || res.ExitCode != 3 {
		t.Fatalf("after restart: %+v, %v", res, err)
	}
}

// TestCredSSPLeavesNoGoroutinesBehind: Close releases every lane, and a refused logon leaves no
// TLS handshake waiting.
func TestCredSSPLeavesNoGoroutinesBehind(t *testing.T) {
	var failures logonFailures
	e := startProtoWith(t, credsspOnly(false, &failures))
	before := runtime.NumGoroutine()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, password := range []string{sim.DefaultPassword, "wrong"} {
		p := winrm.NewPool(winrm.Options{MaxConcurrent: 4, Attempts: 1})
		if err := p.SetTargets([]winrm.Target{{Server: "ocs1", Endpoint: e.Endpoint("ocs1"), Auth: winrm.AuthCredSSP,
			Username: `CORP\` + sim.DefaultUsername, Password: password}}); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := p.Run(ctx, "ocs1", "stdinlen", []byte("data"))
				if (err == nil) != (password == sim.DefaultPassword) {
					t.Errorf("password %q: %v", password, err)
				}
			}()
		}
		wg.Wait()
		p.Close()
	}
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		runtime.Gosched()
		time.Sleep(5 * time.Millisecond) // polling for goroutines to end, bounded by the deadline
	}
	if n := runtime.NumGoroutine(); n > before {
		buf := make([]byte, 1<<16)
		t.Fatalf("%d goroutines left, %d before:\n%s", n, before, buf[:runtime.Stack(buf, true)])
	}
}
