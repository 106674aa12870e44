package controllers

import (
	"context"
	"fmt"
	"strings"

	ctrl "sigs.k8s.io/controller-runtime"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	ocsv1 "github.com/ocsha/ocs-ha-operator/api/v1alpha1"
	"github.com/ocsha/ocs-ha-operator/internal/placement"
)

// The planned operations: Drain (users leave a server in maintenance with their contacts),
// Failback (users return after a drain, or after a failover when spec.failback is Automatic)
// and Rebalance (users spread by the policy). Their steps are choosePlanned, then plannedWave. A
// planned operation ends when a pass finds nothing left to move for it.

// plannedDecision is what the planned operations call for in one pass.
type plannedDecision struct {
	// want is the operation to run, "" for none.
	want ocsv1.OperationType
	plan placement.Plan
	// drained are the servers in maintenance that still hold users.
	drained []string
	// heldBack is the number of users a failback would move while spec.failback is Manual.
	heldBack int
	// gated: want starts only past the day-2 gates (hold-down, windows, approval); a return
	// from maintenance and a drain are planned by the admin and are not.
	gated bool
}

// decidePlanned chooses the planned operation from the facts; op is the running one, nil if none.
func (s *homingScope) decidePlanned(op *ocsv1.Operation, fb failbackSettings) plannedDecision {
	var d plannedDecision
	for _, f := range s.pool.servers {
		if f.drainable() && f.homed > 0 {
			d.drained = append(d.drained, f.name)
		}
	}
	if len(d.drained) > 0 {
		d.want, d.plan = ocsv1.OperationDrain, s.plan(nil, false, -1)
		return d
	}
	tolerance := -1
	if op != nil && (op.Type == ocsv1.OperationRebalance || op.Type == ocsv1.OperationFailback) {
		// Once started, a rebalance goes to the targets: stopping at the tolerance's edge would
		// start it again at the next drift.
		tolerance = 0
	}
	d.plan = s.plan(nil, true, tolerance)
	if d.plan.Moves > 0 && tolerance != 0 {
		d.plan = s.plan(nil, true, 0)
	}
	if d.plan.Moves == 0 {
		return d
	}
	d.want, d.gated = ocsv1.OperationRebalance, true
	switch {
	case op != nil && op.Type == ocsv1.OperationFailback:
		d.want = ocsv1.OperationFailback
	case returning(s.homing):
		// The admin ended the maintenance: the users go back whatever spec.failback says.
		d.want, d.gated = ocsv1.OperationFailback, false
	case recovering(s.homing):
		d.want = ocsv1.OperationFailback
		if !fb.automatic {
			// Users stay where the failover put them, pinned ones too: any move now would end
			// the record that says they are held back.
			d.heldBack, d.want = d.plan.Moves, ""
		}
	}
	return d
}

// recovering reports whether the last operation force-moved users off servers and nothing has
// brought them back yet: a rebalance now is a failback, which spec.failback governs.
func recovering(h *ocsv1.UserHoming) bool {
	op := h.Status.LastOperation
	return op != nil && op.CompletionTime != nil && op.Moved > 0 && op.Type == ocsv1.OperationFailover
}

// returning reports whether the last operation drained servers for maintenance: a rebalance
// now returns their users, as planned.
func returning(h *ocsv1.UserHoming) bool {
	op := h.Status.LastOperation
	return op != nil && op.CompletionTime != nil && op.Moved > 0 && op.Type == ocsv1.OperationDrain
}

// choosePlanned is the first step of the planned operations: it completes or supersedes the
// running one when the facts call for another, and starts the one they call for once its gates
// (failback hold-down, maintenance windows, approval) let it.
func (r *UserHomingReconciler) choosePlanned(ctx context.Context, s *homingScope) (ctrl.Result, error) {
	fb, err := failbackOf(s.homing.Spec.Failback)
	if err != nil {
		// Reported, not fatal: failback stays Manual, the safe reading.
		s.report.stalledReason, s.report.stalledMessage = ocsv1.ReasonInvalidSpec, "UserHoming "+err.Error()+"."
	}
	d := s.decidePlanned(s.op(), fb)
	s.recordPlan(d.plan)
	if d.heldBack > 0 {
		// The moves wait for a human; Degraded says so and Ready does not wait for them.
		s.report.heldBack, s.report.pending = d.heldBack, 0
	}
	if op := s.op(); op != nil && op.Type != d.want {
		msg := "Completed."
		if d.want != "" {
			msg = fmt.Sprintf("Superseded by a %s.", d.want)
		}
		r.finish(s, msg)
	}
	if d.want == "" || d.want == ocsv1.OperationDrain {
		s.homing.Status.Proposal = nil
	}
	if d.want == "" {
		return ctrl.Result{RequeueAfter: homingResync}, nil
	}
	if s.op() == nil {
		if d.gated {
			s.contactsPerUser = r.contactsPerUser(ctx, s.homing)
			if res, held := s.holdPlanned(d, fb); held {
				return res, nil
			}
		}
		s.homing.Status.Proposal, s.homing.Status.NextActionTime = nil, nil
		r.startPlanned(ctx, s, d)
	}
	s.moves = d.plan
	return ctrl.Result{}, nil
}

// startPlanned records a new planned operation and announces it.
func (r *UserHomingReconciler) startPlanned(ctx context.Context, s *homingScope, d plannedDecision) {
	var op *ocsv1.Operation
	switch d.want {
	case ocsv1.OperationDrain:
		op = s.start(d.want, d.drained, s.homedOn(d.drained))
		r.event(s, false, "DrainStarted", "Drain", "Draining %s: %d users move to the other servers with their contacts.", strings.Join(d.drained, ", "), op.Total)
	case ocsv1.OperationFailback:
		op = s.start(d.want, nil, d.plan.Moves)
		r.event(s, false, "FailbackStarted", "Failback", "Failing back: %d users move with planned moves.", op.Total)
	default:
		op = s.start(d.want, nil, d.plan.Moves)
		r.event(s, false, "RebalanceStarted", "Rebalance", "Rebalancing: %d users move with planned moves.", op.Total)
	}
	logf.FromContext(ctx).Info("Started an operation", "operation", op.ID, "count", op.Total)
}

// plannedWave runs one wave of the planned moves. Progress is measured against reality, so a
// restarted manager counts what really moved.
func (r *UserHomingReconciler) plannedWave(ctx context.Context, s *homingScope) (ctrl.Result, error) {
	op := s.op()
	remaining := s.moves.Moves
	if op.Type == ocsv1.OperationDrain {
		remaining = s.homedOn(op.From)
	}
	op.Moved = clampCount(op.Total-int32(remaining), 0, op.Total)
	res, err := r.runWave(ctx, s, s.moves.Batches, nil)
	if err != nil {
		return ctrl.Result{}, err
	}
	op = s.op() // the checkpoint replaced the record
	op.Moved = clampCount(op.Moved+int32(res.ok), 0, op.Total)
	return r.afterWave(s, res), nil
}
