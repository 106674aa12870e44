package credssp

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"testing"

	"github.com/bodgit/ntlmssp"

	"github.com/ocsha/ocs-ha-operator/internal/sim/ntlm"
	"github.com/ocsha/ocs-ha-operator/internal/winrm/cssp"
)

const (
	testUser     = "ocsadmin"
	testPassword = "Domain-Pass1"
)

func testServer(t testing.TB, version int) *Server {
	t.Helper()
	cert, err := selfSigned()
	if err != nil {
		t.Fatal(err)
	}
	accounts := []ntlm.Account{{Domain: "CORP", User: testUser, Password: testPassword}}
	return &Server{Version: version, Certificate: cert, NTLM: &ntlm.Server{NetBIOSDomain: "CORP", NetBIOSComputer: "OCS1",
		DNSDomain: "corp.example.com", DNSComputer: "ocs1.corp.example.com", Accounts: func() []ntlm.Account { return accounts }}}
}

// client plays a CredSSP client against a Logon, leg by leg, with a third-party NTLM client.
type client struct {
	t       testing.TB
	l       *Logon
	tun     *cssp.Tunnel
	ntlm    *ntlmssp.Client
	version int
}

func newClient(t testing.TB, l *Logon, version int, user, password string) *client {
	t.Helper()
	c, err := ntlmssp.NewClient(ntlmssp.SetUserInfo(user, password), ntlmssp.SetDomain("CORP"), ntlmssp.SetVersion(ntlmssp.DefaultVersion()))
	if err != nil {
		t.Fatal(err)
	}
	//nolint:gosec // CredSSP checks the key through pubKeyAuth.
	tun := cssp.NewClientTunnel(&tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS10})
	t.Cleanup(tun.Close)
	cl := &client{t: t, l: l, tun: tun, ntlm: c, version: version}
	out, done, err := tun.Step(nil)
	for !done {
		if err != nil {
			t.Fatal(err)
		}
		answer, sdone, serr := l.Step(out)
		if serr != nil || sdone {
			t.Fatalf("TLS leg: %v, %v", sdone, serr)
		}
		out, done, err = tun.Step(answer)
	}
	if err != nil || len(out) != 0 {
		t.Fatalf("TLS end: %d bytes left, %v", len(out), err)
	}
	return cl
}

// send wraps req for the server and returns the server's answer (nil when it sent none).
func (c *client) send(req *cssp.TSRequest) (*cssp.TSRequest, bool, error) {
	c.t.Helper()
	if req.Version == 0 {
		req.Version = c.version
	}
	der, err := req.Marshal()
	if err != nil {
		c.t.Fatal(err)
	}
	rec, err := c.tun.Wrap(der)
	if err != nil {
		c.t.Fatal(err)
	}
	out, done, err := c.l.Step(rec)
	if out == nil {
		return nil, done, err
	}
	plain, uerr := c.tun.Unwrap(out)
	if uerr != nil {
		c.t.Fatal(uerr)
	}
	answer, perr := cssp.ParseTSRequest(plain)
	if perr != nil {
		c.t.Fatal(perr)
	}
	return answer, done, err
}

func (c *client) serverKey() []byte {
	cert := c.tun.ConnectionState().PeerCertificates[0]
	k, err := cssp.SubjectPublicKey(cert)
	if err != nil {
		c.t.Fatal(err)
	}
	return k
}

func wrapNTLM(t testing.TB, s *ntlmssp.SecuritySession, b []byte) []byte {
	t.Helper()
	sealed, sig, err := s.Wrap(b)
	if err != nil {
		t.Fatal(err)
	}
	return append(sig, sealed...)
}

// logon runs the NTLM and key legs; it returns the answer to the AUTHENTICATE leg.
func (c *client) logon(key []byte) (*cssp.TSRequest, []byte, error) {
	c.t.Helper()
	neg, _ := c.ntlm.Authenticate(nil, nil)
	answer, _, err := c.send(&cssp.TSRequest{NegoTokens: [][]byte{neg}})
	if err != nil {
		return answer, nil, err
	}
	auth, err := c.ntlm.Authenticate(answer.NegoTokens[0], nil)
	if err != nil {
		c.t.Fatal(err)
	}
	version := min(answer.Version, c.version)
	var nonce []byte
	if version >= 5 {
		nonce = bytes.Repeat([]byte{7}, cssp.NonceSize)
	}
	req := &cssp.TSRequest{NegoTokens: [][]byte{auth}, ClientNonce: nonce,
		PubKeyAuth: wrapNTLM(c.t, c.ntlm.SecuritySession(), cssp.ClientPubKeyAuth(version, nonce, key))}
	answer, _, err = c.send(req)
	return answer, nonce, err
}

func TestLogon(t *testing.T) {
	for _, tt := range []struct{ client, server int }{{6, 6}, {2, 6}, {5, 6}, {6, 2}, {3, 5}} {
		srv := testServer(t, tt.server)
		l := srv.NewLogon()
		c := newClient(t, l, tt.client, testUser, testPassword)
		answer, nonce, err := c.logon(c.serverKey())
		if err != nil {
			t.Fatalf("client %d, server %d: %v", tt.client, tt.server, err)
		}
		version := min(tt.client, tt.server)
		sess := c.ntlm.SecuritySession()
		got, err := sess.Unwrap(answer.PubKeyAuth[16:], answer.PubKeyAuth[:16])
		if err != nil || !bytes.Equal(got, cssp.ServerPubKeyAuth(version, nonce, c.serverKey())) {
			t.Fatalf("client %d, server %d: server pubKeyAuth %x, %v", tt.client, tt.server, got, err)
		}
		creds, _ := cssp.MarshalCredentials(cssp.PasswordCreds{Domain: "CORP", User: testUser, Password: testPassword})
		if _, done, err := c.send(&cssp.TSRequest{AuthInfo: wrapNTLM(t, sess, creds)}); err != nil || !done {
			t.Fatalf("credentials: done %v, %v", done, err)
		}
		id := l.Identity()
		if !l.Done() || !id.Delegated || id.Scheme != "CredSSP" || id.Name() != `CORP\`+testUser {
			t.Fatalf("identity %+v", id)
		}
	}
}

func TestLogonRefusals(t *testing.T) {
	t.Run("wrong password, answered with STATUS_LOGON_FAILURE from version 3 on", func(t *testing.T) {
		for version, wantToken := range map[int]bool{6: true, 3: true, 2: false, 5: false} {
			c := newClient(t, testServer(t, 6).NewLogon(), version, testUser, "wrong")
			answer, _, err := c.logon(c.serverKey())
			if !errors.Is(err, ntlm.ErrLogonFailure) || (answer != nil) != wantToken ||
				(wantToken && answer.ErrorCode != cssp.StatusLogonFailure) {
				t.Fatalf("version %d: %+v, %v", version, answer, err)
			}
		}
	})
	t.Run("a key that is not the TLS channel's", func(t *testing.T) {
		c := newClient(t, testServer(t, 6).NewLogon(), 6, testUser, testPassword)
		if _, _, err := c.logon([]byte("another key")); !errors.Is(err, ErrKeyBinding) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("credentials of another account", func(t *testing.T) {
		l := testServer(t, 6).NewLogon()
		c := newClient(t, l, 6, testUser, testPassword)
		if _, _, err := c.logon(c.serverKey()); err != nil {
			t.Fatal(err)
		}
		creds, _ := cssp.MarshalCredentials(cssp.PasswordCreds{Domain: "CORP", User: "someone", Password: testPassword})
		_, done, err := c.send(&cssp.TSRequest{AuthInfo: wrapNTLM(t, c.ntlm.SecuritySession(), creds)})
		if done || !errors.Is(err, ErrBadCredentials) || l.Done() {
			t.Fatalf("done %v, err %v", done, err)
		}
	})
	t.Run("SPNEGO tokens", func(t *testing.T) {
		c := newClient(t, testServer(t, 6).NewLogon(), 6, testUser, testPassword)
		if _, _, err := c.send(&cssp.TSRequest{NegoTokens: [][]byte{{0x60, 0x03, 0x06, 0x01, 0x00}}}); !errors.Is(err, ErrSPNEGO) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("credentials before the key binding", func(t *testing.T) {
		c := newClient(t, testServer(t, 6).NewLogon(), 6, testUser, testPassword)
		if _, _, err := c.send(&cssp.TSRequest{AuthInfo: []byte("x")}); err == nil {
			t.Fatal("accepted")
		}
	})
}

func TestServerKeyIsTheCertificates(t *testing.T) {
	srv := testServer(t, 6)
	c := newClient(t, srv.NewLogon(), 6, testUser, testPassword)
	cert, err := x509.ParseCertificate(srv.Certificate.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	want, _ := cssp.SubjectPublicKey(cert)
	if !bytes.Equal(c.serverKey(), want) {
		t.Fatal("the TLS channel does not present the server's certificate")
	}
}
