package controllers

import (
	"errors"
	"fmt"
	"strings"

	ocsv1 "github.com/ocsha/ocs-ha-operator/api/v1alpha1"
	"github.com/ocsha/ocs-ha-operator/internal/winrm"
)

// SpecError reports a part of an OCSPool's spec that the API server accepted but the controller
// cannot use, for example an endpoint the transport refuses. Only a change of the spec (or of a
// referenced Secret) fixes it.
type SpecError struct {
	// Field is the full path of the offending field, e.g. spec.servers[1].winrm.
	Field string
	// Reason is the Stalled reason.
	Reason string
	// Detail says what is wrong; it never carries a secret.
	Detail string
}

func (e *SpecError) Error() string { return e.Field + ": " + e.Detail }

// winrmSetupError turns a transport setup failure into a SpecError naming the server's field, nil
// when err is not such a failure.
func winrmSetupError(pool *ocsv1.OCSPool, err error) *SpecError {
	var te *winrm.TargetError
	if !errors.As(err, &te) {
		return nil
	}
	for i, s := range pool.Spec.Servers {
		if s.Name != te.Server {
			continue
		}
		field := fmt.Sprintf("spec.servers[%d].winrm", i)
		if errors.Is(err, winrm.ErrTLS) && s.WinRM.CASecretRef != nil {
			field += ".caSecretRef"
		}
		return &SpecError{Field: field, Reason: ocsv1.ReasonWinRMSetupFailed, Detail: te.Error()}
	}
	return nil
}

// stallCause says whether err needs a human, and the Stalled reason and message that say what to
// fix.
func stallCause(err error) (reason, message string, ok bool) {
	if se, isSecret := asSecretError(err); isSecret {
		return se.Reason, fmt.Sprintf("OCSPool %s; create it or fix the reference. No server is probed until then.", se.Error()), true
	}
	var spec *SpecError
	if errors.As(err, &spec) {
		return spec.Reason, fmt.Sprintf("OCSPool %s: %s; fix the spec. No server is probed until then.",
			spec.Field, strings.TrimSuffix(spec.Detail, ".")), true
	}
	return "", "", false
}

// maintenanceEverywhere returns a message when every server of the pool is in maintenance: a
// drain then has nowhere to send users, so none leaves and a human must bring a server back.
// It returns "" otherwise.
func maintenanceEverywhere(spec ocsv1.OCSPoolSpec) string {
	if len(spec.Servers) == 0 {
		return ""
	}
	fields := make([]string, 0, len(spec.Servers))
	for i, s := range spec.Servers {
		if !s.Maintenance {
			return ""
		}
		fields = append(fields, fmt.Sprintf("spec.servers[%d].maintenance", i))
	}
	return fmt.Sprintf("OCSPool %s are all true: every server is in maintenance, so drained users would have nowhere to go "+
		"and none is moved; set maintenance to false on at least one server.", strings.Join(fields, ", "))
}
