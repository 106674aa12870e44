package cli

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	ocsv1 "github.com/ocsha/ocs-ha-operator/api/v1alpha1"
)

// seedPool creates site-a, its homing and backup with the status a manager writes mid-drain.
func seedPool(g *WithT, ns string) {
	create(g, poolGVR, ns, poolManifest)
	create(g, homingGVR, ns, homingManifest)
	create(g, backupGVR, ns, backupManifest)
	setStatus(g, poolGVR, ns, "site-a", `
phase: Degraded
servingServers: 1/2
homedUsers: 5000
servers:
- {name: ocs1, state: Draining, homedUsers: 1300, preflight: {result: Passed}}
- {name: ocs2, state: Healthy, homedUsers: 3700, preflight: {result: Passed}}
conditions:
- `+condition("Ready", "False", "ServerNotServing", "ocs1 is draining")+`
- `+condition("Stalled", "False", "AsExpected", "")+`
`)
	setStatus(g, homingGVR, ns, "site-a", `
phase: Draining
totalUsers: 5000
pendingMoves: 1300
servers:
- {name: ocs1, homedUsers: 1300, desiredUsers: 0}
- {name: ocs2, homedUsers: 3700, desiredUsers: 5000}
lastOperation: {type: Drain, id: op-1, startTime: "2026-03-01T11:55:00Z", total: 2500, moved: 1200, step: Moving}
conditions:
- `+condition("Degraded", "True", "MovesFailing", "3 users failed to move")+`
`)
	setStatus(g, backupGVR, ns, "site-a", `
phase: Ready
snapshots:
- {name: snap-2, time: "2026-03-01T11:45:00Z", users: 5000, contacts: 100000, bytes: 1234}
- {name: snap-1, time: "2026-03-01T11:30:00Z", users: 5000, contacts: 99990, bytes: 1200}
conditions:
- `+condition("Verified", "True", "SnapshotVerified", "ok")+`
`)
}

func TestStatusCommand(t *testing.T) {
	g := requireEnv(t)
	ns := newNamespace(t, g)
	seedPool(g, ns)

	r := run(ns, "status", "site-a")
	g.Expect(r.err).NotTo(HaveOccurred(), r.errOut)
	g.Expect(r.out).To(ContainSubstring("OCSPool " + ns + "/site-a (OCS2007R2): Degraded, 1/2 servers serving, 5000 users"))
	g.Expect(r.out).To(MatchRegexp(`(?m)^ocs1\s+Draining\s+off\s+1300\s+0\s+Passed`))
	g.Expect(r.out).To(MatchRegexp(`(?m)^site-a\s+Draining\s+5000\s+1300\s+Drain \(running\)\s+Moving\s+1200/2500\s+0\s+0\s+0\s+5m$`))
	g.Expect(r.out).To(MatchRegexp(`(?m)^site-a\s+Ready\s+snap-2\s+15m\s+5000\s+100000\s+True`))
	g.Expect(r.out).To(MatchRegexp(`(?m)^UserHoming/site-a\s+Degraded\s+MovesFailing\s+3 users failed to move`))

	r = run(ns, "status", "site-a", "-o", "json")
	g.Expect(r.err).NotTo(HaveOccurred(), r.errOut)
	var rep StatusReport
	g.Expect(json.Unmarshal([]byte(r.out), &rep)).To(Succeed())
	g.Expect(rep.Servers).To(HaveLen(2))
	g.Expect(rep.Homings[0].Operation.Progress).To(Equal("1200/2500"))
	g.Expect(rep.Backups[0].Age).To(Equal("15m"))
	g.Expect(rep.Attention).To(ConsistOf(AttentionItem{Object: "UserHoming/site-a", Condition: "Degraded", Reason: "MovesFailing", Message: "3 users failed to move"}))

	r = run(ns, "status", "site-a", "-o", "yaml")
	g.Expect(r.err).NotTo(HaveOccurred(), r.errOut)
	rep = StatusReport{}
	g.Expect(yaml.Unmarshal([]byte(r.out), &rep)).To(Succeed())
	g.Expect(rep.Pool).To(Equal("site-a"))

	r = run(ns, "status")
	g.Expect(r.err).NotTo(HaveOccurred(), r.errOut)
	g.Expect(r.out).To(MatchRegexp(`(?m)^` + ns + `\s+site-a\s+Degraded\s+1/2\s+5000\s+Drain \(running\)\s+1200/2500\s+15m\s+1$`))

	r = run(ns, "status", "-A", "-o", "json")
	g.Expect(r.err).NotTo(HaveOccurred(), r.errOut)
	var all []PoolSummary
	g.Expect(json.Unmarshal([]byte(r.out), &all)).To(Succeed())
	g.Expect(all).To(ContainElement(HaveField("Namespace", ns)))

	r = run(ns, "status", "nope")
	g.Expect(r.err).To(MatchError(ContainSubstring(`reading OCSPool ` + ns + `/nope`)))
	r = run(ns, "status", "site-a", "-o", "wide")
	g.Expect(r.err).To(MatchError(ContainSubstring(`unknown output format "wide"`)))
}

func maintenanceOf(g *WithT, ns string) map[string]bool {
	var pool ocsv1.OCSPool
	g.Expect(fromUnstructured(get(g, poolGVR, ns, "site-a"), &pool)).To(Succeed())
	out := map[string]bool{}
	for _, s := range pool.Spec.Servers {
		out[s.Name] = s.Maintenance
	}
	return out
}

func TestMaintenanceCommand(t *testing.T) {
	g := requireEnv(t)
	ns := newNamespace(t, g)
	seedPool(g, ns)

	r := run(ns, "maintenance", "on", "site-a", "ocs2")
	g.Expect(r.err).NotTo(HaveOccurred(), r.errOut)
	g.Expect(r.out).To(ContainSubstring("server ocs2 maintenance on"))
	// ocs1 is Draining in the seeded status: the admin is told where the users go.
	g.Expect(r.errOut).To(ContainSubstring("Warning: ocs1 not Healthy"))
	g.Expect(maintenanceOf(g, ns)).To(Equal(map[string]bool{"ocs1": false, "ocs2": true}))

	r = run(ns, "maintenance", "on", "site-a", "ocs2")
	g.Expect(r.err).NotTo(HaveOccurred(), r.errOut)
	g.Expect(r.out).To(ContainSubstring("already on"))

	r = run(ns, "maintenance", "on", "site-a", "ocs1")
	g.Expect(r.err).To(MatchError(ContainSubstring("last server out of maintenance")))
	g.Expect(maintenanceOf(g, ns)).To(Equal(map[string]bool{"ocs1": false, "ocs2": true}))

	r = run(ns, "maintenance", "on", "site-a", "ocs9")
	g.Expect(r.err).To(MatchError(ContainSubstring(`unknown server "ocs9": OCSPool site-a has ocs1, ocs2`)))

	r = run(ns, "maintenance", "maybe", "site-a", "ocs1")
	g.Expect(r.err).To(MatchError(ContainSubstring(`on or off, not "maybe"`)))

	r = run(ns, "maintenance", "off", "site-a", "ocs2", "-o", "json")
	g.Expect(r.err).NotTo(HaveOccurred(), r.errOut)
	u := &unstructured.Unstructured{}
	g.Expect(json.Unmarshal([]byte(r.out), &u.Object)).To(Succeed())
	g.Expect(u.GetKind()).To(Equal("OCSPool"))
	g.Expect(maintenanceOf(g, ns)).To(Equal(map[string]bool{"ocs1": false, "ocs2": false}))
}

func TestApproveCommand(t *testing.T) {
	g := requireEnv(t)
	ns := newNamespace(t, g)
	seedPool(g, ns)

	r := run(ns, "approve", "site-a")
	g.Expect(r.err).To(MatchError(ContainSubstring("no proposal to approve")))

	setStatus(g, homingGVR, ns, "site-a", `
phase: Ready
proposal:
  id: p-7f3a
  operation: Failback
  moves: [{from: ocs2, to: ocs1, users: 2500}]
  estimatedDuration: 4m
  contacts: 50000
  createdTime: "2026-03-01T11:58:00Z"
`)
	r = run(ns, "status", "site-a")
	g.Expect(r.err).NotTo(HaveOccurred(), r.errOut)
	g.Expect(r.out).To(MatchRegexp(`(?m)^UserHoming/site-a\s+ProposalPending\s+Failback\s+Failback proposal p-7f3a waits for approval \(2500 users: ocs2→ocs1 2500, about 4m\): kubectl ocs approve site-a`))

	r = run(ns, "approve", "site-a")
	g.Expect(r.err).NotTo(HaveOccurred(), r.errOut)
	g.Expect(r.out).To(ContainSubstring("approved Failback proposal p-7f3a"))
	g.Expect(r.out).To(MatchRegexp(`(?m)^ocs2\s+ocs1\s+2500$`))
	g.Expect(approvedProposalOf(get(g, homingGVR, ns, "site-a"))).To(Equal("p-7f3a"))

	r = run(ns, "approve", "site-a", "-o", "json")
	g.Expect(r.err).NotTo(HaveOccurred(), r.errOut)
	g.Expect(r.out).To(ContainSubstring(`"approvedProposal": "p-7f3a"`))

	r = run(ns, "status", "site-a", "-o", "json")
	var rep StatusReport
	g.Expect(json.Unmarshal([]byte(r.out), &rep)).To(Succeed())
	g.Expect(rep.Attention).NotTo(ContainElement(HaveField("Condition", conditionProposalPending)))
	g.Expect(rep.Homings[0].Proposal.Contacts).To(Equal("50000"))
}

func TestBackupAndVerifyCommands(t *testing.T) {
	g := requireEnv(t)
	ns := newNamespace(t, g)
	seedPool(g, ns)
	stamp := testNow.Format("2006-01-02T15:04:05Z07:00")

	r := run(ns, "backup", "site-a")
	g.Expect(r.err).NotTo(HaveOccurred(), r.errOut)
	g.Expect(r.out).To(ContainSubstring("requested ocs.ocsha.io/backup-now=" + stamp))
	g.Expect(get(g, backupGVR, ns, "site-a").GetAnnotations()).To(HaveKeyWithValue(ocsv1.AnnotationBackupNow, stamp))

	for _, tc := range []struct {
		cmd, statusField, want string
	}{
		{"backup", "lastHandledRequest", `(?m)^snap-3\s+2026-03-01T12:00:01Z\s+5000\s+100001\s+99\s+-$`},
		{"verify", "lastHandledVerifyRequest", `(?m)^True\s+SnapshotVerified\s+snap-3\s+every object matched$`},
	} {
		done := make(chan result, 1)
		go func() { done <- run(ns, tc.cmd, "site-a", "--wait", "--timeout", "30s") }()
		// The test plays the manager: it answers the request it sees.
		g.Eventually(func(g Gomega) {
			g.Expect(get(NewWithT(t), backupGVR, ns, "site-a").GetAnnotations()).To(HaveKeyWithValue("ocs.ocsha.io/"+tc.cmd+"-now", stamp))
		}).Should(Succeed())
		setStatus(g, backupGVR, ns, "site-a", tc.statusField+`: "`+stamp+`"
lastVerifiedSnapshot: snap-3
snapshots:
- {name: snap-3, time: "2026-03-01T12:00:01Z", users: 5000, contacts: 100001, bytes: 99}
conditions:
- `+condition("Ready", "True", "BackupSucceeded", "ok")+`
- `+condition("Verified", "True", "SnapshotVerified", "every object matched"))
		var res result
		g.Eventually(done).Should(Receive(&res))
		g.Expect(res.err).NotTo(HaveOccurred(), res.errOut)
		g.Expect(res.out).To(MatchRegexp(tc.want))
	}

	r = run(ns, "verify", "site-a", "-o", "yaml")
	g.Expect(r.err).NotTo(HaveOccurred(), r.errOut)
	g.Expect(r.out).To(ContainSubstring("ocs.ocsha.io/verify-now: \"" + stamp + "\""))

	r = run(ns, "backup", "missing")
	g.Expect(r.err).To(MatchError(ContainSubstring("setting ocs.ocsha.io/backup-now on ContactBackup " + ns + "/missing")))
}

func TestRestoreCommand(t *testing.T) {
	g := requireEnv(t)
	ns := newNamespace(t, g)

	r := run(ns, "restore")
	g.Expect(r.err).To(MatchError(ContainSubstring("the ContactRestore API is not installed in this cluster")))

	installRestoreCRD(g)
	g.Eventually(func(g Gomega) {
		r := run(ns, "restore")
		g.Expect(r.err).NotTo(HaveOccurred())
		g.Expect(r.out).To(ContainSubstring("No ContactRestore in namespace " + ns))
	}).Should(Succeed())

	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "ocs.ocsha.io/v1alpha1", "kind": "ContactRestore",
		"metadata": map[string]any{"name": "after-crash"},
		"spec":     map[string]any{"backupRef": map[string]any{"name": "site-a-contacts"}, "pool": true},
	}}
	_, err := suite.dyn.Resource(restoreGVR).Namespace(ns).Create(context.Background(), u, metav1.CreateOptions{})
	g.Expect(err).NotTo(HaveOccurred())
	setStatus(g, restoreGVR, ns, "after-crash", "phase: Restoring\nconditions:\n- "+condition("Ready", "False", "Restoring", "1200 of 2500 users"))

	r = run(ns, "restore")
	g.Expect(r.err).NotTo(HaveOccurred(), r.errOut)
	g.Expect(r.out).To(MatchRegexp(`(?m)^after-crash\s+Restoring\s+False\s+Restoring\s+1200 of 2500 users$`))
	r = run(ns, "restore", "after-crash", "-o", "json")
	g.Expect(r.err).NotTo(HaveOccurred(), r.errOut)
	g.Expect(r.out).To(ContainSubstring(`"kind": "ContactRestore"`))
}

func TestCommandsNeedTheirArguments(t *testing.T) {
	g := requireEnv(t)
	for _, args := range [][]string{{"approve"}, {"maintenance", "on", "site-a"}, {"backup"}, {"report"}} {
		r := run("default", args...)
		g.Expect(r.err).To(HaveOccurred(), strings.Join(args, " "))
	}
}
