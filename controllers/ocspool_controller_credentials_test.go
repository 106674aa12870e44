package controllers

import (
	"fmt"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	ocsv1 "github.com/ocsha/ocs-ha-operator/api/v1alpha1"
	"github.com/ocsha/ocs-ha-operator/internal/sim"
)

var _ = Describe("OCSPool credentials", func() {
	var ns string
	BeforeEach(func() { ns = newNamespace() })

	// Issue 20, defect 1: a wrong password on one server's Secret used to mark the server
	// Unreachable, and after failover.delay its users were force-moved with their contacts left
	// behind on a live server.
	It("does not fail over a healthy server whose Secret has a wrong password: the pool is Stalled naming the Secret and no user moves", func() {
		const users = 200
		emu := startEmulator(sim.Config{Servers: []string{"ocs1", "ocs2"}, Users: users, ContactsPerUser: 3})
		before := map[string]sim.UserView{}
		for _, u := range simUsers(emu) {
			before[u.SIP] = u
		}
		Expect(before).To(HaveLen(users))

		const wrongSecret = "ocs2-credentials"
		secret := &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: wrongSecret, Namespace: ns},
			Data: map[string][]byte{
				secretKeyUsername: []byte(sim.DefaultUsername),
				secretKeyPassword: []byte("Not-" + sim.DefaultPassword),
			},
		}
		Expect(k8sClient.Create(testCtx, secret)).To(Succeed())
		startManager(ns, Options{})
		pool := createPoolFor(ns, emu, func(p *ocsv1.OCSPool) {
			p.Spec.Servers[1].WinRM.CredentialsSecretRef.Name = wrongSecret
		})
		const delay = time.Second
		homing := &ocsv1.UserHoming{
			ObjectMeta: metav1.ObjectMeta{Name: "homing", Namespace: ns},
			Spec: ocsv1.UserHomingSpec{
				PoolRef:  ocsv1.PoolReference{Name: pool.Name},
				Failover: ocsv1.FailoverSpec{Mode: ocsv1.FailoverAutomatic, Delay: delay.String()},
			},
		}
		Expect(k8sClient.Create(testCtx, homing)).To(Succeed())

		Eventually(func(g Gomega) {
			g.Expect(k8sClient.Get(testCtx, client.ObjectKeyFromObject(pool), pool)).To(Succeed())
			st := poolServer(pool, "ocs2")
			g.Expect(st.State).To(Equal(ocsv1.ServerAuthenticationFailed), st.Message)
			g.Expect(st.Message).To(ContainSubstring("Secret " + ns + "/" + wrongSecret))
			g.Expect(st.Message).To(ContainSubstring("not failed over"))
			g.Expect(poolServer(pool, "ocs1").State).To(Equal(ocsv1.ServerHealthy))
			stalled := meta.FindStatusCondition(pool.Status.Conditions, ocsv1.ConditionStalled)
			g.Expect(stalled).NotTo(BeNil())
			g.Expect(stalled.Status).To(Equal(metav1.ConditionTrue))
			g.Expect(stalled.Reason).To(Equal(ocsv1.ReasonAuthenticationFailed))
			g.Expect(stalled.Message).To(ContainSubstring("Secret " + ns + "/" + wrongSecret))
		}).Should(Succeed())
		Eventually(func() []string {
			var notes []string
			for _, e := range poolEvents(ns, eventServerAuthFailed) {
				notes = append(notes, e.Note)
			}
			return notes
		}).Should(ContainElement(ContainSubstring("ocs2")))

		// The UserHoming has seen the state; well past failover.delay, nobody has moved.
		Eventually(func(g Gomega) {
			g.Expect(k8sClient.Get(testCtx, client.ObjectKeyFromObject(homing), homing)).To(Succeed())
			g.Expect(homing.Status.ObservedGeneration).To(Equal(homing.Generation))
			ready := meta.FindStatusCondition(homing.Status.Conditions, ocsv1.ConditionReady)
			g.Expect(ready).NotTo(BeNil())
			g.Expect(ready.Reason).NotTo(Equal(ocsv1.ReasonInitializing))
		}).Should(Succeed())
		Consistently(func(g Gomega) {
			g.Expect(k8sClient.Get(testCtx, client.ObjectKeyFromObject(homing), homing)).To(Succeed())
			op := homing.Status.LastOperation
			g.Expect(op == nil || op.Type != ocsv1.OperationFailover).To(BeTrue(), "operation %+v", op)
			for _, u := range simUsers(emu) {
				g.Expect(u).To(Equal(before[u.SIP]), "user %s moved or lost contacts", u.SIP)
			}
		}, 4*delay, 250*time.Millisecond).Should(Succeed())

		// Fixed, the server serves again and the pool is no longer Stalled.
		updateObject(secret, func() { secret.Data[secretKeyPassword] = []byte(sim.DefaultPassword) })
		waitPoolReady(pool)
		expectPoolCondition(pool, ocsv1.ConditionStalled, metav1.ConditionFalse, ocsv1.ReasonAsExpected)
	})

	It("reads only the Secrets pools name and never caches Secret data", func() {
		emu := startEmulator(sim.Config{Servers: []string{"ocs1", "ocs2"}, Users: 4})
		// Another application's Secret in the same namespace.
		Expect(k8sClient.Create(testCtx, &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: "database-password", Namespace: ns},
			StringData: map[string]string{"password": "not-for-the-operator"},
		})).To(Succeed())
		var mu sync.Mutex
		informers := map[string]bool{}
		runManager(ns, Options{}, managerSetup{cache: func(o *cache.Options) {
			o.NewInformer = func(lw toolscache.ListerWatcher, obj runtime.Object, resync time.Duration, idx toolscache.Indexers) toolscache.SharedIndexInformer {
				mu.Lock()
				informers[fmt.Sprintf("%T", obj)] = true
				mu.Unlock()
				return toolscache.NewSharedIndexInformer(lw, obj, resync, idx)
			}
		}})
		pool := createPoolFor(ns, emu, nil)
		waitPoolReady(pool)

		mu.Lock()
		defer mu.Unlock()
		Expect(informers).To(HaveKey("*v1alpha1.OCSPool"), "the hook sees the manager's informers")
		Expect(informers).To(HaveKey("*v1.PartialObjectMetadata"), "Secrets are watched for their metadata")
		Expect(informers).NotTo(HaveKey("*v1.Secret"), "no informer holds Secret data")
	})
})

var _ = Describe("UserHoming failover gate", func() {
	It("treats a server whose probes are refused as not proven down", func() {
		now := time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC)
		for _, state := range []ocsv1.ServerState{ocsv1.ServerAuthenticationFailed, ocsv1.ServerTLSFailed} {
			f := serverFact{name: "ocs2", state: state, since: now.Add(-time.Hour), homed: 100}
			Expect(f.down()).To(BeFalse(), string(state))
			Expect(f.serving()).To(BeFalse(), string(state))
			o := evaluateGate(gateInput{server: f, now: now, delay: time.Minute, mode: ocsv1.FailoverAutomatic, servingServers: 1})
			Expect(o).NotTo(BeNil(), string(state))
			Expect(o.Reason).To(Equal(ocsv1.ReasonServerNotDown), string(state))
			Expect(o.Message).To(ContainSubstring(string(state)))
		}
	})
})
