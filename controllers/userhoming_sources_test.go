package controllers

import (
	"testing"
	"time"

	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	ocsv1 "github.com/ocsha/ocs-ha-operator/api/v1alpha1"
	"github.com/ocsha/ocs-ha-operator/internal/ocs"
	"github.com/ocsha/ocs-ha-operator/internal/restoreplan"
)

func TestUserHomingPoolOwner(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)
	homing := func(name string, created time.Time, deleting bool) ocsv1.UserHoming {
		h := ocsv1.UserHoming{ObjectMeta: metav1.ObjectMeta{Name: name, UID: types.UID(name), CreationTimestamp: metav1.NewTime(created)}}
		if deleting {
			now := metav1.NewTime(t0.Add(time.Hour))
			h.DeletionTimestamp = &now
		}
		return h
	}
	cases := []struct {
		name    string
		homings []ocsv1.UserHoming
		want    string
	}{
		{"none", nil, ""},
		{"alone", []ocsv1.UserHoming{homing("a", t0, false)}, "a"},
		{"the oldest owns", []ocsv1.UserHoming{homing("b", t0.Add(time.Second), false), homing("z", t0, false)}, "z"},
		{"same second: by name", []ocsv1.UserHoming{homing("b", t0, false), homing("a", t0, false)}, "a"},
		{"one being deleted hands over", []ocsv1.UserHoming{homing("old", t0, true), homing("new", t0.Add(time.Minute), false)}, "new"},
		{"all being deleted", []ocsv1.UserHoming{homing("old", t0, true)}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g := NewWithT(t)
			got := poolOwner(c.homings)
			if c.want == "" {
				g.Expect(got).To(BeNil())
				return
			}
			g.Expect(got).NotTo(BeNil())
			g.Expect(got.Name).To(Equal(c.want))
		})
	}
}

func TestUserHomingFailoverSourceAction(t *testing.T) {
	fact := func(state ocsv1.ServerState) *serverFact { return &serverFact{name: "ocs2", state: state} }
	delay := &gateObjection{Reason: ocsv1.ReasonFailoverDelay}
	cases := []struct {
		name string
		f    *serverFact
		gate *gateObjection
		want sourceAction
	}{
		{"down", fact(ocsv1.ServerUnreachable), nil, evacuateSource},
		// The OCSPool was re-created or the state changed: the delay clock restarted, but the
		// failover already served it.
		{"down with the delay restarted", fact(ocsv1.ServerUnhealthy), delay, evacuateSource},
		{"answering again", fact(ocsv1.ServerHealthy), nil, sourceBack},
		{"answering in maintenance", fact(ocsv1.ServerDrained), nil, sourceBack},
		{"a direct check answered", fact(ocsv1.ServerUnreachable), &gateObjection{Reason: ocsv1.ReasonServerAnswering}, sourceBack},
		{"left the pool", nil, nil, sourceBack},
		{"unknown after the pool was re-created", fact(ocsv1.ServerUnknown), nil, waitForSource},
		{"credentials refused", fact(ocsv1.ServerAuthenticationFailed), nil, waitForSource},
		{"switched to Manual", fact(ocsv1.ServerUnreachable), &gateObjection{Reason: ocsv1.ReasonFailoverManual}, waitForSource},
		{"no serving server", fact(ocsv1.ServerUnreachable), &gateObjection{Reason: ocsv1.ReasonNoServingServer}, waitForSource},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			NewWithT(t).Expect(failoverSourceAction(c.f, c.gate)).To(Equal(c.want))
		})
	}
}

func TestUserHomingGivenUpMatchesTheFailureDigest(t *testing.T) {
	g := NewWithT(t)
	op := &ocsv1.Operation{FailedPasses: stalledAfter, FailureDigest: failureDigest([]string{"sip:b@x", "sip:a@x"})}
	g.Expect(givenUp(op, []string{"sip:a@x", "sip:b@x"})).To(BeTrue())
	g.Expect(givenUp(op, []string{"sip:a@x"})).To(BeFalse(), "a user left who did not fail")
	g.Expect(givenUp(op, nil)).To(BeFalse())
	op.FailedPasses = stalledAfter - 1
	g.Expect(givenUp(op, []string{"sip:a@x", "sip:b@x"})).To(BeFalse(), "not yet stalledAfter passes")
}

func TestUserHomingUnmovableUsers(t *testing.T) {
	g := NewWithT(t)
	users := []ocs.HomedUser{
		{SIP: "sip:o'brien@corp.example.com", Server: "ocs2"},
		{SIP: `sip:dq"x@corp.example.com`, Server: "ocs2"},
		{SIP: "sip:a@corp.example.com", Server: "ocs1"},
	}
	g.Expect(usersOn(users, map[string]bool{"ocs2": true}, true)).To(Equal([]string{"sip:o'brien@corp.example.com"}))
	g.Expect(usersOn(users, map[string]bool{"ocs2": true}, false)).To(HaveLen(2))
}

func TestUserHomingImportFailuresKeepUnconfirmedUsers(t *testing.T) {
	g := NewWithT(t)
	b := restoreplan.Batch{Server: "ocs1", SIPs: []string{"sip:a@x", "sip:b@x", "sip:c@x"}}
	// Every user confirmed: nothing uncertain.
	all := importOutcome{results: []ocs.ImportResult{{SIP: "sip:a@x", OK: true}, {SIP: "sip:b@x", OK: true}, {SIP: "sip:c@x", OK: true}}}
	g.Expect(importFailures(b, all)).To(BeEmpty())
	// A reply lost in part: b refused, c missing.
	part := importOutcome{results: []ocs.ImportResult{{SIP: "sip:a@x", OK: true}, {SIP: "sip:b@x", Message: "refused"}}}
	got := importFailures(b, part)
	g.Expect(got).To(HaveLen(2))
	g.Expect(got[0].sip).To(Equal("sip:b@x"))
	g.Expect(got[1].sip).To(Equal("sip:c@x"))
}

func TestUserHomingFailoverSummaryNeverSaysRestoredForUsersThatWereNot(t *testing.T) {
	g := NewWithT(t)
	op := &ocsv1.Operation{Forced: 3, ContactsRestored: 1, Snapshot: "s1"}
	clean := failoverSummary(op, nil, &restoreOutcome{})
	g.Expect(clean).To(Equal("3 users force-moved, contacts of 1 users restored from snapshot s1."))
	msg := failoverSummary(op, []moveFailure{{sip: "sip:x@y", message: "it stays"}},
		&restoreOutcome{notRestored: 2, failures: []moveFailure{{sip: "sip:a@x", message: "no readable copy"}, {sip: "sip:b@x", message: "no readable copy"}}})
	g.Expect(msg).To(ContainSubstring("sip:x@y"))
	g.Expect(msg).To(ContainSubstring("sip:a@x"))
	g.Expect(msg).To(ContainSubstring("Without restored contacts"))
	none := failoverSummary(&ocsv1.Operation{Forced: 3}, nil, &restoreOutcome{notRestored: 3, note: "Contacts were not restored: spec.contactRestore.backupRef is not set."})
	g.Expect(none).To(ContainSubstring("3 users have no restored contacts"))
}
