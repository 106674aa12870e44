package ntlm

import (
	"bytes"
	"testing"
)

// FuzzAuthenticate feeds arbitrary AUTHENTICATE_MESSAGEs (and NEGOTIATE ones) to the parsers and
// to a pending handshake: they must fail cleanly, never panic.
func FuzzAuthenticate(f *testing.F) {
	srv := testServer()
	c := &testClient{user: "ocsadmin", domain: "OCSLAB", password: "Domain-Pass1", flags: testClientFlags,
		sessionKey: bytes.Repeat([]byte{1}, 16), mic: true}
	_, challenge, err := srv.Challenge(c.negotiateMessage())
	if err != nil {
		f.Fatal(err)
	}
	good, _ := c.authenticate(f, challenge)
	f.Add(good)
	f.Add(c.negotiateMessage())
	f.Add(good[:64])
	f.Add([]byte("NTLMSSP\x00\x03\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, msg []byte) {
		_, _ = ParseNegotiate(msg)
		_, _ = ParseAuthenticate(msg)
		_, _ = parseAVPairs(msg)
		h, _, err := srv.Challenge(c.negotiateMessage())
		if err != nil {
			t.Fatal(err)
		}
		if sess, _, err := h.Authenticate(msg); err == nil && sess != nil {
			sealed, sig := sess.Seal(msg)
			_, _ = sess.Unseal(sealed, sig)
		}
		if _, _, err := srv.Challenge(msg); err == nil && MessageType(msg) != int(typeNegotiate) {
			t.Fatalf("challenge accepted message type %d", MessageType(msg))
		}
	})
}

// FuzzUnwrapRequest feeds arbitrary sealed bodies to the MS-WSMV framing parser.
func FuzzUnwrapRequest(f *testing.F) {
	client, _ := sessionPair()
	f.Add(sealedRequest(client, []byte("<s:Envelope/>")), soapCT)
	f.Add([]byte("--Encrypted Boundary\r\n--Encrypted Boundary\r\n"), soapCT)
	f.Add([]byte("--Encrypted Boundary\r\n\tOriginalContent: type=a;Length=1\r\n--Encrypted Boundary\r\n\tContent-Type: application/octet-stream\r\n\x10\x00\x00\x00--Encrypted Boundary--"), soapCT)
	f.Fuzz(func(t *testing.T, body []byte, contentType string) {
		_, server := sessionPair()
		_, _ = UnwrapRequest(server, contentType, body)
	})
}
