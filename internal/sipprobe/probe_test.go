package sipprobe

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/ocsha/ocs-ha-operator/internal/sim"
	"github.com/ocsha/ocs-ha-operator/internal/sim/gateway"
)

func startGateway(t *testing.T, conf *tls.Config) *gateway.Gateway {
	t.Helper()
	g := gateway.New("gw1", "127.0.0.1:0", conf)
	if err := g.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.Close)
	return g
}

func target(g *gateway.Gateway, transport string, conf *tls.Config) Target {
	host, _, _ := net.SplitHostPort(g.Addr())
	return Target{Address: host, Port: gateway.Port(g.Addr()), Transport: transport, TLS: conf}
}

func probe(t *testing.T, tgt Target, timeout time.Duration) (Response, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return Prober{}.Options(ctx, tgt)
}

func TestOptionsOverTCP(t *testing.T) {
	g := startGateway(t, nil)
	res, err := probe(t, target(g, TransportTCP, nil), 5*time.Second)
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("up gateway: %+v, %v; want 200", res, err)
	}

	if err := g.Silence(); err != nil {
		t.Fatal(err)
	}
	if _, err := probe(t, target(g, TransportTCP, nil), 300*time.Millisecond); !errors.Is(err, ErrNoAnswer) {
		t.Fatalf("silent gateway: %v; want ErrNoAnswer", err)
	}

	g.Crash()
	if _, err := probe(t, target(g, TransportTCP, nil), 5*time.Second); !errors.Is(err, ErrRefused) {
		t.Fatalf("crashed gateway: %v; want ErrRefused", err)
	}

	if err := g.Start(); err != nil {
		t.Fatal(err)
	}
	if res, err := probe(t, target(g, TransportTCP, nil), 5*time.Second); err != nil || res.StatusCode != 200 {
		t.Fatalf("restarted gateway: %+v, %v; want 200", res, err)
	}
}

func TestOptionsOverTLS(t *testing.T) {
	cert, caPEM, err := sim.SelfSigned([]string{"127.0.0.1", "gw1.corp.example.com"})
	if err != nil {
		t.Fatal(err)
	}
	g := startGateway(t, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(caPEM)

	res, err := probe(t, target(g, TransportTLS, &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}), 5*time.Second)
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("trusted gateway: %+v, %v; want 200", res, err)
	}
	// The system roots do not hold the emulator's CA.
	if _, err := probe(t, target(g, TransportTLS, nil), 5*time.Second); !errors.Is(err, ErrTLS) {
		t.Fatalf("untrusted certificate: %v; want ErrTLS", err)
	}
}

func TestInvalidTarget(t *testing.T) {
	for _, tgt := range []Target{
		{Address: "", Port: 5060, Transport: TransportTCP},
		{Address: "gw", Port: 0, Transport: TransportTCP},
		{Address: "gw", Port: 5060, Transport: "UDP"},
	} {
		if _, err := (Prober{}).Options(context.Background(), tgt); !errors.Is(err, ErrInvalidTarget) {
			t.Errorf("%+v: %v; want ErrInvalidTarget", tgt, err)
		}
	}
}
