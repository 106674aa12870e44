package ntlm

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"testing"
)

// sealedRequest frames msg as masterzen's and pywinrm's encryption do.
func sealedRequest(client *Session, msg []byte) []byte {
	sealed, sig := client.Seal(msg)
	var b bytes.Buffer
	b.WriteString("--Encrypted Boundary\r\n")
	b.WriteString("\tContent-Type: application/HTTP-SPNEGO-session-encrypted\r\n")
	fmt.Fprintf(&b, "\tOriginalContent: type=application/soap+xml;charset=UTF-8;Length=%d\r\n", len(msg))
	b.WriteString("--Encrypted Boundary\r\n")
	b.WriteString("\tContent-Type: application/octet-stream\r\n")
	b.Write(binary.LittleEndian.AppendUint32(nil, 16))
	b.Write(sig)
	b.Write(sealed)
	b.WriteString("--Encrypted Boundary--\r\n")
	return b.Bytes()
}

const soapCT = `multipart/encrypted;protocol="application/HTTP-SPNEGO-session-encrypted";boundary="Encrypted Boundary"`

func TestUnwrapRequest(t *testing.T) {
	client, server := sessionPair()
	for _, msg := range []string{"<s:Envelope/>", "--Encrypted Boundary--\r\n inside the payload"} {
		got, origType, err := unwrap(server, soapCT, sealedRequest(client, []byte(msg)))
		if err != nil {
			t.Fatalf("unwrap %q: %v", msg, err)
		}
		if string(got) != msg || origType != "application/soap+xml;charset=UTF-8" {
			t.Errorf("got %q (%s)", got, origType)
		}
	}
}

func TestUnwrapRequestRejects(t *testing.T) {
	tests := map[string]struct {
		contentType string
		edit        func([]byte) []byte
		wantErr     error
	}{
		"a SOAP content type": {
			contentType: "application/soap+xml;charset=UTF-8",
			wantErr:     ErrNotEncrypted,
		},
		"a CredSSP protocol": {
			contentType: `multipart/encrypted;protocol="application/HTTP-CredSSP-session-encrypted";boundary="Encrypted Boundary"`,
			wantErr:     ErrNotEncrypted,
		},
		"a wrong announced length": {
			edit:    func(b []byte) []byte { return bytes.Replace(b, []byte("Length=13"), []byte("Length=12"), 1) },
			wantErr: ErrMalformed,
		},
		"no closing boundary": {
			edit:    func(b []byte) []byte { return b[:len(b)-10] },
			wantErr: ErrMalformed,
		},
		"a tampered payload": {
			edit:    func(b []byte) []byte { b[len(b)-len("--Encrypted Boundary--\r\n")-1] ^= 1; return b },
			wantErr: ErrBadSignature,
		},
		"a signature length other than 16": {
			edit: func(b []byte) []byte {
				i := bytes.Index(b, []byte("octet-stream\r\n")) + len("octet-stream\r\n")
				b[i] = 15
				return b
			},
			wantErr: ErrMalformed,
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			client, server := sessionPair()
			body := sealedRequest(client, []byte("<s:Envelope/>"))
			if tt.edit != nil {
				body = tt.edit(body)
			}
			ct := tt.contentType
			if ct == "" {
				ct = soapCT
			}
			if _, err := UnwrapRequest(server, ct, body); !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
		})
	}
}

func TestWrapResponseFraming(t *testing.T) {
	client, server := sessionPair()
	ct, body := WrapResponse(server, []byte("<s:Envelope>reply</s:Envelope>"))
	if ct != soapCT {
		t.Errorf("content type %q", ct)
	}
	head := "--Encrypted Boundary\r\n\tContent-Type: application/HTTP-SPNEGO-session-encrypted\r\n" +
		"\tOriginalContent: type=application/soap+xml;charset=UTF-8;Length=30\r\n" +
		"--Encrypted Boundary\r\n\tContent-Type: application/octet-stream\r\n\x10\x00\x00\x00"
	if !bytes.HasPrefix(body, []byte(head)) || !bytes.HasSuffix(body, []byte("--Encrypted Boundary--\r\n")) {
		t.Fatalf("framing:\n%q", body)
	}
	data := body[len(head) : len(body)-len("--Encrypted Boundary--\r\n")]
	got, err := client.Unseal(data[16:], data[:16])
	if err != nil || string(got) != "<s:Envelope>reply</s:Envelope>" {
		t.Fatalf("client unseal = %q, %v", got, err)
	}
}
