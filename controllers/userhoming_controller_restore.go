package controllers

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	ocsv1 "github.com/ocsha/ocs-ha-operator/api/v1alpha1"
	"github.com/ocsha/ocs-ha-operator/internal/backup"
	"github.com/ocsha/ocs-ha-operator/internal/contacts"
	"github.com/ocsha/ocs-ha-operator/internal/ocs"
	"github.com/ocsha/ocs-ha-operator/internal/placement"
)

// homingDefaultRecheck applies when the pool's spec.health.probeInterval is empty or invalid.
const homingDefaultRecheck = 10 * time.Second

// startFailover re-checks the sources, pins the snapshot contacts will come from, records the
// operation and runs its first wave.
func (r *UserHomingReconciler) startFailover(ctx context.Context, s *homingScope, from []string) (ctrl.Result, error) {
	from = r.stillDown(ctx, s, from)
	if len(from) == 0 {
		return ctrl.Result{RequeueAfter: homingRecheckInterval(s.pool)}, nil
	}
	downSince := s.now
	for _, name := range from {
		if f := s.fact(name); f != nil && !f.since.IsZero() && f.since.Before(downSince) {
			downSince = f.since
		}
	}
	op := &ocsv1.Operation{
		Type:      ocsv1.OperationFailover,
		ID:        fmt.Sprintf("failover-%d", s.now.UnixMilli()),
		StartTime: metav1.NewTime(s.now),
		Step:      stepMoving,
		From:      from,
		Total:     int32(s.homedOn(from)),
	}
	snap, note := r.pickSnapshot(ctx, s, from, downSince)
	if snap != nil {
		op.Snapshot = snap.Name
		t := metav1.NewTime(snap.Time)
		op.SnapshotTime = &t
	} else {
		op.Message = note
	}
	s.homing.Status.LastOperation = op
	countFailover(s.pool)
	restore := "contacts are restored from snapshot " + op.Snapshot
	if snap == nil {
		restore = note
	}
	r.event(s, false, "FailoverStarted", "Failover", "%s down since %s, longer than spec.failover.delay: force-moving %d users to the serving servers; %s",
		strings.Join(from, ", "), downSince.UTC().Format(time.RFC3339), op.Total, restore)
	logf.FromContext(ctx).Info("Failover started", "From", from, "Total", op.Total, "Snapshot", op.Snapshot)
	return r.continueFailover(ctx, s, op, true)
}

// stillDown asks each source directly whether it answers with every service running, and keeps
// those that do not. The pool status may be stale, and force-moving the users of a server that
// works would strand their contacts for nothing.
func (r *UserHomingReconciler) stillDown(ctx context.Context, s *homingScope, from []string) []string {
	services := s.pool.Spec.Health.Services
	if len(services) == 0 {
		services = []string{ocs.DefaultService}
	}
	var down []string
	for _, name := range from {
		st, err := s.agent.ServiceHealth(ctx, name, services)
		if err == nil && servicesAllRunning(st) {
			s.report.gates[name] = &gateObjection{
				Reason:       ocsv1.ReasonServerAnswering,
				Message:      fmt.Sprintf("OCSPool %s reports server %s down, but it answered with every service running: no user is force-moved.", homingRef(s.pool), name),
				RequeueAfter: homingRecheckInterval(s.pool),
			}
			if c := meta.FindStatusCondition(s.homing.Status.Conditions, ocsv1.ConditionReady); c == nil || c.Reason != ocsv1.ReasonServerAnswering {
				r.event(s, true, ocsv1.ReasonServerAnswering, "Failover", "Server %s answered a direct check with every service running; no user is force-moved.", name)
			}
			continue
		}
		down = append(down, name)
	}
	return down
}

func servicesAllRunning(st []ocs.ServiceStatus) bool {
	for _, s := range st {
		if !s.Running {
			return false
		}
	}
	return len(st) > 0
}

func homingRecheckInterval(pool *ocsv1.OCSPool) time.Duration {
	if d, err := time.ParseDuration(pool.Spec.Health.ProbeInterval); err == nil && d > 0 {
		return d
	}
	return homingDefaultRecheck
}

// continueFailover runs one wave of forced moves, then the restore passes, then completes.
// checked says the sources were just re-checked by startFailover.
func (r *UserHomingReconciler) continueFailover(ctx context.Context, s *homingScope, op *ocsv1.Operation, checked bool) (ctrl.Result, error) {
	s.report.running = op
	if op.Step == stepMoving {
		// Only sources that still pass the gate are evacuated: one that came back keeps its users
		// (and their contacts), and the restore covers those already moved.
		evacuate := map[string]bool{}
		for _, name := range op.From {
			if f := s.fact(name); f != nil && f.down() && s.report.gates[name] == nil {
				evacuate[name] = true
			}
		}
		plan := s.plan(evacuate, false, -1)
		s.recordPlan(plan)
		op.Moved = clampCount(op.Total-int32(s.homedOn(op.From)), 0, op.Total)
		op.Forced = op.Moved
		wave := selectWave(plan.Batches, func(b placement.Batch) bool { return b.Forced && evacuate[b.From] }, batchesPerPass)
		if len(wave) > 0 {
			if !checked && op.Moved == 0 && op.BatchesDone == 0 {
				// A resumed failover that never moved anybody: the source may be back.
				var sources []string
				for name := range evacuate {
					sources = append(sources, name)
				}
				sort.Strings(sources)
				if len(r.stillDown(ctx, s, sources)) < len(sources) {
					r.finishFailover(s, op, "Aborted before the first forced move: a source answered a direct check.")
					return ctrl.Result{RequeueAfter: homingRecheckInterval(s.pool)}, nil
				}
			}
			key := restoreCacheKey(s, op)
			if op.Moved == 0 {
				// Nobody has moved yet: every forced move of this failover happens here.
				r.forcedHere.start(key)
			}
			res, err := r.runWave(ctx, s, op, wave)
			r.forcedHere.add(key, res.moved, res.uncertain || err != nil)
			if err != nil {
				return ctrl.Result{}, err
			}
			op.Moved = clampCount(op.Moved+int32(res.ok), 0, op.Total)
			op.Forced = op.Moved
			return r.afterWave(s, op, res), nil
		}
		r.event(s, false, "UsersForceMoved", "Failover", "%d users force-moved off %s; their contacts stayed on the dead server.", op.Forced, strings.Join(op.From, ", "))
		op.Step = stepRestoring
		op.Failed, op.FailedPasses, op.FailureDigest = 0, 0, ""
	}

	if op.Step == stepRestoring {
		s.recordPlan(s.plan(nil, false, -1))
	}
	done, res, err := r.restorePass(ctx, s, op)
	if err != nil || !done {
		return res, err
	}
	msg := op.Message
	if op.Snapshot != "" {
		msg = fmt.Sprintf("%d users force-moved, contacts of %d users restored from snapshot %s.", op.Forced, op.ContactsRestored, op.Snapshot)
	}
	r.event(s, false, "ContactsRestored", "Restore", "%s", msg)
	r.finishFailover(s, op, msg)
	return ctrl.Result{RequeueAfter: nextWave}, nil
}

// finishFailover completes a failover (its events are UsersForceMoved and ContactsRestored).
func (r *UserHomingReconciler) finishFailover(s *homingScope, op *ocsv1.Operation, message string) {
	r.filled.drop(restoreCacheKey(s, op))
	r.forcedHere.drop(restoreCacheKey(s, op))
	op.Message = ""
	r.finish(s, op, message)
}

// pickSnapshot chooses the snapshot contacts are restored from: the newest one taken at or before
// the sources went down that holds every source (a snapshot taken while a source was down skipped
// it). nil and a sentence saying why when there is none.
func (r *UserHomingReconciler) pickSnapshot(ctx context.Context, s *homingScope, from []string, before time.Time) (*backup.Manifest, string) {
	repo, note := r.restoreRepository(ctx, s)
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

// restoreRepository opens the repository of spec.contactRestore.backupRef; nil and a sentence
// saying why when there is none.
func (r *UserHomingReconciler) restoreRepository(ctx context.Context, s *homingScope) (*backup.Repository, string) {
	ref := s.homing.Spec.ContactRestore.BackupRef
	if ref == nil {
		return nil, "Contacts were not restored: spec.contactRestore.backupRef is not set."
	}
	cb := &ocsv1.ContactBackup{}
	err := r.Get(ctx, types.NamespacedName{Namespace: s.homing.Namespace, Name: ref.Name}, cb)
	if apierrors.IsNotFound(err) {
		return nil, fmt.Sprintf("Contacts were not restored: ContactBackup %s/%s (spec.contactRestore.backupRef) does not exist.", s.homing.Namespace, ref.Name)
	}
	if err != nil {
		return nil, fmt.Sprintf("Contacts were not restored: ContactBackup %s/%s could not be read: %v", s.homing.Namespace, ref.Name, err)
	}
	repo, err := openRepository(cb)
	if err != nil {
		return nil, fmt.Sprintf("Contacts were not restored: %v", err)
	}
	return repo, ""
}

// emptyResource: nothing of the user's homed data is there. A force-moved user arrives so.
func emptyHomedData(r contacts.Resource) bool {
	return len(r.Contacts) == 0 && len(r.Groups) == 0 && len(r.Containers) == 0
}

// restoreBatch is one import: users of the restore set homed on server.
type restoreBatch struct {
	server string
	sips   []string
}

// restorePass runs one wave of contact imports. The set to restore is derived from reality, not
// stored: users of the pinned snapshot whose home then was a source of the failover, who are now
// homed on a serving server and whose contact list there is empty. A user restored already, or
// who made new contacts since the move, has a non-empty list and is never overwritten; so a
// resumed pass neither restores twice nor clobbers newer data. done is true when nobody is left.
func (r *UserHomingReconciler) restorePass(ctx context.Context, s *homingScope, op *ocsv1.Operation) (bool, ctrl.Result, error) {
	if op.Snapshot == "" {
		return true, ctrl.Result{}, nil
	}
	repo, note := r.restoreRepository(ctx, s)
	if repo == nil {
		op.Message = note
		return true, ctrl.Result{}, nil
	}
	ms, listErr := repo.List(ctx)
	if len(ms) == 0 && listErr != nil {
		return false, ctrl.Result{}, fmt.Errorf("listing the snapshots of ContactBackup %s/%s: %w", s.homing.Namespace, s.homing.Spec.ContactRestore.BackupRef.Name, listErr)
	}
	notAfter := s.now
	if op.SnapshotTime != nil {
		notAfter = op.SnapshotTime.Time
	}
	var pinned *backup.Manifest
	for _, m := range ms {
		if m.Name == op.Snapshot {
			pinned = m
			break
		}
	}
	if pinned == nil {
		// Pruned since the failover started: the newest one not newer stands in for it.
		for _, m := range ms {
			if !m.Time.After(notAfter) {
				pinned = m
				break
			}
		}
	}
	if pinned == nil {
		op.Message = fmt.Sprintf("Contacts were not restored: snapshot %s is gone and no older one exists.", op.Snapshot)
		return true, ctrl.Result{}, nil
	}
	// status.lastOperation.snapshotTime has whole seconds only; the manifest's time is exact.
	notAfter = pinned.Time
	table, err := repo.Users(ctx, pinned)
	if err != nil {
		return false, ctrl.Result{}, fmt.Errorf("reading the user table of snapshot %s: %w", pinned.Name, err)
	}

	sources := map[string]bool{}
	for _, name := range op.From {
		sources[name] = true
	}
	candidates := map[string][]string{} // target -> directory SIPs, sorted
	for _, u := range s.users {
		e, ok := table[snapshotKey(u.SIP)]
		if !ok || !sources[e.Server] {
			continue
		}
		if f := s.fact(u.Server); f == nil || !f.serving() {
			continue
		}
		candidates[u.Server] = append(candidates[u.Server], u.SIP)
	}
	targets := make([]string, 0, len(candidates))
	for t := range candidates {
		targets = append(targets, t)
		sort.Slice(candidates[t], func(i, j int) bool { return snapshotKey(candidates[t][i]) < snapshotKey(candidates[t][j]) })
	}
	sort.Strings(targets)

	// Whose list is still empty: a user this manager force-moved in this failover arrived with
	// an empty list, and nobody else is to be restored; otherwise (a restarted manager, a batch
	// whose outcome was lost) one export per target tells. This manager then keeps that
	// knowledge for the rest of the operation; a restarted one looks afresh.
	cacheKey := restoreCacheKey(s, op)
	filled, cached := r.filled.get(cacheKey) // snapshotKey -> has data on its home
	if !cached {
		if moved, complete := r.forcedHere.get(cacheKey); complete {
			for _, t := range targets {
				for _, sip := range candidates[t] {
					if !moved[snapshotKey(sip)] {
						filled[snapshotKey(sip)] = true
					}
				}
			}
			cached = true
		}
	}
	if !cached {
		for _, t := range targets {
			doc, err := s.agent.ExportContacts(ctx, t, nil)
			if err != nil {
				return false, ctrl.Result{}, fmt.Errorf("exporting the contacts on %s to find the users left to restore: %w", t, err)
			}
			for _, res := range doc.Resources {
				if !emptyHomedData(res) {
					filled[snapshotKey(res.UserAtHost)] = true
				}
			}
		}
	}

	// Imports of a pass that died before its status write: their users that have data now were
	// restored by it.
	for _, m := range op.PendingRestores {
		n := 0
		for _, sip := range candidates[m.Server] {
			k := snapshotKey(sip)
			if k >= snapshotKey(m.FirstUser) && k <= snapshotKey(m.LastUser) && filled[k] {
				n++
			}
		}
		op.ContactsRestored += int32(n)
		countContactsRestored(s.pool, n)
	}
	op.PendingRestores = nil

	batchSize := int(s.homing.Spec.MoveBatchSize)
	if batchSize <= 0 {
		batchSize = placement.DefaultBatchSize
	}
	// Fill up to importBatchesPerPass(targets) imports per target with users whose contacts can be
	// read; a user with no readable copy in any snapshot is a failure, but must not hold back the
	// others.
	perTarget := importBatchesPerPass(len(targets))
	var (
		wave     []restoreBatch
		docs     []*contacts.Document
		failures []moveFailure
		corrupt  = map[string]bool{}
	)
	for _, t := range targets {
		var cur *restoreBatch
		var doc *contacts.Document
		batches := 0
		for _, sip := range candidates[t] {
			if filled[snapshotKey(sip)] {
				continue
			}
			if cur == nil || len(cur.sips) == batchSize {
				if batches == perTarget {
					break
				}
				wave = append(wave, restoreBatch{server: t})
				docs = append(docs, &contacts.Document{})
				cur, doc = &wave[len(wave)-1], docs[len(docs)-1]
				batches++
			}
			data, _, skipped, err := repo.NewestIn(ctx, ms, snapshotKey(sip), notAfter)
			for _, sk := range skipped {
				corrupt[sk.Name] = true
			}
			if errors.Is(err, backup.ErrNotFound) {
				failures = append(failures, moveFailure{sip: sip, message: "no snapshot holds a readable copy of the user's contacts"})
				continue
			}
			if err != nil {
				return false, ctrl.Result{}, fmt.Errorf("reading the contacts of %s from ContactBackup %s/%s: %w", sip, s.homing.Namespace, s.homing.Spec.ContactRestore.BackupRef.Name, err)
			}
			res, err := contacts.UnmarshalResource(data)
			if err != nil {
				failures = append(failures, moveFailure{sip: sip, message: err.Error()})
				continue
			}
			if emptyHomedData(res) {
				// Nothing to restore; importing it would leave the list empty and the user would
				// look unrestored at every pass.
				continue
			}
			// The import addresses the user as the directory spells it.
			res.UserAtHost = strings.TrimPrefix(strings.TrimPrefix(sip, "sip:"), "SIP:")
			doc.Resources = append(doc.Resources, res)
			cur.sips = append(cur.sips, sip)
		}
	}
	if len(corrupt) > 0 {
		names := make([]string, 0, len(corrupt))
		for n := range corrupt {
			names = append(names, n)
		}
		sort.Strings(names)
		r.event(s, true, "CorruptSnapshot", "Restore", "Snapshots %s hold corrupt copies of some users' contacts; older snapshots were used for them.", strings.Join(names, ", "))
	}
	readable := 0
	for _, b := range wave {
		readable += len(b.sips)
	}
	if readable == 0 {
		// Everyone left has no readable copy: nothing more can be restored.
		op.Failed = int32(len(failures))
		if len(failures) > 0 {
			op.Message = describeHomingFailures(failures, "contact restore")
			r.event(s, true, "MovesFailed", "Restore", "%s", op.Message)
		}
		return true, ctrl.Result{}, nil
	}

	for _, b := range wave {
		if len(b.sips) > 0 {
			op.PendingRestores = append(op.PendingRestores, ocsv1.RestoreMark{Server: b.server, FirstUser: b.sips[0], LastUser: b.sips[len(b.sips)-1]})
		}
	}
	if len(op.PendingRestores) > 0 {
		op.Step = stepRestoring
		if err := r.commit(ctx, s); err != nil {
			return false, ctrl.Result{}, err
		}
	}

	type outcome struct {
		results []ocs.ImportResult
		err     error
	}
	outcomes := make([]outcome, len(wave))
	var wg sync.WaitGroup
	for i, b := range wave {
		if len(b.sips) == 0 {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := s.agent.ImportContacts(ctx, b.server, docs[i])
			outcomes[i] = outcome{results: res, err: err}
		}()
	}
	wg.Wait()
	if ctx.Err() != nil {
		// Shutting down: the marks are committed and the next manager counts what was imported.
		return false, ctrl.Result{}, ctx.Err()
	}
	ok, unknown := 0, false
	for i, o := range outcomes {
		if o.err != nil {
			// The import may have run: only a fresh export can tell.
			unknown = true
			for _, sip := range wave[i].sips {
				failures = append(failures, moveFailure{sip: sip, message: o.err.Error()})
			}
			continue
		}
		for _, res := range o.results {
			if res.OK {
				ok++
				filled[snapshotKey(res.SIP)] = true
			} else {
				failures = append(failures, moveFailure{sip: res.SIP, message: res.Message})
			}
		}
	}
	if unknown {
		r.filled.drop(cacheKey)
	} else {
		r.filled.put(cacheKey, filled)
	}
	op.ContactsRestored += int32(ok)
	op.PendingRestores = nil
	countContactsRestored(s.pool, ok)
	r.recordFailures(s, op, failures, "contact restore")
	if len(failures) > 0 {
		return false, ctrl.Result{RequeueAfter: min(failureBackoff*time.Duration(op.FailedPasses), maxFailureBackoff)}, nil
	}
	return false, ctrl.Result{RequeueAfter: nextWave}, nil
}

// importBatchesPerPass is how many import batches one restore pass prepares per target. Every
// pass starts with a full export of each target (the guard against restoring twice), so a pass
// imports several batches to spread that cost; the WinRM pool still runs at most its per-server
// limit at once. The pending marks of one pass must fit status.lastOperation.pendingRestores.
func importBatchesPerPass(targets int) int {
	const (
		most               = 16
		maxPendingRestores = 64 // +kubebuilder:validation:MaxItems of Operation.PendingRestores
	)
	if targets <= 0 {
		return most
	}
	return max(1, min(most, maxPendingRestores/targets))
}

// filledCache remembers, per running failover, whose contact list this manager saw filled or
// filled itself, so that each restore pass need not export every target again. It is only a
// shortcut: a restarted manager starts empty and reads the servers, the truth, afresh.
type filledCache struct {
	mu   sync.Mutex
	byOp map[string]map[string]bool
}

// get returns a copy of the set of op, or an empty set and false.
func (c *filledCache) get(op string) (map[string]bool, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	set, ok := c.byOp[op]
	out := make(map[string]bool, len(set))
	for k := range set {
		out[k] = true
	}
	return out, ok
}

func (c *filledCache) put(op string, set map[string]bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.byOp == nil {
		c.byOp = map[string]map[string]bool{}
	}
	c.byOp[op] = set
}

func (c *filledCache) drop(op string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.byOp, op)
}

func restoreCacheKey(s *homingScope, op *ocsv1.Operation) string {
	return string(s.homing.UID) + "/" + op.ID
}

// forcedCache remembers, per failover, the users this manager force-moved, and whether it did
// every forced move of that failover with every outcome known. Only then may the restore trust
// it instead of exporting the survivors: a user it force-moved arrived with an empty list.
type forcedCache struct {
	mu   sync.Mutex
	byOp map[string]*forcedMoves
}

type forcedMoves struct {
	complete bool
	users    map[string]bool // snapshotKey
}

// start begins the record of a failover whose forced moves all happen in this manager.
func (c *forcedCache) start(op string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.byOp == nil {
		c.byOp = map[string]*forcedMoves{}
	}
	if c.byOp[op] == nil {
		c.byOp[op] = &forcedMoves{complete: true, users: map[string]bool{}}
	}
}

// add records moved users; uncertain (a batch whose outcome is unknown) spoils the record.
func (c *forcedCache) add(op string, moved []string, uncertain bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	f := c.byOp[op]
	if f == nil {
		return
	}
	if uncertain {
		f.complete = false
	}
	for _, sip := range moved {
		f.users[snapshotKey(sip)] = true
	}
}

// get returns a copy of the users force-moved here and whether the record is complete.
func (c *forcedCache) get(op string) (map[string]bool, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	f := c.byOp[op]
	if f == nil || !f.complete {
		return nil, false
	}
	out := make(map[string]bool, len(f.users))
	for k := range f.users {
		out[k] = true
	}
	return out, true
}

func (c *forcedCache) drop(op string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.byOp, op)
}
