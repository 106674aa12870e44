package ntlm

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/rc4"
	"strings"
	"unicode/utf16"
)

// Magic constants of MS-NLMP 3.4.5.2 and 3.4.5.3; the trailing NUL is part of each.
var (
	clientSignMagic = []byte("session key to client-to-server signing key magic constant\x00")
	serverSignMagic = []byte("session key to server-to-client signing key magic constant\x00")
	clientSealMagic = []byte("session key to client-to-server sealing key magic constant\x00")
	serverSealMagic = []byte("session key to server-to-client sealing key magic constant\x00")
)

func hmacMD5(key []byte, data ...[]byte) []byte {
	m := hmac.New(md5.New, key)
	for _, d := range data {
		m.Write(d)
	}
	return m.Sum(nil)
}

func md5Sum(data ...[]byte) []byte {
	h := md5.New()
	for _, d := range data {
		h.Write(d)
	}
	return h.Sum(nil)
}

// utf16LE encodes s as NTLM's Unicode strings are sent: UTF-16, little-endian, no terminator.
func utf16LE(s string) []byte {
	u := utf16.Encode([]rune(s))
	b := make([]byte, 2*len(u))
	for i, c := range u {
		b[2*i] = byte(c)
		b[2*i+1] = byte(c >> 8)
	}
	return b
}

// fromUTF16LE decodes a little-endian UTF-16 byte string; an odd trailing byte is dropped.
func fromUTF16LE(b []byte) string {
	u := make([]uint16, len(b)/2)
	for i := range u {
		u[i] = uint16(b[2*i]) | uint16(b[2*i+1])<<8
	}
	return string(utf16.Decode(u))
}

// ntowfV2 is NTOWFv2 of MS-NLMP 3.3.2. The domain is used as the client sent it: only the user
// name is upper-cased, which is why a server must hash with the client's spelling of the domain.
func ntowfV2(password, user, domain string) []byte {
	nt := md4Sum(utf16LE(password))
	return hmacMD5(nt[:], utf16LE(strings.ToUpper(user)+domain))
}

// rc4Once encrypts (or decrypts) data with a fresh RC4 stream, as RC4K does for the session key.
func rc4Once(key, data []byte) []byte {
	c, err := rc4.NewCipher(key)
	if err != nil {
		// Only an empty or over-long key fails; every key here is 5 to 16 bytes.
		panic("ntlm: rc4 key of invalid length")
	}
	out := make([]byte, len(data))
	c.XORKeyStream(out, data)
	return out
}

// signKey is SIGNKEY of MS-NLMP 3.4.5.2 (only defined with extended session security).
func signKey(exportedSessionKey, magic []byte) []byte {
	return md5Sum(exportedSessionKey, magic)
}

// sealKey is SEALKEY of MS-NLMP 3.4.5.3 with extended session security: the key is cut to the
// strength the flags negotiated before hashing.
func sealKey(flags uint32, exportedSessionKey, magic []byte) []byte {
	switch {
	case flags&Negotiate128 != 0:
		return md5Sum(exportedSessionKey, magic)
	case flags&Negotiate56 != 0:
		return md5Sum(exportedSessionKey[:7], magic)
	default:
		return md5Sum(exportedSessionKey[:5], magic)
	}
}
