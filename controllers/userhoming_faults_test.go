package controllers

import (
	"context"
	"fmt"
	"os"
	"slices"
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

// lostReplyAgent runs every import it is given but loses the replies of the first two to start:
// the first comes back without a result for any user (its output cut short), the second as an
// error (the connection dropped after the command ran). Those two replies wait until a third
// import has started, and the third's reply until both came back: an import planned before the
// replies were lost then ends after them, the order in which a stale plan once made the
// process's memory of who holds data whole again. It notes every import over a contact list
// that holds data: a restore never writes one.
type lostReplyAgent struct {
	*ocs.Fake
	mu           sync.Mutex
	started      int
	lostBack     int
	thirdStarted chan struct{}
	bothLostBack chan struct{}
	overData     []string
}

func newLostReplyAgent(f *ocs.Fake) *lostReplyAgent {
	return &lostReplyAgent{Fake: f, thirdStarted: make(chan struct{}), bothLostBack: make(chan struct{})}
}

// importsOverData names the users whose contact lists held data when an import reached them.
func (a *lostReplyAgent) importsOverData() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.overData)
}

func (a *lostReplyAgent) ImportContacts(ctx context.Context, server string, doc *contacts.Document) ([]ocs.ImportResult, error) {
	a.mu.Lock()
	for _, r := range doc.Resources {
		if held, ok := a.StoredContacts(server, r.UserAtHost); ok && !restoreplan.Empty(held) {
			a.overData = append(a.overData, r.UserAtHost)
		}
	}
	a.started++
	n := a.started
	if n == 3 {
		close(a.thirdStarted)
	}
	a.mu.Unlock()
	res, err := a.Fake.ImportContacts(ctx, server, doc)
	if err != nil || n > 3 {
		return res, err
	}
	if n == 3 {
		awaitOrder(ctx, a.bothLostBack)
		return res, err
	}
	// A pass with fewer than three imports does not wait for ever.
	awaitOrder(ctx, a.thirdStarted)
	defer a.lostOne()
	if n == 2 {
		return nil, fmt.Errorf("ImportContacts on %s: %w", server, ocs.ErrUnreachable)
	}
	out := make([]ocs.ImportResult, len(res))
	for i, r := range res {
		out[i] = ocs.ImportResult{SIP: r.SIP, Message: "the server reported no result for this user"}
	}
	return out, nil
}

func (a *lostReplyAgent) lostOne() {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.lostBack++; a.lostBack == 2 {
		close(a.bothLostBack)
	}
}

// awaitOrder waits for ch to close; the bound only keeps a schedule that never comes (fewer
// imports than expected) from hanging the test, it decides nothing.
func awaitOrder(ctx context.Context, ch <-chan struct{}) {
	select {
	case <-ch:
	case <-ctx.Done():
	case <-time.After(10 * time.Second):
	}
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
		agent := newLostReplyAgent(fake)
		startManager(ns, Options{Agents: StaticProvider{Agent: agent}})
		createFakePool(ns, nil)
		createBackupAndSnapshot(ns)
		createRestoringHoming(ns, "backup", "1s")
		fake.SetDown("ocs2", true)

		op := lastFailover(ns).Status.LastOperation
		Expect(op.ContactsRestored).To(BeEquivalentTo(users/2), "operation: %+v", op)
		Expect(op.Failed).To(BeZero())
		Expect(agent.importsOverData()).To(BeEmpty())
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
