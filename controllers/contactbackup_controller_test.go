package controllers

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	ocsv1 "github.com/ocsha/ocs-ha-operator/api/v1alpha1"
	"github.com/ocsha/ocs-ha-operator/internal/contacts"
	"github.com/ocsha/ocs-ha-operator/internal/ocs"
	"github.com/ocsha/ocs-ha-operator/internal/sim"
)

// cbStartManager runs only the ContactBackup controller for namespace ns: the tests with the
// Fake agent set the pool's status themselves, and no pool probe may overwrite it.
func cbStartManager(ns string, opts Options) (stop func()) {
	GinkgoHelper()
	return runManager(ns, opts, managerSetup{register: func(mgr ctrl.Manager, opts Options) error {
		opts.complete(mgr)
		return (&ContactBackupReconciler{}).SetupWithManager(mgr, opts)
	}})
}

// cbCreatePool creates pool "pool" with servers ocs1 and ocs2 and reports the given states.
func cbCreatePool(ns string, states map[string]ocsv1.ServerState) *ocsv1.OCSPool {
	GinkgoHelper()
	pool := validPool(ns)
	Expect(k8sClient.Create(testCtx, pool)).To(Succeed())
	cbSetServerStates(pool, states)
	return pool
}

// cbSetServerStates writes the pool's status.servers as the OCSPool controller would.
func cbSetServerStates(pool *ocsv1.OCSPool, states map[string]ocsv1.ServerState) {
	GinkgoHelper()
	Eventually(func(g Gomega) {
		g.Expect(k8sClient.Get(testCtx, client.ObjectKeyFromObject(pool), pool)).To(Succeed())
		pool.Status.Servers = nil
		for _, s := range pool.Spec.Servers {
			if st, ok := states[s.Name]; ok {
				pool.Status.Servers = append(pool.Status.Servers, ocsv1.ServerStatus{Name: s.Name, State: st})
			}
		}
		g.Expect(k8sClient.Status().Update(testCtx, pool)).To(Succeed())
	}).Should(Succeed())
}

var cbBothHealthy = map[string]ocsv1.ServerState{"ocs1": ocsv1.ServerHealthy, "ocs2": ocsv1.ServerHealthy}

// cbNewBackup returns a ContactBackup of pool "pool" storing under a fresh temporary directory.
// Its schedule cannot fire while a spec runs on the real clock (the next 29 February at
// midnight is years away), so every run a spec sees is one it asked for; specs about the
// schedule set their own with a fake clock.
func cbNewBackup(ns string) *ocsv1.ContactBackup {
	b := validBackup(ns)
	b.Spec.Storage.Path = GinkgoT().TempDir()
	b.Spec.Schedule = "0 0 29 2 *"
	return b
}

// cbRequestBackup sets the backup-now annotation to token.
func cbRequestBackup(b *ocsv1.ContactBackup, token string) {
	GinkgoHelper()
	Eventually(func(g Gomega) {
		g.Expect(k8sClient.Get(testCtx, client.ObjectKeyFromObject(b), b)).To(Succeed())
		if b.Annotations == nil {
			b.Annotations = map[string]string{}
		}
		b.Annotations[ocsv1.AnnotationBackupNow] = token
		g.Expect(k8sClient.Update(testCtx, b)).To(Succeed())
	}).Should(Succeed())
}

// cbWaitHandled waits until the request token is handled and returns the fresh object.
func cbWaitHandled(b *ocsv1.ContactBackup, token string) {
	GinkgoHelper()
	Eventually(func(g Gomega) {
		g.Expect(k8sClient.Get(testCtx, client.ObjectKeyFromObject(b), b)).To(Succeed())
		g.Expect(b.Status.LastHandledRequest).To(Equal(token))
		g.Expect(isTrue(b, ocsv1.ConditionReconciling)).To(BeFalse())
	}).Should(Succeed())
}

// cbExpectCondition asserts one condition of obj's status through g.
func cbExpectCondition(g Gomega, obj statusObject, condType string, status metav1.ConditionStatus, reason string) *metav1.Condition {
	c := meta.FindStatusCondition(obj.GetCommonStatus().Conditions, condType)
	g.ExpectWithOffset(1, c).NotTo(BeNil(), "condition %s", condType)
	g.ExpectWithOffset(1, c.Status).To(Equal(status), "condition %s: %s %s", condType, c.Reason, c.Message)
	g.ExpectWithOffset(1, c.Reason).To(Equal(reason), "condition %s: %s", condType, c.Message)
	return c
}

// cbEvents returns the reasons of the events about object name, with their type.
func cbEvents(g Gomega, ns, name string) map[string]string {
	var list eventsv1.EventList
	g.Expect(k8sClient.List(testCtx, &list, client.InNamespace(ns))).To(Succeed())
	out := map[string]string{}
	for _, e := range list.Items {
		if e.Regarding.Name == name && e.Regarding.Kind == "ContactBackup" {
			out[e.Reason] = e.Type + ": " + e.Note
		}
	}
	return out
}

// cbGatedAgent holds every ExportContacts until the gate is closed.
type cbGatedAgent struct {
	ocs.Agent
	gate chan struct{}
}

func (a cbGatedAgent) ExportContacts(ctx context.Context, server string, users []string) (*contacts.Document, error) {
	select {
	case <-a.gate:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return a.Agent.ExportContacts(ctx, server, users)
}

var _ = Describe("ContactBackup controller", func() {
	var ns string
	BeforeEach(func() { ns = newNamespace() })

	It("takes a snapshot on request, reports it and restores a user from it", func() {
		fake := cbFake(5, 4, "ocs1", "ocs2")
		gate := make(chan struct{})
		cbStartManager(ns, Options{Agents: StaticProvider{Agent: cbGatedAgent{Agent: fake, gate: gate}}})
		cbCreatePool(ns, cbBothHealthy)
		b := cbNewBackup(ns)
		Expect(k8sClient.Create(testCtx, b)).To(Succeed())

		By("waiting for the schedule, with nothing run yet")
		Eventually(func(g Gomega) {
			g.Expect(k8sClient.Get(testCtx, client.ObjectKeyFromObject(b), b)).To(Succeed())
			cbExpectCondition(g, b, ocsv1.ConditionReady, metav1.ConditionTrue, ocsv1.ReasonWaitingForSchedule)
			g.Expect(b.Status.NextScheduleTime).NotTo(BeNil())
		}).Should(Succeed())

		By("reporting Reconciling while the run is in progress")
		cbRequestBackup(b, "before-maintenance")
		Eventually(func(g Gomega) {
			g.Expect(k8sClient.Get(testCtx, client.ObjectKeyFromObject(b), b)).To(Succeed())
			cbExpectCondition(g, b, ocsv1.ConditionReconciling, metav1.ConditionTrue, ocsv1.ReasonBackingUp)
			g.Expect(b.Status.Phase).To(Equal("Reconciling"))
		}).Should(Succeed())
		close(gate)

		cbWaitHandled(b, "before-maintenance")
		Eventually(func(g Gomega) {
			g.Expect(k8sClient.Get(testCtx, client.ObjectKeyFromObject(b), b)).To(Succeed())
			cbExpectCondition(g, b, ocsv1.ConditionReady, metav1.ConditionTrue, ocsv1.ReasonBackupSucceeded)
			cbExpectCondition(g, b, ocsv1.ConditionDegraded, metav1.ConditionFalse, ocsv1.ReasonAsExpected)
			cbExpectCondition(g, b, ocsv1.ConditionStalled, metav1.ConditionFalse, ocsv1.ReasonAsExpected)
			g.Expect(b.Status.Phase).To(Equal("Ready"))
			g.Expect(b.Status.LastSuccessfulTime).NotTo(BeNil())
			g.Expect(b.Status.LastScheduleTime).To(BeNil(), "a requested run is not a scheduled one")
			g.Expect(b.Status.Snapshots).To(HaveLen(1))
			s := b.Status.Snapshots[0]
			g.Expect(s.Name).NotTo(BeEmpty())
			g.Expect(s.Users).To(Equal(int32(10)))
			g.Expect(s.Contacts).To(Equal(int32(40)))
			g.Expect(s.Bytes).To(BeNumerically(">", 0))
			g.Expect(s.SkippedServers).To(BeEmpty())
			g.Expect(cbEvents(g, ns, b.Name)).To(HaveKeyWithValue(ocsv1.ReasonBackupSucceeded, HavePrefix("Normal")))
		}).Should(Succeed())
		Expect(fake.Calls(ocs.OpExportContacts)).To(Equal(2), "one export per server")

		By("restoring a user's contacts from the snapshot")
		repo, err := openRepository(testCtx, k8sClient, b)
		Expect(err).NotTo(HaveOccurred())
		got, name, corrupt, err := newestContactsFor(testCtx, repo, cbSIP(6), time.Now().Add(time.Hour))
		Expect(err).NotTo(HaveOccurred())
		Expect(name).To(Equal(b.Status.Snapshots[0].Name))
		Expect(corrupt).To(BeEmpty())
		want, _ := fake.StoredContacts("ocs2", cbSIP(6))
		Expect(got).To(Equal(want))

		By("running again only for a new token")
		cbRequestBackup(b, "before-maintenance")
		cbRequestBackup(b, "second")
		cbWaitHandled(b, "second")
		Expect(fake.Calls(ocs.OpExportContacts)).To(Equal(4))
	})

	It("runs on schedule and, after the manager was down for three periods, exactly once", func() {
		fake := cbFake(2, 2, "ocs1", "ocs2")
		clk := clocktesting.NewFakeClock(time.Now().UTC().Truncate(time.Second))
		stop := cbStartManager(ns, Options{Agents: StaticProvider{Agent: fake}, Clock: clk})
		cbCreatePool(ns, cbBothHealthy)
		b := cbNewBackup(ns)
		b.Spec.Schedule = "*/15 * * * *"
		Expect(k8sClient.Create(testCtx, b)).To(Succeed())
		Eventually(func(g Gomega) {
			g.Expect(k8sClient.Get(testCtx, client.ObjectKeyFromObject(b), b)).To(Succeed())
			g.Expect(b.Status.NextScheduleTime).NotTo(BeNil())
		}).Should(Succeed())
		firstTick := b.Status.NextScheduleTime.Time

		// poke makes the controller look at the object again (the fake clock wakes nothing).
		poke := func(i int) {
			GinkgoHelper()
			Eventually(func(g Gomega) {
				g.Expect(k8sClient.Get(testCtx, client.ObjectKeyFromObject(b), b)).To(Succeed())
				b.Spec.Retention.KeepLast = int32(10 + i)
				g.Expect(k8sClient.Update(testCtx, b)).To(Succeed())
			}).Should(Succeed())
			Eventually(func(g Gomega) {
				g.Expect(k8sClient.Get(testCtx, client.ObjectKeyFromObject(b), b)).To(Succeed())
				g.Expect(b.Status.ObservedGeneration).To(Equal(b.Generation))
				// The status written as a run starts carries the generation too: wait for its end.
				g.Expect(isTrue(b, ocsv1.ConditionReconciling)).To(BeFalse())
				// The manager's cache may not have the pool's status yet: the run then waits for it.
				ready := meta.FindStatusCondition(b.Status.Conditions, ocsv1.ConditionReady)
				g.Expect(ready.Reason).NotTo(Equal(ocsv1.ReasonPoolNotReady))
			}).Should(Succeed())
		}

		By("running at the first tick")
		clk.SetTime(firstTick.Add(30 * time.Second))
		poke(1)
		Expect(b.Status.LastScheduleTime).NotTo(BeNil())
		Expect(b.Status.LastScheduleTime.Time).To(BeTemporally("==", firstTick))
		Expect(b.Status.NextScheduleTime.Time).To(BeTemporally("==", firstTick.Add(15*time.Minute)))
		Expect(b.Status.Snapshots).To(HaveLen(1))
		Expect(fake.Calls(ocs.OpExportContacts)).To(Equal(2))

		By("stopping the manager for three periods, then starting it again")
		stop()
		clk.SetTime(firstTick.Add(45*time.Minute + 10*time.Second))
		cbStartManager(ns, Options{Agents: StaticProvider{Agent: fake}, Clock: clk})
		Eventually(func(g Gomega) {
			g.Expect(k8sClient.Get(testCtx, client.ObjectKeyFromObject(b), b)).To(Succeed())
			g.Expect(b.Status.LastScheduleTime.Time).To(BeTemporally("==", firstTick.Add(45*time.Minute)))
		}).Should(Succeed())
		poke(2)
		Expect(b.Status.Snapshots).To(HaveLen(2), "one run for the three missed ticks")
		Expect(fake.Calls(ocs.OpExportContacts)).To(Equal(4))
		Expect(b.Status.NextScheduleTime.Time).To(BeTemporally("==", firstTick.Add(60*time.Minute)))
		Eventually(func(g Gomega) {
			cbExpectCondition(g, b, ocsv1.ConditionReady, metav1.ConditionTrue, ocsv1.ReasonBackupSucceeded)
		}).Should(Succeed())

		By("reporting BackupOverdue when two scheduled runs fail")
		fake.SetDown("ocs1", true)
		fake.SetDown("ocs2", true)
		clk.SetTime(firstTick.Add(60*time.Minute + 5*time.Second))
		poke(3)
		Expect(meta.FindStatusCondition(b.Status.Conditions, ocsv1.ConditionReady).Reason).To(Equal(ocsv1.ReasonBackupFailed))
		clk.SetTime(firstTick.Add(75*time.Minute + 5*time.Second))
		poke(4)
		Eventually(func(g Gomega) {
			cbExpectCondition(g, b, ocsv1.ConditionReady, metav1.ConditionFalse, ocsv1.ReasonBackupOverdue)
		}).Should(Succeed())
	})

	It("skips a server that is down, names it, and fails when every server is down", func() {
		fake := cbFake(3, 2, "ocs1", "ocs2")
		cbStartManager(ns, Options{Agents: StaticProvider{Agent: fake}})
		pool := cbCreatePool(ns, map[string]ocsv1.ServerState{"ocs1": ocsv1.ServerHealthy, "ocs2": ocsv1.ServerUnreachable})
		b := cbNewBackup(ns)
		Expect(k8sClient.Create(testCtx, b)).To(Succeed())

		cbRequestBackup(b, "1")
		cbWaitHandled(b, "1")
		Eventually(func(g Gomega) {
			g.Expect(k8sClient.Get(testCtx, client.ObjectKeyFromObject(b), b)).To(Succeed())
			g.Expect(b.Status.Snapshots).To(HaveLen(1))
			g.Expect(b.Status.Snapshots[0].SkippedServers).To(Equal([]string{"ocs2"}))
			g.Expect(b.Status.Snapshots[0].Users).To(Equal(int32(3)))
			c := cbExpectCondition(g, b, ocsv1.ConditionDegraded, metav1.ConditionTrue, ocsv1.ReasonBackupPartial)
			g.Expect(c.Message).To(ContainSubstring("ocs2"))
			cbExpectCondition(g, b, ocsv1.ConditionReady, metav1.ConditionTrue, ocsv1.ReasonBackupPartial)
			g.Expect(b.Status.Phase).To(Equal("Degraded"))
			g.Expect(cbEvents(g, ns, b.Name)).To(HaveKeyWithValue(ocsv1.ReasonBackupPartial, ContainSubstring("ocs2")))
		}).Should(Succeed())
		Expect(fake.Calls(ocs.OpExportContacts)).To(Equal(1), "the unreachable server is not asked")

		By("failing without a snapshot when no server serves")
		cbSetServerStates(pool, map[string]ocsv1.ServerState{"ocs1": ocsv1.ServerUnreachable, "ocs2": ocsv1.ServerUnreachable})
		cbRequestBackup(b, "2")
		cbWaitHandled(b, "2")
		Eventually(func(g Gomega) {
			g.Expect(k8sClient.Get(testCtx, client.ObjectKeyFromObject(b), b)).To(Succeed())
			cbExpectCondition(g, b, ocsv1.ConditionReady, metav1.ConditionFalse, ocsv1.ReasonBackupFailed)
			g.Expect(b.Status.Snapshots).To(HaveLen(1))
			g.Expect(cbEvents(g, ns, b.Name)).To(HaveKeyWithValue(ocsv1.ReasonBackupFailed, HavePrefix("Warning")))
		}).Should(Succeed())
	})

	It("keeps exactly keepLast snapshots", func() {
		fake := cbFake(3, 2, "ocs1", "ocs2")
		cbStartManager(ns, Options{Agents: StaticProvider{Agent: fake}})
		cbCreatePool(ns, cbBothHealthy)
		b := cbNewBackup(ns)
		b.Spec.Retention.KeepLast = 2
		Expect(k8sClient.Create(testCtx, b)).To(Succeed())

		for i := 1; i <= 4; i++ {
			fake.AddUser(cbSIP(0), "ocs1", cbContacts(0, 2, i)...)
			token := strconv.Itoa(i)
			cbRequestBackup(b, token)
			cbWaitHandled(b, token)
		}
		Eventually(func(g Gomega) {
			g.Expect(k8sClient.Get(testCtx, client.ObjectKeyFromObject(b), b)).To(Succeed())
			g.Expect(b.Status.Snapshots).To(HaveLen(2))
			g.Expect(cbEvents(g, ns, b.Name)).To(HaveKey("SnapshotsPruned"))
		}).Should(Succeed())
		repo, err := openRepository(testCtx, k8sClient, b)
		Expect(err).NotTo(HaveOccurred())
		ms, err := repo.List(testCtx)
		Expect(err).NotTo(HaveOccurred())
		Expect(ms).To(HaveLen(2))
		Expect(ms[0].Name).To(Equal(b.Status.Snapshots[0].Name))
		Expect(ms[1].Name).To(Equal(b.Status.Snapshots[1].Name))
	})

	It("reports an invalid schedule, an unwritable path and a missing pool", func() {
		cbStartManager(ns, Options{Agents: StaticProvider{Agent: cbFake(1, 1, "ocs1", "ocs2")}})

		By("a missing pool: Ready False, not stalled")
		b := cbNewBackup(ns)
		Expect(k8sClient.Create(testCtx, b)).To(Succeed())
		Eventually(func(g Gomega) {
			g.Expect(k8sClient.Get(testCtx, client.ObjectKeyFromObject(b), b)).To(Succeed())
			cbExpectCondition(g, b, ocsv1.ConditionReady, metav1.ConditionFalse, ocsv1.ReasonPoolNotFound)
			cbExpectCondition(g, b, ocsv1.ConditionStalled, metav1.ConditionFalse, ocsv1.ReasonAsExpected)
		}).Should(Succeed())
		cbCreatePool(ns, cbBothHealthy)
		Eventually(func(g Gomega) {
			g.Expect(k8sClient.Get(testCtx, client.ObjectKeyFromObject(b), b)).To(Succeed())
			cbExpectCondition(g, b, ocsv1.ConditionReady, metav1.ConditionTrue, ocsv1.ReasonWaitingForSchedule)
		}).Should(Succeed())

		By("an invalid schedule: Stalled, naming spec.schedule and the parser's message")
		Eventually(func(g Gomega) {
			g.Expect(k8sClient.Get(testCtx, client.ObjectKeyFromObject(b), b)).To(Succeed())
			// The API refuses values out of range; a range that runs backwards only the parser sees.
			b.Spec.Schedule = "30-10 * * * *"
			g.Expect(k8sClient.Update(testCtx, b)).To(Succeed())
		}).Should(Succeed())
		Eventually(func(g Gomega) {
			g.Expect(k8sClient.Get(testCtx, client.ObjectKeyFromObject(b), b)).To(Succeed())
			c := cbExpectCondition(g, b, ocsv1.ConditionStalled, metav1.ConditionTrue, ocsv1.ReasonInvalidSchedule)
			g.Expect(c.Message).To(ContainSubstring("spec.schedule"))
			g.Expect(c.Message).To(ContainSubstring("30-10"))
			cbExpectCondition(g, b, ocsv1.ConditionReady, metav1.ConditionFalse, ocsv1.ReasonInvalidSchedule)
		}).Should(Succeed())

		By("an unwritable path: Stalled StorageUnavailable")
		file := GinkgoT().TempDir() + "/file"
		Expect(cbWriteFile(file)).To(Succeed())
		Eventually(func(g Gomega) {
			g.Expect(k8sClient.Get(testCtx, client.ObjectKeyFromObject(b), b)).To(Succeed())
			b.Spec.Schedule = "*/15 * * * *"
			b.Spec.Storage.Path = file
			g.Expect(k8sClient.Update(testCtx, b)).To(Succeed())
		}).Should(Succeed())
		cbRequestBackup(b, "1")
		cbWaitHandled(b, "1")
		Eventually(func(g Gomega) {
			g.Expect(k8sClient.Get(testCtx, client.ObjectKeyFromObject(b), b)).To(Succeed())
			c := cbExpectCondition(g, b, ocsv1.ConditionStalled, metav1.ConditionTrue, ocsv1.ReasonStorageUnavailable)
			g.Expect(c.Message).To(ContainSubstring("spec.storage.path"))
			cbExpectCondition(g, b, ocsv1.ConditionReady, metav1.ConditionFalse, ocsv1.ReasonStorageUnavailable)
		}).Should(Succeed())
	})
})

// cbWriteFile creates a regular file where a directory is expected.
func cbWriteFile(path string) error { return os.WriteFile(path, []byte("not a directory"), 0o600) }

// cbPutContacts replaces a user's contact list through the emulator's admin API.
func cbPutContacts(emu *sim.Emulator, sip string, r contacts.Resource) {
	GinkgoHelper()
	type group struct {
		Number      int    `json:"number"`
		DisplayName string `json:"displayName,omitempty"`
		ExternalURI string `json:"externalURI,omitempty"`
	}
	type contact struct {
		Buddy             string `json:"buddy"`
		SubscribePresence bool   `json:"subscribePresence"`
		Groups            []int  `json:"groups"`
		DisplayName       string `json:"displayName,omitempty"`
	}
	type container struct {
		Number  int      `json:"number"`
		Members []string `json:"members"`
	}
	body := struct {
		SIP        string      `json:"sip"`
		Groups     []group     `json:"groups"`
		Contacts   []contact   `json:"contacts"`
		Containers []container `json:"containers"`
	}{SIP: sip, Groups: []group{}, Contacts: []contact{}, Containers: []container{}}
	for _, g := range r.Groups {
		body.Groups = append(body.Groups, group(g))
	}
	for _, c := range r.Contacts {
		body.Contacts = append(body.Contacts, contact(c))
	}
	for _, c := range r.Containers {
		body.Containers = append(body.Containers, container(c))
	}
	data, err := json.Marshal(body)
	Expect(err).NotTo(HaveOccurred())
	req, err := http.NewRequestWithContext(testCtx, http.MethodPut, emu.AdminURL()+"/users/"+url.PathEscape(sip)+"/contacts", bytes.NewReader(data))
	Expect(err).NotTo(HaveOccurred())
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	Expect(err).NotTo(HaveOccurred())
	msg, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	Expect(resp.StatusCode).To(BeNumerically("<", 300), "PUT contacts of %s: %s", sip, msg)
}

// cbDirBytes sums the sizes of the files under dir.
func cbDirBytes(dir string) int64 {
	GinkgoHelper()
	var total int64
	Expect(filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		info, err := d.Info()
		if err == nil {
			total += info.Size()
		}
		return err
	})).To(Succeed())
	return total
}

// cbWaitServerState waits until the pool reports server in state.
func cbWaitServerState(pool *ocsv1.OCSPool, server string, state ocsv1.ServerState) {
	GinkgoHelper()
	Eventually(func(g Gomega) {
		g.Expect(k8sClient.Get(testCtx, client.ObjectKeyFromObject(pool), pool)).To(Succeed())
		var got ocsv1.ServerState
		for _, s := range pool.Status.Servers {
			if s.Name == server {
				got = s.State
			}
		}
		g.Expect(got).To(Equal(state))
	}).Should(Succeed())
}

var _ = Describe("ContactBackup controller with the emulator", func() {
	var ns string
	BeforeEach(func() { ns = newNamespace() })

	It("restores a snapshot through the agent, and skips and names a crashed server", func() {
		emu := startEmulator(sim.Config{Users: 20, ContactsPerUser: 8})
		startManager(ns, Options{})
		pool := createPoolFor(ns, emu, nil)
		waitPoolReady(pool)
		b := cbNewBackup(ns)
		Expect(k8sClient.Create(testCtx, b)).To(Succeed())

		cbRequestBackup(b, "1")
		cbWaitHandled(b, "1")
		Eventually(func(g Gomega) {
			g.Expect(k8sClient.Get(testCtx, client.ObjectKeyFromObject(b), b)).To(Succeed())
			cbExpectCondition(g, b, ocsv1.ConditionReady, metav1.ConditionTrue, ocsv1.ReasonBackupSucceeded)
			g.Expect(b.Status.Snapshots).To(HaveLen(1))
			g.Expect(b.Status.Snapshots[0].Users).To(Equal(int32(20)))
			g.Expect(b.Status.Snapshots[0].Contacts).To(Equal(int32(160)))
		}).Should(Succeed())

		By("restoring every user's list into the emulator through the agent")
		users := simUsers(emu)
		want := map[string]contacts.Resource{}
		for _, u := range users {
			r, ok := emu.World().UserContacts(u.SIP)
			Expect(ok).To(BeTrue())
			want[u.SIP] = r
			cbPutContacts(emu, u.SIP, contacts.Resource{})
		}
		repo, err := openRepository(testCtx, k8sClient, b)
		Expect(err).NotTo(HaveOccurred())
		agent, err := (&WinRMProvider{Reader: k8sClient}).AgentFor(testCtx, pool)
		Expect(err).NotTo(HaveOccurred())
		docs := map[string]*contacts.Document{}
		for _, u := range users {
			r, _, corrupt, err := newestContactsFor(testCtx, repo, u.SIP, time.Now().Add(time.Hour))
			Expect(err).NotTo(HaveOccurred())
			Expect(corrupt).To(BeEmpty())
			if docs[u.Home] == nil {
				docs[u.Home] = &contacts.Document{}
			}
			docs[u.Home].Resources = append(docs[u.Home].Resources, r)
		}
		for home, doc := range docs {
			results, err := agent.ImportContacts(testCtx, home, doc)
			Expect(err).NotTo(HaveOccurred())
			for _, res := range results {
				Expect(res.OK).To(BeTrue(), "import of %s: %s", res.SIP, res.Message)
			}
		}
		for _, u := range users {
			got, ok := emu.World().UserContacts(u.SIP)
			Expect(ok).To(BeTrue())
			w := want[u.SIP]
			Expect(got.UserAtHost).To(Equal(w.UserAtHost))
			Expect(got.Groups).To(Equal(w.Groups), "groups of %s", u.SIP)
			Expect(got.Contacts).To(Equal(w.Contacts), "contacts of %s", u.SIP)
			Expect(got.Containers).To(Equal(w.Containers), "containers of %s", u.SIP)
		}

		By("skipping a crashed server and naming it")
		simCrash(emu, "ocs2")
		cbWaitServerState(pool, "ocs2", ocsv1.ServerUnreachable)
		cbRequestBackup(b, "2")
		cbWaitHandled(b, "2")
		Eventually(func(g Gomega) {
			g.Expect(k8sClient.Get(testCtx, client.ObjectKeyFromObject(b), b)).To(Succeed())
			g.Expect(b.Status.Snapshots).To(HaveLen(2))
			s := b.Status.Snapshots[0]
			g.Expect(s.SkippedServers).To(Equal([]string{"ocs2"}))
			g.Expect(s.Users).To(Equal(int32(10)))
			cbExpectCondition(g, b, ocsv1.ConditionDegraded, metav1.ConditionTrue, ocsv1.ReasonBackupPartial)
		}).Should(Succeed())
	})

	It("stores ten snapshots of 2 × 1,000 users in less than 1.15 × the space of one", func() {
		emu := startEmulator(sim.Config{Users: 2000, ContactsPerUser: 20})
		startManager(ns, Options{})
		// Exports of 1,000 users keep the emulator busy: probes must not take that for an outage.
		pool := createPoolFor(ns, emu, func(p *ocsv1.OCSPool) {
			p.Spec.Health = ocsv1.HealthSpec{ProbeInterval: "5s", ProbeTimeout: "5s", FailureThreshold: 3}
		})
		waitPoolReady(pool)
		b := cbNewBackup(ns)
		b.Spec.IncludeConfiguration = ptr.To(false)
		Expect(k8sClient.Create(testCtx, b)).To(Succeed())

		users := simUsers(emu)
		Expect(users).To(HaveLen(2000))
		var one int64
		for k := 0; k < 10; k++ {
			for j := 0; j < 20 && k > 0; j++ { // 1% of the users change
				u := users[(k*7919+j*104729)%len(users)]
				r, ok := emu.World().UserContacts(u.SIP)
				Expect(ok).To(BeTrue())
				r.Contacts[0].SubscribePresence = !r.Contacts[0].SubscribePresence
				r.Contacts = append(r.Contacts, contacts.Contact{Buddy: fmt.Sprintf("new%d@corp.example.com", k), SubscribePresence: true, Groups: []int{1}})
				cbPutContacts(emu, u.SIP, r)
			}
			token := strconv.Itoa(k)
			cbRequestBackup(b, token)
			cbWaitHandled(b, token)
			cbExpectCondition(Default, b, ocsv1.ConditionReady, metav1.ConditionTrue, ocsv1.ReasonBackupSucceeded)
			Expect(b.Status.Snapshots[0].Users).To(Equal(int32(2000)))
			if k == 0 {
				one = cbDirBytes(b.Spec.Storage.Path)
			}
		}
		total := cbDirBytes(b.Spec.Storage.Path)
		GinkgoWriter.Printf("one snapshot: %d bytes, ten: %d bytes (%.3f×)\n", one, total, float64(total)/float64(one))
		Expect(float64(total)).To(BeNumerically("<", 1.15*float64(one)))
	})
})
