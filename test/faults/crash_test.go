package faults

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	ocsv1 "github.com/ocsha/ocs-ha-operator/api/v1alpha1"
)

var _ = Describe("The survivor crashing mid-failover", Label("faults", "survivor"), func() {
	// Users the first failover force-moved onto ocs2 lose their contacts again when ocs2
	// crashes, and the snapshot still homes them on ocs1: the failover of ocs2 takes over the
	// running one and restores the users of ocs1 too.
	It("leaves nobody lost, homed twice or on a failed server", func() {
		s := newSite(siteOptions{servers: []string{"ocs1", "ocs2", "ocs3"}, users: 60, simArgs: []string{"--move-cost", "200ms"}})
		s.startManager()
		before := s.settle()
		onOcs1 := s.homes()["ocs1"]

		s.post("/servers/ocs1/crash")
		s.movesUnderway("ocs1", onOcs1)
		By("crashing ocs2, a target of the running failover")
		s.post("/servers/ocs2/crash")

		Eventually(s.homes).Should(Equal(map[string]int{"ocs3": s.users}))
		op := s.completedFailover()
		Expect(op.Failed).To(BeZero())
		s.expectEndState(before)
	})
})

var _ = Describe("A flapping server", Label("faults", "flap"), func() {
	It("gets no failback while it flaps faster than failback.stableFor, then exactly one", func() {
		s := newSite(siteOptions{failback: ocsv1.FailbackSpec{Mode: ocsv1.FailbackAutomatic, StableFor: "30s"}})
		s.startManager()
		before := s.settle()

		s.post("/servers/ocs2/crash")
		failover := s.completedFailover()
		Expect(s.homes()).To(Equal(map[string]int{"ocs1": s.users}))

		for round := 0; round < 3; round++ {
			s.post("/servers/ocs2/start")
			Eventually(func(g Gomega) {
				g.Expect(s.serverState("ocs2")).To(Equal(ocsv1.ServerHealthy))
				g.Expect(reasons(s.getHoming().Status.Conditions)).To(ContainElement(ocsv1.ReasonWaitingForStableServer))
			}).Should(Succeed())
			s.post("/servers/ocs2/crash")
			Eventually(func(g Gomega) { g.Expect(s.serverState("ocs2")).To(Equal(ocsv1.ServerUnreachable)) }).Should(Succeed())
			Expect(s.getHoming().Status.LastOperation.ID).To(Equal(failover.ID), "no operation after the failover")
			Expect(s.homes()).To(Equal(map[string]int{"ocs1": s.users}), "nobody moved back to a flapping server")
		}

		By("letting ocs2 stay up")
		s.post("/servers/ocs2/start")
		var failback *ocsv1.Operation
		Eventually(func(g Gomega) {
			failback = s.getHoming().Status.LastOperation
			g.Expect(failback.Type).To(Equal(ocsv1.OperationFailback))
			g.Expect(failback.CompletionTime).NotTo(BeNil())
		}).WithTimeout(3 * time.Minute).Should(Succeed())
		Expect(failback.Moved).To(BeEquivalentTo(s.users / 2))
		Consistently(func() string { return s.getHoming().Status.LastOperation.ID }).
			WithTimeout(3*time.Second).Should(Equal(failback.ID), "exactly one failback")
		s.expectEndState(before)
	})
})

func reasons(conds []metav1.Condition) []string {
	var out []string
	for _, c := range conds {
		out = append(out, c.Reason)
	}
	return out
}
