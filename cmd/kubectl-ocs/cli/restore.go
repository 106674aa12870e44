package cli

import (
	"context"
	"errors"
	"fmt"

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
	return &cobra.Command{
		Use:   "restore [contactrestore]",
		Short: "List ContactRestores (on-demand restores of contact lists) and their outcome",
		Long: "restore lists the ContactRestores of the namespace, or shows one, with their phase and Ready condition.\n" +
			"A restore is asked by creating a ContactRestore (kubectl apply -f); it needs the ContactRestore CRD.",
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.restore(cmd.Context(), args)
		},
	}
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

func (o *options) restore(ctx context.Context, args []string) error {
	ok, err := o.hasResource(ocsv1.GroupVersion, restoreGVR.Resource)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("%w in this cluster (%s %s): install the CRDs of an operator release that has it", errNoRestoreAPI, restoreGVR.Resource, ocsv1.GroupVersion)
	}
	res := o.dyn.Resource(restoreGVR).Namespace(o.namespace)
	var items []unstructured.Unstructured
	if len(args) == 1 {
		u, err := res.Get(ctx, args[0], metav1.GetOptions{})
		if err != nil {
			return fmt.Errorf("reading ContactRestore %s/%s: %w", o.namespace, args[0], err)
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
