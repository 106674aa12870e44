package controllers

import (
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	ocsv1 "github.com/ocsha/ocs-ha-operator/api/v1alpha1"
	"github.com/ocsha/ocs-ha-operator/internal/contacts"
)

// createRestore creates the ContactRestore "restore" reading ContactBackup "backup".
func createRestore(ns string, spec ocsv1.RestoreRequestSpec) *ocsv1.ContactRestore {
	GinkgoHelper()
	spec.BackupRef = ocsv1.LocalObjectReference{Name: "backup"}
	cr := &ocsv1.ContactRestore{ObjectMeta: metav1.ObjectMeta{Name: "restore", Namespace: ns}, Spec: spec}
	Expect(k8sClient.Create(testCtx, cr)).To(Succeed())
	return cr
}

// waitRestoreCompleted waits until the restore has ended and returns it.
func waitRestoreCompleted(ns string) *ocsv1.ContactRestore {
	GinkgoHelper()
	cr := &ocsv1.ContactRestore{}
	Eventually(func(g Gomega) {
		g.Expect(k8sClient.Get(testCtx, client.ObjectKey{Namespace: ns, Name: "restore"}, cr)).To(Succeed())
		g.Expect(cr.Status.CompletionTime).NotTo(BeNil(), "conditions: %s", conditionsString(cr.Status.Conditions))
	}).Should(Succeed())
	return cr
}

func userAt(i int) string { return strings.TrimPrefix(homingSIP(i), "sip:") }

var _ = Describe("ContactRestore controller with the emulator", func() {
	It("restores one user whose list was emptied to exactly the snapshot", func() {
		ns := newNamespace()
		emu := startHomingEmulator(20, 10, 5)
		startManager(ns, Options{})
		waitPoolReady(createPoolFor(ns, emu, nil))
		createBackupAndSnapshot(ns)
		before, _ := emu.World().UserContacts(homingSIP(3))
		Expect(emu.World().SetContacts(homingSIP(3), contacts.Resource{UserAtHost: userAt(3)})).To(Succeed())

		createRestore(ns, ocsv1.RestoreRequestSpec{Users: []string{homingSIP(3)}})
		cr := waitRestoreCompleted(ns)
		Expect(cr.Status.Users).To(Equal(ocsv1.RestoreCounts{Targeted: 1, Restored: 1}))
		Expect(meta.IsStatusConditionTrue(cr.Status.Conditions, ocsv1.ConditionReady)).To(BeTrue(), conditionsString(cr.Status.Conditions))
		Expect(cr.Status.VerifiedTime).NotTo(BeNil())
		got, _ := emu.World().UserContacts(homingSIP(3))
		Expect(got.Contacts).To(Equal(before.Contacts))
		Expect(got.Contacts).To(Equal(homingContacts(3, 5, "buddy")))
	})

	It("counts per server in a dry run and writes nothing", func() {
		ns := newNamespace()
		emu := startHomingEmulator(20, 10, 5)
		startManager(ns, Options{})
		waitPoolReady(createPoolFor(ns, emu, nil))
		createBackupAndSnapshot(ns)
		for _, i := range []int{11, 12} {
			Expect(emu.World().SetContacts(homingSIP(i), contacts.Resource{UserAtHost: userAt(i)})).To(Succeed())
		}
		createRestore(ns, ocsv1.RestoreRequestSpec{Server: "ocs2", DryRun: true})
		cr := waitRestoreCompleted(ns)
		Expect(cr.Status.DryRun).To(Equal([]ocsv1.RestorePreview{{Server: "ocs2", Users: 10, UsersToRestore: 2, Contacts: 10}}))
		c := meta.FindStatusCondition(cr.Status.Conditions, ocsv1.ConditionReady)
		Expect(c.Reason).To(Equal(ocsv1.ReasonDryRunCompleted))
		for _, i := range []int{11, 12} {
			got, _ := emu.World().UserContacts(homingSIP(i))
			Expect(got.Contacts).To(BeEmpty(), "a dry run imports nothing")
		}
	})

	It("merges onto a user with newer contacts: the union, nothing lost", func() {
		ns := newNamespace()
		emu := startHomingEmulator(20, 10, 5)
		startManager(ns, Options{})
		waitPoolReady(createPoolFor(ns, emu, nil))
		createBackupAndSnapshot(ns)
		// Two contacts of the snapshot deleted, three made since.
		newer := append(homingContacts(4, 5, "buddy")[2:], homingContacts(4, 3, "late")...)
		Expect(emu.World().SetContacts(homingSIP(4), contacts.Resource{UserAtHost: userAt(4), Contacts: newer})).To(Succeed())

		createRestore(ns, ocsv1.RestoreRequestSpec{Pool: true})
		cr := waitRestoreCompleted(ns)
		Expect(cr.Status.Users).To(Equal(ocsv1.RestoreCounts{Targeted: 20, Restored: 1, Unchanged: 19}))
		got, _ := emu.World().UserContacts(homingSIP(4))
		have := contacts.Resource{Contacts: got.Contacts}
		Expect(contacts.Missing(have, contacts.Resource{Contacts: homingContacts(4, 5, "buddy")})).To(BeEmpty())
		Expect(contacts.Missing(have, contacts.Resource{Contacts: newer})).To(BeEmpty())
		Expect(got.Contacts).To(HaveLen(8))
	})

	It("refuses Replace with a clear reason and writes nothing", func() {
		ns := newNamespace()
		emu := startHomingEmulator(4, 2, 2)
		startManager(ns, Options{})
		waitPoolReady(createPoolFor(ns, emu, nil))
		createBackupAndSnapshot(ns)
		createRestore(ns, ocsv1.RestoreRequestSpec{Pool: true, Mode: ocsv1.RestoreReplace})
		Eventually(func(g Gomega) {
			cr := &ocsv1.ContactRestore{}
			g.Expect(k8sClient.Get(testCtx, client.ObjectKey{Namespace: ns, Name: "restore"}, cr)).To(Succeed())
			c := meta.FindStatusCondition(cr.Status.Conditions, ocsv1.ConditionStalled)
			g.Expect(c).NotTo(BeNil())
			g.Expect(c.Reason).To(Equal(ocsv1.ReasonReplaceUnsupported))
			g.Expect(cr.Status.StartTime).To(BeNil())
		}).Should(Succeed())
	})

	It("waits while a UserHoming operation runs on the pool", func() {
		ns := newNamespace()
		emu := startHomingEmulator(4, 2, 2)
		startManager(ns, Options{})
		waitPoolReady(createPoolFor(ns, emu, nil))
		createBackupAndSnapshot(ns)
		// A UserHoming whose record says an operation runs; no UserHoming controller is needed
		// for the restore to see it, and the one running finds nothing to move.
		h := createHoming(ns, func(h *ocsv1.UserHoming) { h.Spec.Suspend = true })
		// Its controller's first status write must not overwrite the record written below.
		Eventually(func(g Gomega) {
			expectHomingCondition(g, getHoming(g, ns), ocsv1.ConditionReady, metav1.ConditionFalse, ocsv1.ReasonSuspended)
		}).Should(Succeed())
		Expect(k8sClient.Get(testCtx, client.ObjectKeyFromObject(h), h)).To(Succeed())
		h.Status.LastOperation = &ocsv1.Operation{Type: ocsv1.OperationDrain, ID: "drain-1", StartTime: metav1.Now(), Step: "Moving"}
		Expect(k8sClient.Status().Update(testCtx, h)).To(Succeed())

		createRestore(ns, ocsv1.RestoreRequestSpec{Users: []string{homingSIP(1)}})
		Eventually(func(g Gomega) {
			cr := &ocsv1.ContactRestore{}
			g.Expect(k8sClient.Get(testCtx, client.ObjectKey{Namespace: ns, Name: "restore"}, cr)).To(Succeed())
			c := meta.FindStatusCondition(cr.Status.Conditions, ocsv1.ConditionReady)
			g.Expect(c).NotTo(BeNil())
			g.Expect(c.Reason).To(Equal(ocsv1.ReasonRestoreWaiting), conditionsString(cr.Status.Conditions))
			g.Expect(cr.Status.StartTime).To(BeNil())
		}).Should(Succeed())

		Expect(k8sClient.Get(testCtx, client.ObjectKeyFromObject(h), h)).To(Succeed())
		h.Status.LastOperation.CompletionTime = &metav1.Time{Time: h.Status.LastOperation.StartTime.Time}
		Expect(k8sClient.Status().Update(testCtx, h)).To(Succeed())
		cr := waitRestoreCompleted(ns)
		Expect(cr.Status.Users.Targeted).To(BeEquivalentTo(1))
	})

	It("holds a failover while a restore runs, and lets it go when the restore ends", func() {
		ns := newNamespace()
		emu := startHomingEmulator(100, 50, 10)
		// Every controller but the ContactRestore one: the test plays the running restore.
		runManager(ns, Options{}, managerSetup{register: func(mgr ctrl.Manager, opts Options) error {
			opts.complete(mgr)
			if err := (&OCSPoolReconciler{}).SetupWithManager(mgr, opts); err != nil {
				return err
			}
			if err := (&UserHomingReconciler{}).SetupWithManager(mgr, opts); err != nil {
				return err
			}
			return (&ContactBackupReconciler{}).SetupWithManager(mgr, opts)
		}})
		waitPoolReady(createPoolFor(ns, emu, nil))
		cb := createBackupAndSnapshot(ns)
		createRestoringHoming(ns, cb.Name, "1s")
		cr := createRestore(ns, ocsv1.RestoreRequestSpec{Pool: true})
		cr.Status.StartTime, cr.Status.Pool = &metav1.Time{Time: cr.CreationTimestamp.Time}, "pool"
		Expect(k8sClient.Status().Update(testCtx, cr)).To(Succeed())

		simCrash(emu, "ocs2")
		Eventually(func(g Gomega) {
			expectHomingCondition(g, getHoming(g, ns), ocsv1.ConditionReady, metav1.ConditionFalse, ocsv1.ReasonContactRestoreRunning)
		}).Should(Succeed())
		Consistently(func(g Gomega) {
			_, forced := emulatorMoveCommands(emu)
			g.Expect(forced).To(BeZero())
			g.Expect(getHoming(g, ns).Status.LastOperation).To(BeNil())
		}, "3s", "250ms").Should(Succeed())

		Expect(k8sClient.Get(testCtx, client.ObjectKeyFromObject(cr), cr)).To(Succeed())
		cr.Status.CompletionTime = &metav1.Time{Time: cr.CreationTimestamp.Time}
		Expect(k8sClient.Status().Update(testCtx, cr)).To(Succeed())
		expectFailedOverState(ns, emu, cb, 100)
	})
})
