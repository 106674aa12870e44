package ntlm

import (
	"encoding/binary"
	"encoding/hex"
	"strings"
	"testing"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatalf("bad hex %q: %v", s, err)
	}
	return b
}

// testClient plays an NTLMv2 client, independent of the third-party clients, so that tests can
// build the edge cases those never send.
type testClient struct {
	user, domain, password, workstation string
	flags                               uint32 // NEGOTIATE flags
	clientChallenge                     [8]byte
	timestamp                           []byte // nil: the server's MsvAvTimestamp
	sessionKey                          []byte // random session key under KEY_EXCH
	mic                                 bool   // announce and send a MIC
	corruptMIC                          bool

	negotiate []byte
}

const testClientFlags = NegotiateUnicode | RequestTarget | NegotiateSign | NegotiateSeal | NegotiateNTLM |
	NegotiateAlwaysSign | NegotiateExtendedSessionSecurity | NegotiateTargetInfo | NegotiateVersion |
	Negotiate128 | NegotiateKeyExch | Negotiate56

func (c *testClient) negotiateMessage() []byte {
	b := make([]byte, 40)
	copy(b, signature)
	binary.LittleEndian.PutUint32(b[8:], typeNegotiate)
	binary.LittleEndian.PutUint32(b[12:], c.flags)
	putField(b[16:], 0, 40)
	putField(b[24:], 0, 40)
	copy(b[32:], version)
	c.negotiate = b
	return b
}

// parsedChallenge is what a client reads from a CHALLENGE_MESSAGE.
type parsedChallenge struct {
	flags           uint32
	targetName      string
	serverChallenge []byte
	targetInfo      []byte
}

func parseChallenge(t testing.TB, b []byte) parsedChallenge {
	t.Helper()
	if MessageType(b) != int(typeChallenge) || len(b) < 56 {
		t.Fatalf("not a challenge message: %x", b)
	}
	name, err := field(b, 12)
	if err != nil {
		t.Fatal(err)
	}
	info, err := field(b, 40)
	if err != nil {
		t.Fatal(err)
	}
	flags := binary.LittleEndian.Uint32(b[20:])
	return parsedChallenge{flags: flags, targetName: decodeString(flags, name), serverChallenge: b[24:32], targetInfo: info}
}

// authenticate answers challenge; it returns the message and the client's ExportedSessionKey.
func (c *testClient) authenticate(t testing.TB, challenge []byte) ([]byte, []byte) {
	t.Helper()
	ch := parseChallenge(t, challenge)
	flags := ch.flags
	pairs, err := parseAVPairs(ch.targetInfo)
	if err != nil {
		t.Fatal(err)
	}
	ts := c.timestamp
	if ts == nil {
		ts, _ = findAV(pairs, avTimestamp)
	}
	if c.mic {
		pairs = append(pairs, avPair{avFlags, binary.LittleEndian.AppendUint32(nil, avFlagMICPresent)})
	}
	temp := append([]byte{1, 1, 0, 0, 0, 0, 0, 0}, ts...)
	temp = append(temp, c.clientChallenge[:]...)
	temp = append(temp, 0, 0, 0, 0)
	temp = append(temp, marshalAVPairs(pairs)...)
	temp = append(temp, 0, 0, 0, 0)
	k := ntowfV2(c.password, c.user, c.domain)
	proof := hmacMD5(k, ch.serverChallenge, temp)
	nt := append(proof, temp...)
	lm := make([]byte, 24)
	base := hmacMD5(k, proof)
	exported := base
	var encKey []byte
	if flags&NegotiateKeyExch != 0 {
		exported = c.sessionKey
		encKey = rc4Once(base, c.sessionKey)
	}

	payload := [][]byte{lm, nt, encodeString(flags, c.domain), encodeString(flags, c.user),
		encodeString(flags, c.workstation), encKey}
	const fixed = 88 // fields, VERSION, MIC
	b := make([]byte, fixed)
	copy(b, signature)
	binary.LittleEndian.PutUint32(b[8:], typeAuthenticate)
	off := fixed
	for i, p := range payload {
		putField(b[12+8*i:], len(p), off)
		off += len(p)
	}
	binary.LittleEndian.PutUint32(b[60:], flags)
	copy(b[64:], version)
	for _, p := range payload {
		b = append(b, p...)
	}
	if c.mic {
		mic := hmacMD5(exported, c.negotiate, challenge, b)
		if c.corruptMIC {
			mic[0] ^= 1
		}
		copy(b[72:], mic)
	}
	return b, exported
}
