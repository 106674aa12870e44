package controllers

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	ocsv1 "github.com/ocsha/ocs-ha-operator/api/v1alpha1"
	"github.com/ocsha/ocs-ha-operator/internal/ocs"
)

// The Mediation and Edge servers (spec.roles) and the PSTN gateways (spec.gateways) of a pool
// are probed in the same round as its front ends, with the same interval, timeout and
// hysteresis. They are reported in status.roles and status.gateways and in the conditions
// PSTNAvailable and ExternalAccessAvailable; a broken one makes Degraded True. They never take
// part in placement: UserHoming reads spec.servers and status.servers only, and the role
// servers have an agent of their own (RoleAgentProvider) that knows no front end.

// RoleAgentProvider gives the admin agent of a pool's role servers. It is separate from the
// front ends' agent so that no user operation can ever name a role server.
type RoleAgentProvider interface {
	// RoleAgentFor returns the agent of pool's spec.roles; a *SecretError names a missing
	// Secret or key.
	RoleAgentFor(ctx context.Context, pool *ocsv1.OCSPool) (ocs.Agent, error)
}

// roleRound is what one round learned about the role servers and gateways.
type roleRound struct {
	Roles    []probeResult
	Gateways []gatewayResult
}

// startRoleRound probes the role servers and gateways of pool in the background, each bounded
// by the probe timeout, and returns a function that waits for the results (one per spec entry,
// in spec order). Running them beside the front ends' probes keeps a round within one timeout.
func (r *OCSPoolReconciler) startRoleRound(ctx context.Context, pool *ocsv1.OCSPool, h healthSettings) func() roleRound {
	var round roleRound
	if len(pool.Spec.Roles) == 0 && len(pool.Spec.Gateways) == 0 {
		return func() roleRound { return round }
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		var wg sync.WaitGroup
		wg.Go(func() { round.Roles = r.probeRoles(ctx, pool, h) })
		wg.Go(func() { round.Gateways = r.probeGateways(ctx, pool, h) })
		wg.Wait()
	}()
	return func() roleRound {
		<-done
		return round
	}
}

// probeRoles asks every role server for its role's services.
func (r *OCSPoolReconciler) probeRoles(ctx context.Context, pool *ocsv1.OCSPool, h healthSettings) []probeResult {
	results := make([]probeResult, len(pool.Spec.Roles))
	if len(pool.Spec.Roles) == 0 {
		return results
	}
	provider, ok := r.Agents.(RoleAgentProvider)
	if !ok {
		for i := range results {
			results[i] = probeResult{Kind: probeUnhealthy, Detail: "The manager cannot reach role servers (no role agent)."}
		}
		return results
	}
	agent, err := provider.RoleAgentFor(ctx, pool)
	if err != nil {
		res := probeResult{Kind: probeUnhealthy, Detail: "The role servers cannot be probed: " + trimDetail(err) + "."}
		if reason, _, ok := stallCause(err); ok {
			res.Kind, res.Reason = probeRejected, reason
		}
		for i := range results {
			results[i] = res
		}
		return results
	}
	var wg sync.WaitGroup
	for i, s := range pool.Spec.Roles {
		wg.Go(func() {
			services := roleServicesOf(pool.Spec.Product, s)
			pctx, cancel := context.WithTimeout(ctx, h.Timeout)
			defer cancel()
			start := time.Now()
			statuses, err := agent.ServiceHealth(pctx, s.Name, ocs.ServiceNames(services))
			observeProbe(pool, s.Name, time.Since(start))
			results[i] = classifyRoleProbe(pool.Namespace, s, services, statuses, err, h.Timeout)
		})
	}
	wg.Wait()
	return results
}

// roleServicesOf is the services a role server must run: spec.roles[].services, else the
// product's table (internal/ocs RoleServices).
func roleServicesOf(product ocsv1.Product, s ocsv1.RoleServerSpec) []ocs.RoleService {
	if len(s.Services) > 0 {
		out := make([]ocs.RoleService, 0, len(s.Services))
		for _, n := range s.Services {
			out = append(out, ocs.RoleService{Display: n, Names: []string{n}})
		}
		return out
	}
	if product == "" {
		product = ocsv1.ProductOCS2007R2
	}
	return ocs.RoleServices(ocs.Product(product), string(s.Role))
}

// classifyRoleProbe is classifyProbe for a role server: a service counts as running when any
// of its names runs (the others are then not installed).
func classifyRoleProbe(namespace string, s ocsv1.RoleServerSpec, services []ocs.RoleService, statuses []ocs.ServiceStatus, err error, timeout time.Duration) probeResult {
	as := ocsv1.ServerSpec{Name: s.Name, FQDN: s.FQDN, WinRM: s.WinRM}
	if err != nil {
		return classifyProbe(namespace, as, nil, nil, err, timeout)
	}
	byName := map[string]ocs.ServiceStatus{}
	for _, st := range statuses {
		byName[strings.ToLower(st.Name)] = st
	}
	var down, up []string
	for _, svc := range services {
		state := ocs.StateNotFound
		running := false
		for _, n := range svc.Names {
			st, ok := byName[strings.ToLower(n)]
			if ok && st.Running {
				running = true
				up = append(up, st.Name)
				break
			}
			if ok && st.State != ocs.StateNotFound {
				state = st.State
			}
		}
		if !running {
			down = append(down, fmt.Sprintf("%s (%s) is %s", strings.Join(svc.Names, " or "), svc.Display, state))
		}
	}
	if len(down) > 0 {
		return probeResult{Kind: probeUnhealthy,
			Detail: "WinRM answers but a " + string(s.Role) + " service is not running: " + strings.Join(down, ", ") + "."}
	}
	return probeResult{Kind: probePassed, Detail: "WinRM answers and " + strings.Join(up, ", ") + " are running."}
}

// nextRoleStatus applies one probe result to a role server's status with the front ends'
// hysteresis (nextServerStatus); a role server is never in maintenance.
func nextRoleStatus(prev ocsv1.RoleServerStatus, spec ocsv1.RoleServerSpec, res probeResult, threshold int32, now metav1.Time) ocsv1.RoleServerStatus {
	res.Maintenance, res.HomedUsers = false, nil
	as := nextServerStatus(ocsv1.ServerStatus{Name: prev.Name, State: prev.State, ConsecutiveFailures: prev.ConsecutiveFailures,
		LastProbeTime: prev.LastProbeTime, LastTransitionTime: prev.LastTransitionTime, Message: prev.Message}, res, threshold, now)
	return ocsv1.RoleServerStatus{Name: spec.Name, Role: spec.Role, State: as.State, ConsecutiveFailures: as.ConsecutiveFailures,
		LastProbeTime: as.LastProbeTime, LastTransitionTime: as.LastTransitionTime, Message: as.Message}
}

// applyRoleRound writes status.roles and status.gateways from a round and the previous
// statuses, and returns the transitions to report.
func applyRoleRound(pool *ocsv1.OCSPool, prevRoles []ocsv1.RoleServerStatus, prevGateways []ocsv1.GatewayStatus,
	round roleRound, threshold int32, now metav1.Time) []roleTransition {
	var out []roleTransition
	before := map[string]ocsv1.RoleServerStatus{}
	for _, st := range prevRoles {
		before[st.Name] = st
	}
	roles := make([]ocsv1.RoleServerStatus, 0, len(pool.Spec.Roles))
	for i, s := range pool.Spec.Roles {
		prev, ok := before[s.Name]
		if !ok {
			prev = ocsv1.RoleServerStatus{Name: s.Name, Role: s.Role, State: ocsv1.ServerUnknown}
		}
		next := nextRoleStatus(prev, s, round.Roles[i], threshold, now)
		roles = append(roles, next)
		if prev.State != next.State {
			out = append(out, roleTransition{Kind: string(s.Role) + " server", Name: s.Name, From: string(prev.State),
				To: string(next.State), Up: next.State == ocsv1.ServerHealthy, Message: next.Message})
		}
	}
	gwBefore := map[string]ocsv1.GatewayStatus{}
	for _, st := range prevGateways {
		gwBefore[st.Name] = st
	}
	gateways := make([]ocsv1.GatewayStatus, 0, len(pool.Spec.Gateways))
	for i, g := range pool.Spec.Gateways {
		prev, ok := gwBefore[g.Name]
		if !ok {
			prev = ocsv1.GatewayStatus{Name: g.Name, Path: g.Path, State: ocsv1.GatewayUnknown}
		}
		next := nextGatewayStatus(prev, g, round.Gateways[i], threshold, now)
		gateways = append(gateways, next)
		if prev.State != next.State {
			out = append(out, roleTransition{Kind: "Gateway", Name: g.Name, From: string(prev.State), To: string(next.State),
				Up: next.State == ocsv1.GatewayAnswering, Message: next.Message, Gateway: true})
		}
	}
	pool.Status.Roles, pool.Status.Gateways = nil, nil
	if len(roles) > 0 {
		pool.Status.Roles = roles
	}
	if len(gateways) > 0 {
		pool.Status.Gateways = gateways
	}
	return out
}

// roleTransition is a state change of a role server or gateway, reported as an event.
type roleTransition struct {
	Kind, Name, From, To, Message string
	Up, Gateway                   bool
}
