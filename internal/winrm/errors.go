package winrm

import (
	"errors"
	"fmt"
)

// Sentinel errors that callers switch on. Classify wraps transport errors with them.
var (
	// ErrUnreachable means the server did not answer (refused, no route, reset, EOF).
	ErrUnreachable = errors.New("server unreachable")
	// ErrUnauthorized means the server rejected the credentials; terminal until they change.
	ErrUnauthorized = errors.New("credentials rejected")
	// ErrTLS means the server's certificate could not be verified; terminal until the CA or
	// endpoint changes.
	ErrTLS = errors.New("TLS verification failed")
	// ErrTimeout means the call did not finish in time; it does not prove the server is dead.
	ErrTimeout = errors.New("timed out")
	// ErrUnknownServer means no target is configured under the given name.
	ErrUnknownServer = errors.New("unknown server")
)

// Result is the outcome of one command line.
type Result struct {
	Stdout   []byte
	Stderr   []byte
	ExitCode int
}

// Error is a classified transport error for one server. It unwraps to one of the sentinels.
type Error struct {
	Server string
	// Kind is one of the sentinel errors.
	Kind error
	// Detail is a short description of the cause with any secret removed.
	Detail string
}

// Error describes the failure; it never contains a credential.
func (e *Error) Error() string {
	if e.Detail == "" {
		return fmt.Sprintf("winrm %s: %v", e.Server, e.Kind)
	}
	return fmt.Sprintf("winrm %s: %v: %s", e.Server, e.Kind, e.Detail)
}

// Unwrap returns the sentinel kind.
func (e *Error) Unwrap() error { return e.Kind }

// IsTerminal reports whether err will not go away by retrying with the same configuration.
func IsTerminal(err error) bool {
	return errors.Is(err, ErrUnauthorized) || errors.Is(err, ErrTLS) || errors.Is(err, ErrUnknownServer)
}
