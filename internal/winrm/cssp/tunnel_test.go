package cssp

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"strings"
	"testing"
	"time"
)

func testCert(t testing.TB) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "tunnel"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// handshake runs both tunnels' handshakes against each other, as the HTTP legs would.
func handshake(t *testing.T, client, server *Tunnel) (leftover []byte) {
	t.Helper()
	token, done, err := client.Step(nil)
	if err != nil || done || len(token) == 0 {
		t.Fatalf("ClientHello: %d bytes, %v, %v", len(token), done, err)
	}
	for legs := 0; ; legs++ {
		if legs > 10 {
			t.Fatal("handshake does not converge")
		}
		answer, sdone, err := server.Step(token)
		if err != nil {
			t.Fatalf("server: %v", err)
		}
		if len(answer) == 0 && sdone {
			return nil
		}
		token, done, err = client.Step(answer)
		if err != nil {
			t.Fatalf("client: %v", err)
		}
		if done {
			if sdone {
				return token
			}
			if _, sdone, err = server.Step(token); err != nil || !sdone {
				t.Fatalf("server after the client finished: %v, %v", sdone, err)
			}
			return nil
		}
	}
}

func TestTunnel(t *testing.T) {
	cert := testCert(t)
	for _, v := range []uint16{tls.VersionTLS10, tls.VersionTLS12, tls.VersionTLS13} {
		t.Run(tls.VersionName(v), func(t *testing.T) {
			//nolint:gosec // CredSSP authenticates the server through pubKeyAuth, not the certificate chain.
			client := NewClientTunnel(&tls.Config{InsecureSkipVerify: true, MinVersion: v, MaxVersion: v})
			server := NewServerTunnel(&tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: v, MaxVersion: v,
				SessionTicketsDisabled: true})
			defer client.Close()
			defer server.Close()
			handshake(t, client, server)
			if !client.Established() || !server.Established() || client.ConnectionState().Version != v {
				t.Fatalf("established %v %v, version %x", client.Established(), server.Established(), client.ConnectionState().Version)
			}
			for _, n := range []int{1, 100, MaxChunk, 3*MaxChunk + 7} {
				msg := bytes.Repeat([]byte("x"), n)
				rec, err := client.Wrap(msg)
				if err != nil {
					t.Fatal(err)
				}
				if bytes.Contains(rec, []byte("xxxx")) {
					t.Fatal("plaintext in the records")
				}
				got, err := server.Unwrap(rec)
				if err != nil || !bytes.Equal(got, msg) {
					t.Fatalf("server read %d bytes of %d: %v", len(got), n, err)
				}
				rec, err = server.Wrap(msg)
				if err != nil {
					t.Fatal(err)
				}
				if got, err = client.Unwrap(rec); err != nil || !bytes.Equal(got, msg) {
					t.Fatalf("client read %d bytes of %d: %v", len(got), n, err)
				}
			}
		})
	}
}

func TestTunnelRefusesPartialRecords(t *testing.T) {
	cert := testCert(t)
	//nolint:gosec // as above
	client := NewClientTunnel(&tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS12})
	server := NewServerTunnel(&tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12, SessionTicketsDisabled: true})
	defer client.Close()
	defer server.Close()
	handshake(t, client, server)
	rec, err := client.Wrap([]byte("hello"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := server.Unwrap(rec[:len(rec)-1]); err == nil {
		t.Fatal("partial record accepted")
	}
	if got, err := server.Unwrap(rec); err != nil || string(got) != "hello" {
		t.Fatalf("whole record after a refused partial one: %q, %v", got, err)
	}
	tampered := bytes.Clone(rec)
	tampered[len(tampered)-1] ^= 1
	if _, err := server.Unwrap(tampered); err == nil {
		t.Fatal("tampered record accepted")
	}
}

func TestTunnelHandshakeFailure(t *testing.T) {
	server := NewServerTunnel(&tls.Config{Certificates: []tls.Certificate{testCert(t)}})
	defer server.Close()
	if _, done, err := server.Step([]byte("GET / HTTP/1.1\r\n\r\n")); !done || err == nil {
		t.Fatalf("garbage ClientHello: done %v, %v", done, err)
	}
	if _, err := server.Wrap([]byte("x")); err == nil {
		t.Fatal("wrap on a failed tunnel")
	}
}

func TestSealOpen(t *testing.T) {
	cert := testCert(t)
	//nolint:gosec // as above
	client := NewClientTunnel(&tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS12})
	server := NewServerTunnel(&tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12, SessionTicketsDisabled: true})
	defer client.Close()
	defer server.Close()
	handshake(t, client, server)
	for _, n := range []int{1, MaxChunk, MaxChunk + 1, 150000} {
		msg := []byte(strings.Repeat("<s:Envelope/>", n/13+1)[:n])
		ct, body, err := Seal(client, msg)
		if err != nil {
			t.Fatal(err)
		}
		if multi := strings.HasPrefix(ct, "multipart/x-multi-encrypted"); multi != (n > MaxChunk) || !IsEncrypted(ct) {
			t.Fatalf("%d bytes: content type %q", n, ct)
		}
		if bytes.Contains(body, []byte("Envelope")) {
			t.Fatal("plaintext in the body")
		}
		got, typ, err := Open(server, ct, body)
		if err != nil || !bytes.Equal(got, msg) || typ != SOAPContentType {
			t.Fatalf("%d bytes: opened %d bytes of type %q, %v", n, len(got), typ, err)
		}
	}
	if _, _, err := Seal(client, nil); err == nil {
		t.Fatal("empty body sealed")
	}
}

func TestTrailerLength(t *testing.T) {
	// pyspnego's table (tests/test_credssp.py) for a 30-byte message, with Go's suite names.
	tests := []struct {
		version uint16
		suite   uint16
		want    int
	}{
		{tls.VersionTLS13, tls.TLS_AES_128_GCM_SHA256, 17},
		{tls.VersionTLS12, tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, 16},
		{tls.VersionTLS10, tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA, 20 + 16 - 50%16},
		{tls.VersionTLS12, tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256, 32 + 16 - 62%16},
		{tls.VersionTLS10, tls.TLS_ECDHE_RSA_WITH_RC4_128_SHA, 20},
		{tls.VersionTLS10, tls.TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA, 20 + 8 - 50%8},
	}
	for _, tt := range tests {
		if got := TrailerLength(tls.ConnectionState{Version: tt.version, CipherSuite: tt.suite}, 30); got != tt.want {
			t.Errorf("%s: %d, want %d", tls.CipherSuiteName(tt.suite), got, tt.want)
		}
	}
}
