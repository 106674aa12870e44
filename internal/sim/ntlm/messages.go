package ntlm

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
)

// Message types of the NTLMSSP header.
const (
	typeNegotiate    uint32 = 1
	typeChallenge    uint32 = 2
	typeAuthenticate uint32 = 3
)

var signature = []byte("NTLMSSP\x00")

// ErrMalformed reports a message that is not a well-formed NTLMSSP message of the expected type.
var ErrMalformed = errors.New("malformed NTLM message")

// MessageType returns the NTLMSSP message type of b (1 NEGOTIATE, 2 CHALLENGE, 3 AUTHENTICATE), or
// 0 when b is not an NTLMSSP message.
func MessageType(b []byte) int {
	if len(b) < 12 || !bytes.Equal(b[:8], signature) {
		return 0
	}
	return int(binary.LittleEndian.Uint32(b[8:12]))
}

// Negotiate is a parsed NEGOTIATE_MESSAGE (MS-NLMP 2.2.1.1).
type Negotiate struct {
	Flags uint32
	// Raw is the message as received: the MIC covers it byte for byte.
	Raw []byte
}

// ParseNegotiate parses a NEGOTIATE_MESSAGE. The OEM domain and workstation hints are ignored,
// as Windows does for NTLMv2.
func ParseNegotiate(b []byte) (*Negotiate, error) {
	// Old clients send only the 16-byte fixed part (no domain, workstation or version fields).
	if len(b) < 16 || MessageType(b) != int(typeNegotiate) {
		return nil, fmt.Errorf("negotiate message: %w", ErrMalformed)
	}
	return &Negotiate{Flags: binary.LittleEndian.Uint32(b[12:16]), Raw: bytes.Clone(b)}, nil
}

// field reads the payload a (Len, MaxLen, Offset) descriptor at off points to.
func field(b []byte, off int) ([]byte, error) {
	if off+8 > len(b) {
		return nil, ErrMalformed
	}
	n := int(binary.LittleEndian.Uint16(b[off:]))
	at := int(binary.LittleEndian.Uint32(b[off+4:]))
	if n == 0 {
		return nil, nil
	}
	if at < 0 || at > len(b) || n > len(b)-at {
		return nil, ErrMalformed
	}
	return b[at : at+n], nil
}

// avPair is one AV_PAIR of a TargetInfo list.
type avPair struct {
	id    uint16
	value []byte
}

func marshalAVPairs(pairs []avPair) []byte {
	var b []byte
	for _, p := range pairs {
		b = binary.LittleEndian.AppendUint16(b, p.id)
		b = binary.LittleEndian.AppendUint16(b, uint16(len(p.value)))
		b = append(b, p.value...)
	}
	b = binary.LittleEndian.AppendUint16(b, avEOL)
	return binary.LittleEndian.AppendUint16(b, 0)
}

// parseAVPairs reads AV_PAIRs up to MsvAvEOL; bytes after it are ignored (clients pad with zeros).
func parseAVPairs(b []byte) ([]avPair, error) {
	var pairs []avPair
	for {
		if len(b) < 4 {
			return nil, fmt.Errorf("target info without MsvAvEOL: %w", ErrMalformed)
		}
		id := binary.LittleEndian.Uint16(b)
		n := int(binary.LittleEndian.Uint16(b[2:]))
		if id == avEOL {
			return pairs, nil
		}
		if n > len(b)-4 {
			return nil, fmt.Errorf("target info pair %d overruns: %w", id, ErrMalformed)
		}
		pairs = append(pairs, avPair{id: id, value: b[4 : 4+n]})
		b = b[4+n:]
	}
}

func findAV(pairs []avPair, id uint16) ([]byte, bool) {
	for _, p := range pairs {
		if p.id == id {
			return p.value, true
		}
	}
	return nil, false
}

// version is the VERSION structure the emulator reports: Windows Server 2008 R2 SP1 (6.1.7601),
// the host OCS 2007 R2 runs on, with NTLMSSP_REVISION_W2K3 (15).
var version = []byte{6, 1, 0xb1, 0x1d, 0, 0, 0, 15}

// challengeMessage builds a CHALLENGE_MESSAGE (MS-NLMP 2.2.1.2).
func challengeMessage(flags uint32, targetName string, serverChallenge [8]byte, targetInfo []byte) []byte {
	const fixed = 56 // header, fields and VERSION
	name := encodeString(flags, targetName)
	b := make([]byte, fixed, fixed+len(name)+len(targetInfo))
	copy(b, signature)
	binary.LittleEndian.PutUint32(b[8:], typeChallenge)
	putField(b[12:], len(name), fixed)
	binary.LittleEndian.PutUint32(b[20:], flags)
	copy(b[24:32], serverChallenge[:])
	putField(b[40:], len(targetInfo), fixed+len(name))
	copy(b[48:56], version)
	b = append(b, name...)
	return append(b, targetInfo...)
}

func putField(b []byte, n, offset int) {
	binary.LittleEndian.PutUint16(b, uint16(n))
	binary.LittleEndian.PutUint16(b[2:], uint16(n))
	binary.LittleEndian.PutUint32(b[4:], uint32(offset))
}

func encodeString(flags uint32, s string) []byte {
	if flags&NegotiateUnicode != 0 {
		return utf16LE(s)
	}
	return []byte(s)
}

func decodeString(flags uint32, b []byte) string {
	if flags&NegotiateUnicode != 0 {
		return fromUTF16LE(b)
	}
	return string(b)
}

// Authenticate is a parsed AUTHENTICATE_MESSAGE (MS-NLMP 2.2.1.3).
type Authenticate struct {
	Flags                     uint32
	LMResponse, NTResponse    []byte
	Domain, User, Workstation string
	EncryptedRandomSessionKey []byte
	// MICOffset is where the 16-byte MIC would sit (72) when the payload leaves room for it, else 0.
	MICOffset int
	// Raw is the message as received.
	Raw []byte
}

// ParseAuthenticate parses an AUTHENTICATE_MESSAGE.
func ParseAuthenticate(b []byte) (*Authenticate, error) {
	if len(b) < 64 || MessageType(b) != int(typeAuthenticate) {
		return nil, fmt.Errorf("authenticate message: %w", ErrMalformed)
	}
	m := &Authenticate{Flags: binary.LittleEndian.Uint32(b[60:64]), Raw: bytes.Clone(b)}
	var domain, user, workstation []byte
	first := len(b)
	for _, f := range []struct {
		off int
		dst *[]byte
	}{
		{12, &m.LMResponse}, {20, &m.NTResponse}, {28, &domain}, {36, &user}, {44, &workstation},
		{52, &m.EncryptedRandomSessionKey},
	} {
		v, err := field(b, f.off)
		if err != nil {
			return nil, fmt.Errorf("authenticate message field at %d: %w", f.off, err)
		}
		*f.dst = bytes.Clone(v)
		if len(v) > 0 {
			first = min(first, int(binary.LittleEndian.Uint32(b[f.off+4:])))
		}
	}
	m.Domain = decodeString(m.Flags, domain)
	m.User = decodeString(m.Flags, user)
	m.Workstation = decodeString(m.Flags, workstation)
	// The MIC follows the VERSION field; its presence is announced in the NTLMv2 response, but the
	// payload must leave room for it, which clients without a VERSION field (go-ntlmssp) do not.
	if first >= 88 && len(b) >= 88 {
		m.MICOffset = 72
	}
	return m, nil
}
