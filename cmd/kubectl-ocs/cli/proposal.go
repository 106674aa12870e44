package cli

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// Proposal is a UserHoming's status.proposal: the plan of a failback or rebalance that waits for
// spec.approvedProposal to name its id. It is read from the raw object, by its JSON names, so the
// plugin does not depend on the Go types of the API version it was built with.
type Proposal struct {
	ID                string `json:"id"`
	Operation         string `json:"operation,omitempty"`
	Moves             []Move `json:"moves,omitempty"`
	EstimatedDuration string `json:"estimatedDuration,omitempty"`
	// Contacts is what the API reports as the contacts affected (a count, as written).
	Contacts    string `json:"contacts,omitempty"`
	CreatedTime string `json:"createdTime,omitempty"`
}

// Move is the users a proposal moves from one server to another.
type Move struct {
	From  string `json:"from"`
	To    string `json:"to"`
	Users int64  `json:"users"`
}

// Field paths of the approval API, by their JSON names.
var (
	proposalPath         = []string{"status", "proposal"}
	approvedProposalPath = []string{"spec", "approvedProposal"}
)

// proposalOf reads status.proposal; nil when there is none (or it has no id).
func proposalOf(u *unstructured.Unstructured) *Proposal {
	m, found, err := unstructured.NestedMap(u.Object, proposalPath...)
	if err != nil || !found {
		return nil
	}
	p := &Proposal{
		ID:                scalar(m["id"]),
		Operation:         scalar(m["operation"]),
		EstimatedDuration: scalar(m["estimatedDuration"]),
		Contacts:          scalar(m["contacts"]),
		CreatedTime:       scalar(m["createdTime"]),
	}
	if p.ID == "" {
		return nil
	}
	moves, _ := m["moves"].([]any)
	for _, raw := range moves {
		mv, ok := raw.(map[string]any)
		if !ok {
			continue
		}
		users, _ := integer(mv["users"])
		p.Moves = append(p.Moves, Move{From: scalar(mv["from"]), To: scalar(mv["to"]), Users: users})
	}
	return p
}

// approvedProposalOf reads spec.approvedProposal.
func approvedProposalOf(u *unstructured.Unstructured) string {
	s, _, _ := unstructured.NestedString(u.Object, approvedProposalPath...)
	return s
}

// summary says in a few words what the proposal moves.
func (p *Proposal) summary() string {
	var users int64
	parts := make([]string, 0, len(p.Moves))
	for _, m := range p.Moves {
		users += m.Users
		parts = append(parts, fmt.Sprintf("%s→%s %d", m.From, m.To, m.Users))
	}
	s := fmt.Sprintf("%d users", users)
	if len(parts) > 0 {
		s += ": " + strings.Join(parts, ", ")
	}
	if p.EstimatedDuration != "" {
		s += ", about " + p.EstimatedDuration
	}
	return s
}

// scalar prints a JSON scalar (string, number, bool) as text; anything else is empty.
func scalar(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case int64, float64, bool:
		return fmt.Sprint(x)
	}
	return ""
}

// integer reads a JSON number.
func integer(v any) (int64, bool) {
	switch x := v.(type) {
	case int64:
		return x, true
	case float64:
		return int64(x), true
	}
	return 0, false
}
