package controllers

import (
	"context"
	"errors"
	"fmt"
	"slices"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	ocsv1 "github.com/ocsha/ocs-ha-operator/api/v1alpha1"
	"github.com/ocsha/ocs-ha-operator/internal/backup"
	"github.com/ocsha/ocs-ha-operator/internal/contacts"
	"github.com/ocsha/ocs-ha-operator/internal/ocs"
	"github.com/ocsha/ocs-ha-operator/internal/restoreplan"
)

// restoreEnv is what a pass restores with: the snapshot, the pool and its agent.
type restoreEnv struct {
	backup   *ocsv1.ContactBackup
	pool     *ocsv1.OCSPool
	repo     *backup.Repository
	snapshot *backup.Manifest
	agent    ocs.Agent
	serving  map[string]bool
	// via is the serving server the directory is read through.
	via string
}

// pass runs one pass of a restore that has not ended.
func (r *ContactRestoreReconciler) pass(ctx context.Context, s *restoreScope) (ctrl.Result, error) {
	cr := s.cr
	if cr.Spec.Mode == ocsv1.RestoreReplace {
		r.refuseReplace(s)
		return ctrl.Result{}, nil
	}
	env, res, err := r.readEnv(ctx, s)
	if env == nil {
		return res, err
	}
	if cr.Status.StartTime == nil {
		if wait, err := r.waitForHomings(ctx, s, env.pool.Name); wait || err != nil {
			return waitResult(err)
		}
	}
	ts, err := r.targets(ctx, s, env)
	if err != nil {
		return ctrl.Result{}, err
	}
	var wants map[string]contacts.Resource
	if cr.Status.VerifiedTime == nil {
		if wants, err = r.verifyCopies(ctx, s, env, ts); err != nil || wants == nil {
			return ctrl.Result{}, err
		}
		cr.Status.VerifiedTime = toTime(s.now)
	}
	if cr.Spec.DryRun {
		return ctrl.Result{}, r.dryRun(ctx, s, env, ts, wants)
	}
	if cr.Status.StartTime == nil {
		if started, err := r.claimPool(ctx, s, env, ts); !started || err != nil {
			return waitResult(err)
		}
	}
	return r.restoreChunks(ctx, s, env, ts, wants)
}

// waitResult requeues a waiting restore, or fails the pass with err.
func waitResult(err error) (ctrl.Result, error) {
	if err != nil {
		return ctrl.Result{}, err
	}
	return ctrl.Result{RequeueAfter: restoreWaitRequeue}, nil
}

// refuseReplace reports spec.mode Replace, which no supported product can do safely.
func (r *ContactRestoreReconciler) refuseReplace(s *restoreScope) {
	s.report.stalledReason = ocsv1.ReasonReplaceUnsupported
	s.report.stalledMessage = "spec.mode Replace is not supported: OCS 2007 R2's dbimpexp /import and Skype for Business's Update-CsUserData " +
		"merge into the user's list, and Import-CsUserData replaces data only after a restart of the pool's Front-End services. " +
		"Nothing was written; create a ContactRestore with spec.mode Merge."
	if c := meta.FindStatusCondition(s.cr.Status.Conditions, ocsv1.ConditionStalled); c == nil || c.Reason != ocsv1.ReasonReplaceUnsupported {
		r.event(s.cr, true, ocsv1.ReasonReplaceUnsupported, "Restore", "%s", s.report.stalledMessage)
	}
}

// readEnv reads the ContactBackup, the OCSPool, the snapshot and the agent. nil means the pass
// ends here with res and err, the report saying why.
func (r *ContactRestoreReconciler) readEnv(ctx context.Context, s *restoreScope) (*restoreEnv, ctrl.Result, error) {
	cr := s.cr
	env := &restoreEnv{backup: &ocsv1.ContactBackup{}, pool: &ocsv1.OCSPool{}}
	wait := func(reason, msg string) (*restoreEnv, ctrl.Result, error) {
		s.report.waitReason, s.report.waitMessage = reason, msg
		return nil, ctrl.Result{RequeueAfter: restoreMissingRequeue}, nil
	}
	err := r.Get(ctx, types.NamespacedName{Namespace: cr.Namespace, Name: cr.Spec.BackupRef.Name}, env.backup)
	if apierrors.IsNotFound(err) {
		return wait(ocsv1.ReasonBackupNotFound, fmt.Sprintf("ContactBackup %s/%s (spec.backupRef) does not exist.", cr.Namespace, cr.Spec.BackupRef.Name))
	}
	if err != nil {
		return nil, ctrl.Result{}, fmt.Errorf("reading ContactBackup %s/%s: %w", cr.Namespace, cr.Spec.BackupRef.Name, err)
	}
	poolName := env.backup.Spec.PoolRef.Name
	err = r.Get(ctx, types.NamespacedName{Namespace: cr.Namespace, Name: poolName}, env.pool)
	if apierrors.IsNotFound(err) {
		return wait(ocsv1.ReasonPoolNotFound, fmt.Sprintf("OCSPool %s/%s (spec.poolRef of ContactBackup %s) does not exist.", cr.Namespace, poolName, env.backup.Name))
	}
	if err != nil {
		return nil, ctrl.Result{}, fmt.Errorf("reading OCSPool %s/%s: %w", cr.Namespace, poolName, err)
	}
	if cr.Spec.Server != "" && !slices.ContainsFunc(env.pool.Spec.Servers, func(sv ocsv1.ServerSpec) bool { return sv.Name == cr.Spec.Server }) {
		s.report.stalledReason = ocsv1.ReasonServerNotInPool
		s.report.stalledMessage = fmt.Sprintf("spec.server %s is not a server of OCSPool %s/%s.", cr.Spec.Server, cr.Namespace, poolName)
		return nil, ctrl.Result{}, nil
	}
	serving := newPoolView(env.pool).servingNames()
	if len(serving) == 0 {
		s.report.waitReason = ocsv1.ReasonNoServingServer
		s.report.waitMessage = fmt.Sprintf("No server of OCSPool %s/%s serves: nothing can be read or restored.", cr.Namespace, poolName)
		return nil, ctrl.Result{RequeueAfter: restoreWaitRequeue}, nil
	}
	env.via, env.serving = serving[0], map[string]bool{}
	for _, name := range serving {
		env.serving[name] = true
	}
	if env.agent, err = r.Agents.AgentFor(ctx, env.pool); err != nil {
		return r.stallOnSecret(s, fmt.Errorf("getting the agent of OCSPool %s/%s: %w", cr.Namespace, poolName, err))
	}
	if env.repo, err = openRepository(ctx, r.Secrets, env.backup); err != nil {
		return r.stallOnSecret(s, err)
	}
	if ok, err := r.pickSnapshot(ctx, s, env); !ok || err != nil {
		return nil, ctrl.Result{}, err
	}
	return env, ctrl.Result{}, nil
}

// stallOnSecret reports a missing Secret as Stalled; any other error fails the pass.
func (r *ContactRestoreReconciler) stallOnSecret(s *restoreScope, err error) (*restoreEnv, ctrl.Result, error) {
	if se, ok := asSecretError(err); ok {
		s.report.stalledReason, s.report.stalledMessage = se.Reason, se.Error()
		return nil, ctrl.Result{}, nil
	}
	return nil, ctrl.Result{}, err
}

// pickSnapshot finds the snapshot: the one recorded at the start, else spec.snapshot, else the
// newest readable one. false with no error means it is missing, reported as Stalled.
func (r *ContactRestoreReconciler) pickSnapshot(ctx context.Context, s *restoreScope, env *restoreEnv) (bool, error) {
	cr := s.cr
	ms, listErr := env.repo.List(ctx)
	if len(ms) == 0 && listErr != nil && !errors.Is(listErr, backup.ErrCorrupt) {
		return false, fmt.Errorf("listing the snapshots of ContactBackup %s/%s: %w", cr.Namespace, env.backup.Name, listErr)
	}
	want := cr.Status.Snapshot
	if want == "" {
		want = cr.Spec.Snapshot
	}
	for _, m := range ms {
		if want == "" || m.Name == want {
			env.snapshot, cr.Status.Snapshot = m, m.Name
			return true, nil
		}
	}
	msg := fmt.Sprintf("ContactBackup %s/%s has no readable snapshot yet.", cr.Namespace, env.backup.Name)
	if want != "" {
		msg = fmt.Sprintf("Snapshot %s is not among the readable snapshots of ContactBackup %s/%s", want, cr.Namespace, env.backup.Name)
		if listErr != nil {
			msg += fmt.Sprintf(" (%v)", listErr)
		}
		msg += "; nothing was written. Name another in spec.snapshot of a new ContactRestore."
	}
	s.report.stalledReason, s.report.stalledMessage = ocsv1.ReasonSnapshotNotFound, msg
	return false, nil
}

// waitForHomings reports whether a UserHoming operation runs on the pool: the restore waits.
func (r *ContactRestoreReconciler) waitForHomings(ctx context.Context, s *restoreScope, pool string) (bool, error) {
	h, err := busyHoming(ctx, r.APIReader, s.cr.Namespace, pool)
	if err != nil || h == nil {
		return false, err
	}
	op := runningOperation(h)
	s.report.waitReason = ocsv1.ReasonRestoreWaiting
	s.report.waitMessage = fmt.Sprintf("UserHoming %s/%s runs a %s operation (%s) on OCSPool %s: the restore starts when it ends.",
		h.Namespace, h.Name, op.Type, op.ID, pool)
	if c := meta.FindStatusCondition(s.cr.Status.Conditions, ocsv1.ConditionReady); c == nil || c.Reason != ocsv1.ReasonRestoreWaiting {
		r.event(s.cr, false, ocsv1.ReasonRestoreWaiting, "Restore", "%s", s.report.waitMessage)
	}
	return true, nil
}

// targets lists the directory and derives the target set; the counts follow it.
func (r *ContactRestoreReconciler) targets(ctx context.Context, s *restoreScope, env *restoreEnv) (targetSet, error) {
	users, err := env.agent.ListUsers(ctx, env.via)
	if err != nil {
		return targetSet{}, fmt.Errorf("listing the users of OCSPool %s/%s: %w", env.pool.Namespace, env.pool.Name, err)
	}
	table, err := env.repo.Users(ctx, env.snapshot)
	if err != nil {
		return targetSet{}, fmt.Errorf("reading the user table of snapshot %s: %w", env.snapshot.Name, err)
	}
	ts := restoreTargets(s.cr.Spec, users, func(k string) bool { _, ok := table[k]; return ok }, env.serving)
	s.cr.Status.Users = restoreCounts(ts, s.cr.Status.Servers)
	s.cr.Status.FailedUsers = addFailures(s.cr.Status.FailedUsers, ts.failed)
	return ts, nil
}

// readCopies reads the snapshot's copy of each user, verified against its digest and checked to
// encode into the pool's import format. Damage is returned as problems; the error is for what
// stopped the reading.
func readCopies(ctx context.Context, env *restoreEnv, users []restoreUser) (map[string]contacts.Resource, []backup.Problem, error) {
	out := make(map[string]contacts.Resource, len(users))
	var problems []backup.Problem
	for _, u := range users {
		data, err := env.repo.ReadUser(ctx, env.snapshot, u.Key)
		switch {
		case errors.Is(err, backup.ErrCorrupt):
			problems = append(problems, backup.Problem{Kind: backup.ProblemCorrupt, User: u.Key, What: "contacts", Err: err})
			continue
		case err != nil:
			return nil, nil, fmt.Errorf("reading the copy of %s in snapshot %s: %w", u.SIP, env.snapshot.Name, err)
		}
		if err := encodesForImport(env.pool.Spec.Product, u.Key, data); err != nil {
			problems = append(problems, backup.Problem{Kind: backup.ProblemDocument, User: u.Key, What: "contacts", Err: err})
			continue
		}
		res, err := contacts.UnmarshalResource(data)
		if err != nil {
			return nil, nil, fmt.Errorf("reading the copy of %s in snapshot %s: %w", u.SIP, env.snapshot.Name, err)
		}
		out[u.Key] = res
	}
	return out, problems, nil
}

// verifyCopies reads and checks the copy of every targeted user before anything is written.
// Damage ends the restore (nil copies, no error): an older snapshot is the admin's choice.
func (r *ContactRestoreReconciler) verifyCopies(ctx context.Context, s *restoreScope, env *restoreEnv, ts targetSet) (map[string]contacts.Resource, error) {
	var all []restoreUser
	for _, name := range ts.servers {
		all = append(all, ts.byServer[name]...)
	}
	wants, problems, err := readCopies(ctx, env, all)
	if err != nil || len(problems) == 0 {
		return wants, err
	}
	rep := &backup.VerifyReport{Snapshot: env.snapshot.Name, Problems: problems}
	for _, p := range problems {
		if p.Kind == backup.ProblemCorrupt {
			rep.Corrupt++
		} else {
			rep.Documents++
		}
	}
	o := drillFailure(rep)
	s.report.stalledReason = o.Reason
	s.report.stalledMessage = o.Message + " Nothing was written; name an older snapshot in spec.snapshot of a new ContactRestore."
	r.complete(s)
	r.event(s.cr, true, o.Reason, "Restore", "%s", s.report.stalledMessage)
	return nil, nil
}

// dryRun counts, per server, the users and contacts a restore would add, and ends the restore.
func (r *ContactRestoreReconciler) dryRun(ctx context.Context, s *restoreScope, env *restoreEnv, ts targetSet, wants map[string]contacts.Resource) error {
	previews := make([]ocsv1.RestorePreview, 0, len(ts.servers))
	for _, name := range ts.servers {
		users := ts.byServer[name]
		have, err := currentLists(ctx, env.agent, name, users)
		if err != nil {
			return err
		}
		p := planChunk(users, have, wants)
		previews = append(previews, ocsv1.RestorePreview{Server: name, Users: int32(len(users)), UsersToRestore: int32(len(p.need)), Contacts: int32(p.contacts)})
	}
	s.cr.Status.DryRun = previews
	r.complete(s)
	_, msg := restoreSummary(s.cr)
	r.event(s.cr, false, ocsv1.ReasonDryRunCompleted, "Restore", "%s", msg)
	return nil
}

// currentLists exports the lists the users have now on server, by key.
func currentLists(ctx context.Context, agent ocs.Agent, server string, users []restoreUser) (map[string]contacts.Resource, error) {
	sips := make([]string, 0, len(users))
	for _, u := range users {
		sips = append(sips, u.SIP)
	}
	doc, err := agent.ExportContacts(ctx, server, sips)
	if err != nil {
		return nil, fmt.Errorf("reading the users' lists on %s: %w", server, err)
	}
	out := make(map[string]contacts.Resource, len(doc.Resources))
	for _, res := range doc.Resources {
		out[restoreplan.Key(res.UserAtHost)] = res
	}
	return out, nil
}

// claimPool records the start of the restore, which holds the pool's UserHoming operations, then
// looks for a UserHoming operation again: one that started meanwhile wins, and the claim is
// released.
func (r *ContactRestoreReconciler) claimPool(ctx context.Context, s *restoreScope, env *restoreEnv, ts targetSet) (bool, error) {
	cr := s.cr
	cr.Status.StartTime, cr.Status.Pool = toTime(s.now), env.pool.Name
	if err := s.checkpoint(ctx); err != nil {
		return false, err
	}
	cr = s.cr
	if wait, err := r.waitForHomings(ctx, s, env.pool.Name); wait || err != nil {
		cr.Status.StartTime = nil
		if cerr := s.checkpoint(ctx); cerr != nil {
			return false, errors.Join(err, cerr)
		}
		return false, err
	}
	logf.FromContext(ctx).Info("Restoring contacts", "snapshot", cr.Status.Snapshot, "count", ts.users())
	r.event(cr, false, "RestoreStarted", "Restore", "Restoring the contacts of %d users from snapshot %s (%s); UserHoming operations of OCSPool %s wait until it ends.",
		ts.users(), cr.Status.Snapshot, cr.Spec.Mode, env.pool.Name)
	return true, nil
}

// chunkWork is one server's chunk in a pass.
type chunkWork struct {
	server  string
	chunk   []restoreUser
	plan    chunkPlan
	outcome chunkOutcome
}

// restoreChunks runs one chunk per server: read back, mark, import, count.
func (r *ContactRestoreReconciler) restoreChunks(ctx context.Context, s *restoreScope, env *restoreEnv, ts targetSet, wants map[string]contacts.Resource) (ctrl.Result, error) {
	works, err := r.prepareChunks(ctx, s, env, ts, wants)
	if err != nil {
		return ctrl.Result{}, err
	}
	importing := false
	for _, w := range works {
		importing = importing || len(w.plan.need) > 0
	}
	if importing {
		// The marks must be on record before any import runs.
		if err := s.checkpoint(ctx); err != nil {
			return ctrl.Result{}, err
		}
	}
	atOnce(len(works), func(i int) {
		w := &works[i]
		w.outcome.results, w.outcome.importErr = importInBatches(ctx, env.agent, w.server, w.plan.resources)
	})
	if ctx.Err() != nil {
		// Shutting down: the marks stand and the next manager reads the users back.
		return ctrl.Result{}, ctx.Err()
	}
	cr := s.cr
	for _, w := range works {
		p, failures := settleChunk(progressOf(cr.Status.Servers, w.server), w.outcome)
		cr.Status.Servers = setProgress(cr.Status.Servers, p)
		cr.Status.FailedUsers = addFailures(cr.Status.FailedUsers, failures)
	}
	cr.Status.Users = restoreCounts(ts, cr.Status.Servers)
	if !restoreFinished(ts, cr.Status.Servers) {
		return ctrl.Result{RequeueAfter: nextWave}, nil
	}
	r.complete(s)
	_, msg := restoreSummary(cr)
	logf.FromContext(ctx).Info("Restored contacts", "snapshot", cr.Status.Snapshot, "count", cr.Status.Users.Restored)
	r.event(cr, cr.Status.Users.Failed > 0, "ContactsRestored", "Restore", "%s", msg)
	return ctrl.Result{}, nil
}

// prepareChunks chooses each server's chunk, reads its users back and plans the import; the
// chunks that need one get their mark in the status.
func (r *ContactRestoreReconciler) prepareChunks(ctx context.Context, s *restoreScope, env *restoreEnv, ts targetSet, wants map[string]contacts.Resource) ([]chunkWork, error) {
	cr := s.cr
	var works []chunkWork
	for _, name := range ts.servers {
		p := progressOf(cr.Status.Servers, name)
		chunk, resumed := nextChunk(ts.byServer[name], p, restoreChunk)
		if len(chunk) == 0 && p.Importing == nil {
			continue
		}
		w := chunkWork{server: name, chunk: chunk}
		if len(chunk) > 0 {
			var err error
			if w.plan, err = planServerChunk(ctx, env, name, chunk, wants); err != nil {
				return nil, err
			}
			w.outcome.through = chunk[len(chunk)-1].Key
		} else {
			// Its users left the server since the mark was written: nothing to read back.
			w.outcome.through = p.Importing.Through
		}
		w.outcome.complete, w.outcome.need = w.plan.complete, w.plan.need
		w.outcome.unchangedBefore = int32(w.plan.complete)
		if resumed {
			w.outcome.unchangedBefore = p.Importing.Unchanged
		}
		if len(w.plan.need) > 0 {
			attempts := int32(0)
			if p.Importing != nil {
				attempts = p.Importing.Attempts
			}
			p.Importing = &ocsv1.RestoreImport{Through: w.outcome.through, Unchanged: w.outcome.unchangedBefore, Attempts: attempts}
			cr.Status.Servers = setProgress(cr.Status.Servers, p)
		}
		works = append(works, w)
	}
	return works, nil
}

// planServerChunk reads a chunk's copies (unless the verification just read them all) and its
// users' lists now, and plans the import.
func planServerChunk(ctx context.Context, env *restoreEnv, server string, chunk []restoreUser, wants map[string]contacts.Resource) (chunkPlan, error) {
	if wants == nil {
		var problems []backup.Problem
		var err error
		if wants, problems, err = readCopies(ctx, env, chunk); err != nil {
			return chunkPlan{}, err
		}
		if len(problems) > 0 {
			// Verified at the start: the store changed since.
			return chunkPlan{}, fmt.Errorf("snapshot %s changed since it was verified: %s: %w", env.snapshot.Name, problems[0], backup.ErrCorrupt)
		}
	}
	have, err := currentLists(ctx, env.agent, server, chunk)
	if err != nil {
		return chunkPlan{}, err
	}
	return planChunk(chunk, have, wants), nil
}

// importInBatches imports resources into server, restoreImportBatch users per command. Any
// error makes the whole chunk's outcome unknown: the next pass reads its users back.
func importInBatches(ctx context.Context, agent ocs.Agent, server string, resources []contacts.Resource) ([]ocs.ImportResult, error) {
	var results []ocs.ImportResult
	for start := 0; start < len(resources); start += restoreImportBatch {
		batch := resources[start:min(start+restoreImportBatch, len(resources))]
		res, err := agent.ImportContacts(ctx, server, &contacts.Document{Resources: batch})
		if err != nil {
			return nil, fmt.Errorf("importing contacts into %s: %w", server, err)
		}
		results = append(results, res...)
	}
	return results, nil
}
