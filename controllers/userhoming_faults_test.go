package controllers

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	ocsv1 "github.com/ocsha/ocs-ha-operator/api/v1alpha1"
	"github.com/ocsha/ocs-ha-operator/internal/contacts"
	"github.com/ocsha/ocs-ha-operator/internal/ocs"
	"github.com/ocsha/ocs-ha-operator/internal/restoreplan"
)

// lostReplyAgent runs the first two imports it is given but loses their replies: the first
// comes back without a result for any user (its output cut short), the second as an error (the
// connection dropped after the command ran).
type lostReplyAgent struct {
	ocs.Agent
	mu    sync.Mutex
	calls int
}

func (a *lostReplyAgent) ImportContacts(ctx context.Context, server string, doc *contacts.Document) ([]ocs.ImportResult, error) {
	res, err := a.Agent.ImportContacts(ctx, server, doc)
	a.mu.Lock()
	a.calls++
	n := a.calls
	a.mu.Unlock()
	switch {
	case err != nil || n > 2:
		return res, err
	case n == 2:
		return nil, fmt.Errorf("ImportContacts on %s: %w", server, ocs.ErrUnreachable)
	}
	out := make([]ocs.ImportResult, len(res))
	for i, r := range res {
		out[i] = ocs.ImportResult{SIP: r.SIP, Message: "the server reported no result for this user"}
	}
	return out, nil
}

// lastFailover waits until the UserHoming's failover completes and returns it.
func lastFailover(ns string) *ocsv1.UserHoming {
	GinkgoHelper()
	var h *ocsv1.UserHoming
	Eventually(func(g Gomega) {
		h = getHoming(g, ns)
		op := h.Status.LastOperation
		g.Expect(op).NotTo(BeNil())
		g.Expect(op.Type).To(Equal(ocsv1.OperationFailover))
		g.Expect(op.CompletionTime).NotTo(BeNil(), "operation: %+v", op)
	}).Should(Succeed())
	return h
}

var _ = Describe("UserHoming under faults", func() {
	const users = 1000

	It("lets only the oldest of two UserHomings on one pool act, and hands the pool over when it goes", func() {
		ns := newNamespace()
		fake := newHomingFake(200, 180, 1)
		startManager(ns, Options{Agents: StaticProvider{Agent: fake}})
		createFakePool(ns, nil)
		first := createHoming(ns, nil)
		Eventually(func(g Gomega) {
			expectHomingCondition(g, getHoming(g, ns), ocsv1.ConditionReady, metav1.ConditionTrue, ocsv1.ReasonBalanced)
		}).Should(Succeed())
		second := &ocsv1.UserHoming{
			ObjectMeta: metav1.ObjectMeta{Name: "second", Namespace: ns},
			Spec: ocsv1.UserHomingSpec{PoolRef: ocsv1.PoolReference{Name: "pool"}, Placement: ocsv1.PlacementWeighted,
				Weights: map[string]int32{"ocs1": 1, "ocs2": 3}},
		}
		Expect(k8sClient.Create(testCtx, second)).To(Succeed())
		Eventually(func(g Gomega) {
			h := &ocsv1.UserHoming{}
			g.Expect(k8sClient.Get(testCtx, client.ObjectKeyFromObject(second), h)).To(Succeed())
			expectHomingCondition(g, h, ocsv1.ConditionStalled, metav1.ConditionTrue, ocsv1.ReasonPoolOwnedByAnother)
			g.Expect(meta.FindStatusCondition(h.Status.Conditions, ocsv1.ConditionStalled).Message).To(ContainSubstring(ns + "/homing"))
			g.Expect(h.Status.LastOperation).To(BeNil())
		}).Should(Succeed())
		Consistently(func(g Gomega) {
			g.Expect(homesOf(fake, 200)).To(Equal(map[string]int{"ocs1": 100, "ocs2": 100}))
		}, 2*time.Second, 200*time.Millisecond).Should(Succeed())

		Expect(k8sClient.Delete(testCtx, first)).To(Succeed())
		Eventually(func(g Gomega) {
			h := &ocsv1.UserHoming{}
			g.Expect(k8sClient.Get(testCtx, client.ObjectKeyFromObject(second), h)).To(Succeed())
			expectHomingCondition(g, h, ocsv1.ConditionReady, metav1.ConditionTrue, ocsv1.ReasonBalanced)
			g.Expect(homesOf(fake, 200)).To(Equal(map[string]int{"ocs1": 50, "ocs2": 150}))
		}).Should(Succeed())
	})

	It("finishes a failover whose OCSPool is re-created in the middle, leaving nobody on the dead server", func() {
		ns := newNamespace()
		fake := newHomingFake(users, 500, 2)
		ia := newInterruptingAgent(fake)
		stop := startManager(ns, Options{Agents: StaticProvider{Agent: ia}})
		pool := createFakePool(ns, nil)
		createBackupAndSnapshot(ns)
		createRestoringHoming(ns, "backup", "1s")

		ia.arm(1, -1, false)
		fake.SetDown("ocs2", true)
		Eventually(ia.blocked).Should(BeClosed())
		stop()
		Expect(homesOf(fake, users)["ocs2"]).To(BeNumerically(">", 0), "the failover was interrupted part way")

		Expect(k8sClient.Delete(testCtx, pool)).To(Succeed())
		Eventually(func(g Gomega) {
			g.Expect(apierrors.IsNotFound(k8sClient.Get(testCtx, client.ObjectKeyFromObject(pool), &ocsv1.OCSPool{}))).To(BeTrue())
		}).Should(Succeed())
		createFakePool(ns, nil)
		ia.arm(-1, -1, false)
		startManager(ns, Options{Agents: StaticProvider{Agent: ia}})

		h := lastFailover(ns)
		Expect(homesOf(fake, users)).To(Equal(map[string]int{"ocs1": users}))
		op := h.Status.LastOperation
		Expect(op.Forced).To(BeEquivalentTo(users / 2))
		Expect(op.ContactsRestored).To(BeEquivalentTo(users / 2))
		Expect(op.Failed).To(BeZero())
	})

	It("counts the contacts of imports whose replies were lost", func() {
		ns := newNamespace()
		fake := newHomingFake(users, 500, 2)
		startManager(ns, Options{Agents: StaticProvider{Agent: &lostReplyAgent{Agent: fake}}})
		createFakePool(ns, nil)
		createBackupAndSnapshot(ns)
		createRestoringHoming(ns, "backup", "1s")
		fake.SetDown("ocs2", true)

		op := lastFailover(ns).Status.LastOperation
		Expect(op.ContactsRestored).To(BeEquivalentTo(users/2), "operation: %+v", op)
		Expect(op.Failed).To(BeZero())
		for i := 500; i < users; i++ {
			r, ok := fake.StoredContacts("ocs1", homingSIP(i))
			Expect(ok).To(BeTrue())
			Expect(r.Contacts).To(Equal(homingContacts(i, 2, "buddy")))
		}
	})

	It("never reports a restore from a lost backup store as a success", func() {
		ns := newNamespace()
		fake := newHomingFake(200, 100, 2)
		startManager(ns, Options{Agents: StaticProvider{Agent: fake}})
		createFakePool(ns, nil)
		cb := createBackupAndSnapshot(ns)
		createRestoringHoming(ns, "backup", "1s")
		// The volume is gone; opening the store would silently re-create it empty.
		Expect(os.RemoveAll(cb.Spec.Storage.Path)).To(Succeed())
		fake.SetDown("ocs2", true)

		h := lastFailover(ns)
		op := h.Status.LastOperation
		Expect(op.Forced).To(BeEquivalentTo(100))
		Expect(op.ContactsRestored).To(BeZero())
		Expect(op.Failed).To(BeEquivalentTo(100), "every user without restored contacts is counted")
		Expect(op.Message).To(ContainSubstring("100 users have no restored contacts"))
		Expect(op.Message).To(ContainSubstring("does not exist"))
		// No snapshot could be read: the more specific of the two reasons of an incomplete failover.
		expectHomingCondition(Default, h, ocsv1.ConditionDegraded, metav1.ConditionTrue, ocsv1.ReasonFailoverWithoutSnapshot)
		Eventually(func(g Gomega) {
			ev := homingEvents(g, ns)
			g.Expect(ev).To(HaveKey("ContactsNotRestored"))
			g.Expect(ev).NotTo(HaveKey("ContactsRestored"))
		}).Should(Succeed())
		// The Warning names them: the first ten, in order, and how many more.
		Eventually(func(g Gomega) {
			var list corev1.EventList
			g.Expect(k8sClient.List(testCtx, &list, client.InNamespace(ns))).To(Succeed())
			var notes []string
			for _, e := range list.Items {
				if e.Reason == "ContactsNotRestored" && e.Type == corev1.EventTypeWarning {
					notes = append(notes, e.Message)
				}
			}
			g.Expect(notes).To(ContainElement(And(
				ContainSubstring("100 users have no restored contacts: "+restoreplan.Key(homingSIP(100))+", "),
				ContainSubstring(restoreplan.Key(homingSIP(109))+" and 90 more"),
				Not(ContainSubstring(restoreplan.Key(homingSIP(110)))))))
		}).Should(Succeed())
	})
})

var _ = Describe("UserHoming under faults with the emulator", func() {
	It("fails over users with an apostrophe, and reports and skips one no command can carry", func() {
		ns := newNamespace()
		emu := startHomingEmulator(200, 100, 2)
		obrien := "sip:o'brien@corp.example.com"
		odd := `sip:dq"x@corp.example.com`
		for _, sip := range []string{obrien, odd} {
			Expect(emu.World().AddUser(sip, "ocs2")).To(Succeed())
			r := contacts.Resource{UserAtHost: strings.TrimPrefix(sip, "sip:"), Contacts: homingContacts(7, 3, "apostrophe")}
			Expect(emu.World().SetContacts(sip, r)).To(Succeed())
		}
		startManager(ns, Options{})
		waitPoolReady(createPoolFor(ns, emu, nil))
		createBackupAndSnapshot(ns)
		createRestoringHoming(ns, "backup", "1s")
		simCrash(emu, "ocs2")

		h := lastFailover(ns)
		op := h.Status.LastOperation
		Expect(op.Forced).To(BeEquivalentTo(101), "operation: %+v", op)
		Expect(op.ContactsRestored).To(BeEquivalentTo(101))
		Expect(op.Failed).To(BeEquivalentTo(1))
		Expect(op.Message).To(ContainSubstring(odd))
		expectHomingCondition(Default, h, ocsv1.ConditionDegraded, metav1.ConditionTrue, ocsv1.ReasonFailoverIncomplete)
		homes := map[string]string{}
		for _, u := range emu.World().Users() {
			homes[u.SIP] = u.Home
		}
		Expect(homes[obrien]).To(Equal("ocs1"))
		Expect(homes[odd]).To(Equal("ocs2"), "reported and left where it is")
		got, ok := emu.World().UserContacts(obrien)
		Expect(ok).To(BeTrue())
		Expect(got.Contacts).To(Equal(homingContacts(7, 3, "apostrophe")))
		Eventually(func(g Gomega) { g.Expect(homingEvents(g, ns)).To(HaveKey("UsersNotMoved")) }).Should(Succeed())
	})
})
