package winrm

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

const testPassword = "S3cr3t-P@ss!word"

func startServer(t *testing.T, tls bool) (*testServer, *httptest.Server) {
	t.Helper()
	ts := newTestServer("admin", testPassword)
	var srv *httptest.Server
	if tls {
		srv = httptest.NewTLSServer(ts)
	} else {
		srv = httptest.NewServer(ts)
	}
	t.Cleanup(srv.Close)
	return ts, srv
}

func newTestPool(t *testing.T, opts Options, targets ...Target) *Pool {
	t.Helper()
	if opts.Backoff == 0 {
		opts.Backoff = time.Millisecond
	}
	p := NewPool(opts)
	if err := p.SetTargets(targets); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}

func basicTarget(srv *httptest.Server) Target {
	return Target{Server: "ocs1", Endpoint: srv.URL + "/wsman", Username: "admin", Password: testPassword, AllowUnencryptedBasic: true}
}

func ctxTimeout(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func TestRunOutputsAndExitCodes(t *testing.T) {
	_, srv := startServer(t, false)
	p := newTestPool(t, Options{}, basicTarget(srv))
	tests := map[string]struct {
		cmd        string
		wantOut    string
		wantErrOut string
		wantCode   int
	}{
		"stdout and exit 0":        {cmd: "echo ok", wantOut: "ok\r\n"},
		"stderr and non-zero exit": {cmd: "fail", wantErrOut: "boom\r\n", wantCode: 3},
		"unknown program":          {cmd: "nope", wantErrOut: "'nope' is not recognized\r\n", wantCode: 9009},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			res, err := p.Run(ctxTimeout(t, 10*time.Second), "ocs1", tc.cmd, nil)
			if err != nil {
				t.Fatal(err)
			}
			if string(res.Stdout) != tc.wantOut || string(res.Stderr) != tc.wantErrOut || res.ExitCode != tc.wantCode {
				t.Fatalf("got %q %q %d", res.Stdout, res.Stderr, res.ExitCode)
			}
		})
	}
}

func TestRunStreamsStdinInPieces(t *testing.T) {
	ts, srv := startServer(t, false)
	p := newTestPool(t, Options{}, basicTarget(srv))
	for _, size := range []int{0, 10, maxSendChunk, 250_000} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			payload := bytes.Repeat([]byte("x"), size)
			res, err := p.Run(ctxTimeout(t, 10*time.Second), "ocs1", stdinWaits, payload)
			if err != nil {
				t.Fatal(err)
			}
			if string(res.Stdout) != fmt.Sprint(size) {
				t.Fatalf("server saw %s bytes of stdin, want %d", res.Stdout, size)
			}
		})
	}
	ts.mu.Lock()
	defer ts.mu.Unlock()
	for _, n := range ts.sends {
		if n > maxSendChunk {
			t.Fatalf("a Send carried %d raw bytes, more than %d", n, maxSendChunk)
		}
	}
}

func TestRunRetriesOnlyBeforeTheCommandRuns(t *testing.T) {
	tests := map[string]struct {
		failCreate  int
		failCommand bool
		attempts    int
		wantErr     error
		wantCreates int
		wantCmds    int
	}{
		"a failed Create is retried":        {failCreate: 2, attempts: 3, wantCreates: 3, wantCmds: 1},
		"retries stop after the attempts":   {failCreate: 5, attempts: 3, wantErr: ErrUnreachable, wantCreates: 3},
		"a failed Command is never retried": {failCommand: true, attempts: 3, wantErr: ErrUnreachable, wantCreates: 1, wantCmds: 1},
		"one attempt means no retry":        {failCreate: 1, attempts: 1, wantErr: ErrUnreachable, wantCreates: 1},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			ts, srv := startServer(t, false)
			ts.failCreate, ts.failCommand = tc.failCreate, tc.failCommand
			p := newTestPool(t, Options{Attempts: tc.attempts}, basicTarget(srv))
			_, err := p.Run(ctxTimeout(t, 10*time.Second), "ocs1", "echo x", nil)
			if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil) != (err == nil) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if c := ts.count("Create"); c != tc.wantCreates {
				t.Errorf("Creates = %d, want %d", c, tc.wantCreates)
			}
			if c := ts.count("Command"); c != tc.wantCmds {
				t.Errorf("Commands = %d, want %d", c, tc.wantCmds)
			}
		})
	}
}

func TestRunClassifiesErrorsWithoutLeakingThePassword(t *testing.T) {
	_, plain := startServer(t, false)
	_, secure := startServer(t, true)
	refused := func() string {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		_ = l.Close()
		return "http://" + addr + "/wsman"
	}()
	caPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: secure.Certificate().Raw})
	tests := map[string]struct {
		target  Target
		wantErr error
	}{
		"wrong password is unauthorized": {
			target:  Target{Endpoint: plain.URL + "/wsman", Username: "admin", Password: testPassword + "x", AllowUnencryptedBasic: true},
			wantErr: ErrUnauthorized,
		},
		"refused connection is unreachable": {
			target:  Target{Endpoint: refused, Username: "admin", Password: testPassword, AllowUnencryptedBasic: true},
			wantErr: ErrUnreachable,
		},
		"unknown CA is a TLS error": {
			target:  Target{Endpoint: secure.URL + "/wsman", Username: "admin", Password: testPassword},
			wantErr: ErrTLS,
		},
		"HTTPS to an HTTP listener is a TLS error": {
			target:  Target{Endpoint: strings.Replace(plain.URL, "http:", "https:", 1) + "/wsman", Username: "admin", Password: testPassword},
			wantErr: ErrTLS,
		},
		"the CA makes HTTPS work": {
			target: Target{Endpoint: secure.URL + "/wsman", Username: "admin", Password: testPassword, CACert: caPEM},
		},
		"insecure skip verify makes HTTPS work": {
			target: Target{Endpoint: secure.URL + "/wsman", Username: "admin", Password: testPassword, InsecureSkipVerify: true},
		},
		// Basic would send the password; a target configured for NTLM must not downgrade.
		"NTLM never falls back to Basic over HTTP": {
			target:  Target{Endpoint: plain.URL + "/wsman", Auth: AuthNTLM, Username: "admin", Password: testPassword},
			wantErr: ErrUnauthorized,
		},
		"NTLM never falls back to Basic over HTTPS": {
			target:  Target{Endpoint: secure.URL + "/wsman", Auth: AuthNTLM, Username: "admin", Password: testPassword, CACert: caPEM},
			wantErr: ErrUnauthorized,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			tc.target.Server = "ocs1"
			var mu sync.Mutex
			var results []string
			p := newTestPool(t, Options{Metrics: func(server, result string, _ time.Duration) {
				mu.Lock()
				defer mu.Unlock()
				results = append(results, server+"/"+result)
			}}, tc.target)
			res, err := p.Run(ctxTimeout(t, 10*time.Second), "ocs1", "echo hi", nil)
			if tc.wantErr == nil {
				if err != nil || string(res.Stdout) != "hi\r\n" {
					t.Fatalf("got %q, %v", res.Stdout, err)
				}
			} else if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if err != nil && strings.Contains(err.Error(), testPassword) {
				t.Fatalf("error text contains the password: %v", err)
			}
			mu.Lock()
			defer mu.Unlock()
			if len(results) != 1 || results[0] != "ocs1/"+resultOf(err) {
				t.Fatalf("metrics %v", results)
			}
		})
	}
}

func TestSetTargetsErrorsOmitSecrets(t *testing.T) {
	tests := map[string]Target{
		"credentials in the URL": {Server: "a", Endpoint: "https://admin:" + testPassword + "@host:5986/wsman", Password: testPassword},
		"unparsable URL":         {Server: "a", Endpoint: "https://host:" + testPassword + "/wsman", Password: testPassword},
		"bad scheme":             {Server: "a", Endpoint: "ftp://host/wsman", Password: testPassword},
		"bad path":               {Server: "a", Endpoint: "https://host/other", Password: testPassword},
		"bad auth":               {Server: "a", Endpoint: "https://host/wsman", Auth: "Kerberos", Password: testPassword},
		"bad CA":                 {Server: "a", Endpoint: "https://host/wsman", CACert: []byte("junk " + testPassword), Password: testPassword},
		"no server name":         {Endpoint: "https://host/wsman", Password: testPassword},
	}
	for name, tg := range tests {
		t.Run(name, func(t *testing.T) {
			err := NewPool(Options{}).SetTargets([]Target{tg})
			if err == nil {
				t.Fatal("want an error")
			}
			if strings.Contains(err.Error(), testPassword) {
				t.Fatalf("error text contains the password: %v", err)
			}
		})
	}
}

func TestSetTargetsRefusesBasicOverPlainHTTPWhateverTheCase(t *testing.T) {
	tests := map[string]struct {
		target Target
		refuse bool
	}{
		"Basic over http":                   {Target{Endpoint: "http://host:5985/wsman", Auth: AuthBasic}, true},
		"Basic over HTTP in upper case":     {Target{Endpoint: "HTTP://host:5985/wsman", Auth: AuthBasic}, true},
		"Basic over Http in mixed case":     {Target{Endpoint: "Http://host:5985/wsman", Auth: AuthBasic}, true},
		"the default auth is Basic":         {Target{Endpoint: "HTTP://host:5985/wsman"}, true},
		"Basic over http when allowed":      {Target{Endpoint: "HTTP://host:5985/wsman", Auth: AuthBasic, AllowUnencryptedBasic: true}, false},
		"Basic over https":                  {Target{Endpoint: "https://host:5986/wsman", Auth: AuthBasic}, false},
		"Basic over HTTPS in upper case":    {Target{Endpoint: "HTTPS://host:5986/wsman", Auth: AuthBasic}, false},
		"NTLM over http seals the messages": {Target{Endpoint: "HTTP://host:5985/wsman", Auth: AuthNTLM}, false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			tc.target.Server, tc.target.Username, tc.target.Password = "ocs1", "admin", testPassword
			p := NewPool(Options{})
			defer p.Close()
			err := p.SetTargets([]Target{tc.target})
			if !tc.refuse {
				if err != nil {
					t.Fatalf("SetTargets: %v", err)
				}
				return
			}
			var te *TargetError
			if !errors.As(err, &te) || te.Server != "ocs1" {
				t.Fatalf("err = %v, want a *TargetError for ocs1", err)
			}
			if !strings.Contains(err.Error(), "Basic") || strings.Contains(err.Error(), testPassword) {
				t.Fatalf("error %q must name Basic and never the password", err)
			}
		})
	}
}

func TestSetTargetsReplacesClientsOnlyWhenChanged(t *testing.T) {
	p := NewPool(Options{})
	base := Target{Server: "ocs1", Endpoint: "https://host:5986/wsman", Username: "u", Password: "p1"}
	if err := p.SetTargets([]Target{base}); err != nil {
		t.Fatal(err)
	}
	first := p.targets["ocs1"].client
	if err := p.SetTargets([]Target{base}); err != nil {
		t.Fatal(err)
	}
	if p.targets["ocs1"].client != first {
		t.Fatal("an unchanged target got a new client")
	}
	changed := base
	changed.Password = "p2"
	if err := p.SetTargets([]Target{changed}); err != nil {
		t.Fatal(err)
	}
	if p.targets["ocs1"].client == first {
		t.Fatal("a changed password kept the old client")
	}
	if err := p.SetTargets(nil); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Run(context.Background(), "ocs1", "echo", nil); !errors.Is(err, ErrUnknownServer) {
		t.Fatalf("removed server: %v", err)
	}
}

func TestRunHonoursTheDeadline(t *testing.T) {
	ts, srv := startServer(t, false)
	ts.gate = make(chan struct{})
	p := newTestPool(t, Options{}, basicTarget(srv))
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := p.Run(ctx, "ocs1", "echo x", nil)
	if !errors.Is(err, ErrTimeout) {
		t.Fatalf("err = %v, want ErrTimeout", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("Run returned after %v", d)
	}
	ctx2, cancel2 := context.WithCancel(context.Background())
	cancel2()
	if _, err := p.Run(ctx2, "ocs1", "echo x", nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	close(ts.gate) // let the abandoned command finish so the server can close
}

func TestRunLimitsConcurrencyPerServer(t *testing.T) {
	ts, srv := startServer(t, false)
	ts.gate = make(chan struct{})
	p := newTestPool(t, Options{MaxConcurrent: 2}, basicTarget(srv))
	const n = 6
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := p.Run(ctxTimeout(t, 20*time.Second), "ocs1", "echo x", nil)
			errs <- err
		}()
	}
	// Release one Receive at a time, each once two commands are running, so that any excess
	// concurrency would be visible.
	for released := 0; released < n; released++ {
		ts.mu.Lock()
		deadline := time.Now().Add(10 * time.Second)
		for ts.active < min(2, n-released) && time.Now().Before(deadline) {
			waitCond(ts.changed, deadline)
		}
		ts.mu.Unlock()
		ts.gate <- struct{}{}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if ts.maxSeen > 2 {
		t.Fatalf("%d commands ran at once on one server, want at most 2", ts.maxSeen)
	}
	if ts.maxSeen < 2 {
		t.Fatalf("commands never ran two at once (max %d)", ts.maxSeen)
	}
}

// waitCond waits on c (its lock held) until signalled or the deadline passes.
func waitCond(c *sync.Cond, deadline time.Time) {
	t := time.AfterFunc(time.Until(deadline), func() {
		c.L.Lock()
		c.Broadcast()
		c.L.Unlock()
	})
	c.Wait()
	t.Stop()
}

func TestClassify(t *testing.T) {
	tests := map[string]struct {
		err  error
		want error
	}{
		"401":          {errors.New("http response error: 401 - invalid content type"), ErrUnauthorized},
		"403":          {errors.New("http response error: 403 - invalid content type"), ErrUnauthorized},
		"503":          {errors.New("http response error: 503 - invalid content type"), ErrUnreachable},
		"EOF":          {errors.New("unknown error Post \"x\": EOF"), ErrUnreachable},
		"deadline":     {fmt.Errorf("x: %w", context.DeadlineExceeded), ErrTimeout},
		"canceled":     {context.Canceled, context.Canceled},
		"unknown CA":   {fmt.Errorf("x: %w", x509.UnknownAuthorityError{}), ErrTLS},
		"bad hostname": {fmt.Errorf("x: %w", x509.HostnameError{Certificate: &x509.Certificate{}, Host: "h"}), ErrTLS},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got := classify("ocs1", tc.err, "")
			if !errors.Is(got, tc.want) {
				t.Fatalf("classify(%v) = %v, want %v", tc.err, got, tc.want)
			}
		})
	}
	if got := classify("s", errors.New("bad thing pw123 happened"), "pw123"); strings.Contains(got.Error(), "pw123") {
		t.Fatalf("secret not scrubbed: %v", got)
	}
	if !IsTerminal(classify("s", errors.New("http response error: 401 - invalid content type"), "")) {
		t.Fatal("401 must be terminal")
	}
}

func TestRunLeavesNoGoroutinesBehind(t *testing.T) {
	before := runtime.NumGoroutine()
	ts := newTestServer("admin", testPassword)
	srv := httptest.NewServer(ts)
	p := NewPool(Options{Backoff: time.Millisecond})
	if err := p.SetTargets([]Target{basicTarget(srv)}); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ {
		if _, err := p.Run(ctxTimeout(t, 10*time.Second), "ocs1", stdinWaits, []byte("data")); err != nil {
			t.Fatal(err)
		}
	}
	ts.gate = make(chan struct{})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	if _, err := p.Run(ctx, "ocs1", "echo x", nil); !errors.Is(err, ErrTimeout) {
		t.Fatalf("err = %v", err)
	}
	cancel()
	close(ts.gate)
	// The abandoned command finishes in the background; wait for its slot before closing.
	poll(10*time.Second, func() bool { return ts.count("Delete") >= 6 })
	p.Close()
	srv.Close()
	if !poll(10*time.Second, func() bool { return runtime.NumGoroutine() <= before+1 }) {
		n := runtime.NumGoroutine()
		buf := make([]byte, 1<<16)
		t.Fatalf("%d goroutines left, %d before:\n%s", n, before, buf[:runtime.Stack(buf, true)])
	}
}

// poll checks cond every few milliseconds until it holds or the timeout passes.
func poll(timeout time.Duration, cond func() bool) bool {
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(timeout)
	for !cond() {
		select {
		case <-tick.C:
		case <-deadline:
			return cond()
		}
	}
	return true
}

// A probe never queues behind long commands: it has a slot of its own.
func TestRunGivesProbesTheirOwnSlot(t *testing.T) {
	ts, srv := startServer(t, false)
	ts.gate = make(chan struct{})
	p := newTestPool(t, Options{MaxConcurrent: 1}, basicTarget(srv))
	long := make(chan error, 1)
	go func() {
		_, err := p.Run(ctxTimeout(t, 20*time.Second), "ocs1", "echo long", nil)
		long <- err
	}()
	ts.mu.Lock()
	deadline := time.Now().Add(10 * time.Second)
	for ts.active < 1 && time.Now().Before(deadline) {
		waitCond(ts.changed, deadline)
	}
	ts.mu.Unlock()
	// The only ordinary slot is held: an unmarked command would wait past its deadline.
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	_, err := p.Run(ctx, "ocs1", "echo queued", nil)
	cancel()
	if !errors.Is(err, ErrTimeout) {
		t.Fatalf("a command behind a full pool: %v, want a timeout", err)
	}
	probe := make(chan error, 1)
	go func() {
		_, err := p.Run(AsProbe(ctxTimeout(t, 20*time.Second)), "ocs1", "echo probe", nil)
		probe <- err
	}()
	// The probe runs while the long command still holds the ordinary slot.
	ts.mu.Lock()
	deadline = time.Now().Add(10 * time.Second)
	for ts.active < 2 && time.Now().Before(deadline) {
		waitCond(ts.changed, deadline)
	}
	active := ts.active
	ts.mu.Unlock()
	ts.gate <- struct{}{}
	ts.gate <- struct{}{}
	if active < 2 {
		t.Fatalf("the probe waited behind the long command (%d running)", active)
	}
	for _, c := range []chan error{long, probe} {
		if err := <-c; err != nil {
			t.Fatal(err)
		}
	}
}
