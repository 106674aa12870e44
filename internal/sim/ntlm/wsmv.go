package ntlm

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"mime"
	"strconv"
	"strings"
)

// Values of MS-WSMV 2.2.9.1.1 as Windows and the clients write them.
const (
	// EncryptedProtocol is the protocol parameter of an NTLM-sealed body.
	EncryptedProtocol = "application/HTTP-SPNEGO-session-encrypted"
	// EncryptedContentType is the Content-Type of a sealed request or response.
	EncryptedContentType = `multipart/encrypted;protocol="` + EncryptedProtocol + `";boundary="Encrypted Boundary"`
	// SOAPContentType is the type of the sealed SOAP envelope (the OriginalContent type).
	SOAPContentType = "application/soap+xml;charset=UTF-8"

	boundary = "Encrypted Boundary"
)

// ErrNotEncrypted reports a body whose Content-Type is not an NTLM-sealed multipart body.
var ErrNotEncrypted = errors.New("body is not NTLM-encrypted")

// IsEncrypted reports whether contentType announces an NTLM-sealed body.
func IsEncrypted(contentType string) bool {
	mt, params, err := mime.ParseMediaType(contentType)
	return err == nil && mt == "multipart/encrypted" && strings.EqualFold(params["protocol"], EncryptedProtocol)
}

// UnwrapRequest opens an NTLM-sealed request body: it checks the multipart framing, unseals the
// payload with sess (verifying signature and sequence) and checks the announced length.
func UnwrapRequest(sess *Session, contentType string, body []byte) ([]byte, error) {
	plain, _, err := unwrap(sess, contentType, body)
	return plain, err
}

// unwrap is UnwrapRequest that also returns the OriginalContent type.
func unwrap(sess *Session, contentType string, body []byte) (plain []byte, origType string, err error) {
	if !IsEncrypted(contentType) {
		return nil, "", ErrNotEncrypted
	}
	_, params, _ := mime.ParseMediaType(contentType)
	b := params["boundary"]
	if b == "" {
		b = boundary
	}
	delim := []byte("--" + b + "\r\n")
	end := []byte("--" + b + "--")

	rest, ok := bytes.CutPrefix(body, delim)
	if !ok {
		return nil, "", fmt.Errorf("encrypted body: no opening boundary: %w", ErrMalformed)
	}
	header, rest, ok := bytes.Cut(rest, delim)
	if !ok {
		return nil, "", fmt.Errorf("encrypted body: no second part: %w", ErrMalformed)
	}
	origType, length, err := originalContent(header)
	if err != nil {
		return nil, "", err
	}
	// The second part is one header line then binary data; the data may contain anything, so the
	// closing delimiter is the last one.
	nl := bytes.Index(rest, []byte("\r\n"))
	if nl < 0 || !strings.Contains(strings.ToLower(string(rest[:nl])), "application/octet-stream") {
		return nil, "", fmt.Errorf("encrypted body: second part is not application/octet-stream: %w", ErrMalformed)
	}
	data := rest[nl+2:]
	i := bytes.LastIndex(data, end)
	if i < 0 {
		return nil, "", fmt.Errorf("encrypted body: no closing boundary: %w", ErrMalformed)
	}
	data = data[:i]
	if len(data) < 4 {
		return nil, "", fmt.Errorf("encrypted body: payload of %d bytes: %w", len(data), ErrMalformed)
	}
	n := binary.LittleEndian.Uint32(data)
	if n != SignatureSize || len(data) < 4+SignatureSize {
		return nil, "", fmt.Errorf("encrypted body: signature length %d: %w", n, ErrMalformed)
	}
	plain, err = sess.Unseal(data[4+SignatureSize:], data[4:4+SignatureSize])
	if err != nil {
		return nil, "", fmt.Errorf("unsealing body: %w", err)
	}
	if len(plain) != length {
		return nil, "", fmt.Errorf("encrypted body: %d bytes, OriginalContent says %d: %w", len(plain), length, ErrMalformed)
	}
	return plain, origType, nil
}

// originalContent reads "OriginalContent: type=...;Length=n" from the first part's header lines.
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
				if len(typ) > 0 { // a parameter of the type, such as charset
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

// WrapResponse seals a SOAP response with sess in the framing the clients parse.
func WrapResponse(sess *Session, plain []byte) (contentType string, body []byte) {
	sealed, sig := sess.Seal(plain)
	var buf bytes.Buffer
	buf.Grow(len(plain) + 256)
	buf.WriteString("--" + boundary + "\r\n")
	buf.WriteString("\tContent-Type: " + EncryptedProtocol + "\r\n")
	fmt.Fprintf(&buf, "\tOriginalContent: type=%s;Length=%d\r\n", SOAPContentType, len(plain))
	buf.WriteString("--" + boundary + "\r\n")
	buf.WriteString("\tContent-Type: application/octet-stream\r\n")
	buf.Write(binary.LittleEndian.AppendUint32(nil, uint32(len(sig))))
	buf.Write(sig)
	buf.Write(sealed)
	buf.WriteString("--" + boundary + "--\r\n")
	return EncryptedContentType, buf.Bytes()
}
