package controllers

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
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
	"github.com/ocsha/ocs-ha-operator/internal/ocs"
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

	filled     filledCache
	forcedHere forcedCache
}

// +kubebuilder:rbac:groups=ocs.ocsha.io,resources=userhomings,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=ocs.ocsha.io,resources=userhomings/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=ocs.ocsha.io,resources=ocspools,verbs=get;list;watch
// +kubebuilder:rbac:groups=ocs.ocsha.io,resources=contactbackups,verbs=get;list;watch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// Reconcile reconciles one UserHoming: read the pool and the directory, plan, run one wave of
// the current operation, report.
func (r *UserHomingReconciler) Reconcile(ctx context.Context, req ctrl.Request) (_ ctrl.Result, retErr error) {
	homing := &ocsv1.UserHoming{}
	if err := r.APIReader.Get(ctx, req.NamespacedName, homing); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	s := &homingScope{homing: homing, now: r.Clock.Now(), patcher: newStatusPatcher(r.Client, homing)}
	defer func() {
		if s.fenced {
			// Another writer changed the object since it was read: our status is stale and must not
			// overwrite its record. The next pass reads the new one.
			return
		}
		if retErr != nil && s.report.stalledReason == "" {
			s.report.passError = retErr.Error()
		}
		applyHomingStatus(homing, &s.report)
		retErr = errors.Join(retErr, s.patcher.Patch(ctx, homing, retErr))
	}()

	initConditions(homing)
	if homing.Spec.Suspend {
		s.report.suspended = true
		return ctrl.Result{}, nil
	}

	// Until a phase says otherwise, the recorded operation is still running (a pass that fails
	// early must not report it idle).
	s.report.running = runningOperation(homing)

	pool := &ocsv1.OCSPool{}
	err := r.Get(ctx, types.NamespacedName{Namespace: homing.Namespace, Name: homing.Spec.PoolRef.Name}, pool)
	if apierrors.IsNotFound(err) {
		// The pool watch wakes us when it appears; the requeue only backs it up.
		s.report.poolMissing = true
		return ctrl.Result{RequeueAfter: poolMissingRequeue}, nil
	}
	if err != nil {
		return ctrl.Result{}, fmt.Errorf("reading OCSPool %s/%s: %w", homing.Namespace, homing.Spec.PoolRef.Name, err)
	}
	s.pool = pool
	if problems := homingSpecProblems(homing.Spec, pool); len(problems) > 0 {
		// Reported, not fatal: a typo in a pin must not stop a failover.
		s.report.stalledReason, s.report.stalledMessage = ocsv1.ReasonInvalidSpec, homingSpecMessage(problems)
	}
	s.facts = homingServerFacts(pool)
	for _, f := range s.facts {
		if !f.serving() {
			desc := string(f.state)
			if f.maintenance {
				desc += ", maintenance"
			}
			s.report.notServing = append(s.report.notServing, fmt.Sprintf("%s (%s)", f.name, desc))
		}
	}
	if len(pool.Status.Servers) == 0 {
		// Nothing is known about the servers yet; the pool's first status update wakes us.
		s.report.poolNotReady = true
		return ctrl.Result{}, nil
	}

	agent, err := r.Agents.AgentFor(ctx, pool)
	if se, ok := asSecretError(err); ok {
		s.report.stalledReason, s.report.stalledMessage = se.Reason, se.Error()
		return ctrl.Result{}, reconcile.TerminalError(err)
	}
	if err != nil {
		return ctrl.Result{}, fmt.Errorf("getting the agent of OCSPool %s/%s: %w", pool.Namespace, pool.Name, err)
	}
	s.agent = agent
	ctx = logf.IntoContext(ctx, logf.FromContext(ctx).WithValues("OCSPool", homingRef(pool)))
	res, err := r.reconcileHoming(ctx, s)
	if err != nil {
		return ctrl.Result{}, err
	}
	return soonestGateRequeue(res, s.report.gates), nil
}

// soonestGateRequeue brings the requeue forward to the moment a failover delay ends: no watch
// fires then.
func soonestGateRequeue(res ctrl.Result, gates map[string]*gateObjection) ctrl.Result {
	for _, o := range gates {
		if o.RequeueAfter > 0 && (res.RequeueAfter == 0 || o.RequeueAfter < res.RequeueAfter) {
			res.RequeueAfter = o.RequeueAfter
		}
	}
	return res
}

// SetupWithManager registers the reconciler; fields left nil are filled from opts.
func (r *UserHomingReconciler) SetupWithManager(mgr ctrl.Manager, opts Options) error {
	r.Client, r.Agents, r.Clock = mgr.GetClient(), opts.Agents, opts.Clock
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
		b.WriteString(string(s.State))
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
		logf.FromContext(ctx).Error(err, "Listing the UserHomings of an OCSPool", "OCSPool", homingRef(o))
		return nil
	}
	out := make([]reconcile.Request, 0, len(list.Items))
	for _, h := range list.Items {
		out = append(out, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&h)})
	}
	return out
}

// homingScope is the state of one pass, shared by the phase functions.
type homingScope struct {
	homing  *ocsv1.UserHoming
	patcher *statusPatcher
	now     time.Time
	// pool, facts: set once the OCSPool is read; facts are in spec order.
	pool  *ocsv1.OCSPool
	facts []serverFact
	// agent: set once the pool has servers.
	agent ocs.Agent
	// users: this pass's directory listing, set by reconcileHoming.
	users []ocs.HomedUser
	// report: facts for the conditions, turned into status by applyHomingStatus.
	report homingReport
	// fenced: a commit found that someone else wrote the object; no status is written.
	fenced bool
}

// fact returns the fact of the named server, nil if it is not in the pool.
func (s *homingScope) fact(name string) *serverFact {
	for i := range s.facts {
		if s.facts[i].name == name {
			return &s.facts[i]
		}
	}
	return nil
}

// commit writes the status now, with an optimistic lock and no retry, before a mutating step:
// the operation record then survives a crash during the step, and a manager whose view is stale
// (another manager wrote since) fails here and does not act.
func (r *UserHomingReconciler) commit(ctx context.Context, s *homingScope) error {
	h := s.homing
	applyHomingStatus(h, &s.report)
	h.Status.Phase = derivePhase(h.Status.Conditions)
	// The phase functions hold a pointer to the record; decoding the answer replaces it.
	op := h.Status.LastOperation
	err := r.Status().Patch(ctx, h, client.MergeFromWithOptions(s.patcher.before, client.MergeFromWithOptimisticLock{}))
	if op != nil && h.Status.LastOperation != nil && h.Status.LastOperation != op {
		*op = *h.Status.LastOperation
		h.Status.LastOperation = op
	}
	if err != nil {
		if apierrors.IsConflict(err) || apierrors.IsNotFound(err) {
			s.fenced = true
		}
		return fmt.Errorf("committing the operation record of UserHoming %s/%s: %w", h.Namespace, h.Name, err)
	}
	s.patcher.before = h.DeepCopy()
	return nil
}

// event records an event on the UserHoming.
func (r *UserHomingReconciler) event(s *homingScope, warning bool, reason, action, format string, args ...any) {
	t := corev1.EventTypeNormal
	if warning {
		t = corev1.EventTypeWarning
	}
	r.Recorder.Eventf(s.homing, nil, t, reason, action, format, args...)
}

func homingRef(o metav1.Object) string { return o.GetNamespace() + "/" + o.GetName() }
