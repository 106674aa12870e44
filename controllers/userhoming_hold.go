package controllers

import (
	"context"
	"fmt"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"

	ocsv1 "github.com/ocsha/ocs-ha-operator/api/v1alpha1"
)

// The day-2 gates of a failback or rebalance about to start, in order: the failback hold-down
// (a returning server must stay Healthy for spec.failback.stableFor), the approval
// (spec.approval: Manual publishes status.proposal and waits for spec.approvedProposal), then
// the maintenance windows. The proposal is published before the window opens, so that it can be
// approved ahead. An operation that started runs to its end: gates only hold starts.

// waiting is an operation held by a gate, for the report.
type waiting struct {
	op      ocsv1.OperationType
	reason  string
	message string
	// until is when the gate may open by itself; zero when a human must act.
	until time.Time
}

// holdPlanned applies the gates to d; held means d does not start in this pass.
func (s *homingScope) holdPlanned(d plannedDecision, fb failbackSettings) (ctrl.Result, bool) {
	h := s.homing
	if d.want == ocsv1.OperationFailback {
		targets, since := s.moveTargets(d)
		if until := holdDownUntil(since, fb.stableFor, s.now); !until.IsZero() {
			return s.hold(waiting{op: d.want, reason: ocsv1.ReasonWaitingForStableServer, until: until,
				message: fmt.Sprintf("Failback of %d users waits until %s has stayed Healthy for spec.failback.stableFor %s, at %s.",
					d.plan.Moves, strings.Join(targets, ", "), fb.stableFor, until.UTC().Format(time.RFC3339))})
		}
	}
	if h.Spec.Approval == ocsv1.ApprovalManual {
		p := s.proposal(d)
		h.Status.Proposal = p
		if h.Spec.ApprovedProposal != p.ID {
			return s.hold(waiting{op: d.want, reason: ocsv1.ReasonWaitingForApproval,
				message: fmt.Sprintf("%s of %d users is proposed (status.proposal); set spec.approvedProposal: %s to run it.", d.want, d.plan.Moves, p.ID)})
		}
	}
	w, err := windowAt(h.Spec.MaintenanceWindows, s.now)
	if err != nil {
		s.report.stalledReason, s.report.stalledMessage = ocsv1.ReasonInvalidSpec, "UserHoming "+err.Error()+"."
		return s.hold(waiting{op: d.want, reason: ocsv1.ReasonOutsideMaintenanceWindow,
			message: fmt.Sprintf("%s of %d users waits: a maintenance window cannot be read.", d.want, d.plan.Moves)})
	}
	if !w.open {
		msg := fmt.Sprintf("%s of %d users waits for the next maintenance window", d.want, d.plan.Moves)
		if !w.next.IsZero() {
			msg += ", at " + w.next.UTC().Format(time.RFC3339)
		}
		return s.hold(waiting{op: d.want, reason: ocsv1.ReasonOutsideMaintenanceWindow, until: w.next, message: msg + "."})
	}
	return ctrl.Result{}, false
}

// hold records w in the report and status and requeues for when it may open.
func (s *homingScope) hold(w waiting) (ctrl.Result, bool) {
	s.report.waiting = &w
	s.homing.Status.NextActionTime = nil
	if w.until.IsZero() {
		return ctrl.Result{RequeueAfter: homingResync}, true
	}
	t := metav1.NewTime(w.until)
	s.homing.Status.NextActionTime = &t
	return ctrl.Result{RequeueAfter: min(w.until.Sub(s.now)+time.Second, homingResync)}, true
}

// moveTargets names the servers d's plan moves users to, and when each last turned Healthy.
func (s *homingScope) moveTargets(d plannedDecision) ([]string, []time.Time) {
	seen := map[string]bool{}
	var names []string
	var since []time.Time
	for _, b := range d.plan.Batches {
		if seen[b.To] {
			continue
		}
		seen[b.To] = true
		if f := s.pool.fact(b.To); f != nil {
			names = append(names, b.To)
			since = append(since, f.since)
		}
	}
	return names, since
}

// proposal is the plan of d as status.proposal publishes it; an unchanged plan keeps its
// creation time.
func (s *homingScope) proposal(d plannedDecision) *ocsv1.Proposal {
	last := s.homing.Status.LastOperation
	after := ""
	if last != nil {
		after = last.ID
	}
	moves := proposedMoves(d.plan)
	p := &ocsv1.Proposal{
		ID:                proposalID(d.want, moves, after),
		Operation:         d.want,
		Moves:             moves,
		EstimatedDuration: estimateDuration(d.plan.Moves, last).String(),
		Contacts:          s.contactsPerUser * int64(d.plan.Moves),
		CreatedTime:       metav1.NewTime(s.now),
	}
	if old := s.homing.Status.Proposal; old != nil && old.ID == p.ID {
		p.CreatedTime = old.CreatedTime
	}
	return p
}

// contactsPerUser estimates, for a proposal, the contacts one user holds: from the newest
// snapshot of the ContactBackup spec.contactRestore names; 0 when there is none.
func (r *UserHomingReconciler) contactsPerUser(ctx context.Context, h *ocsv1.UserHoming) int64 {
	ref := h.Spec.ContactRestore.BackupRef
	if ref == nil || h.Spec.Approval != ocsv1.ApprovalManual {
		return 0
	}
	cb := &ocsv1.ContactBackup{}
	if err := r.Get(ctx, types.NamespacedName{Namespace: h.Namespace, Name: ref.Name}, cb); err != nil {
		return 0
	}
	if len(cb.Status.Snapshots) == 0 || cb.Status.Snapshots[0].Users == 0 {
		return 0
	}
	newest := cb.Status.Snapshots[0]
	return int64(newest.Contacts) / int64(newest.Users)
}

// failoverWindow is what the maintenance windows say to a failover: always open unless
// spec.failover.respectWindows. A window that cannot be read does not hold an emergency.
func (s *homingScope) failoverWindow() *windowVerdict {
	if !s.homing.Spec.Failover.RespectWindows {
		return nil
	}
	w, err := windowAt(s.homing.Spec.MaintenanceWindows, s.now)
	if err != nil {
		return nil
	}
	return &w
}

// outsideWindow is the failover gate's check of the maintenance windows (respectWindows).
func outsideWindow(in gateInput) *gateObjection {
	if in.window == nil || in.window.open {
		return nil
	}
	o := &gateObjection{
		Reason: ocsv1.ReasonOutsideMaintenanceWindow,
		Message: fmt.Sprintf("Server %s is %s and its %d users are not served; spec.failover.respectWindows holds the failover until the next maintenance window",
			in.server.name, in.server.state, in.server.homed),
	}
	if !in.window.next.IsZero() {
		o.Message += ", at " + in.window.next.UTC().Format(time.RFC3339)
		o.RequeueAfter = in.window.next.Sub(in.now)
	}
	o.Message += "."
	return o
}
