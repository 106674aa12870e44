package controllers

import (
	"context"
	"fmt"

	"k8s.io/klog/v2"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	ocsv1 "github.com/ocsha/ocs-ha-operator/api/v1alpha1"
)

// One UserHoming owns an OCSPool. Two acting on one pool would run a failover twice, or, with
// different policies, move the same users back and forth for ever. The owner is the oldest by
// creationTimestamp, ties broken by name, so every manager and every pass agrees without a
// write; the others report the owner and do nothing until it is gone.

// poolOwner returns the UserHoming among homings that owns the pool they reference: the oldest
// not being deleted, ties broken by name. nil when there is none.
func poolOwner(homings []ocsv1.UserHoming) *ocsv1.UserHoming {
	var owner *ocsv1.UserHoming
	for i := range homings {
		h := &homings[i]
		if h.DeletionTimestamp != nil {
			continue
		}
		if owner == nil || ownsBefore(h, owner) {
			owner = h
		}
	}
	return owner
}

// ownsBefore: a takes precedence over b.
func ownsBefore(a, b *ocsv1.UserHoming) bool {
	ta, tb := a.CreationTimestamp.Time, b.CreationTimestamp.Time
	if !ta.Equal(tb) {
		return ta.Before(tb)
	}
	return a.Name < b.Name
}

// otherOwner reads every UserHoming of the namespace from the API server (a cached list could
// miss an older one just created) and returns the name of the one that owns h's pool when it is
// not h, "" when h owns it.
func (r *UserHomingReconciler) otherOwner(ctx context.Context, h *ocsv1.UserHoming) (string, error) {
	var list ocsv1.UserHomingList
	if err := r.APIReader.List(ctx, &list, client.InNamespace(h.Namespace)); err != nil {
		return "", fmt.Errorf("listing the UserHomings of namespace %s: %w", h.Namespace, err)
	}
	same := make([]ocsv1.UserHoming, 0, len(list.Items))
	for _, o := range list.Items {
		if o.Spec.PoolRef.Name == h.Spec.PoolRef.Name {
			same = append(same, o)
		}
	}
	owner := poolOwner(same)
	if owner == nil || owner.UID == h.UID {
		return "", nil
	}
	return owner.Name, nil
}

// ownedByAnother reports, as the conditions' facts, that another UserHoming owns the pool.
func ownedByAnother(s *homingScope, owner string) {
	s.report.stalledReason = ocsv1.ReasonPoolOwnedByAnother
	s.report.stalledMessage = fmt.Sprintf("UserHoming %s/%s, older, already manages OCSPool %s/%s: this one does nothing. "+
		"Delete one of them; this one takes over when %s is gone.", s.homing.Namespace, owner, s.homing.Namespace, s.homing.Spec.PoolRef.Name, owner)
}

// homingsSharingPool maps a deleted UserHoming to the others on its pool: one of them may own the
// pool now.
func (r *UserHomingReconciler) homingsSharingPool(ctx context.Context, o client.Object) []reconcile.Request {
	h, ok := o.(*ocsv1.UserHoming)
	if !ok {
		return nil
	}
	var list ocsv1.UserHomingList
	if err := r.List(ctx, &list, client.InNamespace(h.Namespace), client.MatchingFields{homingPoolIndex: h.Spec.PoolRef.Name}); err != nil {
		logf.FromContext(ctx).Error(err, "Listing the UserHomings of an OCSPool", "UserHoming", klog.KObj(h))
		return nil
	}
	var out []reconcile.Request
	for _, other := range list.Items {
		if other.UID != h.UID {
			out = append(out, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&other)})
		}
	}
	return out
}
