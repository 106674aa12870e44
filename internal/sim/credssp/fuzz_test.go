package credssp

import (
	"testing"

	"github.com/ocsha/ocs-ha-operator/internal/winrm/cssp"
)

// FuzzLogonTLSLeg feeds arbitrary first tokens (where a ClientHello belongs) to a logon: it must
// fail cleanly, never panic or hang.
func FuzzLogonTLSLeg(f *testing.F) {
	srv := testServer(f, 6)
	f.Add([]byte{0x16, 0x03, 0x01, 0x00, 0x05, 0x01, 0x00, 0x00, 0x01, 0x00})
	f.Add([]byte("GET / HTTP/1.1\r\n\r\n"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, token []byte) {
		l := srv.NewLogon()
		defer l.Close()
		if out, done, err := l.Step(token); done || (err == nil && len(out) == 0) {
			t.Fatalf("garbage ClientHello: %d bytes out, done %v, %v", len(out), done, err)
		}
	})
}

// FuzzLogonTSRequest feeds arbitrary TSRequests (the decrypted payload of a leg) to a logon in
// each phase after a real TLS handshake and NTLM negotiation.
func FuzzLogonTSRequest(f *testing.F) {
	srv := testServer(f, 6)
	good, _ := (&cssp.TSRequest{Version: 6, NegoTokens: [][]byte{[]byte("NTLMSSP\x00\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00")}}).Marshal()
	f.Add(good, false)
	f.Add(good, true)
	f.Add([]byte{0x30, 0x03, 0xa0, 0x01, 0x06}, true)
	f.Add(mustDER(f, &cssp.TSRequest{Version: 6, PubKeyAuth: make([]byte, 40), NegoTokens: [][]byte{[]byte("NTLMSSP\x00\x03\x00\x00\x00")}}), true)
	f.Fuzz(func(t *testing.T, der []byte, afterNegotiate bool) {
		l := srv.NewLogon()
		defer l.Close()
		c := newClient(t, l, 6, testUser, testPassword)
		if afterNegotiate {
			neg, _ := c.ntlm.Authenticate(nil, nil)
			if _, _, err := c.send(&cssp.TSRequest{NegoTokens: [][]byte{neg}}); err != nil {
				t.Fatal(err)
			}
		}
		rec, err := c.tun.Wrap(der)
		if err != nil {
			t.Fatal(err)
		}
		if _, done, _ := l.Step(rec); done {
			t.Fatal("an arbitrary TSRequest completed the logon")
		}
	})
}

func mustDER(t testing.TB, r *cssp.TSRequest) []byte {
	t.Helper()
	b, err := r.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}
