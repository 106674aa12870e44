package controllers

import (
	"fmt"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	ocsv1 "github.com/ocsha/ocs-ha-operator/api/v1alpha1"
)

func TestFailoverSourcesToAdd(t *testing.T) {
	failover := &ocsv1.Operation{Type: ocsv1.OperationFailover, From: []string{"ocs1"}}
	drain := &ocsv1.Operation{Type: ocsv1.OperationDrain, From: []string{"ocs1"}}
	cases := []struct {
		name     string
		running  *ocsv1.Operation
		failFrom []string
		want     []string
	}{
		{"nothing runs", nil, []string{"ocs1", "ocs2"}, []string{"ocs1", "ocs2"}},
		{"a planned operation runs", drain, []string{"ocs1"}, []string{"ocs1"}},
		{"the failover's own source", failover, []string{"ocs1"}, nil},
		{"a new source past the gate", failover, []string{"ocs1", "ocs2"}, []string{"ocs2"}},
		{"nothing past the gate", failover, nil, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			NewWithT(t).Expect(failoverSourcesToAdd(c.running, c.failFrom)).To(Equal(c.want))
		})
	}
}

func TestInheritedSources(t *testing.T) {
	done := metav1.NewTime(time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC))
	answers := func(up ...string) func(string) bool {
		return func(name string) bool { return setOfNames(up)[name] }
	}
	cases := []struct {
		name    string
		running *ocsv1.Operation
		answers func(string) bool
		want    []string
	}{
		{"no operation", nil, answers(), nil},
		{"a planned operation leaves nothing", &ocsv1.Operation{Type: ocsv1.OperationDrain, From: []string{"ocs1"}}, answers(), nil},
		{"a completed failover leaves nothing: its restore ended",
			&ocsv1.Operation{Type: ocsv1.OperationFailover, From: []string{"ocs1"}, CompletionTime: &done}, answers(), nil},
		{"the running failover's sources still down",
			&ocsv1.Operation{Type: ocsv1.OperationFailover, From: []string{"ocs1", "ocs4"}}, answers("ocs3"), []string{"ocs1", "ocs4"}},
		{"a source that answers again keeps its users and their contacts",
			&ocsv1.Operation{Type: ocsv1.OperationFailover, From: []string{"ocs1", "ocs4"}}, answers("ocs4"), []string{"ocs1"}},
		{"inherited ones are inherited again",
			&ocsv1.Operation{Type: ocsv1.OperationFailover, From: []string{"ocs1", "ocs2"}, InheritedFrom: []string{"ocs1"}}, answers(), []string{"ocs1", "ocs2"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			NewWithT(t).Expect(inheritedSources(c.running, c.answers)).To(Equal(c.want))
		})
	}
}

func TestRestoreWaitsOn(t *testing.T) {
	homes := map[string]string{"sip:a@x": "ocs2", "sip:b@x": "ocs4", "sip:c@x": "ocs2", "sip:d@x": "ocs3", "sip:e@x": "ocs1"}
	up := func(name string) bool { return name == "ocs3" }
	cases := []struct {
		name    string
		waiting []string
		want    []string
	}{
		{"nobody waits", nil, nil},
		{"users on down servers, each server once, in name order", []string{"sip:b@x", "sip:c@x", "sip:a@x"}, []string{"ocs2", "ocs4"}},
		{"a user on a server that answers (in maintenance) holds nothing back", []string{"sip:d@x"}, nil},
		{"a user no longer in the directory holds nothing back", []string{"sip:gone@x"}, nil},
		{"a user left on the failover's own source (no move could carry it) is reported, not waited for", []string{"sip:e@x"}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			NewWithT(t).Expect(restoreWaitsOn(c.waiting, homes, []string{"ocs1"}, up)).To(Equal(c.want))
		})
	}
}

func TestUnrestoredNames(t *testing.T) {
	many := make([]string, 12)
	for i := range many {
		many[i] = fmt.Sprintf("sip:u%02d@x", i)
	}
	cases := []struct {
		name string
		end  restoreOutcome
		want string
	}{
		{"names not known", restoreOutcome{notRestored: 2}, "their names are not known here"},
		{"known but empty is not a list", restoreOutcome{notRestored: 2, unnamedKnown: true}, "their names are not known here"},
		{"a few, all named", restoreOutcome{notRestored: 2, unnamed: []string{"sip:a@x", "sip:b@x"}, unnamedKnown: true}, "sip:a@x, sip:b@x"},
		{"many: the first ten and how many more", restoreOutcome{notRestored: 12, unnamed: many, unnamedKnown: true},
			strings.Join(many[:10], ", ") + " and 2 more"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			end := c.end
			NewWithT(t).Expect(unrestoredNames(&end)).To(HavePrefix(c.want))
			msg := failoverSummary(&ocsv1.Operation{Forced: int32(end.notRestored)}, nil, &end)
			NewWithT(t).Expect(msg).To(ContainSubstring(fmt.Sprintf("%d users have no restored contacts: %s", end.notRestored, c.want)))
		})
	}
}
