package controllers

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	ocsv1 "github.com/ocsha/ocs-ha-operator/api/v1alpha1"
	"github.com/ocsha/ocs-ha-operator/internal/ocs"
	"github.com/ocsha/ocs-ha-operator/internal/placement"
)

// Steps of an operation (status.lastOperation.step).
const (
	stepMoving    = "Moving"
	stepRestoring = "Restoring"
	stepCompleted = "Completed"
)

const (
	// batchesPerPass bounds the move batches one pass takes per target server. A pass reads the
	// directory and commits the record before its batches, so several batches per pass spread
	// that cost; the WinRM pool runs at most its per-server limit (2) of them at once, since each
	// is one long command on the target and OCS serialises much of the work.
	batchesPerPass = 8
	// stalledAfter is the number of consecutive passes in which the same users fail before a
	// human is asked to look.
	stalledAfter = 3
	// failureBackoff is the requeue after a wave with failures, multiplied by the streak.
	failureBackoff = time.Second
	// maxFailureBackoff bounds it.
	maxFailureBackoff = time.Minute
	// defaultFailoverDelay applies when spec.failover.delay is empty (the API defaults it).
	defaultFailoverDelay = 60 * time.Second
	// failedUsersShown is how many failing users a message names.
	failedUsersShown = 3
)

// serverFacts reads the servers' facts from the pool, in spec order. A server without status is
// Unknown: neither serving nor down, so its users are held where they are.
func homingServerFacts(pool *ocsv1.OCSPool) []serverFact {
	status := map[string]ocsv1.ServerStatus{}
	for _, st := range pool.Status.Servers {
		status[st.Name] = st
	}
	facts := make([]serverFact, 0, len(pool.Spec.Servers))
	for _, sp := range pool.Spec.Servers {
		f := serverFact{name: sp.Name, maintenance: sp.Maintenance, state: ocsv1.ServerUnknown}
		if st, ok := status[sp.Name]; ok {
			f.state = stateOrUnknown(st.State)
			if st.LastTransitionTime != nil {
				f.since = st.LastTransitionTime.Time
			}
		}
		facts = append(facts, f)
	}
	return facts
}

// runningOperation returns the operation in progress, nil if none.
func runningOperation(h *ocsv1.UserHoming) *ocsv1.Operation {
	op := h.Status.LastOperation
	if op == nil || op.CompletionTime != nil {
		return nil
	}
	return op
}

// reconcileHoming lists the directory, then continues or starts the operation the facts call for.
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
		return ctrl.Result{}, fmt.Errorf("listing the users of OCSPool %s via %s: %w", homingRef(s.pool), via, err)
	}
	s.users = users
	for i := range s.facts {
		s.facts[i].homed = 0
	}
	for _, u := range users {
		if f := s.fact(u.Server); f != nil {
			f.homed++
		}
	}
	// The gate's messages name user counts, known only now.
	gates, failFrom := s.evaluateGates()
	s.report.gates = gates

	op := runningOperation(s.homing)
	if op != nil && op.Type == ocsv1.OperationFailover {
		return r.continueFailover(ctx, s, op, false)
	}
	if len(failFrom) > 0 {
		if op != nil {
			r.finish(s, op, fmt.Sprintf("Superseded by a failover from %s.", strings.Join(failFrom, ", ")))
		}
		return r.startFailover(ctx, s, failFrom)
	}
	return r.reconcilePlanned(ctx, s, op)
}

// via picks the server the directory is read through and planned moves run on: a serving server,
// else a server in maintenance that still answers. "" when none answers.
func (s *homingScope) via() string {
	for _, f := range s.facts {
		if f.serving() {
			return f.name
		}
	}
	for _, f := range s.facts {
		if f.drainable() {
			return f.name
		}
	}
	return ""
}

// evaluateGates runs the failover gate for every down server. It returns the objections by server
// and the servers to fail over from now.
func (s *homingScope) evaluateGates() (map[string]*gateObjection, []string) {
	serving := 0
	for _, f := range s.facts {
		if f.serving() {
			serving++
		}
	}
	delay := defaultFailoverDelay
	if d, err := time.ParseDuration(s.homing.Spec.Failover.Delay); err == nil && d > 0 {
		delay = d
	}
	mode := s.homing.Spec.Failover.Mode
	if mode == "" {
		mode = ocsv1.FailoverAutomatic
	}
	objections := map[string]*gateObjection{}
	var from []string
	for _, f := range s.facts {
		if !f.down() {
			continue
		}
		o := evaluateGate(gateInput{server: f, now: s.now, delay: delay, mode: mode, servingServers: serving})
		switch {
		case o == nil && f.homed > 0:
			from = append(from, f.name)
		case o == nil:
			// Down for good but nobody left on it: nothing to fail over (Degraded says it is down).
		default:
			objections[f.name] = o
		}
	}
	return objections, from
}

// placementServers describes the servers to the planner; evacuate names the servers whose users
// must all leave (drains are always evacuated, failed-over servers only while a failover moves).
func (s *homingScope) placementServers(evacuate map[string]bool) []placement.ServerState {
	out := make([]placement.ServerState, 0, len(s.facts))
	for _, f := range s.facts {
		out = append(out, placement.ServerState{
			Name:      f.name,
			Serving:   f.serving(),
			Reachable: f.serving() || f.drainable(),
			Evacuate:  f.drainable() || evacuate[f.name],
			Weight:    int(s.homing.Spec.Weights[f.name]),
		})
	}
	return out
}

func (s *homingScope) placementUsers() []placement.User {
	out := make([]placement.User, 0, len(s.users))
	for _, u := range s.users {
		out = append(out, placement.User{SIP: u.SIP, Home: u.Server})
	}
	return out
}

// plan computes the moves; tolerance < 0 means spec.maxImbalancePercent.
func (s *homingScope) plan(evacuate map[string]bool, rebalance bool, tolerance int) placement.Plan {
	spec := s.homing.Spec
	if tolerance < 0 {
		tolerance = int(spec.MaxImbalancePercent)
	}
	pins := make(map[string]string, len(spec.Pins))
	for _, p := range spec.Pins {
		pins[p.User] = p.Server
	}
	mode := placement.Balanced
	if spec.Placement == ocsv1.PlacementWeighted {
		mode = placement.Weighted
	}
	return placement.Compute(s.placementUsers(), s.placementServers(evacuate), placement.Policy{
		Mode:                mode,
		Pins:                pins,
		MaxImbalancePercent: tolerance,
		BatchSize:           int(spec.MoveBatchSize),
		Rebalance:           rebalance,
	})
}

// recordPlan reports the plan's shares and pending moves.
func (s *homingScope) recordPlan(p placement.Plan) {
	st := &s.homing.Status
	st.TotalUsers = int32(len(s.users))
	st.PendingMoves = int32(p.Moves)
	st.Servers = st.Servers[:0]
	for _, f := range s.facts {
		st.Servers = append(st.Servers, ocsv1.HomingServerStatus{Name: f.name, HomedUsers: int32(f.homed), DesiredUsers: int32(p.Desired[f.name])})
	}
	s.report.pending = p.Moves
}

// recovering reports whether the last operation took users off servers and nothing has brought
// them back yet: a rebalance now is a failback, which spec.failback governs.
func recovering(h *ocsv1.UserHoming) bool {
	op := h.Status.LastOperation
	return op != nil && op.CompletionTime != nil && op.Moved > 0 &&
		(op.Type == ocsv1.OperationFailover || op.Type == ocsv1.OperationDrain)
}

// reconcilePlanned runs the planned operations: drain, failback, rebalance.
func (r *UserHomingReconciler) reconcilePlanned(ctx context.Context, s *homingScope, op *ocsv1.Operation) (ctrl.Result, error) {
	var (
		want ocsv1.OperationType
		plan placement.Plan
		from []string
	)
	for _, f := range s.facts {
		if f.drainable() && f.homed > 0 {
			from = append(from, f.name)
		}
	}
	switch {
	case len(from) > 0:
		want, plan = ocsv1.OperationDrain, s.plan(nil, false, -1)
	default:
		tolerance := -1
		if op != nil && (op.Type == ocsv1.OperationRebalance || op.Type == ocsv1.OperationFailback) {
			// Once started, a rebalance goes to the targets: stopping at the tolerance's edge would
			// start it again at the next drift.
			tolerance = 0
		}
		plan = s.plan(nil, true, tolerance)
		if plan.Moves > 0 && tolerance != 0 {
			plan = s.plan(nil, true, 0)
		}
		if plan.Moves > 0 {
			want = ocsv1.OperationRebalance
			if recovering(s.homing) || (op != nil && op.Type == ocsv1.OperationFailback) {
				want = ocsv1.OperationFailback
				if s.homing.Spec.Failback != ocsv1.FailbackAutomatic {
					// Users stay where the failover or drain put them, pinned ones too: any move
					// now would end the record that says they are held back.
					s.report.heldBack = plan.Moves
					want = ""
				}
			}
		}
	}
	s.recordPlan(plan)
	if s.report.heldBack > 0 {
		// The moves wait for a human; Degraded says so and Ready does not wait for them.
		s.report.pending = 0
	}

	if op != nil && op.Type != want {
		msg := "Completed."
		if want != "" {
			msg = fmt.Sprintf("Superseded by a %s.", want)
		}
		r.finish(s, op, msg)
		op = nil
	}
	if want == "" {
		return ctrl.Result{RequeueAfter: homingResync}, nil
	}
	if op == nil {
		op = r.start(ctx, s, want, from, plan)
	}

	// Progress is measured against reality, so a restarted manager counts what really moved.
	remaining := plan.Moves
	if want == ocsv1.OperationDrain {
		remaining = s.homedOn(op.From)
	}
	op.Moved = clampCount(op.Total-int32(remaining), 0, op.Total)
	s.report.running = op

	res, err := r.runWave(ctx, s, op, plan.Batches)
	if err != nil {
		return ctrl.Result{}, err
	}
	op.Moved = clampCount(op.Moved+int32(res.ok), 0, op.Total)
	return r.afterWave(s, op, res), nil
}

// start records a new operation and announces it.
func (r *UserHomingReconciler) start(ctx context.Context, s *homingScope, t ocsv1.OperationType, from []string, plan placement.Plan) *ocsv1.Operation {
	op := &ocsv1.Operation{
		Type:      t,
		ID:        fmt.Sprintf("%s-%d", strings.ToLower(string(t)), s.now.UnixMilli()),
		StartTime: metav1.NewTime(s.now),
		Step:      stepMoving,
		From:      from,
	}
	switch t {
	case ocsv1.OperationDrain:
		op.Total = int32(s.homedOn(from))
		r.event(s, false, "DrainStarted", "Drain", "Draining %s: %d users move to the other servers with their contacts.", strings.Join(from, ", "), op.Total)
	case ocsv1.OperationFailback:
		op.Total = int32(plan.Moves)
		r.event(s, false, "FailbackStarted", "Failback", "Failing back: %d users move with planned moves.", op.Total)
	case ocsv1.OperationRebalance:
		op.Total = int32(plan.Moves)
		r.event(s, false, "RebalanceStarted", "Rebalance", "Rebalancing: %d users move with planned moves.", op.Total)
	}
	s.homing.Status.LastOperation = op
	logf.FromContext(ctx).Info("Operation started", "Type", t, "ID", op.ID, "Total", op.Total)
	return op
}

// homedOn counts the users homed on the named servers.
func (s *homingScope) homedOn(servers []string) int {
	n := 0
	for _, name := range servers {
		if f := s.fact(name); f != nil {
			n += f.homed
		}
	}
	return n
}

func clampCount(v, lo, hi int32) int32 { return min(max(v, lo), hi) }

// finish completes an operation: completion time, message, metric and event.
func (r *UserHomingReconciler) finish(s *homingScope, op *ocsv1.Operation, message string) {
	now := metav1.NewTime(s.now)
	op.CompletionTime = &now
	op.Step = stepCompleted
	op.PendingRestores = nil
	if op.Message == "" || message != "Completed." {
		op.Message = message
	}
	observeOperation(s.pool, op.Type, s.now.Sub(op.StartTime.Time))
	switch op.Type {
	case ocsv1.OperationDrain:
		r.event(s, false, "DrainCompleted", "Drain", "Drain of %s ended: %d of %d users moved. %s", strings.Join(op.From, ", "), op.Moved, op.Total, message)
	case ocsv1.OperationFailback:
		r.event(s, false, "FailbackCompleted", "Failback", "Failback ended: %d of %d users moved. %s", op.Moved, op.Total, message)
	case ocsv1.OperationRebalance:
		r.event(s, false, "RebalanceCompleted", "Rebalance", "Rebalance ended: %d of %d users moved. %s", op.Moved, op.Total, message)
	}
	s.report.running = nil
}

// moveFailure is one user whose move failed, and why.
type moveFailure struct{ sip, message string }

// waveResult is the outcome of one wave.
type waveResult struct {
	batches  int
	ok       int
	failures []moveFailure
	// moved are the users the servers reported moved.
	moved []string
	// uncertain is set when a batch failed as a whole: its users may or may not have moved.
	uncertain bool
}

// selectWave takes the batches of one wave, in plan order: at most perTarget per target.
func selectWave(batches []placement.Batch, keep func(placement.Batch) bool, perTarget int) []placement.Batch {
	taken := map[string]int{}
	var out []placement.Batch
	for _, b := range batches {
		if keep != nil && !keep(b) {
			continue
		}
		if taken[b.To] >= perTarget {
			continue
		}
		taken[b.To]++
		out = append(out, b)
	}
	return out
}

// runWave commits the record, then runs the batches of one wave at once. Each batch runs on its
// target: a serving server, never the dead source of a forced move.
func (r *UserHomingReconciler) runWave(ctx context.Context, s *homingScope, op *ocsv1.Operation, wave []placement.Batch) (waveResult, error) {
	wave = selectWave(wave, nil, batchesPerPass)
	if len(wave) == 0 {
		return waveResult{}, nil
	}
	if err := r.commit(ctx, s); err != nil {
		return waveResult{}, err
	}
	log := logf.FromContext(ctx)
	type outcome struct {
		batch   placement.Batch
		results []ocs.MoveResult
		err     error
	}
	outcomes := make([]outcome, len(wave))
	var wg sync.WaitGroup
	for i, b := range wave {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := s.agent.MoveUsers(ctx, b.To, b.Users, b.To, b.Forced)
			outcomes[i] = outcome{batch: b, results: res, err: err}
		}()
	}
	wg.Wait()

	res := waveResult{batches: len(wave)}
	var errs []error
	for _, o := range outcomes {
		kind := moveKindPlanned
		if o.batch.Forced {
			kind = moveKindForced
		}
		if o.err != nil {
			// The command may or may not have run: the next listing tells.
			res.uncertain = true
			errs = append(errs, o.err)
			for _, sip := range o.batch.Users {
				res.failures = append(res.failures, moveFailure{sip: sip, message: o.err.Error()})
			}
			countMoves(s.pool, kind, resultFailed, len(o.batch.Users))
			continue
		}
		ok := 0
		for _, m := range o.results {
			if m.OK {
				ok++
				res.moved = append(res.moved, m.SIP)
			} else {
				res.failures = append(res.failures, moveFailure{sip: m.SIP, message: m.Message})
			}
		}
		res.ok += ok
		countMoves(s.pool, kind, resultOK, ok)
		countMoves(s.pool, kind, resultFailed, len(o.batch.Users)-ok)
		log.V(1).Info("Move batch done", "From", o.batch.From, "To", o.batch.To, "Forced", o.batch.Forced, "Users", len(o.batch.Users), "OK", ok)
	}
	op.BatchesDone += int32(len(wave))
	if ctx.Err() != nil {
		// Shutting down: the record is committed and the next manager resumes from the directory.
		return res, errors.Join(errs...)
	}
	return res, nil
}

// afterWave records the failures of a wave and chooses the requeue.
func (r *UserHomingReconciler) afterWave(s *homingScope, op *ocsv1.Operation, res waveResult) ctrl.Result {
	r.recordFailures(s, op, res.failures, "move")
	if len(res.failures) > 0 {
		return ctrl.Result{RequeueAfter: min(failureBackoff*time.Duration(op.FailedPasses), maxFailureBackoff)}
	}
	return ctrl.Result{RequeueAfter: nextWave}
}

// recordFailures tracks whether the same users fail pass after pass; the third such pass stalls
// the object (a human must look), and the first one raises a MovesFailed Warning.
func (r *UserHomingReconciler) recordFailures(s *homingScope, op *ocsv1.Operation, failures []moveFailure, what string) {
	op.Failed = int32(len(failures))
	if len(failures) == 0 {
		op.FailedPasses, op.FailureDigest = 0, ""
		return
	}
	sort.Slice(failures, func(i, j int) bool { return failures[i].sip < failures[j].sip })
	h := sha256.New()
	for _, f := range failures {
		h.Write([]byte(f.sip))
		h.Write([]byte{0})
	}
	digest := hex.EncodeToString(h.Sum(nil))[:16]
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

// describeFailures names the first few failing users and the first reason.
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
