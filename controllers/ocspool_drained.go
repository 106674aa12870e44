package controllers

import (
	"context"
	"fmt"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	ocsv1 "github.com/ocsha/ocs-ha-operator/api/v1alpha1"
)

// A server in maintenance turns Drained when a probe finds no user homed on it. The UserHoming
// that drains it knows first: its Drain operation completes. The OCSPool watches that completion
// and probes at once, so that Drained does not wait for the next round (spec.health.probeInterval).

// drainEndedSinceProbe reports whether a drain may have emptied a server in maintenance since the
// pool last probed it: a spec server in maintenance that the last round reported Draining, and a
// completed Drain of a UserHoming of the pool that ended no earlier than that probe. ops are the
// last operations of those UserHomings (nil entries are ignored).
//
// Any completed Drain counts, whatever its status.lastOperation.from: a drain plans the users of
// every server in maintenance, so it may empty one it was not started for.
func drainEndedSinceProbe(spec []ocsv1.ServerSpec, servers []ocsv1.ServerStatus, ops []*ocsv1.Operation) bool {
	var ended []time.Time
	for _, op := range ops {
		if op != nil && op.Type == ocsv1.OperationDrain && op.CompletionTime != nil {
			ended = append(ended, op.CompletionTime.Time)
		}
	}
	if len(ended) == 0 {
		return false
	}
	inMaintenance := map[string]bool{}
	for _, s := range spec {
		inMaintenance[s.Name] = s.Maintenance
	}
	for _, st := range servers {
		if !inMaintenance[st.Name] || st.State != ocsv1.ServerDraining || st.LastProbeTime == nil {
			continue
		}
		// A completion time is stored to the second, a probe time remembered to the nanosecond:
		// a drain that ended in the second of the probe may have ended after it.
		probed := st.LastProbeTime.Truncate(time.Second)
		for _, at := range ended {
			if !at.Before(probed) {
				return true
			}
		}
	}
	return false
}

// completedDrainKey identifies a completed Drain operation; "" for any other operation or none.
func completedDrainKey(op *ocsv1.Operation) string {
	if op == nil || op.Type != ocsv1.OperationDrain || op.CompletionTime == nil {
		return ""
	}
	return op.ID + "@" + op.CompletionTime.UTC().Format(time.RFC3339)
}

// drainCompleted passes the UserHoming updates in which a Drain operation completes (its
// completionTime set, or a new Drain completed). The other status writes, such as a failover's
// checkpoints, must not wake the pool. Creations do not pass: a starting manager reconciles every
// pool anyway, and that reconcile reads the UserHomings.
var drainCompleted = predicate.Funcs{
	CreateFunc:  func(event.CreateEvent) bool { return false },
	DeleteFunc:  func(event.DeleteEvent) bool { return false },
	GenericFunc: func(event.GenericEvent) bool { return false },
	UpdateFunc: func(e event.UpdateEvent) bool {
		o, okOld := e.ObjectOld.(*ocsv1.UserHoming)
		n, okNew := e.ObjectNew.(*ocsv1.UserHoming)
		if !okOld || !okNew {
			return false
		}
		key := completedDrainKey(n.Status.LastOperation)
		return key != "" && key != completedDrainKey(o.Status.LastOperation)
	},
}

// poolOfHoming maps a UserHoming to the OCSPool it homes users on.
func poolOfHoming(_ context.Context, obj client.Object) []reconcile.Request {
	h, ok := obj.(*ocsv1.UserHoming)
	if !ok || h.Spec.PoolRef.Name == "" {
		return nil
	}
	return []reconcile.Request{{NamespacedName: client.ObjectKey{Namespace: h.Namespace, Name: h.Spec.PoolRef.Name}}}
}

// homingOperations returns the last operations of the UserHomings of pool, from the cache. It
// filters the namespace's list itself: the UserHoming controller's index by pool may not be
// registered when this reconciler runs alone.
func (r *OCSPoolReconciler) homingOperations(ctx context.Context, pool *ocsv1.OCSPool) ([]*ocsv1.Operation, error) {
	list := &ocsv1.UserHomingList{}
	if err := r.List(ctx, list, client.InNamespace(pool.Namespace)); err != nil {
		return nil, fmt.Errorf("listing the UserHomings of OCSPool %s/%s: %w", pool.Namespace, pool.Name, err)
	}
	var ops []*ocsv1.Operation
	for i := range list.Items {
		h := &list.Items[i]
		if h.Spec.PoolRef.Name == pool.Name && h.Status.LastOperation != nil {
			ops = append(ops, h.Status.LastOperation)
		}
	}
	return ops, nil
}

// anyDraining reports whether a status of servers is Draining, the only state an early probe
// after a drain can change.
func anyDraining(servers []ocsv1.ServerStatus) bool {
	for _, st := range servers {
		if st.State == ocsv1.ServerDraining {
			return true
		}
	}
	return false
}
