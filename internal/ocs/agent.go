package ocs

import (
	"context"
	"errors"
	"fmt"

	"github.com/ocsha/ocs-ha-operator/internal/contacts"
	"github.com/ocsha/ocs-ha-operator/internal/winrm"
)

// Product selects the command dialect.
type Product string

// Supported products.
const (
	ProductOCS2007R2        Product = "OCS2007R2"
	ProductSkypeForBusiness Product = "SkypeForBusiness"
)

// Server names one server of a pool.
type Server struct {
	// Name is the key the Executor knows the server by.
	Name string
	// FQDN is the server's DNS name (the pool FQDN of a Standard Edition server).
	FQDN string
}

// HomedUser is a user of the directory and its home.
type HomedUser struct {
	// SIP is the user's SIP address with the "sip:" prefix.
	SIP string
	// Server is the home server's Name, "" if the home is not one of the pool's servers.
	Server  string
	Enabled bool
}

// ServiceStatus is the state of one Windows service.
type ServiceStatus struct {
	Name    string
	Running bool
	// State is RUNNING, STOPPED, START_PENDING, STOP_PENDING, …, or NOT_FOUND.
	State string
}

// Service states reported in ServiceStatus.State besides the Windows ones.
const (
	StateRunning  = "RUNNING"
	StateStopped  = "STOPPED"
	StateNotFound = "NOT_FOUND"
)

// MoveResult is the outcome of moving one user.
type MoveResult struct {
	SIP     string
	OK      bool
	Message string
}

// ImportResult is the outcome of importing one user's contacts.
type ImportResult struct {
	SIP     string
	OK      bool
	Message string
}

// ConfigFile is one exported configuration file.
type ConfigFile struct {
	Name string
	Data []byte
}

// Agent performs the admin operations on a pool's servers, each in as few WinRM round trips as
// it safely can. Servers are named by Server.Name.
type Agent interface {
	// ServiceHealth reports each service's state on server; a transport error means the server did not answer.
	ServiceHealth(ctx context.Context, server string, services []string) ([]ServiceStatus, error)
	// ListUsers lists every user of the directory with its home, asking server `via` (the directory is shared).
	ListUsers(ctx context.Context, via string) ([]HomedUser, error)
	// ListHomedUsers lists the users homed on `home`, asking server `via`.
	ListHomedUsers(ctx context.Context, via, home string) ([]HomedUser, error)
	// MoveUsers moves users to target, in one command per call, running it on server `via`
	// (a serving server; for a forced move never the dead source). One result per input user, same order.
	MoveUsers(ctx context.Context, via string, users []string, target string, force bool) ([]MoveResult, error)
	// ExportContacts exports the contacts of users homed on server (nil users = all) in one export.
	ExportContacts(ctx context.Context, server string, users []string) (*contacts.Document, error)
	// ImportContacts imports the given resources into server (their home).
	ImportContacts(ctx context.Context, server string, doc *contacts.Document) ([]ImportResult, error)
	// ExportConfiguration exports the configuration (global, pool, machine levels / Export-CsConfiguration).
	ExportConfiguration(ctx context.Context, server string) ([]ConfigFile, error)
	// Preflight checks that server can be administered: PowerShell 2.0 or later, the tools,
	// the management interface, reading users, and (with a hook) directory writes. An error
	// means the check could not run (the server did not answer); a failed check is in the report.
	Preflight(ctx context.Context, server string) (PreflightReport, error)
}

// Result is the outcome of one command line.
type Result = winrm.Result

// Executor runs one command line on a named server (implemented by internal/winrm's Pool).
// stdin, when not nil, is streamed to the command's standard input.
type Executor interface {
	Run(ctx context.Context, server string, command string, stdin []byte) (Result, error)
}

// Errors the controllers switch on. They are the transport's sentinels, so errors.Is matches
// whether an error came through the agent or straight from internal/winrm.
var (
	// ErrUnreachable: the server did not answer.
	ErrUnreachable = winrm.ErrUnreachable
	// ErrUnauthorized: credentials rejected; terminal until the Secret or spec changes.
	ErrUnauthorized = winrm.ErrUnauthorized
	// ErrTLS: the server certificate could not be verified; terminal until the CA or spec changes.
	ErrTLS = winrm.ErrTLS
	// ErrTimeout: the call did not finish in time; not proof that the server is dead.
	ErrTimeout = winrm.ErrTimeout
	// ErrFault: the WinRM service refused the request with a WS-Management fault; the command did not run.
	ErrFault = winrm.ErrFault
	// ErrUnknownServer: the server name is not one of the agent's servers.
	ErrUnknownServer = winrm.ErrUnknownServer
	// ErrBadOutput: the command ran but its output could not be understood.
	ErrBadOutput = errors.New("unexpected command output")
	// ErrPoolNotFound: a server's FQDN is not in the directory's pool table (OCS).
	ErrPoolNotFound = errors.New("pool not found in the directory")
	// ErrInvalidArgument: a value (SIP address, FQDN) failed validation and was not sent.
	ErrInvalidArgument = errors.New("invalid argument")
)

// IsTerminal reports whether err will persist until the configuration (spec or Secret) changes.
func IsTerminal(err error) bool { return winrm.IsTerminal(err) }

// CommandError reports a command that ran and failed (non-zero exit code).
type CommandError struct {
	Server   string
	Op       string
	ExitCode int
	// Message is the readable error text, extracted from CLIXML when PowerShell failed.
	Message string
}

// Error names the operation, server, exit code and message.
func (e *CommandError) Error() string {
	return fmt.Sprintf("%s on %s: exit code %d: %s", e.Op, e.Server, e.ExitCode, e.Message)
}

// opError wraps a transport error once with the operation and server.
func opError(op, server string, err error) error {
	return fmt.Errorf("%s on %s: %w", op, server, err)
}
