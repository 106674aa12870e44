package ntlm

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"
	"time"
)

func testServer() *Server {
	return &Server{
		NetBIOSDomain: "OCSLAB", NetBIOSComputer: "OCS-FE1",
		DNSDomain: "ocslab.example", DNSComputer: "ocs-fe1.ocslab.example",
		Accounts: func() []Account {
			return []Account{
				{Domain: "OCSLAB", User: "ocsadmin", Password: "Domain-Pass1"},
				{User: "localadmin", Password: "Local-Pass1"},
			}
		},
		Now: func() time.Time { return time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC) },
	}
}

func TestChallengeMessage(t *testing.T) {
	tests := map[string]struct {
		clientFlags uint32
		want        uint32
	}{
		"a sealing client (bodgit/ntlmssp) gets every security flag it asked for": {
			clientFlags: NegotiateUnicode | NegotiateSign | NegotiateSeal | NegotiateAlwaysSign | NegotiateTargetInfo |
				Negotiate128 | NegotiateKeyExch | Negotiate56 | NegotiateExtendedSessionSecurity | NegotiateVersion,
			want: NegotiateUnicode | NegotiateSign | NegotiateSeal | NegotiateAlwaysSign | NegotiateTargetInfo |
				Negotiate128 | NegotiateKeyExch | Negotiate56 | NegotiateExtendedSessionSecurity | NegotiateVersion |
				NegotiateNTLM | TargetTypeDomain,
		},
		"an authentication-only client (go-ntlmssp) is not offered key exchange": {
			clientFlags: NegotiateTargetInfo | Negotiate56 | Negotiate128 | NegotiateUnicode |
				NegotiateExtendedSessionSecurity | NegotiateOEMDomainSupplied,
			want: NegotiateTargetInfo | Negotiate56 | Negotiate128 | NegotiateUnicode | NegotiateExtendedSessionSecurity |
				NegotiateNTLM | NegotiateVersion | TargetTypeDomain,
		},
		"key exchange without signing or sealing is dropped, LM key never granted": {
			clientFlags: NegotiateUnicode | NegotiateKeyExch | NegotiateLMKey | RequestTarget,
			want:        NegotiateUnicode | RequestTarget | NegotiateNTLM | NegotiateTargetInfo | NegotiateVersion | TargetTypeDomain,
		},
		"an OEM-only client gets OEM": {
			clientFlags: NegotiateOEM | NegotiateNTLM,
			want:        NegotiateOEM | NegotiateNTLM | NegotiateTargetInfo | NegotiateVersion | TargetTypeDomain,
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			srv := testServer()
			srv.Rand = bytes.NewReader([]byte{1, 2, 3, 4, 5, 6, 7, 8})
			c := &testClient{flags: tt.clientFlags}
			_, msg, err := srv.Challenge(c.negotiateMessage())
			if err != nil {
				t.Fatal(err)
			}
			ch := parseChallenge(t, msg)
			if ch.flags != tt.want {
				t.Errorf("flags = %#08x, want %#08x", ch.flags, tt.want)
			}
			if ch.targetName != "OCSLAB" {
				t.Errorf("TargetName = %q, want OCSLAB", ch.targetName)
			}
			if !bytes.Equal(ch.serverChallenge, []byte{1, 2, 3, 4, 5, 6, 7, 8}) {
				t.Errorf("server challenge = %x", ch.serverChallenge)
			}
			if !bytes.Equal(msg[48:56], version) {
				t.Errorf("version = %x", msg[48:56])
			}
			pairs, err := parseAVPairs(ch.targetInfo)
			if err != nil {
				t.Fatal(err)
			}
			wantPairs := []struct {
				id    uint16
				value []byte
			}{
				{avNbDomainName, utf16LE("OCSLAB")},
				{avNbComputerName, utf16LE("OCS-FE1")},
				{avDNSDomainName, utf16LE("ocslab.example")},
				{avDNSComputerName, utf16LE("ocs-fe1.ocslab.example")},
				{avTimestamp, binary.LittleEndian.AppendUint64(nil, 134400672000000000)},
			}
			if len(pairs) != len(wantPairs) {
				t.Fatalf("%d AV pairs, want %d", len(pairs), len(wantPairs))
			}
			for i, p := range wantPairs {
				if pairs[i].id != p.id || !bytes.Equal(pairs[i].value, p.value) {
					t.Errorf("pair %d = %d:%x, want %d:%x", i, pairs[i].id, pairs[i].value, p.id, p.value)
				}
			}
		})
	}
}

func TestChallengeRejectsMalformedNegotiate(t *testing.T) {
	for name, msg := range map[string][]byte{
		"empty":             nil,
		"short":             []byte("NTLMSSP\x00\x01\x00\x00\x00"),
		"wrong signature":   append([]byte("NTLMSSX\x00\x01\x00\x00\x00"), 0, 0, 0, 0),
		"authenticate type": append([]byte("NTLMSSP\x00\x03\x00\x00\x00"), 0, 0, 0, 0),
	} {
		t.Run(name, func(t *testing.T) {
			if _, _, err := testServer().Challenge(msg); !errors.Is(err, ErrMalformed) {
				t.Errorf("err = %v, want ErrMalformed", err)
			}
		})
	}
}

func TestAuthenticate(t *testing.T) {
	tests := map[string]struct {
		client   testClient
		edit     func([]byte) []byte
		wantErr  error
		wantName string
	}{
		"domain account with the NetBIOS domain": {
			client:   testClient{user: "ocsadmin", domain: "OCSLAB", password: "Domain-Pass1"},
			wantName: `OCSLAB\ocsadmin`,
		},
		"user name and domain compared case-insensitively, hashed as sent": {
			client:   testClient{user: "OcsAdmin", domain: "ocslab", password: "Domain-Pass1"},
			wantName: `OCSLAB\ocsadmin`,
		},
		"domain account with the DNS domain": {
			client:   testClient{user: "ocsadmin", domain: "ocslab.example", password: "Domain-Pass1"},
			wantName: `OCSLAB\ocsadmin`,
		},
		"domain account as a UPN": {
			client:   testClient{user: "ocsadmin@ocslab.example", password: "Domain-Pass1"},
			wantName: `OCSLAB\ocsadmin`,
		},
		"local account with the computer name": {
			client:   testClient{user: "localadmin", domain: "OCS-FE1", password: "Local-Pass1"},
			wantName: "localadmin",
		},
		"local account with no domain": {
			client:   testClient{user: "localadmin", password: "Local-Pass1"},
			wantName: "localadmin",
		},
		"MIC present and right": {
			client:   testClient{user: "ocsadmin", domain: "OCSLAB", password: "Domain-Pass1", mic: true},
			wantName: `OCSLAB\ocsadmin`,
		},
		"MIC present and wrong": {
			client:  testClient{user: "ocsadmin", domain: "OCSLAB", password: "Domain-Pass1", mic: true, corruptMIC: true},
			wantErr: ErrMIC,
		},
		"wrong password": {
			client:  testClient{user: "ocsadmin", domain: "OCSLAB", password: "nope"},
			wantErr: ErrLogonFailure,
		},
		"unknown user": {
			client:  testClient{user: "mallory", domain: "OCSLAB", password: "Domain-Pass1"},
			wantErr: ErrLogonFailure,
		},
		"domain account in another domain": {
			client:  testClient{user: "ocsadmin", domain: "OTHER", password: "Domain-Pass1"},
			wantErr: ErrLogonFailure,
		},
		"NTLMv1 response": {
			client: testClient{user: "ocsadmin", domain: "OCSLAB", password: "Domain-Pass1"},
			edit: func(b []byte) []byte {
				binary.LittleEndian.PutUint16(b[20:], 24)
				binary.LittleEndian.PutUint16(b[22:], 24)
				return b
			},
			wantErr: ErrNTLMv1,
		},
		"anonymous": {
			client: testClient{user: "ocsadmin", domain: "OCSLAB", password: "Domain-Pass1"},
			edit: func(b []byte) []byte {
				binary.LittleEndian.PutUint32(b[60:], binary.LittleEndian.Uint32(b[60:])|NegotiateAnonymous)
				return b
			},
			wantErr: ErrAnonymous,
		},
		"truncated": {
			client:  testClient{user: "ocsadmin", domain: "OCSLAB", password: "Domain-Pass1"},
			edit:    func(b []byte) []byte { return b[:100] },
			wantErr: ErrMalformed,
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			srv := testServer()
			c := tt.client
			c.flags = testClientFlags
			c.sessionKey = bytes.Repeat([]byte{0x55}, 16)
			h, challenge, err := srv.Challenge(c.negotiateMessage())
			if err != nil {
				t.Fatal(err)
			}
			msg, exported := c.authenticate(t, challenge)
			if tt.edit != nil {
				msg = tt.edit(msg)
			}
			sess, id, err := h.Authenticate(msg)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("logon: %v", err)
			}
			if id.Name() != tt.wantName {
				t.Errorf("identity %q, want %q", id.Name(), tt.wantName)
			}
			// The session must speak with the client's keys in both directions.
			client := newSession(sess.Flags(), exported, true)
			sealed, sig := client.Seal([]byte("request"))
			if got, err := sess.Unseal(sealed, sig); err != nil || string(got) != "request" {
				t.Fatalf("server unseal = %q, %v", got, err)
			}
			sealed, sig = sess.Seal([]byte("response"))
			if got, err := client.Unseal(sealed, sig); err != nil || string(got) != "response" {
				t.Fatalf("client unseal = %q, %v", got, err)
			}
		})
	}
}

func TestBasicLogon(t *testing.T) {
	tests := map[string]struct {
		user, password string
		want           bool
	}{
		"local account":                           {"localadmin", "Local-Pass1", true},
		"local account, other case":               {"LocalAdmin", "Local-Pass1", true},
		`local account as .\user`:                 {`.\localadmin`, "Local-Pass1", true},
		`local account as COMPUTER\user`:          {`ocs-fe1\localadmin`, "Local-Pass1", true},
		"local account, wrong password":           {"localadmin", "x", false},
		"domain account refused (Basic is local)": {`OCSLAB\ocsadmin`, "Domain-Pass1", false},
		"domain account as UPN refused":           {"ocsadmin@ocslab.example", "Domain-Pass1", false},
		"domain account without domain refused":   {"ocsadmin", "Domain-Pass1", false},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			if _, ok := testServer().BasicLogon(tt.user, tt.password); ok != tt.want {
				t.Errorf("BasicLogon = %v, want %v", ok, tt.want)
			}
		})
	}
}
