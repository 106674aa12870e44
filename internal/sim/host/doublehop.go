package host

import (
	"context"
	"errors"
	"strings"

	"github.com/ocsha/ocs-ha-operator/internal/sim/ps"
)

// The double hop: OCS and Skype for Business reach Active Directory as the caller. A WinRM
// session of a network logon (Basic, NTLM) holds no credentials to present to a domain
// controller, so with Config.DoubleHop every command that reads or writes users in the directory
// fails there; only a logon with delegated credentials (CredSSP) gets through. Services, files and
// the local SQL Express (dbimpexp, lcscmd, Export-CsUserData) need no second hop.

type delegationKey struct{}

// WithDelegatedCredentials returns ctx for a command whose WinRM session holds (or not) the
// account's delegated credentials.
func WithDelegatedCredentials(ctx context.Context, delegated bool) context.Context {
	return context.WithValue(ctx, delegationKey{}, delegated)
}

// delegated reports whether ctx's session holds delegated credentials.
func delegated(ctx context.Context) bool {
	d, _ := ctx.Value(delegationKey{}).(bool)
	return d
}

// errDirectoryDenied marks a refused second hop before it is rendered per command.
var errDirectoryDenied = errors.New("directory access denied")

// directoryAccess is the double-hop gate of a directory command: nil when it may proceed.
func (w *World) directoryAccess(ctx context.Context) error {
	if !w.doubleHop || delegated(ctx) {
		return nil
	}
	return errDirectoryDenied
}

// wmiDirectoryDenied is Get-WmiObject's error for a directory class queried without delegation.
func wmiDirectoryDenied() *ps.ErrorRecord {
	return errorf("InvalidOperation", "ManagementException", wmiFQID, "%s", wmiAccessDenied)
}

// csDirectoryDenied is a Skype for Business cmdlet's error when the domain controller refuses the
// session's anonymous identity.
func (w *World) csDirectoryDenied(cmdlet string) *ps.ErrorRecord {
	return csError("InvalidOperation", cmdlet, "%s", errCsDirectoryDenied(w.domainController()))
}

// domainController is the DC the emulated site talks to: dc01.<domain>.
func (w *World) domainController() string { return "dc01." + strings.ToLower(w.domain) }
