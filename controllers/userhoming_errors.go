package controllers

import (
	"context"
	"errors"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/ocsha/ocs-ha-operator/internal/backup"
	"github.com/ocsha/ocs-ha-operator/internal/ocs"
	"github.com/ocsha/ocs-ha-operator/internal/winrm"
)

// Errors reach the UserHoming's conditions only in stable words: the raw error (ports, durations,
// request IDs) would change the message at every attempt. The manager logs the error itself.

// describePassError says in stable words why a pass failed: a condition message must not change
// with every attempt (a port, a duration, a request ID), and the error itself is logged by the
// manager.
func describePassError(err error) string {
	switch {
	case apierrors.IsConflict(err):
		return "the UserHoming changed during the pass."
	case errors.Is(err, errStoreMissing):
		return "the backup store of spec.contactRestore.backupRef is missing or empty; contacts are restored once it is back."
	case errors.Is(err, backup.ErrCorrupt), errors.Is(err, backup.ErrNotFound):
		return "the snapshots of spec.contactRestore.backupRef could not be read."
	}
	return describeCommandError(err) + "."
}

// describeCommandError says in stable words why an admin command failed, naming the server when
// the transport says which.
func describeCommandError(err error) string {
	on := ""
	var we *winrm.Error
	if errors.As(err, &we) {
		on = " on " + we.Server
	}
	switch {
	case errors.Is(err, context.Canceled):
		return "the manager is stopping"
	case errors.Is(err, ocs.ErrTimeout), errors.Is(err, context.DeadlineExceeded):
		return "a WinRM command" + on + " hit its timeout"
	case errors.Is(err, ocs.ErrUnauthorized):
		return "WinRM" + on + " refused the credentials"
	case errors.Is(err, ocs.ErrTLS):
		return "the WinRM certificate" + on + " did not verify"
	case errors.Is(err, ocs.ErrFault):
		return "WinRM" + on + " answered with a WS-Management fault"
	case errors.Is(err, ocs.ErrUnreachable):
		return "WinRM" + on + " did not answer"
	default:
		return "an unexpected error; the manager's log has it"
	}
}
