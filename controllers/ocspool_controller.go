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

// OCSPoolReconciler reconciles an OCSPool: it probes each server and reports its state.
type OCSPoolReconciler struct {
	client.Client
	Agents   AgentProvider
	Clock    clock.Clock
	Recorder events.EventRecorder
}

// +kubebuilder:rbac:groups=ocs.ocsha.io,resources=ocspools,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=ocs.ocsha.io,resources=ocspools/status,verbs=get;update;patch
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get;list;watch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// Reconcile reconciles one OCSPool.
func (r *OCSPoolReconciler) Reconcile(ctx context.Context, req ctrl.Request) (_ ctrl.Result, retErr error) {
	pool := &ocsv1.OCSPool{}
	if err := r.Get(ctx, req.NamespacedName, pool); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	patcher := newStatusPatcher(r.Client, pool)
	defer func() { retErr = errors.Join(retErr, patcher.Patch(ctx, pool, retErr)) }()

	initConditions(pool)
	if pool.Spec.Suspend {
		markSuspended(pool, "OCSPool")
		return ctrl.Result{}, nil
	}
	return ctrl.Result{}, nil
}

// SetupWithManager registers the reconciler; fields left nil are filled from opts.
func (r *OCSPoolReconciler) SetupWithManager(mgr ctrl.Manager, opts Options) error {
	r.Client, r.Agents, r.Clock = mgr.GetClient(), opts.Agents, opts.Clock
	r.Recorder = mgr.GetEventRecorder("ocs-ha-operator")
	return ctrl.NewControllerManagedBy(mgr).
		For(&ocsv1.OCSPool{}).
		Named("ocspool").
		Complete(r)
}
