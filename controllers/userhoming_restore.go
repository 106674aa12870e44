package controllers

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sort"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"

	ocsv1 "github.com/ocsha/ocs-ha-operator/api/v1alpha1"
	"github.com/ocsha/ocs-ha-operator/internal/backup"
	"github.com/ocsha/ocs-ha-operator/internal/contacts"
	"github.com/ocsha/ocs-ha-operator/internal/ocs"
	"github.com/ocsha/ocs-ha-operator/internal/restoreplan"
)

// The restore step of a failover. Whom to restore is derived from reality at every pass, never
// stored (internal/restoreplan decides it): a user restored already, or who made new contacts
// since the move, holds data and is never overwritten, so a resumed pass neither restores twice
// nor clobbers newer data. Before its imports a pass writes their marks in a checkpoint, so that
// the next pass counts the imports a crash kept from being counted.

// maxPendingRestores is the bound of status.lastOperation.pendingRestores (its
// +kubebuilder:validation:MaxItems).
const maxPendingRestores = 64

// restoreWave runs one wave of contact imports. It hands over to the next step once nothing is
// left to restore.
func (r *UserHomingReconciler) restoreWave(ctx context.Context, s *homingScope) (ctrl.Result, error) {
	op := s.op()
	if op.Step == stepRestoring {
		s.recordPlan(s.plan(nil, false, -1))
	}
	if op.Snapshot == "" {
		s.restoreEnd = &restoreOutcome{notRestored: int(op.Forced), note: op.Message}
		return ctrl.Result{}, nil
	}
	src, err := r.openRestoreSource(ctx, s)
	if err != nil {
		return ctrl.Result{}, err
	}
	if src == nil {
		s.restoreEnd = &restoreOutcome{notRestored: int(op.Forced - op.ContactsRestored), note: s.op().Message}
		return ctrl.Result{}, nil
	}
	rp, err := r.prepareImports(ctx, s, src)
	if err != nil {
		return ctrl.Result{}, err
	}
	if rp.wave.Done() || (rp.wave.Pending == 0 && refusedAgain(op, rp.wave)) {
		if down := restoreWaitsOn(rp.plan.Waiting, s.homes(), op.From, s.serverAnswers); len(down) > 0 {
			// Their contacts are not restored, or went down with the server: the failover waits
			// until it answers, or a failover of it takes over.
			s.report.restoreWaitsOn = down
			return ctrl.Result{RequeueAfter: s.pool.recheckInterval()}, nil
		}
		r.restoreDone(s, rp.wave)
		return ctrl.Result{}, nil
	}
	rp.markPending(op)
	op.Step = stepRestoring
	if err := s.checkpoint(ctx); err != nil {
		return ctrl.Result{}, err
	}
	rp.run(ctx, s.agent)
	if ctx.Err() != nil {
		// Shutting down: the marks are in the checkpoint and the next manager counts what was
		// imported.
		return ctrl.Result{}, ctx.Err()
	}
	failures := r.tallyImports(s, rp)
	r.recordFailures(s, failures, "contact restore")
	return failureRequeue(s.op(), len(failures)), nil
}

// importPass is the imports one pass prepared, and, once run, their outcomes.
type importPass struct {
	plan     restoreplan.Plan
	wave     restoreplan.Wave
	outcomes []importOutcome
	// basis is the state of the process's memory the pass planned from.
	basis restoreplan.Basis
}

// prepareImports plans the imports of a pass: it counts what the pending marks of a pass that
// died before its status write imported (their users that hold data now were restored by it),
// clears the marks and fills a wave.
func (r *UserHomingReconciler) prepareImports(ctx context.Context, s *homingScope, src *restoreSource) (*importPass, error) {
	basis := r.restores.Basis(homingKey(s, s.op()))
	plan, err := r.planRestore(ctx, s, src)
	if err != nil {
		return nil, err
	}
	op := s.op()
	op.ContactsRestored += int32(plan.Settled)
	countContactsRestored(s.pool.pool, plan.Settled)
	op.PendingRestores = nil
	wave, err := plan.Fill(src.reader(ctx))
	if err != nil {
		return nil, err
	}
	r.reportCorrupt(s, src)
	return &importPass{plan: plan, wave: wave, basis: basis}, nil
}

// markPending records the marks of the wave's imports in op, to be written by the checkpoint
// before they run.
func (rp *importPass) markPending(op *ocsv1.Operation) {
	for _, b := range rp.wave.Batches {
		m := b.Mark()
		op.PendingRestores = append(op.PendingRestores, ocsv1.RestoreMark{Server: m.Server, FirstUser: m.First, LastUser: m.Last})
	}
}

// run runs the wave's imports at once (the WinRM pool bounds them per server).
func (rp *importPass) run(ctx context.Context, agent ocs.Agent) {
	rp.outcomes = make([]importOutcome, len(rp.wave.Batches))
	atOnce(len(rp.wave.Batches), func(i int) {
		b := rp.wave.Batches[i]
		res, err := agent.ImportContacts(ctx, b.Server, &contacts.Document{Resources: b.Resources})
		rp.outcomes[i] = importOutcome{results: res, err: err}
	})
}

// restoreSource is the snapshot a failover restores from, with the older ones that stand in for
// a user whose copy in it is corrupt.
type restoreSource struct {
	repo      *backup.Repository
	snapshots []*backup.Manifest
	pinned    *backup.Manifest
	table     map[string]backup.UserEntry
	ref       string
	// corrupt names the snapshots passed over because a user's copy in them is corrupt.
	corrupt map[string]bool
}

// openRestoreSource opens the pinned snapshot of the running failover. nil without an error
// means that nothing can be restored; status.lastOperation.message then says why.
func (r *UserHomingReconciler) openRestoreSource(ctx context.Context, s *homingScope) (*restoreSource, error) {
	op := s.op()
	repo, note, err := r.restoreRepository(ctx, s)
	if err != nil {
		r.storeMissing(s, s.homing.Namespace+"/"+s.homing.Spec.ContactRestore.BackupRef.Name)
		return nil, err
	}
	if repo == nil {
		op.Message = note
		return nil, nil
	}
	ref := s.homing.Namespace + "/" + s.homing.Spec.ContactRestore.BackupRef.Name
	ms, listErr := repo.List(ctx)
	if len(ms) == 0 && listErr != nil {
		return nil, fmt.Errorf("listing the snapshots of ContactBackup %s: %w", ref, listErr)
	}
	if len(ms) == 0 {
		// The snapshot was there when the failover pinned it: a store that holds nothing now
		// was lost (a volume not mounted, a directory re-created empty). Retried, never success.
		r.storeMissing(s, ref)
		return nil, fmt.Errorf("ContactBackup %s holds no snapshot although the failover pinned %s: %w", ref, op.Snapshot, errStoreMissing)
	}
	pinned := pinnedSnapshot(ms, op, s)
	if pinned == nil {
		op.Message = fmt.Sprintf("Contacts were not restored: snapshot %s is gone and no older one exists.", op.Snapshot)
		return nil, nil
	}
	table, err := repo.Users(ctx, pinned)
	if err != nil {
		return nil, fmt.Errorf("reading the user table of snapshot %s of ContactBackup %s: %w", pinned.Name, ref, err)
	}
	return &restoreSource{repo: repo, snapshots: ms, pinned: pinned, table: table, ref: ref, corrupt: map[string]bool{}}, nil
}

// pinnedSnapshot finds the failover's snapshot; when it was pruned since, the newest one not
// newer stands in for it.
func pinnedSnapshot(ms []*backup.Manifest, op *ocsv1.Operation, s *homingScope) *backup.Manifest {
	for _, m := range ms {
		if m.Name == op.Snapshot {
			return m
		}
	}
	notAfter := s.now
	if op.SnapshotTime != nil {
		notAfter = op.SnapshotTime.Time
	}
	for _, m := range ms {
		if !m.Time.After(notAfter) {
			return m
		}
	}
	return nil
}

// reader reads a user's newest readable copy at or before the pinned snapshot (the pinned time is
// exact; status.lastOperation.snapshotTime has whole seconds only).
func (src *restoreSource) reader(ctx context.Context) restoreplan.Reader {
	return func(sip string) (restoreplan.Copy, error) {
		data, _, skipped, err := src.repo.NewestIn(ctx, src.snapshots, restoreplan.Key(sip), src.pinned.Time)
		for _, sk := range skipped {
			src.corrupt[sk.Name] = true
		}
		if errors.Is(err, backup.ErrNotFound) {
			return restoreplan.Copy{Unreadable: "no snapshot holds a readable copy of the user's contacts"}, nil
		}
		if err != nil {
			return restoreplan.Copy{}, fmt.Errorf("reading the contacts of %s from ContactBackup %s: %w", sip, src.ref, err)
		}
		res, err := contacts.UnmarshalResource(data)
		if err != nil {
			return restoreplan.Copy{Unreadable: err.Error()}, nil
		}
		return restoreplan.Copy{Resource: res}, nil
	}
}

// planRestore computes the candidates of this pass. Who holds data already comes from this
// process's memory of the failover, else from one export per target.
func (r *UserHomingReconciler) planRestore(ctx context.Context, s *homingScope, src *restoreSource) (restoreplan.Plan, error) {
	op := s.op()
	in := restoreplan.Input{
		Snapshot:  src.table,
		Sources:   op.From,
		Serving:   s.pool.servingNames(),
		BatchSize: int(s.homing.Spec.MoveBatchSize),
		MaxMarks:  maxPendingRestores,
	}
	for _, u := range s.users {
		in.Directory = append(in.Directory, restoreplan.User{SIP: u.SIP, Home: u.Server})
	}
	for _, m := range op.PendingRestores {
		in.Pending = append(in.Pending, restoreplan.Mark{Server: m.Server, First: m.FirstUser, Last: m.LastUser})
	}
	holds, known := r.restores.Holds(homingKey(s, op))
	if !known {
		var err error
		if holds, err = exportHoldings(ctx, s.agent, restoreplan.Compute(in).Targets); err != nil {
			return restoreplan.Plan{}, err
		}
	}
	in.Holds = holds
	return restoreplan.Compute(in), nil
}

// exportHoldings exports every target and returns who holds contact data on it.
func exportHoldings(ctx context.Context, agent ocs.Agent, targets []string) (func(string) bool, error) {
	filled := map[string]bool{}
	for _, t := range targets {
		doc, err := agent.ExportContacts(ctx, t, nil)
		if err != nil {
			return nil, fmt.Errorf("finding the users left to restore: %w", err)
		}
		for _, res := range doc.Resources {
			if !restoreplan.Empty(res) {
				filled[restoreplan.Key(res.UserAtHost)] = true
			}
		}
	}
	return func(k string) bool { return filled[k] }, nil
}

// reportCorrupt raises a Warning naming the snapshots that held corrupt copies.
func (r *UserHomingReconciler) reportCorrupt(s *homingScope, src *restoreSource) {
	if len(src.corrupt) == 0 {
		return
	}
	names := make([]string, 0, len(src.corrupt))
	for n := range src.corrupt {
		names = append(names, n)
	}
	sort.Strings(names)
	r.event(s, true, "CorruptSnapshot", "Restore", "Snapshots %s hold corrupt copies of some users' contacts; older snapshots were used for them.", strings.Join(names, ", "))
}

// restoreOutcome is how a failover's restore ended: the users left without their contacts.
type restoreOutcome struct {
	// failures name the users without restored contacts, when they are known by name.
	failures []moveFailure
	// notRestored counts the users without restored contacts.
	notRestored int
	// note says why nobody was restored (no snapshot, no ContactBackup), when that is the case.
	note string
	// unnamed names, by key, the users without restored contacts when failures cannot (nothing
	// was read from a snapshot); unnamedKnown says whether the names are known at all.
	unnamed      []string
	unnamedKnown bool
}

// refusedAgain reports that the only users left to import are those whose imports were refused
// (or had no readable copy) in stalledAfter passes in a row: they are reported and the restore
// ends for everyone else.
func refusedAgain(op *ocsv1.Operation, wave restoreplan.Wave) bool {
	var left []string
	for _, b := range wave.Batches {
		left = append(left, b.SIPs...)
	}
	for _, f := range wave.Failed() {
		left = append(left, f.SIP)
	}
	return givenUp(op, left)
}

// restoreDone records the end of the restore: whoever is left has no readable copy, or had its
// import refused pass after pass.
func (r *UserHomingReconciler) restoreDone(s *homingScope, wave restoreplan.Wave) {
	op := s.op()
	failures := readFailures(wave)
	for _, b := range wave.Batches {
		for _, sip := range b.SIPs {
			failures = append(failures, moveFailure{sip: sip, message: fmt.Sprintf("its import failed in %d passes in a row", stalledAfter)})
		}
	}
	op.Failed = int32(len(failures))
	s.restoreEnd = &restoreOutcome{failures: failures, notRestored: len(failures)}
}

// readFailures are the users of a wave without a readable copy.
func readFailures(wave restoreplan.Wave) []moveFailure {
	var out []moveFailure
	for _, f := range wave.Failed() {
		out = append(out, moveFailure{sip: f.SIP, message: f.Detail})
	}
	return out
}

// importOutcome is what one import batch gave.
type importOutcome struct {
	results []ocs.ImportResult
	err     error
}

// tallyImports counts the imports of a pass and remembers who holds data now; it returns the
// users not confirmed restored. The mark of a batch whose outcome is unknown stays, so that the
// next pass counts what it did.
func (r *UserHomingReconciler) tallyImports(s *homingScope, rp *importPass) []moveFailure {
	t := countImports(rp)
	op := s.op()
	op.PendingRestores = t.unknown
	r.applyTally(s, t)
	return t.failures
}

// importTally is what the imports of one importPass did.
type importTally struct {
	ok       int
	filled   map[string]bool // the users known to hold data once they ran
	unknown  []ocsv1.RestoreMark
	failures []moveFailure
	basis    restoreplan.Basis
}

// countImports sums the outcomes of rp's imports.
func countImports(rp *importPass) importTally {
	t := importTally{filled: make(map[string]bool, len(rp.plan.Holding)), basis: rp.basis}
	for k := range rp.plan.Holding {
		t.filled[k] = true
	}
	// A user without a readable copy fails as much as one whose import failed.
	t.failures = readFailures(rp.wave)
	for i, o := range rp.outcomes {
		b := rp.wave.Batches[i]
		batchFailures := importFailures(b, o)
		if len(batchFailures) > 0 {
			// The import may have run for some of them (a reply lost in part or whole): the mark
			// stays, and the next pass counts, from a fresh export, every user of the batch that
			// holds data. Counting the confirmed ones now as well would count them twice.
			m := b.Mark()
			t.unknown = append(t.unknown, ocsv1.RestoreMark{Server: m.Server, FirstUser: m.First, LastUser: m.Last})
			t.failures = append(t.failures, batchFailures...)
			continue
		}
		for _, res := range o.results {
			t.ok++
			t.filled[restoreplan.Key(res.SIP)] = true
		}
	}
	return t
}

// applyTally counts t's restored users and tells the memory what they showed.
func (r *UserHomingReconciler) applyTally(s *homingScope, t importTally) {
	op := s.op()
	if key := homingKey(s, op); len(t.unknown) > 0 {
		r.restores.Spoil(key)
	} else {
		r.restores.Remember(key, t.filled, t.basis)
	}
	op.ContactsRestored += int32(t.ok)
	countContactsRestored(s.pool.pool, t.ok)
}

// importFailures are the users of one import batch that are not confirmed imported.
func importFailures(b restoreplan.Batch, o importOutcome) []moveFailure {
	var out []moveFailure
	if o.err != nil {
		for _, sip := range b.SIPs {
			out = append(out, moveFailure{sip: sip, message: describeCommandError(o.err)})
		}
		return out
	}
	confirmed := map[string]bool{}
	for _, res := range o.results {
		if res.OK {
			confirmed[restoreplan.Key(res.SIP)] = true
		} else {
			out = append(out, moveFailure{sip: res.SIP, message: res.Message})
		}
	}
	for _, sip := range b.SIPs {
		if !confirmed[restoreplan.Key(sip)] && !hasFailure(out, sip) {
			out = append(out, moveFailure{sip: sip, message: "the server reported no result for this user"})
		}
	}
	return out
}

func hasFailure(fs []moveFailure, sip string) bool {
	for _, f := range fs {
		if restoreplan.Key(f.sip) == restoreplan.Key(sip) {
			return true
		}
	}
	return false
}

// restoreRepository opens the repository of spec.contactRestore.backupRef; nil and a sentence
// saying why when there is none. A filesystem store whose directory is gone is an error
// (errStoreMissing): opening it would re-create it empty.
func (r *UserHomingReconciler) restoreRepository(ctx context.Context, s *homingScope) (*backup.Repository, string, error) {
	ref := s.homing.Spec.ContactRestore.BackupRef
	if ref == nil {
		return nil, "Contacts were not restored: spec.contactRestore.backupRef is not set.", nil
	}
	cb := &ocsv1.ContactBackup{}
	err := r.Get(ctx, types.NamespacedName{Namespace: s.homing.Namespace, Name: ref.Name}, cb)
	if apierrors.IsNotFound(err) {
		return nil, fmt.Sprintf("Contacts were not restored: ContactBackup %s/%s (spec.contactRestore.backupRef) does not exist.", s.homing.Namespace, ref.Name), nil
	}
	if err != nil {
		return nil, fmt.Sprintf("Contacts were not restored: ContactBackup %s/%s could not be read: %v", s.homing.Namespace, ref.Name, err), nil
	}
	if p := cb.Spec.Storage.Path; cb.Spec.Storage.S3 == nil && p != "" {
		if _, err := os.Stat(p); errors.Is(err, fs.ErrNotExist) {
			// Opening would re-create it empty and every user would get an empty list.
			note := fmt.Sprintf("Contacts were not restored: spec.storage.path of ContactBackup %s/%s does not exist.", cb.Namespace, cb.Name)
			return nil, note, fmt.Errorf("spec.storage.path of ContactBackup %s/%s does not exist: %w", cb.Namespace, cb.Name, errStoreMissing)
		}
	}
	repo, err := openRepository(ctx, r.Secrets, cb)
	if err != nil {
		return nil, fmt.Sprintf("Contacts were not restored: %v", err), nil
	}
	return repo, "", nil
}

// errStoreMissing: the backup store of a running restore holds nothing, or is gone.
var errStoreMissing = errors.New("the backup store is missing")

// storeMissing raises, once per failover, a Warning that its backup store is missing.
func (r *UserHomingReconciler) storeMissing(s *homingScope, ref string) {
	op := s.op()
	msg := fmt.Sprintf("Contacts are not restored: the store of ContactBackup %s is missing or empty, and the failover's snapshot %s was in it; the restore waits for it to come back.", ref, op.Snapshot)
	if op.Message != msg {
		op.Message = msg
		r.event(s, true, "RestoreStoreMissing", "Restore", "%s", msg)
	}
}
