package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	ocsv1 "github.com/ocsha/ocs-ha-operator/api/v1alpha1"
)

func testPool(maintenance map[string]bool, states map[string]ocsv1.ServerState) *ocsv1.OCSPool {
	p := &ocsv1.OCSPool{ObjectMeta: metav1.ObjectMeta{Name: "site-a", Namespace: "ns"}}
	for _, n := range []string{"ocs1", "ocs2", "ocs3"} {
		if _, ok := maintenance[n]; !ok {
			continue
		}
		p.Spec.Servers = append(p.Spec.Servers, ocsv1.ServerSpec{Name: n, Maintenance: maintenance[n]})
		if st, ok := states[n]; ok {
			p.Status.Servers = append(p.Status.Servers, ocsv1.ServerStatus{Name: n, State: st})
		}
	}
	return p
}

func TestDecideMaintenance(t *testing.T) {
	healthy := map[string]ocsv1.ServerState{"ocs1": ocsv1.ServerHealthy, "ocs2": ocsv1.ServerHealthy, "ocs3": ocsv1.ServerHealthy}
	tests := map[string]struct {
		maintenance map[string]bool
		states      map[string]ocsv1.ServerState
		server      string
		on          bool
		wantErr     error
		wantPatch   string
		wantWarning string
	}{
		"on patches the server's index after testing its name": {
			maintenance: map[string]bool{"ocs1": false, "ocs2": false}, states: healthy, server: "ocs2", on: true,
			wantPatch: `[{"op":"test","path":"/spec/servers/1/name","value":"ocs2"},{"op":"add","path":"/spec/servers/1/maintenance","value":true}]`,
		},
		"off patches false": {
			maintenance: map[string]bool{"ocs1": true, "ocs2": false}, states: healthy, server: "ocs1", on: false,
			wantPatch: `[{"op":"test","path":"/spec/servers/0/name","value":"ocs1"},{"op":"add","path":"/spec/servers/0/maintenance","value":false}]`,
		},
		"a server already as asked needs no patch": {
			maintenance: map[string]bool{"ocs1": true, "ocs2": false}, states: healthy, server: "ocs1", on: true,
		},
		"the last server out of maintenance is refused": {
			maintenance: map[string]bool{"ocs1": false, "ocs2": true}, states: healthy, server: "ocs1", on: true,
			wantErr: errLastServing,
		},
		"off is allowed even for the last server": {
			maintenance: map[string]bool{"ocs1": true, "ocs2": true}, states: healthy, server: "ocs2", on: false,
			wantPatch: `[{"op":"test","path":"/spec/servers/1/name","value":"ocs2"},{"op":"add","path":"/spec/servers/1/maintenance","value":false}]`,
		},
		"an unknown server is refused": {
			maintenance: map[string]bool{"ocs1": false, "ocs2": false}, states: healthy, server: "OCS1", on: true,
			wantErr: errUnknownServer,
		},
		"a target that is not Healthy is warned about": {
			maintenance: map[string]bool{"ocs1": false, "ocs2": false, "ocs3": false},
			states:      map[string]ocsv1.ServerState{"ocs1": ocsv1.ServerHealthy, "ocs2": ocsv1.ServerHealthy, "ocs3": ocsv1.ServerUnreachable},
			server:      "ocs1", on: true,
			wantPatch:   `[{"op":"test","path":"/spec/servers/0/name","value":"ocs1"},{"op":"add","path":"/spec/servers/0/maintenance","value":true}]`,
			wantWarning: "Warning: ocs3 not Healthy; ocs1's users move only to serving servers.",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			g := NewWithT(t)
			d, err := decideMaintenance(testPool(tc.maintenance, tc.states), tc.server, tc.on)
			if tc.wantErr != nil {
				g.Expect(errors.Is(err, tc.wantErr)).To(BeTrue(), "%v", err)
				return
			}
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(string(d.patch)).To(Equal(tc.wantPatch))
			g.Expect(d.warning).To(Equal(tc.wantWarning))
		})
	}
}

func homingObject(spec, status map[string]any) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "ocs.ocsha.io/v1alpha1", "kind": "UserHoming",
		"metadata": map[string]any{"name": "site-a", "namespace": "ns"},
		"spec":     spec, "status": status,
	}}
}

func TestDecideApproval(t *testing.T) {
	proposal := map[string]any{"id": "p-1", "operation": "Rebalance", "moves": []any{
		map[string]any{"from": "ocs1", "to": "ocs2", "users": int64(40)},
		map[string]any{"from": "ocs1", "to": "ocs3", "users": float64(2)},
	}}
	tests := map[string]struct {
		obj         *unstructured.Unstructured
		wantErr     error
		wantPatch   string
		wantAlready bool
	}{
		"a proposal is approved by its id": {
			obj:       homingObject(map[string]any{"approval": "Manual"}, map[string]any{"proposal": proposal}),
			wantPatch: `{"spec":{"approvedProposal":"p-1"}}`,
		},
		"an older approval is replaced": {
			obj:       homingObject(map[string]any{"approvedProposal": "p-0"}, map[string]any{"proposal": proposal}),
			wantPatch: `{"spec":{"approvedProposal":"p-1"}}`,
		},
		"an approved proposal needs no patch": {
			obj:         homingObject(map[string]any{"approvedProposal": "p-1"}, map[string]any{"proposal": proposal}),
			wantAlready: true,
		},
		"no proposal is refused": {
			obj: homingObject(map[string]any{}, map[string]any{}), wantErr: errNoProposal,
		},
		"a proposal without id is refused": {
			obj: homingObject(map[string]any{}, map[string]any{"proposal": map[string]any{"operation": "Failback"}}), wantErr: errNoProposal,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			g := NewWithT(t)
			d, err := decideApproval(tc.obj)
			if tc.wantErr != nil {
				g.Expect(errors.Is(err, tc.wantErr)).To(BeTrue(), "%v", err)
				return
			}
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(string(d.patch)).To(Equal(tc.wantPatch))
			g.Expect(d.already).To(Equal(tc.wantAlready))
			g.Expect(d.proposal.Moves).To(Equal([]Move{{From: "ocs1", To: "ocs2", Users: 40}, {From: "ocs1", To: "ocs3", Users: 2}}))
			g.Expect(d.proposal.summary()).To(Equal("42 users: ocs1→ocs2 40, ocs1→ocs3 2"))
		})
	}
}

func cond(typ string, status metav1.ConditionStatus, reason string) metav1.Condition {
	return metav1.Condition{Type: typ, Status: status, Reason: reason, Message: reason + " message"}
}

func TestBuildStatus(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	running := &ocsv1.Operation{Type: ocsv1.OperationFailover, StartTime: metav1.NewTime(now.Add(-90 * time.Second)), Moved: 1200, Total: 2500}
	done := &ocsv1.Operation{Type: ocsv1.OperationDrain, StartTime: metav1.NewTime(now.Add(-time.Hour)), Moved: 7,
		CompletionTime: ptrTo(metav1.NewTime(now))}
	tests := map[string]struct {
		poolConds     []metav1.Condition
		homing        homingInput
		backups       []ocsv1.ContactBackup
		wantAttention []string
		wantOperation *OperationReport
		wantBackupAge string
	}{
		"a calm pool needs nobody": {
			poolConds:     []metav1.Condition{cond("Ready", "True", "AllServersServing"), cond("Stalled", "False", "AsExpected"), cond("Degraded", "False", "AsExpected")},
			wantAttention: nil,
		},
		"Stalled, Degraded and FailoverRequired when True need a human, in that order": {
			poolConds: []metav1.Condition{cond("Degraded", "True", "ServerNotServing"), cond("Stalled", "True", "AuthenticationFailed")},
			homing: homingInput{homing: ocsv1.UserHoming{Status: ocsv1.UserHomingStatus{CommonStatus: ocsv1.CommonStatus{
				Conditions: []metav1.Condition{cond("FailoverRequired", "True", "FailoverManual"), cond("Stalled", "Unknown", "Initializing")}}}}},
			wantAttention: []string{"OCSPool/site-a Stalled", "OCSPool/site-a Degraded", "UserHoming/site-a FailoverRequired"},
		},
		"a pending proposal needs a human until approved": {
			homing:        homingInput{proposal: &Proposal{ID: "p-2", Operation: "Failback"}, approvedProposal: "p-1"},
			wantAttention: []string{"UserHoming/site-a ProposalPending"},
		},
		"an approved proposal does not": {
			homing: homingInput{proposal: &Proposal{ID: "p-2"}, approvedProposal: "p-2"},
		},
		"a running operation shows its progress and age": {
			homing:        homingInput{homing: ocsv1.UserHoming{Status: ocsv1.UserHomingStatus{LastOperation: running}}},
			wantOperation: &OperationReport{Type: "Failover", Running: true, Progress: "1200/2500", Moved: 1200, Total: 2500, StartTime: running.StartTime, Age: "90s"},
		},
		"a finished operation without total shows the moved count": {
			homing:        homingInput{homing: ocsv1.UserHoming{Status: ocsv1.UserHomingStatus{LastOperation: done}}},
			wantOperation: &OperationReport{Type: "Drain", Progress: "7", Moved: 7, StartTime: done.StartTime, Age: "60m", EndTime: done.CompletionTime},
		},
		"a backup's conditions and newest snapshot age are reported": {
			backups: []ocsv1.ContactBackup{{ObjectMeta: metav1.ObjectMeta{Name: "b"}, Status: ocsv1.ContactBackupStatus{
				CommonStatus: ocsv1.CommonStatus{Conditions: []metav1.Condition{cond("Degraded", "True", "BackupOverdue")}},
				Snapshots:    []ocsv1.SnapshotSummary{{Name: "new", Time: metav1.NewTime(now.Add(-26 * time.Hour))}, {Name: "old"}},
			}}},
			wantAttention: []string{"ContactBackup/b Degraded"},
			wantBackupAge: "26h",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			g := NewWithT(t)
			pool := testPool(map[string]bool{"ocs1": false, "ocs2": true}, map[string]ocsv1.ServerState{"ocs1": ocsv1.ServerHealthy})
			pool.Status.Conditions = tc.poolConds
			tc.homing.homing.Name = "site-a"
			r := buildStatus(pool, []homingInput{tc.homing}, tc.backups, now)

			var got []string
			for _, a := range r.Attention {
				got = append(got, a.Object+" "+a.Condition)
			}
			g.Expect(got).To(Equal(tc.wantAttention))
			g.Expect(r.Homings[0].Operation).To(Equal(tc.wantOperation))
			// A server the pool has not reported yet is Unknown, not missing.
			g.Expect(r.Servers).To(HaveLen(2))
			g.Expect(r.Servers[1]).To(Equal(ServerReport{Name: "ocs2", State: "Unknown", Maintenance: true}))
			if tc.wantBackupAge != "" {
				g.Expect(r.Backups[0].Age).To(Equal(tc.wantBackupAge))
				g.Expect(r.Backups[0].LastSnapshot).To(Equal("new"))
			}
		})
	}
}

func TestSummarizePrefersTheRunningOperation(t *testing.T) {
	g := NewWithT(t)
	t1, t2 := metav1.NewTime(time.Unix(100, 0)), metav1.NewTime(time.Unix(200, 0))
	r := StatusReport{Namespace: "ns", Pool: "p", Attention: []AttentionItem{{}},
		Homings: []HomingReport{
			{Operation: &OperationReport{Type: "Failover", Running: true, Progress: "1/2"}},
			{Operation: &OperationReport{Type: "Drain", Progress: "5"}},
		},
		Backups: []BackupReport{{SnapshotTime: &t1, Age: "2h"}, {SnapshotTime: &t2, Age: "1h"}, {}},
	}
	g.Expect(summarize(r)).To(Equal(PoolSummary{Namespace: "ns", Pool: "p", Operation: "Failover (running)", Progress: "1/2", LastBackup: "1h", Attention: 1}))
}

func TestProposalReadsLooseNumbers(t *testing.T) {
	g := NewWithT(t)
	raw := `{"status":{"proposal":{"id":"x","contacts":1234,"estimatedDuration":"3m","moves":[{"from":"a","to":"b","users":5},"junk"]}}}`
	u := &unstructured.Unstructured{}
	g.Expect(json.Unmarshal([]byte(raw), &u.Object)).To(Succeed())
	p := proposalOf(u)
	g.Expect(p).To(Equal(&Proposal{ID: "x", Contacts: "1234", EstimatedDuration: "3m", Moves: []Move{{From: "a", To: "b", Users: 5}}}))
}

func TestPrintRequestOutcome(t *testing.T) {
	snap := []ocsv1.SnapshotSummary{{Name: "old", Time: metav1.NewTime(time.Date(2026, 3, 1, 11, 0, 0, 0, time.UTC)), Users: 1, SkippedServers: []string{"ocs2"}}}
	tests := map[string]struct {
		print   func(io.Writer, *ocsv1.ContactBackup) error
		status  ocsv1.ContactBackupStatus
		wantOut string
		wantErr bool
	}{
		"a written snapshot is shown": {
			print:   printSnapshot,
			status:  ocsv1.ContactBackupStatus{Snapshots: snap, CommonStatus: ocsv1.CommonStatus{Conditions: []metav1.Condition{cond("Ready", "True", "BackupPartial")}}},
			wantOut: "old        2026-03-01T11:00:00Z   1       0          0       ocs2",
		},
		"a failed run does not pass off the previous snapshot as its own": {
			print:   printSnapshot,
			status:  ocsv1.ContactBackupStatus{Snapshots: snap, CommonStatus: ocsv1.CommonStatus{Conditions: []metav1.Condition{cond("Ready", "False", "BackupFailed")}}},
			wantOut: "ContactBackup b: no snapshot was written: Ready False (BackupFailed) BackupFailed message",
			wantErr: true,
		},
		"a failed drill fails the command": {
			print:   printVerified,
			status:  ocsv1.ContactBackupStatus{LastVerifiedSnapshot: "old", CommonStatus: ocsv1.CommonStatus{Conditions: []metav1.Condition{cond("Verified", "False", "BlobCorrupt")}}},
			wantOut: "False      BlobCorrupt   old        BlobCorrupt message",
			wantErr: true,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			g := NewWithT(t)
			var out bytes.Buffer
			err := tc.print(&out, &ocsv1.ContactBackup{ObjectMeta: metav1.ObjectMeta{Name: "b", Namespace: "ns"}, Status: tc.status})
			g.Expect(out.String()).To(ContainSubstring(tc.wantOut))
			if tc.wantErr {
				g.Expect(errors.Is(err, errRequestFailed)).To(BeTrue(), "%v", err)
			} else {
				g.Expect(err).NotTo(HaveOccurred())
			}
		})
	}
}
