package controllers

import (
	"context"
	"os"
	"path/filepath"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	ocsv1 "github.com/ocsha/ocs-ha-operator/api/v1alpha1"
	"github.com/ocsha/ocs-ha-operator/internal/ocs"
)

// pausedMoves holds every move until release is closed, so that a test sees an operation
// in the middle.
type pausedMoves struct {
	ocs.Agent
	release chan struct{}
}

func (a *pausedMoves) MoveUsers(ctx context.Context, via string, users []string, target string, force bool) ([]ocs.MoveResult, error) {
	select {
	case <-a.release:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return a.Agent.MoveUsers(ctx, via, users, target, force)
}

// kstatusOf computes what Flux and kpt make of an object as the API server holds it.
func kstatusOf(g Gomega, obj client.Object, kind string) status.Status {
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(ocsv1.GroupVersion.WithKind(kind))
	g.Expect(k8sClient.Get(testCtx, client.ObjectKeyFromObject(obj), u)).To(Succeed())
	res, err := status.Compute(u)
	g.Expect(err).NotTo(HaveOccurred())
	return res.Status
}

// recordForGitOps saves the object, as the API server holds it, for the GitOps health tests
// (test/gitops/testdata) when OCSHA_RECORD_OBJECTS is set.
func recordForGitOps(obj client.Object, kind, name string) {
	GinkgoHelper()
	if os.Getenv("OCSHA_RECORD_OBJECTS") == "" {
		return
	}
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(ocsv1.GroupVersion.WithKind(kind))
	Expect(k8sClient.Get(testCtx, client.ObjectKeyFromObject(obj), u)).To(Succeed())
	u.SetManagedFields(nil)
	u.SetAnnotations(nil)
	data, err := yaml.Marshal(u.Object)
	Expect(err).NotTo(HaveOccurred())
	header := "# Recorded from the controllers' envtest run (OCSHA_RECORD_OBJECTS=1).\n"
	Expect(os.WriteFile(filepath.Join("..", "test", "gitops", "testdata", name+".yaml"), append([]byte(header), data...), 0o644)).To(Succeed())
}

var _ = Describe("UserHoming day-2 operations", func() {
	const users = 1000

	It("drains as desired state (Current once Drained) and returns users after maintenance with failback: Manual", func() {
		ns := newNamespace()
		fake := newHomingFake(users, 500, 2)
		agent := &pausedMoves{Agent: fake, release: make(chan struct{})}
		startManager(ns, Options{Agents: StaticProvider{Agent: agent}})
		pool := createFakePool(ns, nil)
		homing := createHoming(ns, func(h *ocsv1.UserHoming) { h.Spec.Failback = ocsv1.FailbackSpec{Mode: ocsv1.FailbackManual} })
		Eventually(func(g Gomega) {
			expectHomingCondition(g, getHoming(g, ns), ocsv1.ConditionReady, metav1.ConditionTrue, ocsv1.ReasonBalanced)
		}).Should(Succeed())

		updateObject(pool, func() { pool.Spec.Servers[0].Maintenance = true })
		Eventually(func(g Gomega) {
			p := &ocsv1.OCSPool{}
			g.Expect(k8sClient.Get(testCtx, client.ObjectKeyFromObject(pool), p)).To(Succeed())
			g.Expect(p.Status.Servers[0].State).To(Equal(ocsv1.ServerDraining))
			g.Expect(meta.IsStatusConditionTrue(p.Status.Conditions, ocsv1.ConditionReconciling)).To(BeTrue())
			g.Expect(meta.IsStatusConditionTrue(p.Status.Conditions, ocsv1.ConditionDegraded)).To(BeFalse())
			g.Expect(kstatusOf(g, pool, "OCSPool")).To(Equal(status.InProgressStatus))
			h := getHoming(g, ns)
			expectHomingCondition(g, h, ocsv1.ConditionReconciling, metav1.ConditionTrue, ocsv1.ReasonDraining)
			g.Expect(h.Status.Operation).To(Equal("Drain"))
			g.Expect(h.Status.Progress).To(Equal("0/500"))
			g.Expect(kstatusOf(g, homing, "UserHoming")).To(Equal(status.InProgressStatus))
		}).Should(Succeed())
		recordForGitOps(pool, "OCSPool", "ocspool-draining")
		recordForGitOps(homing, "UserHoming", "userhoming-draining")

		close(agent.release)
		Eventually(func(g Gomega) {
			p := &ocsv1.OCSPool{}
			g.Expect(k8sClient.Get(testCtx, client.ObjectKeyFromObject(pool), p)).To(Succeed())
			g.Expect(p.Status.Servers[0].State).To(Equal(ocsv1.ServerDrained))
			g.Expect(meta.IsStatusConditionTrue(p.Status.Conditions, ocsv1.ConditionReady)).To(BeTrue(), conditionsString(p.Status.Conditions))
			g.Expect(kstatusOf(g, pool, "OCSPool")).To(Equal(status.CurrentStatus))
			h := getHoming(g, ns)
			g.Expect(h.Status.LastOperation.Type).To(Equal(ocsv1.OperationDrain))
			g.Expect(h.Status.LastOperation.CompletionTime).NotTo(BeNil())
			g.Expect(h.Status.Progress).To(Equal("500/500"))
			g.Expect(h.Status.Operation).To(BeEmpty())
			expectHomingCondition(g, h, ocsv1.ConditionReady, metav1.ConditionTrue, ocsv1.ReasonBalanced)
			expectHomingCondition(g, h, ocsv1.ConditionDegraded, metav1.ConditionFalse, "")
			g.Expect(kstatusOf(g, homing, "UserHoming")).To(Equal(status.CurrentStatus))
		}).Should(Succeed())
		recordForGitOps(pool, "OCSPool", "ocspool-drained")
		recordForGitOps(homing, "UserHoming", "userhoming-drained")

		// The return was planned: users go back although spec.failback is Manual.
		updateObject(pool, func() { pool.Spec.Servers[0].Maintenance = false })
		Eventually(func(g Gomega) {
			h := getHoming(g, ns)
			g.Expect(h.Status.LastOperation.Type).To(Equal(ocsv1.OperationFailback))
			g.Expect(h.Status.LastOperation.CompletionTime).NotTo(BeNil())
			g.Expect(h.Status.LastOperation.Moved).To(BeEquivalentTo(500))
			expectHomingCondition(g, h, ocsv1.ConditionReady, metav1.ConditionTrue, ocsv1.ReasonBalanced)
		}).Should(Succeed())
		Expect(homesOf(fake, users)).To(Equal(map[string]int{"ocs1": 500, "ocs2": 500}))
	})

	It("holds a failback while the server flaps and moves users once it stayed Healthy for stableFor", func() {
		d := startDayOps(func(h *ocsv1.UserHoming) {
			h.Spec.Failback = ocsv1.FailbackSpec{Mode: ocsv1.FailbackAutomatic, StableFor: "30s"}
		})
		d.failOver()
		recordForGitOps(d.homing, "UserHoming", "userhoming-failed-over")
		movesAfterFailover := d.fake.Calls(ocs.OpMoveUsers)

		// Healthy 10 s, down 5 s, five times over: the hold-down restarts at every return.
		for range 5 {
			back := d.setOCS1(ocsv1.ServerHealthy)
			d.expectWaiting(ocsv1.ReasonWaitingForStableServer, back.Add(30*time.Second))
			d.clock.Step(10 * time.Second)
			d.wake()
			d.expectWaiting(ocsv1.ReasonWaitingForStableServer, back.Add(30*time.Second))
			d.setOCS1(ocsv1.ServerUnreachable)
			Eventually(func(g Gomega) {
				h := getHoming(g, d.ns)
				expectHomingCondition(g, h, ocsv1.ConditionReady, metav1.ConditionFalse, "")
				g.Expect(h.Status.NextActionTime).To(BeNil())
				g.Expect(h.Status.Operation).To(BeEmpty())
			}).Should(Succeed())
			d.clock.Step(5 * time.Second)
		}
		Expect(d.fake.Calls(ocs.OpMoveUsers)).To(Equal(movesAfterFailover), "no failback while flapping")
		Expect(homesOf(d.fake, users)).To(Equal(map[string]int{"ocs2": users}))

		back := d.setOCS1(ocsv1.ServerHealthy)
		d.expectWaiting(ocsv1.ReasonWaitingForStableServer, back.Add(30*time.Second))
		recordForGitOps(d.homing, "UserHoming", "userhoming-failback-held")
		d.clock.Step(30 * time.Second)
		d.wake()
		d.expectFailback(500)
	})

	It("publishes a proposal under Manual approval, moves nobody until it is approved, then runs exactly it", func() {
		d := startDayOps(func(h *ocsv1.UserHoming) {
			h.Spec.Failback = ocsv1.FailbackSpec{Mode: ocsv1.FailbackAutomatic, StableFor: "30s"}
			h.Spec.Approval = ocsv1.ApprovalManual
		})
		d.failOver()
		moves := d.fake.Calls(ocs.OpMoveUsers)
		d.setOCS1(ocsv1.ServerHealthy)
		d.clock.Step(time.Minute)
		d.wake()

		var proposal *ocsv1.Proposal
		Eventually(func(g Gomega) {
			h := getHoming(g, d.ns)
			expectHomingCondition(g, h, ocsv1.ConditionReady, metav1.ConditionFalse, ocsv1.ReasonWaitingForApproval)
			g.Expect(h.Status.Proposal).NotTo(BeNil())
			proposal = h.Status.Proposal
		}).Should(Succeed())
		Expect(proposal.Operation).To(Equal(ocsv1.OperationFailback))
		Expect(proposal.Moves).To(Equal([]ocsv1.ProposedMove{{From: "ocs2", To: "ocs1", Users: 500}}))
		Expect(proposal.ID).To(MatchRegexp(`^failback-[0-9a-f]{10}$`))
		Expect(proposal.EstimatedDuration).NotTo(BeEmpty())
		recordForGitOps(d.homing, "UserHoming", "userhoming-waiting-for-approval")

		// Another pass publishes the same plan under the same id and still moves nobody.
		d.wake()
		Consistently(func(g Gomega) {
			h := getHoming(g, d.ns)
			g.Expect(h.Status.Proposal).NotTo(BeNil())
			g.Expect(h.Status.Proposal.ID).To(Equal(proposal.ID))
			g.Expect(d.fake.Calls(ocs.OpMoveUsers)).To(Equal(moves))
		}, 2*time.Second, 200*time.Millisecond).Should(Succeed())

		updateObject(d.homing, func() { d.homing.Spec.ApprovedProposal = proposal.ID })
		d.expectFailback(int(proposal.Moves[0].Users))
		// 500 users in batches of at most 100, cut for both servers' slots: eight commands, nothing else.
		Expect(d.fake.Calls(ocs.OpMoveUsers) - moves).To(Equal(moveCommands(500, 100, plannedSlots)))
		Expect(getHoming(Default, d.ns).Status.Proposal).To(BeNil())
	})

	It("starts no failback outside the maintenance windows and says when it will", func() {
		d := startDayOps(func(h *ocsv1.UserHoming) {
			h.Spec.Failback = ocsv1.FailbackSpec{Mode: ocsv1.FailbackAutomatic, StableFor: "30s"}
			// The fake clock starts at 12:00 UTC; the window opens at 22:00.
			h.Spec.MaintenanceWindows = []ocsv1.MaintenanceWindow{{Schedule: "0 22 * * *", Duration: "2h"}}
		})
		// Failover is an emergency: windows do not hold it.
		d.failOver()
		moves := d.fake.Calls(ocs.OpMoveUsers)
		d.setOCS1(ocsv1.ServerHealthy)
		d.clock.Step(time.Minute)
		d.wake()
		opens := time.Date(2026, 12, 1, 22, 0, 0, 0, time.UTC)
		d.expectWaiting(ocsv1.ReasonOutsideMaintenanceWindow, opens)
		Expect(d.fake.Calls(ocs.OpMoveUsers)).To(Equal(moves))
		recordForGitOps(d.homing, "UserHoming", "userhoming-outside-window")

		d.clock.SetTime(opens.Add(time.Minute))
		d.wake()
		d.expectFailback(500)
	})
})

// dayOps is a UserHoming on a pool whose status the test writes (no OCSPool controller runs),
// under a fake clock: the hold-down and windows are exercised without waiting for them.
type dayOps struct {
	ns     string
	fake   *ocs.Fake
	clock  *clocktesting.FakeClock
	pool   *ocsv1.OCSPool
	homing *ocsv1.UserHoming
	woken  int
}

func startDayOps(mutate func(*ocsv1.UserHoming)) *dayOps {
	GinkgoHelper()
	d := &dayOps{ns: newNamespace(), fake: newHomingFake(1000, 500, 2),
		clock: clocktesting.NewFakeClock(time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC))}
	runManager(d.ns, Options{Agents: StaticProvider{Agent: d.fake}, Clock: d.clock}, managerSetup{
		register: func(mgr ctrl.Manager, opts Options) error {
			return (&UserHomingReconciler{}).SetupWithManager(mgr, opts)
		},
	})
	d.pool = createFakePool(d.ns, nil)
	d.setStates(map[string]ocsv1.ServerState{"ocs1": ocsv1.ServerHealthy, "ocs2": ocsv1.ServerHealthy}, d.clock.Now().Add(-time.Hour))
	d.homing = createHoming(d.ns, func(h *ocsv1.UserHoming) {
		h.Spec.Failover.Delay = "10s"
		mutate(h)
	})
	Eventually(func(g Gomega) {
		expectHomingCondition(g, getHoming(g, d.ns), ocsv1.ConditionReady, metav1.ConditionTrue, ocsv1.ReasonBalanced)
	}).Should(Succeed())
	return d
}

// setStates writes the pool's server states as the OCSPool controller would, all changed at since.
func (d *dayOps) setStates(states map[string]ocsv1.ServerState, since time.Time) {
	GinkgoHelper()
	t := metav1.NewTime(since)
	p := &ocsv1.OCSPool{}
	updateStatus := func() error {
		if err := k8sClient.Get(testCtx, client.ObjectKeyFromObject(d.pool), p); err != nil {
			return err
		}
		for name, state := range states {
			found := false
			for i := range p.Status.Servers {
				if p.Status.Servers[i].Name == name {
					p.Status.Servers[i].State, p.Status.Servers[i].LastTransitionTime, found = state, &t, true
				}
			}
			if !found {
				p.Status.Servers = append(p.Status.Servers, ocsv1.ServerStatus{Name: name, State: state, LastTransitionTime: &t})
			}
		}
		return k8sClient.Status().Update(testCtx, p)
	}
	Eventually(updateStatus).Should(Succeed())
}

// setOCS1 sets ocs1's state now (the fake agreeing) and returns the time.
func (d *dayOps) setOCS1(state ocsv1.ServerState) time.Time {
	GinkgoHelper()
	now := d.clock.Now()
	d.fake.SetDown("ocs1", state != ocsv1.ServerHealthy)
	d.setStates(map[string]ocsv1.ServerState{"ocs1": state}, now)
	return now
}

// failOver crashes ocs1 (down for longer than the delay) and waits for the failover's end.
func (d *dayOps) failOver() {
	GinkgoHelper()
	d.fake.SetDown("ocs1", true)
	d.setStates(map[string]ocsv1.ServerState{"ocs1": ocsv1.ServerUnreachable}, d.clock.Now().Add(-time.Minute))
	Eventually(func(g Gomega) {
		h := getHoming(g, d.ns)
		op := h.Status.LastOperation
		g.Expect(op).NotTo(BeNil())
		g.Expect(op.Type).To(Equal(ocsv1.OperationFailover))
		g.Expect(op.CompletionTime).NotTo(BeNil())
		g.Expect(op.ContactLossWindow).To(ContainSubstring("no snapshot"))
		expectHomingCondition(g, h, ocsv1.ConditionReady, metav1.ConditionFalse, ocsv1.ReasonServerNotServing)
		expectHomingCondition(g, h, ocsv1.ConditionDegraded, metav1.ConditionTrue, ocsv1.ReasonFailoverWithoutSnapshot)
		g.Expect(kstatusOf(g, d.homing, "UserHoming")).NotTo(Equal(status.CurrentStatus))
	}).Should(Succeed())
	Expect(homesOf(d.fake, 1000)).To(Equal(map[string]int{"ocs2": 1000}))
}

// wake makes the UserHoming reconcile now: a change of the pool's spec, which the homing
// watches (the fake clock's deadlines do not requeue in real time).
func (d *dayOps) wake() {
	GinkgoHelper()
	d.woken++
	updateObject(d.pool, func() {
		d.pool.Spec.Health.ProbeTimeout = (100*time.Millisecond + time.Duration(d.woken)*time.Millisecond).String()
	})
}

// expectWaiting waits until the homing reports a failback held for reason until the time until.
func (d *dayOps) expectWaiting(reason string, until time.Time) {
	GinkgoHelper()
	Eventually(func(g Gomega) {
		h := getHoming(g, d.ns)
		expectHomingCondition(g, h, ocsv1.ConditionReady, metav1.ConditionFalse, reason)
		expectHomingCondition(g, h, ocsv1.ConditionDegraded, metav1.ConditionTrue, ocsv1.ReasonUsersFailedOver)
		g.Expect(h.Status.NextActionTime).NotTo(BeNil())
		g.Expect(h.Status.NextActionTime.Time.Equal(until)).To(BeTrue(), "nextActionTime %s, want %s", h.Status.NextActionTime, until)
		g.Expect(meta.FindStatusCondition(h.Status.Conditions, ocsv1.ConditionReady).Message).To(ContainSubstring(until.UTC().Format(time.RFC3339)))
		g.Expect(h.Status.Operation).To(Equal("Failback (" + reason + ")"))
		g.Expect(h.Status.LastOperation.Type).To(Equal(ocsv1.OperationFailover))
	}).Should(Succeed())
}

// expectFailback waits until a failback moved n users back to ocs1.
func (d *dayOps) expectFailback(n int) {
	GinkgoHelper()
	Eventually(func(g Gomega) {
		h := getHoming(g, d.ns)
		op := h.Status.LastOperation
		g.Expect(op.Type).To(Equal(ocsv1.OperationFailback))
		g.Expect(op.CompletionTime).NotTo(BeNil())
		g.Expect(op.Moved).To(BeEquivalentTo(n))
		expectHomingCondition(g, h, ocsv1.ConditionReady, metav1.ConditionTrue, ocsv1.ReasonBalanced)
		g.Expect(h.Status.NextActionTime).To(BeNil())
	}).Should(Succeed())
	Expect(homesOf(d.fake, 1000)).To(Equal(map[string]int{"ocs1": 500, "ocs2": 500}))
}
