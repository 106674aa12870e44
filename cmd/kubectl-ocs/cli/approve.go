package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
)

// errNoProposal refuses an approval when the homing publishes no plan.
var errNoProposal = errors.New("no proposal to approve")

func newApproveCommand(o *options) *cobra.Command {
	return &cobra.Command{
		Use:   "approve <userhoming>",
		Short: "Approve the failback or rebalance a UserHoming proposes (spec.approval: Manual)",
		Long: "approve copies the UserHoming's status.proposal.id into spec.approvedProposal: the operator then runs\n" +
			"exactly that plan. A changed plan gets a new id and needs a new approval. Under GitOps, commit\n" +
			"spec.approvedProposal instead, or Git will undo it.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.approve(cmd.Context(), args[0])
		},
	}
}

// approvalDecision says what approving this homing does: the patch to send, or why nothing is sent.
type approvalDecision struct {
	proposal *Proposal
	// patch is the merge patch of spec.approvedProposal; nil when nothing is to be sent.
	patch []byte
	// already is true when spec.approvedProposal already names the proposal.
	already bool
}

// decideApproval is the pure part of approve.
func decideApproval(u *unstructured.Unstructured) (approvalDecision, error) {
	p := proposalOf(u)
	if p == nil {
		return approvalDecision{}, fmt.Errorf("UserHoming %s/%s has %w: status.proposal is empty (spec.approval Automatic, or nothing to fail back or rebalance)",
			u.GetNamespace(), u.GetName(), errNoProposal)
	}
	if approvedProposalOf(u) == p.ID {
		return approvalDecision{proposal: p, already: true}, nil
	}
	patch, err := json.Marshal(map[string]any{"spec": map[string]any{"approvedProposal": p.ID}})
	if err != nil {
		return approvalDecision{}, fmt.Errorf("encoding the approval: %w", err)
	}
	return approvalDecision{proposal: p, patch: patch}, nil
}

func (o *options) approve(ctx context.Context, name string) error {
	res := o.dyn.Resource(homingGVR).Namespace(o.namespace)
	u, err := res.Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("reading UserHoming %s/%s: %w", o.namespace, name, err)
	}
	d, err := decideApproval(u)
	if err != nil {
		return err
	}
	if d.patch != nil {
		if u, err = res.Patch(ctx, name, types.MergePatchType, d.patch, metav1.PatchOptions{}); err != nil {
			return fmt.Errorf("approving UserHoming %s/%s: %w", o.namespace, name, err)
		}
		// An API server whose CRD predates approvals prunes the field without an error.
		if approvedProposalOf(u) != d.proposal.ID {
			return fmt.Errorf("UserHoming %s/%s did not keep spec.approvedProposal: the installed CRD predates approvals; upgrade the CRDs", o.namespace, name)
		}
	}
	if o.output != outputTable {
		return o.printObject(u)
	}
	return printApproval(o.streams.Out, name, d)
}
