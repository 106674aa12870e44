package controllers

import (
	"testing"
	"time"

	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	ocsv1 "github.com/ocsha/ocs-ha-operator/api/v1alpha1"
	"github.com/ocsha/ocs-ha-operator/internal/placement"
)

func TestUserHomingConditions(t *testing.T) {
	done := metav1.NewTime(time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC))
	failover := &ocsv1.Operation{Type: ocsv1.OperationFailover, ID: "failover-1", Step: stepMoving, Total: 500, Moved: 200, Forced: 200, From: []string{"ocs2"}}
	type cond struct {
		status metav1.ConditionStatus
		reason string
	}
	tests := map[string]struct {
		report homingReport
		last   *ocsv1.Operation
		want   map[string]cond
		// wantMessage, when set, must appear in the message of the condition it names.
		wantMessage map[string]string
	}{
		"a balanced pool is Ready and nothing else": {
			report: homingReport{},
			want: map[string]cond{
				ocsv1.ConditionReady:            {metav1.ConditionTrue, ocsv1.ReasonBalanced},
				ocsv1.ConditionReconciling:      {metav1.ConditionFalse, ocsv1.ReasonIdle},
				ocsv1.ConditionDegraded:         {metav1.ConditionFalse, ocsv1.ReasonAsExpected},
				ocsv1.ConditionStalled:          {metav1.ConditionFalse, ocsv1.ReasonAsExpected},
				ocsv1.ConditionFailoverRequired: {metav1.ConditionFalse, ocsv1.ReasonAsExpected},
			},
		},
		"a missing pool is named": {
			report:      homingReport{poolMissing: true},
			want:        map[string]cond{ocsv1.ConditionReady: {metav1.ConditionFalse, ocsv1.ReasonPoolNotFound}},
			wantMessage: map[string]string{ocsv1.ConditionReady: "OCSPool ns/pool"},
		},
		"a running failover reports progress and degradation": {
			report: homingReport{running: failover, notServing: []string{"ocs2 (Unreachable)"}},
			want: map[string]cond{
				ocsv1.ConditionReady:       {metav1.ConditionFalse, ocsv1.ReasonFailingOver},
				ocsv1.ConditionReconciling: {metav1.ConditionTrue, ocsv1.ReasonFailingOver},
				ocsv1.ConditionDegraded:    {metav1.ConditionTrue, ocsv1.ReasonUsersFailedOver},
			},
			wantMessage: map[string]string{ocsv1.ConditionReconciling: "200/500 users moved"},
		},
		"a server waiting for the failover delay keeps Ready false": {
			report: homingReport{
				gates:      map[string]*gateObjection{"ocs2": {Reason: ocsv1.ReasonFailoverDelay, Message: "Server ocs2 is Unreachable for 10s"}},
				notServing: []string{"ocs2 (Unreachable)"},
			},
			want: map[string]cond{
				ocsv1.ConditionReady:            {metav1.ConditionFalse, ocsv1.ReasonFailoverDelay},
				ocsv1.ConditionDegraded:         {metav1.ConditionTrue, ocsv1.ReasonServerNotServing},
				ocsv1.ConditionFailoverRequired: {metav1.ConditionFalse, ocsv1.ReasonAsExpected},
			},
		},
		"manual failover asks for a human": {
			report: homingReport{
				gates:      map[string]*gateObjection{"ocs2": {Reason: ocsv1.ReasonFailoverManual, Message: "set spec.failover.mode to Automatic"}},
				notServing: []string{"ocs2 (Unreachable)"},
			},
			want: map[string]cond{
				ocsv1.ConditionReady:            {metav1.ConditionFalse, ocsv1.ReasonFailoverManual},
				ocsv1.ConditionFailoverRequired: {metav1.ConditionTrue, ocsv1.ReasonFailoverManual},
			},
			wantMessage: map[string]string{ocsv1.ConditionFailoverRequired: "spec.failover.mode to Automatic"},
		},
		"after a failover with the server still down: not Ready (kstatus agrees with Argo CD) and Degraded": {
			report: homingReport{notServing: []string{"ocs2 (Unreachable)"}},
			last:   &ocsv1.Operation{Type: ocsv1.OperationFailover, CompletionTime: &done, Message: "500 users force-moved."},
			want: map[string]cond{
				ocsv1.ConditionReady:    {metav1.ConditionFalse, ocsv1.ReasonServerNotServing},
				ocsv1.ConditionDegraded: {metav1.ConditionTrue, ocsv1.ReasonServerNotServing},
			},
			wantMessage: map[string]string{ocsv1.ConditionDegraded: "500 users force-moved."},
		},
		"manual failback: users are served but not as desired, so not Ready, and Degraded says what to do": {
			report: homingReport{heldBack: 500},
			want: map[string]cond{
				ocsv1.ConditionReady:    {metav1.ConditionFalse, ocsv1.ReasonFailbackManual},
				ocsv1.ConditionDegraded: {metav1.ConditionTrue, ocsv1.ReasonFailbackManual},
			},
			wantMessage: map[string]string{ocsv1.ConditionDegraded: "500 users are on their failover home; set spec.failback: Automatic"},
		},
		"a failover without a snapshot says the contacts are lost": {
			report: homingReport{notServing: []string{"ocs2 (Unreachable)"}},
			last:   &ocsv1.Operation{Type: ocsv1.OperationFailover, CompletionTime: &done, Forced: 500, Moved: 500, Message: "500 users force-moved."},
			want: map[string]cond{
				ocsv1.ConditionDegraded: {metav1.ConditionTrue, ocsv1.ReasonFailoverWithoutSnapshot},
			},
			wantMessage: map[string]string{ocsv1.ConditionDegraded: "contacts of its 500 force-moved users are lost"},
		},
		"a failback held by its hold-down: not Ready, says until when, users still on their failover home": {
			report: homingReport{waiting: &waiting{op: ocsv1.OperationFailback, reason: ocsv1.ReasonWaitingForStableServer, message: "waits until 10:02"}},
			want: map[string]cond{
				ocsv1.ConditionReady:       {metav1.ConditionFalse, ocsv1.ReasonWaitingForStableServer},
				ocsv1.ConditionDegraded:    {metav1.ConditionTrue, ocsv1.ReasonUsersFailedOver},
				ocsv1.ConditionReconciling: {metav1.ConditionFalse, ocsv1.ReasonIdle},
			},
			wantMessage: map[string]string{ocsv1.ConditionReady: "waits until 10:02"},
		},
		"a rebalance waiting for approval: not Ready, not Degraded": {
			report: homingReport{waiting: &waiting{op: ocsv1.OperationRebalance, reason: ocsv1.ReasonWaitingForApproval, message: "set spec.approvedProposal"}},
			want: map[string]cond{
				ocsv1.ConditionReady:    {metav1.ConditionFalse, ocsv1.ReasonWaitingForApproval},
				ocsv1.ConditionDegraded: {metav1.ConditionFalse, ocsv1.ReasonAsExpected},
			},
		},
		"no serving server: nothing moves": {
			report: homingReport{noServing: true},
			want:   map[string]cond{ocsv1.ConditionReady: {metav1.ConditionFalse, ocsv1.ReasonNoServingServer}},
		},
		"repeated failures during an operation stall it while it keeps running": {
			report: homingReport{running: failover, stalledReason: ocsv1.ReasonMovesFailing, stalledMessage: "sip:a@b failed"},
			want: map[string]cond{
				ocsv1.ConditionStalled:     {metav1.ConditionTrue, ocsv1.ReasonMovesFailing},
				ocsv1.ConditionReconciling: {metav1.ConditionTrue, ocsv1.ReasonFailingOver},
			},
		},
		"a missing Secret stalls without an operation": {
			report: homingReport{stalledReason: ocsv1.ReasonCredentialsSecretMissing, stalledMessage: "Secret ns/winrm does not exist"},
			want: map[string]cond{
				ocsv1.ConditionStalled:     {metav1.ConditionTrue, ocsv1.ReasonCredentialsSecretMissing},
				ocsv1.ConditionReady:       {metav1.ConditionFalse, ocsv1.ReasonCredentialsSecretMissing},
				ocsv1.ConditionReconciling: {metav1.ConditionFalse, ocsv1.ReasonCredentialsSecretMissing},
			},
		},
		"a failed pass does not claim the pool is balanced": {
			report:      homingReport{passError: "listing the users of OCSPool ns/pool via ocs1: timeout"},
			want:        map[string]cond{ocsv1.ConditionReady: {metav1.ConditionFalse, ocsv1.ReasonInternalError}},
			wantMessage: map[string]string{ocsv1.ConditionReady: "timeout"},
		},
		"pending moves keep Ready false": {
			report: homingReport{pending: 3},
			want:   map[string]cond{ocsv1.ConditionReady: {metav1.ConditionFalse, ocsv1.ReasonMovesPending}},
		},
		"suspended": {
			report: homingReport{suspended: true},
			want:   map[string]cond{ocsv1.ConditionReady: {metav1.ConditionFalse, ocsv1.ReasonSuspended}},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			g := NewWithT(t)
			h := &ocsv1.UserHoming{
				ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "homing", Generation: 3},
				Spec:       ocsv1.UserHomingSpec{PoolRef: ocsv1.PoolReference{Name: "pool"}},
			}
			h.Status.LastOperation = tc.last
			initConditions(h)
			applyHomingStatus(h, &tc.report)
			for typ, want := range tc.want {
				c := meta.FindStatusCondition(h.Status.Conditions, typ)
				g.Expect(c).NotTo(BeNil(), typ)
				g.Expect(c.Status).To(Equal(want.status), "%s: %s", typ, c.Message)
				g.Expect(c.Reason).To(Equal(want.reason), "%s: %s", typ, c.Message)
				g.Expect(c.ObservedGeneration).To(BeEquivalentTo(3))
			}
			for typ, msg := range tc.wantMessage {
				g.Expect(meta.FindStatusCondition(h.Status.Conditions, typ).Message).To(ContainSubstring(msg))
			}
		})
	}
}

func TestUserHomingSelectWave(t *testing.T) {
	g := NewWithT(t)
	b := func(from, to string, forced bool) placement.Batch {
		return placement.Batch{From: from, To: to, Forced: forced, Users: []string{from + "-" + to}}
	}
	batches := []placement.Batch{
		b("ocs3", "ocs1", true), b("ocs3", "ocs1", true), b("ocs3", "ocs1", true),
		b("ocs3", "ocs2", true), b("ocs4", "ocs2", false), b("ocs4", "ocs2", false),
	}
	// At most two batches per target, in plan order.
	g.Expect(selectWave(batches, nil, 2)).To(Equal([]placement.Batch{batches[0], batches[1], batches[3], batches[4]}))
	// A filter (forced moves only) applies before the per-target limit.
	g.Expect(selectWave(batches, func(x placement.Batch) bool { return x.Forced }, 2)).To(Equal([]placement.Batch{batches[0], batches[1], batches[3]}))
	g.Expect(selectWave(nil, nil, 2)).To(BeEmpty())
}

func TestUserHomingDescribeFailures(t *testing.T) {
	g := NewWithT(t)
	msg := describeHomingFailures([]moveFailure{{"sip:a@x", "boom"}, {"sip:b@x", "boom"}, {"sip:c@x", "boom"}, {"sip:d@x", "boom"}}, "move")
	g.Expect(msg).To(Equal("The move of 4 users failed (sip:a@x, sip:b@x, sip:c@x and 1 more): boom"))
}
