package controllers

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	ocsv1 "github.com/ocsha/ocs-ha-operator/api/v1alpha1"
	"github.com/ocsha/ocs-ha-operator/internal/backup"
	"github.com/ocsha/ocs-ha-operator/internal/placement"
)

// The Failover operation: users of servers down for longer than spec.failover.delay are
// force-moved to the serving servers (their contacts stay on the dead server), then their
// contacts are restored from the snapshot pinned when it started. Its steps are startFailover
// (when the gate lets it start), forceMoveWave, restoreWave (userhoming_restore.go) and
// completeFailover.

// startFailover re-checks the sources, pins the snapshot contacts will come from and records the
// operation; a planned operation still running is superseded, and so is a failover when a new
// source passes the gate (takeOver).
func (r *UserHomingReconciler) startFailover(ctx context.Context, s *homingScope) (ctrl.Result, error) {
	running := s.op()
	if running != nil && running.Type != ocsv1.OperationFailover {
		r.finish(s, fmt.Sprintf("Superseded by a failover from %s.", strings.Join(s.failFrom, ", ")))
		running = nil
	}
	from := r.stillDown(ctx, s, failoverSourcesToAdd(running, s.failFrom))
	switch {
	case len(from) == 0 && running != nil:
		// The new source answered a direct check: the running failover goes on.
		return ctrl.Result{}, nil
	case len(from) == 0:
		return ctrl.Result{RequeueAfter: s.pool.recheckInterval()}, nil
	}
	s.sourcesChecked = true
	inherited := r.takeOver(s, running, from)
	from = unionOf(from, inherited)
	downSince := s.now
	for _, name := range from {
		if f := s.pool.fact(name); f != nil && !f.since.IsZero() && f.since.Before(downSince) {
			downSince = f.since
		}
	}
	if len(inherited) > 0 && running.StartTime.Time.Before(downSince) {
		// The snapshot must predate the first failover's moves: it homes those users on its
		// sources, with their contacts.
		downSince = running.StartTime.Time
	}
	snap, note := r.pickSnapshot(ctx, s, from, downSince)
	op := s.start(ocsv1.OperationFailover, from, s.homedOn(from))
	op.InheritedFrom = inherited
	restore := note
	if snap != nil {
		op.Snapshot = snap.Name
		t := metav1.NewTime(snap.Time)
		op.SnapshotTime = &t
		restore = "contacts are restored from snapshot " + op.Snapshot
	} else {
		op.Message = note
	}
	op.ContactLossWindow = contactLossWindow(op.SnapshotTime, downSince)
	countFailover(s.pool.pool)
	// A Warning: users lose the contact changes of the loss window, or all their contacts.
	r.event(s, true, "FailoverStarted", "Failover", "%s down since %s, longer than spec.failover.delay: force-moving %d users to the serving servers; %s. Contact changes lost: %s.",
		strings.Join(from, ", "), downSince.UTC().Format(time.RFC3339), op.Total, restore, op.ContactLossWindow)
	logf.FromContext(ctx).Info("Started a failover", "operation", op.ID, "from", from, "count", op.Total, "snapshot", op.Snapshot)
	return ctrl.Result{}, nil
}

// takeOver ends the running failover, if any, for the one starting from the new sources, and
// returns its sources that still do not answer: the new failover keeps them.
func (r *UserHomingReconciler) takeOver(s *homingScope, running *ocsv1.Operation, from []string) []string {
	if running == nil {
		return nil
	}
	inherited := inheritedSources(running, s.serverAnswers)
	r.event(s, true, "FailoverTakenOver", "Failover", "%s went down during the failover from %s; a failover from %s takes over and restores the contacts of the users of both.",
		strings.Join(from, ", "), strings.Join(running.From, ", "), strings.Join(unionOf(from, inherited), ", "))
	r.finishFailover(s, fmt.Sprintf("Taken over by a failover from %s: %s went down too.", strings.Join(unionOf(from, inherited), ", "), strings.Join(from, ", ")))
	return inherited
}

// forceMoveWave runs one wave of forced moves while the step is Moving. The step becomes
// Restoring once nobody the failover can move is left on a down source; it waits while a source's
// state is unknown.
func (r *UserHomingReconciler) forceMoveWave(ctx context.Context, s *homingScope) (ctrl.Result, error) {
	op := s.op()
	if op.Step != stepMoving {
		return ctrl.Result{}, nil
	}
	evacuate, waiting := s.failoverSources(op)
	plan := s.plan(evacuate, false, -1)
	s.recordPlan(plan)
	op.Moved = clampCount(op.Total-int32(s.homedOn(op.From)), 0, op.Total)
	op.Forced = op.Moved
	wave := selectWave(plan.Batches, func(b placement.Batch) bool { return b.Forced && evacuate[b.From] }, batchesPerPass)
	left := usersOn(s.users, evacuate, true)
	if len(wave) == 0 || givenUp(op, left) {
		if waitOn := usersOn(s.users, setOfNames(waiting), true); len(waitOn) > 0 || (len(wave) == 0 && len(left) > 0) {
			// Nobody may be left behind: wait until the source's state or a serving server is known.
			s.report.waitingSources = waiting
			return ctrl.Result{RequeueAfter: s.pool.recheckInterval()}, nil
		}
		r.leaveMoving(s, op, evacuate, left)
		return ctrl.Result{}, nil
	}
	if r.sourceCameBack(ctx, s, op, evacuate) {
		r.finishFailover(s, "Aborted before the first forced move: a source answered a direct check.")
		return ctrl.Result{RequeueAfter: s.pool.recheckInterval()}, nil
	}
	key := homingKey(s, op)
	if op.Moved == 0 && len(op.InheritedFrom) == 0 {
		// Nobody has moved yet: every forced move of this failover happens in this process.
		// Not so after a takeover: the failover taken over moved users too.
		r.restores.BeginForcedMoves(key)
	}
	// The contacts of each batch's users are restored as soon as their moves are confirmed,
	// while the pass's other batches move. Users whose import failed stay empty and are
	// candidates again; failures count towards a stall only in the restore step.
	var after func(context.Context, placement.Batch, moveOutcome)
	chain := r.chainImports(ctx, s)
	if chain != nil {
		after = chain.afterMove
	}
	movedBefore := op.Moved
	res, err := r.runWave(ctx, s, wave, after)
	r.restores.ForceMoved(key, res.moved, res.uncertain || err != nil)
	if chain != nil {
		r.reportCorrupt(s, chain.src)
	}
	if err != nil {
		return ctrl.Result{}, err
	}
	op = s.op() // the checkpoints replaced the record
	op.Moved = clampCount(movedBefore+int32(res.ok), 0, op.Total)
	op.Forced = op.Moved
	return r.afterWave(s, res), nil
}

// leaveMoving ends the forced moves. givenUp are the users a move refused pass after pass; they
// stay, with those whose address no move can carry, and a Warning names them all.
func (r *UserHomingReconciler) leaveMoving(s *homingScope, op *ocsv1.Operation, evacuate map[string]bool, givenUp []string) {
	r.event(s, false, "UsersForceMoved", "Failover", "%d users force-moved off %s; their contacts stayed on the dead server.", op.Forced, strings.Join(op.From, ", "))
	op.Step = stepRestoring
	op.Failed, op.FailedPasses, op.FailureDigest = 0, 0, ""
	var stay []moveFailure
	refused := setOfNames(givenUp)
	for _, sip := range usersOn(s.users, evacuate, false) {
		switch {
		case unmovable(sip):
			stay = append(stay, moveFailure{sip: sip, message: "the address is one no move command can carry; it stays on the failed server"})
		case refused[sip]:
			stay = append(stay, moveFailure{sip: sip, message: fmt.Sprintf("its move failed in %d passes in a row; it stays on the failed server", stalledAfter)})
		}
	}
	if len(stay) == 0 {
		return
	}
	op.Failed = int32(len(stay))
	r.event(s, true, "UsersNotMoved", "Failover", "%s", describeHomingFailures(stay, "forced move"))
}

// sourceCameBack asks the sources of a resumed failover that never moved anybody whether they
// answer again: then the failover is aborted. A failover started in this pass was just checked.
func (r *UserHomingReconciler) sourceCameBack(ctx context.Context, s *homingScope, op *ocsv1.Operation, evacuate map[string]bool) bool {
	if s.sourcesChecked || op.Moved != 0 || op.BatchesDone != 0 {
		return false
	}
	sources := make([]string, 0, len(evacuate))
	for name := range evacuate {
		sources = append(sources, name)
	}
	sort.Strings(sources)
	return len(r.stillDown(ctx, s, sources)) < len(sources)
}

// completeFailover ends a failover whose moves and restore are done. Its message and event say
// plainly who is left without contacts or on a failed server: a restore that did not happen is
// never reported as one.
func (r *UserHomingReconciler) completeFailover(_ context.Context, s *homingScope) (ctrl.Result, error) {
	op := s.op()
	end := s.restoreEnd
	if end == nil {
		end = &restoreOutcome{}
	}
	stayed := s.stayedOnSources(op)
	if end.notRestored > 0 && len(end.failures) == 0 {
		// Nothing per user came from the snapshot (none pinned, or the store is gone): this
		// process's record of the forced moves names them, when it saw them all.
		end.unnamed, end.unnamedKnown = r.restores.Unrestored(homingKey(s, op))
	}
	op.Failed = int32(len(stayed) + end.notRestored)
	msg := failoverSummary(op, stayed, end)
	if op.Failed == 0 {
		r.event(s, false, "ContactsRestored", "Restore", "%s", msg)
	} else {
		r.event(s, true, "ContactsNotRestored", "Restore", "%s", msg)
	}
	r.finishFailover(s, msg)
	return ctrl.Result{RequeueAfter: nextWave}, nil
}

// stayedOnSources are the users still homed on a source of op that does not answer.
func (s *homingScope) stayedOnSources(op *ocsv1.Operation) []moveFailure {
	down := map[string]bool{}
	for _, name := range op.From {
		if f := s.pool.fact(name); f != nil && !f.answers() {
			down[name] = true
		}
	}
	var out []moveFailure
	for _, sip := range usersOn(s.users, down, false) {
		out = append(out, moveFailure{sip: sip, message: "it stays on the failed server"})
	}
	return out
}

// failoverSummary is the completion message of a failover (pure).
func failoverSummary(op *ocsv1.Operation, stayed []moveFailure, end *restoreOutcome) string {
	msg := fmt.Sprintf("%d users force-moved", op.Forced)
	if op.Snapshot != "" {
		msg += fmt.Sprintf(", contacts of %d users restored from snapshot %s", op.ContactsRestored, op.Snapshot)
	}
	msg += "."
	if len(stayed) > 0 {
		msg += " Not moved: " + describeHomingFailures(stayed, "forced move")
	}
	switch {
	case end.notRestored == 0:
	case len(end.failures) > 0:
		msg += " Without restored contacts: " + describeHomingFailures(end.failures, "contact restore")
	default:
		msg += fmt.Sprintf(" %d users have no restored contacts: %s.", end.notRestored, unrestoredNames(end))
		if end.note != "" {
			msg += " " + end.note
		}
	}
	return msg
}

// unrestoredShown bounds the users a failover's completion names without restored contacts.
const unrestoredShown = 10

// unrestoredNames names the users of a restore that did not happen (pure), or says why it cannot.
func unrestoredNames(end *restoreOutcome) string {
	if !end.unnamedKnown || len(end.unnamed) == 0 {
		return "their names are not known here (the manager restarted during the failover, or a move's outcome was lost, and the snapshot that lists them cannot be read)"
	}
	shown := end.unnamed[:min(len(end.unnamed), unrestoredShown)]
	out := strings.Join(shown, ", ")
	if more := len(end.unnamed) - len(shown); more > 0 {
		out += fmt.Sprintf(" and %d more", more)
	}
	return out
}

// finishFailover completes a failover (its events are UsersForceMoved and ContactsRestored).
func (r *UserHomingReconciler) finishFailover(s *homingScope, message string) {
	op := s.op()
	r.restores.Forget(homingKey(s, op))
	op.Message = ""
	r.finish(s, message)
}

// pickSnapshot chooses the snapshot contacts are restored from: the newest one taken at or before
// the sources went down that holds every source (a snapshot taken while a source was down skipped
// it). nil and a sentence saying why when there is none.
func (r *UserHomingReconciler) pickSnapshot(ctx context.Context, s *homingScope, from []string, before time.Time) (*backup.Manifest, string) {
	repo, note, _ := r.restoreRepository(ctx, s)
	if repo == nil {
		return nil, note
	}
	ms, err := repo.List(ctx)
	if err != nil {
		r.event(s, true, "CorruptSnapshot", "Restore", "Some snapshots could not be read and are passed over: %v", err)
		if len(ms) == 0 {
			return nil, fmt.Sprintf("Contacts were not restored: the snapshots could not be listed: %v", err)
		}
	}
	// lastTransitionTime has whole seconds: a snapshot in the same second may still predate the
	// crash. One taken after it cannot hold the source: the backup skips a server that is down.
	notAfter := before.Truncate(time.Second).Add(time.Second)
	for _, m := range ms {
		if m.Time.After(notAfter) || snapshotSkipsAny(m, from) {
			continue
		}
		return m, ""
	}
	return nil, fmt.Sprintf("Contacts were not restored: no snapshot of ContactBackup %s/%s taken before %s holds %s.",
		s.homing.Namespace, s.homing.Spec.ContactRestore.BackupRef.Name, before.UTC().Format(time.RFC3339), strings.Join(from, ", "))
}

func snapshotSkipsAny(m *backup.Manifest, servers []string) bool {
	for _, e := range m.Servers {
		if !e.Skipped {
			continue
		}
		for _, name := range servers {
			if e.Name == name {
				return true
			}
		}
	}
	return false
}
