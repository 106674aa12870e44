package faults

import (
	"fmt"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	ocsv1 "github.com/ocsha/ocs-ha-operator/api/v1alpha1"
)

// movesUnderway waits until some, not all, of server's users have left it (read from the
// emulator's directory: the forced moves are running).
func (s *site) movesUnderway(server string, had int) {
	GinkgoHelper()
	Eventually(func(g Gomega) {
		left := s.homes()[server]
		g.Expect(left).To(And(BeNumerically(">", 0), BeNumerically("<", had)))
	}).WithPolling(50 * time.Millisecond).Should(Succeed())
}

// failoverAt waits until the running failover's status satisfies at.
func (s *site) failoverAt(what string, at func(op *ocsv1.Operation) bool) {
	GinkgoHelper()
	By("waiting for the failover " + what)
	Eventually(func(g Gomega) {
		op := s.getHoming().Status.LastOperation
		g.Expect(op).NotTo(BeNil())
		g.Expect(op.Type).To(Equal(ocsv1.OperationFailover))
		g.Expect(op.CompletionTime).To(BeNil(), "the failover ended before it was %s", what)
		g.Expect(at(op)).To(BeTrue(), "operation: %+v", op)
	}).WithPolling(50 * time.Millisecond).Should(Succeed())
}

var _ = Describe("A manager killed mid-failover", Label("faults", "kill"), func() {
	It("finishes the failover after SIGKILLs during the forced moves, between moves and restore, and during the restore", func() {
		// Slow moves, imports and exports widen each point: the forced moves take a few
		// seconds, a restarted manager exports the survivor (it cannot know who holds data)
		// before its first import, and the imports take seconds.
		s := newSite(siteOptions{simArgs: []string{"--move-cost", "300ms", "--import-cost", "300ms", "--export-cost", "100ms"}})
		m := s.startManager()
		before := s.settle()
		onOcs2 := s.homes()["ocs2"]

		s.post("/servers/ocs2/crash")
		Eventually(func(g Gomega) {
			g.Expect(s.serverState("ocs2")).To(Equal(ocsv1.ServerUnreachable))
		}).Should(Succeed())
		msg := s.getPool().Status.Servers[1].Message
		Expect(msg).To(ContainSubstring("does not answer"), "a refused connection is reported as such")
		Expect(msg).NotTo(ContainSubstring("probeTimeout"), "a refused connection is not a timeout")

		By("killing the manager during the forced moves")
		s.movesUnderway("ocs2", onOcs2)
		m.Kill()
		m = s.startManager()

		// Every forced move recorded, no import begun: the restarted manager is exporting the
		// survivor to learn who holds data (the step turns Restoring with the first import marks).
		s.failoverAt("between the forced moves and the first import", func(op *ocsv1.Operation) bool {
			return op.Forced == op.Total && op.ContactsRestored == 0 && len(op.PendingRestores) == 0
		})
		m.Kill()
		m = s.startManager()

		s.failoverAt("importing contacts", func(op *ocsv1.Operation) bool {
			return op.Step == "Restoring" && len(op.PendingRestores) > 0
		})
		m.Kill()
		s.startManager()

		op := s.completedFailover()
		Expect(op.Forced).To(BeEquivalentTo(onOcs2))
		Expect(op.ContactsRestored).To(BeEquivalentTo(onOcs2), "restored once each, counted once each")
		Expect(op.Failed).To(BeZero())
		Expect(s.homes()).To(Equal(map[string]int{"ocs1": s.users}))
		s.expectEndState(before)
	})
})

// leaseAcquired is what a manager logs when it becomes the leader.
const leaseAcquired = "Successfully acquired lease"

var _ = Describe("Leader handover", Label("faults", "leader"), func() {
	It("lets the second manager finish a failover the killed leader started", func() {
		s := newSite(siteOptions{simArgs: []string{"--move-cost", "300ms"}})
		elect := []string{"--leader-elect", "--leader-election-namespace=" + s.ns}
		a, b := s.startManager(elect...), s.startManager(elect...)
		before := s.settle()
		leader, other := a, b
		if !strings.Contains(a.Log.String(), leaseAcquired) {
			leader, other = b, a
		}
		Expect(leader.Log.String()).To(ContainSubstring(leaseAcquired))
		Expect(other.Log.String()).NotTo(ContainSubstring(leaseAcquired), "one leader at a time")
		onOcs2 := s.homes()["ocs2"]

		s.post("/servers/ocs2/crash")
		s.movesUnderway("ocs2", onOcs2)
		By("killing the leader during the forced moves")
		leader.Kill()

		op := s.completedFailover()
		Expect(other.Log.String()).To(ContainSubstring(leaseAcquired))
		Expect(op.Forced).To(BeEquivalentTo(onOcs2))
		Expect(op.ContactsRestored).To(BeEquivalentTo(onOcs2))
		Expect(s.homes()).To(Equal(map[string]int{"ocs1": s.users}))
		s.expectEndState(before)
		fmt.Fprintln(GinkgoWriter, "failover:", op.Message)
	})
})
