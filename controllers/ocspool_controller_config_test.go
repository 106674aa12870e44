package controllers

import (
	"errors"
	"fmt"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	ocsv1 "github.com/ocsha/ocs-ha-operator/api/v1alpha1"
	"github.com/ocsha/ocs-ha-operator/internal/winrm"
)

func TestOCSPoolWinRMSetupErrorNamesTheServersField(t *testing.T) {
	pool := &ocsv1.OCSPool{Spec: ocsv1.OCSPoolSpec{Servers: []ocsv1.ServerSpec{
		{Name: "ocs1"},
		{Name: "ocs2", WinRM: ocsv1.WinRMSpec{CASecretRef: &ocsv1.LocalObjectReference{Name: "ca"}}},
	}}}
	tests := map[string]struct {
		err       error
		wantField string // "" = not a setup error
	}{
		"an endpoint the transport refuses": {
			err:       &winrm.TargetError{Server: "ocs1", Err: errors.New("winrm target ocs1: Basic authentication over plain http sends the password readable")},
			wantField: "spec.servers[0].winrm",
		},
		"an unreadable CA points at the CA Secret": {
			err:       fmt.Errorf("configuring: %w", &winrm.TargetError{Server: "ocs2", Err: fmt.Errorf("winrm target ocs2: %w: CA certificate: junk", winrm.ErrTLS)}),
			wantField: "spec.servers[1].winrm.caSecretRef",
		},
		"a server the spec does not have": {
			err: &winrm.TargetError{Server: "ocs9", Err: errors.New("x")},
		},
		"another error": {err: errors.New("boom")},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			g := NewWithT(t)
			se := winrmSetupError(pool, tt.err)
			if tt.wantField == "" {
				g.Expect(se).To(BeNil())
				return
			}
			g.Expect(se).NotTo(BeNil())
			g.Expect(se.Field).To(Equal(tt.wantField))
			g.Expect(se.Reason).To(Equal(ocsv1.ReasonWinRMSetupFailed))
			reason, msg, ok := stallCause(fmt.Errorf("wrapped: %w", se))
			g.Expect(ok).To(BeTrue())
			g.Expect(reason).To(Equal(ocsv1.ReasonWinRMSetupFailed))
			g.Expect(msg).To(HavePrefix("OCSPool " + tt.wantField + ": winrm target"))
		})
	}
}

func TestOCSPoolStallCause(t *testing.T) {
	g := NewWithT(t)
	reason, msg, ok := stallCause(&SecretError{Field: "spec.servers[0].winrm.credentialsSecretRef", Secret: "ns/creds", Reason: ocsv1.ReasonCredentialsSecretMissing})
	g.Expect(ok).To(BeTrue())
	g.Expect(reason).To(Equal(ocsv1.ReasonCredentialsSecretMissing))
	g.Expect(msg).To(ContainSubstring("Secret ns/creds referenced by spec.servers[0].winrm.credentialsSecretRef does not exist"))
	_, _, ok = stallCause(errors.New("connection refused"))
	g.Expect(ok).To(BeFalse())
	_, _, ok = stallCause(nil)
	g.Expect(ok).To(BeFalse())
}

func TestOCSPoolMaintenanceEverywhere(t *testing.T) {
	server := func(name string, maintenance bool) ocsv1.ServerSpec {
		return ocsv1.ServerSpec{Name: name, Maintenance: maintenance}
	}
	tests := map[string]struct {
		servers []ocsv1.ServerSpec
		want    string // "" = nothing to report
	}{
		"no server in maintenance":  {servers: []ocsv1.ServerSpec{server("a", false), server("b", false)}},
		"one of two in maintenance": {servers: []ocsv1.ServerSpec{server("a", true), server("b", false)}},
		"every server in maintenance names every field": {
			servers: []ocsv1.ServerSpec{server("a", true), server("b", true), server("c", true)},
			want:    "OCSPool spec.servers[0].maintenance, spec.servers[1].maintenance, spec.servers[2].maintenance are all true",
		},
		"no server at all": {},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			got := maintenanceEverywhere(ocsv1.OCSPoolSpec{Servers: tt.servers})
			if tt.want == "" {
				NewWithT(t).Expect(got).To(BeEmpty())
				return
			}
			NewWithT(t).Expect(got).To(HavePrefix(tt.want))
		})
	}
}

func TestOCSPoolConditionsStallWhenEveryServerIsInMaintenance(t *testing.T) {
	g := NewWithT(t)
	now := metav1.NewTime(time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC))
	pool := &ocsv1.OCSPool{Spec: ocsv1.OCSPoolSpec{Servers: []ocsv1.ServerSpec{{Name: "a", Maintenance: true}, {Name: "b", Maintenance: true}}}}
	pool.Status.Servers = []ocsv1.ServerStatus{
		{Name: "a", State: ocsv1.ServerDraining, HomedUsers: 3, LastProbeTime: &now},
		{Name: "b", State: ocsv1.ServerDraining, HomedUsers: 2, LastProbeTime: &now},
	}
	setPoolConditions(pool, nil, nil)
	g.Expect(isTrue(pool, ocsv1.ConditionStalled)).To(BeTrue())
	stalled := findCondition(pool, ocsv1.ConditionStalled)
	g.Expect(stalled.Reason).To(Equal(ocsv1.ReasonAllServersInMaintenance))
	g.Expect(stalled.Message).To(ContainSubstring("spec.servers[1].maintenance"))

	// Refused probes need a human first: they win.
	setPoolConditions(pool, []rejection{{Server: "a", Reason: ocsv1.ReasonAuthenticationFailed, Detail: "refused"}}, nil)
	g.Expect(findCondition(pool, ocsv1.ConditionStalled).Reason).To(Equal(ocsv1.ReasonAuthenticationFailed))

	pool.Spec.Servers[1].Maintenance = false
	setPoolConditions(pool, nil, nil)
	g.Expect(isTrue(pool, ocsv1.ConditionStalled)).To(BeFalse())
}

func findCondition(pool *ocsv1.OCSPool, condType string) *metav1.Condition {
	for i := range pool.Status.Conditions {
		if pool.Status.Conditions[i].Type == condType {
			return &pool.Status.Conditions[i]
		}
	}
	return nil
}
