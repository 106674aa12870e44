package faults

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"sort"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	ocsv1 "github.com/ocsha/ocs-ha-operator/api/v1alpha1"
	"github.com/ocsha/ocs-ha-operator/test/internal/harness"
)

// The defects 1–5 of issue 20, end to end.
var _ = Describe("Defects of issue 20", Label("faults", "defects"), func() {
	It("1: a wrong password on one server's Secret stalls the pool naming it, and fails nobody over", func() {
		s := newSite(siteOptions{})
		s.startManager()
		before := s.settle()
		homes := s.homes()

		secret := &corev1.Secret{}
		Expect(suite.k8s.Get(context.Background(), client.ObjectKey{Namespace: s.ns, Name: "creds-ocs2"}, secret)).To(Succeed())
		secret.Data["password"] = []byte("wrong")
		Expect(suite.k8s.Update(context.Background(), secret)).To(Succeed())

		Eventually(func(g Gomega) {
			p := s.getPool()
			g.Expect(conditionOf(p.Status.Conditions, ocsv1.ConditionStalled)).To(HavePrefix("True/"))
			g.Expect(messageOf(p.Status.Conditions, ocsv1.ConditionStalled)).To(ContainSubstring("creds-ocs2"))
			g.Expect(s.serverState("ocs2")).To(Equal(ocsv1.ServerAuthenticationFailed))
		}).Should(Succeed())
		// Several failover delays (2s) and homing passes: a forced move would show.
		Consistently(s.homes).WithTimeout(8 * time.Second).WithPolling(500 * time.Millisecond).Should(Equal(homes))
		if op := s.getHoming().Status.LastOperation; op != nil {
			Expect(op.Type).NotTo(Equal(ocsv1.OperationFailover))
		}
		s.expectEndState(before)
	})

	It("2: a user sip:o'brien@… on the failed server is moved and restored", func() {
		s := newSite(siteOptions{})
		const obrien = "sip:o'brien@corp.example.com"
		Expect(s.sim.Do(http.MethodPost, "/users", `{"sip":"`+obrien+`","home":"ocs2"}`)).To(Succeed())
		Expect(s.sim.Do(http.MethodPut, harness.UserPath(obrien)+"/contacts",
			`{"groups":[],"containers":[],"contacts":[{"buddy":"user0001@corp.example.com","subscribePresence":true,"groups":[]}]}`)).To(Succeed())
		s.users++
		s.startManager()
		before := s.settle()
		Expect(before[obrien]).To(ContainSubstring("user0001@corp.example.com"))
		onOcs2 := s.homes()["ocs2"]
		homedOn := func() string {
			users, err := s.sim.Users()
			Expect(err).NotTo(HaveOccurred())
			for _, u := range users {
				if u.SIP == obrien {
					return u.Home
				}
			}
			return ""
		}

		s.post("/servers/ocs2/crash")
		op := s.completedFailover()
		Expect(op.Forced).To(BeEquivalentTo(onOcs2))
		Expect(op.ContactsRestored).To(BeEquivalentTo(onOcs2))
		Expect(op.Failed).To(BeZero())
		Expect(homedOn()).To(Equal("ocs1"))
		s.expectEndState(before)
	})

	It("3: of two UserHomings on one pool exactly one acts; the other names the owner", func() {
		s := newSite(siteOptions{})
		s.startManager()
		before := s.settle()
		homes := s.homes()
		second := homing(s.meta("second"), ocsv1.FailbackSpec{})
		second.Spec.Placement = ocsv1.PlacementWeighted
		second.Spec.Weights = map[string]int32{"ocs1": 1, "ocs2": 3}
		create(second)

		Eventually(func(g Gomega) {
			conds := s.getHomingNamed("second").Status.Conditions
			g.Expect(reasons(conds)).To(ContainElement(ocsv1.ReasonPoolOwnedByAnother))
			g.Expect(messageOf(conds, ocsv1.ConditionStalled)).To(ContainSubstring("UserHoming " + s.ns + "/homing"))
		}).Should(Succeed())
		Consistently(s.homes).WithTimeout(5 * time.Second).WithPolling(500 * time.Millisecond).Should(Equal(homes))
		Expect(s.getHomingNamed("second").Status.LastOperation).To(BeNil(), "the second homing never acted")
		s.expectEndState(before)
	})

	It("4: a source going Unreachable → Unhealthy and the pool re-created mid-failover leave nobody behind", func() {
		s := newSite(siteOptions{simArgs: []string{"--move-cost", "300ms"}})
		s.startManager()
		before := s.settle()
		onOcs2 := s.homes()["ocs2"]

		s.post("/servers/ocs2/crash")
		s.movesUnderway("ocs2", onOcs2)
		started := s.getHoming().Status.LastOperation
		Expect(started.Type).To(Equal(ocsv1.OperationFailover))
		By("ocs2's WinRM answering with RtcSrv stopped, and the OCSPool deleted and re-created")
		s.post("/servers/ocs2/start")
		s.post("/servers/ocs2/stop-service")
		Expect(suite.k8s.Delete(context.Background(), s.getPool())).To(Succeed())
		Eventually(func() bool {
			err := suite.k8s.Get(context.Background(), client.ObjectKey{Namespace: s.ns, Name: pool}, &ocsv1.OCSPool{})
			return err != nil
		}).Should(BeTrue())
		create(s.pool())

		op := s.completedFailover()
		Expect(op.ID).To(Equal(started.ID), "the same failover finished: no second one after another full delay")
		Expect(s.homes()).To(Equal(map[string]int{"ocs1": s.users}), "nobody left on the failed server")
		Expect(op.Forced).To(BeEquivalentTo(onOcs2))
		s.expectEndState(before)
	})

	It("5: a lost backup store fails the restore loudly: Degraded, a Warning naming users, failed > 0", func() {
		s := newSite(siteOptions{})
		s.startManager()
		s.settle()
		onOcs2 := s.homes()["ocs2"]
		users, err := s.sim.Users()
		Expect(err).NotTo(HaveOccurred())
		var lost []string
		for _, u := range users {
			if u.Home == "ocs2" {
				lost = append(lost, "sip:"+strings.TrimPrefix(strings.ToLower(u.SIP), "sip:"))
			}
		}
		sort.Strings(lost)
		Expect(len(lost)).To(BeNumerically(">", 10), "enough users to bound the list")
		Expect(os.RemoveAll(s.backupDir)).To(Succeed())

		s.post("/servers/ocs2/crash")
		op := s.completedFailover()
		Expect(op.Forced).To(BeEquivalentTo(onOcs2))
		Expect(op.Failed).To(BeNumerically(">", 0))
		Expect(op.ContactsRestored).To(BeZero())
		Expect(conditionOf(s.getHoming().Status.Conditions, ocsv1.ConditionDegraded)).To(HavePrefix("True/"))
		// The Warning counts and names them, bounded: the manager saw every forced move.
		Eventually(func() string { return strings.Join(s.warnings("ContactsNotRestored"), "\n") }).
			Should(ContainSubstring(fmt.Sprintf("%d users have no restored contacts: %s and %d more",
				onOcs2, strings.Join(lost[:10], ", "), onOcs2-10)))
		Expect(s.homes()).To(Equal(map[string]int{"ocs1": s.users}))
	})
})
