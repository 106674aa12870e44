package controllers

import (
	"context"
	"fmt"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	ocsv1 "github.com/ocsha/ocs-ha-operator/api/v1alpha1"
	"github.com/ocsha/ocs-ha-operator/internal/restoreplan"
)

// homingPoolIndex indexes UserHomings by spec.poolRef.name, so that a change of an OCSPool wakes
// exactly the UserHomings that reference it.
const homingPoolIndex = "spec.poolRef.name"

const (
	// homingResync re-reads the directory at steady state: users added or moved by hand outside
	// Kubernetes are not watched.
	homingResync = time.Minute
	// poolMissingRequeue backs up the OCSPool watch when the pool does not exist yet.
	poolMissingRequeue = 30 * time.Second
	// nextWave is the requeue between two waves of an operation: at once, but through the queue
	// so that a spec change or a shutdown gets in between.
	nextWave = time.Millisecond
)

// UserHomingReconciler reconciles a UserHoming: it keeps users spread, drains, fails over and fails back.
type UserHomingReconciler struct {
	client.Client
	// APIReader reads the UserHoming straight from the API server: the operation record must be
	// the latest one, and a cached copy could be older than this manager's own last write.
	APIReader client.Reader
	Agents    AgentProvider
	Clock     clock.Clock
	Recorder  events.EventRecorder
	// Secrets reads the S3 Secrets of the ContactBackup a restore reads (Options.Secrets).
	Secrets client.Reader
	// CommandSlots is how many commands a server runs at once (Options.WinRM.MaxConcurrent): a
	// wave's move batches are cut to fill them.
	CommandSlots int

	// restores remembers, per failover, who is known to hold contacts: a shortcut that spares a
	// restore pass the export of every target.
	restores restoreplan.Memory
}

// +kubebuilder:rbac:groups=ocs.ocsha.io,resources=userhomings,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=ocs.ocsha.io,resources=userhomings/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=ocs.ocsha.io,resources=ocspools,verbs=get;list;watch
// +kubebuilder:rbac:groups=ocs.ocsha.io,resources=contactbackups,verbs=get;list;watch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// Reconcile reconciles one UserHoming: read the pool and the directory, choose the operation,
// run its steps for one wave, report.
func (r *UserHomingReconciler) Reconcile(ctx context.Context, req ctrl.Request) (_ ctrl.Result, retErr error) {
	homing := &ocsv1.UserHoming{}
	if err := r.APIReader.Get(ctx, req.NamespacedName, homing); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	s := &homingScope{homing: homing, now: r.Clock.Now(), status: newStatusWriter(r.Client, homing, "UserHoming")}
	defer func() { retErr = s.writeFinal(ctx, retErr) }()

	initConditions(homing)
	if homing.Spec.Suspend {
		// Nothing runs; the spec change that resumes it wakes us.
		s.report.suspended = true
		return ctrl.Result{}, nil
	}
	owner, err := r.otherOwner(ctx, homing)
	if err != nil {
		return ctrl.Result{}, err
	}
	if owner != "" {
		// The owner's deletion wakes us (homingsSharingPool); the requeue backs it up.
		ownedByAnother(s, owner)
		return ctrl.Result{RequeueAfter: homingResync}, nil
	}
	if done, res, err := r.readPool(ctx, s); done {
		return res, err
	}
	ctx = logf.IntoContext(ctx, logf.FromContext(ctx).WithValues("OCSPool", klog.KObj(s.pool.pool)))
	res, err := r.reconcileHoming(ctx, s)
	if err != nil {
		return ctrl.Result{}, err
	}
	return soonestGateRequeue(res, s.report.gates), nil
}

// readPool reads the OCSPool and its agent into the scope. done means the pass ends here, with
// res and err.
func (r *UserHomingReconciler) readPool(ctx context.Context, s *homingScope) (done bool, res ctrl.Result, err error) {
	h := s.homing
	pool := &ocsv1.OCSPool{}
	err = r.Get(ctx, types.NamespacedName{Namespace: h.Namespace, Name: h.Spec.PoolRef.Name}, pool)
	if apierrors.IsNotFound(err) {
		// The pool watch wakes us when it appears; the requeue only backs it up.
		s.report.poolMissing = true
		return true, ctrl.Result{RequeueAfter: poolMissingRequeue}, nil
	}
	if err != nil {
		return true, ctrl.Result{}, fmt.Errorf("reading OCSPool %s/%s: %w", h.Namespace, h.Spec.PoolRef.Name, err)
	}
	s.pool = newPoolView(pool)
	if problems := homingSpecProblems(h.Spec, pool); len(problems) > 0 {
		// Reported, not fatal: a typo in a pin must not stop a failover.
		s.report.stalledReason, s.report.stalledMessage = ocsv1.ReasonInvalidSpec, homingSpecMessage(problems)
	}
	s.report.notServing = notServingOf(s.pool)
	if len(pool.Status.Servers) == 0 {
		// Nothing is known about the servers yet; the pool's first status update wakes us.
		s.report.poolNotReady = true
		return true, ctrl.Result{}, nil
	}
	agent, err := r.Agents.AgentFor(ctx, pool)
	if se, ok := asSecretError(err); ok {
		s.report.stalledReason, s.report.stalledMessage = se.Reason, se.Error()
		return true, ctrl.Result{}, reconcile.TerminalError(err)
	}
	if err != nil {
		return true, ctrl.Result{}, fmt.Errorf("getting the agent of OCSPool %s: %w", s.pool.key(), err)
	}
	s.agent = agent
	return false, ctrl.Result{}, nil
}

// SetupWithManager registers the reconciler; fields left nil are filled from opts.
func (r *UserHomingReconciler) SetupWithManager(mgr ctrl.Manager, opts Options) error {
	r.Client, r.Agents, r.Clock = mgr.GetClient(), opts.Agents, opts.Clock
	r.Secrets = opts.secretReader(mgr)
	r.CommandSlots = opts.commandSlots()
	if r.APIReader == nil {
		r.APIReader = mgr.GetAPIReader()
	}
	r.Recorder = mgr.GetEventRecorder("ocs-ha-operator")
	if err := mgr.GetFieldIndexer().IndexField(context.Background(), &ocsv1.UserHoming{}, homingPoolIndex,
		func(o client.Object) []string { return []string{o.(*ocsv1.UserHoming).Spec.PoolRef.Name} }); err != nil {
		return fmt.Errorf("indexing UserHomings by %s: %w", homingPoolIndex, err)
	}
	return ctrl.NewControllerManagedBy(mgr).
		// Status writes must not wake the controller: a pass that failed would run again at once
		// instead of after its backoff. Waves requeue themselves.
		For(&ocsv1.UserHoming{}, builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Watches(&ocsv1.OCSPool{}, handler.EnqueueRequestsFromMapFunc(r.homingsForPool), builder.WithPredicates(poolFactsChanged)).
		// The owner of a pool going away hands the pool to the next UserHoming on it.
		Watches(&ocsv1.UserHoming{}, handler.EnqueueRequestsFromMapFunc(r.homingsSharingPool), builder.WithPredicates(predicate.Funcs{
			CreateFunc: func(event.CreateEvent) bool { return false }, UpdateFunc: func(event.UpdateEvent) bool { return false },
			GenericFunc: func(event.GenericEvent) bool { return false },
		})).
		// A failover in one pool must not wait for another pool's long pass; one object is
		// never reconciled twice at once whatever this number.
		WithOptions(controller.Options{MaxConcurrentReconciles: 4}).
		Named("userhoming").
		Complete(r)
}

// poolFactsChanged passes the OCSPool updates a UserHoming decides on: its spec (maintenance,
// servers) and its servers' states. Every probe writes lastProbeTime; waking on each would list
// the directory at the probe rate for nothing.
var poolFactsChanged = predicate.Funcs{
	UpdateFunc: func(e event.UpdateEvent) bool {
		o, okOld := e.ObjectOld.(*ocsv1.OCSPool)
		n, okNew := e.ObjectNew.(*ocsv1.OCSPool)
		if !okOld || !okNew {
			return true
		}
		return o.Generation != n.Generation || poolStates(o) != poolStates(n)
	},
}

// poolStates renders each server's state and transition time.
func poolStates(p *ocsv1.OCSPool) string {
	var b strings.Builder
	for _, s := range p.Status.Servers {
		b.WriteString(s.Name)
		b.WriteByte('=')
		b.WriteString(string(preflightGatedState(s)))
		if s.LastTransitionTime != nil {
			b.WriteString(s.LastTransitionTime.UTC().Format(time.RFC3339))
		}
		b.WriteByte(';')
	}
	return b.String()
}

// homingsForPool maps an OCSPool to the UserHomings that reference it.
func (r *UserHomingReconciler) homingsForPool(ctx context.Context, o client.Object) []reconcile.Request {
	var list ocsv1.UserHomingList
	if err := r.List(ctx, &list, client.InNamespace(o.GetNamespace()), client.MatchingFields{homingPoolIndex: o.GetName()}); err != nil {
		logf.FromContext(ctx).Error(err, "Listing the UserHomings of an OCSPool", "OCSPool", klog.KObj(o))
		return nil
	}
	out := make([]reconcile.Request, 0, len(list.Items))
	for _, h := range list.Items {
		out = append(out, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&h)})
	}
	return out
}
