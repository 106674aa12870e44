package controllers

import (
	"net"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	ocsv1 "github.com/ocsha/ocs-ha-operator/api/v1alpha1"
	"github.com/ocsha/ocs-ha-operator/internal/ocs"
	"github.com/ocsha/ocs-ha-operator/internal/sim/gateway"
)

var _ = Describe("OCSPool roles and PSTN paths", func() {
	It("reports each broken link of two PSTN paths and the Edge, and comes back clean", func() {
		ns := newNamespace()
		fake := ocs.NewFake("ocs1", "ocs2", "med1", "med2", "edge1", "edge2")
		for _, m := range []string{"med1", "med2"} {
			fake.SetService(m, "RTCMEDSRV", ocs.StateRunning)
		}
		for _, e := range []string{"edge1", "edge2"} {
			for _, svc := range []string{"RTCSRV", "RTCMRAUTH", "RTCMEDIARELAY", "RTCDATAPROXY"} {
				fake.SetService(e, svc, ocs.StateRunning)
			}
		}
		gw1, gw2 := gateway.New("gw1", "127.0.0.1:0", nil), gateway.New("gw2", "127.0.0.1:0", nil)
		Expect(gateway.Run(testCtx, gw1, gw2)).To(Succeed())
		DeferCleanup(gw1.Close)
		DeferCleanup(gw2.Close)

		startManager(ns, Options{Agents: StaticProvider{Agent: fake}})
		pool := fastFakePool(ns)
		pool.Spec.Health.ProbeTimeout = "500ms"
		winrm := pool.Spec.Servers[0].WinRM
		for _, r := range []ocsv1.RoleServerSpec{
			{Name: "med1", Role: ocsv1.RoleMediation, Paths: []string{"1"}},
			{Name: "med2", Role: ocsv1.RoleMediation, Paths: []string{"2"}},
			{Name: "edge1", Role: ocsv1.RoleEdge},
			{Name: "edge2", Role: ocsv1.RoleEdge},
		} {
			r.FQDN, r.WinRM = r.Name+".corp.example.com", winrm
			pool.Spec.Roles = append(pool.Spec.Roles, r)
		}
		for i, g := range []*gateway.Gateway{gw1, gw2} {
			host, _, _ := net.SplitHostPort(g.Addr())
			pool.Spec.Gateways = append(pool.Spec.Gateways, ocsv1.GatewaySpec{Name: g.Name(), Address: host,
				Port: int32(gateway.Port(g.Addr())), Transport: ocsv1.SIPTransportTCP, Path: []string{"1", "2"}[i]})
		}
		Expect(k8sClient.Create(testCtx, pool)).To(Succeed())

		By("both paths and both Edges up")
		waitRoles(pool, func(g Gomega) {
			g.Expect(cond(pool, ocsv1.ConditionPSTNAvailable)).To(HaveField("Status", metav1.ConditionTrue))
			g.Expect(cond(pool, ocsv1.ConditionPSTNAvailable)).To(HaveField("Reason", ocsv1.ReasonAllPathsServing))
			g.Expect(cond(pool, ocsv1.ConditionExternalAccessAvailable)).To(HaveField("Status", metav1.ConditionTrue))
			g.Expect(cond(pool, ocsv1.ConditionDegraded)).To(HaveField("Status", metav1.ConditionFalse))
			g.Expect(cond(pool, ocsv1.ConditionReady)).To(HaveField("Status", metav1.ConditionTrue))
		})
		Expect(pool.Status.Servers).To(HaveLen(2), "role servers never join status.servers")

		By("gateway 2 stops answering OPTIONS")
		Expect(gw2.Silence()).To(Succeed())
		waitRoles(pool, func(g Gomega) {
			pstn := cond(pool, ocsv1.ConditionPSTNAvailable)
			g.Expect(pstn.Status).To(Equal(metav1.ConditionTrue))
			g.Expect(pstn.Reason).To(Equal(ocsv1.ReasonPathDegraded))
			g.Expect(pstn.Message).To(ContainSubstring("path 2: gateway gw2 not answering OPTIONS"))
			d := cond(pool, ocsv1.ConditionDegraded)
			g.Expect(d.Status).To(Equal(metav1.ConditionTrue))
			g.Expect(d.Reason).To(Equal(ocsv1.ReasonRoleNotServing))
			g.Expect(d.Message).To(ContainSubstring("path 2"))
			g.Expect(cond(pool, ocsv1.ConditionReady)).To(HaveField("Status", metav1.ConditionTrue))
			g.Expect(cond(pool, ocsv1.ConditionReconciling)).To(HaveField("Status", metav1.ConditionFalse))
			g.Expect(pool.Status.Phase).To(Equal("Degraded"))
		})
		Expect(poolEvents(ns, eventGatewayNotAnswering)).NotTo(BeEmpty())

		By("Mediation server 1 stopped too")
		fake.SetService("med1", "RTCMEDSRV", ocs.StateStopped)
		waitRoles(pool, func(g Gomega) {
			pstn := cond(pool, ocsv1.ConditionPSTNAvailable)
			g.Expect(pstn.Status).To(Equal(metav1.ConditionFalse))
			g.Expect(pstn.Reason).To(Equal(ocsv1.ReasonNoPathServing))
			g.Expect(pstn.Message).To(ContainSubstring("path 1: Mediation server med1 is Unhealthy"))
			g.Expect(pstn.Message).To(ContainSubstring("path 2: gateway gw2 not answering OPTIONS"))
		})
		Expect(poolEvents(ns, eventPSTNUnavailable)).NotTo(BeEmpty())

		By("an Edge service stopped on both Edges")
		fake.SetService("edge1", "RTCSRV", ocs.StateStopped)
		fake.SetService("edge2", "RTCSRV", ocs.StateStopped)
		waitRoles(pool, func(g Gomega) {
			ext := cond(pool, ocsv1.ConditionExternalAccessAvailable)
			g.Expect(ext.Status).To(Equal(metav1.ConditionFalse))
			g.Expect(ext.Reason).To(Equal(ocsv1.ReasonNoEdgeServing))
			g.Expect(ext.Message).To(ContainSubstring("RTCSRV"))
		})

		By("all back")
		Expect(gw2.Start()).To(Succeed())
		fake.SetService("med1", "RTCMEDSRV", ocs.StateRunning)
		fake.SetService("edge1", "RTCSRV", ocs.StateRunning)
		fake.SetService("edge2", "RTCSRV", ocs.StateRunning)
		waitRoles(pool, func(g Gomega) {
			g.Expect(cond(pool, ocsv1.ConditionPSTNAvailable)).To(HaveField("Reason", ocsv1.ReasonAllPathsServing))
			g.Expect(cond(pool, ocsv1.ConditionExternalAccessAvailable)).To(HaveField("Reason", ocsv1.ReasonAllEdgesServing))
			g.Expect(cond(pool, ocsv1.ConditionDegraded)).To(HaveField("Status", metav1.ConditionFalse))
			g.Expect(pool.Status.Phase).To(Equal("Ready"))
		})
		Expect(fake.Calls(ocs.OpMoveUsers)).To(BeZero(), "no user moved")
	})
})

// waitRoles re-reads pool until check passes.
func waitRoles(pool *ocsv1.OCSPool, check func(g Gomega)) {
	GinkgoHelper()
	Eventually(func(g Gomega) {
		g.Expect(k8sClient.Get(testCtx, client.ObjectKeyFromObject(pool), pool)).To(Succeed())
		check(g)
	}).Should(Succeed(), func() string { return conditionsString(pool.Status.Conditions) })
}

// cond returns a condition of pool, an empty one when absent.
func cond(pool *ocsv1.OCSPool, t string) metav1.Condition {
	if c := meta.FindStatusCondition(pool.Status.Conditions, t); c != nil {
		return *c
	}
	return metav1.Condition{}
}
