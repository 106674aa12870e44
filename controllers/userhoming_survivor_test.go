package controllers

import (
	"context"
	"strings"
	"sync"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"sigs.k8s.io/controller-runtime/pkg/client"

	ocsv1 "github.com/ocsha/ocs-ha-operator/api/v1alpha1"
	"github.com/ocsha/ocs-ha-operator/internal/contacts"
	"github.com/ocsha/ocs-ha-operator/internal/ocs"
	"github.com/ocsha/ocs-ha-operator/internal/sim"
)

// pausingAgent holds every move back once a forced move onto target has landed, until released:
// a failover stopped, by state and not by timing, with some of its users on target.
type pausingAgent struct {
	ocs.Agent
	target  string
	landed  chan struct{}
	release chan struct{}
	once    sync.Once
}

func newPausingAgent(target string) *pausingAgent {
	return &pausingAgent{target: target, landed: make(chan struct{}), release: make(chan struct{})}
}

func (a *pausingAgent) MoveUsers(ctx context.Context, via string, users []string, target string, force bool) ([]ocs.MoveResult, error) {
	select {
	case <-a.landed:
		select {
		case <-a.release:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	default:
	}
	res, err := a.Agent.MoveUsers(ctx, via, users, target, force)
	if force && target == a.target && err == nil {
		a.once.Do(func() { close(a.landed) })
	}
	return res, err
}

// pausingProvider hands out the WinRM agent of a pool wrapped in one pausingAgent.
type pausingProvider struct {
	inner AgentProvider
	agent *pausingAgent
	once  sync.Once
}

func (p *pausingProvider) AgentFor(ctx context.Context, pool *ocsv1.OCSPool) (ocs.Agent, error) {
	a, err := p.inner.AgentFor(ctx, pool)
	if err != nil {
		return nil, err
	}
	p.once.Do(func() { p.agent.Agent = a })
	return p.agent, nil
}

// poolServerState reads the state the OCSPool "pool" reports for a server.
func poolServerState(g Gomega, ns, server string) ocsv1.ServerState {
	pool := &ocsv1.OCSPool{}
	g.Expect(k8sClient.Get(testCtx, client.ObjectKey{Namespace: ns, Name: "pool"}, pool)).To(Succeed())
	for _, s := range pool.Status.Servers {
		if s.Name == server {
			return s.State
		}
	}
	return ""
}

var _ = Describe("UserHoming failover when a server it moved users onto crashes", func() {
	It("restores the contacts of the users it had moved there once they move again", func() {
		const users, perServer, perUser = 30, 10, 3
		ns := newNamespace()
		emu := startEmulator(sim.Config{Servers: []string{"ocs1", "ocs2", "ocs3"}})
		w := emu.World()
		for i := range users {
			home := []string{"ocs1", "ocs2", "ocs3"}[i/perServer]
			Expect(w.AddUser(homingSIP(i), home)).To(Succeed())
			r := contacts.Resource{UserAtHost: strings.TrimPrefix(homingSIP(i), "sip:"), Contacts: homingContacts(i, perUser, "buddy")}
			Expect(w.SetContacts(homingSIP(i), r)).To(Succeed())
		}
		pa := newPausingAgent("ocs2")
		startManager(ns, Options{Agents: &pausingProvider{inner: &WinRMProvider{Reader: k8sClient}, agent: pa}})
		waitPoolReady(createPoolFor(ns, emu, nil))
		cb := createBackupAndSnapshot(ns)
		createHoming(ns, func(h *ocsv1.UserHoming) {
			h.Spec.Failover.Delay = "1s"
			h.Spec.MoveBatchSize = 2
			h.Spec.ContactRestore.BackupRef = &ocsv1.LocalObjectReference{Name: cb.Name}
		})

		simCrash(emu, "ocs1")
		Eventually(pa.landed).Should(BeClosed())
		By("crashing ocs2, which holds users the failover force-moved from ocs1")
		simCrash(emu, "ocs2")
		Eventually(func(g Gomega) { g.Expect(poolServerState(g, ns, "ocs2")).To(Equal(ocsv1.ServerUnreachable)) }).Should(Succeed())
		close(pa.release)

		Eventually(func(g Gomega) {
			g.Expect(emulatorHomes(emu)).To(Equal(map[string]int{"ocs3": users}))
			h := getHoming(g, ns)
			op := h.Status.LastOperation
			g.Expect(op.Type).To(Equal(ocsv1.OperationFailover))
			g.Expect(op.CompletionTime).NotTo(BeNil(), "operation: %+v", op)
			g.Expect(op.From).To(ContainElement("ocs2"))
		}).Should(Succeed())
		for i := range users {
			got, ok := w.UserContacts(homingSIP(i))
			Expect(ok).To(BeTrue())
			Expect(got.Contacts).To(Equal(homingContacts(i, perUser, "buddy")), "contacts of %s", homingSIP(i))
		}
		Expect(lastFailover(ns).Status.LastOperation.Failed).To(BeZero())
	})
})
