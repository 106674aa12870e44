package controllers

import (
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	ocsv1 "github.com/ocsha/ocs-ha-operator/api/v1alpha1"
	"github.com/ocsha/ocs-ha-operator/internal/sim"
)

var _ = Describe("Preflight", func() {
	var ns string
	BeforeEach(func() { ns = newNamespace() })

	for _, tc := range []struct {
		what    string
		profile sim.Profile
		reason  string
		message string
	}{
		{"PowerShell 1.0", sim.Profile{PowerShell: "1.0"}, ocsv1.ReasonPowerShellTooOld, "Windows Management Framework 2.0"},
		{"no DBImpExp.exe", sim.Profile{MissingTools: []string{"dbimpexp"}}, ocsv1.ReasonDBImpExpNotFound, "spec.tools.dbimpexpPath"},
		{"no OCS WMI classes", sim.Profile{MissingModule: true}, ocsv1.ReasonWMIClassesMissing, "Invalid class"},
	} {
		It("refuses a server with "+tc.what+", names it, and moves nothing onto or off it", func() {
			emu := startEmulator(sim.Config{Users: 20, ContactsPerUser: 2, ServerProfiles: map[string]sim.Profile{"ocs2": tc.profile}})
			startManager(ns, Options{})
			pool := createPoolFor(ns, emu, nil)
			Eventually(func(g Gomega) {
				g.Expect(k8sClient.Get(testCtx, client.ObjectKeyFromObject(pool), pool)).To(Succeed())
				c := meta.FindStatusCondition(pool.Status.Conditions, ocsv1.ConditionServersCompatible)
				g.Expect(c).NotTo(BeNil())
				g.Expect(c.Status).To(Equal(metav1.ConditionFalse))
				g.Expect(c.Reason).To(Equal(tc.reason))
				g.Expect(c.Message).To(ContainSubstring("ocs2"))
				g.Expect(c.Message).To(ContainSubstring(tc.message))
				p := poolServer(pool, "ocs2").Preflight
				g.Expect(p).NotTo(BeNil())
				g.Expect(p.Result).To(Equal(ocsv1.PreflightFailed))
				g.Expect(poolServer(pool, "ocs1").Preflight.Result).To(Equal(ocsv1.PreflightPassed))
				g.Expect(pool.Status.ServingServers).To(Equal("1/2"))
			}).Should(Succeed())
			expectPoolCondition(pool, ocsv1.ConditionReady, metav1.ConditionFalse, ocsv1.ReasonServerNotServing)
			Eventually(func() int { return len(poolEvents(ns, eventPreflightFailed)) }).Should(BeNumerically(">=", 1))

			before := homes(emu)
			createHoming(ns, nil)
			// Draining ocs1 would move its users to ocs2, the only other server.
			updateObject(pool, func() { pool.Spec.Servers[0].Maintenance = true })
			Consistently(func() map[string]string { return homes(emu) }, "2s", "200ms").Should(Equal(before))
			for _, server := range []string{"ocs1", "ocs2"} {
				for _, line := range emu.Commands(server) {
					Expect(strings.HasPrefix(line, "echo ")).To(BeFalse(), "data was uploaded to %s for a move or an import: %.80s", server, line)
				}
			}
		})
	}
})

var _ = Describe("A Skype for Business pool", func() {
	It("passes its preflight and drains a server with planned moves", func() {
		ns := newNamespace()
		emu := startEmulator(sim.Config{Users: 12, ContactsPerUser: 2, Product: string(ocsv1.ProductSkypeForBusiness)})
		startManager(ns, Options{})
		pool := createPoolFor(ns, emu, func(p *ocsv1.OCSPool) { p.Spec.Product = ocsv1.ProductSkypeForBusiness })
		waitPoolReady(pool)
		expectPoolCondition(pool, ocsv1.ConditionServersCompatible, metav1.ConditionTrue, ocsv1.ReasonPreflightPassed)
		Expect(poolServer(pool, "ocs1").Preflight.PowerShellVersion).To(Equal("5.1"))

		createHoming(ns, nil)
		updateObject(pool, func() { pool.Spec.Servers[0].Maintenance = true })
		Eventually(func(g Gomega) {
			for _, u := range simUsers(emu) {
				g.Expect(u.Home).To(Equal("ocs2"), u.SIP)
				g.Expect(u.Contacts).To(Equal(2), "%s lost contacts in a planned move", u.SIP)
			}
		}).Should(Succeed())
	})
})

// homes maps each emulated user to its home.
func homes(emu *sim.Emulator) map[string]string {
	GinkgoHelper()
	out := map[string]string{}
	for _, u := range simUsers(emu) {
		out[u.SIP] = u.Home
	}
	return out
}
