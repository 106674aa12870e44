package controllers

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	ocsv1 "github.com/ocsha/ocs-ha-operator/api/v1alpha1"
)

// Event reasons of OCSPool server transitions.
const (
	eventServerHealthy     = "ServerHealthy"
	eventServerUnhealthy   = "ServerUnhealthy"
	eventServerUnreachable = "ServerUnreachable"
	eventServerDraining    = "ServerDraining"
	eventServerDrained     = "ServerDrained"
	// eventServerAuthFailed and eventServerTLSFailed: the server's probes are refused; its health
	// is unknown and it is not failed over.
	eventServerAuthFailed = "ServerAuthenticationFailed"
	eventServerTLSFailed  = "ServerTLSFailed"
)

// rejection is a server whose probe WinRM refused for a reason only a human can fix.
type rejection struct {
	Server string
	Reason string
	Detail string
}

// setPoolConditions sets servingServers, homedUsers and every owned condition of pool from
// status.servers, the rejections of the round and the directory's refusal of its listing (nil
// when none). Reconciling is False: it is True only while the first round runs, which the
// reconciler reports before it starts the round.
func setPoolConditions(pool *ocsv1.OCSPool, rejected []rejection, directory *rejection) {
	serving, homed := 0, int32(0)
	var notServing, names, drained, draining []string
	for _, st := range pool.Status.Servers {
		homed += st.HomedUsers
		if isServing(st) {
			serving++
			continue
		}
		// Maintenance is desired state: a drained server is as the admin wants it, and a
		// draining one is an action in progress, not a fault.
		if st.State == ocsv1.ServerDrained && preflightAllows(st) {
			drained = append(drained, st.Name)
			continue
		}
		if st.State == ocsv1.ServerDraining && preflightAllows(st) {
			draining = append(draining, st.Name)
			continue
		}
		state := string(st.State)
		if st.State == ocsv1.ServerHealthy {
			state = "preflight " + string(st.Preflight.Result)
		}
		names = append(names, fmt.Sprintf("%s (%s)", st.Name, state))
		notServing = append(notServing, describeServer(st))
	}
	total := len(pool.Spec.Servers)
	pool.Status.ServingServers = fmt.Sprintf("%d/%d", serving, total)
	pool.Status.HomedUsers = homed

	setMaintenanceReconciling(pool, draining)
	switch {
	case len(notServing) == 0 && serving == total:
		setCondition(pool, ocsv1.ConditionReady, metav1.ConditionTrue, ocsv1.ReasonServersServing,
			fmt.Sprintf("All %d servers are Healthy and serve users.", total))
		setCondition(pool, ocsv1.ConditionDegraded, metav1.ConditionFalse, ocsv1.ReasonAsExpected, "")
	case len(notServing) == 0 && len(draining) > 0 && serving+len(drained)+len(draining) == total:
		setCondition(pool, ocsv1.ConditionReady, metav1.ConditionFalse, ocsv1.ReasonDraining,
			fmt.Sprintf("%d of %d servers serve users; draining for maintenance: %s.", serving, total, strings.Join(draining, ", ")))
		setCondition(pool, ocsv1.ConditionDegraded, metav1.ConditionFalse, ocsv1.ReasonAsExpected, "")
	case len(notServing) == 0 && serving > 0 && serving+len(drained) == total:
		setCondition(pool, ocsv1.ConditionReady, metav1.ConditionTrue, ocsv1.ReasonServersServing,
			fmt.Sprintf("%d of %d servers serve users; drained for maintenance: %s.", serving, total, strings.Join(drained, ", ")))
		setCondition(pool, ocsv1.ConditionDegraded, metav1.ConditionFalse, ocsv1.ReasonAsExpected, "")
	default:
		setCondition(pool, ocsv1.ConditionReady, metav1.ConditionFalse, ocsv1.ReasonServerNotServing,
			fmt.Sprintf("%d of %d servers serve users; not serving: %s.", serving, total, strings.Join(names, ", ")))
		setCondition(pool, ocsv1.ConditionDegraded, metav1.ConditionTrue, ocsv1.ReasonServerNotServing,
			strings.Join(notServing, " "))
	}

	setCompatibleCondition(pool)
	if len(rejected) == 0 && directory != nil {
		markStalled(pool, directory.Reason, "OCSPool "+directory.Detail)
		return
	}
	if len(rejected) == 0 {
		if msg := maintenanceEverywhere(pool.Spec); msg != "" {
			markStalled(pool, ocsv1.ReasonAllServersInMaintenance, msg)
			return
		}
		clearStalled(pool)
		return
	}
	// The same Secret usually serves every server: say it once.
	var details []string
	seen := map[string]bool{}
	servers := make([]string, 0, len(rejected))
	for _, r := range rejected {
		servers = append(servers, r.Server)
		if !seen[r.Detail] {
			seen[r.Detail] = true
			details = append(details, r.Detail)
		}
	}
	markStalled(pool, rejected[0].Reason, fmt.Sprintf("Probes of %s were refused: %s",
		strings.Join(servers, ", "), strings.Join(details, " ")))
}

// setMaintenanceReconciling sets Reconciling: True while servers in maintenance still hold
// users (Draining), so that GitOps tools wait for the drain and then see the pool Current.
func setMaintenanceReconciling(pool *ocsv1.OCSPool, draining []string) {
	if len(draining) > 0 {
		setCondition(pool, ocsv1.ConditionReconciling, metav1.ConditionTrue, ocsv1.ReasonDraining,
			fmt.Sprintf("Draining %s for maintenance: its users move to the other servers.", strings.Join(draining, ", ")))
		return
	}
	setCondition(pool, ocsv1.ConditionReconciling, metav1.ConditionFalse, ocsv1.ReasonIdle,
		"Every server has been probed; probes repeat every spec.health.probeInterval.")
}

// describeServer is one sentence on a server that does not serve.
func describeServer(st ocsv1.ServerStatus) string {
	if st.State == ocsv1.ServerHealthy && !preflightAllows(st) {
		return st.Preflight.Message
	}
	if st.State == ocsv1.ServerUnknown {
		return fmt.Sprintf("Server %s has not passed a probe yet: %s", st.Name, st.Message)
	}
	return fmt.Sprintf("Server %s is %s: %s", st.Name, st.State, st.Message)
}

// transitionEvent returns the event type and reason of a change to state, "" for none.
func transitionEvent(from, to ocsv1.ServerState) (eventType, reason string) {
	if from == to {
		return "", ""
	}
	switch to {
	case ocsv1.ServerHealthy:
		return corev1.EventTypeNormal, eventServerHealthy
	case ocsv1.ServerUnhealthy:
		return corev1.EventTypeWarning, eventServerUnhealthy
	case ocsv1.ServerUnreachable:
		return corev1.EventTypeWarning, eventServerUnreachable
	case ocsv1.ServerDraining:
		return corev1.EventTypeNormal, eventServerDraining
	case ocsv1.ServerDrained:
		return corev1.EventTypeNormal, eventServerDrained
	case ocsv1.ServerAuthenticationFailed:
		return corev1.EventTypeWarning, eventServerAuthFailed
	case ocsv1.ServerTLSFailed:
		return corev1.EventTypeWarning, eventServerTLSFailed
	default:
		return "", ""
	}
}
