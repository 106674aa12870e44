package controllers

import (
	"context"
	"errors"
	"fmt"
	"sync"
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
	"sigs.k8s.io/controller-runtime/pkg/handler"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	ocsv1 "github.com/ocsha/ocs-ha-operator/api/v1alpha1"
)

// OCSPoolReconciler reconciles an OCSPool: it probes each server and reports its state.
type OCSPoolReconciler struct {
	client.Client
	Agents   AgentProvider
	Clock    clock.Clock
	Recorder events.EventRecorder
	// Gateways sends the SIP OPTIONS of gateway probes; Secrets reads their CA Secrets.
	Gateways GatewayProber
	Secrets  client.Reader

	// rounds remembers, per pool, the last probe round this process ran. The status carries the
	// same facts, but its times have second precision and the cache may lag our own write by a
	// round; leader election makes this process the only writer, so its memory is the truth and
	// the status the fallback after a restart.
	mu     sync.Mutex
	rounds map[types.NamespacedName]*poolRound
}

// poolRound is the outcome of a pool's last probe round.
type poolRound struct {
	UID      types.UID
	Time     time.Time
	Servers  []ocsv1.ServerStatus
	Roles    []ocsv1.RoleServerStatus
	Gateways []ocsv1.GatewayStatus
}

// secretRefIndex indexes OCSPools by the names of the Secrets they reference.
const secretRefIndex = "ocspool.spec.servers.winrm.secretRefs"

// maxConcurrentPoolRounds is how many pools are probed at once.
const maxConcurrentPoolRounds = 4

// minRequeue keeps a round that overran its interval from scheduling a requeue in the past.
const minRequeue = 10 * time.Millisecond

// +kubebuilder:rbac:groups=ocs.ocsha.io,resources=ocspools,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=ocs.ocsha.io,resources=ocspools/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=ocs.ocsha.io,resources=userhomings,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get;list;watch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// Reconcile probes the servers of one OCSPool when a round is due and reports their states.
func (r *OCSPoolReconciler) Reconcile(ctx context.Context, req ctrl.Request) (_ ctrl.Result, retErr error) {
	pool := &ocsv1.OCSPool{}
	if err := r.Get(ctx, req.NamespacedName, pool); err != nil {
		if apierrors.IsNotFound(err) {
			// Deleted: nothing needs a finalizer, only our memory, connections and series go.
			r.forget(req.NamespacedName, "")
			return ctrl.Result{}, nil
		}
		return ctrl.Result{}, fmt.Errorf("reading OCSPool %s: %w", req.NamespacedName, err)
	}
	status := newStatusWriter(r.Client, pool, "OCSPool")
	defer func() { retErr = errors.Join(retErr, status.Final(ctx, pool, retErr)) }()

	initConditions(pool)
	if pool.Spec.Suspend {
		// A suspended pool is not probed; the spec change that resumes it wakes us.
		markSuspended(pool, "OCSPool")
		return ctrl.Result{}, nil
	}
	view := newPoolView(pool)
	h, err := view.health, view.healthErr
	if err != nil {
		markStalled(pool, ocsv1.ReasonInternalError, "OCSPool "+err.Error()+".")
		return ctrl.Result{}, reconcile.TerminalError(err)
	}

	prev := r.previousRound(req.NamespacedName, pool)
	now := r.Clock.Now()
	if due, wait := probeDue(prev.Time, h.Interval, now); !due {
		early, err := r.mustProbeNow(ctx, pool, prev)
		if err != nil {
			return ctrl.Result{}, err
		}
		if !early {
			return ctrl.Result{RequeueAfter: wait}, nil
		}
	}
	return r.reconcileRound(ctx, pool, status, prev, h, now)
}

// mustProbeNow reports a reason to probe before the interval has passed: the spec changed
// (a server added, maintenance toggled), a server was never probed, a human was needed and
// the Secret or spec change that woke us may have fixed it, or a UserHoming's drain ended after
// the last probe of a Draining server, which may now be Drained.
func (r *OCSPoolReconciler) mustProbeNow(ctx context.Context, pool *ocsv1.OCSPool, prev *poolRound) (bool, error) {
	if pool.Status.ObservedGeneration != pool.Generation || isTrue(pool, ocsv1.ConditionStalled) {
		return true, nil
	}
	if !everyServerProbed(pool.Spec.Servers, prev.Servers) {
		return true, nil
	}
	if !anyDraining(prev.Servers) {
		return false, nil
	}
	ops, err := r.homingOperations(ctx, pool)
	if err != nil {
		return false, err
	}
	return drainEndedSinceProbe(pool.Spec.Servers, prev.Servers, ops), nil
}

// reconcileRound runs one probe round and reports it.
func (r *OCSPoolReconciler) reconcileRound(ctx context.Context, pool *ocsv1.OCSPool, status *statusWriter,
	prev *poolRound, h healthSettings, now time.Time) (ctrl.Result, error) {
	agent, err := r.Agents.AgentFor(ctx, pool)
	if reason, msg, ok := stallCause(err); ok {
		if !isTrue(pool, ocsv1.ConditionStalled) {
			r.Recorder.Eventf(pool, nil, corev1.EventTypeWarning, reason, "Probe", "%s: no server can be probed.", err.Error())
		}
		markStalled(pool, reason, msg)
		return ctrl.Result{}, reconcile.TerminalError(fmt.Errorf("OCSPool %s/%s: %w", pool.Namespace, pool.Name, err))
	}
	if err != nil {
		return ctrl.Result{}, err
	}
	if !everyServerProbed(pool.Spec.Servers, prev.Servers) {
		// Only the first round (or one after servers were added) reports Reconciling, so that
		// the condition does not flap every probeInterval. Commit it before the probes run.
		setCondition(pool, ocsv1.ConditionReconciling, metav1.ConditionTrue, ocsv1.ReasonProbing,
			"Probing servers that have not been probed yet.")
		if err := status.Checkpoint(ctx, pool); err != nil {
			return ctrl.Result{}, err
		}
	}

	roles := r.startRoleRound(ctx, pool, h)
	results, directory := r.probeServers(ctx, pool, agent, h)
	if ctx.Err() != nil {
		// The manager is stopping: its cancelled probes say nothing about the servers.
		return ctrl.Result{}, ctx.Err()
	}
	preflights := r.preflightServers(ctx, pool, agent, prev.Servers, results, h, now)
	stamp := metav1.NewTime(now)
	servers, rejected, previous := r.nextServerStatuses(ctx, pool, prev.Servers, results, preflights, h.Threshold, stamp)
	poolKey := pool.Namespace + "/" + pool.Name
	for name := range previous {
		// Removed from the spec: its series would otherwise report a stale state forever.
		forgetPoolMetrics(pool.Namespace, pool.Name, name)
	}
	initPoolMetrics(pool)

	wasStalled := isTrue(pool, ocsv1.ConditionStalled)
	pool.Status.Servers = servers
	setPoolConditions(pool, rejected, directory)
	r.finishRoleRound(ctx, pool, prev, roles(), h, stamp)
	r.remember(pool, now, servers)
	if len(rejected) > 0 && !wasStalled {
		r.Recorder.Eventf(pool, nil, corev1.EventTypeWarning, rejected[0].Reason, "Probe", "%s", rejected[0].Detail)
	} else if directory != nil && !wasStalled {
		r.Recorder.Eventf(pool, nil, corev1.EventTypeWarning, directory.Reason, "List users", "%s", directory.Detail)
	}
	if len(rejected) > 0 && len(rejected) == len(servers) {
		// No server can be probed until a human fixes a Secret or the spec; both wake us.
		return ctrl.Result{}, reconcile.TerminalError(fmt.Errorf("OCSPool %s: WinRM refused every probe: %s", poolKey, rejected[0].Reason))
	}
	return ctrl.Result{RequeueAfter: max(now.Add(h.Interval).Sub(r.Clock.Now()), minRequeue)}, nil
}

// nextServerStatuses turns a round's probe and preflight results into each spec server's next
// status, in spec order, with an event per transition. It also returns the refused probes and the
// previous statuses of servers no longer in the spec.
func (r *OCSPoolReconciler) nextServerStatuses(ctx context.Context, pool *ocsv1.OCSPool, prevServers []ocsv1.ServerStatus,
	results []probeResult, preflights map[string]*ocsv1.PreflightStatus, threshold int32, stamp metav1.Time,
) ([]ocsv1.ServerStatus, []rejection, map[string]ocsv1.ServerStatus) {
	log := logf.FromContext(ctx)
	previous := map[string]ocsv1.ServerStatus{}
	for _, st := range prevServers {
		previous[st.Name] = st
	}
	servers := make([]ocsv1.ServerStatus, 0, len(pool.Spec.Servers))
	var rejected []rejection
	for i, s := range pool.Spec.Servers {
		before, ok := previous[s.Name]
		if !ok {
			before = ocsv1.ServerStatus{Name: s.Name, State: ocsv1.ServerUnknown}
		}
		delete(previous, s.Name)
		next := nextServerStatus(before, results[i], threshold, stamp)
		if p, ok := preflights[s.Name]; ok {
			next.Preflight = p
			if eventType, reason := preflightEvent(before.Preflight, p); reason != "" {
				r.Recorder.Eventf(pool, nil, eventType, reason, "Preflight "+s.Name, "%s", p.Message)
			}
		}
		servers = append(servers, next)
		if results[i].Kind == probeRejected {
			rejected = append(rejected, rejection{Server: s.Name, Reason: results[i].Reason, Detail: results[i].Detail})
		}
		if eventType, reason := transitionEvent(before.State, next.State); reason != "" {
			log.Info("Server state changed", "server", s.Name, "from", before.State, "to", next.State, "reason", next.Message)
			// The action names the server: the recorder folds events with the same object, reason
			// and action into one series, which would hide the second server's transition.
			r.Recorder.Eventf(pool, nil, eventType, reason, "Probe "+s.Name, "Server %s is %s: %s", s.Name, next.State, next.Message)
		}
	}
	return servers, rejected, previous
}

// everyServerProbed reports whether every spec server has a probed status.
func everyServerProbed(spec []ocsv1.ServerSpec, servers []ocsv1.ServerStatus) bool {
	probed := map[string]bool{}
	for _, st := range servers {
		probed[st.Name] = st.LastProbeTime != nil
	}
	for _, s := range spec {
		if !probed[s.Name] {
			return false
		}
	}
	return true
}

// previousRound returns the last round of pool: from memory when this process ran it, else
// rebuilt from the status (after a restart), dated by its oldest probe.
func (r *OCSPoolReconciler) previousRound(key types.NamespacedName, pool *ocsv1.OCSPool) *poolRound {
	r.mu.Lock()
	round := r.rounds[key]
	r.mu.Unlock()
	if round != nil && round.UID == pool.UID {
		return round
	}
	if round != nil {
		// The pool was deleted and re-created under the same name while we looked away.
		r.forget(key, round.UID)
	}
	round = &poolRound{UID: pool.UID, Servers: pool.Status.Servers, Roles: pool.Status.Roles, Gateways: pool.Status.Gateways}
	for _, st := range pool.Status.Servers {
		if st.LastProbeTime == nil {
			round.Time = time.Time{}
			break
		}
		if round.Time.IsZero() || st.LastProbeTime.Time.Before(round.Time) {
			round.Time = st.LastProbeTime.Time
		}
	}
	return round
}

func (r *OCSPoolReconciler) remember(pool *ocsv1.OCSPool, at time.Time, servers []ocsv1.ServerStatus) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.rounds == nil {
		r.rounds = map[types.NamespacedName]*poolRound{}
	}
	r.rounds[client.ObjectKeyFromObject(pool)] = &poolRound{UID: pool.UID, Time: at, Servers: servers,
		Roles: pool.Status.Roles, Gateways: pool.Status.Gateways}
}

// forget drops what this process holds for a deleted pool: its round, its agent and
// connections (WinRMProvider.Forget), and its metric series. uid "" means the remembered one.
func (r *OCSPoolReconciler) forget(key types.NamespacedName, uid types.UID) {
	r.mu.Lock()
	if round := r.rounds[key]; round != nil && (uid == "" || round.UID == uid) {
		uid = round.UID
		delete(r.rounds, key)
	}
	r.mu.Unlock()
	if f, ok := r.Agents.(interface{ Forget(types.UID) }); ok && uid != "" {
		f.Forget(uid)
	}
	forgetPoolMetrics(key.Namespace, key.Name, "")
}

// SetupWithManager registers the reconciler; fields left nil are filled from opts.
func (r *OCSPoolReconciler) SetupWithManager(mgr ctrl.Manager, opts Options) error {
	r.Client, r.Agents, r.Clock = mgr.GetClient(), opts.Agents, opts.Clock
	r.Gateways, r.Secrets = opts.gatewayProber(), opts.secretReader(mgr)
	r.Recorder = mgr.GetEventRecorder("ocs-ha-operator")
	if err := mgr.GetFieldIndexer().IndexField(context.Background(), &ocsv1.OCSPool{}, secretRefIndex, secretRefsOf); err != nil {
		return fmt.Errorf("indexing OCSPools by Secret: %w", err)
	}
	return ctrl.NewControllerManagedBy(mgr).
		// Our own status writes do not bump the generation: they must not trigger a round.
		For(&ocsv1.OCSPool{}, builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		// Metadata only: the manager must not hold every Secret of its namespaces in memory.
		// SecretReader reads the named ones when their resourceVersion changes.
		Watches(&corev1.Secret{}, handler.EnqueueRequestsFromMapFunc(r.poolsForSecret), builder.OnlyMetadata).
		// A completed drain may have emptied a server in maintenance: Drained should not wait
		// for the next round. Only completions pass, not every checkpoint of an operation.
		Watches(&ocsv1.UserHoming{}, handler.EnqueueRequestsFromMapFunc(poolOfHoming), builder.WithPredicates(drainCompleted)).
		// A round waits on the network for up to probeTimeout; pools must not queue behind
		// each other. The queue still never runs one pool twice at once.
		WithOptions(controller.Options{MaxConcurrentReconciles: maxConcurrentPoolRounds}).
		Named("ocspool").
		Complete(r)
}

// secretRefsOf lists the Secrets an OCSPool references, for the index.
func secretRefsOf(obj client.Object) []string {
	pool, ok := obj.(*ocsv1.OCSPool)
	if !ok {
		return nil
	}
	seen := map[string]bool{}
	var names []string
	add := func(name string) {
		if name != "" && !seen[name] {
			seen[name] = true
			names = append(names, name)
		}
	}
	for _, s := range pool.Spec.Servers {
		add(s.WinRM.CredentialsSecretRef.Name)
		if s.WinRM.CASecretRef != nil {
			add(s.WinRM.CASecretRef.Name)
		}
	}
	for _, name := range gatewaySecretRefs(pool) {
		add(name)
	}
	return names
}

// poolsForSecret maps a Secret to the OCSPools of its namespace that reference it, so that a
// fixed Secret clears Stalled at once.
func (r *OCSPoolReconciler) poolsForSecret(ctx context.Context, obj client.Object) []reconcile.Request {
	pools := &ocsv1.OCSPoolList{}
	if err := r.List(ctx, pools, client.InNamespace(obj.GetNamespace()), client.MatchingFields{secretRefIndex: obj.GetName()}); err != nil {
		logf.FromContext(ctx).Error(err, "Listing OCSPools that reference a Secret", "Secret", client.ObjectKeyFromObject(obj))
		return nil
	}
	reqs := make([]reconcile.Request, 0, len(pools.Items))
	for _, p := range pools.Items {
		reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&p)})
	}
	return reqs
}
