package controllers

import (
	"testing"

	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	ocsv1 "github.com/ocsha/ocs-ha-operator/api/v1alpha1"
)

func twoPathSpec() ocsv1.OCSPoolSpec {
	return ocsv1.OCSPoolSpec{
		Roles: []ocsv1.RoleServerSpec{
			{Name: "med1", Role: ocsv1.RoleMediation, Paths: []string{"1"}},
			{Name: "med2", Role: ocsv1.RoleMediation, Paths: []string{"2"}},
			{Name: "edge1", Role: ocsv1.RoleEdge},
		},
		Gateways: []ocsv1.GatewaySpec{{Name: "gw1", Path: "1"}, {Name: "gw2", Path: "2"}},
	}
}

func roleStatus(med1, med2 ocsv1.ServerState, gw1, gw2 ocsv1.GatewayState) ocsv1.OCSPoolStatus {
	return ocsv1.OCSPoolStatus{
		Roles:    []ocsv1.RoleServerStatus{{Name: "med1", State: med1}, {Name: "med2", State: med2}},
		Gateways: []ocsv1.GatewayStatus{{Name: "gw1", State: gw1}, {Name: "gw2", State: gw2}},
	}
}

func TestAssessPSTN(t *testing.T) {
	const h, u, ok, no = ocsv1.ServerHealthy, ocsv1.ServerUnhealthy, ocsv1.GatewayAnswering, ocsv1.GatewayNotAnswering
	for name, tc := range map[string]struct {
		st      ocsv1.OCSPoolStatus
		status  metav1.ConditionStatus
		reason  string
		mention []string
	}{
		"both paths serve":                   {roleStatus(h, h, ok, ok), metav1.ConditionTrue, ocsv1.ReasonAllPathsServing, nil},
		"a gateway down leaves one path":     {roleStatus(h, h, ok, no), metav1.ConditionTrue, ocsv1.ReasonPathDegraded, []string{"path 2: gateway gw2 not answering OPTIONS"}},
		"a Mediation down on the other path": {roleStatus(u, h, ok, no), metav1.ConditionFalse, ocsv1.ReasonNoPathServing, []string{"path 1: Mediation server med1 is Unhealthy", "path 2: gateway gw2"}},
		"nothing probed yet":                 {roleStatus("", "", "", ""), metav1.ConditionUnknown, ocsv1.ReasonProbing, nil},
	} {
		t.Run(name, func(t *testing.T) {
			g := NewWithT(t)
			a := assessPSTN(twoPathSpec(), tc.st)
			g.Expect(a.Status).To(Equal(tc.status), a.Message)
			g.Expect(a.Reason).To(Equal(tc.reason), a.Message)
			for _, m := range tc.mention {
				g.Expect(a.Message).To(ContainSubstring(m))
			}
		})
	}
}

func TestAssessPSTNPathWithoutGateway(t *testing.T) {
	g := NewWithT(t)
	spec := twoPathSpec()
	spec.Gateways = spec.Gateways[:1]
	a := assessPSTN(spec, roleStatus(ocsv1.ServerHealthy, ocsv1.ServerHealthy, ocsv1.GatewayAnswering, ""))
	g.Expect(a.Reason).To(Equal(ocsv1.ReasonPathDegraded))
	g.Expect(a.Message).To(ContainSubstring("path 2: no gateway"))
}

func TestSetRoleConditionsKeepsReadyAndMarksDegraded(t *testing.T) {
	g := NewWithT(t)
	pool := &ocsv1.OCSPool{Spec: twoPathSpec()}
	pool.Status = roleStatus(ocsv1.ServerHealthy, ocsv1.ServerHealthy, ocsv1.GatewayAnswering, ocsv1.GatewayNotAnswering)
	pool.Status.Roles = append(pool.Status.Roles, ocsv1.RoleServerStatus{Name: "edge1", State: ocsv1.ServerHealthy})
	setCondition(pool, ocsv1.ConditionReady, metav1.ConditionTrue, ocsv1.ReasonServersServing, "")
	setCondition(pool, ocsv1.ConditionDegraded, metav1.ConditionFalse, ocsv1.ReasonAsExpected, "")
	setRoleConditions(pool)
	g.Expect(cond(pool, ocsv1.ConditionDegraded).Reason).To(Equal(ocsv1.ReasonRoleNotServing))
	g.Expect(cond(pool, ocsv1.ConditionReady).Status).To(Equal(metav1.ConditionTrue))
	g.Expect(cond(pool, ocsv1.ConditionExternalAccessAvailable).Status).To(Equal(metav1.ConditionTrue))
	g.Expect(derivePhase(pool.Status.Conditions)).To(Equal("Degraded"))

	pool.Spec.Roles, pool.Spec.Gateways = nil, nil
	setRoleConditions(pool)
	g.Expect(cond(pool, ocsv1.ConditionPSTNAvailable).Type).To(BeEmpty(), "removed without gateways")
}

func TestNextGatewayStatusHysteresis(t *testing.T) {
	g := NewWithT(t)
	now := metav1.Now()
	spec := ocsv1.GatewaySpec{Name: "gw2", Path: "2"}
	st := nextGatewayStatus(ocsv1.GatewayStatus{}, spec, gatewayResult{OK: true, Response: "200 OK"}, 2, now)
	g.Expect(st.State).To(Equal(ocsv1.GatewayAnswering))
	st = nextGatewayStatus(st, spec, gatewayResult{Detail: "no answer"}, 2, now)
	g.Expect(st.State).To(Equal(ocsv1.GatewayAnswering), "one failure keeps the state")
	st = nextGatewayStatus(st, spec, gatewayResult{Detail: "no answer"}, 2, now)
	g.Expect(st.State).To(Equal(ocsv1.GatewayNotAnswering))
	st = nextGatewayStatus(st, spec, gatewayResult{OK: true, Response: "200 OK"}, 2, now)
	g.Expect(st.State).To(Equal(ocsv1.GatewayAnswering))
	g.Expect(st.ConsecutiveFailures).To(BeZero())
}
