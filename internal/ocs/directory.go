package ocs

import (
	"errors"
	"regexp"
)

// ErrDirectoryAccessDenied: the server ran a command that reads or writes users in Active
// Directory (a listing, a move) and the directory refused the session's account. On a domain that
// is the second hop: a WinRM logon with Basic or NTLM holds no credentials to present to a domain
// controller, so OCS and Skype for Business reach it anonymously; CredSSP delegates them. It is
// also what an account outside RTCUniversalUserAdmins (CsUserAdministrator) gets. A human must
// act; retrying the same way cannot help.
var ErrDirectoryAccessDenied = errors.New("directory access denied")

// directoryDenied matches the error text of a refused directory command [inferred: no public
// recording of the second hop's failure exists; these are the texts the emulator renders, see
// internal/sim/host/inferred.go]: Get-WmiObject's and Put()'s "Access denied" (WBEM_E_ACCESS_DENIED),
// the Skype for Business cmdlets' "Active Directory operation failed on …", and Windows'
// "Access is denied" / "Insufficient access rights" inside them. PowerShell 2.0 wraps console
// lines, so any whitespace may separate the words.
var directoryDenied = regexp.MustCompile(`(?i)access\s+(is\s+)?denied|active\s+directory\s+operation\s+failed|insufficient\s+access\s+rights`)

// readsDirectory reports whether op reads or writes users in the directory; only their refusals
// mean the directory (an export's "access denied" is a file's).
func readsDirectory(op string) bool {
	switch op {
	case OpListUsers, OpListHomedUsers, OpMoveUsers:
		return true
	}
	return false
}

// directoryError marks a failed command of a directory operation whose message is the
// directory's refusal; other errors pass unchanged.
func directoryError(op string, err *CommandError) error {
	if readsDirectory(op) && directoryDenied.MatchString(err.Message) {
		return &DirectoryError{CommandError: err}
	}
	return err
}

// DirectoryError is a CommandError the directory refused; it matches ErrDirectoryAccessDenied.
type DirectoryError struct {
	*CommandError
}

// Error names the refusal before the command's own error.
func (e *DirectoryError) Error() string {
	return ErrDirectoryAccessDenied.Error() + ": " + e.CommandError.Error()
}

// Is makes errors.Is(err, ErrDirectoryAccessDenied) hold.
func (e *DirectoryError) Is(target error) bool { return target == ErrDirectoryAccessDenied }

// Unwrap returns the CommandError, so that errors.As finds it too.
func (e *DirectoryError) Unwrap() error { return e.CommandError }

// DirectoryDenied reports whether the result message of one user's move is the directory's
// refusal (batch moves report each user's failure as a row, not as a command error).
func DirectoryDenied(message string) bool { return directoryDenied.MatchString(message) }
