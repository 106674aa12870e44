package cli

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	ocsv1 "github.com/ocsha/ocs-ha-operator/api/v1alpha1"
)

// errNoRestoreAPI says the cluster has no ContactRestore kind.
var errNoRestoreAPI = errors.New("the ContactRestore API is not installed")

func newRestoreCommand(o *options) *cobra.Command {
	var (
		r      restoreRequest
		follow followOptions
	)
	cmd := &cobra.Command{
		Use:   "restore [<pool|userhoming> --user sip:… | --server <name> | --all]",
		Short: "Restore contact lists from a ContactBackup snapshot, or list the restores and their outcome",
		Long: "restore <pool|userhoming> creates a ContactRestore that restores, into each user's current home, the\n" +
			"contact lists a ContactBackup snapshot holds: of the users named with --user (up to 100), of everyone\n" +
			"homed on a server (--server) or of the whole pool (--all). What a user has now is kept: the snapshot's\n" +
			"contacts are merged in. --from names the ContactBackup (default: the UserHoming's\n" +
			"spec.contactRestore.backupRef, else the only ContactBackup of the pool); --snapshot names a snapshot\n" +
			"(default latest, the newest readable one). --dry-run only counts what would be added. The restore gets\n" +
			"a generated name, printed; --wait follows its progress until it ends.\n\n" +
			"Without arguments, or as `restore list`, it lists the ContactRestores; `restore <contactrestore>`\n" +
			"shows one (with --wait, follows it).",
		Example: "  kubectl ocs restore site-a --user sip:alice@corp.example.com --user sip:bob@corp.example.com --dry-run --wait\n" +
			"  kubectl ocs restore site-a --server ocs1 --from site-a-contacts --snapshot 20260301T114500Z --wait\n" +
			"  kubectl ocs restore list",
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			switch {
			case len(args) == 0 && !r.hasTarget():
				return o.restore(cmd.Context(), nil)
			case len(args) == 0:
				return fmt.Errorf("%w: name the pool (or its UserHoming) to restore into: kubectl ocs restore <pool> …", errBadRestore)
			case !r.hasTarget() && r.from == "" && r.snapshot == "" && !r.dryRun:
				return o.showRestore(cmd.Context(), args[0], follow)
			}
			r.target = args[0]
			return o.createRestore(cmd.Context(), r, follow)
		},
	}
	f := cmd.Flags()
	f.StringVar(&r.from, "from", "", "The ContactBackup to restore from (default: the only one backing up the pool).")
	f.StringVar(&r.snapshot, "snapshot", "", "The snapshot to restore from, or latest (the newest readable one, the default).")
	f.StringArrayVar(&r.users, "user", nil, "A user to restore (SIP URI, sip:alice@corp.example.com); repeat for more, up to 100.")
	f.StringVar(&r.server, "server", "", "Restore everyone homed on this server of the pool now.")
	f.BoolVar(&r.all, "all", false, "Restore everyone homed in the pool now.")
	f.BoolVar(&r.dryRun, "dry-run", false, "Only count, per server, the users and contacts a restore would add (spec.dryRun); write nothing.")
	f.BoolVar(&follow.wait, "wait", false, "Follow the restore's progress until it ends, then print its outcome.")
	f.DurationVar(&follow.timeout, "timeout", time.Hour, "How long --wait waits.")
	cmd.AddCommand(&cobra.Command{
		Use:   "list [contactrestore]",
		Short: "List the ContactRestores of the namespace, or show one, with their phase and Ready condition",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.restore(cmd.Context(), args)
		},
	})
	return cmd
}

// showRestore shows one ContactRestore, or with --wait follows it until it ends.
func (o *options) showRestore(ctx context.Context, name string, follow followOptions) error {
	if !follow.wait {
		return o.restore(ctx, []string{name})
	}
	if err := o.requireRestoreAPI(); err != nil {
		return err
	}
	if _, err := o.getRestore(ctx, name); err != nil {
		return err
	}
	return o.followRestore(ctx, name, follow)
}

// getRestore reads a ContactRestore; a name that is none may be a pool named without a target.
func (o *options) getRestore(ctx context.Context, name string) (*unstructured.Unstructured, error) {
	u, err := o.dyn.Resource(restoreGVR).Namespace(o.namespace).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, fmt.Errorf("no ContactRestore %s in namespace %s; to restore into pool %s, say whom: --user sip:…, --server <name> or --all",
			name, o.namespace, name)
	}
	if err != nil {
		return nil, fmt.Errorf("reading ContactRestore %s/%s: %w", o.namespace, name, err)
	}
	return u, nil
}

// hasResource says whether the API server serves resource in gv.
func (o *options) hasResource(gv schema.GroupVersion, resource string) (bool, error) {
	list, err := o.kube.Discovery().ServerResourcesForGroupVersion(gv.String())
	if apierrors.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("discovering %s: %w", gv, err)
	}
	for _, r := range list.APIResources {
		if r.Name == resource {
			return true, nil
		}
	}
	return false, nil
}

// requireRestoreAPI refuses early when the cluster has no ContactRestore kind.
func (o *options) requireRestoreAPI() error {
	ok, err := o.hasResource(ocsv1.GroupVersion, restoreGVR.Resource)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("%w in this cluster (%s %s): install the CRDs of an operator release that has it", errNoRestoreAPI, restoreGVR.Resource, ocsv1.GroupVersion)
	}
	return nil
}

func (o *options) restore(ctx context.Context, args []string) error {
	if err := o.requireRestoreAPI(); err != nil {
		return err
	}
	res := o.dyn.Resource(restoreGVR).Namespace(o.namespace)
	var items []unstructured.Unstructured
	if len(args) == 1 {
		u, err := o.getRestore(ctx, args[0])
		if err != nil {
			return err
		}
		items = append(items, *u)
	} else {
		list, err := res.List(ctx, metav1.ListOptions{})
		if err != nil {
			return fmt.Errorf("listing ContactRestores in namespace %s: %w", o.namespace, err)
		}
		items = list.Items
	}
	if o.output != outputTable {
		if len(args) == 1 {
			return o.printObject(&items[0])
		}
		return o.printObject(&unstructured.UnstructuredList{Object: map[string]any{"apiVersion": "v1", "kind": "List"}, Items: items})
	}
	if len(items) == 0 {
		fmt.Fprintf(o.streams.Out, "No ContactRestore in namespace %s.\n", o.namespace)
		return nil
	}
	t := newTable(o.streams.Out, "NAME", "PHASE", "READY", "REASON", "MESSAGE")
	for i := range items {
		phase, _, _ := unstructured.NestedString(items[i].Object, "status", "phase")
		ready, reason, msg := "-", "-", ""
		if c := meta.FindStatusCondition(conditionsOf(&items[i]), ocsv1.ConditionReady); c != nil {
			ready, reason, msg = string(c.Status), c.Reason, c.Message
		}
		t.add(items[i].GetName(), orDash(phase), ready, reason, oneLine(msg))
	}
	return t.flush()
}

// conditionsOf reads status.conditions of a raw object.
func conditionsOf(u *unstructured.Unstructured) []metav1.Condition {
	var st struct {
		Conditions []metav1.Condition `json:"conditions"`
	}
	if m, ok, _ := unstructured.NestedMap(u.Object, "status"); ok {
		_ = fromUnstructured(&unstructured.Unstructured{Object: m}, &st)
	}
	return st.Conditions
}
