package sipprobe

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"syscall"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// Transports a gateway is reached over.
const (
	TransportTCP = "TCP"
	TransportTLS = "TLS"
)

// Errors a probe returns; the controller turns each into a sentence.
var (
	// ErrNoAnswer: the gateway accepted the connection (or the connection is still being made)
	// but no final response came before the deadline.
	ErrNoAnswer = errors.New("no final response to OPTIONS")
	// ErrRefused: nothing listens at the address.
	ErrRefused = errors.New("connection refused")
	// ErrTLS: the TLS handshake failed (certificate not trusted, name mismatch).
	ErrTLS = errors.New("TLS handshake failed")
	// ErrUnreachable: no connection could be made (no route, name not resolved).
	ErrUnreachable = errors.New("unreachable")
	// ErrInvalidTarget: the target is not usable (empty address, bad port or transport).
	ErrInvalidTarget = errors.New("invalid target")
)

// Target is one gateway.
type Target struct {
	// Address is the gateway's host name or IP address.
	Address string
	// Port is its SIP port (5060 for TCP, 5061 for TLS by convention).
	Port int
	// Transport is TransportTCP or TransportTLS.
	Transport string
	// TLS configures TLS; nil verifies against the system roots. ServerName defaults to Address.
	TLS *tls.Config
	// LocalHost is the host name the request is sent from (From, Via, Contact), e.g. the
	// operator's; empty means "localhost".
	LocalHost string
}

// Response is the final response a gateway sent.
type Response struct {
	StatusCode int
	Reason     string
}

// Prober sends one SIP OPTIONS per call. It is safe for concurrent use.
type Prober struct {
	// Logger receives the SIP stack's logs; nil discards them.
	Logger *slog.Logger
}

// Options sends SIP OPTIONS to t and waits for the final response or ctx's end. Any final
// response (2xx to 6xx) means the gateway's SIP stack is alive: Mediation Servers treat it so
// (inferred.go). The UA and its connection are closed before it returns.
func (p Prober) Options(ctx context.Context, t Target) (Response, error) {
	transport := strings.ToUpper(t.Transport)
	if t.Address == "" || t.Port < 1 || t.Port > 65535 || (transport != TransportTCP && transport != TransportTLS) {
		return Response{}, fmt.Errorf("%w: %s:%d over %q", ErrInvalidTarget, t.Address, t.Port, t.Transport)
	}
	logger := p.Logger
	if logger == nil {
		logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	local := t.LocalHost
	if local == "" {
		local = "localhost"
	}
	opts := []sipgo.UserAgentOption{sipgo.WithUserAgent("ocs-ha-operator"), sipgo.WithUserAgentHostname(local)}
	if transport == TransportTLS {
		conf := &tls.Config{MinVersion: tls.VersionTLS12}
		if t.TLS != nil {
			conf = t.TLS.Clone()
		}
		if conf.ServerName == "" {
			conf.ServerName = t.Address
		}
		opts = append(opts, sipgo.WithUserAgenTLSConfig(conf))
	}
	ua, err := sipgo.NewUA(opts...)
	if err != nil {
		return Response{}, fmt.Errorf("creating the SIP user agent: %w", err)
	}
	defer func() { _ = ua.Close() }()
	client, err := sipgo.NewClient(ua, sipgo.WithClientLogger(logger))
	if err != nil {
		return Response{}, fmt.Errorf("creating the SIP client: %w", err)
	}
	defer func() { _ = client.Close() }()

	recipient := sip.Uri{Scheme: "sip", Host: t.Address, Port: t.Port, UriParams: sip.NewParams()}
	recipient.UriParams.Add("transport", strings.ToLower(transport))
	req := sip.NewRequest(sip.OPTIONS, recipient)
	req.SetTransport(transport)
	req.SetDestination(net.JoinHostPort(t.Address, strconv.Itoa(t.Port)))
	res, err := client.Do(ctx, req)
	if err != nil {
		return Response{}, classify(ctx, err)
	}
	return Response{StatusCode: res.StatusCode, Reason: res.Reason}, nil
}

// classify maps a SIP stack error to the package's sentinels.
func classify(ctx context.Context, err error) error {
	var certErr *tls.CertificateVerificationError
	var recordErr tls.RecordHeaderError
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return fmt.Errorf("%w: %w", ErrRefused, err)
	case errors.As(err, &certErr), errors.As(err, &recordErr), strings.Contains(err.Error(), "tls:"),
		strings.Contains(err.Error(), "x509:"):
		return fmt.Errorf("%w: %w", ErrTLS, err)
	case ctx.Err() != nil, errors.Is(err, context.DeadlineExceeded), errors.Is(err, sip.ErrTransactionTimeout):
		return fmt.Errorf("%w: %w", ErrNoAnswer, err)
	default:
		return fmt.Errorf("%w: %w", ErrUnreachable, err)
	}
}
