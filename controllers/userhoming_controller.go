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

// UserHomingReconciler reconciles a UserHoming: it keeps users spread, drains, fails over and fails back.
type UserHomingReconciler struct {
	client.Client
	Agents   AgentProvider
	Clock    clock.Clock
	Recorder events.EventRecorder
}

// +kubebuilder:rbac:groups=ocs.ocsha.io,resources=userhomings,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=ocs.ocsha.io,resources=userhomings/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// Reconcile reconciles one UserHoming.
func (r *UserHomingReconciler) Reconcile(ctx context.Context, req ctrl.Request) (_ ctrl.Result, retErr error) {
	homing := &ocsv1.UserHoming{}
	if err := r.Get(ctx, req.NamespacedName, homing); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	patcher := newStatusPatcher(r.Client, homing)
	defer func() { retErr = errors.Join(retErr, patcher.Patch(ctx, homing, retErr)) }()

	initConditions(homing)
	if homing.Spec.Suspend {
		markSuspended(homing, "UserHoming")
		return ctrl.Result{}, nil
	}
	return ctrl.Result{}, nil
}

// SetupWithManager registers the reconciler; fields left nil are filled from opts.
func (r *UserHomingReconciler) SetupWithManager(mgr ctrl.Manager, opts Options) error {
	r.Client, r.Agents, r.Clock = mgr.GetClient(), opts.Agents, opts.Clock
	r.Recorder = mgr.GetEventRecorder("ocs-ha-operator")
	return ctrl.NewControllerManagedBy(mgr).
		For(&ocsv1.UserHoming{}).
		Named("userhoming").
		Complete(r)
}
