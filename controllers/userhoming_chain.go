package controllers

import (
	"context"
	"slices"
	"sync"

	logf "sigs.k8s.io/controller-runtime/pkg/log"

	ocsv1 "github.com/ocsha/ocs-ha-operator/api/v1alpha1"
	"github.com/ocsha/ocs-ha-operator/internal/placement"
	"github.com/ocsha/ocs-ha-operator/internal/restoreplan"
)

// chainedImports restores, during a pass of forced moves, the contacts of each move batch's
// users as soon as the servers confirmed their moves, on the command slots the pass's other
// moves also use: the restore of a batch runs while the next batches move.
//
// Each chained import is planned like any restore pass (restoreplan: never over data, never
// twice) from this process's memory of who holds data, restricted to the batch's users. Its
// marks are written in a status checkpoint before it runs, so a crash in the middle is counted
// by the next pass; a lock keeps the chains' planning, checkpoints and tallies one at a time.
type chainedImports struct {
	r   *UserHomingReconciler
	s   *homingScope
	src *restoreSource
	key string

	mu sync.Mutex
	// movedTo: the users this pass's moves were confirmed for (by key), and their new home.
	movedTo map[string]string
	// movedBefore: status.lastOperation.moved when the pass began; each chained checkpoint
	// reports it plus the users moved since, so progress shows batch by batch.
	movedBefore int32
	// stopped: a checkpoint failed, so no import of this pass may run (its marks would not be
	// on record).
	stopped bool
}

// chainImports prepares the chained imports of a pass of forced moves, or returns nil when the
// pass only moves (restoreplan.ImportWhileMoving says when); the restore step after the moves
// then restores. Failing to open the snapshot never holds the moves back: the restore step
// retries and reports it.
func (r *UserHomingReconciler) chainImports(ctx context.Context, s *homingScope) *chainedImports {
	op := s.op()
	key := homingKey(s, op)
	_, known := r.restores.Holds(key)
	if !restoreplan.ImportWhileMoving(op.Snapshot != "", known, len(op.PendingRestores)) {
		return nil
	}
	src, err := r.openRestoreSource(ctx, s)
	if err != nil || src == nil {
		if err != nil {
			logf.FromContext(ctx).V(1).Info("No contact restore beside the forced moves; the restore step retries", "error", err.Error())
		}
		return nil
	}
	return &chainedImports{r: r, s: s, src: src, key: key, movedTo: map[string]string{}, movedBefore: op.Moved}
}

// afterMove runs in the goroutine of batch b once its move returned: it imports the contacts of
// the users the servers confirmed moved. A batch that failed as a whole moved nobody known.
func (c *chainedImports) afterMove(ctx context.Context, b placement.Batch, o moveOutcome) {
	if o.err != nil || ctx.Err() != nil {
		return
	}
	var moved []string
	for _, m := range o.results {
		if m.OK {
			moved = append(moved, m.SIP)
		}
	}
	if len(moved) == 0 {
		return
	}
	rp := c.prepare(ctx, b.To, moved)
	if rp == nil {
		return
	}
	rp.run(ctx, c.s.agent)
	if ctx.Err() != nil {
		// Shutting down: the marks are on record and the next manager counts what ran.
		return
	}
	c.tally(rp)
}

// prepare plans the import of moved, now homed on target, and puts its marks on record. nil
// when nothing is to be imported now: the restore step after the moves takes whoever is left.
func (c *chainedImports) prepare(ctx context.Context, target string, moved []string) *importPass {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.r.restores.ForceMoved(c.key, moved, false)
	keep := make(map[string]bool, len(moved))
	for _, sip := range moved {
		k := restoreplan.Key(sip)
		c.movedTo[k], keep[k] = target, true
	}
	basis := c.r.restores.Basis(c.key)
	holds, known := c.r.restores.Holds(c.key)
	op := c.s.op()
	if c.stopped || !known {
		return nil
	}
	op.Moved = clampCount(c.movedBefore+int32(len(c.movedTo)), 0, op.Total)
	op.Forced = op.Moved
	plan := restoreplan.Compute(c.input(op, holds))
	wave, err := plan.FillOnly(c.src.reader(ctx), func(k string) bool { return keep[k] })
	if err != nil || wave.Done() || len(op.PendingRestores)+len(wave.Batches) > maxPendingRestores {
		return nil
	}
	rp := &importPass{plan: plan, wave: wave, basis: basis}
	rp.markPending(op)
	if err := c.s.checkpoint(ctx); err != nil {
		c.stopped = true
		logf.FromContext(ctx).V(1).Info("No contact restore beside the forced moves after a failed checkpoint", "error", err.Error())
		return nil
	}
	return rp
}

// input is the restore pass input of a chained import: the pass's directory with the moves
// confirmed since it was read.
func (c *chainedImports) input(op *ocsv1.Operation, holds func(string) bool) restoreplan.Input {
	in := restoreplan.Input{
		Snapshot:  c.src.table,
		Sources:   op.From,
		Serving:   c.s.pool.servingNames(),
		BatchSize: int(c.s.homing.Spec.MoveBatchSize),
		MaxMarks:  maxPendingRestores,
		Holds:     holds,
	}
	in.Directory = make([]restoreplan.User, 0, len(c.s.users))
	for _, u := range c.s.users {
		home := u.Server
		if to, ok := c.movedTo[restoreplan.Key(u.SIP)]; ok {
			home = to
		}
		in.Directory = append(in.Directory, restoreplan.User{SIP: u.SIP, Home: home})
	}
	return in
}

// tally counts a chained import: its marks leave the record, unless its outcome is unknown.
func (c *chainedImports) tally(rp *importPass) {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := countImports(rp)
	op := c.s.op()
	own := map[ocsv1.RestoreMark]bool{}
	for _, b := range rp.wave.Batches {
		m := b.Mark()
		own[ocsv1.RestoreMark{Server: m.Server, FirstUser: m.First, LastUser: m.Last}] = true
	}
	op.PendingRestores = slices.DeleteFunc(op.PendingRestores, func(m ocsv1.RestoreMark) bool { return own[m] })
	op.PendingRestores = append(op.PendingRestores, t.unknown...)
	c.r.applyTally(c.s, t)
}
