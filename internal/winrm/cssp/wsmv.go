package cssp

import (
	"bytes"
	"crypto/tls"
	"encoding/binary"
	"fmt"
	"mime"
	"strconv"
	"strings"
)

// MS-WSMV 2.2.9.1.3 CredSSP message encryption, as Windows and pywinrm write it: each part holds
// at most 16 KiB of the SOAP message as TLS records, preceded by a 4-byte little-endian length of
// the records' trailer; a longer message is split into several parts under
// multipart/x-multi-encrypted.
const (
	// Protocol is the protocol parameter of a CredSSP-encrypted body.
	Protocol = "application/HTTP-CredSSP-session-encrypted"
	// SOAPContentType is the type of the encrypted SOAP envelope (its OriginalContent type).
	SOAPContentType = "application/soap+xml;charset=UTF-8"
	// MaxChunk is the most plaintext one part carries.
	MaxChunk = 16384

	boundary       = "Encrypted Boundary"
	singleType     = "multipart/encrypted"
	multiType      = "multipart/x-multi-encrypted"
	octetStreamHdr = "\tContent-Type: application/octet-stream\r\n"
)

// ContentType returns the Content-Type of an encrypted body of plainLen bytes.
func ContentType(plainLen int) string {
	mt := singleType
	if plainLen > MaxChunk {
		mt = multiType
	}
	return mt + `;protocol="` + Protocol + `";boundary="` + boundary + `"`
}

// IsEncrypted reports whether contentType announces a CredSSP-encrypted body.
func IsEncrypted(contentType string) bool {
	mt, params, err := mime.ParseMediaType(contentType)
	return err == nil && (mt == singleType || mt == multiType) && strings.EqualFold(params["protocol"], Protocol)
}

// Seal encrypts a non-empty SOAP message with the tunnel and frames it; it returns the
// Content-Type and the body.
func Seal(t *Tunnel, plain []byte) (string, []byte, error) {
	if len(plain) == 0 {
		return "", nil, fmt.Errorf("encrypting an empty body: %w", ErrMalformed)
	}
	var b bytes.Buffer
	b.Grow(len(plain) + 512)
	for off := 0; off < len(plain); off += MaxChunk {
		chunk := plain[off:min(off+MaxChunk, len(plain))]
		records, err := t.Wrap(chunk)
		if err != nil {
			return "", nil, err
		}
		b.WriteString("--" + boundary + "\r\n")
		b.WriteString("\tContent-Type: " + Protocol + "\r\n")
		fmt.Fprintf(&b, "\tOriginalContent: type=%s;Length=%d\r\n", SOAPContentType, len(chunk))
		b.WriteString("--" + boundary + "\r\n")
		b.WriteString(octetStreamHdr)
		b.Write(binary.LittleEndian.AppendUint32(nil, uint32(TrailerLength(t.ConnectionState(), len(chunk)))))
		b.Write(records)
	}
	b.WriteString("--" + boundary + "--\r\n")
	return ContentType(len(plain)), b.Bytes(), nil
}

// Open unframes and decrypts a body Seal produced; it returns the SOAP message and its type.
func Open(t *Tunnel, contentType string, body []byte) ([]byte, string, error) {
	parts, err := ParseEncrypted(contentType, body)
	if err != nil {
		return nil, "", err
	}
	var plain bytes.Buffer
	for _, p := range parts {
		b, err := t.Unwrap(p.Records)
		if err != nil {
			return nil, "", err
		}
		if len(b) != p.Length {
			return nil, "", fmt.Errorf("encrypted body: %d bytes, OriginalContent says %d: %w", len(b), p.Length, ErrMalformed)
		}
		plain.Write(b)
	}
	return plain.Bytes(), parts[0].OrigType, nil
}

// Part is one encrypted part of a body.
type Part struct {
	OrigType string
	Length   int
	// Records are the TLS records that carry the part's plaintext.
	Records []byte
}

// ParseEncrypted splits a CredSSP-encrypted body into its parts without decrypting them.
func ParseEncrypted(contentType string, body []byte) ([]Part, error) {
	if !IsEncrypted(contentType) {
		return nil, fmt.Errorf("content type %q is not CredSSP-encrypted: %w", contentType, ErrMalformed)
	}
	delim := []byte("--" + boundary + "\r\n")
	closing := []byte("--" + boundary + "--")
	var parts []Part
	rest := body
	for {
		if len(parts) > 0 && bytes.HasPrefix(rest, closing) {
			return parts, nil
		}
		var ok bool
		if rest, ok = bytes.CutPrefix(rest, delim); !ok {
			return nil, fmt.Errorf("encrypted body: expected a boundary: %w", ErrMalformed)
		}
		var header []byte
		if header, rest, ok = bytes.Cut(rest, delim); !ok {
			return nil, fmt.Errorf("encrypted body: no second part: %w", ErrMalformed)
		}
		origType, length, err := originalContent(header)
		if err != nil {
			return nil, err
		}
		if rest, ok = cutPrefixFold(rest, octetStreamHdr); !ok || len(rest) < 4 {
			return nil, fmt.Errorf("encrypted body: second part is not application/octet-stream: %w", ErrMalformed)
		}
		rest = rest[4:] // the trailer length: informational, the records delimit themselves
		n := recordsLen(rest)
		if n == 0 {
			return nil, fmt.Errorf("encrypted body: no TLS record: %w", ErrMalformed)
		}
		parts = append(parts, Part{OrigType: origType, Length: length, Records: rest[:n]})
		rest = rest[n:]
	}
}

func cutPrefixFold(b []byte, prefix string) ([]byte, bool) {
	if len(b) < len(prefix) || !strings.EqualFold(string(b[:len(prefix)]), prefix) {
		return b, false
	}
	return b[len(prefix):], true
}

// recordsLen returns the length of the complete TLS records at the start of b: a record starts
// with a content type of 20 to 24, which no boundary ('-') does.
func recordsLen(b []byte) int {
	n := 0
	for len(b)-n >= 5 && b[n] >= 20 && b[n] <= 24 {
		l := 5 + (int(b[n+3])<<8 | int(b[n+4]))
		if len(b)-n < l {
			break
		}
		n += l
	}
	return n
}

// originalContent reads "OriginalContent: type=…;charset=…;Length=n" from a first part's header.
func originalContent(header []byte) (string, int, error) {
	for _, line := range strings.Split(string(header), "\r\n") {
		name, value, ok := strings.Cut(strings.TrimSpace(line), ":")
		if !ok || !strings.EqualFold(strings.TrimSpace(name), "OriginalContent") {
			continue
		}
		var typ []string
		length := -1
		for _, p := range strings.Split(value, ";") {
			p = strings.TrimSpace(p)
			k, v, _ := strings.Cut(p, "=")
			switch strings.ToLower(k) {
			case "type":
				typ = append(typ, v)
			case "length":
				n, err := strconv.Atoi(v)
				if err != nil || n < 0 {
					return "", 0, fmt.Errorf("encrypted body: OriginalContent length %q: %w", v, ErrMalformed)
				}
				length = n
			default:
				if len(typ) > 0 {
					typ = append(typ, p)
				}
			}
		}
		if length < 0 || len(typ) == 0 {
			break
		}
		return strings.Join(typ, ";"), length, nil
	}
	return "", 0, fmt.Errorf("encrypted body: no OriginalContent type and Length: %w", ErrMalformed)
}

// TrailerLength is the length field Windows writes before the records: the size of the TLS
// trailer (MAC and padding, or the AEAD tag) for a chunk of n bytes, which SChannel reports as
// SecPkgContext_StreamSizes and others compute from the cipher suite.
func TrailerLength(cs tls.ConnectionState, n int) int {
	name := tls.CipherSuiteName(cs.CipherSuite)
	switch {
	case cs.Version == tls.VersionTLS13:
		return 17 // the AEAD tag and the inner content type
	case strings.Contains(name, "_GCM_"), strings.Contains(name, "CHACHA20"):
		return 16
	}
	mac := 0
	switch {
	case strings.HasSuffix(name, "_SHA"):
		mac = 20
	case strings.HasSuffix(name, "_SHA256"):
		mac = 32
	case strings.HasSuffix(name, "_SHA384"):
		mac = 48
	}
	block := 16
	switch {
	case strings.Contains(name, "RC4"):
		return mac
	case strings.Contains(name, "3DES"):
		block = 8
	}
	return mac + block - (n+mac)%block
}
