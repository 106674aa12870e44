package winrm

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net/http"
	"testing"
	"time"

	"github.com/ocsha/ocs-ha-operator/internal/winrm/cssp"
)

func fuzzCert(t testing.TB) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "fuzz"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// FuzzCredSSPClientLogon answers a client logon with a real TLS handshake and then arbitrary
// server TSRequests (or arbitrary raw tokens): the client's parsing of what the server says must
// fail cleanly, and no answer can complete a logon without the server's NTLM session key.
func FuzzCredSSPClientLogon(f *testing.F) {
	cert := fuzzCert(f)
	challenge := []byte("NTLMSSP\x00\x02\x00\x00\x00\x00\x00\x00\x00\x38\x00\x00\x00\x35\x82\x89\xe2" +
		"\x01\x23\x45\x67\x89\xab\xcd\xef\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x38\x00\x00\x00")
	for _, r := range []*cssp.TSRequest{
		{Version: 6, NegoTokens: [][]byte{challenge}},
		{Version: 2, NegoTokens: [][]byte{challenge}},
		{Version: 6, ErrorCode: cssp.StatusLogonFailure},
		{Version: 6, PubKeyAuth: make([]byte, 48)},
		{Version: 6},
	} {
		der, err := r.Marshal()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(der, false)
	}
	f.Add([]byte{0x17, 0x03, 0x03, 0x00, 0x01, 0x00}, true)
	f.Add([]byte{}, true)
	f.Fuzz(func(t *testing.T, answer []byte, raw bool) {
		server := cssp.NewServerTunnel(&tls.Config{Certificates: []tls.Certificate{cert}, SessionTicketsDisabled: true})
		defer server.Close()
		g := &csspLogon{creds: cssp.PasswordCreds{Domain: "CORP", User: "u", Password: "p"}, ntlmUser: "u", ntlmDomain: "CORP",
			tun: cssp.NewClientTunnel(innerTLS())}
		defer g.tun.Close()
		g.leg = func(token []byte) ([]byte, int, error) {
			if !server.Established() {
				out, _, err := server.Step(token)
				return out, http.StatusUnauthorized, err
			}
			if _, err := server.Unwrap(token); err != nil {
				t.Fatalf("the client sent broken records: %v", err)
			}
			if raw {
				return answer, http.StatusUnauthorized, nil
			}
			rec, err := server.Wrap(answer)
			if err != nil {
				return nil, http.StatusUnauthorized, nil
			}
			return rec, http.StatusUnauthorized, nil
		}
		if err := g.run(); err == nil {
			t.Fatal("a logon completed against answers without the NTLM session key")
		}
	})
}

// FuzzCredSSPToken feeds arbitrary WWW-Authenticate values to the client's token reader.
func FuzzCredSSPToken(f *testing.F) {
	f.Add("CredSSP YWJj")
	f.Add("Negotiate, CredSSP YWJj, Basic realm=\"WSMAN\"")
	f.Add("credssp ====")
	f.Fuzz(func(t *testing.T, v string) {
		b, offered := credsspToken([]string{v})
		if b != nil && (len(b) == 0 || !offered) {
			t.Fatalf("token %q, offered %v", b, offered)
		}
	})
}
