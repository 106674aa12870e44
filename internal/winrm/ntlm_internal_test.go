package winrm

import (
	"bytes"
	"errors"
	"testing"
)

func TestSplitNTLMUser(t *testing.T) {
	tests := map[string]struct{ in, user, domain string }{
		"NetBIOS domain": {`CORP\ocsadmin`, "ocsadmin", "CORP"},
		"UPN stays whole, the server reads its domain": {"ocsadmin@corp.example.com", "ocsadmin@corp.example.com", ""},
		"bare user":                 {"ocsadmin", "ocsadmin", ""},
		"local account of the host": {`.\ocsadmin`, "ocsadmin", "."},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if u, d := splitNTLMUser(tc.in); u != tc.user || d != tc.domain {
				t.Fatalf("splitNTLMUser(%q) = %q, %q", tc.in, u, d)
			}
		})
	}
}

func TestParseSealedReadsItsOwnFraming(t *testing.T) {
	plain := []byte("<s:Envelope/>")
	sig := bytes.Repeat([]byte{1}, signatureSize)
	sealed := []byte("--Encrypted Boundary--\r\nbinary that looks like a delimiter")
	f, err := parseSealed(frameSealed(plain, sealed, sig))
	if err != nil {
		t.Fatal(err)
	}
	if f.origType != soapContentType || f.length != len(plain) || !bytes.Equal(f.signature, sig) || !bytes.Equal(f.sealed, sealed) {
		t.Fatalf("got %+v", f)
	}
	for name, body := range map[string][]byte{
		"empty":          nil,
		"no second part": []byte(sealedBoundary + "\r\n\tContent-Type: x\r\n"),
		"no length":      []byte(sealedBoundary + "\r\n\tOriginalContent: type=a\r\n" + sealedBoundary + "\r\n\tContent-Type: application/octet-stream\r\n" + sealedBoundary + "--\r\n"),
	} {
		if _, err := parseSealed(body); !errors.Is(err, errBadSealedBody) {
			t.Errorf("%s: err = %v", name, err)
		}
	}
}

// FuzzParseSealed feeds arbitrary answers to the parser of sealed bodies: it must not panic, and
// what it accepts has a full signature.
func FuzzParseSealed(f *testing.F) {
	f.Add(frameSealed([]byte("<x/>"), []byte("abc"), bytes.Repeat([]byte{7}, signatureSize)))
	f.Add([]byte(sealedBoundary + "\r\n"))
	f.Fuzz(func(t *testing.T, body []byte) {
		fr, err := parseSealed(body)
		if err == nil && (len(fr.signature) != signatureSize || fr.length < 0) {
			t.Fatalf("accepted %+v", fr)
		}
	})
}
