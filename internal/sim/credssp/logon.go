package credssp

import (
	"bytes"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"

	"github.com/ocsha/ocs-ha-operator/internal/sim/ntlm"
	"github.com/ocsha/ocs-ha-operator/internal/winrm/cssp"
)

// Errors a logon fails with (the client sees a 401, with an errorCode where its version has one).
var (
	ErrProtocol       = errors.New("credssp protocol violation")
	ErrKeyBinding     = errors.New("credssp pubKeyAuth does not match the TLS key")
	ErrBadCredentials = errors.New("credssp delegated credentials do not match the logon")
	ErrSPNEGO         = errors.New("credssp: SPNEGO-wrapped tokens are not emulated, only raw NTLMSSP")
)

// Server holds what every CredSSP logon of one emulated host needs. Fields must not change while
// in use.
type Server struct {
	// NTLM authenticates the account inside the TLS channel and holds the accounts.
	NTLM *ntlm.Server
	// Certificate is the TLS channel's certificate; CredSSP binds its public key.
	Certificate tls.Certificate
	// GetCertificate, when set and Certificate is empty, supplies it at the first logon (a slow
	// RSA key need not be made for a listener nobody logs on to with CredSSP).
	GetCertificate func() (tls.Certificate, error)
	// Version is the TSRequest version the server speaks (default cssp.Version).
	Version int
	// MinTLS and MaxTLS bound the channel's TLS versions (default TLS 1.0 to 1.0, the SChannel
	// of Windows Server 2008 and 2008 R2 as installed).
	MinTLS, MaxTLS uint16
}

type phase int

const (
	phaseTLS phase = iota
	phaseNegotiate
	phaseAuthenticate
	phaseCredentials
	phaseDone
	phaseFailed
)

// Logon is one connection's CredSSP logon. Step takes the client's tokens in order.
type Logon struct {
	srv     *Server
	tun     *cssp.Tunnel
	phase   phase
	version int // the version both ends speak
	nonce   []byte
	hs      *ntlm.Handshake
	sess    *ntlm.Session
	id      ntlm.Identity
	cert    *tls.Certificate // the TLS channel's, once chosen
}

// NewLogon starts a logon; Close releases it.
func (s *Server) NewLogon() *Logon {
	minV, maxV := s.MinTLS, s.MaxTLS
	if minV == 0 {
		minV = tls.VersionTLS10
	}
	if maxV == 0 {
		maxV = tls.VersionTLS10
	}
	l := &Logon{srv: s}
	cfg := &tls.Config{MinVersion: minV, MaxVersion: maxV, SessionTicketsDisabled: true,
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			cert := s.Certificate
			if len(cert.Certificate) == 0 && s.GetCertificate != nil {
				var err error
				if cert, err = s.GetCertificate(); err != nil {
					return nil, err
				}
			}
			l.cert = &cert
			return l.cert, nil
		}}
	l.tun = cssp.NewServerTunnel(cfg)
	return l
}

// Close releases the logon's TLS channel.
func (l *Logon) Close() { l.tun.Close() }

// Done reports whether the logon completed; Identity and Tunnel are then valid.
func (l *Logon) Done() bool { return l.phase == phaseDone }

// Identity is who logged on; Delegated is set, the logon holds the credentials.
func (l *Logon) Identity() ntlm.Identity { return l.id }

// Tunnel is the logon's TLS channel, which encrypts messages over plain HTTP.
func (l *Logon) Tunnel() *cssp.Tunnel { return l.tun }

func (s *Server) version() int {
	if s.Version > 0 {
		return s.Version
	}
	return cssp.Version
}

// Step processes the client's next token. It returns the token to answer with in a 401 (nil
// with done when the logon just completed and the request is to be served). On an error the
// logon is over; out, when not nil, is the errorCode TSRequest to answer with.
func (l *Logon) Step(in []byte) (out []byte, done bool, err error) {
	switch {
	case l.phase == phaseDone || l.phase == phaseFailed:
		return nil, false, fmt.Errorf("token after the logon ended: %w", ErrProtocol)
	case len(in) == 0:
		return nil, false, l.fail(fmt.Errorf("empty token: %w", ErrProtocol))
	case l.phase == phaseTLS:
		return l.stepTLS(in)
	}
	der, err := l.tun.Unwrap(in)
	if err != nil {
		return nil, false, l.fail(err)
	}
	return l.stepRequest(der)
}

func (l *Logon) stepTLS(in []byte) ([]byte, bool, error) {
	out, hsDone, err := l.tun.Step(in)
	if err != nil {
		return nil, false, l.fail(err)
	}
	if !hsDone && len(out) == 0 {
		// Each leg carries a whole flight; TLS waiting for more means a truncated one.
		return nil, false, l.fail(fmt.Errorf("incomplete TLS flight: %w", ErrProtocol))
	}
	if !hsDone || len(out) > 0 {
		if hsDone {
			l.phase = phaseNegotiate
		}
		return out, false, nil
	}
	// TLS 1.3: the client's Finished came with its first TSRequest, which is still buffered.
	l.phase = phaseNegotiate
	der, err := l.tun.Unwrap(nil)
	if err != nil {
		return nil, false, l.fail(err)
	}
	return l.stepRequest(der)
}

func (l *Logon) fail(err error) error {
	l.phase = phaseFailed
	return err
}

func (l *Logon) stepRequest(der []byte) ([]byte, bool, error) {
	req, err := cssp.ParseTSRequest(der)
	if err != nil {
		return nil, false, l.fail(err)
	}
	switch l.phase {
	case phaseNegotiate:
		return l.negotiate(req)
	case phaseAuthenticate:
		return l.authenticate(req)
	default:
		return l.credentials(req)
	}
}

// reply wraps a TSRequest of the server's version for the client.
func (l *Logon) reply(r *cssp.TSRequest) ([]byte, error) {
	r.Version = l.srv.version()
	der, err := r.Marshal()
	if err != nil {
		return nil, err
	}
	return l.tun.Wrap(der)
}

// refuse ends the logon with status: versions with an errorCode get it in a TSRequest.
func (l *Logon) refuse(status uint32, err error) ([]byte, bool, error) {
	l.phase = phaseFailed
	if !cssp.CarriesErrorCode(l.version) {
		return nil, false, err
	}
	out, werr := l.reply(&cssp.TSRequest{ErrorCode: status})
	if werr != nil {
		return nil, false, err
	}
	return out, false, err
}

func (l *Logon) negotiate(req *cssp.TSRequest) ([]byte, bool, error) {
	l.version = min(req.Version, l.srv.version())
	if len(req.NegoTokens) != 1 {
		return l.refuse(cssp.StatusInvalidParams, fmt.Errorf("first TSRequest without one negoToken: %w", ErrProtocol))
	}
	if ntlm.MessageType(req.NegoTokens[0]) == 0 {
		return l.refuse(cssp.StatusInvalidParams, ErrSPNEGO)
	}
	hs, challenge, err := l.srv.NTLM.Challenge(req.NegoTokens[0])
	if err != nil {
		return l.refuse(cssp.StatusInvalidParams, err)
	}
	l.hs, l.phase = hs, phaseAuthenticate
	out, err := l.reply(&cssp.TSRequest{NegoTokens: [][]byte{challenge}})
	if err != nil {
		return nil, false, l.fail(err)
	}
	return out, false, nil
}

// authenticate verifies the NTLM AUTHENTICATE and the client's pubKeyAuth, and answers with the
// server's.
func (l *Logon) authenticate(req *cssp.TSRequest) ([]byte, bool, error) {
	if len(req.NegoTokens) != 1 || len(req.PubKeyAuth) <= ntlm.SignatureSize {
		return l.refuse(cssp.StatusInvalidParams, fmt.Errorf("AUTHENTICATE without pubKeyAuth: %w", ErrProtocol))
	}
	if l.version >= 5 && len(req.ClientNonce) != cssp.NonceSize {
		return l.refuse(cssp.StatusInvalidParams, fmt.Errorf("version %d without a clientNonce: %w", l.version, ErrProtocol))
	}
	sess, id, err := l.hs.Authenticate(req.NegoTokens[0])
	if err != nil {
		return l.refuse(cssp.StatusLogonFailure, err)
	}
	if sess == nil || sess.Flags()&ntlm.NegotiateSeal == 0 {
		return l.refuse(cssp.StatusLogonFailure, fmt.Errorf("NTLM logon without sealing: %w", ErrProtocol))
	}
	key, err := l.publicKey()
	if err != nil {
		return nil, false, l.fail(err)
	}
	got, err := sess.Unseal(req.PubKeyAuth[ntlm.SignatureSize:], req.PubKeyAuth[:ntlm.SignatureSize])
	if err != nil || !bytes.Equal(got, cssp.ClientPubKeyAuth(l.version, req.ClientNonce, key)) {
		return l.refuse(cssp.StatusLogonFailure, ErrKeyBinding)
	}
	l.sess, l.id, l.nonce, l.phase = sess, id, req.ClientNonce, phaseCredentials
	sealed, sig := sess.Seal(cssp.ServerPubKeyAuth(l.version, req.ClientNonce, key))
	out, err := l.reply(&cssp.TSRequest{PubKeyAuth: append(sig, sealed...)})
	if err != nil {
		return nil, false, l.fail(err)
	}
	return out, false, nil
}

func (l *Logon) publicKey() ([]byte, error) {
	if l.cert == nil || len(l.cert.Certificate) == 0 {
		return nil, fmt.Errorf("no CredSSP certificate: %w", ErrProtocol)
	}
	cert, err := x509.ParseCertificate(l.cert.Certificate[0])
	if err != nil {
		return nil, fmt.Errorf("parsing the CredSSP certificate: %w", err)
	}
	return cssp.SubjectPublicKey(cert)
}

// credentials opens the delegated TSCredentials and checks them against the account the NTLM
// logon proved: the same user and its password.
func (l *Logon) credentials(req *cssp.TSRequest) ([]byte, bool, error) {
	if len(req.AuthInfo) <= ntlm.SignatureSize {
		return l.refuse(cssp.StatusInvalidParams, fmt.Errorf("no authInfo after pubKeyAuth: %w", ErrProtocol))
	}
	plain, err := l.sess.Unseal(req.AuthInfo[ntlm.SignatureSize:], req.AuthInfo[:ntlm.SignatureSize])
	if err != nil {
		return l.refuse(cssp.StatusLogonFailure, err)
	}
	creds, err := cssp.ParseCredentials(plain)
	if err != nil {
		return l.refuse(cssp.StatusInvalidParams, err)
	}
	if !sameAccount(l.id.Account, creds) {
		return l.refuse(cssp.StatusLogonFailure, ErrBadCredentials)
	}
	l.id.Scheme, l.id.Delegated, l.phase = "CredSSP", true, phaseDone
	return nil, true, nil
}

// sameAccount reports whether the delegated credentials name acct (user, or user@domain) and
// carry its password.
func sameAccount(acct ntlm.Account, c cssp.PasswordCreds) bool {
	user := c.User
	if i := strings.LastIndexByte(user, '@'); i >= 0 && c.Domain == "" {
		user = user[:i]
	}
	return strings.EqualFold(user, acct.User) &&
		subtle.ConstantTimeCompare([]byte(c.Password), []byte(acct.Password)) == 1
}
