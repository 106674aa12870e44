package controllers

import (
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	ocsv1 "github.com/ocsha/ocs-ha-operator/api/v1alpha1"
)

// Event reasons of role servers, gateways and the conditions they decide.
const (
	eventRoleServerHealthy    = "RoleServerHealthy"
	eventRoleServerNotServing = "RoleServerNotServing"
	eventGatewayAnswering     = "GatewayAnswering"
	eventGatewayNotAnswering  = "GatewayNotAnswering"
	eventPSTNAvailable        = "PSTNAvailable"
	eventPSTNUnavailable      = "PSTNUnavailable"
	eventExternalAvailable    = "ExternalAccessAvailable"
	eventExternalUnavailable  = "ExternalAccessUnavailable"
)

// availability is the outcome of a pure assessment: a condition's status, reason and message,
// and the broken links that make the pool Degraded.
type availability struct {
	Status  metav1.ConditionStatus
	Reason  string
	Message string
	Broken  []string
}

// pstnPaths lists the path names of spec, gateways' first, in spec order.
func pstnPaths(spec ocsv1.OCSPoolSpec) []string {
	var paths []string
	for _, g := range spec.Gateways {
		if !slices.Contains(paths, g.Path) {
			paths = append(paths, g.Path)
		}
	}
	for _, r := range spec.Roles {
		for _, p := range r.Paths {
			if r.Role == ocsv1.RoleMediation && !slices.Contains(paths, p) {
				paths = append(paths, p)
			}
		}
	}
	return paths
}

// assessPSTN decides PSTNAvailable: a path serves while one of its Mediation servers is Healthy
// and one of its gateways answers OPTIONS; the pool reaches the PSTN while one path serves.
// Every member that does not serve is a broken link, named with its path.
func assessPSTN(spec ocsv1.OCSPoolSpec, st ocsv1.OCSPoolStatus) availability {
	roles := map[string]ocsv1.RoleServerStatus{}
	for _, s := range st.Roles {
		roles[s.Name] = s
	}
	gateways := map[string]ocsv1.GatewayStatus{}
	for _, g := range st.Gateways {
		gateways[g.Name] = g
	}
	paths := pstnPaths(spec)
	var a availability
	serving, unknownOnly := 0, true
	for _, p := range paths {
		medOK, gwOK := false, false
		for _, r := range spec.Roles {
			if r.Role != ocsv1.RoleMediation || !slices.Contains(r.Paths, p) {
				continue
			}
			state := roles[r.Name].State
			if state == ocsv1.ServerHealthy {
				medOK = true
				continue
			}
			unknownOnly = unknownOnly && (state == "" || state == ocsv1.ServerUnknown)
			a.Broken = append(a.Broken, fmt.Sprintf("path %s: Mediation server %s %s", p, r.Name, roleStatePhrase(state)))
		}
		for _, g := range spec.Gateways {
			if g.Path != p {
				continue
			}
			state := gateways[g.Name].State
			if state == ocsv1.GatewayAnswering {
				gwOK = true
				continue
			}
			unknownOnly = unknownOnly && (state == "" || state == ocsv1.GatewayUnknown)
			a.Broken = append(a.Broken, fmt.Sprintf("path %s: gateway %s %s", p, g.Name, gatewayStatePhrase(state)))
		}
		if !hasMember(spec, p, true) {
			unknownOnly = false
			a.Broken = append(a.Broken, fmt.Sprintf("path %s: no Mediation server lists it in spec.roles[].paths", p))
		}
		if !hasMember(spec, p, false) {
			unknownOnly = false
			a.Broken = append(a.Broken, fmt.Sprintf("path %s: no gateway in spec.gateways", p))
		}
		if medOK && gwOK {
			serving++
		}
	}
	switch {
	case serving == len(paths) && len(a.Broken) == 0:
		a.Status, a.Reason = metav1.ConditionTrue, ocsv1.ReasonAllPathsServing
		a.Message = fmt.Sprintf("All %d PSTN paths serve (%s).", len(paths), strings.Join(paths, ", "))
	case serving > 0:
		a.Status, a.Reason = metav1.ConditionTrue, ocsv1.ReasonPathDegraded
		a.Message = fmt.Sprintf("%d of %d PSTN paths serve; %s.", serving, len(paths), strings.Join(a.Broken, "; "))
	case unknownOnly:
		a.Status, a.Reason = metav1.ConditionUnknown, ocsv1.ReasonProbing
		a.Message = "No PSTN path has passed a probe yet: " + strings.Join(a.Broken, "; ") + "."
	default:
		a.Status, a.Reason = metav1.ConditionFalse, ocsv1.ReasonNoPathServing
		a.Message = "No PSTN path serves: calls to and from the PSTN fail; " + strings.Join(a.Broken, "; ") + "."
	}
	return a
}

// assessEdge decides ExternalAccessAvailable: one Healthy Edge server suffices.
func assessEdge(spec ocsv1.OCSPoolSpec, st ocsv1.OCSPoolStatus) availability {
	roles := map[string]ocsv1.RoleServerStatus{}
	for _, s := range st.Roles {
		roles[s.Name] = s
	}
	var a availability
	total, serving, unknownOnly := 0, 0, true
	for _, r := range spec.Roles {
		if r.Role != ocsv1.RoleEdge {
			continue
		}
		total++
		s := roles[r.Name]
		if s.State == ocsv1.ServerHealthy {
			serving++
			continue
		}
		unknownOnly = unknownOnly && (s.State == "" || s.State == ocsv1.ServerUnknown)
		link := fmt.Sprintf("Edge server %s %s", r.Name, roleStatePhrase(s.State))
		if s.Message != "" && s.State != ocsv1.ServerUnknown && s.State != "" {
			link += " (" + strings.TrimSuffix(s.Message, ".") + ")"
		}
		a.Broken = append(a.Broken, link)
	}
	switch {
	case serving == total:
		a.Status, a.Reason = metav1.ConditionTrue, ocsv1.ReasonAllEdgesServing
		a.Message = fmt.Sprintf("All %d Edge servers serve.", total)
	case serving > 0:
		a.Status, a.Reason = metav1.ConditionTrue, ocsv1.ReasonEdgeDegraded
		a.Message = fmt.Sprintf("%d of %d Edge servers serve; %s.", serving, total, strings.Join(a.Broken, "; "))
	case unknownOnly:
		a.Status, a.Reason = metav1.ConditionUnknown, ocsv1.ReasonProbing
		a.Message = "No Edge server has passed a probe yet."
	default:
		a.Status, a.Reason = metav1.ConditionFalse, ocsv1.ReasonNoEdgeServing
		a.Message = "No Edge server serves: remote, federated and anonymous users cannot connect; " + strings.Join(a.Broken, "; ") + "."
	}
	return a
}

// hasMember reports whether path p has a Mediation server (mediation) or a gateway.
func hasMember(spec ocsv1.OCSPoolSpec, p string, mediation bool) bool {
	if mediation {
		return slices.ContainsFunc(spec.Roles, func(r ocsv1.RoleServerSpec) bool {
			return r.Role == ocsv1.RoleMediation && slices.Contains(r.Paths, p)
		})
	}
	return slices.ContainsFunc(spec.Gateways, func(g ocsv1.GatewaySpec) bool { return g.Path == p })
}

func roleStatePhrase(s ocsv1.ServerState) string {
	if s == "" || s == ocsv1.ServerUnknown {
		return "has not passed a probe yet"
	}
	return "is " + string(s)
}

func gatewayStatePhrase(s ocsv1.GatewayState) string {
	switch s {
	case ocsv1.GatewayNotAnswering:
		return "not answering OPTIONS"
	case ocsv1.GatewayTLSFailed:
		return "failing the TLS handshake"
	default:
		return "has not answered a probe yet"
	}
}

// setRoleConditions sets PSTNAvailable and ExternalAccessAvailable from status.roles and
// status.gateways (removing each when the spec has nothing it would judge) and makes Degraded
// True when a link is broken. It runs after setPoolConditions, which decided Degraded for the
// front ends; Ready stays theirs, so that a lost redundant path reads Degraded to Argo CD and
// Current to kstatus, not Progressing.
func setRoleConditions(pool *ocsv1.OCSPool) {
	var broken []string
	conds := &pool.Status.Conditions
	if len(pool.Spec.Gateways) > 0 {
		a := assessPSTN(pool.Spec, pool.Status)
		setCondition(pool, ocsv1.ConditionPSTNAvailable, a.Status, a.Reason, a.Message)
		broken = append(broken, a.Broken...)
	} else {
		meta.RemoveStatusCondition(conds, ocsv1.ConditionPSTNAvailable)
	}
	if slices.ContainsFunc(pool.Spec.Roles, func(r ocsv1.RoleServerSpec) bool { return r.Role == ocsv1.RoleEdge }) {
		a := assessEdge(pool.Spec, pool.Status)
		setCondition(pool, ocsv1.ConditionExternalAccessAvailable, a.Status, a.Reason, a.Message)
		broken = append(broken, a.Broken...)
	} else {
		meta.RemoveStatusCondition(conds, ocsv1.ConditionExternalAccessAvailable)
	}
	if len(broken) == 0 {
		return
	}
	msg := "Not serving: " + strings.Join(broken, "; ") + "."
	if d := meta.FindStatusCondition(*conds, ocsv1.ConditionDegraded); d != nil && d.Status == metav1.ConditionTrue {
		setCondition(pool, ocsv1.ConditionDegraded, metav1.ConditionTrue, d.Reason, d.Message+" "+msg)
		return
	}
	setCondition(pool, ocsv1.ConditionDegraded, metav1.ConditionTrue, ocsv1.ReasonRoleNotServing, msg)
}

// roleEvent returns the event type and reason of a role server's or gateway's transition.
func roleEvent(t roleTransition) (eventType, reason string) {
	switch {
	case t.Gateway && t.Up:
		return corev1.EventTypeNormal, eventGatewayAnswering
	case t.Gateway:
		return corev1.EventTypeWarning, eventGatewayNotAnswering
	case t.Up:
		return corev1.EventTypeNormal, eventRoleServerHealthy
	default:
		return corev1.EventTypeWarning, eventRoleServerNotServing
	}
}

// availabilityEvent returns the event of a change of PSTNAvailable or ExternalAccessAvailable
// between True and False, "" for none.
func availabilityEvent(condType string, before, after *metav1.Condition) (eventType, reason string) {
	if after == nil || after.Status == metav1.ConditionUnknown {
		return "", ""
	}
	if before != nil && before.Status == after.Status {
		return "", ""
	}
	if before == nil && after.Status == metav1.ConditionTrue {
		return "", ""
	}
	up := after.Status == metav1.ConditionTrue
	switch {
	case condType == ocsv1.ConditionPSTNAvailable && up:
		return corev1.EventTypeNormal, eventPSTNAvailable
	case condType == ocsv1.ConditionPSTNAvailable:
		return corev1.EventTypeWarning, eventPSTNUnavailable
	case up:
		return corev1.EventTypeNormal, eventExternalAvailable
	default:
		return corev1.EventTypeWarning, eventExternalUnavailable
	}
}
