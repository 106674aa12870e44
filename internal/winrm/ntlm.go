package winrm

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/bodgit/ntlmssp"
	mzwinrm "github.com/masterzen/winrm"
	"github.com/masterzen/winrm/soap"
)

// MS-WSMV 2.2.9.1 message encryption framing, as Windows and pywinrm write it.
const (
	sealedProtocol    = "application/HTTP-SPNEGO-session-encrypted"
	sealedContentType = `multipart/encrypted;protocol="` + sealedProtocol + `";boundary="Encrypted Boundary"`
	sealedBoundary    = "--Encrypted Boundary"
	soapContentType   = "application/soap+xml;charset=UTF-8"
	signatureSize     = 16
	negotiateSealFlag = 0x00000020 // NTLMSSP_NEGOTIATE_SEAL in a CHALLENGE_MESSAGE's flags
)

// errLogonRefused is what a refused NTLM logon reports. It reads like masterzen's own 401
// ("http response error: 401 - invalid content type") so that callers and classify see one error.
var errLogonRefused = errors.New("invalid content type")

// ntlmTransport is the masterzen Transporter of Auth NTLM. It replaces masterzen's ClientNTLM and
// Encryption because of three properties of theirs:
//   - Windows binds an NTLM logon to the TCP connection it ran on, and their requests go out on
//     whichever pooled connection is free, so parallel requests of one client fail with 401s;
//   - Encryption sends through a bare http.Client (http.DefaultTransport: no CA, no dial or
//     response timeout, connections no one can close) and is not safe for concurrent use;
//   - both fall back to weaker schemes: ClientNTLM to Basic (the password on the wire) when the
//     server offers no Negotiate, Encryption to unsealed NTLM when its handshake fails.
//
// Here every request takes a lane for its whole exchange: an HTTP transport limited to one
// connection plus the NTLM security context logged on over that connection. Parallel requests
// (several commands, a Send beside a Receive long poll) use parallel lanes, each lane serially, so
// the handshake and the messages it authenticates always share one connection. Over plain HTTP
// each body is sealed (MS-WSMV message encryption); over HTTPS TLS protects it. The transport never
// falls back to Basic or to unsealed bodies.
type ntlmTransport struct {
	endpointConn
	user, domain, password string
	seal                   bool

	mu   sync.Mutex
	idle []*lane
}

// endpointConn is what the connection-bound transports (NTLM, CredSSP) take from masterzen's
// Endpoint, and how they open their one-connection lanes.
type endpointConn struct {
	dial func(ctx context.Context, network, addr string) (net.Conn, error)

	// Set by Transport.
	url           string
	tlsConfig     *tls.Config
	headerTimeout time.Duration
	proxy         func(*http.Request) (*url.URL, error)
}

// lane is one connection's worth of NTLM state; only one request uses it at a time.
type lane struct {
	rt   *http.Transport
	ntlm *ntlmssp.Client // nil until a logon succeeded on the current connection
}

// newNTLMTransport returns the transport for one target. username may be DOMAIN\user, user@domain
// (a UPN, sent whole as Windows' own clients do) or a bare local user name.
func newNTLMTransport(username, password string, seal bool, dial func(ctx context.Context, network, addr string) (net.Conn, error)) *ntlmTransport {
	user, domain := splitNTLMUser(username)
	return &ntlmTransport{endpointConn: endpointConn{dial: dial}, user: user, domain: domain, password: password, seal: seal}
}

// splitNTLMUser splits DOMAIN\user; any other form is the user name with an empty domain, which
// for user@domain makes the server read the domain from the UPN.
func splitNTLMUser(username string) (user, domain string) {
	if d, u, ok := strings.Cut(username, `\`); ok {
		return u, d
	}
	return username, ""
}

// Transport takes the endpoint's URL, TLS settings and response-header timeout.
func (t *endpointConn) Transport(ep *mzwinrm.Endpoint) error {
	scheme := "http"
	if ep.HTTPS {
		scheme = "https"
	}
	t.url = scheme + "://" + net.JoinHostPort(ep.Host, strconv.Itoa(ep.Port)) + "/wsman"
	t.headerTimeout = ep.Timeout
	if ep.HTTPS {
		// A CONNECT tunnel keeps one client connection on one server connection; a forward proxy of
		// plain HTTP need not, which would break the logon's binding, so plain HTTP goes direct.
		t.proxy = http.ProxyFromEnvironment
	}
	//nolint:gosec // InsecureSkipVerify is the target's explicit, documented choice.
	t.tlsConfig = &tls.Config{InsecureSkipVerify: ep.Insecure, ServerName: ep.TLSServerName, MinVersion: tls.VersionTLS12}
	if len(ep.CACert) > 0 {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(ep.CACert) {
			return errors.New("unable to read certificates")
		}
		t.tlsConfig.RootCAs = pool
	}
	return nil
}

// Post sends one SOAP message and returns the SOAP answer, with masterzen's error conventions:
// "http response error: <status> - …" for a non-SOAP answer, "http error <status>: <body>" for a
// SOAP fault.
func (t *ntlmTransport) Post(_ *mzwinrm.Client, msg *soap.SoapMessage) (string, error) {
	l := t.take()
	defer t.put(l)
	body := []byte(msg.String())
	for attempt := 0; ; attempt++ {
		loggedOn := false
		if l.ntlm == nil {
			if err := t.logon(l); err != nil {
				return "", err
			}
			loggedOn = true
		}
		resp, err := t.send(l, body)
		if err != nil {
			l.ntlm = nil
			return "", fmt.Errorf("unknown error %w", err)
		}
		if resp.StatusCode == http.StatusUnauthorized && !loggedOn && attempt == 0 {
			// The connection was replaced (idle timeout, server restart) or the server dropped the
			// security context; a 401 means the message was not processed, so log on and resend.
			discard(resp)
			l.ntlm = nil
			continue
		}
		out, err := t.read(l, resp)
		if err != nil {
			l.ntlm = nil
		}
		return out, err
	}
}

// take returns an idle lane or a new one.
func (t *ntlmTransport) take() *lane {
	t.mu.Lock()
	defer t.mu.Unlock()
	if n := len(t.idle); n > 0 {
		l := t.idle[n-1]
		t.idle = t.idle[:n-1]
		return l
	}
	return &lane{rt: t.laneTransport()}
}

// laneTransport returns an HTTP transport of one connection, the one a logon belongs to.
func (t *endpointConn) laneTransport() *http.Transport {
	return &http.Transport{
		DialContext:         t.dial,
		TLSClientConfig:     t.tlsConfig.Clone(),
		MaxConnsPerHost:     1,
		MaxIdleConnsPerHost: 1,
		IdleConnTimeout:     90 * time.Second,
		// The response-header timeout outlasts a Receive long poll and bounds a hung server.
		ResponseHeaderTimeout: t.headerTimeout,
		TLSHandshakeTimeout:   10 * time.Second,
		Proxy:                 t.proxy,
	}
}

func (t *ntlmTransport) put(l *lane) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.idle = append(t.idle, l)
}

// logon runs the NTLM handshake on the lane's connection with empty POSTs, as the sealing clients
// do (a body sent before the logon completes would travel unsealed).
func (t *ntlmTransport) logon(l *lane) error {
	c, err := ntlmssp.NewClient(ntlmssp.SetUserInfo(t.user, t.password), ntlmssp.SetDomain(t.domain),
		ntlmssp.SetVersion(ntlmssp.DefaultVersion()))
	if err != nil {
		return fmt.Errorf("ntlm client: %w", err)
	}
	negotiate, err := c.Authenticate(nil, nil)
	if err != nil {
		return fmt.Errorf("ntlm negotiate message: %w", err)
	}
	resp, err := t.handshakeLeg(l, negotiate)
	if err != nil {
		return err
	}
	challenge := challengeToken(resp.Header.Values("Www-Authenticate"))
	discard(resp)
	if resp.StatusCode != http.StatusUnauthorized || challenge == nil {
		return fmt.Errorf("http response error: %d - %w (the server offers no NTLM challenge)", resp.StatusCode, errLogonRefused)
	}
	if t.seal && (len(challenge) < 24 || binary.LittleEndian.Uint32(challenge[20:24])&negotiateSealFlag == 0) {
		return fmt.Errorf("http response error: %d - the server does not grant NTLM sealing, refusing to send unencrypted bodies over HTTP", resp.StatusCode)
	}
	authenticate, err := c.Authenticate(challenge, nil)
	if err != nil {
		return fmt.Errorf("ntlm challenge: %w", err)
	}
	resp, err = t.handshakeLeg(l, authenticate)
	if err != nil {
		return err
	}
	discard(resp)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("http response error: %d - %w", resp.StatusCode, errLogonRefused)
	}
	if t.seal && c.SecuritySession() == nil {
		return errors.New("ntlm logon established no security session")
	}
	l.ntlm = c
	return nil
}

func (t *ntlmTransport) handshakeLeg(l *lane, token []byte) (*http.Response, error) {
	return t.authLeg(l.rt, "Negotiate", token)
}

// authLeg posts an empty body carrying one authentication token.
func (t *endpointConn) authLeg(rt http.RoundTripper, scheme string, token []byte) (*http.Response, error) {
	req, err := http.NewRequest(http.MethodPost, t.url, http.NoBody)
	if err != nil {
		return nil, fmt.Errorf("impossible to create http request %w", err)
	}
	req.Header.Set("Content-Type", soapContentType)
	req.Header.Set("Authorization", scheme+" "+base64.StdEncoding.EncodeToString(token))
	resp, err := rt.RoundTrip(req)
	if err != nil {
		return nil, fmt.Errorf("unknown error %w", err)
	}
	return resp, nil
}

// challengeToken returns the CHALLENGE_MESSAGE of a "Negotiate <base64>" (or NTLM) header value.
func challengeToken(values []string) []byte {
	for _, v := range values {
		scheme, token, ok := strings.Cut(strings.TrimSpace(v), " ")
		if !ok || !(strings.EqualFold(scheme, "Negotiate") || strings.EqualFold(scheme, "NTLM")) {
			continue
		}
		if b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(token)); err == nil && len(b) > 0 {
			return b
		}
	}
	return nil
}

// send posts body under the lane's logon, sealed when the transport seals.
func (t *ntlmTransport) send(l *lane, body []byte) (*http.Response, error) {
	ct := soapContentType
	if t.seal {
		sealed, sig, err := l.ntlm.SecuritySession().Wrap(body)
		if err != nil {
			return nil, fmt.Errorf("sealing: %w", err)
		}
		body, ct = frameSealed(body, sealed, sig), sealedContentType
	}
	req, err := http.NewRequest(http.MethodPost, t.url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", ct)
	return l.rt.RoundTrip(req)
}

// read returns the SOAP answer of resp, unsealing it when it is sealed.
func (t *ntlmTransport) read(l *lane, resp *http.Response) (string, error) {
	defer func() { _ = resp.Body.Close() }()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", fmt.Errorf("error while reading request body %w", err)
	}
	ct := resp.Header.Get("Content-Type")
	if isSealed(ct) {
		if !t.seal {
			return "", fmt.Errorf("http response error: %d - unexpected sealed answer", resp.StatusCode)
		}
		raw, ct, err = unsealBody(l.ntlm.SecuritySession(), raw)
		if err != nil {
			return "", fmt.Errorf("http response error: %d - %w", resp.StatusCode, err)
		}
	} else if t.seal && len(raw) > 0 {
		// An unsealed answer to a sealed request could have been forged by anyone on the path.
		return "", fmt.Errorf("http response error: %d - unsealed answer to a sealed request", resp.StatusCode)
	}
	if !strings.Contains(ct, "application/soap+xml") {
		return "", fmt.Errorf("http response error: %d - invalid content type", resp.StatusCode)
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("http error %d: %s", resp.StatusCode, raw)
	}
	return string(raw), nil
}

func isSealed(contentType string) bool {
	mt, params, err := mime.ParseMediaType(contentType)
	return err == nil && strings.EqualFold(mt, "multipart/encrypted") && strings.EqualFold(params["protocol"], sealedProtocol)
}

// frameSealed writes the MS-WSMV multipart body around a sealed message.
func frameSealed(plain, sealed, sig []byte) []byte {
	var b bytes.Buffer
	b.Grow(len(sealed) + 256)
	b.WriteString(sealedBoundary + "\r\n")
	b.WriteString("\tContent-Type: " + sealedProtocol + "\r\n")
	fmt.Fprintf(&b, "\tOriginalContent: type=%s;Length=%d\r\n", soapContentType, len(plain))
	b.WriteString(sealedBoundary + "\r\n")
	b.WriteString("\tContent-Type: application/octet-stream\r\n")
	b.Write(binary.LittleEndian.AppendUint32(nil, uint32(len(sig))))
	b.Write(sig)
	b.Write(sealed)
	b.WriteString(sealedBoundary + "--\r\n")
	return b.Bytes()
}

var errBadSealedBody = errors.New("malformed encrypted body")

// unsealBody opens a sealed answer: it checks the framing, unseals and verifies the payload and
// checks the announced length. It returns the plain body and its original Content-Type.
func unsealBody(sess *ntlmssp.SecuritySession, body []byte) ([]byte, string, error) {
	f, err := parseSealed(body)
	if err != nil {
		return nil, "", err
	}
	plain, err := sess.Unwrap(f.sealed, f.signature)
	if err != nil {
		return nil, "", fmt.Errorf("unsealing the answer: %w", err)
	}
	if len(plain) != f.length {
		return nil, "", fmt.Errorf("%w: %d bytes, OriginalContent says %d", errBadSealedBody, len(plain), f.length)
	}
	return plain, f.origType, nil
}

// sealedFrame is the content of an MS-WSMV encrypted body.
type sealedFrame struct {
	origType          string
	length            int
	signature, sealed []byte
}

// parseSealed reads the multipart framing of a sealed body without unsealing it.
func parseSealed(body []byte) (sealedFrame, error) {
	delim := []byte(sealedBoundary + "\r\n")
	rest, ok := bytes.CutPrefix(body, delim)
	if !ok {
		return sealedFrame{}, errBadSealedBody
	}
	header, rest, ok := bytes.Cut(rest, delim)
	if !ok {
		return sealedFrame{}, errBadSealedBody
	}
	origType, length, err := originalContent(string(header))
	if err != nil {
		return sealedFrame{}, err
	}
	nl := bytes.Index(rest, []byte("\r\n"))
	if nl < 0 || !strings.Contains(strings.ToLower(string(rest[:nl])), "application/octet-stream") {
		return sealedFrame{}, errBadSealedBody
	}
	// The payload is binary; the closing delimiter is the last one.
	data := rest[nl+2:]
	end := bytes.LastIndex(data, []byte(sealedBoundary+"--"))
	if end < 0 {
		return sealedFrame{}, errBadSealedBody
	}
	data = data[:end]
	if len(data) < 4+signatureSize || binary.LittleEndian.Uint32(data) != signatureSize {
		return sealedFrame{}, errBadSealedBody
	}
	return sealedFrame{origType: origType, length: length, signature: data[4 : 4+signatureSize], sealed: data[4+signatureSize:]}, nil
}

// originalContent reads "OriginalContent: type=…;charset=…;Length=n" from the first part's header.
func originalContent(header string) (string, int, error) {
	for _, line := range strings.Split(header, "\r\n") {
		name, value, ok := strings.Cut(strings.TrimSpace(line), ":")
		if !ok || !strings.EqualFold(strings.TrimSpace(name), "OriginalContent") {
			continue
		}
		var typ []string
		length := -1
		for _, p := range strings.Split(value, ";") {
			p = strings.TrimSpace(p)
			k, v, _ := strings.Cut(p, "=")
			switch strings.ToLower(k) {
			case "type":
				typ = append(typ, v)
			case "length":
				n, err := strconv.Atoi(v)
				if err != nil || n < 0 {
					return "", 0, errBadSealedBody
				}
				length = n
			default:
				typ = append(typ, p)
			}
		}
		if length < 0 || len(typ) == 0 {
			break
		}
		return strings.Join(typ, ";"), length, nil
	}
	return "", 0, errBadSealedBody
}

// discard drains and closes a body so that the lane's connection stays open for the next leg.
func discard(resp *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	_ = resp.Body.Close()
}
