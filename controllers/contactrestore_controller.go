package controllers

import (
	"context"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	ocsv1 "github.com/ocsha/ocs-ha-operator/api/v1alpha1"
)

// ContactRestoreReconciler reconciles a ContactRestore: it restores contact lists from a
// snapshot once, into the users' current homes, merging as the products' imports do.
//
// A pass: read the restore, its ContactBackup and OCSPool; wait while a UserHoming operation
// runs on the pool; list the directory and derive the target set; before anything is written,
// read and check every targeted user's copy in the snapshot; then, per server, one chunk of
// users: read their lists back, write the chunk's mark in a status checkpoint, import what they
// lack, count. A restarted manager reads the chunk back instead of trusting the mark's counts.
type ContactRestoreReconciler struct {
	client.Client
	// APIReader reads the ContactRestore and the UserHomings straight from the API server: the
	// exclusion with UserHoming operations must not decide on a cached copy.
	APIReader client.Reader
	Agents    AgentProvider
	Clock     clock.Clock
	Recorder  events.EventRecorder
	// Secrets reads the S3 Secrets of the ContactBackup (Options.Secrets).
	Secrets client.Reader
}

const (
	// restoreWaitRequeue re-checks a restore waiting for a UserHoming operation or a reference.
	restoreWaitRequeue = 10 * time.Second
	// restoreMissingRequeue re-reads a missing ContactBackup or OCSPool.
	restoreMissingRequeue = 30 * time.Second
)

// +kubebuilder:rbac:groups=ocs.ocsha.io,resources=contactrestores,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=ocs.ocsha.io,resources=contactrestores/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=ocs.ocsha.io,resources=contactbackups,verbs=get;list;watch
// +kubebuilder:rbac:groups=ocs.ocsha.io,resources=ocspools,verbs=get;list;watch
// +kubebuilder:rbac:groups=ocs.ocsha.io,resources=userhomings,verbs=get;list;watch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// Reconcile runs one pass of a ContactRestore; a completed one is left as it is.
func (r *ContactRestoreReconciler) Reconcile(ctx context.Context, req ctrl.Request) (_ ctrl.Result, retErr error) {
	cr := &ocsv1.ContactRestore{}
	if err := r.APIReader.Get(ctx, req.NamespacedName, cr); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	s := &restoreScope{cr: cr, now: r.Clock.Now(), status: newStatusWriter(r.Client, cr, "ContactRestore")}
	defer func() { retErr = r.writeFinal(ctx, s, retErr) }()
	initConditions(cr)
	if cr.Status.CompletionTime != nil {
		s.report.done = true
		return ctrl.Result{}, nil
	}
	return r.pass(ctx, s)
}

// writeFinal is the deferred status write of a pass that ended with passErr. Three passes in a
// row that fail end the restore: it holds its pool's UserHoming operations, and must not hold
// them for ever.
func (r *ContactRestoreReconciler) writeFinal(ctx context.Context, s *restoreScope, passErr error) error {
	if s.status.fenced {
		return passErr
	}
	cr := s.cr
	switch {
	case passErr != nil && !s.report.done && cr.Status.CompletionTime == nil:
		cr.Status.FailedPasses++
		s.report.passError = describePassError(passErr)
		if cr.Status.FailedPasses >= stalledAfter {
			s.report.stalledReason = ocsv1.ReasonRestoreFailed
			s.report.stalledMessage = fmt.Sprintf("ContactRestore %s ended after %d failed passes in a row: %s", cr.Name, cr.Status.FailedPasses, s.report.passError)
			r.complete(s)
			r.event(cr, true, ocsv1.ReasonRestoreFailed, "Restore", "%s", s.report.stalledMessage)
			passErr = nil
		}
	case passErr == nil && !s.report.done:
		cr.Status.FailedPasses = 0
	}
	applyRestoreStatus(cr, &s.report)
	return errors.Join(passErr, s.status.Final(ctx, cr, passErr))
}

// complete ends the restore.
func (r *ContactRestoreReconciler) complete(s *restoreScope) {
	now := s.now
	if s.cr.Status.StartTime == nil {
		s.cr.Status.StartTime = toTime(now)
	}
	s.cr.Status.CompletionTime = toTime(now)
	s.report.completed = true
}

// event records an event on the ContactRestore.
func (r *ContactRestoreReconciler) event(cr *ocsv1.ContactRestore, warning bool, reason, action, format string, args ...any) {
	t := corev1.EventTypeNormal
	if warning {
		t = corev1.EventTypeWarning
	}
	r.Recorder.Eventf(cr, nil, t, reason, action, format, args...)
}

// SetupWithManager registers the reconciler; fields left nil are filled from opts.
func (r *ContactRestoreReconciler) SetupWithManager(mgr ctrl.Manager, opts Options) error {
	r.Client, r.Agents, r.Clock = mgr.GetClient(), opts.Agents, opts.Clock
	r.Secrets = opts.secretReader(mgr)
	if r.APIReader == nil {
		r.APIReader = mgr.GetAPIReader()
	}
	r.Recorder = mgr.GetEventRecorder("ocs-ha-operator")
	return ctrl.NewControllerManagedBy(mgr).
		// Status writes must not wake it: passes requeue themselves.
		For(&ocsv1.ContactRestore{}, builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		WithOptions(controller.Options{MaxConcurrentReconciles: 2}).
		Named("contactrestore").
		Complete(r)
}
