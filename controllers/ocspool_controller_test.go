package controllers

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	dto "github.com/prometheus/client_model/go"
	"go.uber.org/zap/zapcore"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	ocsv1 "github.com/ocsha/ocs-ha-operator/api/v1alpha1"
	"github.com/ocsha/ocs-ha-operator/internal/ocs"
	"github.com/ocsha/ocs-ha-operator/internal/sim"
)

var _ = Describe("OCSPool controller", func() {
	var ns string
	BeforeEach(func() { ns = newNamespace() })

	Context("with the emulator", func() {
		It("reports two servers Healthy with the users homed on each", func() {
			emu := startEmulator(sim.Config{Users: 12})
			startManager(ns, Options{})
			pool := createPoolFor(ns, emu, nil)
			waitPoolReady(pool)

			homes := map[string]int32{}
			for _, u := range simUsers(emu) {
				homes[u.Home]++
			}
			Expect(homes).To(HaveLen(2))
			Eventually(func(g Gomega) {
				g.Expect(k8sClient.Get(testCtx, client.ObjectKeyFromObject(pool), pool)).To(Succeed())
				for _, s := range pool.Status.Servers {
					g.Expect(s.HomedUsers).To(Equal(homes[s.Name]), "server %s", s.Name)
					g.Expect(s.LastProbeTime).NotTo(BeNil())
					g.Expect(s.LastTransitionTime).NotTo(BeNil())
					g.Expect(s.ConsecutiveFailures).To(BeZero())
				}
				g.Expect(pool.Status.HomedUsers).To(Equal(int32(12)))
			}).Should(Succeed())
			Expect(pool.Status.ServingServers).To(Equal("2/2"))
			Expect(pool.Status.Phase).To(Equal("Ready"))
			expectPoolCondition(pool, ocsv1.ConditionReconciling, metav1.ConditionFalse, ocsv1.ReasonIdle)
			expectPoolCondition(pool, ocsv1.ConditionDegraded, metav1.ConditionFalse, ocsv1.ReasonAsExpected)
			expectPoolCondition(pool, ocsv1.ConditionStalled, metav1.ConditionFalse, ocsv1.ReasonAsExpected)
			Eventually(func() []eventsv1.Event { return poolEvents(ns, eventServerHealthy) }).Should(HaveLen(2))
		})

		It("marks a crashed server Unreachable after failureThreshold probes and Healthy again once it answers", func() {
			emu := startEmulator(sim.Config{Users: 4})
			startManager(ns, Options{})
			pool := createPoolFor(ns, emu, nil)
			waitPoolReady(pool)

			simCrash(emu, "ocs1")
			var down ocsv1.ServerStatus
			Eventually(func(g Gomega) {
				g.Expect(k8sClient.Get(testCtx, client.ObjectKeyFromObject(pool), pool)).To(Succeed())
				down = poolServer(pool, "ocs1")
				g.Expect(down.State).To(Equal(ocsv1.ServerUnreachable), down.Message)
				g.Expect(down.ConsecutiveFailures).To(BeNumerically(">=", 2))
				g.Expect(poolServer(pool, "ocs2").State).To(Equal(ocsv1.ServerHealthy))
				degraded := meta.FindStatusCondition(pool.Status.Conditions, ocsv1.ConditionDegraded)
				g.Expect(degraded.Status).To(Equal(metav1.ConditionTrue))
				g.Expect(degraded.Message).To(ContainSubstring("Server ocs1 is Unreachable"))
				g.Expect(pool.Status.ServingServers).To(Equal("1/2"))
			}).Should(Succeed())
			Expect(down.LastTransitionTime).NotTo(BeNil())
			Eventually(func(g Gomega) []eventsv1.Event { return poolEvents(ns, eventServerUnreachable) }).
				Should(ContainElement(And(
					HaveField("Type", corev1.EventTypeWarning),
					HaveField("Note", ContainSubstring("ocs1")))))

			// The transition time stays put while the server stays down: failover delays count from it.
			Eventually(func(g Gomega) {
				g.Expect(k8sClient.Get(testCtx, client.ObjectKeyFromObject(pool), pool)).To(Succeed())
				st := poolServer(pool, "ocs1")
				g.Expect(st.ConsecutiveFailures).To(BeNumerically(">=", down.ConsecutiveFailures+2))
				g.Expect(st.State).To(Equal(ocsv1.ServerUnreachable))
				g.Expect(st.LastTransitionTime.Equal(down.LastTransitionTime)).To(BeTrue())
			}).Should(Succeed())

			simStart(emu, "ocs1")
			waitPoolReady(pool)

			simStopService(emu, "ocs2")
			Eventually(func(g Gomega) {
				g.Expect(k8sClient.Get(testCtx, client.ObjectKeyFromObject(pool), pool)).To(Succeed())
				st := poolServer(pool, "ocs2")
				g.Expect(st.State).To(Equal(ocsv1.ServerUnhealthy))
				g.Expect(st.Message).To(ContainSubstring("RtcSrv"))
				g.Expect(isTrue(pool, ocsv1.ConditionReady)).To(BeFalse())
			}).Should(Succeed())
			Eventually(func() []eventsv1.Event { return poolEvents(ns, eventServerUnhealthy) }).
				Should(ContainElement(HaveField("Type", corev1.EventTypeWarning)))
		})

		It("keeps the state through one probe that times out, not through failureThreshold of them", func() {
			emu := startEmulator(sim.Config{Users: 2})
			flaky := &flakyProbeProvider{server: "ocs1"}
			flaky.inner = &WinRMProvider{Reader: k8sClient, OnRequest: countWinRMRequest}
			startManager(ns, Options{Agents: flaky})
			pool := createPoolFor(ns, emu, nil)
			waitPoolReady(pool)
			before := poolServer(pool, "ocs1")

			flaky.drop(1)
			Eventually(flaky.passedAfterDrop).Should(BeNumerically(">=", 3))
			Expect(k8sClient.Get(testCtx, client.ObjectKeyFromObject(pool), pool)).To(Succeed())
			after := poolServer(pool, "ocs1")
			Expect(after.State).To(Equal(ocsv1.ServerHealthy))
			Expect(after.LastTransitionTime.Equal(before.LastTransitionTime)).To(BeTrue())
			Expect(poolEvents(ns, "")).NotTo(ContainElement(HaveField("Type", corev1.EventTypeWarning)))

			// Timeouts failureThreshold times in a row are acted on, and the message says that
			// they are not proof of death.
			flaky.drop(1 << 20)
			Eventually(func(g Gomega) {
				g.Expect(k8sClient.Get(testCtx, client.ObjectKeyFromObject(pool), pool)).To(Succeed())
				st := poolServer(pool, "ocs1")
				g.Expect(st.State).To(Equal(ocsv1.ServerUnreachable))
				g.Expect(st.Message).To(ContainSubstring("not proof"))
			}).Should(Succeed())
			flaky.drop(0)
			waitPoolReady(pool)
		})

		It("stalls on a wrong password, naming the Secret and never showing the password, and recovers once it is fixed", func() {
			emu := startEmulator(sim.Config{Users: 2})
			pool := createPoolFor(ns, emu, nil)
			const wrong = "Wr0ng-Passw0rd-4-Test"
			secret := &corev1.Secret{}
			Expect(k8sClient.Get(testCtx, types.NamespacedName{Namespace: ns, Name: emuCredentialsSecret}, secret)).To(Succeed())
			updateObject(secret, func() {
				secret.Data[secretKeyPassword] = []byte(wrong)
			})

			logs := &poolLogBuffer{}
			startManagerWithLogger(ns, Options{}, zap.New(zap.WriteTo(logs), zap.UseDevMode(true), zap.Level(zapcore.Level(poolTestLogLevel))))
			Eventually(func(g Gomega) {
				g.Expect(k8sClient.Get(testCtx, client.ObjectKeyFromObject(pool), pool)).To(Succeed())
				stalled := meta.FindStatusCondition(pool.Status.Conditions, ocsv1.ConditionStalled)
				g.Expect(stalled).NotTo(BeNil())
				g.Expect(stalled.Status).To(Equal(metav1.ConditionTrue))
				g.Expect(stalled.Reason).To(Equal(ocsv1.ReasonAuthenticationFailed))
				g.Expect(stalled.Message).To(ContainSubstring("Secret " + ns + "/" + emuCredentialsSecret))
				g.Expect(pool.Status.Phase).To(Equal("Stalled"))
			}).Should(Succeed())
			Eventually(func() []eventsv1.Event { return poolEvents(ns, ocsv1.ReasonAuthenticationFailed) }).ShouldNot(BeEmpty())

			status, err := json.Marshal(pool.Status)
			Expect(err).NotTo(HaveOccurred())
			Expect(string(status)).NotTo(ContainSubstring(wrong))
			Expect(string(status)).NotTo(ContainSubstring(sim.DefaultPassword))
			for _, e := range poolEvents(ns, "") {
				Expect(e.Note).NotTo(ContainSubstring(wrong))
			}
			Expect(logs.String()).To(ContainSubstring("AuthenticationFailed"), "the logs were captured")
			Expect(logs.String()).NotTo(ContainSubstring(wrong))

			// The Secret watch re-probes at once.
			updateObject(secret, func() {
				secret.Data[secretKeyPassword] = []byte(sim.DefaultPassword)
			})
			waitPoolReady(pool)
			expectPoolCondition(pool, ocsv1.ConditionStalled, metav1.ConditionFalse, ocsv1.ReasonAsExpected)
			Expect(logs.String()).NotTo(ContainSubstring(sim.DefaultPassword))
		})

		It("stalls with DirectoryAccessDenied when NTLM cannot make the second hop, and recovers with CredSSP", func() {
			emu := startEmulator(sim.Config{Users: 4})
			startManager(ns, Options{})
			pool := createPoolFor(ns, emu, func(p *ocsv1.OCSPool) {
				for i := range p.Spec.Servers {
					p.Spec.Servers[i].WinRM.Auth = ocsv1.WinRMAuthNTLM
				}
			})
			Eventually(func(g Gomega) {
				g.Expect(k8sClient.Get(testCtx, client.ObjectKeyFromObject(pool), pool)).To(Succeed())
				stalled := meta.FindStatusCondition(pool.Status.Conditions, ocsv1.ConditionStalled)
				g.Expect(stalled).NotTo(BeNil())
				g.Expect(stalled.Status).To(Equal(metav1.ConditionTrue))
				g.Expect(stalled.Reason).To(Equal(ocsv1.ReasonDirectoryAccessDenied))
				g.Expect(stalled.Message).To(And(ContainSubstring("winrm.auth is NTLM"), ContainSubstring("Enable-WSManCredSSP")))
				// The servers themselves answer: nothing is Unreachable, so nothing fails over.
				for _, s := range pool.Status.Servers {
					g.Expect(s.State).To(Equal(ocsv1.ServerHealthy), "server %s", s.Name)
				}
			}).Should(Succeed())
			Eventually(func() []eventsv1.Event { return poolEvents(ns, ocsv1.ReasonDirectoryAccessDenied) }).ShouldNot(BeEmpty())

			updateObject(pool, func() {
				for i := range pool.Spec.Servers {
					pool.Spec.Servers[i].WinRM.Auth = ocsv1.WinRMAuthCredSSP
				}
			})
			waitPoolReady(pool)
			expectPoolCondition(pool, ocsv1.ConditionStalled, metav1.ConditionFalse, ocsv1.ReasonAsExpected)
			Eventually(func(g Gomega) {
				g.Expect(k8sClient.Get(testCtx, client.ObjectKeyFromObject(pool), pool)).To(Succeed())
				g.Expect(pool.Status.HomedUsers).To(Equal(int32(4)))
			}).Should(Succeed())
		})

		It("stalls while the credentials Secret is missing and probes as soon as it exists", func() {
			emu := startEmulator(sim.Config{Users: 2})
			pool := createPoolFor(ns, emu, nil)
			secret := &corev1.Secret{}
			Expect(k8sClient.Get(testCtx, types.NamespacedName{Namespace: ns, Name: emuCredentialsSecret}, secret)).To(Succeed())
			Expect(k8sClient.Delete(testCtx, secret)).To(Succeed())
			startManager(ns, Options{})

			Eventually(func(g Gomega) {
				g.Expect(k8sClient.Get(testCtx, client.ObjectKeyFromObject(pool), pool)).To(Succeed())
				stalled := meta.FindStatusCondition(pool.Status.Conditions, ocsv1.ConditionStalled)
				g.Expect(stalled).NotTo(BeNil())
				g.Expect(stalled.Status).To(Equal(metav1.ConditionTrue))
				g.Expect(stalled.Reason).To(Equal(ocsv1.ReasonCredentialsSecretMissing))
				g.Expect(stalled.Message).To(ContainSubstring(ns + "/" + emuCredentialsSecret))
			}).Should(Succeed())

			secret.ResourceVersion = ""
			Expect(k8sClient.Create(testCtx, secret)).To(Succeed())
			waitPoolReady(pool)
		})

		It("exports server metrics that follow the state and drops them with the pool", func() {
			emu := startEmulator(sim.Config{Users: 6})
			startManager(ns, Options{})
			pool := createPoolFor(ns, emu, nil)
			waitPoolReady(pool)
			key := ns + "/" + pool.Name

			Eventually(func(g Gomega) {
				g.Expect(poolGauge("ocsha_server_up", key, "ocs1")).To(Equal(1.0))
				g.Expect(poolGauge("ocsha_server_homed_users", key, "ocs1")).To(Equal(3.0))
				g.Expect(poolHistogramCount("ocsha_server_probe_duration_seconds", key, "ocs1")).To(BeNumerically(">", 0))
				g.Expect(poolCounter("ocsha_winrm_requests_total", key, "ocs1", "ok")).To(BeNumerically(">", 0))
				g.Expect(findPoolMetric("ocsha_server_state", poolLabels(key, "server", "ocs1", "state", "Healthy")...).GetGauge().GetValue()).To(Equal(1.0))
				// Counters exist from the first reconcile, at zero until something happens.
				g.Expect(findPoolMetric("ocsha_user_moves_total", poolLabels(key, "kind", "forced", "result", "ok")...)).NotTo(BeNil())
				g.Expect(findPoolMetric("ocsha_failovers_total", poolLabels(key)...).GetCounter().GetValue()).To(Equal(0.0))
			}).Should(Succeed())

			simCrash(emu, "ocs1")
			Eventually(func() float64 { return poolGauge("ocsha_server_up", key, "ocs1") }).Should(Equal(0.0))
			Expect(poolGauge("ocsha_server_up", key, "ocs2")).To(Equal(1.0))
			Eventually(func() float64 {
				return poolCounter("ocsha_winrm_requests_total", key, "ocs1", "unreachable") +
					poolCounter("ocsha_winrm_requests_total", key, "ocs1", "timeout")
			}).Should(BeNumerically(">", 0))

			Expect(k8sClient.Delete(testCtx, pool)).To(Succeed())
			Eventually(func() []string { return seriesOfPool(key) }).Should(BeEmpty())
		})

		It("reports a server Drained as soon as its UserHoming's drain completes, not at the next round", func() {
			emu := startHomingEmulator(20, 10, 2)
			startManager(ns, Options{})
			// The next round is an hour away: only the probe the drain's completion wakes can
			// report Drained within Eventually's timeout.
			pool := createPoolFor(ns, emu, func(p *ocsv1.OCSPool) { p.Spec.Health.ProbeInterval = "1h" })
			waitPoolReady(pool)

			// The spec change probes at once; without a UserHoming, ocs1 keeps its users.
			updateObject(pool, func() { pool.Spec.Servers[0].Maintenance = true })
			Eventually(func(g Gomega) {
				g.Expect(k8sClient.Get(testCtx, client.ObjectKeyFromObject(pool), pool)).To(Succeed())
				g.Expect(pool.Status.ObservedGeneration).To(Equal(pool.Generation))
				st := poolServer(pool, "ocs1")
				g.Expect(st.State).To(Equal(ocsv1.ServerDraining))
				g.Expect(st.HomedUsers).To(BeEquivalentTo(10))
			}).Should(Succeed())

			createHoming(ns, nil)
			Eventually(func(g Gomega) {
				op := getHoming(g, ns).Status.LastOperation
				g.Expect(op).NotTo(BeNil())
				g.Expect(op.Type).To(Equal(ocsv1.OperationDrain))
				g.Expect(op.CompletionTime).NotTo(BeNil())
				g.Expect(k8sClient.Get(testCtx, client.ObjectKeyFromObject(pool), pool)).To(Succeed())
				st := poolServer(pool, "ocs1")
				g.Expect(st.State).To(Equal(ocsv1.ServerDrained), "ocs1: %s", st.Message)
				g.Expect(st.HomedUsers).To(BeZero())
				// The round that found ocs1 empty ran after the drain ended (both times to the second).
				g.Expect(st.LastProbeTime.Time).To(BeTemporally(">=", op.CompletionTime.Time))
			}).Should(Succeed())
			Expect(emulatorHomes(emu)).To(Equal(map[string]int{"ocs2": 20}))
			Eventually(func() []eventsv1.Event { return poolEvents(ns, eventServerDrained) }).ShouldNot(BeEmpty())
		})
	})

	Context("with the in-memory agent", func() {
		var fake *ocs.Fake
		BeforeEach(func() {
			fake = ocs.NewFake("ocs1", "ocs2")
			for i := range 4 {
				fake.AddUser(fmt.Sprintf("sip:user%d@corp.example.com", i), []string{"ocs1", "ocs2"}[i%2])
			}
		})

		It("drains a server in maintenance and returns it to service", func() {
			startManager(ns, Options{Agents: StaticProvider{Agent: fake}})
			pool := fastFakePool(ns)
			Expect(k8sClient.Create(testCtx, pool)).To(Succeed())
			waitPoolReady(pool)
			Expect(pool.Status.HomedUsers).To(Equal(int32(4)))

			updateObject(pool, func() {
				pool.Spec.Servers[0].Maintenance = true
			})
			Eventually(func(g Gomega) {
				g.Expect(k8sClient.Get(testCtx, client.ObjectKeyFromObject(pool), pool)).To(Succeed())
				st := poolServer(pool, "ocs1")
				g.Expect(st.State).To(Equal(ocsv1.ServerDraining))
				g.Expect(st.HomedUsers).To(Equal(int32(2)))
				g.Expect(pool.Status.ServingServers).To(Equal("1/2"))
				// Maintenance is desired state: draining is progress, not a fault.
				g.Expect(meta.FindStatusCondition(pool.Status.Conditions, ocsv1.ConditionReconciling).Message).To(ContainSubstring("Draining ocs1"))
				g.Expect(meta.IsStatusConditionTrue(pool.Status.Conditions, ocsv1.ConditionDegraded)).To(BeFalse())
			}).Should(Succeed())

			// What a UserHoming does: move the users off.
			_, err := fake.MoveUsers(testCtx, "ocs2", []string{"sip:user0@corp.example.com", "sip:user2@corp.example.com"}, "ocs2", false)
			Expect(err).NotTo(HaveOccurred())
			Eventually(func(g Gomega) {
				g.Expect(k8sClient.Get(testCtx, client.ObjectKeyFromObject(pool), pool)).To(Succeed())
				g.Expect(poolServer(pool, "ocs1").State).To(Equal(ocsv1.ServerDrained))
			}).Should(Succeed())

			// Health wins over maintenance.
			fake.SetDown("ocs1", true)
			Eventually(func(g Gomega) {
				g.Expect(k8sClient.Get(testCtx, client.ObjectKeyFromObject(pool), pool)).To(Succeed())
				g.Expect(poolServer(pool, "ocs1").State).To(Equal(ocsv1.ServerUnreachable))
			}).Should(Succeed())
			fake.SetDown("ocs1", false)

			updateObject(pool, func() {
				pool.Spec.Servers[0].Maintenance = false
			})
			waitPoolReady(pool)
			for _, reason := range []string{eventServerDraining, eventServerDrained, eventServerUnreachable} {
				Eventually(func() []eventsv1.Event { return poolEvents(ns, reason) }).ShouldNot(BeEmpty(), reason)
			}
		})

		It("stops probing while suspended", func() {
			startManager(ns, Options{Agents: StaticProvider{Agent: fake}})
			pool := fastFakePool(ns)
			pool.Spec.Suspend = true
			Expect(k8sClient.Create(testCtx, pool)).To(Succeed())
			Eventually(func(g Gomega) {
				g.Expect(k8sClient.Get(testCtx, client.ObjectKeyFromObject(pool), pool)).To(Succeed())
				g.Expect(pool.Status.Phase).To(Equal("Suspended"))
				g.Expect(pool.Status.ObservedGeneration).To(Equal(pool.Generation))
			}).Should(Succeed())
			Consistently(func() int { return fake.Calls(ocs.OpServiceHealth) }, "600ms", "100ms").Should(BeZero())

			updateObject(pool, func() {
				pool.Spec.Suspend = false
			})
			waitPoolReady(pool)
		})

		It("reports Reconciling only while the first probe round runs", func() {
			gate := make(chan struct{})
			startManager(ns, Options{Agents: StaticProvider{Agent: gatedHealthAgent{Agent: fake, gate: gate}}})
			pool := validPool(ns)
			Expect(k8sClient.Create(testCtx, pool)).To(Succeed())
			Eventually(func(g Gomega) {
				g.Expect(k8sClient.Get(testCtx, client.ObjectKeyFromObject(pool), pool)).To(Succeed())
				c := meta.FindStatusCondition(pool.Status.Conditions, ocsv1.ConditionReconciling)
				g.Expect(c).NotTo(BeNil())
				g.Expect(c.Status).To(Equal(metav1.ConditionTrue))
				g.Expect(c.Reason).To(Equal(ocsv1.ReasonProbing))
				g.Expect(pool.Status.Phase).To(Equal("Reconciling"))
			}).Should(Succeed())
			close(gate)
			waitPoolReady(pool)
			expectPoolCondition(pool, ocsv1.ConditionReconciling, metav1.ConditionFalse, ocsv1.ReasonIdle)
		})

		It("probes on the injected clock's schedule", func() {
			clk := clocktesting.NewFakeClock(time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC))
			startManager(ns, Options{Agents: StaticProvider{Agent: fake}, Clock: clk})
			pool := fastFakePool(ns)
			Expect(k8sClient.Create(testCtx, pool)).To(Succeed())
			waitPoolReady(pool)
			Expect(pool.Status.Servers[0].LastProbeTime.Time).To(BeTemporally("==", clk.Now()))
			calls := fake.Calls(ocs.OpServiceHealth)
			// The fake clock stands still: no probe is due however long we wait.
			Consistently(func() int { return fake.Calls(ocs.OpServiceHealth) }, "700ms", "100ms").Should(Equal(calls))

			clk.Step(time.Second)
			Eventually(func() int { return fake.Calls(ocs.OpServiceHealth) }).Should(BeNumerically(">", calls))
			Eventually(func(g Gomega) {
				g.Expect(k8sClient.Get(testCtx, client.ObjectKeyFromObject(pool), pool)).To(Succeed())
				g.Expect(pool.Status.Servers[0].LastProbeTime.Time).To(BeTemporally("==", clk.Now()))
				// Healthy since the first round: the transition time stays at the start.
				g.Expect(pool.Status.Servers[0].LastTransitionTime.Time).To(BeTemporally("==", clk.Now().Add(-time.Second)))
			}).Should(Succeed())
		})

		It("forgets a deleted pool's agent", func() {
			provider := &forgetRecordingProvider{StaticProvider: StaticProvider{Agent: fake}}
			startManager(ns, Options{Agents: provider})
			pool := fastFakePool(ns)
			Expect(k8sClient.Create(testCtx, pool)).To(Succeed())
			waitPoolReady(pool)
			Expect(k8sClient.Delete(testCtx, pool)).To(Succeed())
			Eventually(provider.forgotten).Should(ContainElement(pool.UID))
		})
	})
})

// fastFakePool is a valid pool of two servers probed every second (the API's minimum), for the in-memory agent.
func fastFakePool(ns string) *ocsv1.OCSPool {
	pool := validPool(ns)
	pool.Spec.Health = ocsv1.HealthSpec{ProbeInterval: "1s", ProbeTimeout: "150ms", FailureThreshold: 2}
	return pool
}

func poolServer(pool *ocsv1.OCSPool, name string) ocsv1.ServerStatus {
	for _, s := range pool.Status.Servers {
		if s.Name == name {
			return s
		}
	}
	return ocsv1.ServerStatus{}
}

func expectPoolCondition(pool *ocsv1.OCSPool, condType string, status metav1.ConditionStatus, reason string) {
	GinkgoHelper()
	c := meta.FindStatusCondition(pool.Status.Conditions, condType)
	Expect(c).NotTo(BeNil(), condType)
	Expect(c.Status).To(Equal(status), "%s: %s", condType, c.Message)
	Expect(c.Reason).To(Equal(reason), "%s: %s", condType, c.Message)
}

// poolEvents lists the events.k8s.io events about OCSPools in ns with reason ("" for all).
func poolEvents(ns, reason string) []eventsv1.Event {
	GinkgoHelper()
	list := &eventsv1.EventList{}
	Expect(k8sClient.List(testCtx, list, client.InNamespace(ns))).To(Succeed())
	var out []eventsv1.Event
	for _, e := range list.Items {
		if e.Regarding.Kind == "OCSPool" && (reason == "" || e.Reason == reason) {
			out = append(out, e)
		}
	}
	return out
}

// flakyProbeProvider wraps an AgentProvider so that chosen probes of one server hang past the probe
// timeout, as a latency spike would.
type flakyProbeProvider struct {
	inner  AgentProvider
	server string

	drops  atomic.Int32 // probes still to drop
	passed atomic.Int32 // probes passed on since the last drop
}

func (p *flakyProbeProvider) drop(n int32) {
	p.passed.Store(0)
	p.drops.Store(n)
}

func (p *flakyProbeProvider) passedAfterDrop() int32 { return p.passed.Load() }

func (p *flakyProbeProvider) AgentFor(ctx context.Context, pool *ocsv1.OCSPool) (ocs.Agent, error) {
	agent, err := p.inner.AgentFor(ctx, pool)
	if err != nil {
		return nil, err
	}
	return flakyProbeAgent{Agent: agent, p: p}, nil
}

type flakyProbeAgent struct {
	ocs.Agent
	p *flakyProbeProvider
}

func (a flakyProbeAgent) ServiceHealth(ctx context.Context, server string, services []string) ([]ocs.ServiceStatus, error) {
	if server == a.p.server {
		if n := a.p.drops.Load(); n > 0 && a.p.drops.CompareAndSwap(n, n-1) {
			<-ctx.Done()
			return nil, fmt.Errorf("ServiceHealth on %s: %w", server, ocs.ErrTimeout)
		}
		if a.p.drops.Load() == 0 {
			defer a.p.passed.Add(1)
		}
	}
	return a.Agent.ServiceHealth(ctx, server, services)
}

// gatedHealthAgent holds every ServiceHealth call until gate is closed.
type gatedHealthAgent struct {
	ocs.Agent
	gate chan struct{}
}

func (a gatedHealthAgent) ServiceHealth(ctx context.Context, server string, services []string) ([]ocs.ServiceStatus, error) {
	select {
	case <-a.gate:
	case <-ctx.Done():
		return nil, fmt.Errorf("ServiceHealth on %s: %w", server, ocs.ErrTimeout)
	}
	return a.Agent.ServiceHealth(ctx, server, services)
}

// forgetRecordingProvider records the pools it was told to forget.
type forgetRecordingProvider struct {
	StaticProvider
	mu   sync.Mutex
	uids []types.UID
}

func (p *forgetRecordingProvider) Forget(uid types.UID) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.uids = append(p.uids, uid)
}

func (p *forgetRecordingProvider) forgotten() []types.UID {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]types.UID(nil), p.uids...)
}

// poolLogBuffer is a bytes.Buffer safe for the manager's goroutines.
type poolLogBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *poolLogBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *poolLogBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// poolTestLogLevel logs everything up to V(5), the most verbose level the code uses.
const poolTestLogLevel = -5

// startManagerWithLogger is startManager with the manager's own logger, for tests that read
// what the controllers log.
func startManagerWithLogger(ns string, opts Options, logger logr.Logger) {
	GinkgoHelper()
	runManager(ns, opts, managerSetup{logger: &logger})
}

// poolMetricFamily gathers the registry and returns the family called name.
func poolMetricFamily(name string) *dto.MetricFamily {
	GinkgoHelper()
	families, err := metrics.Registry.Gather()
	Expect(err).NotTo(HaveOccurred())
	for _, f := range families {
		if f.GetName() == name {
			return f
		}
	}
	return nil
}

// findPoolMetric returns the series of family name whose labels include every label given as
// name=value pairs.
func findPoolMetric(name string, labels ...string) *dto.Metric {
	f := poolMetricFamily(name)
	if f == nil {
		return nil
	}
next:
	for _, m := range f.GetMetric() {
		have := map[string]string{}
		for _, l := range m.GetLabel() {
			have[l.GetName()] = l.GetValue()
		}
		for i := 0; i+1 < len(labels); i += 2 {
			if have[labels[i]] != labels[i+1] {
				continue next
			}
		}
		return m
	}
	return nil
}

// poolLabels selects the series of pool, given as namespace/name.
func poolLabels(pool string, more ...string) []string {
	ns, name, _ := strings.Cut(pool, "/")
	return append([]string{"namespace", ns, "pool", name}, more...)
}

func poolGauge(name, pool, server string) float64 {
	m := findPoolMetric(name, poolLabels(pool, "server", server)...)
	if m == nil {
		return -1
	}
	return m.GetGauge().GetValue()
}

func poolCounter(name, pool, server, result string) float64 {
	m := findPoolMetric(name, poolLabels(pool, "server", server, "result", result)...)
	if m == nil {
		return 0
	}
	return m.GetCounter().GetValue()
}

func poolHistogramCount(name, pool, server string) uint64 {
	m := findPoolMetric(name, poolLabels(pool, "server", server)...)
	if m == nil {
		return 0
	}
	return m.GetHistogram().GetSampleCount()
}

// seriesOfPool lists the OCSPool server series still exported for pool.
func seriesOfPool(pool string) []string {
	var out []string
	for _, name := range []string{"ocsha_server_up", "ocsha_server_homed_users", "ocsha_server_probe_duration_seconds", "ocsha_winrm_requests_total"} {
		if m := findPoolMetric(name, poolLabels(pool)...); m != nil {
			out = append(out, name+strings.TrimSpace(fmt.Sprint(m.GetLabel())))
		}
	}
	return out
}
