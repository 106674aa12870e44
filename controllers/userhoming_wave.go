package controllers

import (
	"context"
	"errors"
	"time"

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
	// directory and writes a checkpoint before its batches, so several batches per pass spread
	// that cost (a failover's pass also restores its own users' contacts, batch by batch, and
	// reports its progress with each); the WinRM pool runs at most its per-server limit (2) of
	// them at once, since each is one long command on the target and OCS serialises much of
	// the work.
	batchesPerPass = 16
	// stalledAfter is the number of consecutive passes in which the same users fail before a
	// human is asked to look.
	stalledAfter = 3
	// failureBackoff is the requeue after a wave with failures, multiplied by the streak.
	failureBackoff = time.Second
	// maxFailureBackoff bounds it.
	maxFailureBackoff = time.Minute
	// failedUsersShown is how many failing users a message names.
	failedUsersShown = 3
)

// placementServers describes the servers to the planner; evacuate names the servers whose users
// must all leave (drains are always evacuated, failed-over servers only while a failover moves).
func (s *homingScope) placementServers(evacuate map[string]bool) []placement.ServerState {
	out := make([]placement.ServerState, 0, len(s.pool.servers))
	for _, f := range s.pool.servers {
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
		if unmovable(u.SIP) {
			// No move can take it anywhere; failovers report it (userhoming_sources.go).
			continue
		}
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
	for _, f := range s.pool.servers {
		st.Servers = append(st.Servers, ocsv1.HomingServerStatus{Name: f.name, HomedUsers: int32(f.homed), DesiredUsers: int32(p.Desired[f.name])})
	}
	s.report.pending = p.Moves
}

func clampCount(v, lo, hi int32) int32 { return min(max(v, lo), hi) }

// waveResult is the outcome of one wave of moves.
type waveResult struct {
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

// moveOutcome is what one move batch gave.
type moveOutcome struct {
	batch   placement.Batch
	results []ocs.MoveResult
	err     error
}

// runWave writes a checkpoint, then runs the batches of one wave at once; after (when not nil)
// runs in each batch's goroutine once its move returned. A forced batch runs on its target,
// never on the dead source; a planned one on the server moveVia picks.
func (r *UserHomingReconciler) runWave(ctx context.Context, s *homingScope, wave []placement.Batch,
	after func(context.Context, placement.Batch, moveOutcome)) (waveResult, error) {
	wave = placement.Spread(selectWave(wave, nil, batchesPerPass), r.slotsFor)
	if len(wave) == 0 {
		return waveResult{}, nil
	}
	if err := s.checkpoint(ctx); err != nil {
		return waveResult{}, err
	}
	outcomes := make([]moveOutcome, len(wave))
	atOnce(len(wave), func(i int) {
		b := wave[i]
		res, err := s.agent.MoveUsers(ctx, moveVia(b, i), b.Users, b.To, b.Forced)
		outcomes[i] = moveOutcome{batch: b, results: res, err: err}
		if after != nil {
			after(ctx, b, outcomes[i])
		}
	})
	res, errs := tallyMoves(ctx, s.pool.pool, outcomes)
	s.op().BatchesDone += int32(len(wave))
	if ctx.Err() != nil {
		// Shutting down: the checkpoint stands and the next manager resumes from the directory.
		return res, errors.Join(errs...)
	}
	return res, nil
}

// slotsFor is the number of command slots the batches of b's source and target share: both
// servers' for a planned move (moveVia alternates them), the target's for a forced one.
func (r *UserHomingReconciler) slotsFor(b placement.Batch) int {
	slots := max(r.CommandSlots, 1)
	if b.Forced || b.From == "" {
		return slots
	}
	return 2 * slots
}

// moveVia picks the server the move command of the i-th batch of a wave runs on. A forced move
// runs on its target: its source is down. A planned move runs on its source for odd i and on
// its target for even i, so that a drain uses the command slots of both servers: the move is a
// directory write either server of the pair can make (internal/ocs/inferred.go, "Moves via
// either server").
func moveVia(b placement.Batch, i int) string {
	if b.Forced || b.From == "" || i%2 == 0 {
		return b.To
	}
	return b.From
}

// tallyMoves sums the outcomes of a wave, counts them in the metrics and returns the errors of
// the batches that failed as a whole.
func tallyMoves(ctx context.Context, pool *ocsv1.OCSPool, outcomes []moveOutcome) (waveResult, []error) {
	var res waveResult
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
				res.failures = append(res.failures, moveFailure{sip: sip, message: describeCommandError(o.err)})
			}
			countMoves(pool, kind, resultFailed, len(o.batch.Users))
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
		countMoves(pool, kind, resultOK, ok)
		countMoves(pool, kind, resultFailed, len(o.batch.Users)-ok)
		logf.FromContext(ctx).V(1).Info("Moved a batch of users", "from", o.batch.From, "to", o.batch.To,
			"forced", o.batch.Forced, "count", len(o.batch.Users), "moved", ok)
	}
	return res, errs
}

// afterWave records the failures of a wave and chooses the requeue.
func (r *UserHomingReconciler) afterWave(s *homingScope, res waveResult) ctrl.Result {
	r.recordFailures(s, res.failures, "move")
	return failureRequeue(s.op(), len(res.failures))
}
