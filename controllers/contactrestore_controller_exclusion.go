package controllers

import (
	"context"
	"errors"
	"fmt"

	"sigs.k8s.io/controller-runtime/pkg/client"

	ocsv1 "github.com/ocsha/ocs-ha-operator/api/v1alpha1"
)

// A ContactRestore and a UserHoming operation on the same pool never run at once: a user moved
// while their contacts are imported could lose the import, or have it land on the server they
// just left. Each side writes its own record first and then reads the other's, both straight
// from the API server, so that of two that start together at least one sees the other:
//
//   - a restore claims the pool (status.startTime and status.pool, a checkpoint) only after it
//     found no running operation, then reads the UserHomings again; finding one, it releases
//     the claim and waits;
//   - a UserHoming starts no operation while a restore holds the pool (holdForContactRestore,
//     called by reconcileHoming), and after each of its checkpoints, which record the operation
//     before it acts, reads the restores again (contactRestoreGuard) and stops if one holds the
//     pool.
//
// A restore that has started never yields: it ends in bounded time (a server that stops serving
// fails its users, three failed passes end it), and then the UserHoming resumes.

// errContactRestoreRunning stops a UserHoming pass whose operation would overlap a restore.
var errContactRestoreRunning = errors.New("a ContactRestore holds the pool")

// +kubebuilder:rbac:groups=ocs.ocsha.io,resources=contactrestores,verbs=get;list;watch

// restoreHoldsPool reports whether a ContactRestore holds pool: it started writing there and has
// not ended. A dry run writes nothing and holds nothing.
func restoreHoldsPool(cr *ocsv1.ContactRestore, pool string) bool {
	return !cr.Spec.DryRun && cr.Status.Pool == pool && cr.Status.StartTime != nil && cr.Status.CompletionTime == nil
}

// holdingRestore returns the name of a ContactRestore of namespace ns that holds pool, "" if none.
func holdingRestore(ctx context.Context, reader client.Reader, ns, pool string) (string, error) {
	var list ocsv1.ContactRestoreList
	if err := reader.List(ctx, &list, client.InNamespace(ns)); err != nil {
		return "", fmt.Errorf("listing the ContactRestores of namespace %s: %w", ns, err)
	}
	for i := range list.Items {
		if restoreHoldsPool(&list.Items[i], pool) {
			return list.Items[i].Name, nil
		}
	}
	return "", nil
}

// busyHoming returns a UserHoming of pool whose operation runs, nil if none.
func busyHoming(ctx context.Context, reader client.Reader, ns, pool string) (*ocsv1.UserHoming, error) {
	var list ocsv1.UserHomingList
	if err := reader.List(ctx, &list, client.InNamespace(ns)); err != nil {
		return nil, fmt.Errorf("listing the UserHomings of namespace %s: %w", ns, err)
	}
	for i := range list.Items {
		h := &list.Items[i]
		if h.Spec.PoolRef.Name == pool && runningOperation(h) != nil {
			return h, nil
		}
	}
	return nil, nil
}

// holdForContactRestore keeps a UserHoming pass from running any step while a ContactRestore
// holds its pool: the failover gate's objection names the restore for each server that would
// fail over (for the pool when none would), and the pass requeues. When no restore holds the
// pool it arms contactRestoreGuard for the pass's checkpoints.
func (r *UserHomingReconciler) holdForContactRestore(ctx context.Context, s *homingScope) (bool, error) {
	pool := s.homing.Spec.PoolRef.Name
	name, err := holdingRestore(ctx, r.APIReader, s.homing.Namespace, pool)
	if err != nil {
		return false, err
	}
	if name == "" {
		s.afterCheckpoint = r.contactRestoreGuard(s)
		return false, nil
	}
	o := &gateObjection{
		Reason: ocsv1.ReasonContactRestoreRunning,
		Message: fmt.Sprintf("ContactRestore %s/%s is restoring contacts in OCSPool %s/%s: no user moves until it ends.",
			s.homing.Namespace, name, s.homing.Namespace, pool),
		RequeueAfter: restoreWaitRequeue,
	}
	if s.report.gates == nil {
		s.report.gates = map[string]*gateObjection{}
	}
	for _, server := range s.failFrom {
		s.report.gates[server] = o
	}
	if len(s.failFrom) == 0 {
		// No server to name: the objection stands for the pool (the key is never displayed).
		s.report.gates["ContactRestore/"+name] = o
	}
	s.failFrom = nil
	return true, nil
}

// contactRestoreGuard is run after each checkpoint of a UserHoming pass, which has recorded the
// operation and is about to act: a restore that claimed the pool since the pass began stops it.
func (r *UserHomingReconciler) contactRestoreGuard(s *homingScope) func(context.Context) error {
	return func(ctx context.Context) error {
		name, err := holdingRestore(ctx, r.APIReader, s.homing.Namespace, s.homing.Spec.PoolRef.Name)
		if err != nil {
			return err
		}
		if name != "" {
			return fmt.Errorf("UserHoming %s/%s: ContactRestore %s started in OCSPool %s: %w",
				s.homing.Namespace, s.homing.Name, name, s.homing.Spec.PoolRef.Name, errContactRestoreRunning)
		}
		return nil
	}
}
