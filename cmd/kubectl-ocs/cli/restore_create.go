package cli

import (
	"context"
	"fmt"
	"slices"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	ocsv1 "github.com/ocsha/ocs-ha-operator/api/v1alpha1"
)

// resolveRestore reads what the request names: the pool (directly or through a UserHoming) and
// the ContactBackup, which must back up that pool.
func (o *options) resolveRestore(ctx context.Context, r restoreRequest) (restoreTarget, error) {
	var (
		t            restoreTarget
		homingBackup string
	)
	pool, err := o.dyn.Resource(poolGVR).Namespace(o.namespace).Get(ctx, r.target, metav1.GetOptions{})
	switch {
	case err == nil:
		t.pool = r.target
	case apierrors.IsNotFound(err):
		h, herr := o.dyn.Resource(homingGVR).Namespace(o.namespace).Get(ctx, r.target, metav1.GetOptions{})
		if apierrors.IsNotFound(herr) {
			return t, fmt.Errorf("%w: no OCSPool or UserHoming %s in namespace %s", errBadRestore, r.target, o.namespace)
		}
		if herr != nil {
			return t, fmt.Errorf("reading UserHoming %s/%s: %w", o.namespace, r.target, herr)
		}
		var homing ocsv1.UserHoming
		if err := fromUnstructured(h, &homing); err != nil {
			return t, err
		}
		t.pool = homing.Spec.PoolRef.Name
		if ref := homing.Spec.ContactRestore.BackupRef; ref != nil {
			homingBackup = ref.Name
		}
		if pool, err = o.dyn.Resource(poolGVR).Namespace(o.namespace).Get(ctx, t.pool, metav1.GetOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return t, fmt.Errorf("reading OCSPool %s/%s: %w", o.namespace, t.pool, err)
		}
	default:
		return t, fmt.Errorf("reading OCSPool %s/%s: %w", o.namespace, r.target, err)
	}
	if pool != nil && err == nil {
		var p ocsv1.OCSPool
		if err := fromUnstructured(pool, &p); err != nil {
			return t, err
		}
		t.servers = []string{}
		for _, s := range p.Spec.Servers {
			t.servers = append(t.servers, s.Name)
		}
	}
	backup, err := o.chooseBackup(ctx, r.from, homingBackup, t.pool)
	if err != nil {
		return t, err
	}
	t.backup = backup.Name
	for _, s := range backup.Status.Snapshots {
		t.snapshots = append(t.snapshots, s.Name)
	}
	return t, nil
}

// chooseBackup reads the ContactBackup named by --from, else the one the UserHoming restores
// from, else the only one of the pool.
func (o *options) chooseBackup(ctx context.Context, from, homingBackup, pool string) (*ocsv1.ContactBackup, error) {
	res := o.dyn.Resource(backupGVR).Namespace(o.namespace)
	name := from
	if name == "" {
		name = homingBackup
	}
	if name != "" {
		u, err := res.Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("%w: no ContactBackup %s in namespace %s", errBadRestore, name, o.namespace)
		}
		if err != nil {
			return nil, fmt.Errorf("reading ContactBackup %s/%s: %w", o.namespace, name, err)
		}
		var cb ocsv1.ContactBackup
		if err := fromUnstructured(u, &cb); err != nil {
			return nil, err
		}
		if cb.Spec.PoolRef.Name != pool {
			return nil, fmt.Errorf("%w: ContactBackup %s backs up OCSPool %s, not %s", errBadRestore, name, cb.Spec.PoolRef.Name, pool)
		}
		return &cb, nil
	}
	list, err := res.List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("listing ContactBackups in namespace %s: %w", o.namespace, err)
	}
	var found []ocsv1.ContactBackup
	for i := range list.Items {
		var cb ocsv1.ContactBackup
		if err := fromUnstructured(&list.Items[i], &cb); err != nil {
			return nil, err
		}
		if cb.Spec.PoolRef.Name == pool {
			found = append(found, cb)
		}
	}
	switch len(found) {
	case 1:
		return &found[0], nil
	case 0:
		return nil, fmt.Errorf("%w: no ContactBackup backs up OCSPool %s in namespace %s: nothing to restore from", errBadRestore, pool, o.namespace)
	}
	names := make([]string, len(found))
	for i := range found {
		names[i] = found[i].Name
	}
	return nil, fmt.Errorf("%w: ContactBackups %s all back up OCSPool %s: name one with --from", errBadRestore, strings.Join(names, ", "), pool)
}

// createRestore validates the request, resolves its names and creates the ContactRestore.
func (o *options) createRestore(ctx context.Context, r restoreRequest, follow followOptions) error {
	if err := validateRestoreRequest(r); err != nil {
		return err
	}
	if err := o.requireRestoreAPI(); err != nil {
		return err
	}
	t, err := o.resolveRestore(ctx, r)
	if err != nil {
		return err
	}
	if err := checkRestoreTarget(r, t); err != nil {
		return err
	}
	if s := r.snapshot; s != "" && s != latestSnapshot && len(t.snapshots) > 0 && !slices.Contains(t.snapshots, s) {
		fmt.Fprintf(o.streams.ErrOut, "Warning: ContactBackup %s does not list snapshot %s (it lists %s); the restore stops with SnapshotNotFound if the store lacks it.\n",
			t.backup, s, strings.Join(t.snapshots, ", "))
	}
	u, err := o.dyn.Resource(restoreGVR).Namespace(o.namespace).Create(ctx, restoreManifest(o.namespace, r, t), metav1.CreateOptions{})
	if err != nil {
		return fmt.Errorf("creating a ContactRestore in namespace %s: %w", o.namespace, err)
	}
	if !follow.wait {
		if o.output != outputTable {
			return o.printObject(u)
		}
		fmt.Fprintf(o.streams.Out, "ContactRestore %s created: %s.\n", u.GetName(), describeRestore(r, t))
		fmt.Fprintf(o.streams.Out, "Follow it with: kubectl ocs restore %s --wait\n", u.GetName())
		return nil
	}
	fmt.Fprintf(o.streams.ErrOut, "ContactRestore %s created: %s; waiting for it to end.\n", u.GetName(), describeRestore(r, t))
	return o.followRestore(ctx, u.GetName(), follow)
}
