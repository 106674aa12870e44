package controllers

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	ocsv1 "github.com/ocsha/ocs-ha-operator/api/v1alpha1"
	"github.com/ocsha/ocs-ha-operator/internal/ocs"
)

// probeKind classifies one health probe of one server.
type probeKind int

const (
	// probePassed: WinRM answered and every listed service runs.
	probePassed probeKind = iota
	// probeUnreachable: WinRM did not answer.
	probeUnreachable
	// probeTimedOut: the probe did not finish within probeTimeout. It counts as a failure but
	// does not prove the server is down: a busy server answers late.
	probeTimedOut
	// probeUnhealthy: WinRM answered, but a service is not running or the check itself failed.
	probeUnhealthy
	// probeRejected: WinRM refused the credentials or the certificate did not verify; it will
	// not go away until a Secret or the spec changes.
	probeRejected
)

// probeResult is what one probe round observed about one server.
type probeResult struct {
	Kind probeKind
	// Detail is a sentence saying what the probe saw; it never carries a secret.
	Detail string
	// Reason is ReasonAuthenticationFailed or ReasonTLSFailed for a rejected probe.
	Reason string
	// Maintenance is spec.servers[].maintenance.
	Maintenance bool
	// HomedUsers is the number of users homed on the server, nil when this round could not
	// count them (the previous count is kept).
	HomedUsers *int32
	// UsersUncountable is set when the directory refuses to list users: no count can be trusted,
	// so a server in maintenance is never reported Drained.
	UsersUncountable bool
}

// healthOf is the health part of a state: Draining and Drained are Healthy servers in
// maintenance; a server never seen is Unknown.
func healthOf(s ocsv1.ServerState) ocsv1.ServerState {
	switch s {
	case ocsv1.ServerHealthy, ocsv1.ServerDraining, ocsv1.ServerDrained:
		return ocsv1.ServerHealthy
	case ocsv1.ServerUnhealthy, ocsv1.ServerUnreachable, ocsv1.ServerAuthenticationFailed, ocsv1.ServerTLSFailed:
		return s
	default:
		return ocsv1.ServerUnknown
	}
}

// maxFailures caps consecutiveFailures so that a server down for years never overflows it.
const maxFailures = 1 << 20

// nextServerStatus applies one probe result to a server's status with hysteresis: a server
// becomes Unreachable, Unhealthy, AuthenticationFailed or TLSFailed only after threshold failed
// probes in a row, and Healthy again after one passed probe. The last failure names the state: a
// refused login or certificate says nothing about the server's health, so it never reads as
// Unreachable, which UserHoming would fail over. A Healthy server in maintenance is Draining while
// users are homed on it, then Drained; a server that fails its probes keeps its failure state
// even in maintenance. LastTransitionTime moves only when the state changes: UserHoming measures
// its failover delay from it.
func nextServerStatus(prev ocsv1.ServerStatus, res probeResult, threshold int32, now metav1.Time) ocsv1.ServerStatus {
	next := *prev.DeepCopy()
	if next.State == "" {
		next.State = ocsv1.ServerUnknown
	}
	if threshold < 1 {
		threshold = 1
	}
	next.LastProbeTime = &now
	if res.HomedUsers != nil {
		next.HomedUsers = *res.HomedUsers
	}

	health := healthOf(prev.State)
	if res.Kind == probePassed {
		next.ConsecutiveFailures = 0
		health = ocsv1.ServerHealthy
		next.Message = res.Detail
	} else {
		next.ConsecutiveFailures = min(prev.ConsecutiveFailures+1, maxFailures)
		if next.ConsecutiveFailures >= threshold {
			health = failedState(res)
			next.Message = fmt.Sprintf("%s (%d failed probes in a row).", strings.TrimSuffix(res.Detail, "."), next.ConsecutiveFailures)
			if res.Kind == probeRejected {
				next.Message += " Its health is unknown, and a refused login or certificate is not proof that it is down: its users are not failed over."
			}
		} else {
			next.Message = fmt.Sprintf("%s (failed probe %d of %d before the state changes; the state is kept until then).",
				strings.TrimSuffix(res.Detail, "."), next.ConsecutiveFailures, threshold)
		}
	}

	state := health
	if health == ocsv1.ServerHealthy && res.Maintenance {
		if res.UsersUncountable {
			state = ocsv1.ServerDraining
			next.Message = "In maintenance: the directory refuses to list the users homed here, so the drain cannot complete."
		} else if next.HomedUsers > 0 {
			state = ocsv1.ServerDraining
			next.Message = fmt.Sprintf("In maintenance: %d users are still homed here and wait to be moved off by a UserHoming.", next.HomedUsers)
		} else {
			state = ocsv1.ServerDrained
			next.Message = "In maintenance: no user is homed here."
		}
	}
	if state != next.State || prev.LastTransitionTime == nil {
		next.LastTransitionTime = &now
	}
	next.DownSince = downSince(prev, state, now)
	next.State = state
	next.Message = trimMessage(next.Message)
	return next
}

// downSince carries the time a server went down across a change between the two down states
// (Unreachable → Unhealthy when WinRM comes back but RtcSrv does not): the server has been down
// all along, and the failover delay must not start again.
func downSince(prev ocsv1.ServerStatus, state ocsv1.ServerState, now metav1.Time) *metav1.Time {
	if !isDown(state) {
		return nil
	}
	switch {
	case !isDown(prev.State):
		return &now
	case prev.DownSince != nil:
		return prev.DownSince.DeepCopy()
	case prev.LastTransitionTime != nil:
		// Written before downSince existed: down since its last transition.
		return prev.LastTransitionTime.DeepCopy()
	default:
		return &now
	}
}

// isDown: WinRM does not answer or a required service does not run.
func isDown(s ocsv1.ServerState) bool {
	return s == ocsv1.ServerUnreachable || s == ocsv1.ServerUnhealthy
}

// failedState is the state threshold failed probes in a row lead to, named by the last one.
func failedState(res probeResult) ocsv1.ServerState {
	switch {
	case res.Kind == probeUnhealthy:
		return ocsv1.ServerUnhealthy
	case res.Kind == probeRejected && res.Reason == ocsv1.ReasonTLSFailed:
		return ocsv1.ServerTLSFailed
	case res.Kind == probeRejected:
		return ocsv1.ServerAuthenticationFailed
	default:
		return ocsv1.ServerUnreachable
	}
}

// isServing reports whether a server takes users: Healthy, not in maintenance, and passed its
// preflight.
func isServing(st ocsv1.ServerStatus) bool {
	return st.State == ocsv1.ServerHealthy && preflightAllows(st)
}

// classifyProbe turns a ServiceHealth answer into a probe result. server is the spec of the
// probed server and namespace the pool's, so that a rejected probe names the Secret to fix.
func classifyProbe(namespace string, server ocsv1.ServerSpec, services []string, statuses []ocs.ServiceStatus, err error, timeout time.Duration) probeResult {
	res := probeResult{Maintenance: server.Maintenance}
	switch {
	case err == nil:
		byName := map[string]ocs.ServiceStatus{}
		for _, s := range statuses {
			byName[strings.ToLower(s.Name)] = s
		}
		var down []string
		for _, name := range services {
			s, ok := byName[strings.ToLower(name)]
			switch {
			case !ok:
				down = append(down, name+" was not reported")
			case !s.Running:
				down = append(down, fmt.Sprintf("%s is %s", name, s.State))
			}
		}
		if len(down) > 0 {
			res.Kind = probeUnhealthy
			res.Detail = "WinRM answers but a required service is not running: " + strings.Join(down, ", ") + "."
			return res
		}
		res.Kind = probePassed
		res.Detail = "WinRM answers and " + services[0] + " is running."
		if len(services) > 1 {
			res.Detail = "WinRM answers and " + strings.Join(services, ", ") + " are running."
		}
		return res
	case errors.Is(err, ocs.ErrUnauthorized):
		res.Kind, res.Reason = probeRejected, ocsv1.ReasonAuthenticationFailed
		res.Detail = fmt.Sprintf("WinRM at %s refused the credentials of Secret %s/%s (HTTP 401): fix its username and password keys.",
			server.WinRM.Endpoint, namespace, server.WinRM.CredentialsSecretRef.Name)
		if server.WinRM.Auth == ocsv1.WinRMAuthCredSSP || server.WinRM.Auth == "" {
			res.Detail += " With auth CredSSP the server must also accept CredSSP (Enable-WSManCredSSP -Role Server)."
		}
		return res
	case errors.Is(err, ocs.ErrTLS):
		res.Kind, res.Reason = probeRejected, ocsv1.ReasonTLSFailed
		trust := "the system's trusted roots"
		if server.WinRM.CASecretRef != nil {
			trust = fmt.Sprintf("the ca.crt of Secret %s/%s", namespace, server.WinRM.CASecretRef.Name)
		}
		res.Detail = fmt.Sprintf("The certificate of %s did not verify against %s.", server.WinRM.Endpoint, trust)
		return res
	case errors.Is(err, ocs.ErrTimeout), errors.Is(err, context.DeadlineExceeded):
		res.Kind = probeTimedOut
		res.Detail = fmt.Sprintf("The probe did not finish within probeTimeout %s; a timeout is not proof that the server is down.", timeout)
		return res
	case errors.Is(err, ocs.ErrUnreachable):
		res.Kind = probeUnreachable
		res.Detail = "WinRM does not answer: " + err.Error() + "."
		return res
	default:
		// WinRM answered (a fault, a failed or unreadable command): the server is up but cannot
		// be administered.
		res.Kind = probeUnhealthy
		res.Detail = "WinRM answers but the health check failed: " + err.Error() + "."
		return res
	}
}

// probeDue reports whether a probe round is due at now after the round of last, and otherwise
// how long until it is.
func probeDue(last time.Time, interval time.Duration, now time.Time) (bool, time.Duration) {
	if last.IsZero() {
		return true, 0
	}
	wait := last.Add(interval).Sub(now)
	if wait <= 0 {
		return true, 0
	}
	return false, wait
}
