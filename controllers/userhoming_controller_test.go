package controllers

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
	"unicode/utf16"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	ocsv1 "github.com/ocsha/ocs-ha-operator/api/v1alpha1"
	"github.com/ocsha/ocs-ha-operator/internal/contacts"
	"github.com/ocsha/ocs-ha-operator/internal/ocs"
	"github.com/ocsha/ocs-ha-operator/internal/sim"
)

// homingSIP is the SIP address of test user i.
func homingSIP(i int) string { return fmt.Sprintf("sip:user%04d@corp.example.com", i) }

// homingContacts is the contact list of test user i, with a marker so that lists differ.
func homingContacts(i, n int, marker string) []contacts.Contact {
	out := make([]contacts.Contact, 0, n)
	for j := range n {
		out = append(out, contacts.Contact{Buddy: fmt.Sprintf("%s%02d-%04d@corp.example.com", marker, j, i), SubscribePresence: true})
	}
	return out
}

// newHomingFake returns a Fake with ocs1 and ocs2 and users 0..n-1, the first onFirst of them
// homed on ocs1 and the rest on ocs2, each with contactsPerUser contacts.
func newHomingFake(n, onFirst, contactsPerUser int) *ocs.Fake {
	f := ocs.NewFake("ocs1", "ocs2")
	for i := range n {
		home := "ocs2"
		if i < onFirst {
			home = "ocs1"
		}
		f.AddUser(homingSIP(i), home, homingContacts(i, contactsPerUser, "buddy")...)
	}
	return f
}

// createFakePool creates an OCSPool "pool" with servers ocs1 and ocs2 probed quickly; the agent
// of the test's manager answers for them.
func createFakePool(ns string, mutate func(*ocsv1.OCSPool)) *ocsv1.OCSPool {
	GinkgoHelper()
	pool := &ocsv1.OCSPool{
		ObjectMeta: metav1.ObjectMeta{Name: "pool", Namespace: ns},
		Spec: ocsv1.OCSPoolSpec{
			Health: ocsv1.HealthSpec{ProbeInterval: "1s", ProbeTimeout: "100ms", FailureThreshold: 2},
		},
	}
	for _, name := range []string{"ocs1", "ocs2"} {
		pool.Spec.Servers = append(pool.Spec.Servers, ocsv1.ServerSpec{
			Name: name, FQDN: name + ".corp.example.com",
			WinRM: ocsv1.WinRMSpec{
				Endpoint:             "https://" + name + ".corp.example.com:5986/wsman",
				CredentialsSecretRef: ocsv1.LocalObjectReference{Name: "winrm"},
			},
		})
	}
	if mutate != nil {
		mutate(pool)
	}
	Expect(k8sClient.Create(testCtx, pool)).To(Succeed())
	return pool
}

// createHoming creates the UserHoming "homing" of pool "pool".
func createHoming(ns string, mutate func(*ocsv1.UserHoming)) *ocsv1.UserHoming {
	GinkgoHelper()
	h := &ocsv1.UserHoming{
		ObjectMeta: metav1.ObjectMeta{Name: "homing", Namespace: ns},
		Spec:       ocsv1.UserHomingSpec{PoolRef: ocsv1.PoolReference{Name: "pool"}},
	}
	if mutate != nil {
		mutate(h)
	}
	Expect(k8sClient.Create(testCtx, h)).To(Succeed())
	return h
}

// createRestoringHoming creates the UserHoming "homing" failing over after delay with contacts
// restored from ContactBackup backup, and waits until it reports the pool balanced.
func createRestoringHoming(ns, backup, delay string) {
	GinkgoHelper()
	createHoming(ns, func(h *ocsv1.UserHoming) {
		h.Spec.Failover.Delay = delay
		h.Spec.ContactRestore.BackupRef = &ocsv1.LocalObjectReference{Name: backup}
	})
	Eventually(func(g Gomega) {
		expectHomingCondition(g, getHoming(g, ns), ocsv1.ConditionReady, metav1.ConditionTrue, ocsv1.ReasonBalanced)
	}).Should(Succeed())
}

// getHoming reads the UserHoming straight from the API server.
func getHoming(g Gomega, ns string) *ocsv1.UserHoming {
	h := &ocsv1.UserHoming{}
	g.Expect(k8sClient.Get(testCtx, client.ObjectKey{Namespace: ns, Name: "homing"}, h)).To(Succeed())
	return h
}

func expectHomingCondition(g Gomega, h *ocsv1.UserHoming, t string, status metav1.ConditionStatus, reason string) {
	c := meta.FindStatusCondition(h.Status.Conditions, t)
	g.ExpectWithOffset(1, c).NotTo(BeNil(), "condition %s missing: %s", t, conditionsString(h.Status.Conditions))
	g.ExpectWithOffset(1, c.Status).To(Equal(status), "%s: %s", t, conditionsString(h.Status.Conditions))
	if reason != "" {
		g.ExpectWithOffset(1, c.Reason).To(Equal(reason), "%s: %s", t, conditionsString(h.Status.Conditions))
	}
}

// homesOf counts the users per home server.
func homesOf(f *ocs.Fake, n int) map[string]int {
	out := map[string]int{}
	for i := range n {
		home, ok := f.Home(homingSIP(i))
		if ok {
			out[home]++
		}
	}
	return out
}

// homeOf returns the home of test user i.
func homeOf(f *ocs.Fake, i int) string {
	home, _ := f.Home(homingSIP(i))
	return home
}

// homingEvents returns the reasons of the events recorded on the UserHoming.
func homingEvents(g Gomega, ns string) map[string]int {
	var list corev1.EventList
	g.Expect(k8sClient.List(testCtx, &list, client.InNamespace(ns))).To(Succeed())
	out := map[string]int{}
	for _, e := range list.Items {
		if e.InvolvedObject.Kind == "UserHoming" {
			out[e.Reason]++
		}
	}
	return out
}

// createBackupAndSnapshot creates a ContactBackup of pool "pool" storing under a temporary
// directory, asks it for a snapshot now and waits until the snapshot is listed.
func createBackupAndSnapshot(ns string) *ocsv1.ContactBackup {
	GinkgoHelper()
	cb := &ocsv1.ContactBackup{
		ObjectMeta: metav1.ObjectMeta{Name: "backup", Namespace: ns, Annotations: map[string]string{ocsv1.AnnotationBackupNow: "before-crash"}},
		Spec: ocsv1.ContactBackupSpec{
			PoolRef: ocsv1.PoolReference{Name: "pool"},
			// Once a year: only the requested snapshot is taken during the test.
			Schedule: "0 0 1 1 *",
			Storage:  ocsv1.StorageSpec{Path: GinkgoT().TempDir()},
		},
	}
	Expect(k8sClient.Create(testCtx, cb)).To(Succeed())
	Eventually(func(g Gomega) {
		g.Expect(k8sClient.Get(testCtx, client.ObjectKeyFromObject(cb), cb)).To(Succeed())
		g.Expect(cb.Status.LastHandledRequest).To(Equal("before-crash"), "conditions: %s", conditionsString(cb.Status.Conditions))
		g.Expect(cb.Status.Snapshots).NotTo(BeEmpty())
	}).Should(Succeed())
	return cb
}

// interruptingAgent passes calls to another agent until a limit, then blocks the next call
// (optionally after running it, so that its result is lost) until the manager stops: a manager
// killed at a chosen point of an operation.
type interruptingAgent struct {
	ocs.Agent
	mu sync.Mutex
	// moveLimit, importLimit: calls let through; -1 = no limit.
	moveLimit, importLimit int
	// runThenBlock runs the interrupted import before blocking.
	runThenBlock   bool
	moves, imports int
	blocked        chan struct{}
	once           sync.Once
}

func newInterruptingAgent(a ocs.Agent) *interruptingAgent {
	return &interruptingAgent{Agent: a, moveLimit: -1, importLimit: -1, blocked: make(chan struct{})}
}

// arm sets the limits, counting from now.
func (a *interruptingAgent) arm(moveLimit, importLimit int, runThenBlock bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.moveLimit, a.importLimit, a.runThenBlock = moveLimit, importLimit, runThenBlock
	a.moves, a.imports = 0, 0
}

func (a *interruptingAgent) block(ctx context.Context) error {
	a.once.Do(func() { close(a.blocked) })
	<-ctx.Done()
	return ctx.Err()
}

func (a *interruptingAgent) MoveUsers(ctx context.Context, via string, users []string, target string, force bool) ([]ocs.MoveResult, error) {
	a.mu.Lock()
	a.moves++
	stop := a.moveLimit >= 0 && a.moves > a.moveLimit
	a.mu.Unlock()
	if stop {
		return nil, a.block(ctx)
	}
	return a.Agent.MoveUsers(ctx, via, users, target, force)
}

func (a *interruptingAgent) ImportContacts(ctx context.Context, server string, doc *contacts.Document) ([]ocs.ImportResult, error) {
	a.mu.Lock()
	a.imports++
	stop := a.importLimit >= 0 && a.imports > a.importLimit
	runFirst := a.runThenBlock
	a.mu.Unlock()
	if !stop {
		return a.Agent.ImportContacts(ctx, server, doc)
	}
	if runFirst {
		_, _ = a.Agent.ImportContacts(ctx, server, doc)
	}
	return nil, a.block(ctx)
}

// interruptingProvider hands out the WinRM agent of a pool wrapped in one interruptingAgent.
type interruptingProvider struct {
	inner AgentProvider
	agent *interruptingAgent
	once  sync.Once
}

func (p *interruptingProvider) AgentFor(ctx context.Context, pool *ocsv1.OCSPool) (ocs.Agent, error) {
	a, err := p.inner.AgentFor(ctx, pool)
	if err != nil {
		return nil, err
	}
	// One pool per test: its agent does not change.
	p.once.Do(func() { p.agent.Agent = a })
	return p.agent, nil
}

var _ = Describe("UserHoming controller", func() {
	const users = 1000

	It("spreads an unbalanced pool with the fewest moves and keeps pinned users", func() {
		ns := newNamespace()
		fake := newHomingFake(users, 900, 2)
		startManager(ns, Options{Agents: StaticProvider{Agent: fake}})
		createFakePool(ns, nil)
		// user0950 lives on ocs2 and is pinned there; user0001 lives on ocs1 and is pinned there.
		createHoming(ns, func(h *ocsv1.UserHoming) {
			h.Spec.Pins = []ocsv1.Pin{{User: homingSIP(950), Server: "ocs2"}, {User: homingSIP(1), Server: "ocs1"}}
		})

		Eventually(func(g Gomega) {
			h := getHoming(g, ns)
			expectHomingCondition(g, h, ocsv1.ConditionReady, metav1.ConditionTrue, ocsv1.ReasonBalanced)
			expectHomingCondition(g, h, ocsv1.ConditionReconciling, metav1.ConditionFalse, "")
			g.Expect(h.Status.LastOperation).NotTo(BeNil())
			g.Expect(h.Status.LastOperation.Type).To(Equal(ocsv1.OperationRebalance))
			g.Expect(h.Status.LastOperation.CompletionTime).NotTo(BeNil())
			g.Expect(h.Status.LastOperation.Moved).To(BeEquivalentTo(400))
			g.Expect(h.Status.LastOperation.Total).To(BeEquivalentTo(400))
			g.Expect(h.Status.TotalUsers).To(BeEquivalentTo(users))
			g.Expect(h.Status.PendingMoves).To(BeZero())
			g.Expect(h.Status.Servers).To(ConsistOf(
				ocsv1.HomingServerStatus{Name: "ocs1", HomedUsers: 500, DesiredUsers: 500},
				ocsv1.HomingServerStatus{Name: "ocs2", HomedUsers: 500, DesiredUsers: 500},
			))
		}).Should(Succeed())
		Expect(homesOf(fake, users)).To(Equal(map[string]int{"ocs1": 500, "ocs2": 500}))
		// 400 users in batches of 100: four move commands, none more.
		Expect(fake.Calls(ocs.OpMoveUsers)).To(Equal(4))
		Expect(homeOf(fake, 950)).To(Equal("ocs2"))
		Expect(homeOf(fake, 1)).To(Equal("ocs1"))
		// Planned moves carry the contacts.
		// The surplus leaves in SIP order, pinned users excepted: user0000 moved.
		Expect(homeOf(fake, 0)).To(Equal("ocs2"))
		r, ok := fake.StoredContacts("ocs2", homingSIP(0))
		Expect(ok).To(BeTrue())
		Expect(r.Contacts).To(Equal(homingContacts(0, 2, "buddy")))
		Eventually(func(g Gomega) {
			g.Expect(homingEvents(g, ns)).To(HaveKey("RebalanceStarted"))
			g.Expect(homingEvents(g, ns)).To(HaveKey("RebalanceCompleted"))
		}).Should(Succeed())
	})

	It("drains a server in maintenance with its users' contacts and rebalances when it returns", func() {
		ns := newNamespace()
		fake := newHomingFake(users, 500, 10)
		startManager(ns, Options{Agents: StaticProvider{Agent: fake}})
		pool := createFakePool(ns, nil)
		createHoming(ns, func(h *ocsv1.UserHoming) { h.Spec.Failback = ocsv1.FailbackSpec{Mode: ocsv1.FailbackAutomatic} })
		Eventually(func(g Gomega) {
			expectHomingCondition(g, getHoming(g, ns), ocsv1.ConditionReady, metav1.ConditionTrue, ocsv1.ReasonBalanced)
		}).Should(Succeed())

		updateObject(pool, func() {
			pool.Spec.Servers[0].Maintenance = true
		})

		Eventually(func(g Gomega) {
			h := getHoming(g, ns)
			op := h.Status.LastOperation
			g.Expect(op).NotTo(BeNil())
			g.Expect(op.Type).To(Equal(ocsv1.OperationDrain))
			g.Expect(op.CompletionTime).NotTo(BeNil())
			g.Expect(op.Moved).To(BeEquivalentTo(500))
			g.Expect(op.Forced).To(BeZero())
			expectHomingCondition(g, h, ocsv1.ConditionDegraded, metav1.ConditionFalse, ocsv1.ReasonAsExpected)
			g.Expect(k8sClient.Get(testCtx, client.ObjectKeyFromObject(pool), pool)).To(Succeed())
			g.Expect(pool.Status.Servers[0].State).To(Equal(ocsv1.ServerDrained))
		}).Should(Succeed())
		Expect(homesOf(fake, users)).To(Equal(map[string]int{"ocs2": users}))
		for i := range users {
			r, ok := fake.StoredContacts("ocs2", homingSIP(i))
			Expect(ok).To(BeTrue(), homingSIP(i))
			Expect(r.Contacts).To(Equal(homingContacts(i, 10, "buddy")), homingSIP(i))
		}

		updateObject(pool, func() {
			pool.Spec.Servers[0].Maintenance = false
		})
		Eventually(func(g Gomega) {
			h := getHoming(g, ns)
			op := h.Status.LastOperation
			g.Expect(op.Type).To(Equal(ocsv1.OperationFailback))
			g.Expect(op.CompletionTime).NotTo(BeNil())
			g.Expect(op.Moved).To(BeEquivalentTo(500))
			expectHomingCondition(g, h, ocsv1.ConditionReady, metav1.ConditionTrue, ocsv1.ReasonBalanced)
			expectHomingCondition(g, h, ocsv1.ConditionDegraded, metav1.ConditionFalse, "")
		}).Should(Succeed())
		Expect(homesOf(fake, users)).To(Equal(map[string]int{"ocs1": 500, "ocs2": 500}))
		Eventually(func(g Gomega) {
			ev := homingEvents(g, ns)
			g.Expect(ev).To(HaveKey("DrainStarted"))
			g.Expect(ev).To(HaveKey("DrainCompleted"))
			g.Expect(ev).To(HaveKey("FailbackStarted"))
			g.Expect(ev).To(HaveKey("FailbackCompleted"))
		}).Should(Succeed())
	})

	It("fails over a crashed server after the delay and restores its users' contacts from the snapshot", func() {
		ns := newNamespace()
		fake := newHomingFake(users, 500, 10)
		startManager(ns, Options{Agents: StaticProvider{Agent: fake}})
		createFakePool(ns, nil)
		createBackupAndSnapshot(ns)
		createRestoringHoming(ns, "backup", "2s")
		// Contacts made after the snapshot die with the server: the snapshot is what comes back.
		fake.AddUser(homingSIP(999), "ocs2", homingContacts(999, 11, "late")...)

		fake.SetDown("ocs2", true)
		Eventually(func(g Gomega) {
			h := getHoming(g, ns)
			expectHomingCondition(g, h, ocsv1.ConditionDegraded, metav1.ConditionTrue, "")
		}).Should(Succeed())
		Expect(fake.Calls(ocs.OpMoveUsers)).To(BeZero(), "no move before spec.failover.delay")

		Eventually(func(g Gomega) {
			h := getHoming(g, ns)
			op := h.Status.LastOperation
			g.Expect(op).NotTo(BeNil())
			g.Expect(op.Type).To(Equal(ocsv1.OperationFailover))
			g.Expect(op.CompletionTime).NotTo(BeNil(), "operation: %+v", op)
			expectHomingCondition(g, h, ocsv1.ConditionReady, metav1.ConditionFalse, ocsv1.ReasonServerNotServing)
			expectHomingCondition(g, h, ocsv1.ConditionDegraded, metav1.ConditionTrue, ocsv1.ReasonServerNotServing)
			g.Expect(op.Moved).To(BeEquivalentTo(500))
			g.Expect(op.Forced).To(BeEquivalentTo(500))
			g.Expect(op.ContactsRestored).To(BeEquivalentTo(500))
			g.Expect(op.Failed).To(BeZero())
			g.Expect(op.Snapshot).NotTo(BeEmpty())
		}).Should(Succeed())
		Expect(homesOf(fake, users)).To(Equal(map[string]int{"ocs1": users}))
		for i := 500; i < users; i++ {
			r, ok := fake.StoredContacts("ocs1", homingSIP(i))
			Expect(ok).To(BeTrue(), homingSIP(i))
			Expect(r.Contacts).To(Equal(homingContacts(i, 10, "buddy")), homingSIP(i))
		}
		Eventually(func(g Gomega) {
			ev := homingEvents(g, ns)
			g.Expect(ev).To(HaveKeyWithValue("FailoverStarted", 1))
			g.Expect(ev).To(HaveKeyWithValue("UsersForceMoved", 1))
			g.Expect(ev).To(HaveKeyWithValue("ContactsRestored", 1))
		}).Should(Succeed())

		// The server returns; failback is Manual by default: the users stay and the status says so.
		fake.SetDown("ocs2", false)
		Eventually(func(g Gomega) {
			h := getHoming(g, ns)
			expectHomingCondition(g, h, ocsv1.ConditionDegraded, metav1.ConditionTrue, ocsv1.ReasonFailbackManual)
			expectHomingCondition(g, h, ocsv1.ConditionReady, metav1.ConditionFalse, ocsv1.ReasonFailbackManual)
		}).Should(Succeed())
		Expect(homesOf(fake, users)).To(Equal(map[string]int{"ocs1": users}))
	})

	It("stalls when the same users fail in consecutive passes, naming them", func() {
		ns := newNamespace()
		fake := newHomingFake(200, 180, 1)
		fake.FailUser(homingSIP(0), "The user's SIP domain is not supported.")
		startManager(ns, Options{Agents: StaticProvider{Agent: fake}})
		createFakePool(ns, nil)
		createHoming(ns, nil)
		Eventually(func(g Gomega) {
			h := getHoming(g, ns)
			expectHomingCondition(g, h, ocsv1.ConditionStalled, metav1.ConditionTrue, ocsv1.ReasonMovesFailing)
			c := meta.FindStatusCondition(h.Status.Conditions, ocsv1.ConditionStalled)
			g.Expect(c.Message).To(ContainSubstring(homingSIP(0)))
			g.Expect(c.Message).To(ContainSubstring("not supported"))
			g.Expect(h.Status.LastOperation.Failed).To(BeEquivalentTo(1))
			expectHomingCondition(g, h, ocsv1.ConditionReady, metav1.ConditionFalse, ocsv1.ReasonRebalancing)
		}).Should(Succeed())
		Expect(homesOf(fake, 200)).To(Equal(map[string]int{"ocs1": 101, "ocs2": 99}))
		Eventually(func(g Gomega) { g.Expect(homingEvents(g, ns)).To(HaveKey("MovesFailed")) }).Should(Succeed())

		// The cause goes away: the move succeeds and the object recovers by itself.
		fake.FailUser(homingSIP(0), "")
		Eventually(func(g Gomega) {
			h := getHoming(g, ns)
			expectHomingCondition(g, h, ocsv1.ConditionStalled, metav1.ConditionFalse, "")
			expectHomingCondition(g, h, ocsv1.ConditionReady, metav1.ConditionTrue, ocsv1.ReasonBalanced)
		}).Should(Succeed())
		Expect(homesOf(fake, 200)).To(Equal(map[string]int{"ocs1": 100, "ocs2": 100}))
	})

	It("does not force-move the users of a server that answers although the pool says it is down", func() {
		ns := newNamespace()
		fake := newHomingFake(200, 100, 1)
		// The pool's probes fail for ocs2; a direct check (asDirectCheck) succeeds: the
		// pool status is stale, or the observer's path to ocs2 is broken.
		agent := &staleProbeAgent{Fake: fake, server: "ocs2"}
		startManager(ns, Options{Agents: StaticProvider{Agent: agent}})
		createFakePool(ns, nil)
		createHoming(ns, func(h *ocsv1.UserHoming) { h.Spec.Failover.Delay = "1s" })
		Eventually(func(g Gomega) {
			h := getHoming(g, ns)
			expectHomingCondition(g, h, ocsv1.ConditionReady, metav1.ConditionFalse, ocsv1.ReasonServerAnswering)
			g.Expect(homingEvents(g, ns)).To(HaveKey(ocsv1.ReasonServerAnswering))
		}).Should(Succeed())
		Expect(fake.Calls(ocs.OpMoveUsers)).To(BeZero())
		Expect(homesOf(fake, 200)).To(Equal(map[string]int{"ocs1": 100, "ocs2": 100}))
		h := &ocsv1.UserHoming{}
		Expect(k8sClient.Get(testCtx, client.ObjectKey{Namespace: ns, Name: "homing"}, h)).To(Succeed())
		Expect(h.Status.LastOperation).To(BeNil())
	})

	It("spreads by weight", func() {
		ns := newNamespace()
		fake := newHomingFake(400, 200, 1)
		startManager(ns, Options{Agents: StaticProvider{Agent: fake}})
		createFakePool(ns, nil)
		createHoming(ns, func(h *ocsv1.UserHoming) {
			h.Spec.Placement = ocsv1.PlacementWeighted
			h.Spec.Weights = map[string]int32{"ocs1": 3, "ocs2": 1}
		})
		Eventually(func(g Gomega) {
			h := getHoming(g, ns)
			expectHomingCondition(g, h, ocsv1.ConditionReady, metav1.ConditionTrue, ocsv1.ReasonBalanced)
			g.Expect(h.Status.Servers).To(ConsistOf(
				ocsv1.HomingServerStatus{Name: "ocs1", HomedUsers: 300, DesiredUsers: 300},
				ocsv1.HomingServerStatus{Name: "ocs2", HomedUsers: 100, DesiredUsers: 100},
			))
		}).Should(Succeed())
		Expect(homesOf(fake, 400)).To(Equal(map[string]int{"ocs1": 300, "ocs2": 100}))
	})

	It("restores a user whose copy in the newest snapshot is corrupt from the snapshot before, with a Warning", func() {
		ns := newNamespace()
		fake := newHomingFake(200, 100, 3)
		// A user with an empty list has nothing to restore and must not keep the restore going.
		fake.AddUser("sip:empty@corp.example.com", "ocs2")
		startManager(ns, Options{Agents: StaticProvider{Agent: fake}})
		createFakePool(ns, nil)
		cb := createBackupAndSnapshot(ns)
		// A second snapshot in which user0150 has other contacts; then its copy there is damaged.
		fake.AddUser(homingSIP(150), "ocs2", homingContacts(150, 4, "second")...)
		updateObject(cb, func() {
			cb.Annotations[ocsv1.AnnotationBackupNow] = "second"
		})
		Eventually(func(g Gomega) {
			g.Expect(k8sClient.Get(testCtx, client.ObjectKeyFromObject(cb), cb)).To(Succeed())
			g.Expect(cb.Status.LastHandledRequest).To(Equal("second"))
			g.Expect(cb.Status.Snapshots).To(HaveLen(2))
		}).Should(Succeed())
		repo, err := openRepository(testCtx, k8sClient, cb)
		Expect(err).NotTo(HaveOccurred())
		ms, err := repo.List(testCtx)
		Expect(err).NotTo(HaveOccurred())
		entry, err := repo.Entry(testCtx, ms[0], snapshotKey(homingSIP(150)))
		Expect(err).NotTo(HaveOccurred())
		Expect(os.Remove(filepath.Join(cb.Spec.Storage.Path, ns, cb.Name, "blobs", entry.Digest[:2], entry.Digest))).To(Succeed())

		createRestoringHoming(ns, cb.Name, "1s")
		fake.SetDown("ocs2", true)
		Eventually(func(g Gomega) {
			op := getHoming(g, ns).Status.LastOperation
			g.Expect(op).NotTo(BeNil())
			g.Expect(op.CompletionTime).NotTo(BeNil())
			g.Expect(op.Snapshot).To(Equal(ms[0].Name))
			g.Expect(op.Forced).To(BeEquivalentTo(101))
			g.Expect(op.ContactsRestored).To(BeEquivalentTo(100))
			g.Expect(homingEvents(g, ns)).To(HaveKey("CorruptSnapshot"))
		}).Should(Succeed())
		r, ok := fake.StoredContacts("ocs1", homingSIP(150))
		Expect(ok).To(BeTrue())
		Expect(r.Contacts).To(Equal(homingContacts(150, 3, "buddy")), "the copy of the snapshot before")
		r, ok = fake.StoredContacts("ocs1", homingSIP(151))
		Expect(ok).To(BeTrue())
		Expect(r.Contacts).To(Equal(homingContacts(151, 3, "buddy")))
	})

	It("asks a human before failing over in Manual mode", func() {
		ns := newNamespace()
		fake := newHomingFake(200, 100, 1)
		startManager(ns, Options{Agents: StaticProvider{Agent: fake}})
		createFakePool(ns, nil)
		createHoming(ns, func(h *ocsv1.UserHoming) {
			h.Spec.Failover = ocsv1.FailoverSpec{Mode: ocsv1.FailoverManual, Delay: "1s"}
		})
		Eventually(func(g Gomega) {
			expectHomingCondition(g, getHoming(g, ns), ocsv1.ConditionReady, metav1.ConditionTrue, ocsv1.ReasonBalanced)
		}).Should(Succeed())
		fake.SetDown("ocs2", true)
		Eventually(func(g Gomega) {
			h := getHoming(g, ns)
			expectHomingCondition(g, h, ocsv1.ConditionFailoverRequired, metav1.ConditionTrue, ocsv1.ReasonFailoverManual)
			c := meta.FindStatusCondition(h.Status.Conditions, ocsv1.ConditionFailoverRequired)
			g.Expect(c.Message).To(ContainSubstring("ocs2"))
			g.Expect(c.Message).To(ContainSubstring("spec.failover.mode to Automatic"))
			expectHomingCondition(g, h, ocsv1.ConditionReady, metav1.ConditionFalse, ocsv1.ReasonFailoverManual)
		}).Should(Succeed())
		Expect(fake.Calls(ocs.OpMoveUsers)).To(BeZero())

		h := &ocsv1.UserHoming{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "homing"}}
		updateObject(h, func() {
			h.Spec.Failover.Mode = ocsv1.FailoverAutomatic
		})
		Eventually(func(g Gomega) {
			h := getHoming(g, ns)
			g.Expect(h.Status.LastOperation).NotTo(BeNil())
			g.Expect(h.Status.LastOperation.CompletionTime).NotTo(BeNil())
			g.Expect(h.Status.LastOperation.Forced).To(BeEquivalentTo(100))
			g.Expect(h.Status.LastOperation.Message).To(ContainSubstring("not restored"))
			expectHomingCondition(g, h, ocsv1.ConditionFailoverRequired, metav1.ConditionFalse, "")
		}).Should(Succeed())
		Expect(homesOf(fake, 200)).To(Equal(map[string]int{"ocs1": 200}))
	})

	It("reports a missing pool", func() {
		ns := newNamespace()
		startManager(ns, Options{Agents: StaticProvider{Agent: ocs.NewFake("ocs1", "ocs2")}})
		createHoming(ns, nil)
		Eventually(func(g Gomega) {
			expectHomingCondition(g, getHoming(g, ns), ocsv1.ConditionReady, metav1.ConditionFalse, ocsv1.ReasonPoolNotFound)
		}).Should(Succeed())
		createFakePool(ns, nil)
		Eventually(func(g Gomega) {
			expectHomingCondition(g, getHoming(g, ns), ocsv1.ConditionReady, metav1.ConditionTrue, ocsv1.ReasonBalanced)
		}).Should(Succeed())
	})
})

// emulatorMoveCommands counts the move commands the emulated servers ran (GET /commands).
func emulatorMoveCommands(emu *sim.Emulator) (planned, forced int) {
	GinkgoHelper()
	var cmds map[string][]string
	simAdmin(emu, http.MethodGet, "/commands", &cmds)
	for _, lines := range cmds {
		for _, line := range lines {
			for _, script := range decodedScripts(line) {
				if !strings.Contains(script, "$u.HomeServerDN = $target") && !strings.Contains(script, "Move-CsUser") {
					continue
				}
				if strings.Contains(script, "$force = $true") || strings.Contains(script, "-Force") {
					forced++
				} else {
					planned++
				}
			}
		}
	}
	return planned, forced
}

// Command slots a wave's batches are cut for under the default WinRM options
// (placement.Spread): a forced move runs on its target, a planned one via both servers.
const (
	forcedSlots  = 2
	plannedSlots = 4
)

// moveCommands is the number of move commands that carry users in batches of at most batch, in
// passes of batchesPerPass batches, each pass's batches cut into a multiple of slots
// (placement.Spread). It assumes every pass has at least slots users.
func moveCommands(users, batch, slots int) int {
	batches, total := (users+batch-1)/batch, 0
	for batches > 0 {
		n := min(batches, batchesPerPass)
		total += (n + slots - 1) / slots * slots
		batches -= n
	}
	return total
}

// decodedScripts returns the PowerShell scripts of a command line's -EncodedCommand parts.
func decodedScripts(line string) []string {
	var out []string
	for _, part := range strings.Split(line, "-EncodedCommand ")[1:] {
		enc, _, _ := strings.Cut(part, " ")
		b, err := base64.StdEncoding.DecodeString(enc)
		if err != nil {
			continue
		}
		u := make([]uint16, len(b)/2)
		for i := range u {
			u[i] = uint16(b[2*i]) | uint16(b[2*i+1])<<8
		}
		out = append(out, string(utf16.Decode(u)))
	}
	return out
}

// startHomingEmulator starts an emulator with ocs1 and ocs2 and users 0..n-1, the first onFirst
// homed on ocs1 and the rest on ocs2, each with contactsPerUser contacts.
func startHomingEmulator(n, onFirst, contactsPerUser int) *sim.Emulator {
	GinkgoHelper()
	return startHomingEmulatorWith(sim.Config{}, n, onFirst, contactsPerUser)
}

// startHomingEmulatorWith is startHomingEmulator with the emulator's other settings from cfg.
func startHomingEmulatorWith(cfg sim.Config, n, onFirst, contactsPerUser int) *sim.Emulator {
	GinkgoHelper()
	cfg.Servers = []string{"ocs1", "ocs2"}
	emu := startEmulator(cfg)
	w := emu.World()
	for i := range n {
		home := "ocs2"
		if i < onFirst {
			home = "ocs1"
		}
		Expect(w.AddUser(homingSIP(i), home)).To(Succeed())
		r := contacts.Resource{UserAtHost: strings.TrimPrefix(homingSIP(i), "sip:"), Contacts: homingContacts(i, contactsPerUser, "buddy")}
		Expect(w.SetContacts(homingSIP(i), r)).To(Succeed())
	}
	return emu
}

// emulatorHomes counts the emulated directory's users per home.
func emulatorHomes(emu *sim.Emulator) map[string]int {
	out := map[string]int{}
	for _, u := range emu.World().Users() {
		out[u.Home]++
	}
	return out
}

var _ = Describe("UserHoming controller with the emulator", func() {
	const users = 1000

	It("balances 900/100 with exactly 400 moves in 4 commands and keeps pinned users", func() {
		ns := newNamespace()
		emu := startHomingEmulator(users, 900, 10)
		startManager(ns, Options{})
		waitPoolReady(createPoolFor(ns, emu, nil))
		createHoming(ns, func(h *ocsv1.UserHoming) {
			h.Spec.Pins = []ocsv1.Pin{{User: homingSIP(0), Server: "ocs1"}, {User: homingSIP(950), Server: "ocs2"}}
		})
		Eventually(func(g Gomega) {
			h := getHoming(g, ns)
			expectHomingCondition(g, h, ocsv1.ConditionReady, metav1.ConditionTrue, ocsv1.ReasonBalanced)
			g.Expect(h.Status.LastOperation).NotTo(BeNil())
			g.Expect(h.Status.LastOperation.CompletionTime).NotTo(BeNil())
			g.Expect(h.Status.LastOperation.Moved).To(BeEquivalentTo(400))
		}).Should(Succeed())
		Expect(emulatorHomes(emu)).To(Equal(map[string]int{"ocs1": 500, "ocs2": 500}))
		planned, forced := emulatorMoveCommands(emu)
		Expect(planned).To(Equal(4))
		Expect(forced).To(BeZero())
		for _, u := range emu.World().Users() {
			switch u.SIP {
			case homingSIP(0):
				Expect(u.Home).To(Equal("ocs1"))
			case homingSIP(950):
				Expect(u.Home).To(Equal("ocs2"))
			}
			Expect(u.Contacts).To(Equal(10), "planned moves carry the contacts of %s", u.SIP)
		}
	})

	It("drains a server in maintenance with every contact and rebalances when it returns", func() {
		ns := newNamespace()
		emu := startHomingEmulator(users, 500, 10)
		before := map[string]contacts.Resource{}
		for i := range users {
			r, ok := emu.World().UserContacts(homingSIP(i))
			Expect(ok).To(BeTrue())
			before[homingSIP(i)] = r
		}
		startManager(ns, Options{})
		pool := createPoolFor(ns, emu, nil)
		waitPoolReady(pool)
		createHoming(ns, func(h *ocsv1.UserHoming) { h.Spec.Failback = ocsv1.FailbackSpec{Mode: ocsv1.FailbackAutomatic} })
		Eventually(func(g Gomega) {
			expectHomingCondition(g, getHoming(g, ns), ocsv1.ConditionReady, metav1.ConditionTrue, ocsv1.ReasonBalanced)
		}).Should(Succeed())

		updateObject(pool, func() {
			pool.Spec.Servers[0].Maintenance = true
		})
		Eventually(func(g Gomega) {
			h := getHoming(g, ns)
			g.Expect(h.Status.LastOperation).NotTo(BeNil())
			g.Expect(h.Status.LastOperation.Type).To(Equal(ocsv1.OperationDrain))
			g.Expect(h.Status.LastOperation.CompletionTime).NotTo(BeNil())
			g.Expect(k8sClient.Get(testCtx, client.ObjectKeyFromObject(pool), pool)).To(Succeed())
			g.Expect(pool.Status.Servers[0].State).To(Equal(ocsv1.ServerDrained))
		}).Should(Succeed())
		Expect(emulatorHomes(emu)).To(Equal(map[string]int{"ocs2": users}))
		for sip, want := range before {
			got, ok := emu.World().UserContacts(sip)
			Expect(ok).To(BeTrue())
			Expect(got.Contacts).To(Equal(want.Contacts), sip)
		}

		updateObject(pool, func() {
			pool.Spec.Servers[0].Maintenance = false
		})
		Eventually(func(g Gomega) {
			h := getHoming(g, ns)
			g.Expect(h.Status.LastOperation.Type).To(Equal(ocsv1.OperationFailback))
			g.Expect(h.Status.LastOperation.CompletionTime).NotTo(BeNil())
			expectHomingCondition(g, h, ocsv1.ConditionReady, metav1.ConditionTrue, ocsv1.ReasonBalanced)
		}).Should(Succeed())
		Expect(emulatorHomes(emu)).To(Equal(map[string]int{"ocs1": 500, "ocs2": 500}))
		planned, forced := emulatorMoveCommands(emu)
		Expect(planned).To(Equal(2*moveCommands(500, 100, plannedSlots)), "500 users out and 500 back, at most 100 per command, as many per command slot")
		Expect(forced).To(BeZero())
	})

	It("fails over a crashed server and restores its users' contacts from the newest snapshot before the crash", func() {
		ns := newNamespace()
		emu := startHomingEmulator(users, 500, 10)
		startManager(ns, Options{})
		waitPoolReady(createPoolFor(ns, emu, nil))
		cb := createBackupAndSnapshot(ns)
		createRestoringHoming(ns, cb.Name, "2s")
		// Contacts made after the snapshot die with the server.
		late := contacts.Resource{UserAtHost: strings.TrimPrefix(homingSIP(999), "sip:"), Contacts: homingContacts(999, 11, "late")}
		Expect(emu.World().SetContacts(homingSIP(999), late)).To(Succeed())

		simCrash(emu, "ocs2")
		Eventually(func(g Gomega) {
			expectHomingCondition(g, getHoming(g, ns), ocsv1.ConditionDegraded, metav1.ConditionTrue, "")
		}).Should(Succeed())
		expectFailedOver(ns, emu, cb, users)
	})

	DescribeTable("resumes a failover after the manager is stopped in the middle",
		func(moveLimit, importLimit int, runThenBlock bool) {
			ns := newNamespace()
			emu := startHomingEmulator(users, 500, 10)
			ia := newInterruptingAgent(nil)
			stop := startManager(ns, Options{Agents: &interruptingProvider{inner: &WinRMProvider{Reader: k8sClient}, agent: ia}})
			waitPoolReady(createPoolFor(ns, emu, nil))
			cb := createBackupAndSnapshot(ns)
			createRestoringHoming(ns, cb.Name, "1s")

			ia.arm(moveLimit, importLimit, runThenBlock)
			simCrash(emu, "ocs2")
			Eventually(ia.blocked).Should(BeClosed())
			stop()

			startManager(ns, Options{})
			expectFailedOverState(ns, emu, cb, users)
			// Batches run side by side: one still running when the manager stopped is terminated
			// part way, and its remaining users leave in one more command.
			_, forced := emulatorMoveCommands(emu)
			Expect(forced).To(BeNumerically("~", moveCommands(users/2, 100, forcedSlots), 1), "no batch of users force-moved twice")
		},
		Entry("after the first forced batch", 1, -1, false),
		Entry("between the moves and the restore", -1, 0, false),
		Entry("in the middle of the restore, after an import whose result was lost", -1, 1, true),
	)

	It("causes no forced move when a server flaps faster than the failover delay", func() {
		ns := newNamespace()
		emu := startHomingEmulator(200, 100, 1)
		startManager(ns, Options{})
		waitPoolReady(createPoolFor(ns, emu, nil))
		createHoming(ns, func(h *ocsv1.UserHoming) { h.Spec.Failover.Delay = "3s" })
		Eventually(func(g Gomega) {
			expectHomingCondition(g, getHoming(g, ns), ocsv1.ConditionReady, metav1.ConditionTrue, ocsv1.ReasonBalanced)
		}).Should(Succeed())

		ctx, cancel := context.WithCancel(testCtx)
		done := make(chan struct{})
		go func() {
			defer close(done)
			t := time.NewTicker(time.Second)
			defer t.Stop()
			action := "start"
			for {
				select {
				case <-ctx.Done():
					postAdmin(emu, "/servers/ocs2/start")
					return
				case <-t.C:
					if action == "start" {
						action = "crash"
					} else {
						action = "start"
					}
					postAdmin(emu, "/servers/ocs2/"+action)
				}
			}
		}()
		DeferCleanup(func() { cancel(); <-done })
		Consistently(func(g Gomega) {
			_, forced := emulatorMoveCommands(emu)
			g.Expect(forced).To(BeZero())
			h := getHoming(g, ns)
			g.Expect(h.Status.LastOperation == nil || h.Status.LastOperation.Type != ocsv1.OperationFailover).To(BeTrue())
		}, 6*time.Second, 250*time.Millisecond).Should(Succeed())
		Expect(emulatorHomes(emu)).To(Equal(map[string]int{"ocs1": 100, "ocs2": 100}))
	})
})

// postAdmin posts to the emulator's admin API from a goroutine (no assertion: the test's
// Consistently decides).
func postAdmin(emu *sim.Emulator, path string) {
	ctx, cancel := context.WithTimeout(testCtx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, emu.AdminURL()+path, nil)
	if err != nil {
		return
	}
	if resp, err := http.DefaultClient.Do(req); err == nil {
		_ = resp.Body.Close()
	}
}

// expectFailedOver waits for the failover of ocs2 to complete and checks that every user is
// homed once on ocs1, that every former ocs2 user's contacts equal the snapshot, that no user was
// force-moved twice and that the counts are exact.
func expectFailedOver(ns string, emu *sim.Emulator, cb *ocsv1.ContactBackup, users int) {
	GinkgoHelper()
	expectFailedOverState(ns, emu, cb, users)
	_, forced := emulatorMoveCommands(emu)
	Expect(forced).To(Equal(moveCommands(users/2, 100, forcedSlots)), "each user force-moved by exactly one command")
}

// expectFailedOverState is expectFailedOver without counting the move commands: a command
// terminated part way leaves its remaining users to another one.
func expectFailedOverState(ns string, emu *sim.Emulator, cb *ocsv1.ContactBackup, users int) {
	GinkgoHelper()
	Eventually(func(g Gomega) {
		h := getHoming(g, ns)
		op := h.Status.LastOperation
		g.Expect(op).NotTo(BeNil())
		g.Expect(op.Type).To(Equal(ocsv1.OperationFailover))
		g.Expect(op.CompletionTime).NotTo(BeNil(), "operation: %+v", op)
		g.Expect(op.Moved).To(BeEquivalentTo(users / 2))
		g.Expect(op.Forced).To(BeEquivalentTo(users / 2))
		g.Expect(op.ContactsRestored).To(BeEquivalentTo(users / 2))
		g.Expect(op.Failed).To(BeZero())
		g.Expect(op.PendingRestores).To(BeEmpty())
		expectHomingCondition(g, h, ocsv1.ConditionReady, metav1.ConditionFalse, ocsv1.ReasonServerNotServing)
		expectHomingCondition(g, h, ocsv1.ConditionDegraded, metav1.ConditionTrue, ocsv1.ReasonServerNotServing)
	}).Should(Succeed())

	seen := map[string]int{}
	for _, u := range emu.World().Users() {
		seen[u.SIP]++
		Expect(u.Home).To(Equal("ocs1"), u.SIP)
	}
	Expect(seen).To(HaveLen(users))
	for sip, n := range seen {
		Expect(n).To(Equal(1), sip)
	}

	repo, err := openRepository(testCtx, k8sClient, cb)
	Expect(err).NotTo(HaveOccurred())
	for i := users / 2; i < users; i++ {
		want, _, _, err := newestContactsFor(testCtx, repo, homingSIP(i), time.Now())
		Expect(err).NotTo(HaveOccurred())
		got, ok := emu.World().UserContacts(homingSIP(i))
		Expect(ok).To(BeTrue())
		Expect(got.Contacts).To(Equal(want.Contacts), homingSIP(i))
		Expect(got.Contacts).To(Equal(homingContacts(i, 10, "buddy")), homingSIP(i))
	}
}

// staleProbeAgent fails the pool's probes of one server (calls with a deadline) with
// ErrUnreachable and answers every other call.
type staleProbeAgent struct {
	*ocs.Fake
	server string
}

func (a *staleProbeAgent) ServiceHealth(ctx context.Context, server string, services []string) ([]ocs.ServiceStatus, error) {
	if !isDirectCheck(ctx) && server == a.server {
		return nil, fmt.Errorf("ServiceHealth on %s: %w", server, ocs.ErrUnreachable)
	}
	return a.Fake.ServiceHealth(ctx, server, services)
}
