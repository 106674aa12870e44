package ntlm

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"

	gontlmssp "github.com/Azure/go-ntlmssp"
	"github.com/masterzen/winrm"
)

// createResponse is a fixed WS-Transfer CreateResponse masterzen parses a shell id from.
const createResponse = `<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" ` +
	`xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing" ` +
	`xmlns:w="http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd"><s:Header>` +
	`<a:Action>http://schemas.xmlsoap.org/ws/2004/09/transfer/CreateResponse</a:Action></s:Header><s:Body>` +
	`<x:ResourceCreated xmlns:x="http://schemas.xmlsoap.org/ws/2004/09/transfer"><a:ReferenceParameters>` +
	`<w:SelectorSet><w:Selector Name="ShellId">3F9A6C1E-84B2-4D7A-9E05-B1C47D2A8F63</w:Selector></w:SelectorSet>` +
	`</a:ReferenceParameters></x:ResourceCreated></s:Body></s:Envelope>`

// soapHandler answers every request with createResponse and records what it was given.
type soapHandler struct {
	mu     sync.Mutex
	bodies []string
	users  []string
	types  []string
}

func (h *soapHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	id, _ := IdentityFromContext(r.Context())
	h.mu.Lock()
	h.bodies = append(h.bodies, string(b))
	h.users = append(h.users, id.Name())
	h.types = append(h.types, r.Header.Get("Content-Type"))
	h.mu.Unlock()
	w.Header().Set("Content-Type", "application/soap+xml;charset=UTF-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(createResponse)))
	_, _ = io.WriteString(w, createResponse)
}

func (h *soapHandler) calls() ([]string, []string, []string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.bodies...), append([]string(nil), h.users...), append([]string(nil), h.types...)
}

// wire records every byte clients send to the server.
type wire struct {
	net.Listener
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *wire) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &wireConn{Conn: c, w: l}, nil
}

func (l *wire) bytes() []byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	return bytes.Clone(l.buf.Bytes())
}

type wireConn struct {
	net.Conn
	w *wire
}

func (c *wireConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.w.mu.Lock()
	c.w.buf.Write(p[:n])
	c.w.mu.Unlock()
	return n, err
}

func testAuthenticator() *Authenticator {
	return &Authenticator{Server: *testServer(), AllowBasic: true, AllowNTLM: true, RequireEncryptionOverHTTP: true}
}

// start serves h behind a on 127.0.0.1 (httptest's default), plain or TLS.
func start(t *testing.T, a *Authenticator, h http.Handler, useTLS bool) (*httptest.Server, *wire) {
	t.Helper()
	srv := httptest.NewUnstartedServer(a.Wrap(h))
	srv.Config.ConnContext = a.ConnContext
	w := &wire{Listener: srv.Listener}
	srv.Listener = w
	if useTLS {
		srv.StartTLS()
	} else {
		srv.Start()
	}
	t.Cleanup(srv.Close)
	return srv, w
}

func winrmClient(t *testing.T, srv *httptest.Server, user, password string, decorator func() winrm.Transporter) *winrm.Client {
	t.Helper()
	u, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	port, _ := strconv.Atoi(u.Port())
	ep := winrm.NewEndpoint(u.Hostname(), port, u.Scheme == "https", true, nil, nil, nil, 0)
	params := winrm.DefaultParameters
	params.TransportDecorator = decorator
	c, err := winrm.NewClientWithParameters(ep, user, password, params)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func encryption() winrm.Transporter {
	e, err := winrm.NewEncryption("ntlm")
	if err != nil {
		panic(err)
	}
	return e
}

func TestMasterzenEncryptedOverHTTP(t *testing.T) {
	h := &soapHandler{}
	srv, w := start(t, testAuthenticator(), h, false)
	c := winrmClient(t, srv, `OCSLAB\ocsadmin`, "Domain-Pass1", encryption)

	shell, err := c.CreateShell()
	if err != nil {
		t.Fatalf("CreateShell: %v", err)
	}
	if err := shell.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	bodies, users, types := h.calls()
	if len(bodies) != 2 {
		t.Fatalf("handler called %d times, want 2 (Create, Delete)", len(bodies))
	}
	for i, b := range bodies {
		if !strings.Contains(b, "http://schemas.xmlsoap.org/ws/2004/09/transfer/") {
			t.Errorf("request %d not plain SOAP for the handler: %.80q", i, b)
		}
		if users[i] != `OCSLAB\ocsadmin` || !strings.HasPrefix(types[i], "application/soap+xml") {
			t.Errorf("request %d: user %q, type %q", i, users[i], types[i])
		}
	}
	sent := w.bytes()
	if !bytes.Contains(sent, []byte("multipart/encrypted;protocol=\"application/HTTP-SPNEGO-session-encrypted\"")) {
		t.Error("no sealed body on the wire")
	}
	for _, plain := range []string{"Envelope", "transfer/Create", "transfer/Delete", "ResourceURI"} {
		if bytes.Contains(sent, []byte(plain)) {
			t.Errorf("plaintext %q on the wire", plain)
		}
	}
}

func TestMasterzenNTLMOverHTTPS(t *testing.T) {
	h := &soapHandler{}
	srv, _ := start(t, testAuthenticator(), h, true)
	c := winrmClient(t, srv, "ocsadmin", "Domain-Pass1", func() winrm.Transporter { return &winrm.ClientNTLM{} })

	shell, err := c.CreateShell()
	if err != nil {
		t.Fatalf("CreateShell: %v", err)
	}
	if err := shell.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if _, users, _ := h.calls(); len(users) != 2 || users[0] != `OCSLAB\ocsadmin` {
		t.Fatalf("handler saw %q", users)
	}
}

func TestMasterzenRefusals(t *testing.T) {
	tests := map[string]struct {
		useTLS    bool
		user      string
		password  string
		decorator func() winrm.Transporter
	}{
		"wrong password with encryption over HTTP": {
			user: `OCSLAB\ocsadmin`, password: "wrong", decorator: encryption,
		},
		"wrong password with NTLM over HTTPS": {
			useTLS: true, user: `OCSLAB\ocsadmin`, password: "wrong",
			decorator: func() winrm.Transporter { return &winrm.ClientNTLM{} },
		},
		"NTLM without encryption over HTTP (AllowUnencrypted=false)": {
			user: `OCSLAB\ocsadmin`, password: "Domain-Pass1",
			decorator: func() winrm.Transporter { return &winrm.ClientNTLM{} },
		},
		"Basic over HTTP (AllowUnencrypted=false)": {
			user: "localadmin", password: "Local-Pass1",
		},
		"Basic with a domain account over HTTPS": {
			useTLS: true, user: `OCSLAB\ocsadmin`, password: "Domain-Pass1",
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			h := &soapHandler{}
			srv, _ := start(t, testAuthenticator(), h, tt.useTLS)
			c := winrmClient(t, srv, tt.user, tt.password, tt.decorator)
			_, err := c.CreateShell()
			t.Logf("client error: %v", err)
			if err == nil || !strings.Contains(err.Error(), "401") {
				t.Fatalf("err = %v, want the client's 401 error", err)
			}
			if bodies, _, _ := h.calls(); len(bodies) != 0 {
				t.Fatalf("handler was called %d times", len(bodies))
			}
		})
	}
}

func TestMasterzenBasicOverHTTPS(t *testing.T) {
	h := &soapHandler{}
	srv, _ := start(t, testAuthenticator(), h, true)
	c := winrmClient(t, srv, "localadmin", "Local-Pass1", nil)
	if _, err := c.CreateShell(); err != nil {
		t.Fatalf("CreateShell: %v", err)
	}
	if _, users, _ := h.calls(); len(users) != 1 || users[0] != "localadmin" {
		t.Fatalf("handler saw %q", users)
	}
}

// TestGoNTLMSSPNegotiator authenticates a plain http.Client through go-ntlmssp, as masterzen's
// ClientNTLM does, and checks the connection stays logged on for the next request.
func TestGoNTLMSSPNegotiator(t *testing.T) {
	a := testAuthenticator()
	a.RequireEncryptionOverHTTP = false // AllowUnencrypted=true
	h := &soapHandler{}
	var mu sync.Mutex
	var statuses []int
	srv, _ := start(t, a, h, false)
	rt := roundTripperFunc(func(r *http.Request) (*http.Response, error) {
		resp, err := http.DefaultTransport.RoundTrip(r)
		if err == nil {
			mu.Lock()
			statuses = append(statuses, resp.StatusCode)
			mu.Unlock()
		}
		return resp, err
	})
	client := &http.Client{Transport: gontlmssp.Negotiator{RoundTripper: rt}}

	for i := range 2 {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/wsman", strings.NewReader("<s:Envelope/>"))
		req.Header.Set("Content-Type", "application/soap+xml;charset=UTF-8")
		req.SetBasicAuth(`OCSLAB\ocsadmin`, "Domain-Pass1")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("request %d: status %d", i, resp.StatusCode)
		}
	}
	mu.Lock()
	got := append([]int(nil), statuses...)
	mu.Unlock()
	// First request: anonymous 401, NEGOTIATE → 401 challenge, AUTHENTICATE → 200. The second is
	// accepted on the logged-on connection without a handshake.
	want := []int{401, 401, 200, 200}
	if len(got) != len(want) {
		t.Fatalf("statuses %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("statuses %v, want %v", got, want)
		}
	}
	bodies, users, _ := h.calls()
	if len(bodies) != 2 || bodies[0] != "<s:Envelope/>" || users[1] != `OCSLAB\ocsadmin` {
		t.Fatalf("handler saw %q as %q", bodies, users)
	}
}

func TestGoNTLMSSPWrongPassword(t *testing.T) {
	h := &soapHandler{}
	a := testAuthenticator()
	var mu sync.Mutex
	var failures []error
	a.OnLogonFailure = func(_ *http.Request, err error) {
		mu.Lock()
		failures = append(failures, err)
		mu.Unlock()
	}
	srv, _ := start(t, a, h, true)
	client := srv.Client()
	client.Transport = gontlmssp.Negotiator{RoundTripper: client.Transport}
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/wsman", strings.NewReader("<s:Envelope/>"))
	req.SetBasicAuth(`OCSLAB\ocsadmin`, "wrong")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	assertWindows401(t, resp.StatusCode, resp.Header)
	mu.Lock()
	defer mu.Unlock()
	if len(failures) != 1 || !errors.Is(failures[0], ErrLogonFailure) {
		t.Fatalf("OnLogonFailure saw %v, want one ErrLogonFailure", failures)
	}
}

type roundTripperFunc func(*http.Request) (*http.Response, error)

func (f roundTripperFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func assertWindows401(t *testing.T, status int, hdr http.Header) {
	t.Helper()
	if status != http.StatusUnauthorized {
		t.Fatalf("status %d, want 401", status)
	}
	got := hdr.Values("WWW-Authenticate")
	if len(got) != 2 || got[0] != "Negotiate" || got[1] != `Basic realm="WSMAN"` {
		t.Errorf("WWW-Authenticate %q", got)
	}
	if hdr.Get("Content-Type") != "" || hdr.Get("Content-Length") != "0" {
		t.Errorf("Content-Type %q, Content-Length %q", hdr.Get("Content-Type"), hdr.Get("Content-Length"))
	}
}

func TestUnauthenticatedShape(t *testing.T) {
	h := &soapHandler{}
	srv, _ := start(t, testAuthenticator(), h, false)
	resp, err := http.Post(srv.URL+"/wsman", "application/soap+xml;charset=UTF-8", strings.NewReader("<s:Envelope/>"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	assertWindows401(t, resp.StatusCode, resp.Header)

	a := testAuthenticator()
	a.AllowBasic = false
	srv2, _ := start(t, a, h, false)
	resp, err = http.Post(srv2.URL+"/wsman", "application/soap+xml;charset=UTF-8", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := resp.Header.Values("WWW-Authenticate"); len(got) != 1 || got[0] != "Negotiate" {
		t.Errorf("with Basic off: WWW-Authenticate %q", got)
	}
}

// TestNTLMSchemeHandshake runs the handshake by hand under the NTLM scheme on one connection.
func TestNTLMSchemeHandshake(t *testing.T) {
	a := testAuthenticator()
	a.RequireEncryptionOverHTTP = false
	h := &soapHandler{}
	srv, _ := start(t, a, h, false)
	tr := &http.Transport{MaxConnsPerHost: 1}
	t.Cleanup(tr.CloseIdleConnections)
	client := &http.Client{Transport: tr}

	post := func(auth, body string) *http.Response {
		t.Helper()
		req, _ := http.NewRequestWithContext(context.Background(), http.MethodPost, srv.URL+"/wsman", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/soap+xml;charset=UTF-8")
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}

	c := &testClient{user: "ocsadmin", domain: "OCSLAB", password: "Domain-Pass1", flags: testClientFlags,
		sessionKey: bytes.Repeat([]byte{7}, 16), mic: true}
	resp := post("NTLM "+base64.StdEncoding.EncodeToString(c.negotiateMessage()), "<s:Envelope/>")
	challenge, ok := strings.CutPrefix(resp.Header.Get("WWW-Authenticate"), "NTLM ")
	if resp.StatusCode != http.StatusUnauthorized || !ok || resp.Header.Get("Connection") == "close" {
		t.Fatalf("challenge leg: %d %q", resp.StatusCode, resp.Header)
	}
	chal, err := base64.StdEncoding.DecodeString(challenge)
	if err != nil {
		t.Fatal(err)
	}
	msg, _ := c.authenticate(t, chal)
	if resp := post("NTLM "+base64.StdEncoding.EncodeToString(msg), "<s:Envelope/>"); resp.StatusCode != http.StatusOK {
		t.Fatalf("authenticate leg: %d", resp.StatusCode)
	}
	if resp := post("", "<s:Envelope>again</s:Envelope>"); resp.StatusCode != http.StatusOK {
		t.Fatalf("request on the logged-on connection: %d", resp.StatusCode)
	}
	// An AUTHENTICATE without a pending challenge is refused.
	if resp := post("NTLM "+base64.StdEncoding.EncodeToString(msg), "<s:Envelope/>"); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("replayed AUTHENTICATE: %d", resp.StatusCode)
	}
	if bodies, _, _ := h.calls(); len(bodies) != 2 {
		t.Fatalf("handler called %d times, want 2", len(bodies))
	}
}

// TestSealedExchangeByHand drives the sealing flow on one connection with the test client: the
// empty logon POST, sealed requests and responses, and what a broken message does to the logon.
func TestSealedExchangeByHand(t *testing.T) {
	h := &soapHandler{}
	srv, _ := start(t, testAuthenticator(), h, false)
	tr := &http.Transport{MaxConnsPerHost: 1}
	t.Cleanup(tr.CloseIdleConnections)
	client := &http.Client{Transport: tr}
	post := func(auth, contentType string, body []byte) (*http.Response, []byte) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/wsman", bytes.NewReader(body))
		req.Header.Set("Content-Type", contentType)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp, b
	}

	c := &testClient{user: "ocsadmin", domain: "OCSLAB", password: "Domain-Pass1", flags: testClientFlags,
		sessionKey: bytes.Repeat([]byte{9}, 16), mic: true}
	resp, _ := post("Negotiate "+base64.StdEncoding.EncodeToString(c.negotiateMessage()), "application/soap+xml;charset=UTF-8", nil)
	chal, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(resp.Header.Get("WWW-Authenticate"), "Negotiate "))
	msg, exported := c.authenticate(t, chal)
	resp, _ = post("Negotiate "+base64.StdEncoding.EncodeToString(msg), "application/soap+xml;charset=UTF-8", nil)
	if resp.StatusCode != http.StatusOK || resp.ContentLength != 0 {
		t.Fatalf("empty logon POST: %d, %d bytes", resp.StatusCode, resp.ContentLength)
	}
	sess := newSession(ChallengeFlags(testClientFlags), exported, true)

	for i := range 2 {
		resp, body := post("", soapCT, sealedRequest(sess, []byte("<s:Envelope/>")))
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != soapCT {
			t.Fatalf("sealed request %d: %d %q", i, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		end := len(body) - len("--Encrypted Boundary--\r\n")
		start := bytes.Index(body, []byte("octet-stream\r\n")) + len("octet-stream\r\n") + 4
		plain, err := sess.Unseal(body[start+16:end], body[start:start+16])
		if err != nil || string(plain) != createResponse {
			t.Fatalf("response %d: %q, %v", i, plain, err)
		}
	}

	tampered := sealedRequest(sess, []byte("<s:Envelope/>"))
	tampered[len(tampered)-30] ^= 1
	if resp, _ := post("", soapCT, tampered); resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("tampered body: %d, want 400", resp.StatusCode)
	}
	resp, _ = post("", soapCT, sealedRequest(sess, []byte("<s:Envelope/>")))
	assertWindows401(t, resp.StatusCode, resp.Header)
	if bodies, _, _ := h.calls(); len(bodies) != 2 {
		t.Fatalf("handler called %d times, want 2", len(bodies))
	}
}

func TestSealedBodyWithBasicRefused(t *testing.T) {
	h := &soapHandler{}
	srv, _ := start(t, testAuthenticator(), h, true)
	client, _ := sessionPair()
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/wsman", bytes.NewReader(sealedRequest(client, []byte("<s:Envelope/>"))))
	req.Header.Set("Content-Type", soapCT)
	req.SetBasicAuth("localadmin", "Local-Pass1")
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	assertWindows401(t, resp.StatusCode, resp.Header)
}

func TestMissingConnContext(t *testing.T) {
	a := testAuthenticator()
	srv := httptest.NewServer(a.Wrap(&soapHandler{}))
	t.Cleanup(srv.Close)
	c := &testClient{flags: testClientFlags}
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/wsman", nil)
	req.Header.Set("Authorization", "Negotiate "+base64.StdEncoding.EncodeToString(c.negotiateMessage()))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusInternalServerError {
		t.Fatalf("status %d, want 500 naming the missing hook", resp.StatusCode)
	}
}
