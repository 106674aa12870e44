package cli

import (
	"context"
	"fmt"
	"sort"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	ocsv1 "github.com/ocsha/ocs-ha-operator/api/v1alpha1"
)

func newStatusCommand(o *options) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "status [pool]",
		Short: "Show a pool in one screen: servers, the running operation, backups, what needs a human",
		Long: "status <pool> shows the pool's servers (state, maintenance, users, preflight), each UserHoming's\n" +
			"running or last operation with its progress, each ContactBackup's newest snapshot and its age, and\n" +
			"the conditions that need a human (Stalled, Degraded, FailoverRequired, a proposal to approve).\n" +
			"Without a pool it lists the pools of the namespace (-A: of every namespace).",
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return o.statusAll(cmd.Context())
			}
			r, err := o.collectStatus(cmd.Context(), o.namespace, args[0])
			if err != nil {
				return err
			}
			if o.output != outputTable {
				return o.printObject(r)
			}
			return printStatus(o.streams.Out, r)
		},
	}
	cmd.Flags().BoolVarP(&o.allNamespaces, "all-namespaces", "A", false, "Without a pool: list the pools of every namespace.")
	return cmd
}

// collectStatus reads a pool and the homings and backups that name it.
func (o *options) collectStatus(ctx context.Context, ns, name string) (StatusReport, error) {
	u, err := o.dyn.Resource(poolGVR).Namespace(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return StatusReport{}, fmt.Errorf("reading OCSPool %s/%s: %w", ns, name, err)
	}
	var pool ocsv1.OCSPool
	if err := fromUnstructured(u, &pool); err != nil {
		return StatusReport{}, err
	}
	homings, err := o.listForPool(ctx, homingGVR, ns, name)
	if err != nil {
		return StatusReport{}, err
	}
	backups, err := o.listForPool(ctx, backupGVR, ns, name)
	if err != nil {
		return StatusReport{}, err
	}
	hin := make([]homingInput, 0, len(homings))
	for i := range homings {
		h := homingInput{proposal: proposalOf(&homings[i]), approvedProposal: approvedProposalOf(&homings[i])}
		if err := fromUnstructured(&homings[i], &h.homing); err != nil {
			return StatusReport{}, err
		}
		hin = append(hin, h)
	}
	bs := make([]ocsv1.ContactBackup, len(backups))
	for i := range backups {
		if err := fromUnstructured(&backups[i], &bs[i]); err != nil {
			return StatusReport{}, err
		}
	}
	return buildStatus(&pool, hin, bs, o.now()), nil
}

// listForPool lists the objects of one resource in ns whose spec.poolRef.name is pool, by name.
func (o *options) listForPool(ctx context.Context, gvr schema.GroupVersionResource, ns, pool string) ([]unstructured.Unstructured, error) {
	list, err := o.dyn.Resource(gvr).Namespace(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("listing %ss in namespace %s: %w", kindOf(gvr), ns, err)
	}
	var out []unstructured.Unstructured
	for _, item := range list.Items {
		if ref, _, _ := unstructured.NestedString(item.Object, "spec", "poolRef", "name"); ref == pool {
			out = append(out, item)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].GetName() < out[j].GetName() })
	return out, nil
}

func fromUnstructured(u *unstructured.Unstructured, into any) error {
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, into); err != nil {
		return fmt.Errorf("decoding %s %s/%s: %w", u.GetKind(), u.GetNamespace(), u.GetName(), err)
	}
	return nil
}

// PoolSummary is one line of `kubectl ocs status` without a pool.
type PoolSummary struct {
	Namespace  string `json:"namespace"`
	Pool       string `json:"pool"`
	Phase      string `json:"phase,omitempty"`
	Serving    string `json:"serving,omitempty"`
	HomedUsers int32  `json:"homedUsers"`
	Operation  string `json:"operation,omitempty"`
	Progress   string `json:"progress,omitempty"`
	LastBackup string `json:"lastBackupAge,omitempty"`
	Attention  int    `json:"attention"`
}

// summarize shortens a pool's report to one line: the first homing's operation, the newest backup.
func summarize(r StatusReport) PoolSummary {
	s := PoolSummary{Namespace: r.Namespace, Pool: r.Pool, Phase: r.Phase, Serving: r.Serving,
		HomedUsers: r.HomedUsers, Attention: len(r.Attention)}
	for _, h := range r.Homings {
		if op := h.Operation; op != nil && (s.Operation == "" || op.Running) {
			s.Operation, s.Progress = op.Type, op.Progress
			if op.Running {
				s.Operation += " (running)"
			}
		}
	}
	var newest *metav1.Time
	for _, b := range r.Backups {
		if b.SnapshotTime != nil && (newest == nil || b.SnapshotTime.After(newest.Time)) {
			newest, s.LastBackup = b.SnapshotTime, b.Age
		}
	}
	return s
}

func (o *options) statusAll(ctx context.Context) error {
	ns := o.namespace
	if o.allNamespaces {
		ns = metav1.NamespaceAll
	}
	list, err := o.dyn.Resource(poolGVR).Namespace(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return fmt.Errorf("listing OCSPools: %w", err)
	}
	out := []PoolSummary{}
	for _, p := range list.Items {
		r, err := o.collectStatus(ctx, p.GetNamespace(), p.GetName())
		if err != nil {
			return err
		}
		out = append(out, summarize(r))
	}
	if o.output != outputTable {
		return o.printObject(out)
	}
	if len(out) == 0 {
		fmt.Fprintf(o.streams.Out, "No OCSPool found%s.\n", inNamespace(ns))
		return nil
	}
	t := newTable(o.streams.Out, "NAMESPACE", "POOL", "PHASE", "SERVING", "USERS", "OPERATION", "PROGRESS", "LAST BACKUP", "NEEDS A HUMAN")
	for _, s := range out {
		t.add(s.Namespace, s.Pool, orDash(s.Phase), orDash(s.Serving), itoa(s.HomedUsers), orDash(s.Operation),
			orDash(s.Progress), orDash(s.LastBackup), fmt.Sprint(s.Attention))
	}
	return t.flush()
}

func inNamespace(ns string) string {
	if ns == "" {
		return ""
	}
	return " in namespace " + ns
}
