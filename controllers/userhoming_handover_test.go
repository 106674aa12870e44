package controllers

import (
	"context"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	ocsv1 "github.com/ocsha/ocs-ha-operator/api/v1alpha1"
	"github.com/ocsha/ocs-ha-operator/internal/contacts"
	"github.com/ocsha/ocs-ha-operator/internal/ocs"
	"github.com/ocsha/ocs-ha-operator/internal/sim"
)

// mutatingCall is one MoveUsers or ImportContacts call of one manager, as its agent saw it.
type mutatingCall struct {
	manager    string
	op         string
	users      []string
	start, end time.Time
	done       bool
}

// callLog records the mutating calls of every manager of a test.
type callLog struct {
	mu    sync.Mutex
	calls []*mutatingCall
}

func (l *callLog) begin(manager, op string, users []string) *mutatingCall {
	l.mu.Lock()
	defer l.mu.Unlock()
	c := &mutatingCall{manager: manager, op: op, users: users, start: time.Now()}
	l.calls = append(l.calls, c)
	return c
}

func (l *callLog) end(c *mutatingCall) {
	l.mu.Lock()
	defer l.mu.Unlock()
	c.end, c.done = time.Now(), true
}

// snapshot returns a copy of the calls.
func (l *callLog) snapshot() []mutatingCall {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]mutatingCall, 0, len(l.calls))
	for _, c := range l.calls {
		out = append(out, *c)
	}
	return out
}

// running reports whether manager has a call of op in flight.
func (l *callLog) running(manager, op string) bool {
	for _, c := range l.snapshot() {
		if c.manager == manager && c.op == op && !c.done {
			return true
		}
	}
	return false
}

// count counts the calls of manager.
func (l *callLog) count(manager string) int {
	n := 0
	for _, c := range l.snapshot() {
		if c.manager == manager {
			n++
		}
	}
	return n
}

// recordingAgent records the mutating calls of one manager's agent.
type recordingAgent struct {
	ocs.Agent
	manager string
	log     *callLog
}

func (a *recordingAgent) MoveUsers(ctx context.Context, via string, users []string, target string, force bool) ([]ocs.MoveResult, error) {
	c := a.log.begin(a.manager, ocs.OpMoveUsers, users)
	defer a.log.end(c)
	return a.Agent.MoveUsers(ctx, via, users, target, force)
}

func (a *recordingAgent) ImportContacts(ctx context.Context, server string, doc *contacts.Document) ([]ocs.ImportResult, error) {
	users := make([]string, 0, len(doc.Resources))
	for _, r := range doc.Resources {
		users = append(users, "sip:"+r.UserAtHost)
	}
	c := a.log.begin(a.manager, ocs.OpImportContacts, users)
	defer a.log.end(c)
	return a.Agent.ImportContacts(ctx, server, doc)
}

// recordingProvider hands out a manager's own WinRM agents, recorded.
type recordingProvider struct {
	inner   AgentProvider
	manager string
	log     *callLog
}

func (p *recordingProvider) AgentFor(ctx context.Context, pool *ocsv1.OCSPool) (ocs.Agent, error) {
	a, err := p.inner.AgentFor(ctx, pool)
	if err != nil {
		return nil, err
	}
	return &recordingAgent{Agent: a, manager: p.manager, log: p.log}, nil
}

// startCandidate starts a manager that runs its reconcilers only while it holds the lease of
// the test, with its own WinRM agents recorded under name.
func startCandidate(ns, name string, log *callLog) (stop func(), elected <-chan struct{}) {
	GinkgoHelper()
	le := &leaderElection{id: "ocs-ha-operator-" + ns}
	agents := &recordingProvider{inner: &WinRMProvider{Reader: k8sClient}, manager: name, log: log}
	stop = runManager(ns, Options{Agents: agents}, managerSetup{leaderElection: le})
	return stop, le.elected
}

// emulatorState renders every user's home and contact count.
func emulatorState(emu *sim.Emulator) map[string]sim.UserView {
	out := map[string]sim.UserView{}
	for _, u := range emu.World().Users() {
		out[u.SIP] = u
	}
	return out
}

var _ = Describe("UserHoming leader handover", func() {
	const users = 1000

	DescribeTable("a standby manager finishes the failover of a leader killed in the middle, and no user moves in both",
		func(interruptedOp string, restored func(emu *sim.Emulator) int) {
			ns := newNamespace()
			// Each user's move and import takes time on the server, so that a batch is still
			// running when the leader is stopped.
			emu := startHomingEmulatorWith(sim.Config{MoveCost: 10 * time.Millisecond, ImportCost: 10 * time.Millisecond}, users, 500, 10)
			log := &callLog{}
			stopA, electedA := startCandidate(ns, "a", log)
			Eventually(electedA).Should(BeClosed())
			_, electedB := startCandidate(ns, "b", log)
			waitPoolReady(createPoolFor(ns, emu, nil))
			cb := createBackupAndSnapshot(ns)
			createRestoringHoming(ns, cb.Name, "1s")
			Expect(electedB).NotTo(BeClosed(), "the standby runs nothing while the leader holds the lease")

			simCrash(emu, "ocs2")
			Eventually(func(g Gomega) {
				g.Expect(log.running("a", interruptedOp)).To(BeTrue())
				g.Expect(restored(emu)).To(BeNumerically(">", 0))
			}, time.Minute, 5*time.Millisecond).Should(Succeed())
			stopA()

			// The leader's commands ended before it stopped: nothing changes on the servers
			// until the new leader acts.
			before := emulatorState(emu)
			Consistently(func(g Gomega) {
				if log.count("b") == 0 {
					g.Expect(emulatorState(emu)).To(Equal(before))
				}
			}, time.Second, 20*time.Millisecond).Should(Succeed())
			Eventually(electedB).Should(BeClosed())
			expectFailedOverState(ns, emu, cb, users)
			expectNoUserInTwoCallsAtOnce(log.snapshot())
			Expect(log.count("b")).To(BeNumerically(">", 0), "the standby finished the failover")
		},
		Entry("during the forced moves", ocs.OpMoveUsers, func(emu *sim.Emulator) int {
			return emulatorHomes(emu)["ocs1"] - 500
		}),
		Entry("during the restore", ocs.OpImportContacts, func(emu *sim.Emulator) int {
			n := 0
			for _, u := range emu.World().Users() {
				if u.Home == "ocs1" && u.SIP >= homingSIP(500) && u.Contacts > 0 {
					n++
				}
			}
			return n
		}),
	)
})

// expectNoUserInTwoCallsAtOnce checks that every call of the stopped leader ended before the new
// leader's first, and that no user was in two calls running at the same time.
func expectNoUserInTwoCallsAtOnce(calls []mutatingCall) {
	GinkgoHelper()
	var lastA, firstB time.Time
	for _, c := range calls {
		Expect(c.done).To(BeTrue(), "a %s call of %s never ended", c.op, c.manager)
		if c.manager == "a" && c.end.After(lastA) {
			lastA = c.end
		}
		if c.manager == "b" && (firstB.IsZero() || c.start.Before(firstB)) {
			firstB = c.start
		}
	}
	Expect(lastA.Before(firstB)).To(BeTrue(), "the old leader's last call ended at %s, the new leader's first began at %s", lastA, firstB)
	byUser := map[string][]mutatingCall{}
	for _, c := range calls {
		for _, u := range c.users {
			byUser[u] = append(byUser[u], c)
		}
	}
	for u, cs := range byUser {
		for i := range cs {
			for j := i + 1; j < len(cs); j++ {
				overlap := cs[i].op == cs[j].op && cs[i].start.Before(cs[j].end) && cs[j].start.Before(cs[i].end)
				Expect(overlap).To(BeFalse(), "%s was in two %s calls at once", u, cs[i].op)
			}
		}
	}
}
