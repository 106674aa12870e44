package ntlm

import (
	"bytes"
	"errors"
	"testing"
)

func sessionPair() (client, server *Session) {
	key := bytes.Repeat([]byte{0x42}, 16)
	return newSession(testClientFlags, key, true), newSession(testClientFlags, key, false)
}

func TestSessionRoundTrips(t *testing.T) {
	client, server := sessionPair()
	for i, m := range []string{"first", "", "third message, longer than the others"} {
		sealed, sig := client.Seal([]byte(m))
		if m != "" && bytes.Equal(sealed, []byte(m)) {
			t.Fatalf("message %d not sealed", i)
		}
		if got, err := server.Unseal(sealed, sig); err != nil || string(got) != m {
			t.Fatalf("message %d: got %q, %v", i, got, err)
		}
		sealed, sig = server.Seal([]byte("re: " + m))
		if got, err := client.Unseal(sealed, sig); err != nil || string(got) != "re: "+m {
			t.Fatalf("reply %d: got %q, %v", i, got, err)
		}
	}
}

func TestSessionUnsealRejects(t *testing.T) {
	tests := map[string]struct {
		tamper  func(sealed, sig []byte) ([]byte, []byte)
		wantErr error
	}{
		"a flipped payload bit": {
			tamper:  func(sealed, sig []byte) ([]byte, []byte) { sealed[0] ^= 1; return sealed, sig },
			wantErr: ErrBadSignature,
		},
		"a flipped checksum bit": {
			tamper:  func(sealed, sig []byte) ([]byte, []byte) { sig[5] ^= 1; return sealed, sig },
			wantErr: ErrBadSignature,
		},
		"a skipped sequence number": {
			tamper:  func(sealed, sig []byte) ([]byte, []byte) { sig[12] = 1; return sealed, sig },
			wantErr: ErrBadSequence,
		},
		"a short signature": {
			tamper:  func(sealed, sig []byte) ([]byte, []byte) { return sealed, sig[:12] },
			wantErr: ErrBadSignature,
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			client, server := sessionPair()
			sealed, sig := client.Seal([]byte("payload"))
			sealed, sig = tt.tamper(sealed, sig)
			if _, err := server.Unseal(sealed, sig); !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			// The stream has moved on: the session stays refused even for a genuine message.
			sealed, sig = client.Seal([]byte("next"))
			if _, err := server.Unseal(sealed, sig); !errors.Is(err, ErrSessionBroken) {
				t.Fatalf("after failure err = %v, want ErrSessionBroken", err)
			}
		})
	}
}

func TestSessionRejectsReplay(t *testing.T) {
	client, server := sessionPair()
	sealed, sig := client.Seal([]byte("once"))
	if _, err := server.Unseal(bytes.Clone(sealed), bytes.Clone(sig)); err != nil {
		t.Fatal(err)
	}
	if _, err := server.Unseal(sealed, sig); !errors.Is(err, ErrBadSequence) {
		t.Fatalf("replay err = %v, want ErrBadSequence", err)
	}
}
