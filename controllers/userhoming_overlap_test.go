package controllers

import (
	"net/http"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	ocsv1 "github.com/ocsha/ocs-ha-operator/api/v1alpha1"
	"github.com/ocsha/ocs-ha-operator/internal/sim"
)

// The failover's restore overlaps its forced moves: the contacts of each batch's users are
// imported as soon as the batch's moves are confirmed, while the pass's other batches move.
var _ = Describe("UserHoming failover with overlapped restore", func() {
	// 500 users on the server that crashes, 20 per move command: 25 batches, 8 per pass, so
	// the moves take four passes and the restore starts in the first.
	const users, batch = 1000, 20

	createOverlapHoming := func(ns, backup string) {
		GinkgoHelper()
		createHoming(ns, func(h *ocsv1.UserHoming) {
			h.Spec.Failover.Delay = "1s"
			h.Spec.MoveBatchSize = batch
			h.Spec.ContactRestore.BackupRef = &ocsv1.LocalObjectReference{Name: backup}
		})
		Eventually(func(g Gomega) {
			expectHomingCondition(g, getHoming(g, ns), ocsv1.ConditionReady, metav1.ConditionTrue, ocsv1.ReasonBalanced)
		}).Should(Succeed())
	}

	It("starts importing contacts before the last batch of forced moves", func() {
		ns := newNamespace()
		emu := startHomingEmulator(users, users/2, 10)
		startManager(ns, Options{})
		waitPoolReady(createPoolFor(ns, emu, nil))
		cb := createBackupAndSnapshot(ns)
		createOverlapHoming(ns, cb.Name)

		simCrash(emu, "ocs2")
		expectFailedOverState(ns, emu, cb, users)
		firstImport, forcedAt := importAndForcedMoveOrder(emu, "ocs1")
		Expect(firstImport).To(BeNumerically(">=", 0), "an import ran on ocs1")
		Expect(len(forcedAt)).To(BeNumerically(">", batchesPerPass))
		// A pass's imports end before the next pass starts, so the first pass's users are
		// restored before the second pass's first forced move.
		Expect(firstImport).To(BeNumerically("<", forcedAt[batchesPerPass]),
			"the first import (command %d) ran in the first pass, before the second pass's first forced move (command %d)", firstImport, forcedAt[batchesPerPass])
		_, forced := emulatorMoveCommands(emu)
		Expect(forced).To(Equal(moveCommands(users/2, batch, forcedSlots)), "each user force-moved by exactly one command")
	})

	It("resumes a failover stopped in the middle of an import that ran while users still moved", func() {
		ns := newNamespace()
		emu := startHomingEmulator(users, users/2, 10)
		ia := newInterruptingAgent(nil)
		stop := startManager(ns, Options{Agents: &interruptingProvider{inner: &WinRMProvider{Reader: k8sClient}, agent: ia}})
		waitPoolReady(createPoolFor(ns, emu, nil))
		cb := createBackupAndSnapshot(ns)
		createOverlapHoming(ns, cb.Name)

		// The first import runs; the second runs too but its result is lost, and the manager
		// stops there.
		ia.arm(-1, 1, true)
		simCrash(emu, "ocs2")
		Eventually(ia.blocked).Should(BeClosed())
		stop()
		h := &ocsv1.UserHoming{}
		Eventually(func(g Gomega) { h = getHoming(g, ns) }).Should(Succeed())
		Expect(h.Status.LastOperation).NotTo(BeNil())
		Expect(h.Status.LastOperation.Step).To(Equal("Moving"), "the manager stopped while users were still moving")
		Expect(h.Status.LastOperation.PendingRestores).NotTo(BeEmpty(), "with imports in flight")

		startManager(ns, Options{})
		// Every user restored and counted once, the one whose result was lost included.
		expectFailedOverState(ns, emu, cb, users)
		_, forced := emulatorMoveCommands(emu)
		Expect(forced).To(BeNumerically("~", moveCommands(users/2, batch, forcedSlots), 2), "no batch of users force-moved twice")
	})
})

// importAndForcedMoveOrder returns the positions, among the commands server ran, of the first
// contact import (-1 when there is none) and of each forced move, in order.
func importAndForcedMoveOrder(emu *sim.Emulator, server string) (firstImport int, forcedAt []int) {
	GinkgoHelper()
	var cmds map[string][]string
	simAdmin(emu, http.MethodGet, "/commands", &cmds)
	firstImport = -1
	for i, line := range cmds[server] {
		for _, script := range decodedScripts(line) {
			if strings.Contains(script, "/import") && firstImport < 0 {
				firstImport = i
			}
			if strings.Contains(script, "$u.HomeServerDN = $target") && strings.Contains(script, "$force = $true") {
				forcedAt = append(forcedAt, i)
			}
		}
	}
	return firstImport, forcedAt
}
