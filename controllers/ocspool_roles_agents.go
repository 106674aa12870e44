package controllers

import (
	"context"
	"fmt"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	ocsv1 "github.com/ocsha/ocs-ha-operator/api/v1alpha1"
	"github.com/ocsha/ocs-ha-operator/internal/ocs"
	"github.com/ocsha/ocs-ha-operator/internal/sipprobe"
)

// roleAgentKey keeps a pool's role agent apart from its front ends' agent in WinRMProvider.
func roleAgentKey(uid types.UID) types.UID { return uid + "/roles" }

// RoleAgentFor implements RoleAgentProvider: an agent and WinRM pool of their own, which know
// only spec.roles.
func (p *WinRMProvider) RoleAgentFor(ctx context.Context, pool *ocsv1.OCSPool) (ocs.Agent, error) {
	members := make([]winrmMember, 0, len(pool.Spec.Roles))
	for i, s := range pool.Spec.Roles {
		members = append(members, winrmMember{Name: s.Name, FQDN: s.FQDN, WinRM: s.WinRM, Field: fmt.Sprintf("spec.roles[%d]", i)})
	}
	return p.agentFor(ctx, pool, roleAgentKey(pool.UID), members)
}

// RoleAgentFor implements RoleAgentProvider with the same agent (tests give it the role
// servers' names too).
func (s StaticProvider) RoleAgentFor(context.Context, *ocsv1.OCSPool) (ocs.Agent, error) {
	return s.Agent, nil
}

// gatewayProber is opts.Gateways, or SIP OPTIONS.
func (o Options) gatewayProber() GatewayProber {
	if o.Gateways != nil {
		return o.Gateways
	}
	return sipprobe.Prober{}
}

// finishRoleRound applies a round of role and gateway probes to the status, sets the conditions
// they decide and reports each transition as an event.
func (r *OCSPoolReconciler) finishRoleRound(ctx context.Context, pool *ocsv1.OCSPool, prev *poolRound, round roleRound,
	h healthSettings, now metav1.Time) {
	if len(pool.Spec.Roles) == 0 && len(pool.Spec.Gateways) == 0 {
		pool.Status.Roles, pool.Status.Gateways = nil, nil
		setRoleConditions(pool)
		return
	}
	log := logf.FromContext(ctx)
	before := map[string]*metav1.Condition{}
	for _, t := range []string{ocsv1.ConditionPSTNAvailable, ocsv1.ConditionExternalAccessAvailable} {
		if c := meta.FindStatusCondition(pool.Status.Conditions, t); c != nil {
			before[t] = c.DeepCopy()
		}
	}
	for _, t := range applyRoleRound(pool, prev.Roles, prev.Gateways, round, h.Threshold, now) {
		eventType, reason := roleEvent(t)
		log.Info("Role state changed", "server", t.Name, "role", t.Kind, "from", t.From, "to", t.To, "reason", t.Message)
		r.Recorder.Eventf(pool, nil, eventType, reason, "Probe "+t.Name, "%s %s is %s: %s", t.Kind, t.Name, t.To, t.Message)
	}
	setRoleConditions(pool)
	for _, t := range []string{ocsv1.ConditionPSTNAvailable, ocsv1.ConditionExternalAccessAvailable} {
		after := meta.FindStatusCondition(pool.Status.Conditions, t)
		if eventType, reason := availabilityEvent(t, before[t], after); reason != "" {
			r.Recorder.Eventf(pool, nil, eventType, reason, "Assess "+t, "%s", after.Message)
		}
	}
}
