package cssp

import (
	"testing"
)

// FuzzParseTSRequest feeds arbitrary bytes to the TSRequest decoder (both ends parse it): it must
// fail cleanly or decode something that encodes again.
func FuzzParseTSRequest(f *testing.F) {
	f.Add(mustHex(f, pyspnegoTSRequest))
	f.Add([]byte{0x30, 0x05, 0xa0, 0x03, 0x02, 0x01, 0x06})
	f.Add([]byte{0x30, 0x80})
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := ParseTSRequest(b)
		if err != nil {
			return
		}
		if _, err := r.Marshal(); err != nil {
			t.Fatalf("decoded %+v does not encode: %v", r, err)
		}
	})
}

// FuzzParseCredentials feeds arbitrary bytes to the TSCredentials decoder (the server's).
func FuzzParseCredentials(f *testing.F) {
	f.Add(mustHex(f, pyspnegoPassword))
	f.Add([]byte{0x30, 0x00})
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := ParseCredentials(b)
		if err != nil {
			return
		}
		if _, err := MarshalCredentials(c); err != nil {
			t.Fatalf("decoded %+v does not encode: %v", c, err)
		}
	})
}

// FuzzParseEncrypted feeds arbitrary bodies and content types to the MS-WSMV CredSSP framing
// parser (both ends parse it).
func FuzzParseEncrypted(f *testing.F) {
	ct := ContentType(10)
	f.Add([]byte("--Encrypted Boundary\r\n\tContent-Type: application/HTTP-CredSSP-session-encrypted\r\n"+
		"\tOriginalContent: type=application/soap+xml;charset=UTF-8;Length=10\r\n--Encrypted Boundary\r\n"+
		"\tContent-Type: application/octet-stream\r\n\x10\x00\x00\x00\x17\x03\x03\x00\x02ab--Encrypted Boundary--\r\n"), ct)
	f.Add([]byte("--Encrypted Boundary\r\n--Encrypted Boundary\r\n"), ct)
	f.Add([]byte{}, "multipart/x-multi-encrypted;protocol=\"application/HTTP-CredSSP-session-encrypted\"")
	f.Fuzz(func(t *testing.T, body []byte, contentType string) {
		parts, err := ParseEncrypted(contentType, body)
		if err != nil {
			return
		}
		for _, p := range parts {
			if !wholeRecords(p.Records) || len(p.Records) == 0 || p.Length < 0 {
				t.Fatalf("part %+v", p)
			}
		}
	})
}
