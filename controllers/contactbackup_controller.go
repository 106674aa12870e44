package controllers

import (
	"context"
	"errors"

	"k8s.io/client-go/tools/events"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	ocsv1 "github.com/ocsha/ocs-ha-operator/api/v1alpha1"
)

// ContactBackupReconciler reconciles a ContactBackup: it takes scheduled snapshots and applies retention.
type ContactBackupReconciler struct {
	client.Client
	Agents   AgentProvider
	Clock    clock.Clock
	Recorder events.EventRecorder
}

// +kubebuilder:rbac:groups=ocs.ocsha.io,resources=contactbackups,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=ocs.ocsha.io,resources=contactbackups/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// Reconcile reconciles one ContactBackup.
func (r *ContactBackupReconciler) Reconcile(ctx context.Context, req ctrl.Request) (_ ctrl.Result, retErr error) {
	backup := &ocsv1.ContactBackup{}
	if err := r.Get(ctx, req.NamespacedName, backup); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	patcher := newStatusPatcher(r.Client, backup)
	defer func() { retErr = errors.Join(retErr, patcher.Patch(ctx, backup, retErr)) }()

	initConditions(backup)
	if backup.Spec.Suspend {
		markSuspended(backup, "ContactBackup")
		return ctrl.Result{}, nil
	}
	return ctrl.Result{}, nil
}

// SetupWithManager registers the reconciler; fields left nil are filled from opts.
func (r *ContactBackupReconciler) SetupWithManager(mgr ctrl.Manager, opts Options) error {
	r.Client, r.Agents, r.Clock = mgr.GetClient(), opts.Agents, opts.Clock
	r.Recorder = mgr.GetEventRecorder("ocs-ha-operator")
	return ctrl.NewControllerManagedBy(mgr).
		For(&ocsv1.ContactBackup{}).
		Named("contactbackup").
		Complete(r)
}
