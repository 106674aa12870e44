package cssp

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"unicode/utf16"
)

// Version is the highest TSRequest version this package speaks: 6 carries errorCode and the
// CVE-2018-0886 binding (clientNonce and the SHA-256 pubKeyAuth).
const Version = 6

// credTypePassword is TSCredentials.credType for TSPasswordCreds (MS-CSSP 2.2.1.2).
const credTypePassword = 1

// NT status codes a server puts in TSRequest.errorCode.
const (
	StatusLogonFailure  uint32 = 0xC000006D // STATUS_LOGON_FAILURE
	StatusAccessDenied  uint32 = 0xC0000022 // STATUS_ACCESS_DENIED
	StatusInvalidParams uint32 = 0xC000000D // STATUS_INVALID_PARAMETER
)

// ErrMalformed reports a message that is not the DER encoding MS-CSSP defines.
var ErrMalformed = errors.New("malformed CredSSP message")

// TSRequest is the message every CredSSP leg carries (MS-CSSP 2.2.1):
//
//	TSRequest ::= SEQUENCE {
//	        version    [0] INTEGER,
//	        negoTokens [1] NegoData  OPTIONAL,
//	        authInfo   [2] OCTET STRING OPTIONAL,
//	        pubKeyAuth [3] OCTET STRING OPTIONAL,
//	        errorCode  [4] INTEGER OPTIONAL,
//	        clientNonce [5] OCTET STRING OPTIONAL
//	}
type TSRequest struct {
	Version int
	// NegoTokens are the SPNEGO (or raw NTLMSSP) tokens of this leg; CredSSP sends at most one.
	NegoTokens [][]byte
	AuthInfo   []byte
	PubKeyAuth []byte
	// ErrorCode is an NTSTATUS (0 when absent); versions 3, 4 and 6+ carry it.
	ErrorCode   uint32
	ClientNonce []byte
}

type tsRequestDER struct {
	Version     int           `asn1:"explicit,tag:0"`
	NegoTokens  []negoDataDER `asn1:"explicit,optional,tag:1"`
	AuthInfo    []byte        `asn1:"explicit,optional,tag:2"`
	PubKeyAuth  []byte        `asn1:"explicit,optional,tag:3"`
	ErrorCode   int64         `asn1:"explicit,optional,tag:4"`
	ClientNonce []byte        `asn1:"explicit,optional,tag:5"`
}

type negoDataDER struct {
	Token []byte `asn1:"explicit,tag:0"`
}

// Marshal returns the DER encoding of r.
func (r *TSRequest) Marshal() ([]byte, error) {
	d := tsRequestDER{Version: r.Version, AuthInfo: r.AuthInfo, PubKeyAuth: r.PubKeyAuth, ClientNonce: r.ClientNonce,
		// NTSTATUS values are written as the signed 32-bit integer Windows uses.
		ErrorCode: int64(int32(r.ErrorCode))}
	for _, t := range r.NegoTokens {
		d.NegoTokens = append(d.NegoTokens, negoDataDER{Token: t})
	}
	b, err := asn1.Marshal(d)
	if err != nil {
		return nil, fmt.Errorf("encoding TSRequest: %w", err)
	}
	return b, nil
}

// ParseTSRequest decodes a DER TSRequest. Trailing bytes are refused.
func ParseTSRequest(b []byte) (*TSRequest, error) {
	var d tsRequestDER
	rest, err := asn1.Unmarshal(b, &d)
	if err != nil || len(rest) != 0 {
		return nil, fmt.Errorf("TSRequest: %w", ErrMalformed)
	}
	if d.Version < 1 || d.ErrorCode < -(1<<31) || d.ErrorCode > 1<<32-1 {
		return nil, fmt.Errorf("TSRequest version %d, errorCode %d: %w", d.Version, d.ErrorCode, ErrMalformed)
	}
	r := &TSRequest{Version: d.Version, AuthInfo: d.AuthInfo, PubKeyAuth: d.PubKeyAuth, ClientNonce: d.ClientNonce,
		ErrorCode: uint32(d.ErrorCode)}
	for _, t := range d.NegoTokens {
		r.NegoTokens = append(r.NegoTokens, t.Token)
	}
	return r, nil
}

// PasswordCreds are the credentials a client delegates (TSPasswordCreds, MS-CSSP 2.2.1.2.1).
type PasswordCreds struct {
	Domain, User, Password string
}

type tsCredentialsDER struct {
	CredType    int    `asn1:"explicit,tag:0"`
	Credentials []byte `asn1:"explicit,tag:1"`
}

type tsPasswordCredsDER struct {
	Domain   []byte `asn1:"explicit,tag:0"`
	User     []byte `asn1:"explicit,tag:1"`
	Password []byte `asn1:"explicit,tag:2"`
}

// MarshalCredentials returns the DER TSCredentials that carries c as TSPasswordCreds.
func MarshalCredentials(c PasswordCreds) ([]byte, error) {
	inner, err := asn1.Marshal(tsPasswordCredsDER{Domain: utf16LE(c.Domain), User: utf16LE(c.User), Password: utf16LE(c.Password)})
	if err != nil {
		return nil, fmt.Errorf("encoding TSPasswordCreds: %w", err)
	}
	b, err := asn1.Marshal(tsCredentialsDER{CredType: credTypePassword, Credentials: inner})
	if err != nil {
		return nil, fmt.Errorf("encoding TSCredentials: %w", err)
	}
	return b, nil
}

// ParseCredentials decodes a TSCredentials holding TSPasswordCreds. Smart-card and Remote
// Credential Guard credentials are refused: WinRM delegates passwords only.
func ParseCredentials(b []byte) (PasswordCreds, error) {
	var d tsCredentialsDER
	rest, err := asn1.Unmarshal(b, &d)
	if err != nil || len(rest) != 0 {
		return PasswordCreds{}, fmt.Errorf("TSCredentials: %w", ErrMalformed)
	}
	if d.CredType != credTypePassword {
		return PasswordCreds{}, fmt.Errorf("TSCredentials credType %d is not a password: %w", d.CredType, ErrMalformed)
	}
	var p tsPasswordCredsDER
	rest, err = asn1.Unmarshal(d.Credentials, &p)
	if err != nil || len(rest) != 0 {
		return PasswordCreds{}, fmt.Errorf("TSPasswordCreds: %w", ErrMalformed)
	}
	var c PasswordCreds
	var ok [3]bool
	c.Domain, ok[0] = fromUTF16LE(p.Domain)
	c.User, ok[1] = fromUTF16LE(p.User)
	c.Password, ok[2] = fromUTF16LE(p.Password)
	if !ok[0] || !ok[1] || !ok[2] {
		return PasswordCreds{}, fmt.Errorf("TSPasswordCreds: odd-length UTF-16: %w", ErrMalformed)
	}
	return c, nil
}

func utf16LE(s string) []byte {
	u := utf16.Encode([]rune(s))
	b := make([]byte, 0, 2*len(u))
	for _, r := range u {
		b = append(b, byte(r), byte(r>>8))
	}
	return b
}

func fromUTF16LE(b []byte) (string, bool) {
	if len(b)%2 != 0 {
		return "", false
	}
	u := make([]uint16, len(b)/2)
	for i := range u {
		u[i] = uint16(b[2*i]) | uint16(b[2*i+1])<<8
	}
	return string(utf16.Decode(u)), true
}

// SubjectPublicKey returns the key CredSSP binds: the subjectPublicKey BIT STRING of the
// certificate's SubjectPublicKeyInfo (for RSA the DER RSAPublicKey, for ECDSA the point).
func SubjectPublicKey(cert *x509.Certificate) ([]byte, error) {
	var spki struct {
		Algorithm asn1.RawValue
		PublicKey asn1.BitString
	}
	rest, err := asn1.Unmarshal(cert.RawSubjectPublicKeyInfo, &spki)
	if err != nil || len(rest) != 0 || len(spki.PublicKey.Bytes) == 0 {
		return nil, fmt.Errorf("certificate public key: %w", ErrMalformed)
	}
	return spki.PublicKey.Bytes, nil
}

// Binding magic strings of MS-CSSP 3.1.5 (version 5 and later), NUL included.
var (
	clientBindingMagic = []byte("CredSSP Client-To-Server Binding Hash\x00")
	serverBindingMagic = []byte("CredSSP Server-To-Client Binding Hash\x00")
)

// NonceSize is the length of clientNonce.
const NonceSize = 32

// ClientPubKeyAuth is the value a client encrypts into pubKeyAuth: from version 5 on
// SHA256(client magic ‖ nonce ‖ key), before that the key itself.
func ClientPubKeyAuth(version int, nonce, pubKey []byte) []byte {
	if version >= 5 {
		return bindingHash(clientBindingMagic, nonce, pubKey)
	}
	return bytes.Clone(pubKey)
}

// ServerPubKeyAuth is the value a server answers with: from version 5 on SHA256(server magic ‖
// nonce ‖ key), before that the key with its first byte incremented.
func ServerPubKeyAuth(version int, nonce, pubKey []byte) []byte {
	if version >= 5 {
		return bindingHash(serverBindingMagic, nonce, pubKey)
	}
	out := bytes.Clone(pubKey)
	if len(out) > 0 {
		out[0]++
	}
	return out
}

func bindingHash(magic, nonce, pubKey []byte) []byte {
	h := sha256.New()
	h.Write(magic)
	h.Write(nonce)
	h.Write(pubKey)
	return h.Sum(nil)
}

// CarriesErrorCode reports whether TSRequest version v has the errorCode field (3, 4 and 6+).
func CarriesErrorCode(v int) bool {
	return v == 3 || v == 4 || v >= 6
}
