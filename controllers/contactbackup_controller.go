package controllers

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/robfig/cron/v3"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	ocsv1 "github.com/ocsha/ocs-ha-operator/api/v1alpha1"
)

// ContactBackupReconciler reconciles a ContactBackup: it takes scheduled snapshots and applies retention.
type ContactBackupReconciler struct {
	client.Client
	Agents   AgentProvider
	Clock    clock.Clock
	Recorder events.EventRecorder
	// APIReader reads ContactBackups straight from the API server; nil means the client.
	APIReader client.Reader
	// Secrets reads the S3 credentials and CA Secrets (Options.Secrets).
	Secrets client.Reader
	// RunTimeout bounds one backup run; zero means 10 minutes.
	RunTimeout time.Duration
	// FullBackupEvery turns incremental runs on: a run exports only the users the directory
	// shows added or moved since the newest snapshot, and a full run happens at least this
	// often (contactbackup_controller_scope.go says what an incremental run misses). Zero: every
	// run is full.
	FullBackupEvery time.Duration

	// storageChecks holds, per ContactBackup, when storageFixed last looked at its storage.
	storageMu     sync.Mutex
	storageChecks map[types.NamespacedName]time.Time
}

// Requeue intervals for what no watch reports.
const (
	// backupPoolMissingRetry: the pool's creation is watched, this is a safety net.
	backupPoolMissingRetry = 30 * time.Second
	// backupPoolNotReadyRetry: a run is due and waits for the pool's first probe round.
	backupPoolNotReadyRetry = 5 * time.Second
	// backupStorageRecheck spaces the checks of a storage found unusable: every status write
	// wakes the controller, and a storage that answers a check but refuses the run would
	// otherwise start a run on every pass.
	backupStorageRecheck = time.Minute
)

// +kubebuilder:rbac:groups=ocs.ocsha.io,resources=contactbackups,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=ocs.ocsha.io,resources=contactbackups/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=ocs.ocsha.io,resources=ocspools,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get;list;watch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// Reconcile reconciles one ContactBackup: when a scheduled or requested run is due, it exports
// the contacts of the pool's serving servers into a snapshot and applies retention; when a
// restore drill is due, it re-reads the newest snapshot end to end; then it requeues at the next
// scheduled time of either.
func (r *ContactBackupReconciler) Reconcile(ctx context.Context, req ctrl.Request) (_ ctrl.Result, retErr error) {
	// A run is decided from status.lastHandledRequest and status.lastScheduleTime: read from a
	// cache that has not yet seen the previous pass's status, they would run a backup twice
	// (and the status patch, retried on conflict, would write the stale status back).
	reader := r.APIReader
	if reader == nil {
		reader = r.Client
	}
	b := &ocsv1.ContactBackup{}
	if err := reader.Get(ctx, req.NamespacedName, b); err != nil {
		if apierrors.IsNotFound(err) {
			forgetBackupMetrics(req.Namespace, req.Name)
			r.storageMu.Lock()
			delete(r.storageChecks, req.NamespacedName)
			r.storageMu.Unlock()
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	status := newStatusWriter(r.Client, b, "ContactBackup")
	defer func() { retErr = errors.Join(retErr, status.Final(ctx, b, retErr)) }()

	initBackupMetrics(b)
	initConditions(b)
	if b.Spec.Suspend {
		markSuspended(b, "ContactBackup")
		b.Status.NextScheduleTime = nil
		return ctrl.Result{}, nil
	}

	now := r.Clock.Now().UTC()
	sched, err := parseBackupSchedule(b.Spec.Schedule, now)
	if err != nil {
		// Only a change of the spec helps, and that triggers a reconcile.
		markStalled(b, ocsv1.ReasonInvalidSchedule, "ContactBackup "+err.Error()+".")
		b.Status.NextScheduleTime = nil
		return ctrl.Result{}, reconcile.TerminalError(err)
	}

	facts, err := r.runIfDue(ctx, b, status, sched, now)
	if err != nil {
		return ctrl.Result{}, err
	}
	facts.verify, facts.nextVerify, err = r.verifyIfDue(ctx, b, status, r.Clock.Now().UTC())
	if err != nil {
		return ctrl.Result{}, err
	}

	var lastSuccess *time.Time
	if t := b.Status.LastSuccessfulTime; t != nil {
		lastSuccess = &t.Time
	}
	facts.overdue, facts.overdueSince = isBackupOverdue(sched, lastSuccess, b.CreationTimestamp.Time, now)
	setBackupConditions(b, facts)

	wait := backupRequeueAfter(r.Clock.Now(), facts.next)
	if !facts.nextVerify.IsZero() {
		wait = min(wait, backupRequeueAfter(r.Clock.Now(), facts.nextVerify))
	}
	switch {
	case facts.poolMissing:
		wait = min(wait, backupPoolMissingRetry)
	case facts.waitingForPool:
		wait = min(wait, backupPoolNotReadyRetry)
	}
	return ctrl.Result{RequeueAfter: wait}, nil
}

// runIfDue runs a backup when the schedule or the backup-now annotation asks for one and the
// pool can be backed up, and returns what it learned.
func (r *ContactBackupReconciler) runIfDue(ctx context.Context, b *ocsv1.ContactBackup, status *statusWriter, sched cron.Schedule, now time.Time) (backupFacts, error) {
	var lastScheduled *time.Time
	if t := b.Status.LastScheduleTime; t != nil {
		lastScheduled = &t.Time
	}
	scheduledRun, scheduledAt, next := decideBackupSchedule(sched, lastScheduled, b.CreationTimestamp.Time, now)
	request := pendingBackupRequest(b)
	facts := backupFacts{next: next}
	b.Status.NextScheduleTime = &metav1.Time{Time: next}

	pool := &ocsv1.OCSPool{}
	err := r.Get(ctx, types.NamespacedName{Namespace: b.Namespace, Name: b.Spec.PoolRef.Name}, pool)
	switch {
	case apierrors.IsNotFound(err):
		facts.poolMissing = true
	case err != nil:
		return facts, fmt.Errorf("reading OCSPool %s/%s: %w", b.Namespace, b.Spec.PoolRef.Name, err)
	case !scheduledRun && request == "" && !r.storageFixed(ctx, b):
	case !backupPoolReported(pool):
		// The run stays due: it starts once the pool's first probe round is in.
		facts.waitingForPool = true
	default:
		if err := r.startRun(ctx, b, status); err != nil {
			return facts, err
		}
		outcome := r.runBackup(ctx, b, pool, now)
		facts.outcome = &outcome
		if scheduledRun {
			b.Status.LastScheduleTime = &metav1.Time{Time: scheduledAt}
		}
		if request != "" {
			b.Status.LastHandledRequest = request
		}
		r.recordOutcome(ctx, b, &outcome, now)
	}
	return facts, nil
}

// storageFixed reports whether the last run failed for want of storage (Stalled) and the storage
// now answers: the failed run is retried at once, since a Secret or bucket fixed by a human
// (Secrets are watched) should not leave the pool without a backup until the next schedule. The
// storage is looked at most once per backupStorageRecheck, or at once after a Secret changed.
func (r *ContactBackupReconciler) storageFixed(ctx context.Context, b *ocsv1.ContactBackup) bool {
	c := meta.FindStatusCondition(b.Status.Conditions, ocsv1.ConditionStalled)
	if c == nil || c.Status != metav1.ConditionTrue || c.Reason != ocsv1.ReasonStorageUnavailable {
		return false
	}
	key, now := client.ObjectKeyFromObject(b), r.Clock.Now()
	r.storageMu.Lock()
	last, checked := r.storageChecks[key]
	if checked && now.Sub(last) < backupStorageRecheck {
		r.storageMu.Unlock()
		return false
	}
	if r.storageChecks == nil {
		r.storageChecks = map[types.NamespacedName]time.Time{}
	}
	r.storageChecks[key] = now
	r.storageMu.Unlock()
	_, err := r.openUsableStore(ctx, b)
	return err == nil
}

// pendingBackupRequest returns the value of the backup-now annotation when it asks for a run
// not handled yet, else "".
func pendingBackupRequest(b *ocsv1.ContactBackup) string {
	v := b.Annotations[ocsv1.AnnotationBackupNow]
	if v == "" || v == b.Status.LastHandledRequest {
		return ""
	}
	return v
}

// startRun reports the run in a status checkpoint before it starts, so that Reconciling is True
// while it runs; observedGeneration waits for the run's end.
func (r *ContactBackupReconciler) startRun(ctx context.Context, b *ocsv1.ContactBackup, status *statusWriter) error {
	setCondition(b, ocsv1.ConditionReconciling, metav1.ConditionTrue, ocsv1.ReasonBackingUp,
		fmt.Sprintf("Exporting the contacts of OCSPool %s into a snapshot.", b.Spec.PoolRef.Name))
	logf.FromContext(ctx).Info("Starting ContactBackup run", "OCSPool", klog.KRef(b.Namespace, b.Spec.PoolRef.Name))
	return status.Checkpoint(ctx, b)
}

// recordOutcome writes a run's result into status, events, metrics and the log.
func (r *ContactBackupReconciler) recordOutcome(ctx context.Context, b *ocsv1.ContactBackup, o *backupOutcome, now time.Time) {
	log := logf.FromContext(ctx)
	observeBackupRun(b, o, r.Clock.Since(now))

	if o.Err != nil {
		log.Info("ContactBackup run wrote no snapshot", "reason", o.Err.Error())
		r.Recorder.Eventf(b, nil, corev1.EventTypeWarning, ocsv1.ReasonBackupFailed, "Backup",
			"No snapshot was written: %s", o.Err)
		return
	}

	m := o.Manifest
	b.Status.LastSuccessfulTime = &metav1.Time{Time: now}
	b.Status.Snapshots = mergeSnapshotSummaries(b.Status.Snapshots, snapshotSummary(m, o.Added), o.Kept)
	if st := backupStoreStatus(o.Stats, o.Added, o.StatsErr); st != nil {
		b.Status.Store = st
	}
	if o.StatsErr != nil {
		log.Error(o.StatsErr, "Measuring the store of ContactBackup did not complete")
	}
	log.Info("Wrote snapshot", "snapshot", m.Name, "count", m.Users, "contacts", m.Contacts, "bytes", o.Added)

	if len(o.Skipped) > 0 {
		r.Recorder.Eventf(b, nil, corev1.EventTypeWarning, ocsv1.ReasonBackupPartial, "Backup",
			"Snapshot %s holds %d users and %d contacts, without server(s) %s", m.Name, m.Users, m.Contacts, describeBackupSkips(o.Skipped))
	} else {
		r.Recorder.Eventf(b, nil, corev1.EventTypeNormal, ocsv1.ReasonBackupSucceeded, "Backup",
			"Snapshot %s holds %d users and %d contacts; it added %d bytes to the store", m.Name, m.Users, m.Contacts, o.Added)
	}
	if o.Pruned > 0 {
		r.Recorder.Eventf(b, nil, corev1.EventTypeNormal, "SnapshotsPruned", "Prune",
			"Retention dropped %d snapshot(s) and %d unreferenced blob(s)", o.Pruned, o.PrunedBlobs)
	}
	if o.PruneErr != nil {
		log.Error(o.PruneErr, "Retention of ContactBackup did not complete")
		r.Recorder.Eventf(b, nil, corev1.EventTypeWarning, "PruneFailed", "Prune",
			"Retention did not complete: %s", o.PruneErr)
	}
}

// backupSecretIndex indexes ContactBackups by the Secrets of their spec.storage.s3.
const backupSecretIndex = "contactbackup.spec.storage.s3.secretRefs"

// SetupWithManager registers the reconciler; fields left nil are filled from opts.
func (r *ContactBackupReconciler) SetupWithManager(mgr ctrl.Manager, opts Options) error {
	r.Client, r.Agents, r.Clock = mgr.GetClient(), opts.Agents, opts.Clock
	r.Secrets = opts.secretReader(mgr)
	r.APIReader = mgr.GetAPIReader()
	r.Recorder = mgr.GetEventRecorder("ocs-ha-operator")
	if r.FullBackupEvery == 0 {
		r.FullBackupEvery = opts.FullBackupEvery
	}
	if err := mgr.GetFieldIndexer().IndexField(context.Background(), &ocsv1.ContactBackup{}, backupSecretIndex, backupSecretRefs); err != nil {
		return fmt.Errorf("indexing ContactBackups by Secret: %w", err)
	}
	return ctrl.NewControllerManagedBy(mgr).
		For(&ocsv1.ContactBackup{}).
		// A pool's status changes on every probe; only its appearance or removal matters here.
		Watches(&ocsv1.OCSPool{}, handler.EnqueueRequestsFromMapFunc(r.backupsOfPool),
			builder.WithPredicates(predicate.Funcs{UpdateFunc: func(event.UpdateEvent) bool { return false }})).
		// A fixed S3 Secret retries a run that failed for want of storage (see storageFixed).
		Watches(&corev1.Secret{}, handler.EnqueueRequestsFromMapFunc(r.backupsOfSecret), builder.OnlyMetadata).
		// One backup at a time (the default): each holds a whole server's export in memory, and
		// pools sharing a schedule would otherwise all export in the same minute.
		Named("contactbackup").
		Complete(r)
}

// backupsOfPool maps an OCSPool to the ContactBackups that reference it.
func (r *ContactBackupReconciler) backupsOfPool(ctx context.Context, obj client.Object) []reconcile.Request {
	var list ocsv1.ContactBackupList
	if err := r.List(ctx, &list, client.InNamespace(obj.GetNamespace())); err != nil {
		logf.FromContext(ctx).Error(err, "Listing ContactBackups of OCSPool", "OCSPool", klog.KObj(obj))
		return nil
	}
	var out []reconcile.Request
	for _, b := range list.Items {
		if b.Spec.PoolRef.Name == obj.GetName() {
			out = append(out, reconcile.Request{NamespacedName: types.NamespacedName{Namespace: b.Namespace, Name: b.Name}})
		}
	}
	return out
}

// backupsOfSecret maps a Secret to the ContactBackups whose spec.storage.s3 references it.
func (r *ContactBackupReconciler) backupsOfSecret(ctx context.Context, obj client.Object) []reconcile.Request {
	var list ocsv1.ContactBackupList
	if err := r.List(ctx, &list, client.InNamespace(obj.GetNamespace()), client.MatchingFields{backupSecretIndex: obj.GetName()}); err != nil {
		logf.FromContext(ctx).Error(err, "Listing ContactBackups that reference a Secret", "Secret", klog.KObj(obj))
		return nil
	}
	out := make([]reconcile.Request, 0, len(list.Items))
	r.storageMu.Lock()
	defer r.storageMu.Unlock()
	for _, b := range list.Items {
		key := types.NamespacedName{Namespace: b.Namespace, Name: b.Name}
		// A changed Secret may be the fix: its storage is checked at once (see storageFixed).
		delete(r.storageChecks, key)
		out = append(out, reconcile.Request{NamespacedName: key})
	}
	return out
}
