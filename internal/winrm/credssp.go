package winrm

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"

	"github.com/bodgit/ntlmssp"
	mzwinrm "github.com/masterzen/winrm"
	"github.com/masterzen/winrm/soap"

	"github.com/ocsha/ocs-ha-operator/internal/winrm/cssp"
)

// credsspTransport is the masterzen Transporter of Auth CredSSP (MS-CSSP over WinRM's HTTP
// authentication). CredSSP logs on like NTLM and then hands the account's password to the server,
// so that commands there act as the account towards a third machine: the domain controller that
// OCS user moves and listings reach (the "second hop", which NTLM and Basic logons cannot make).
//
// A logon runs TLS inside the Authorization / WWW-Authenticate headers, NTLM inside that TLS, binds
// the TLS server key to the NTLM session (pubKeyAuth) and only then sends the credentials,
// NTLM-sealed inside TLS. Like NTLM the logon belongs to the TCP connection, so requests take
// lanes (one connection and its CredSSP context each) and parallel requests use parallel lanes.
// Over plain HTTP every body is encrypted with the logon's TLS channel (MS-WSMV message
// encryption); over HTTPS the outer TLS protects it. It never falls back to NTLM or Basic.
type credsspTransport struct {
	endpointConn
	creds                cssp.PasswordCreds
	ntlmUser, ntlmDomain string
	seal                 bool

	mu   sync.Mutex
	idle []*csspLane
}

// csspLane is one connection's worth of CredSSP state; only one request uses it at a time.
type csspLane struct {
	rt     *http.Transport
	tunnel *cssp.Tunnel // nil until a logon succeeded on the current connection
}

// newCredSSPTransport returns the transport for one target. username is DOMAIN\user or
// user@domain; the domain part also goes into the delegated credentials.
func newCredSSPTransport(username, password string, seal bool, dial func(ctx context.Context, network, addr string) (net.Conn, error)) *credsspTransport {
	user, domain := splitNTLMUser(username)
	return &credsspTransport{
		endpointConn: endpointConn{dial: dial},
		creds:        cssp.PasswordCreds{Domain: domain, User: user, Password: password},
		ntlmUser:     user, ntlmDomain: domain, seal: seal,
	}
}

// kindError is a transport error whose kind (a sentinel of errors.go) is known where it happens.
type kindError struct {
	kind error
	msg  string
}

func (e *kindError) Error() string { return e.msg }
func (e *kindError) Unwrap() error { return e.kind }

// errCredSSPNotOffered reads like masterzen's 401 so that callers see one shape of refusal.
func errCredSSPNotOffered(status int) error {
	return &kindError{ErrUnauthorized, fmt.Sprintf("http response error: %d - the server does not offer CredSSP "+
		"(run Enable-WSManCredSSP -Role Server on it)", status)}
}

// Post sends one SOAP message and returns the SOAP answer, with masterzen's error conventions.
func (t *credsspTransport) Post(_ *mzwinrm.Client, msg *soap.SoapMessage) (string, error) {
	l := t.take()
	defer t.put(l)
	body := []byte(msg.String())
	for attempt := 0; ; attempt++ {
		loggedOn := false
		if l.tunnel == nil {
			if err := t.logon(l); err != nil {
				return "", err
			}
			loggedOn = true
		}
		resp, err := t.send(l, body)
		if err != nil {
			l.drop()
			return "", fmt.Errorf("unknown error %w", err)
		}
		if resp.StatusCode == http.StatusUnauthorized && !loggedOn && attempt == 0 {
			// The connection was replaced or the server dropped the context; the message was not
			// processed, so log on again and resend.
			discard(resp)
			l.drop()
			continue
		}
		out, err := t.read(l, resp)
		if err != nil {
			l.drop()
		}
		return out, err
	}
}

func (l *csspLane) drop() {
	if l.tunnel != nil {
		l.tunnel.Close()
		l.tunnel = nil
	}
}

func (t *credsspTransport) take() *csspLane {
	t.mu.Lock()
	defer t.mu.Unlock()
	if n := len(t.idle); n > 0 {
		l := t.idle[n-1]
		t.idle = t.idle[:n-1]
		return l
	}
	return &csspLane{rt: t.laneTransport()}
}

func (t *credsspTransport) put(l *csspLane) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.idle = append(t.idle, l)
}

// innerTLS is the client side of the TLS channel inside the CredSSP headers. Its certificate is
// not checked against a CA: CredSSP authenticates it by binding its key to the NTLM logon
// (pubKeyAuth), which only a server the domain vouches for can answer. TLS 1.0 stays allowed
// because it is all Windows Server 2008's SChannel offers.
func innerTLS() *tls.Config {
	//nolint:gosec // see above: the key is verified through pubKeyAuth; 2008 speaks TLS 1.0 only.
	return &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS10}
}

// logon runs a CredSSP logon on the lane's connection with empty POSTs (MS-CSSP 3.1.5).
func (t *credsspTransport) logon(l *csspLane) error {
	l.drop()
	g := &csspLogon{creds: t.creds, ntlmUser: t.ntlmUser, ntlmDomain: t.ntlmDomain, tun: cssp.NewClientTunnel(innerTLS())}
	g.leg = func(token []byte) ([]byte, int, error) {
		in, offered, status, err := t.leg(l, token)
		g.offered = g.offered || offered
		return in, status, err
	}
	if err := g.run(); err != nil {
		g.tun.Close()
		return err
	}
	l.tunnel = g.tun
	return nil
}

// legFunc posts one CredSSP token and returns the answer's token (nil: none) and status; a
// 401 without a token that still offers CredSSP counts as offered (see csspLogon.offered).
type legFunc func(token []byte) ([]byte, int, error)

// csspLogon is one logon: the TLS handshake, then NTLM inside TSRequests, the key binding and
// the delegation.
type csspLogon struct {
	creds                cssp.PasswordCreds
	ntlmUser, ntlmDomain string
	leg                  legFunc
	offered              bool // the server listed CredSSP among its schemes
	tun                  *cssp.Tunnel
	pending              []byte // TLS bytes still to send before the next record
	version              int    // the TSRequest version both ends speak
	nonce                []byte
	pubKey               []byte
}

func (g *csspLogon) run() error {
	var err error
	if g.pending, err = g.tlsHandshake(); err != nil {
		return err
	}
	return g.authenticate()
}

// tlsHandshake runs the TLS handshake leg by leg. It returns the client's last flight when TLS
// finished by writing it (TLS 1.3), which travels with the first TSRequest.
func (g *csspLogon) tlsHandshake() ([]byte, error) {
	tun := g.tun
	out, done, err := tun.Step(nil)
	for legs := 0; !done; legs++ {
		if err != nil {
			return nil, &kindError{ErrTLS, "credssp: tls: " + err.Error()}
		}
		if legs > 8 {
			return nil, errors.New("credssp: the TLS handshake does not end")
		}
		token, status, err := g.leg(out)
		if err != nil {
			return nil, err
		}
		if token == nil {
			if g.offered {
				return nil, &kindError{ErrUnauthorized, fmt.Sprintf("http response error: %d - credssp: the server ended the TLS handshake", status)}
			}
			return nil, errCredSSPNotOffered(status)
		}
		out, done, err = tun.Step(token)
	}
	if err != nil {
		return nil, &kindError{ErrTLS, "credssp: tls: " + err.Error()}
	}
	return out, nil
}

// leg posts one CredSSP token and returns the server's answering token (nil when the answer
// carries none), whether the answer offers CredSSP at all, and the status.
func (t *credsspTransport) leg(l *csspLane, token []byte) ([]byte, bool, int, error) {
	resp, err := t.authLeg(l.rt, "CredSSP", token)
	if err != nil {
		return nil, false, 0, err
	}
	discard(resp)
	in, offered := credsspToken(resp.Header.Values("Www-Authenticate"))
	if resp.StatusCode != http.StatusUnauthorized && resp.StatusCode != http.StatusOK {
		return nil, offered, resp.StatusCode, fmt.Errorf("http response error: %d - unexpected answer to a CredSSP logon", resp.StatusCode)
	}
	return in, offered, resp.StatusCode, nil
}

// credsspToken returns the token of a "CredSSP <base64>" header value, and whether any value
// names the CredSSP scheme (a bare "CredSSP" is an offer without a token).
func credsspToken(values []string) (token []byte, offered bool) {
	for _, v := range values {
		for _, part := range strings.Split(v, ",") {
			scheme, tok, _ := strings.Cut(strings.TrimSpace(part), " ")
			if !strings.EqualFold(scheme, "CredSSP") {
				continue
			}
			offered = true
			if b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(tok)); err == nil && len(b) > 0 {
				return b, true
			}
		}
	}
	return nil, offered
}

// authenticate runs NTLM inside TSRequests, binds the server key and delegates the credentials.
func (g *csspLogon) authenticate() error {
	ntlm, err := ntlmssp.NewClient(ntlmssp.SetUserInfo(g.ntlmUser, g.creds.Password),
		ntlmssp.SetDomain(g.ntlmDomain), ntlmssp.SetVersion(ntlmssp.DefaultVersion()))
	if err != nil {
		return fmt.Errorf("ntlm client: %w", err)
	}
	negotiate, err := ntlm.Authenticate(nil, nil)
	if err != nil {
		return fmt.Errorf("ntlm negotiate message: %w", err)
	}
	// Raw NTLMSSP tokens, as requests-credssp sent them before it moved to SPNEGO: Windows'
	// Negotiate package accepts them, and the NTLM library has no GetMIC for SPNEGO's mechListMIC.
	answer, err := g.exchange(&cssp.TSRequest{Version: cssp.Version, NegoTokens: [][]byte{negotiate}})
	if err != nil {
		return err
	}
	if len(answer.NegoTokens) != 1 {
		return errors.New("credssp: the server answered the NTLM negotiation without a challenge")
	}
	g.version = min(answer.Version, cssp.Version)
	authenticate, err := ntlm.Authenticate(answer.NegoTokens[0], nil)
	if err != nil {
		return fmt.Errorf("ntlm challenge: %w", err)
	}
	sess := ntlm.SecuritySession()
	if sess == nil {
		return errors.New("credssp: the NTLM logon established no security session")
	}
	if err := g.bindKey(sess, authenticate); err != nil {
		return err
	}
	return g.delegate(sess)
}

// bindKey sends the NTLM AUTHENTICATE with the encrypted server key and checks the server's
// answer, which only a server that completed the NTLM logon with the domain can produce.
func (g *csspLogon) bindKey(sess *ntlmssp.SecuritySession, authenticate []byte) error {
	peers := g.tun.ConnectionState().PeerCertificates
	if len(peers) == 0 {
		return &kindError{ErrTLS, "credssp: tls: the server sent no certificate"}
	}
	var err error
	if g.pubKey, err = cssp.SubjectPublicKey(peers[0]); err != nil {
		return &kindError{ErrTLS, "credssp: tls: " + err.Error()}
	}
	req := &cssp.TSRequest{Version: cssp.Version, NegoTokens: [][]byte{authenticate}}
	if g.version >= 5 {
		g.nonce = make([]byte, cssp.NonceSize)
		if _, err := rand.Read(g.nonce); err != nil {
			return fmt.Errorf("credssp nonce: %w", err)
		}
		req.ClientNonce = g.nonce
	}
	if req.PubKeyAuth, err = ntlmWrap(sess, cssp.ClientPubKeyAuth(g.version, g.nonce, g.pubKey)); err != nil {
		return err
	}
	answer, err := g.exchange(req)
	if err != nil {
		return err
	}
	if len(answer.PubKeyAuth) <= signatureSize {
		return &kindError{ErrUnauthorized, "http response error: 401 - credssp: the server answered without pubKeyAuth"}
	}
	got, err := sess.Unwrap(answer.PubKeyAuth[signatureSize:], answer.PubKeyAuth[:signatureSize])
	if err != nil || !bytes.Equal(got, cssp.ServerPubKeyAuth(g.version, g.nonce, g.pubKey)) {
		return &kindError{ErrTLS, "credssp: tls: the server's pubKeyAuth does not match its TLS key (a machine in the middle?)"}
	}
	return nil
}

// delegate sends the credentials (TSCredentials, NTLM-sealed inside TLS) on the final leg, which
// the server answers like the empty POST it is.
func (g *csspLogon) delegate(sess *ntlmssp.SecuritySession) error {
	creds, err := cssp.MarshalCredentials(g.creds)
	if err != nil {
		return err
	}
	authInfo, err := ntlmWrap(sess, creds)
	if err != nil {
		return err
	}
	token, status, err := g.send(&cssp.TSRequest{Version: cssp.Version, AuthInfo: authInfo})
	if err != nil {
		return err
	}
	if status == http.StatusOK {
		return nil
	}
	if token != nil {
		if _, err := g.parse(token); err != nil {
			return err
		}
	}
	return &kindError{ErrUnauthorized, fmt.Sprintf("http response error: %d - credssp: the server refused the delegated credentials", status)}
}

// exchange sends a TSRequest and returns the server's, which comes with a 401.
func (g *csspLogon) exchange(req *cssp.TSRequest) (*cssp.TSRequest, error) {
	token, status, err := g.send(req)
	if err != nil {
		return nil, err
	}
	if token == nil {
		return nil, &kindError{ErrUnauthorized, fmt.Sprintf("http response error: %d - credssp logon refused", status)}
	}
	return g.parse(token)
}

func (g *csspLogon) send(req *cssp.TSRequest) ([]byte, int, error) {
	der, err := req.Marshal()
	if err != nil {
		return nil, 0, err
	}
	records, err := g.tun.Wrap(der)
	if err != nil {
		return nil, 0, fmt.Errorf("credssp: %w", err)
	}
	token := append(g.pending, records...)
	g.pending = nil
	return g.leg(token)
}

// parse decrypts and decodes a server TSRequest; an errorCode is the server's refusal.
func (g *csspLogon) parse(token []byte) (*cssp.TSRequest, error) {
	der, err := g.tun.Unwrap(token)
	if err != nil {
		return nil, fmt.Errorf("credssp: %w", err)
	}
	r, err := cssp.ParseTSRequest(der)
	if err != nil {
		return nil, fmt.Errorf("credssp: %w", err)
	}
	if r.ErrorCode != 0 {
		return nil, &kindError{ErrUnauthorized, fmt.Sprintf("http response error: 401 - credssp logon refused: %s", ntStatusText(r.ErrorCode))}
	}
	return r, nil
}

// ntStatusText names the NTSTATUS values a CredSSP server reports.
func ntStatusText(code uint32) string {
	switch code {
	case cssp.StatusLogonFailure:
		return "STATUS_LOGON_FAILURE (0xC000006D): unknown user name or bad password"
	case cssp.StatusAccessDenied:
		return "STATUS_ACCESS_DENIED (0xC0000022)"
	}
	return fmt.Sprintf("NTSTATUS 0x%08X", code)
}

// ntlmWrap seals b with the NTLM session as GSS_WrapEx lays it out for CredSSP: the 16-byte
// signature, then the sealed bytes.
func ntlmWrap(sess *ntlmssp.SecuritySession, b []byte) ([]byte, error) {
	sealed, sig, err := sess.Wrap(b)
	if err != nil {
		return nil, fmt.Errorf("ntlm seal: %w", err)
	}
	return append(sig, sealed...), nil
}

// send posts body under the lane's logon, encrypted over plain HTTP.
func (t *credsspTransport) send(l *csspLane, body []byte) (*http.Response, error) {
	ct := soapContentType
	if t.seal {
		var err error
		if ct, body, err = cssp.Seal(l.tunnel, body); err != nil {
			return nil, fmt.Errorf("encrypting: %w", err)
		}
	}
	req, err := http.NewRequest(http.MethodPost, t.url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", ct)
	return l.rt.RoundTrip(req)
}

// read returns the SOAP answer of resp, decrypting it when it is encrypted.
func (t *credsspTransport) read(l *csspLane, resp *http.Response) (string, error) {
	defer func() { _ = resp.Body.Close() }()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", fmt.Errorf("error while reading request body %w", err)
	}
	ct := resp.Header.Get("Content-Type")
	switch {
	case cssp.IsEncrypted(ct):
		if !t.seal {
			return "", fmt.Errorf("http response error: %d - unexpected encrypted answer", resp.StatusCode)
		}
		if raw, ct, err = cssp.Open(l.tunnel, ct, raw); err != nil {
			return "", fmt.Errorf("http response error: %d - %w", resp.StatusCode, err)
		}
	case t.seal && len(raw) > 0:
		// An unencrypted answer to an encrypted request could have been forged by anyone on the path.
		return "", fmt.Errorf("http response error: %d - unencrypted answer to an encrypted request", resp.StatusCode)
	}
	if !strings.Contains(ct, "application/soap+xml") {
		return "", fmt.Errorf("http response error: %d - invalid content type", resp.StatusCode)
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("http error %d: %s", resp.StatusCode, raw)
	}
	return string(raw), nil
}
