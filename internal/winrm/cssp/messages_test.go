package cssp

import (
	"bytes"
	"encoding/hex"
	"testing"
)

// Vectors of pyspnego (jborean93/pyspnego, tests/data/credssp_ts_request and
// credssp_ts_credential_password, tests/test_credssp_structures.py): an independent
// implementation's DER of the same values.
const (
	pyspnegoTSRequest  = "3044a003020106a10b30093007a0050403313233a20b04096175746820696e666fa30e040c707562206b65792061757468a40302010aa50e040c636c69656e74206e6f6e6365"
	pyspnegoPassword   = "304da003020101a14604443042a018041664006f006d00610069006e0020006e0061006d006500a112041075007300650072006e0061006d006500a2120410700061007300730077006f0072006400"
	pyspnegoClientHash = "4590c26c837dacdf3da8fae578264d9e45486afc3951f21ef357064cd55fbbb5"
	pyspnegoServerHash = "cdf4ffee6cb6395e5b692c2da397386f6a1eab2d3a6271816a04c7a2914d333f"
)

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestTSRequestVector(t *testing.T) {
	der := mustHex(t, pyspnegoTSRequest)
	r, err := ParseTSRequest(der)
	if err != nil {
		t.Fatal(err)
	}
	if r.Version != 6 || len(r.NegoTokens) != 1 || string(r.NegoTokens[0]) != "123" || string(r.AuthInfo) != "auth info" ||
		string(r.PubKeyAuth) != "pub key auth" || r.ErrorCode != 10 || string(r.ClientNonce) != "client nonce" {
		t.Fatalf("decoded %+v", r)
	}
	out, err := r.Marshal()
	if err != nil || !bytes.Equal(out, der) {
		t.Fatalf("re-encoded %x, %v", out, err)
	}
}

func TestPasswordCredsVector(t *testing.T) {
	der := mustHex(t, pyspnegoPassword)
	c, err := ParseCredentials(der)
	if err != nil || c != (PasswordCreds{Domain: "domain name", User: "username", Password: "password"}) {
		t.Fatalf("decoded %+v, %v", c, err)
	}
	out, err := MarshalCredentials(c)
	if err != nil || !bytes.Equal(out, der) {
		t.Fatalf("re-encoded %x, %v", out, err)
	}
	bad := bytes.Clone(der)
	bad[6] = 2 // credType 2: a smart card
	if _, err := ParseCredentials(bad); err == nil {
		t.Fatal("smart-card credentials accepted")
	}
}

func TestPubKeyAuthVectors(t *testing.T) {
	key, nonce := []byte{0, 1}, []byte{0, 0}
	tests := map[string]struct {
		got, want []byte
	}{
		"client before version 5 sends the key":             {ClientPubKeyAuth(2, nil, key), []byte{0, 1}},
		"server before version 5 increments the first byte": {ServerPubKeyAuth(4, nil, key), []byte{1, 1}},
		"client from version 5 hashes with the nonce":       {ClientPubKeyAuth(5, nonce, key), mustHex(t, pyspnegoClientHash)},
		"server from version 5 hashes with its own magic":   {ServerPubKeyAuth(6, nonce, key), mustHex(t, pyspnegoServerHash)},
	}
	for name, tt := range tests {
		if !bytes.Equal(tt.got, tt.want) {
			t.Errorf("%s: %x, want %x", name, tt.got, tt.want)
		}
	}
	if key[0] != 0 {
		t.Fatal("ServerPubKeyAuth changed its input")
	}
}

func TestErrorCodeIsAnNTStatus(t *testing.T) {
	r := &TSRequest{Version: 6, ErrorCode: StatusLogonFailure}
	der, err := r.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	// Windows writes NTSTATUS as a signed 32-bit INTEGER: 0xC000006D is four bytes, C0 00 00 6D.
	if !bytes.Contains(der, []byte{0xa4, 0x06, 0x02, 0x04, 0xc0, 0x00, 0x00, 0x6d}) {
		t.Fatalf("errorCode encoding %x", der)
	}
	back, err := ParseTSRequest(der)
	if err != nil || back.ErrorCode != StatusLogonFailure {
		t.Fatalf("decoded %+v, %v", back, err)
	}
	if !CarriesErrorCode(3) || !CarriesErrorCode(6) || CarriesErrorCode(2) || CarriesErrorCode(5) {
		t.Fatal("CarriesErrorCode")
	}
}

func TestParseTSRequestRefuses(t *testing.T) {
	good := mustHex(t, pyspnegoTSRequest)
	for name, b := range map[string][]byte{
		"empty":          nil,
		"trailing bytes": append(bytes.Clone(good), 0),
		"truncated":      good[:len(good)-1],
		"not a sequence": []byte{0x04, 0x00},
		"version 0":      {0x30, 0x05, 0xa0, 0x03, 0x02, 0x01, 0x00},
	} {
		if _, err := ParseTSRequest(b); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
