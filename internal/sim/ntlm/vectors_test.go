package ntlm

import (
	"bytes"
	"testing"
)

// MS-NLMP 4.2.1 common values and 4.2.4 NTLMv2 results.
const (
	specUser        = "User"
	specDomain      = "Domain"
	specPassword    = "Password"
	specServerChal  = "0123456789abcdef"
	specClientChal  = "aaaaaaaaaaaaaaaa"
	specRandomKey   = "55555555555555555555555555555555"
	specFlags       = uint32(0xe28a8233)
	specResponseKey = "0c868a403bfd7a93a3001ef22ef02e3f"                 // 4.2.4.1.1 NTOWFv2
	specSessionBase = "8de40ccadbc14a82f15cb0ad0de95ca3"                 // 4.2.4.1.2
	specLMv2        = "86c35097ac9cec102554764a57cccc19aaaaaaaaaaaaaaaa" // 4.2.4.2.1
	specNTProofStr  = "68cd0ab851e51c96aabc927bebef6a1c"                 // 4.2.4.2.2
	specEncKey      = "c5dad2544fc9799094ce1ce90bc9d03e"                 // 4.2.4.2.3
	specSealKey     = "59f600973cc4960a25480a7c196e4c58"                 // 4.2.4.4 client sealing key
	specSignKey     = "4788dc861b4782f35d43fd98fe1a2d39"                 // 4.2.4.4 client signing key
	specSealed      = "54e50165bf1936dc996020c1811b0f06fb5f"             // 4.2.4.4 RC4 output
	specSignature   = "010000007fb38ec5c55d497600000000"                 // 4.2.4.4 signature
)

// specTemp is the NTLMv2 client blob of 4.2.4.1.3: time 0 and the AV pairs of the challenge
// (MsvAvNbDomainName "Domain", MsvAvNbComputerName "Server").
func specTemp() []byte {
	temp := []byte{1, 1, 0, 0, 0, 0, 0, 0}
	temp = append(temp, make([]byte, 8)...)
	temp = append(temp, bytes.Repeat([]byte{0xaa}, 8)...)
	temp = append(temp, 0, 0, 0, 0)
	temp = append(temp, marshalAVPairs([]avPair{
		{avNbDomainName, utf16LE("Domain")},
		{avNbComputerName, utf16LE("Server")},
	})...)
	return append(temp, 0, 0, 0, 0)
}

func TestSpecVectorsNTLMv2(t *testing.T) {
	serverChal := unhex(t, specServerChal)
	clientChal := unhex(t, specClientChal)
	temp := specTemp()
	wantTemp := unhex(t, "0101000000000000 0000000000000000 aaaaaaaaaaaaaaaa 00000000"+
		"02000c00 44006f006d00610069006e00 01000c00 53006500720076006500720000000000 00000000")
	if !bytes.Equal(temp, wantTemp) {
		t.Fatalf("temp = %x, want %x", temp, wantTemp)
	}

	key := ntowfV2(specPassword, specUser, specDomain)
	proof := hmacMD5(key, serverChal, temp)
	base := hmacMD5(key, proof)
	tests := []struct {
		name      string
		got, want []byte
	}{
		{"ResponseKeyNT", key, unhex(t, specResponseKey)},
		{"NTProofStr", proof, unhex(t, specNTProofStr)},
		{"SessionBaseKey", base, unhex(t, specSessionBase)},
		{"LMv2 response", append(hmacMD5(key, serverChal, clientChal), clientChal...), unhex(t, specLMv2)},
		{"EncryptedRandomSessionKey", rc4Once(base, unhex(t, specRandomKey)), unhex(t, specEncKey)},
		{"client SealKey", sealKey(specFlags, unhex(t, specRandomKey), clientSealMagic), unhex(t, specSealKey)},
		{"client SignKey", signKey(unhex(t, specRandomKey), clientSignMagic), unhex(t, specSignKey)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !bytes.Equal(tt.got, tt.want) {
				t.Errorf("got %x, want %x", tt.got, tt.want)
			}
		})
	}
}

func TestSpecVectorSealPlaintext(t *testing.T) {
	plain := utf16LE("Plaintext")
	client := newSession(specFlags, unhex(t, specRandomKey), true)
	sealed, sig := client.Seal(plain)
	if !bytes.Equal(sealed, unhex(t, specSealed)) {
		t.Errorf("sealed = %x, want %s", sealed, specSealed)
	}
	if !bytes.Equal(sig, unhex(t, specSignature)) {
		t.Errorf("signature = %x, want %s", sig, specSignature)
	}

	server := newSession(specFlags, unhex(t, specRandomKey), false)
	got, err := server.Unseal(unhex(t, specSealed), unhex(t, specSignature))
	if err != nil {
		t.Fatalf("server unseal of the spec message: %v", err)
	}
	if !bytes.Equal(got, plain) {
		t.Errorf("unsealed = %x, want %x", got, plain)
	}
}

// TestSpecVectorServerLogon feeds the specification's AUTHENTICATE values through the server: the
// logon succeeds, the random session key is recovered, and the resulting session opens the
// specification's sealed "Plaintext".
func TestSpecVectorServerLogon(t *testing.T) {
	srv := &Server{
		NetBIOSDomain: "Domain", NetBIOSComputer: "Server",
		Accounts: func() []Account { return []Account{{Domain: "Domain", User: "User", Password: "Password"}} },
		Rand:     bytes.NewReader(unhex(t, specServerChal)),
	}
	c := &testClient{user: "User", domain: "Domain", password: "Password", workstation: "COMPUTER",
		flags: specFlags, sessionKey: unhex(t, specRandomKey), timestamp: make([]byte, 8)}
	copy(c.clientChallenge[:], unhex(t, specClientChal))
	h, challenge, err := srv.Challenge(c.negotiateMessage())
	if err != nil {
		t.Fatal(err)
	}
	msg, _ := c.authenticate(t, challenge)
	sess, id, err := h.Authenticate(msg)
	if err != nil {
		t.Fatalf("logon: %v", err)
	}
	if id.Name() != `Domain\User` || id.Workstation != "COMPUTER" || id.Scheme != "NTLM" {
		t.Errorf("identity = %+v", id)
	}
	if sess == nil {
		t.Fatal("no session")
	}
	got, err := sess.Unseal(unhex(t, specSealed), unhex(t, specSignature))
	if err != nil {
		t.Fatalf("unseal: %v", err)
	}
	if want := utf16LE("Plaintext"); !bytes.Equal(got, want) {
		t.Errorf("unsealed = %x, want %x", got, want)
	}
}
