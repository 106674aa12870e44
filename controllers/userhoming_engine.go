package controllers

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"

	ocsv1 "github.com/ocsha/ocs-ha-operator/api/v1alpha1"
	"github.com/ocsha/ocs-ha-operator/internal/ocs"
	"github.com/ocsha/ocs-ha-operator/internal/placement"
)

// The UserHoming operation engine. docs/design.md draws it; in short:
//
//   - An operation (status.lastOperation) is the record of one Rebalance, Drain, Failover or
//     Failback: what it moves, how far it got, its step (Moving, Restoring, Completed). Nothing
//     else about it is stored: every pass derives the rest from the directory.
//   - A pass lists the directory, runs the failover gate, chooses the operation (stepsFor) and
//     runs its steps in order (runSteps) until one ends the pass with a requeue or an error.
//   - A step that changes the world writes a status checkpoint first (homingScope.checkpoint);
//     the deferred final write reports everything else (homingScope.writeFinal).

// homingStep is one step of an operation. It reads the operation through s.op() and keeps no
// pointer into the status across a checkpoint, which replaces it. It returns a zero Result and
// no error to hand over to the next step; any other Result, or an error, ends the pass.
type homingStep func(ctx context.Context, s *homingScope) (ctrl.Result, error)

// stepsFor chooses the steps of this pass: a running failover runs to its end unless a server it
// does not fail over passes the failover gate; servers past the gate start one, superseding a
// planned operation or taking over a failover; otherwise the planned operations (drain,
// failback, rebalance) decide.
func (r *UserHomingReconciler) stepsFor(s *homingScope) []homingStep {
	failover := []homingStep{r.forceMoveWave, r.restoreWave, r.completeFailover}
	switch op := s.op(); {
	case len(failoverSourcesToAdd(op, s.failFrom)) > 0:
		return append([]homingStep{r.startFailover}, failover...)
	case op != nil && op.Type == ocsv1.OperationFailover:
		return failover
	default:
		return []homingStep{r.choosePlanned, r.plannedWave}
	}
}

// runSteps runs steps in order until one ends the pass.
func runSteps(ctx context.Context, s *homingScope, steps []homingStep) (ctrl.Result, error) {
	for _, step := range steps {
		res, err := step(ctx, s)
		if err != nil {
			return ctrl.Result{}, err
		}
		if !res.IsZero() {
			return res, nil
		}
	}
	// Every operation's last step ends the pass; this only backs that up.
	return ctrl.Result{RequeueAfter: homingResync}, nil
}

// reconcileHoming lists the directory, runs the failover gate, then the steps of the operation
// the facts call for.
func (r *UserHomingReconciler) reconcileHoming(ctx context.Context, s *homingScope) (ctrl.Result, error) {
	via := s.via()
	if via == "" {
		// No server answers for the directory: nothing can be listed or moved.
		s.report.gates, _ = s.evaluateGates()
		s.report.noServing = true
		return ctrl.Result{RequeueAfter: homingResync}, nil
	}
	users, err := s.agent.ListUsers(ctx, via)
	if err != nil {
		return ctrl.Result{}, fmt.Errorf("listing the users of OCSPool %s: %w", s.pool.key(), err)
	}
	s.setUsers(users)
	// The gate's messages name user counts, known only now.
	s.report.gates, s.failFrom = s.evaluateGates()
	// No operation runs beside a ContactRestore of the pool (contactrestore_controller_exclusion.go).
	if held, err := r.holdForContactRestore(ctx, s); err != nil {
		return ctrl.Result{}, err
	} else if held {
		return ctrl.Result{RequeueAfter: restoreWaitRequeue}, nil
	}
	return runSteps(ctx, s, r.stepsFor(s))
}

// homingScope is the state of one pass, shared by its steps.
type homingScope struct {
	homing *ocsv1.UserHoming
	status *statusWriter
	now    time.Time
	// pool: set once the OCSPool is read; its facts count the homed users once users is set.
	pool *poolView
	// agent: set once the pool has servers.
	agent ocs.Agent
	// users: this pass's directory listing, set by reconcileHoming.
	users []ocs.HomedUser
	// failFrom: the servers to fail over from now, set by the gate.
	failFrom []string
	// sourcesChecked: startFailover asked the sources directly in this pass.
	sourcesChecked bool
	// restoreEnd: how a failover's restore ended, set in the pass that ends it.
	restoreEnd *restoreOutcome
	// moves: the plan of this pass's planned moves, set by choosePlanned.
	moves placement.Plan
	// contactsPerUser: the average contact count a proposal estimates with, set by choosePlanned.
	contactsPerUser int64
	// report: facts for the conditions, turned into status by applyHomingStatus.
	report homingReport
	// afterCheckpoint, when set, runs after each checkpoint, before the step acts.
	afterCheckpoint func(context.Context) error
}

// op returns the operation in progress, nil if none. Steps call it afresh after a checkpoint.
func (s *homingScope) op() *ocsv1.Operation { return runningOperation(s.homing) }

// runningOperation returns the operation in progress, nil if none.
func runningOperation(h *ocsv1.UserHoming) *ocsv1.Operation {
	op := h.Status.LastOperation
	if op == nil || op.CompletionTime != nil {
		return nil
	}
	return op
}

// setUsers records the directory listing and counts the users homed on each server.
func (s *homingScope) setUsers(users []ocs.HomedUser) {
	s.users = users
	for i := range s.pool.servers {
		s.pool.servers[i].homed = 0
	}
	for _, u := range users {
		if f := s.pool.fact(u.Server); f != nil {
			f.homed++
		}
	}
}

// via picks the server the directory is read through and planned moves run on: a serving server,
// else a server in maintenance that still answers. "" when none answers.
func (s *homingScope) via() string {
	for _, f := range s.pool.servers {
		if f.serving() {
			return f.name
		}
	}
	for _, f := range s.pool.servers {
		if f.drainable() {
			return f.name
		}
	}
	return ""
}

// homedOn counts the users homed on the named servers.
func (s *homingScope) homedOn(servers []string) int {
	n := 0
	for _, name := range servers {
		if f := s.pool.fact(name); f != nil {
			n += f.homed
		}
	}
	return n
}

// applyStatus sets every condition from the report; the operation reported running is the one
// the record holds.
func (s *homingScope) applyStatus() {
	if !s.report.suspended {
		s.report.running = runningOperation(s.homing)
	}
	applyHomingStatus(s.homing, &s.report)
}

// checkpoint writes the status before a step that changes the world (the status writer's fenced
// mode).
func (s *homingScope) checkpoint(ctx context.Context) error {
	s.applyStatus()
	if err := s.status.Checkpoint(ctx, s.homing); err != nil || s.afterCheckpoint == nil {
		return err
	}
	return s.afterCheckpoint(ctx)
}

// writeFinal is the deferred status write of a pass that ended with passErr.
func (s *homingScope) writeFinal(ctx context.Context, passErr error) error {
	if s.status.fenced {
		return passErr
	}
	if passErr != nil && s.report.stalledReason == "" {
		s.report.passError = describePassError(passErr)
	}
	s.applyStatus()
	return errors.Join(passErr, s.status.Final(ctx, s.homing, passErr))
}

// start records a new operation of type t off the servers from.
func (s *homingScope) start(t ocsv1.OperationType, from []string, total int) *ocsv1.Operation {
	op := &ocsv1.Operation{
		Type:      t,
		ID:        fmt.Sprintf("%s-%d", strings.ToLower(string(t)), s.now.UnixMilli()),
		StartTime: metav1.NewTime(s.now),
		Step:      stepMoving,
		From:      from,
		Total:     int32(total),
	}
	s.homing.Status.LastOperation = op
	return op
}

// finish completes the running operation: completion time, message, metric and event.
func (r *UserHomingReconciler) finish(s *homingScope, message string) {
	op := s.op()
	if op == nil {
		return
	}
	now := metav1.NewTime(s.now)
	op.CompletionTime = &now
	op.Step = stepCompleted
	op.PendingRestores = nil
	if op.Message == "" || message != "Completed." {
		op.Message = message
	}
	observeOperation(s.pool.pool, op.Type, s.now.Sub(op.StartTime.Time))
	switch op.Type {
	case ocsv1.OperationDrain:
		r.event(s, false, "DrainCompleted", "Drain", "Drain of %s ended: %d of %d users moved. %s", strings.Join(op.From, ", "), op.Moved, op.Total, message)
	case ocsv1.OperationFailback:
		r.event(s, false, "FailbackCompleted", "Failback", "Failback ended: %d of %d users moved. %s", op.Moved, op.Total, message)
	case ocsv1.OperationRebalance:
		r.event(s, false, "RebalanceCompleted", "Rebalance", "Rebalance ended: %d of %d users moved. %s", op.Moved, op.Total, message)
	}
}

// event records an event on the UserHoming.
func (r *UserHomingReconciler) event(s *homingScope, warning bool, reason, action, format string, args ...any) {
	t := corev1.EventTypeNormal
	if warning {
		t = corev1.EventTypeWarning
	}
	r.Recorder.Eventf(s.homing, nil, t, reason, action, format, args...)
}

// moveFailure is one user whose move or restore failed, and why.
type moveFailure struct{ sip, message string }

// recordFailures tracks whether the same users fail pass after pass; the third such pass stalls
// the object (a human must look), and the first one raises a MovesFailed Warning.
func (r *UserHomingReconciler) recordFailures(s *homingScope, failures []moveFailure, what string) {
	op := s.op()
	op.Failed = int32(len(failures))
	if len(failures) == 0 {
		op.FailedPasses, op.FailureDigest = 0, ""
		return
	}
	sort.Slice(failures, func(i, j int) bool { return failures[i].sip < failures[j].sip })
	sips := make([]string, len(failures))
	for i, f := range failures {
		sips[i] = f.sip
	}
	digest := failureDigest(sips)
	if digest == op.FailureDigest {
		op.FailedPasses++
	} else {
		op.FailedPasses, op.FailureDigest = 1, digest
	}
	msg := describeHomingFailures(failures, what)
	if op.FailedPasses == 1 {
		r.event(s, true, "MovesFailed", strings.ToUpper(what[:1])+what[1:], "%s", msg)
	}
	if op.FailedPasses >= stalledAfter {
		s.report.stalledReason = ocsv1.ReasonMovesFailing
		s.report.stalledMessage = fmt.Sprintf("The same users failed in %d consecutive passes: %s", op.FailedPasses, msg)
	}
}

// failureRequeue is the requeue after a wave: at once, or after a backoff that grows with the
// streak of passes in which the same users failed.
func failureRequeue(op *ocsv1.Operation, failures int) ctrl.Result {
	if failures > 0 {
		return ctrl.Result{RequeueAfter: min(failureBackoff*time.Duration(op.FailedPasses), maxFailureBackoff)}
	}
	return ctrl.Result{RequeueAfter: nextWave}
}

// describeHomingFailures names the first few failing users and the first reason.
func describeHomingFailures(failures []moveFailure, what string) string {
	names := make([]string, 0, failedUsersShown)
	for i, f := range failures {
		if i == failedUsersShown {
			break
		}
		names = append(names, f.sip)
	}
	more := ""
	if len(failures) > failedUsersShown {
		more = fmt.Sprintf(" and %d more", len(failures)-failedUsersShown)
	}
	return fmt.Sprintf("The %s of %d users failed (%s%s): %s", what, len(failures), strings.Join(names, ", "), more, failures[0].message)
}

// atOnce runs fn for every index at once and waits for all: the batches of one wave, which the
// WinRM pool still bounds per server.
func atOnce(n int, fn func(i int)) {
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { fn(i) })
	}
	wg.Wait()
}

func homingKey(s *homingScope, op *ocsv1.Operation) string {
	return string(s.homing.UID) + "/" + op.ID
}
