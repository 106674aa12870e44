package ntlm

import (
	"crypto/hmac"
	"crypto/rc4"
	"encoding/binary"
	"errors"
	"sync"
)

// Errors of Unseal. After either the session is unusable: its RC4 stream has moved on.
var (
	ErrBadSignature  = errors.New("NTLM message signature does not match")
	ErrBadSequence   = errors.New("NTLM message sequence number out of order")
	ErrSessionBroken = errors.New("NTLM session unusable after an earlier failure")
)

// SignatureSize is the length of an NTLM message signature.
const SignatureSize = 16

// Session is the NTLM security context after a logon with extended session security: one RC4
// stream, signing key and sequence number per direction (MS-NLMP 3.4). It is safe for concurrent
// use, though messages of one direction must be processed in the order they travel.
type Session struct {
	flags uint32

	mu                 sync.Mutex
	sendSign, recvSign []byte
	send, recv         *rc4.Cipher
	sendSeq, recvSeq   uint32
	broken             bool
}

// newSession derives the keys of MS-NLMP 3.4.5 from the ExportedSessionKey. client selects the
// client's side (used by tests to play the client); the server sends with the server-to-client keys.
func newSession(flags uint32, exportedSessionKey []byte, client bool) *Session {
	cSign, sSign := signKey(exportedSessionKey, clientSignMagic), signKey(exportedSessionKey, serverSignMagic)
	cSeal, sSeal := sealKey(flags, exportedSessionKey, clientSealMagic), sealKey(flags, exportedSessionKey, serverSealMagic)
	s := &Session{flags: flags}
	if client {
		s.sendSign, s.recvSign = cSign, sSign
		s.send, s.recv = mustRC4(cSeal), mustRC4(sSeal)
	} else {
		s.sendSign, s.recvSign = sSign, cSign
		s.send, s.recv = mustRC4(sSeal), mustRC4(cSeal)
	}
	return s
}

func mustRC4(key []byte) *rc4.Cipher {
	c, err := rc4.NewCipher(key)
	if err != nil {
		panic("ntlm: rc4 key of invalid length") // keys here are always 16 bytes
	}
	return c
}

// Flags returns the negotiated flags the session was derived with.
func (s *Session) Flags() uint32 { return s.flags }

// Seal encrypts msg (when sealing was negotiated) and signs it with the next outgoing sequence
// number, returning the sealed bytes and the 16-byte signature.
func (s *Session) Seal(msg []byte) (sealed, sig []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sealed = append([]byte(nil), msg...)
	if s.flags&NegotiateSeal != 0 {
		s.send.XORKeyStream(sealed, sealed)
	}
	sig = s.signature(s.send, s.sendSign, s.sendSeq, msg)
	s.sendSeq++
	return sealed, sig
}

// Unseal decrypts a message of the other side and verifies its signature and sequence number.
func (s *Session) Unseal(sealed, sig []byte) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.broken {
		return nil, ErrSessionBroken
	}
	if len(sig) != SignatureSize {
		s.broken = true
		return nil, ErrBadSignature
	}
	msg := append([]byte(nil), sealed...)
	if s.flags&NegotiateSeal != 0 {
		s.recv.XORKeyStream(msg, msg)
	}
	want := s.signature(s.recv, s.recvSign, s.recvSeq, msg)
	// The sequence number is checked first: a replayed or reordered message would fail the
	// checksum too, and the sequence error says why.
	if !hmac.Equal(sig[12:], want[12:]) {
		s.broken = true
		return nil, ErrBadSequence
	}
	if !hmac.Equal(sig[:12], want[:12]) {
		s.broken = true
		return nil, ErrBadSignature
	}
	s.recvSeq++
	return msg, nil
}

// signature is the NTLMSSP_MESSAGE_SIGNATURE with extended session security: version 1, the first
// 8 bytes of HMAC_MD5(SignKey, seq ‖ msg), RC4-encrypted with the direction's stream under
// KEY_EXCH, then seq. It must run after sealing: both draw on the same RC4 stream.
func (s *Session) signature(stream *rc4.Cipher, key []byte, seq uint32, msg []byte) []byte {
	var seqb [4]byte
	binary.LittleEndian.PutUint32(seqb[:], seq)
	checksum := hmacMD5(key, seqb[:], msg)[:8]
	if s.flags&NegotiateKeyExch != 0 {
		stream.XORKeyStream(checksum, checksum)
	}
	sig := make([]byte, 0, SignatureSize)
	sig = binary.LittleEndian.AppendUint32(sig, 1)
	sig = append(sig, checksum...)
	return append(sig, seqb[:]...)
}
