package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// restoresIn lists the ContactRestores of ns.
func restoresIn(g Gomega, ns string) []unstructured.Unstructured {
	list, err := suite.dyn.Resource(restoreGVR).Namespace(ns).List(context.Background(), metav1.ListOptions{})
	g.Expect(err).NotTo(HaveOccurred())
	return list.Items
}

// restoreWithSpec finds the ContactRestore of ns whose spec has key set to value.
func restoreWithSpec(g Gomega, ns, key string, value any) *unstructured.Unstructured {
	for _, u := range restoresIn(g, ns) {
		if spec, _ := u.Object["spec"].(map[string]any); fmt.Sprint(spec[key]) == fmt.Sprint(value) {
			return &u
		}
	}
	return nil
}

func TestRestoreCreatesAContactRestore(t *testing.T) {
	g := requireEnv(t)
	installRestoreCRD(g)
	ns := newNamespace(t, g)
	seedPool(g, ns)

	r := run(ns, "restore", "site-a", "--user", "sip:alice@corp.example.com", "--user", "sip:bob@corp.example.com", "--dry-run")
	g.Expect(r.err).NotTo(HaveOccurred(), r.errOut)
	g.Expect(r.out).To(MatchRegexp(`ContactRestore site-a-restore-[a-z0-9]{5} created: 2 users of OCSPool site-a from the newest snapshot of ContactBackup site-a \(dry run`))
	items := restoresIn(g, ns)
	g.Expect(items).To(HaveLen(1))
	g.Expect(items[0].GetName()).To(HavePrefix("site-a-restore-"))
	g.Expect(r.out).To(ContainSubstring("kubectl ocs restore " + items[0].GetName() + " --wait"))
	g.Expect(items[0].Object["spec"]).To(Equal(map[string]any{
		"backupRef": map[string]any{"name": "site-a"},
		"users":     []any{"sip:alice@corp.example.com", "sip:bob@corp.example.com"},
		"dryRun":    true,
		"mode":      "Merge", // the CRD's default, as for kubectl apply
	}))

	r = run(ns, "restore", "site-a", "--server", "ocs1", "--from", "site-a", "--snapshot", "snap-1", "-o", "json")
	g.Expect(r.err).NotTo(HaveOccurred(), r.errOut)
	created := &unstructured.Unstructured{}
	g.Expect(json.Unmarshal([]byte(r.out), &created.Object)).To(Succeed())
	g.Expect(created.GetKind()).To(Equal("ContactRestore"))
	g.Expect(created.Object["spec"]).To(Equal(map[string]any{
		"backupRef": map[string]any{"name": "site-a"}, "server": "ocs1", "snapshot": "snap-1", "mode": "Merge",
	}))

	// A UserHoming names its pool and the ContactBackup it restores from.
	create(g, homingGVR, ns, `
apiVersion: ocs.ocsha.io/v1alpha1
kind: UserHoming
metadata: {name: site-a-users}
spec:
  poolRef: {name: site-a}
  contactRestore: {backupRef: {name: site-a}}
`)
	r = run(ns, "restore", "site-a-users", "--all", "--snapshot", "latest")
	g.Expect(r.err).NotTo(HaveOccurred(), r.errOut)
	g.Expect(restoreWithSpec(g, ns, "pool", true)).NotTo(BeNil())

	r = run(ns, "restore", "list")
	g.Expect(r.err).NotTo(HaveOccurred(), r.errOut)
	g.Expect(r.out).To(MatchRegexp(`(?m)^site-a-restore-[a-z0-9]{5}\s+-\s+-\s+-`))
	g.Expect(restoresIn(g, ns)).To(HaveLen(3))
}

func TestRestoreRefusesBeforeSending(t *testing.T) {
	g := requireEnv(t)
	installRestoreCRD(g)
	ns := newNamespace(t, g)
	seedPool(g, ns)
	create(g, backupGVR, ns, `
apiVersion: ocs.ocsha.io/v1alpha1
kind: ContactBackup
metadata: {name: site-b}
spec:
  poolRef: {name: site-b}
  storage: {path: /backups}
`)

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"site-a", "--user", "alice@corp.example.com"}, `--user "alice@corp.example.com" is not a SIP URI: did you mean sip:alice@corp.example.com?`},
		{[]string{"site-a", "--from", "site-a"}, "say whom to restore with exactly one of --user sip:… (repeatable), --server <name> or --all"},
		{[]string{"site-a", "--all", "--server", "ocs1"}, "exactly one of"},
		{[]string{"site-a", "--server", "ocs9"}, "--server ocs9 is not a server of OCSPool site-a (it has ocs1, ocs2)"},
		{[]string{"site-a", "--all", "--from", "site-b"}, "ContactBackup site-b backs up OCSPool site-b, not site-a"},
		{[]string{"site-a", "--all", "--from", "gone"}, "no ContactBackup gone in namespace " + ns},
		{[]string{"nope", "--all"}, "no OCSPool or UserHoming nope in namespace " + ns},
		{[]string{"site-a", "--all", "--snapshot", "../etc"}, `--snapshot "../etc" is not a snapshot name`},
		{[]string{"--all"}, "name the pool (or its UserHoming) to restore into"},
		{[]string{"site-a", "--wait"}, "no ContactRestore site-a in namespace " + ns + "; to restore into pool site-a, say whom: --user sip:…, --server <name> or --all"},
	} {
		r := run(ns, append([]string{"restore"}, tc.args...)...)
		g.Expect(r.err).To(MatchError(ContainSubstring(tc.want)), "%v", tc.args)
	}
	g.Expect(restoresIn(g, ns)).To(BeEmpty(), "nothing is created when the request is refused")
}

func TestRestoreWaitFollowsUntilTheEnd(t *testing.T) {
	g := requireEnv(t)
	installRestoreCRD(g)
	ns := newNamespace(t, g)
	seedPool(g, ns)

	for _, tc := range []struct {
		user, final, phase string
		wantOut            string
		wantErr            bool
	}{{
		user: "sip:carol@corp.example.com", phase: "Ready",
		final: `phase: Ready
snapshot: snap-2
completionTime: "2026-03-01T12:01:00Z"
users: {targeted: 1, restored: 1}
conditions:
- ` + condition("Ready", "True", "RestoreCompleted", "Restored from snapshot snap-2: 1 users targeted, 1 restored."),
		wantOut: `(?m)^site-a-restore-[a-z0-9]{5}\s+snap-2\s+1\s+1\s+0\s+0\s+0\s+RestoreCompleted\s+Restored from snapshot snap-2`,
	}, {
		user: "sip:dave@corp.example.com", phase: "Degraded",
		final: `phase: Degraded
snapshot: snap-2
completionTime: "2026-03-01T12:01:00Z"
users: {targeted: 1, failed: 1}
failedUsers: [{user: "sip:dave@corp.example.com", reason: "ocs2 does not serve"}]
conditions:
- ` + condition("Ready", "True", "RestoreCompleted", "1 failed"),
		wantOut: `(?m)^sip:dave@corp.example.com\s+ocs2 does not serve$`,
		wantErr: true,
	}} {
		done := make(chan result, 1)
		go func() { done <- run(ns, "restore", "site-a", "--user", tc.user, "--wait", "--timeout", "30s") }()
		// The test plays the manager: progress first, then the end.
		var name string
		g.Eventually(func(g Gomega) {
			u := restoreWithSpec(g, ns, "users", []any{tc.user})
			g.Expect(u).NotTo(BeNil())
			name = u.GetName()
		}).Should(Succeed())
		setStatus(g, restoreGVR, ns, name, "phase: Restoring\nusers: {targeted: 1}\nconditions:\n- "+condition("Ready", "False", "Restoring", "0 of 1 users settled"))
		setStatus(g, restoreGVR, ns, name, tc.final)
		var res result
		g.Eventually(done).Should(Receive(&res))
		g.Expect(res.out).To(MatchRegexp(tc.wantOut))
		g.Expect(res.errOut).To(ContainSubstring("ContactRestore " + name + " created: " + tc.user))
		g.Expect(res.errOut).To(ContainSubstring("ContactRestore "+name+": "+tc.phase+": 1/1 users settled"), "the last progress line")
		if tc.wantErr {
			g.Expect(res.err).To(MatchError(ContainSubstring("the run failed")))
		} else {
			g.Expect(res.err).NotTo(HaveOccurred(), res.errOut)
		}
		// Following an existing restore shows the same outcome.
		r := run(ns, "restore", name, "--wait", "-o", "json")
		g.Expect(r.out).To(ContainSubstring(`"completionTime": "2026-03-01T12:01:00Z"`))
	}
}
