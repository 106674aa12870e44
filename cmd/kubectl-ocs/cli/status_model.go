package cli

import (
	"fmt"
	"strconv"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/duration"

	ocsv1 "github.com/ocsha/ocs-ha-operator/api/v1alpha1"
)

// StatusReport is one pool's state as `kubectl ocs status` shows it; -o json|yaml prints it.
type StatusReport struct {
	Namespace  string         `json:"namespace"`
	Pool       string         `json:"pool"`
	Product    string         `json:"product,omitempty"`
	Phase      string         `json:"phase,omitempty"`
	Serving    string         `json:"serving,omitempty"`
	HomedUsers int32          `json:"homedUsers"`
	Suspended  bool           `json:"suspended,omitempty"`
	Servers    []ServerReport `json:"servers"`
	Homings    []HomingReport `json:"homings"`
	Backups    []BackupReport `json:"backups"`
	// Attention lists what needs a human; empty when nothing does.
	Attention []AttentionItem `json:"attention"`
}

// ServerReport is one server of the pool.
type ServerReport struct {
	Name         string `json:"name"`
	State        string `json:"state"`
	Maintenance  bool   `json:"maintenance"`
	HomedUsers   int32  `json:"homedUsers"`
	DesiredUsers *int32 `json:"desiredUsers,omitempty"`
	Preflight    string `json:"preflight,omitempty"`
	Message      string `json:"message,omitempty"`
}

// HomingReport is one UserHoming of the pool with its running or last operation.
type HomingReport struct {
	Name         string           `json:"name"`
	Phase        string           `json:"phase,omitempty"`
	TotalUsers   int32            `json:"totalUsers"`
	PendingMoves int32            `json:"pendingMoves"`
	Operation    *OperationReport `json:"operation,omitempty"`
	Proposal     *Proposal        `json:"proposal,omitempty"`
	// ApprovedProposal is spec.approvedProposal.
	ApprovedProposal string `json:"approvedProposal,omitempty"`
}

// OperationReport is status.lastOperation in short.
type OperationReport struct {
	Type      string      `json:"type"`
	Step      string      `json:"step,omitempty"`
	Running   bool        `json:"running"`
	Progress  string      `json:"progress"`
	Moved     int32       `json:"moved"`
	Total     int32       `json:"total,omitempty"`
	Forced    int32       `json:"forced,omitempty"`
	Restored  int32       `json:"contactsRestored,omitempty"`
	Failed    int32       `json:"failed,omitempty"`
	StartTime metav1.Time `json:"startTime"`
	// Age is how long ago the operation started, as kubectl prints ages.
	Age      string       `json:"age"`
	EndTime  *metav1.Time `json:"completionTime,omitempty"`
	Snapshot string       `json:"snapshot,omitempty"`
	Message  string       `json:"message,omitempty"`
}

// BackupReport is one ContactBackup of the pool with its newest snapshot.
type BackupReport struct {
	Name         string       `json:"name"`
	Phase        string       `json:"phase,omitempty"`
	LastSnapshot string       `json:"lastSnapshot,omitempty"`
	SnapshotTime *metav1.Time `json:"lastSnapshotTime,omitempty"`
	// Age is the newest snapshot's age, as kubectl prints ages.
	Age      string `json:"age,omitempty"`
	Users    int32  `json:"users,omitempty"`
	Contacts int32  `json:"contacts,omitempty"`
	Verified string `json:"verified,omitempty"`
}

// AttentionItem is a condition, or a pending proposal, that waits for a human.
type AttentionItem struct {
	Object    string `json:"object"`
	Condition string `json:"condition"`
	Reason    string `json:"reason,omitempty"`
	Message   string `json:"message,omitempty"`
}

// homingInput is a UserHoming as read, with the approval fields taken from the raw object.
type homingInput struct {
	homing           ocsv1.UserHoming
	proposal         *Proposal
	approvedProposal string
}

// conditionProposalPending is the attention row of a proposal that waits for approval; it is
// not a condition of the API, only of this report.
const conditionProposalPending = "ProposalPending"

// buildStatus assembles the report of one pool; now dates the ages.
func buildStatus(pool *ocsv1.OCSPool, homings []homingInput, backups []ocsv1.ContactBackup, now time.Time) StatusReport {
	r := StatusReport{
		Namespace: pool.Namespace, Pool: pool.Name, Product: string(pool.Spec.Product),
		Phase: pool.Status.Phase, Serving: pool.Status.ServingServers, HomedUsers: pool.Status.HomedUsers,
		Suspended: pool.Spec.Suspend,
		Servers:   serverReports(pool, homings), Homings: []HomingReport{}, Backups: []BackupReport{},
		Attention: attention("OCSPool/"+pool.Name, pool.Status.Conditions),
	}
	for _, h := range homings {
		r.Homings = append(r.Homings, homingReport(h, now))
		r.Attention = append(r.Attention, homingAttention(h)...)
	}
	for i := range backups {
		r.Backups = append(r.Backups, backupReport(&backups[i], now))
		r.Attention = append(r.Attention, attention("ContactBackup/"+backups[i].Name, backups[i].Status.Conditions)...)
	}
	return r
}

// serverReports lists the servers in spec order, with the observed state where there is one and
// the users the first homing wants there.
func serverReports(pool *ocsv1.OCSPool, homings []homingInput) []ServerReport {
	observed := map[string]ocsv1.ServerStatus{}
	for _, s := range pool.Status.Servers {
		observed[s.Name] = s
	}
	desired := map[string]int32{}
	if len(homings) > 0 {
		for _, s := range homings[0].homing.Status.Servers {
			desired[s.Name] = s.DesiredUsers
		}
	}
	out := make([]ServerReport, 0, len(pool.Spec.Servers))
	for _, s := range pool.Spec.Servers {
		row := ServerReport{Name: s.Name, State: string(ocsv1.ServerUnknown), Maintenance: s.Maintenance}
		if st, ok := observed[s.Name]; ok {
			row.State, row.HomedUsers, row.Message = string(st.State), st.HomedUsers, st.Message
			if st.Preflight != nil {
				row.Preflight = string(st.Preflight.Result)
			}
		}
		if d, ok := desired[s.Name]; ok {
			row.DesiredUsers = &d
		}
		out = append(out, row)
	}
	return out
}

func homingReport(h homingInput, now time.Time) HomingReport {
	st := h.homing.Status
	r := HomingReport{
		Name: h.homing.Name, Phase: st.Phase, TotalUsers: st.TotalUsers, PendingMoves: st.PendingMoves,
		Proposal: h.proposal, ApprovedProposal: h.approvedProposal,
	}
	if op := st.LastOperation; op != nil {
		r.Operation = &OperationReport{
			Type: string(op.Type), Step: op.Step, Running: op.CompletionTime == nil,
			Progress: progress(op.Moved, op.Total), Moved: op.Moved, Total: op.Total, Forced: op.Forced,
			Restored: op.ContactsRestored, Failed: op.Failed, StartTime: op.StartTime, Age: age(op.StartTime.Time, now), EndTime: op.CompletionTime,
			Snapshot: op.Snapshot, Message: op.Message,
		}
	}
	return r
}

// progress reads as the printer column does: moved/total, or moved alone when the total is unknown.
func progress(moved, total int32) string {
	if total <= 0 {
		return strconv.Itoa(int(moved))
	}
	return fmt.Sprintf("%d/%d", moved, total)
}

func homingAttention(h homingInput) []AttentionItem {
	out := attention("UserHoming/"+h.homing.Name, h.homing.Status.Conditions)
	if p := h.proposal; p != nil && p.ID != "" && p.ID != h.approvedProposal {
		out = append(out, AttentionItem{
			Object: "UserHoming/" + h.homing.Name, Condition: conditionProposalPending, Reason: p.Operation,
			Message: fmt.Sprintf("%s proposal %s waits for approval (%s): kubectl ocs approve %s",
				orDash(p.Operation), p.ID, p.summary(), h.homing.Name),
		})
	}
	return out
}

// humanConditions are the conditions that, True, ask for a human.
var humanConditions = []string{ocsv1.ConditionStalled, ocsv1.ConditionDegraded, ocsv1.ConditionFailoverRequired}

// attention lists the conditions of one object that need a human.
func attention(object string, conds []metav1.Condition) []AttentionItem {
	var out []AttentionItem
	for _, t := range humanConditions {
		if c := meta.FindStatusCondition(conds, t); c != nil && c.Status == metav1.ConditionTrue {
			out = append(out, AttentionItem{Object: object, Condition: t, Reason: c.Reason, Message: c.Message})
		}
	}
	return out
}

func backupReport(b *ocsv1.ContactBackup, now time.Time) BackupReport {
	r := BackupReport{Name: b.Name, Phase: b.Status.Phase}
	if c := meta.FindStatusCondition(b.Status.Conditions, ocsv1.ConditionVerified); c != nil {
		r.Verified = string(c.Status)
	}
	if len(b.Status.Snapshots) > 0 {
		s := b.Status.Snapshots[0]
		t := s.Time
		r.LastSnapshot, r.SnapshotTime, r.Users, r.Contacts = s.Name, &t, s.Users, s.Contacts
		r.Age = age(t.Time, now)
	}
	return r
}

// age prints a duration as kubectl's AGE column does.
func age(t, now time.Time) string {
	if t.IsZero() {
		return "<unknown>"
	}
	return duration.HumanDuration(now.Sub(t))
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
