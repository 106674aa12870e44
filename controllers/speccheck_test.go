package controllers

import (
	"strings"
	"testing"

	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	ocsv1 "github.com/ocsha/ocs-ha-operator/api/v1alpha1"
)

func TestHomingSpecProblems(t *testing.T) {
	pool := &ocsv1.OCSPool{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "pool"},
		Spec:       ocsv1.OCSPoolSpec{Servers: []ocsv1.ServerSpec{{Name: "ocs1"}, {Name: "ocs2"}}},
	}
	pin := func(user, server string) ocsv1.Pin { return ocsv1.Pin{User: user, Server: server} }
	tests := map[string]struct {
		spec ocsv1.UserHomingSpec
		want []string // one substring per problem, in order
	}{
		"a spec naming only the pool's servers has no problem": {
			spec: ocsv1.UserHomingSpec{
				Pins:    []ocsv1.Pin{pin("sip:a@corp.example.com", "ocs1"), pin("sip:b@corp.example.com", "ocs2")},
				Weights: map[string]int32{"ocs1": 1, "ocs2": 3},
			},
		},
		"a pin on a server the pool does not have names the field and the servers": {
			spec: ocsv1.UserHomingSpec{Pins: []ocsv1.Pin{pin("sip:a@corp.example.com", "ocs1"), pin("sip:b@corp.example.com", "ocs3")}},
			want: []string{`spec.pins[1].server "ocs3" is not a server of OCSPool ns/pool (ocs1, ocs2)`},
		},
		"a weight for a server the pool does not have names the key": {
			spec: ocsv1.UserHomingSpec{Weights: map[string]int32{"ocs1": 1, "ocs9": 2, "ocs0": 1}},
			want: []string{"spec.weights[ocs0] is not a server", "spec.weights[ocs9] is not a server"},
		},
		"the same user pinned twice in different case names both pins": {
			spec: ocsv1.UserHomingSpec{Pins: []ocsv1.Pin{
				pin("sip:Alice@corp.example.com", "ocs1"), pin("sip:bob@corp.example.com", "ocs1"), pin("sip:alice@CORP.example.com", "ocs2"),
			}},
			want: []string{`spec.pins[2].user "sip:alice@CORP.example.com" pins the user of spec.pins[0] ("sip:Alice@corp.example.com") again`},
		},
		"every problem is listed": {
			spec: ocsv1.UserHomingSpec{
				Pins:    []ocsv1.Pin{pin("sip:a@x", "ocs7"), pin("sip:A@x", "ocs1")},
				Weights: map[string]int32{"ocs8": 1},
			},
			want: []string{"spec.pins[0].server", "spec.pins[1].user", "spec.weights[ocs8]"},
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			g := NewWithT(t)
			got := homingSpecProblems(tt.spec, pool)
			g.Expect(got).To(HaveLen(len(tt.want)), "%v", got)
			for i, w := range tt.want {
				g.Expect(got[i]).To(ContainSubstring(w))
			}
		})
	}
}

func TestHomingSpecMessageSaysEverythingElseRuns(t *testing.T) {
	msg := homingSpecMessage([]string{"spec.pins[1].server \"ocs3\" is not a server of OCSPool ns/pool (ocs1, ocs2)"})
	if !strings.HasPrefix(msg, "UserHoming spec.pins[1].server") || !strings.Contains(msg, "failover included") {
		t.Fatalf("message %q", msg)
	}
}
