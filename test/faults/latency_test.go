package faults

import (
	"context"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"sigs.k8s.io/controller-runtime/pkg/client"

	ocsv1 "github.com/ocsha/ocs-ha-operator/api/v1alpha1"
)

// stateRecorder polls the pool and keeps every server state it sees, until stopped.
type stateRecorder struct {
	mu   sync.Mutex
	seen map[string]bool
	stop context.CancelFunc
	done chan struct{}
}

func (s *site) recordStates() *stateRecorder {
	ctx, cancel := context.WithCancel(context.Background())
	r := &stateRecorder{seen: map[string]bool{}, stop: cancel, done: make(chan struct{})}
	go func() {
		defer close(r.done)
		for ctx.Err() == nil {
			p := &ocsv1.OCSPool{}
			if err := suite.k8s.Get(ctx, client.ObjectKey{Namespace: s.ns, Name: pool}, p); err == nil {
				r.mu.Lock()
				for _, st := range p.Status.Servers {
					r.seen[st.Name+"="+string(st.State)] = true
				}
				r.mu.Unlock()
			}
			time.Sleep(100 * time.Millisecond) // a poll interval, not a wait for state
		}
	}()
	return r
}

func (r *stateRecorder) states() map[string]bool {
	r.stop()
	<-r.done
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.seen
}

var _ = Describe("Latency spikes during a drain", Label("faults", "latency"), func() {
	It("completes the drain with every contact, and marks no server Unreachable", func() {
		s := newSite(siteOptions{simArgs: []string{"--move-cost", "200ms"}})
		s.startManager()
		before := s.settle()
		onOcs1 := s.homes()["ocs1"]
		states := s.recordStates()

		p := s.getPool()
		patch := client.MergeFrom(p.DeepCopy())
		p.Spec.Servers[0].Maintenance = true
		Expect(suite.k8s.Patch(context.Background(), p, patch)).To(Succeed())
		s.movesUnderway("ocs1", onOcs1)
		By("raising the emulator's latency to 300ms per request while the drain runs")
		Expect(s.sim.Do("PUT", "/latency", `{"latency":"300ms"}`)).To(Succeed())
		Eventually(func(g Gomega) { g.Expect(s.homes()["ocs1"]).To(BeNumerically("<", onOcs1/2)) }).Should(Succeed())
		Expect(s.sim.Do("PUT", "/latency", `{"latency":"0s"}`)).To(Succeed())

		Eventually(func(g Gomega) { g.Expect(s.serverState("ocs1")).To(Equal(ocsv1.ServerDrained)) }).Should(Succeed())
		Expect(s.homes()).To(Equal(map[string]int{"ocs2": s.users}))
		s.expectEndState(before)
		seen := states.states()
		Expect(seen).NotTo(HaveKey("ocs1=Unreachable"))
		Expect(seen).NotTo(HaveKey("ocs2=Unreachable"), "the target is probed through its own slot, beside the moves")
	})
})
