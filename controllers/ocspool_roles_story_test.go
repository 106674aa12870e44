package controllers

import (
	"net/http"
	"net/url"
	"strconv"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	ocsv1 "github.com/ocsha/ocs-ha-operator/api/v1alpha1"
	"github.com/ocsha/ocs-ha-operator/internal/sim"
)

// The acceptance against the emulator: two Mediation servers and two gateways (one
// PSTN path each), two Edges, probed over WinRM (CredSSP) and SIP OPTIONS as on a real site.
var _ = Describe("OCSPool roles and PSTN paths on the emulator", func() {
	It("reports each broken link of two PSTN paths and the Edges, and comes back clean", func() {
		ns := newNamespace()
		emu := startEmulator(sim.Config{Users: 6, ContactsPerUser: 2, Gateways: 2,
			Mediation: []string{"med1", "med2"}, Edge: []string{"edge1", "edge2"}})
		startManager(ns, Options{})
		before := homes(emu)
		pool := createPoolFor(ns, emu, func(p *ocsv1.OCSPool) {
			// Longer than createPoolFor's: a silent gateway costs a timeout, and a loaded machine
			// must not make a healthy role server miss one.
			p.Spec.Health.ProbeTimeout = "500ms"
			p.Spec.Roles, p.Spec.Gateways = rolesFor(emu, p.Spec.Servers[0].WinRM)
		})

		By("both paths and both Edges up")
		waitRoles(pool, func(g Gomega) {
			g.Expect(cond(pool, ocsv1.ConditionPSTNAvailable)).To(HaveField("Reason", ocsv1.ReasonAllPathsServing))
			g.Expect(cond(pool, ocsv1.ConditionPSTNAvailable)).To(HaveField("Status", metav1.ConditionTrue))
			g.Expect(cond(pool, ocsv1.ConditionExternalAccessAvailable)).To(HaveField("Reason", ocsv1.ReasonAllEdgesServing))
			g.Expect(cond(pool, ocsv1.ConditionDegraded)).To(HaveField("Status", metav1.ConditionFalse))
			g.Expect(cond(pool, ocsv1.ConditionReady)).To(HaveField("Status", metav1.ConditionTrue))
			g.Expect(pool.Status.Roles).To(HaveEach(HaveField("State", ocsv1.ServerHealthy)))
			g.Expect(pool.Status.Gateways).To(HaveEach(HaveField("State", ocsv1.GatewayAnswering)))
		})
		Expect(pool.Status.Servers).To(HaveLen(2), "role servers never join status.servers")

		By("gateway 2 stops answering OPTIONS")
		simAdmin(emu, http.MethodPost, "/gateways/gw2/stop", nil)
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

		By("Mediation server 1's service stopped too")
		simStopService(emu, "med1")
		waitRoles(pool, func(g Gomega) {
			pstn := cond(pool, ocsv1.ConditionPSTNAvailable)
			g.Expect(pstn.Status).To(Equal(metav1.ConditionFalse))
			g.Expect(pstn.Reason).To(Equal(ocsv1.ReasonNoPathServing))
			g.Expect(pstn.Message).To(ContainSubstring("path 1: Mediation server med1 is Unhealthy"))
			g.Expect(pstn.Message).To(ContainSubstring("path 2: gateway gw2 not answering OPTIONS"))
		})
		Expect(poolEvents(ns, eventPSTNUnavailable)).NotTo(BeEmpty())
		Expect(roleServerStatus(pool, "med1").Message).To(ContainSubstring("RTCMEDSRV"))

		By("the A/V Edge service stopped on one Edge, the other Edge crashed")
		simAdmin(emu, http.MethodPost, "/servers/edge1/stop-service?service="+url.QueryEscape("RTCMEDIARELAY"), nil)
		waitRoles(pool, func(g Gomega) {
			ext := cond(pool, ocsv1.ConditionExternalAccessAvailable)
			g.Expect(ext.Status).To(Equal(metav1.ConditionTrue))
			g.Expect(ext.Reason).To(Equal(ocsv1.ReasonEdgeDegraded))
			g.Expect(ext.Message).To(ContainSubstring("RTCMEDIARELAY"))
		})
		simCrash(emu, "edge2")
		waitRoles(pool, func(g Gomega) {
			ext := cond(pool, ocsv1.ConditionExternalAccessAvailable)
			g.Expect(ext.Status).To(Equal(metav1.ConditionFalse))
			g.Expect(ext.Reason).To(Equal(ocsv1.ReasonNoEdgeServing))
			g.Expect(ext.Message).To(And(ContainSubstring("edge1"), ContainSubstring("RTCMEDIARELAY"), ContainSubstring("edge2 is Unreachable")))
		})
		Expect(poolEvents(ns, eventExternalUnavailable)).NotTo(BeEmpty())

		By("all back")
		simAdmin(emu, http.MethodPost, "/gateways/gw2/start", nil)
		for _, s := range []string{"med1", "edge1", "edge2"} {
			simStart(emu, s)
		}
		waitRoles(pool, func(g Gomega) {
			g.Expect(cond(pool, ocsv1.ConditionPSTNAvailable)).To(HaveField("Reason", ocsv1.ReasonAllPathsServing))
			g.Expect(cond(pool, ocsv1.ConditionExternalAccessAvailable)).To(HaveField("Reason", ocsv1.ReasonAllEdgesServing))
			g.Expect(cond(pool, ocsv1.ConditionDegraded)).To(HaveField("Status", metav1.ConditionFalse))
			g.Expect(pool.Status.Phase).To(Equal("Ready"))
		})
		Expect(homes(emu)).To(Equal(before), "no user moved")
		for _, s := range []string{"med1", "med2", "edge1", "edge2"} {
			Expect(emu.Commands(s)).NotTo(ContainElement(Not(HavePrefix("sc query "))),
				"a role server is only ever asked about its services")
		}
	})

	It("probes Skype for Business role servers through Get-CsWindowsService", func() {
		ns := newNamespace()
		emu := startEmulator(sim.Config{Users: 4, ContactsPerUser: 1, Gateways: 1, Product: string(ocsv1.ProductSkypeForBusiness),
			Mediation: []string{"med1"}, Edge: []string{"edge1"}})
		startManager(ns, Options{})
		pool := createPoolFor(ns, emu, func(p *ocsv1.OCSPool) {
			p.Spec.Product = ocsv1.ProductSkypeForBusiness
			p.Spec.Health.ProbeTimeout = "1s" // each probe starts a PowerShell; the interval is 1s
			p.Spec.Roles, p.Spec.Gateways = rolesFor(emu, p.Spec.Servers[0].WinRM)
		})
		waitRoles(pool, func(g Gomega) {
			g.Expect(cond(pool, ocsv1.ConditionPSTNAvailable)).To(HaveField("Reason", ocsv1.ReasonAllPathsServing))
			g.Expect(cond(pool, ocsv1.ConditionExternalAccessAvailable)).To(HaveField("Reason", ocsv1.ReasonAllEdgesServing))
		})
		simAdmin(emu, http.MethodPost, "/servers/edge1/stop-service?service=RTCDATAPROXY", nil)
		waitRoles(pool, func(g Gomega) {
			ext := cond(pool, ocsv1.ConditionExternalAccessAvailable)
			g.Expect(ext.Reason).To(Equal(ocsv1.ReasonNoEdgeServing))
			g.Expect(ext.Message).To(ContainSubstring("RTCDATAPROXY"))
		})
	})
})

// rolesFor lists the emulator's role servers as spec.roles, with winrm's settings and the
// Mediation server named med<N> on path N, and its gateways as spec.gateways, gw<N> on path N.
func rolesFor(emu *sim.Emulator, winrm ocsv1.WinRMSpec) ([]ocsv1.RoleServerSpec, []ocsv1.GatewaySpec) {
	GinkgoHelper()
	var roles []ocsv1.RoleServerSpec
	mediation := 0
	for _, s := range simServers(emu) {
		w := winrm
		w.Endpoint = s.Endpoint
		r := ocsv1.RoleServerSpec{Name: s.Name, FQDN: s.FQDN, WinRM: w}
		switch s.Role {
		case sim.RoleMediation:
			mediation++
			r.Role, r.Paths = ocsv1.RoleMediation, []string{pathName(mediation)}
		case sim.RoleEdge:
			r.Role = ocsv1.RoleEdge
		default:
			continue
		}
		roles = append(roles, r)
	}
	var gws []struct {
		Name, Address, Transport string
		Port                     int32
	}
	simAdmin(emu, http.MethodGet, "/gateways", &gws)
	var gateways []ocsv1.GatewaySpec
	for i, g := range gws {
		gateways = append(gateways, ocsv1.GatewaySpec{Name: g.Name, Address: g.Address, Port: g.Port,
			Transport: ocsv1.SIPTransport(g.Transport), Path: pathName(i + 1)})
	}
	return roles, gateways
}

func pathName(n int) string { return strconv.Itoa(n) }

// roleServerStatus returns a role server's status entry, an empty one when absent.
func roleServerStatus(pool *ocsv1.OCSPool, name string) ocsv1.RoleServerStatus {
	for _, s := range pool.Status.Roles {
		if s.Name == name {
			return s
		}
	}
	return ocsv1.RoleServerStatus{}
}

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
