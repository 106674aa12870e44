package wsman

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/masterzen/winrm"

	"github.com/ocsha/ocs-ha-operator/internal/sim/cmdexe"
	"github.com/ocsha/ocs-ha-operator/internal/sim/winfs"
)

const (
	testUser     = "ocsadmin"
	testPassword = "S3cret!"
)

// testEnv is a handler behind a real HTTP server, with a recorder of every response.
type testEnv struct {
	h        *Handler
	srv      *httptest.Server
	maxBody  atomic.Int64
	timeouts atomic.Int64
	// release unblocks the "wait" program.
	release chan struct{}
	started chan struct{}
}

type recorder struct {
	http.ResponseWriter
	status int
	buf    bytes.Buffer
}

func (r *recorder) WriteHeader(s int) { r.status = s; r.ResponseWriter.WriteHeader(s) }
func (r *recorder) Write(p []byte) (int, error) {
	r.buf.Write(p)
	return r.ResponseWriter.Write(p)
}

func newTestEnv(t *testing.T, mod func(*Config)) *testEnv {
	t.Helper()
	e := &testEnv{release: make(chan struct{}), started: make(chan struct{}, 100)}
	programs := map[string]cmdexe.Program{
		"digest": func(_ context.Context, p *cmdexe.Proc) int {
			data, err := io.ReadAll(p.Stdin)
			if err != nil {
				return 2
			}
			fmt.Fprintf(p.Stdout, "%d %x\r\n", len(data), sha256.Sum256(data))
			return 0
		},
		"big": func(_ context.Context, p *cmdexe.Proc) int {
			n, _ := strconv.Atoi(p.Args[0])
			line := strings.Repeat("é", 40) + "\r\n" // multi-byte characters test the split
			for written := 0; written < n; written += len(line) {
				_, _ = io.WriteString(p.Stdout, line)
			}
			return 0
		},
		"wait": func(ctx context.Context, p *cmdexe.Proc) int {
			e.started <- struct{}{}
			select {
			case <-e.release:
				fmt.Fprint(p.Stdout, "released\r\n")
				return 3
			case <-ctx.Done():
				return 1
			}
		},
	}
	fs := winfs.New()
	cfg := Config{
		Username: testUser, Password: testPassword,
		Runner: func(ctx context.Context, line string, stdin io.Reader, stdout, stderr io.Writer) int {
			info, _ := ShellFromContext(ctx)
			return cmdexe.Run(ctx, cmdexe.Options{Programs: programs, FS: fs, CodePage: info.CodePage,
				Env: cmdexe.NewEnvironment("TEMP", winfs.TempDir)}, line, stdin, stdout, stderr)
		},
	}
	if mod != nil {
		mod(&cfg)
	}
	e.h = NewHandler(cfg)
	e.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &recorder{ResponseWriter: w, status: 200}
		e.h.ServeHTTP(rec, r)
		if n := int64(rec.buf.Len()); n > e.maxBody.Load() {
			e.maxBody.Store(n)
		}
		if strings.Contains(rec.buf.String(), "w:TimedOut") {
			e.timeouts.Add(1)
		}
	}))
	e.srv.Start()
	t.Cleanup(func() {
		e.srv.Close()
		e.h.Close()
	})
	return e
}

func (e *testEnv) client(t *testing.T, params *winrm.Parameters) *winrm.Client {
	t.Helper()
	u, err := url.Parse(e.srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	port, _ := strconv.Atoi(u.Port())
	if params == nil {
		params = winrm.DefaultParameters
	}
	c, err := winrm.NewClientWithParameters(winrm.NewEndpoint(u.Hostname(), port, false, false, nil, nil, nil, 30*time.Second), testUser, testPassword, params)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, d time.Duration, cond func() bool, msg string) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting: %s", msg)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestMasterzenCommands(t *testing.T) {
	e := newTestEnv(t, nil)
	c := e.client(t, nil)
	tooLong := "echo " + strings.Repeat("x", 8192-5)
	tests := []struct {
		name, cmd, stdout, stderr string
		code                      int
	}{
		{"echo", "echo ok", "ok\r\n", "", 0},
		{"split streams", "echo out && echo err>&2 && exit 1", "out \r\n", "err \r\n", 1},
		{"unknown program", "lcscmdx /x", "", "'lcscmdx' is not recognized as an internal or external command,\r\noperable program or batch file.\r\n", 9009},
		{"8192 characters", tooLong, "", "The command line is too long.\r\n", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, errs, code, err := c.RunCmdWithContext(context.Background(), tt.cmd)
			if err != nil {
				t.Fatal(err)
			}
			if out != tt.stdout || errs != tt.stderr || code != tt.code {
				t.Errorf("got %q, %q, %d; want %q, %q, %d", out, errs, code, tt.stdout, tt.stderr, tt.code)
			}
		})
	}
	// Over CreateProcess's 32767 the Command itself faults; masterzen reports it as an error.
	if _, _, code, err := c.RunCmdWithContext(context.Background(), strings.Repeat("x", 32768)); err == nil || code != 1 {
		t.Errorf("32768-character command: code %d err %v, want an error", code, err)
	}
	eventually(t, 5*time.Second, func() bool { return e.h.ShellCount() == 0 }, "shells deleted")
}

func TestStdinThroughSend(t *testing.T) {
	e := newTestEnv(t, nil)
	c := e.client(t, nil)
	payload := strings.Repeat("0123456789abcdef", 5<<20/16)
	out, errs, code, err := c.RunWithContextWithString(context.Background(), "digest", payload)
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("%d %x\r\n", len(payload), sha256.Sum256([]byte(payload)))
	if out != want || errs != "" || code != 0 {
		t.Errorf("got %q, %q, %d; want %q", out, errs, code, want)
	}
}

func TestLargeOutputSplit(t *testing.T) {
	e := newTestEnv(t, nil)
	c := e.client(t, nil)
	before := e.h.Receives()
	out, _, code, err := c.RunCmdWithContext(context.Background(), "big 1048576")
	if err != nil || code != 0 {
		t.Fatalf("code %d err %v", code, err)
	}
	line := strings.Repeat("é", 40) + "\r\n"
	if out != strings.Repeat(line, (1048576+len(line)-1)/len(line)) {
		t.Errorf("output differs: %d bytes", len(out))
	}
	if n := e.h.Receives() - before; n < 5 {
		t.Errorf("%d Receives for 1 MB, want several", n)
	}
	if m := e.maxBody.Load(); m > 153600 {
		t.Errorf("largest response %d bytes, over MaxEnvelopeSize", m)
	}
}

func TestOutlastsOperationTimeout(t *testing.T) {
	e := newTestEnv(t, nil)
	c := e.client(t, winrm.NewParameters("PT2S", "en-US", 153600))
	go func() {
		// Release the command after two timeout faults (bounded, so a bug cannot hang the test).
		<-e.started
		deadline := time.Now().Add(20 * time.Second)
		for e.timeouts.Load() < 2 && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		close(e.release)
	}()
	before := e.h.Receives()
	out, _, code, err := c.RunCmdWithContext(context.Background(), "wait")
	if err != nil {
		t.Fatal(err)
	}
	if n := e.timeouts.Load(); n < 2 {
		t.Errorf("%d timeout faults, want 2", n)
	}
	if out != "released\r\n" || code != 3 {
		t.Errorf("got %q, %d", out, code)
	}
	// Regression guard against masterzen's hot loop: only timeouts and the final answer.
	if n := e.h.Receives() - before; n > 5 {
		t.Errorf("%d Receives for one command, want at most 5", n)
	}
}

func TestContextCancelSignals(t *testing.T) {
	var signals atomic.Int64
	e := newTestEnv(t, func(c *Config) {
		c.OnRequest = func(action string) {
			if action == ActionSignal {
				signals.Add(1)
			}
		}
	})
	c := e.client(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-e.started
		cancel()
	}()
	before := e.h.Requests()
	_, _, _, err := c.RunCmdWithContext(ctx, "wait")
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
	eventually(t, 5*time.Second, func() bool { return e.h.ShellCount() == 0 }, "shell deleted")
	if signals.Load() == 0 {
		t.Error("no Signal sent on cancel")
	}
	if n := e.h.Requests() - before; n > 12 {
		t.Errorf("%d requests for a cancelled command", n)
	}
}

func TestParallelCommands(t *testing.T) {
	e := newTestEnv(t, nil)
	c := e.client(t, nil)
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out, _, code, err := c.RunCmdWithContext(context.Background(), fmt.Sprintf("echo %d", i))
			if err != nil || code != 0 || out != fmt.Sprintf("%d\r\n", i) {
				errs <- fmt.Errorf("command %d: %q %d %w", i, out, code, err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// post sends a raw SOAP request with the test credentials.
func post(t *testing.T, e *testEnv, body string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/wsman", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/soap+xml;charset=UTF-8")
	req.SetBasicAuth(testUser, testPassword)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func TestShellQuota(t *testing.T) {
	e := newTestEnv(t, nil)
	c := e.client(t, nil)
	for i := range 30 {
		s, err := c.CreateShell()
		if err != nil || s == nil {
			t.Fatalf("shell %d: %v", i, err)
		}
	}
	resp, body := post(t, e, createRequest)
	if resp.StatusCode != 500 || !strings.Contains(body, "w:QuotaLimit") || !strings.Contains(body, `Code="2150859173"`) {
		t.Errorf("31st shell: %d %s", resp.StatusCode, body)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/soap+xml;charset=UTF-8" {
		t.Errorf("fault content type %q", ct)
	}
}

func TestIdleShellsExpire(t *testing.T) {
	e := newTestEnv(t, func(c *Config) { c.IdleTimeout = 50 * time.Millisecond })
	c := e.client(t, nil)
	if _, err := c.CreateShell(); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, func() bool { return e.h.ShellCount() == 0 }, "idle shell expired")
}

func TestWrongPassword(t *testing.T) {
	e := newTestEnv(t, nil)
	u, _ := url.Parse(e.srv.URL)
	port, _ := strconv.Atoi(u.Port())
	c, err := winrm.NewClient(winrm.NewEndpoint(u.Hostname(), port, false, false, nil, nil, nil, 0), testUser, "wrong")
	if err != nil {
		t.Fatal(err)
	}
	_, _, _, err = c.RunCmdWithContext(context.Background(), "echo ok")
	if err == nil || !strings.Contains(err.Error(), "401 - invalid content type") {
		t.Errorf("err = %v, want 401 - invalid content type", err)
	}
}

func TestHTTPLayer(t *testing.T) {
	e := newTestEnv(t, nil)
	tests := []struct {
		name, method, ctype string
		auth                bool
		status              int
		check               func(*http.Response) string
	}{
		{"get", http.MethodGet, "", true, 405, func(r *http.Response) string {
			if r.Header.Get("Allow") != "POST" {
				return "no Allow: POST"
			}
			return ""
		}},
		{"wrong content type", http.MethodPost, "text/xml", true, 415, nil},
		{"no auth", http.MethodPost, "application/soap+xml;charset=UTF-8", false, 401, func(r *http.Response) string {
			if got := r.Header.Values("WWW-Authenticate"); len(got) != 2 || got[0] != "Negotiate" || got[1] != `Basic realm="WSMAN"` {
				return fmt.Sprintf("WWW-Authenticate %q", got)
			}
			if r.Header.Get("Content-Type") != "" || r.ContentLength != 0 {
				return "401 has a body or content type"
			}
			return ""
		}},
		{"garbage", http.MethodPost, "application/soap+xml;charset=UTF-8", true, 500, func(r *http.Response) string {
			if !strings.HasPrefix(r.Header.Get("Content-Type"), "application/soap+xml") {
				return "fault without SOAP content type"
			}
			return ""
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(tt.method, e.srv.URL+"/wsman", strings.NewReader("<x"))
			if tt.ctype != "" {
				req.Header.Set("Content-Type", tt.ctype)
			}
			if tt.auth {
				req.SetBasicAuth(testUser, testPassword)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			_ = resp.Body.Close()
			if resp.StatusCode != tt.status {
				t.Errorf("status %d, want %d", resp.StatusCode, tt.status)
			}
			if tt.check != nil {
				if msg := tt.check(resp); msg != "" {
					t.Error(msg)
				}
			}
		})
	}
}

func TestFaultsForUnknownIDs(t *testing.T) {
	e := newTestEnv(t, nil)
	resp, body := post(t, e, strings.Replace(receiveRequest, "SHELLID", "00000000-0000-0000-0000-000000000000", 1))
	if resp.StatusCode != 500 || !strings.Contains(body, "w:InvalidSelectors") {
		t.Errorf("unknown shell: %d %s", resp.StatusCode, body)
	}
	_, body = post(t, e, createRequest)
	req, _ := ParseRequestForTest(body)
	_, body = post(t, e, strings.NewReplacer("SHELLID", req, "CMDID", "11111111-1111-1111-1111-111111111111").Replace(receiveRequest))
	if !strings.Contains(body, "w:InvalidSelectors") || !strings.Contains(body, `RelatesTo>uuid:0f3c9a2e`) {
		t.Errorf("unknown command: %s", body)
	}
}

// ParseRequestForTest pulls the ShellId out of a CreateResponse.
func ParseRequestForTest(body string) (string, error) {
	i := strings.Index(body, `Name="ShellId">`)
	if i < 0 {
		return "", errors.New("no ShellId")
	}
	rest := body[i+len(`Name="ShellId">`):]
	return rest[:strings.IndexByte(rest, '<')], nil
}

const createRequest = `<?xml version="1.0" encoding="utf-8" ?><env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope" xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing" xmlns:rsp="http://schemas.microsoft.com/wbem/wsman/1/windows/shell" xmlns:w="http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd"><env:Header><a:To>http://h:5985/wsman</a:To><w:MaxEnvelopeSize mustUnderstand="true">153600</w:MaxEnvelopeSize><w:OperationTimeout>PT60S</w:OperationTimeout><a:MessageID>uuid:0f3c9a2e-5b71-4d08-9c6e-8a2d4f1b7e35</a:MessageID><a:Action mustUnderstand="true">http://schemas.xmlsoap.org/ws/2004/09/transfer/Create</a:Action><w:ResourceURI mustUnderstand="true">http://schemas.microsoft.com/wbem/wsman/1/windows/shell/cmd</w:ResourceURI><w:OptionSet><w:Option Name="WINRS_NOPROFILE">FALSE</w:Option><w:Option Name="WINRS_CODEPAGE">65001</w:Option></w:OptionSet></env:Header><env:Body><rsp:Shell><rsp:InputStreams>stdin</rsp:InputStreams><rsp:OutputStreams>stdout stderr</rsp:OutputStreams></rsp:Shell></env:Body></env:Envelope>`

const receiveRequest = `<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope" xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing" xmlns:rsp="http://schemas.microsoft.com/wbem/wsman/1/windows/shell" xmlns:w="http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd"><env:Header><w:OperationTimeout>PT60S</w:OperationTimeout><a:MessageID>uuid:0f3c9a2e-5b71-4d08-9c6e-8a2d4f1b7e35</a:MessageID><a:Action mustUnderstand="true">http://schemas.microsoft.com/wbem/wsman/1/windows/shell/Receive</a:Action><w:SelectorSet><w:Selector Name="ShellId">SHELLID</w:Selector></w:SelectorSet><w:ResourceURI mustUnderstand="true">http://schemas.microsoft.com/wbem/wsman/1/windows/shell/cmd</w:ResourceURI></env:Header><env:Body><rsp:Receive><rsp:DesiredStream CommandId="CMDID">stdout stderr</rsp:DesiredStream></rsp:Receive></env:Body></env:Envelope>`

func TestLatencyPerRequest(t *testing.T) {
	e := newTestEnv(t, func(c *Config) { c.Latency = 30 * time.Millisecond })
	c := e.client(t, nil)
	before := e.h.Requests()
	start := time.Now()
	if _, _, _, err := c.RunCmdWithContext(context.Background(), "echo x"); err != nil {
		t.Fatal(err)
	}
	n := e.h.Requests() - before
	if elapsed := time.Since(start); elapsed < time.Duration(n)*30*time.Millisecond {
		t.Errorf("%d requests took %v, want at least %v", n, elapsed, time.Duration(n)*30*time.Millisecond)
	}
}

// soapRequest builds a masterzen-style request for raw protocol tests.
func soapRequest(action, shellID, timeout, body string) string {
	sel := ""
	if shellID != "" {
		sel = `<w:SelectorSet><w:Selector Name="ShellId">` + shellID + `</w:Selector></w:SelectorSet>`
	}
	return `<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope" xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing" xmlns:rsp="http://schemas.microsoft.com/wbem/wsman/1/windows/shell" xmlns:w="http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd"><env:Header>` +
		`<w:MaxEnvelopeSize mustUnderstand="true">153600</w:MaxEnvelopeSize><w:OperationTimeout>` + timeout + `</w:OperationTimeout>` +
		`<a:MessageID>uuid:` + strings.ToLower(newGUID()) + `</a:MessageID><a:Action mustUnderstand="true">` + action + `</a:Action>` + sel +
		`<w:ResourceURI mustUnderstand="true">http://schemas.microsoft.com/wbem/wsman/1/windows/shell/cmd</w:ResourceURI></env:Header><env:Body>` + body + `</env:Body></env:Envelope>`
}

func between(s, start, end string) string {
	i := strings.Index(s, start)
	if i < 0 {
		return ""
	}
	s = s[i+len(start):]
	return s[:strings.Index(s, end)]
}

func TestSignalsWakeBlockedReceive(t *testing.T) {
	tests := []struct {
		name, signal, want string
	}{
		{"ctrl_c", "ctrl_c", "<rsp:ExitCode>3221225786</rsp:ExitCode>"},
		{"terminate", "terminate", "<rsp:ExitCode>3221225786</rsp:ExitCode>"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newTestEnv(t, nil)
			_, body := post(t, e, soapRequest(ActionCreate, "", "PT60S", `<rsp:Shell><rsp:InputStreams>stdin</rsp:InputStreams><rsp:OutputStreams>stdout stderr</rsp:OutputStreams></rsp:Shell>`))
			shell := between(body, `Name="ShellId">`, "<")
			_, body = post(t, e, soapRequest(ActionCommand, shell, "PT60S", `<rsp:CommandLine><rsp:Command>wait</rsp:Command></rsp:CommandLine>`))
			cmd := between(body, "<rsp:CommandId>", "<")
			<-e.started
			got := make(chan string, 1)
			go func() {
				_, b := post(t, e, soapRequest(ActionReceive, shell, "PT60S", `<rsp:Receive><rsp:DesiredStream CommandId="`+cmd+`">stdout stderr</rsp:DesiredStream></rsp:Receive>`))
				got <- b
			}()
			// The Receive is blocked once it counted itself; then the signal must wake it.
			eventually(t, 5*time.Second, func() bool { return e.h.Receives() == 1 }, "Receive in flight")
			resp, body := post(t, e, soapRequest(ActionSignal, shell, "PT60S", `<rsp:Signal CommandId="`+cmd+`"><rsp:Code>http://schemas.microsoft.com/wbem/wsman/1/windows/shell/signal/`+tt.signal+`</rsp:Code></rsp:Signal>`))
			if resp.StatusCode != 200 || !strings.Contains(body, "SignalResponse") {
				t.Fatalf("signal: %d %s", resp.StatusCode, body)
			}
			b := <-got
			if !strings.Contains(b, "CommandState/Done") || !strings.Contains(b, tt.want) {
				t.Errorf("Receive after %s: %s", tt.signal, b)
			}
		})
	}
}

func TestAuthenticateHook(t *testing.T) {
	e := newTestEnv(t, func(c *Config) {
		c.Authenticate = func(r *http.Request) (string, bool) { return "hooked", r.Header.Get("X-Test") == "ok" }
	})
	for _, tt := range []struct {
		header string
		status int
	}{{"ok", 200}, {"", 401}} {
		req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/wsman", strings.NewReader(createRequest))
		req.Header.Set("Content-Type", "application/soap+xml;charset=UTF-8")
		req.Header.Set("X-Test", tt.header)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode != tt.status {
			t.Errorf("X-Test %q: status %d", tt.header, resp.StatusCode)
		}
		if tt.status == 200 && !strings.Contains(string(body), "<rsp:Owner>hooked</rsp:Owner>") {
			t.Errorf("owner not from the hook: %s", body)
		}
	}
}

// TestDelegatedHookMarksTheShell: a shell keeps whether the logon that created it held
// delegated credentials, and its commands see it.
func TestDelegatedHookMarksTheShell(t *testing.T) {
	for _, delegated := range []bool{true, false} {
		var seen atomic.Int32
		e := newTestEnv(t, func(c *Config) {
			c.Delegated = func(*http.Request) bool { return delegated }
			run := c.Runner
			c.Runner = func(ctx context.Context, line string, stdin io.Reader, stdout, stderr io.Writer) int {
				if info, _ := ShellFromContext(ctx); info.Delegated {
					seen.Add(1)
				} else {
					seen.Add(-1)
				}
				return run(ctx, line, stdin, stdout, stderr)
			}
		})
		if _, _, code, err := e.client(t, nil).RunCmdWithContext(context.Background(), "echo x"); err != nil || code != 0 {
			t.Fatalf("run: %d, %v", code, err)
		}
		if want := map[bool]int32{true: 1, false: -1}[delegated]; seen.Load() != want {
			t.Fatalf("delegated %v: the command saw %d", delegated, seen.Load())
		}
	}
}

func TestShellCostPerCreate(t *testing.T) {
	e := newTestEnv(t, func(c *Config) { c.ShellCost = 40 * time.Millisecond })
	c := e.client(t, nil)
	start := time.Now()
	s, err := c.CreateShell()
	if err != nil {
		t.Fatal(err)
	}
	if elapsed := time.Since(start); elapsed < 40*time.Millisecond {
		t.Errorf("Create took %v, want at least the shell cost", elapsed)
	}
	if e.h.ShellCount() != 1 {
		t.Errorf("%d shells after one Create", e.h.ShellCount())
	}
	_ = s.Close()
}
