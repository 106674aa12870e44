package winrm_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ocsha/ocs-ha-operator/internal/sim"
	"github.com/ocsha/ocs-ha-operator/internal/sim/ntlm"
	"github.com/ocsha/ocs-ha-operator/internal/winrm"
)

// wireTap is a TCP proxy in front of an endpoint that keeps every byte clients sent through it,
// per connection.
type wireTap struct {
	ln     net.Listener
	target string

	mu    sync.Mutex
	sent  []*bytes.Buffer
	recv  []*bytes.Buffer
	conns []net.Conn
	wg    sync.WaitGroup
}

func startWireTap(t *testing.T, target string) *wireTap {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	w := &wireTap{ln: ln, target: target}
	w.wg.Add(1)
	go w.serve()
	t.Cleanup(w.close)
	return w
}

func (w *wireTap) serve() {
	defer w.wg.Done()
	for {
		c, err := w.ln.Accept()
		if err != nil {
			return
		}
		up, err := net.Dial("tcp", w.target)
		if err != nil {
			_ = c.Close()
			continue
		}
		rec := &lockedWriter{mu: &w.mu, buf: &bytes.Buffer{}}
		back := &lockedWriter{mu: &w.mu, buf: &bytes.Buffer{}}
		w.mu.Lock()
		w.conns = append(w.conns, c, up)
		w.sent = append(w.sent, rec.buf)
		w.recv = append(w.recv, back.buf)
		w.mu.Unlock()
		w.wg.Add(2)
		go func() {
			defer w.wg.Done()
			_, _ = io.Copy(io.MultiWriter(up, rec), c)
			_ = up.Close()
		}()
		go func() {
			defer w.wg.Done()
			_, _ = io.Copy(io.MultiWriter(c, back), up)
			_ = c.Close()
		}()
	}
}

type lockedWriter struct {
	mu  *sync.Mutex
	buf *bytes.Buffer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

// requests parses what each connection carried.
func (w *wireTap) requests(t *testing.T) [][]*http.Request {
	t.Helper()
	w.mu.Lock()
	defer w.mu.Unlock()
	var out [][]*http.Request
	for _, b := range w.sent {
		var reqs []*http.Request
		r := bufio.NewReader(bytes.NewReader(b.Bytes()))
		for {
			req, err := http.ReadRequest(r)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("unreadable request on the wire: %v", err)
			}
			body, _ := io.ReadAll(req.Body)
			req.Body = io.NopCloser(bytes.NewReader(body))
			reqs = append(reqs, req)
		}
		out = append(out, reqs)
	}
	return out
}

func (w *wireTap) bytes() []byte {
	w.mu.Lock()
	defer w.mu.Unlock()
	var all []byte
	for _, b := range w.sent {
		all = append(all, b.Bytes()...)
	}
	return all
}

// received is every byte the endpoint answered, all connections together.
func (w *wireTap) received() []byte {
	w.mu.Lock()
	defer w.mu.Unlock()
	var all []byte
	for _, b := range w.recv {
		all = append(all, b.Bytes()...)
	}
	return all
}

// connections is the number of TCP connections clients opened through the tap.
func (w *wireTap) connections() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.sent)
}

func (w *wireTap) close() {
	_ = w.ln.Close()
	w.mu.Lock()
	for _, c := range w.conns {
		_ = c.Close()
	}
	w.mu.Unlock()
	w.wg.Wait()
}

// ntlmPool returns a pool whose one target logs on to e's server with NTLM as username.
func ntlmPool(t *testing.T, e *sim.Emulator, endpoint, username, password string, maxConcurrent int) *winrm.Pool {
	t.Helper()
	p := winrm.NewPool(winrm.Options{Backoff: time.Millisecond, MaxConcurrent: maxConcurrent})
	t.Cleanup(p.Close)
	if err := p.SetTargets([]winrm.Target{{Server: "ocs1", Endpoint: endpoint, Auth: winrm.AuthNTLM,
		Username: username, Password: password, CACert: e.CACertPEM()}}); err != nil {
		t.Fatal(err)
	}
	return p
}

// logonFailures counts the emulator's refused logons.
type logonFailures struct {
	mu   sync.Mutex
	errs []error
}

func (l *logonFailures) record(_ string, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.errs = append(l.errs, err)
}

func (l *logonFailures) list() []error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]error(nil), l.errs...)
}

// TestNTLMAgainstTheEmulator runs the pool's NTLM transport against a listener configured as
// Windows is by default (unencrypted bodies refused over HTTP): sealed over HTTP, plain over
// HTTPS, with each user name form, stdin, exit codes and a wrong password.
func TestNTLMAgainstTheEmulator(t *testing.T) {
	for _, tls := range []bool{false, true} {
		t.Run(fmt.Sprintf("tls=%v", tls), func(t *testing.T) {
			var failures logonFailures
			e := startProtoWith(t, sim.Config{TLS: tls, RequireEncryption: true, Auth: []string{"ntlm"},
				NetBIOSDomain: "CORP", OnLogonFailure: failures.record})
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			for _, user := range []string{`CORP\` + sim.DefaultUsername, sim.DefaultUsername + "@corp.example.com", sim.DefaultUsername} {
				p := ntlmPool(t, e, e.Endpoint("ocs1"), user, sim.DefaultPassword, 2)
				payload := strings.Repeat("0123456789", 25_000) // 250 KB: several sealed Sends
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

			bad := ntlmPool(t, e, e.Endpoint("ocs1"), `CORP\`+sim.DefaultUsername, "wrong-"+sim.DefaultPassword, 2)
			_, err := bad.Run(ctx, "ocs1", "exit3", nil)
			if !errors.Is(err, winrm.ErrUnauthorized) || !strings.Contains(err.Error(), "401") ||
				strings.Contains(err.Error(), sim.DefaultPassword) {
				t.Fatalf("wrong password: %v", err)
			}
			if f := failures.list(); len(f) == 0 || !errors.Is(f[0], ntlm.ErrLogonFailure) {
				t.Fatalf("the emulator saw %v, want a logon failure", f)
			}
		})
	}
}

// TestNTLMSendsTheDomainAsWritten: the logon names the domain of the user name, not the server's.
func TestNTLMSendsTheDomainAsWritten(t *testing.T) {
	e := startProtoWith(t, sim.Config{RequireEncryption: true, NetBIOSDomain: "LAB"})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tests := map[string]struct {
		user    string
		wantErr error
	}{
		"the server's domain":  {user: `LAB\` + sim.DefaultUsername},
		"the DNS domain's UPN": {user: sim.DefaultUsername + "@corp.example.com"},
		"another domain":       {user: `CORP\` + sim.DefaultUsername, wantErr: winrm.ErrUnauthorized},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			p := ntlmPool(t, e, e.Endpoint("ocs1"), tc.user, sim.DefaultPassword, 1)
			_, err := p.Run(ctx, "ocs1", "exit3", nil)
			if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil) != (err == nil) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
		})
	}
}

// TestNTLMSealsEveryBodyOnTheWire reads what the client sends over plain HTTP: every SOAP body is
// sealed, and neither the command, its stdin nor the password appears.
func TestNTLMSealsEveryBodyOnTheWire(t *testing.T) {
	e := startProtoWith(t, sim.Config{RequireEncryption: true})
	tap := startWireTap(t, strings.TrimSuffix(strings.TrimPrefix(e.Endpoint("ocs1"), "http://"), "/wsman"))
	p := ntlmPool(t, e, "http://"+tap.ln.Addr().String()+"/wsman", `CORP\`+sim.DefaultUsername, sim.DefaultPassword, 2)
	const marker = "stdin-marker-7f3a"
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := p.Run(ctx, "ocs1", "stdinlen", []byte(marker))
	if err != nil || strings.TrimSpace(string(res.Stdout)) != strconv.Itoa(len(marker)) {
		t.Fatalf("stdinlen: %q, %v", res.Stdout, err)
	}
	wire := tap.bytes()
	for _, clear := range []string{"Envelope", "soap+xml;charset=UTF-8\r\n\r\n<", "stdinlen", marker,
		sim.DefaultPassword, "Authorization: Basic"} {
		if bytes.Contains(wire, []byte(clear)) {
			t.Errorf("%q travelled in the clear", clear)
		}
	}
	// On each connection: the two legs of the handshake (empty bodies), then sealed messages only:
	// Create, Command, Send, Receive, Signal, Delete spread over the connections in use.
	sealed := 0
	for i, reqs := range tap.requests(t) {
		for j, req := range reqs {
			body, _ := io.ReadAll(req.Body)
			handshake := strings.HasPrefix(req.Header.Get("Authorization"), "Negotiate ")
			switch {
			case j < 2 && handshake && len(body) == 0:
			case j >= 2 && !handshake && req.Header.Get("Content-Type") == sealedType && bytes.HasPrefix(body, []byte("--Encrypted Boundary\r\n")):
				sealed++
			default:
				t.Errorf("connection %d request %d: Authorization %q, Content-Type %q, %d bytes",
					i, j, req.Header.Get("Authorization"), req.Header.Get("Content-Type"), len(body))
			}
		}
	}
	if sealed < 6 {
		t.Fatalf("%d sealed messages, want at least 6", sealed)
	}
}

const sealedType = `multipart/encrypted;protocol="application/HTTP-SPNEGO-session-encrypted";boundary="Encrypted Boundary"`

// TestNTLMParallelCommands runs 20 commands at once on one target: each request keeps its NTLM
// handshake and its messages on one connection, so none is refused.
func TestNTLMParallelCommands(t *testing.T) {
	for _, tls := range []bool{false, true} {
		t.Run(fmt.Sprintf("tls=%v", tls), func(t *testing.T) {
			var failures logonFailures
			e := startProtoWith(t, sim.Config{TLS: tls, RequireEncryption: true, OnLogonFailure: failures.record})
			p := ntlmPool(t, e, e.Endpoint("ocs1"), `CORP\`+sim.DefaultUsername, sim.DefaultPassword, 20)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
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

// TestNTLMLogsOnAgainAfterAServerRestart: a crash drops the connections and their logons; the
// next message, sent sealed on a new connection, gets a 401 and is resent after a new logon.
func TestNTLMLogsOnAgainAfterAServerRestart(t *testing.T) {
	e := startProtoWith(t, sim.Config{RequireEncryption: true})
	tap := startWireTap(t, strings.TrimSuffix(strings.TrimPrefix(e.Endpoint("ocs1"), "http://"), "/wsman"))
	p := ntlmPool(t, e, "http://"+tap.ln.Addr().String()+"/wsman", `CORP\`+sim.DefaultUsername, sim.DefaultPassword, 1)
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
	// Whether the next message goes out on a connection the transport still believes logged on
	// (and is resent after the 401) or on one it knows is new depends on when the dropped
	// connection is noticed; either way the command must succeed, which is what users see.
	logons := 0
	for _, reqs := range tap.requests(t) {
		for _, r := range reqs {
			if strings.HasPrefix(r.Header.Get("Authorization"), "Negotiate ") {
				logons++
			}
		}
	}
	if logons < 2 {
		t.Fatalf("%d NTLM logons on the wire, want a new one after the restart", logons)
	}
}

func adminPost(e *sim.Emulator, path string) error {
	resp, err := http.Post(e.AdminURL()+path, "application/json", nil)
	if err != nil {
		return err
	}
	_ = resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("POST %s: %s", path, resp.Status)
	}
	return nil
}

// TestNTLMLeavesNoGoroutinesBehind: Close releases every lane's connection.
func TestNTLMLeavesNoGoroutinesBehind(t *testing.T) {
	for _, tls := range []bool{false, true} {
		t.Run(fmt.Sprintf("tls=%v", tls), func(t *testing.T) {
			e := startProtoWith(t, sim.Config{TLS: tls, RequireEncryption: true})
			before := runtime.NumGoroutine()
			p := winrm.NewPool(winrm.Options{MaxConcurrent: 4})
			if err := p.SetTargets([]winrm.Target{{Server: "ocs1", Endpoint: e.Endpoint("ocs1"), Auth: winrm.AuthNTLM,
				Username: `CORP\` + sim.DefaultUsername, Password: sim.DefaultPassword, CACert: e.CACertPEM()}}); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			var wg sync.WaitGroup
			for range 4 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					if _, err := p.Run(ctx, "ocs1", "stdinlen", []byte("data")); err != nil {
						t.Error(err)
					}
				}()
			}
			wg.Wait()
			p.Close()
			deadline := time.Now().Add(10 * time.Second)
			for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
				runtime.Gosched()
				time.Sleep(5 * time.Millisecond) // polling for goroutines to end, bounded by the deadline
			}
			if n := runtime.NumGoroutine(); n > before {
				buf := make([]byte, 1<<16)
				t.Fatalf("%d goroutines left, %d before:\n%s", n, before, buf[:runtime.Stack(buf, true)])
			}
		})
	}
}
