package winrm

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"regexp"
	"strings"
	"syscall"

	mzwinrm "github.com/masterzen/winrm"
)

// httpStatusPattern finds the status masterzen reports for a non-SOAP answer, e.g.
// "http response error: 401 - invalid content type".
var httpStatusPattern = regexp.MustCompile(`http response error: (\d{3})`)

// Metric results passed to the metrics callback.
const (
	ResultOK           = "ok"
	ResultUnreachable  = "unreachable"
	ResultUnauthorized = "unauthorized"
	ResultTLS          = "tls"
	ResultTimeout      = "timeout"
	ResultCanceled     = "canceled"
	ResultFault        = "fault"
	ResultError        = "error"
)

// ErrFault means the WinRM service answered with a WS-Management fault (e.g. a quota) and did not
// run the command.
var ErrFault = errors.New("WS-Management fault")

// classify maps an error from masterzen to an *Error carrying a sentinel kind. secret is removed
// from the detail text. ctx errors become ErrTimeout (deadline) or stay context.Canceled.
func classify(server string, err error, secret string) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.Canceled) {
		return &Error{Server: server, Kind: context.Canceled, Detail: ""}
	}
	detail := scrub(err.Error(), secret)
	kind := kindOf(err)
	return &Error{Server: server, Kind: kind, Detail: detail}
}

func kindOf(err error) error {
	var known *kindError
	if errors.As(err, &known) {
		return known.kind
	}
	msg := err.Error()
	if m := httpStatusPattern.FindStringSubmatch(msg); m != nil {
		switch m[1] {
		case "401", "403":
			return ErrUnauthorized
		}
		return ErrUnreachable
	}
	var (
		unknownAuthority x509.UnknownAuthorityError
		hostname         x509.HostnameError
		invalid          x509.CertificateInvalidError
		verify           *tls.CertificateVerificationError
		record           tls.RecordHeaderError
		execErr          *mzwinrm.ExecuteCommandError
		netErr           net.Error
	)
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return ErrTimeout
	case errors.As(err, &unknownAuthority), errors.As(err, &hostname), errors.As(err, &invalid),
		errors.As(err, &verify), errors.As(err, &record),
		strings.Contains(msg, "server gave HTTP response to HTTPS client"),
		strings.Contains(msg, "x509:"), strings.Contains(msg, "tls:"):
		return ErrTLS
	case errors.As(err, &execErr):
		return ErrFault
	case errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH),
		errors.Is(err, syscall.EPIPE), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return ErrUnreachable
	case errors.As(err, &netErr) && netErr.Timeout():
		return ErrTimeout
	}
	var dnsErr *net.DNSError
	var opErr *net.OpError
	if errors.As(err, &dnsErr) || errors.As(err, &opErr) || strings.Contains(msg, "EOF") ||
		strings.Contains(msg, "connection refused") || strings.Contains(msg, "connection reset") {
		return ErrUnreachable
	}
	return ErrUnreachable
}

// scrub removes secret from s. Credentials are never put in requests' URLs, but a transport error
// could still echo them; this is the last line of defence.
func scrub(s, secret string) string {
	if secret != "" {
		s = strings.ReplaceAll(s, secret, "***")
	}
	return s
}

// resultOf names the metric result for err.
func resultOf(err error) string {
	switch {
	case err == nil:
		return ResultOK
	case errors.Is(err, context.Canceled):
		return ResultCanceled
	case errors.Is(err, ErrUnauthorized):
		return ResultUnauthorized
	case errors.Is(err, ErrTLS):
		return ResultTLS
	case errors.Is(err, ErrTimeout):
		return ResultTimeout
	case errors.Is(err, ErrFault):
		return ResultFault
	case errors.Is(err, ErrUnreachable):
		return ResultUnreachable
	}
	return ResultError
}
