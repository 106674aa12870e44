package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"sigs.k8s.io/yaml"

	"github.com/ocsha/ocs-ha-operator/test/internal/harness"
)

func homes() map[string]int { return simHomes(env.sim) }

// simHomes counts the users homed on each server of an emulator.
func simHomes(sim *harness.Sim) map[string]int {
	GinkgoHelper()
	count, err := sim.Homes()
	Expect(err).NotTo(HaveOccurred())
	return count
}

// simContacts returns every user's contact list as an emulator's admin API renders it.
func simContacts(sim *harness.Sim) map[string]string {
	GinkgoHelper()
	lists, err := sim.ContactLists()
	Expect(err).NotTo(HaveOccurred())
	return lists
}

// jsonpath reads one field of an object with kubectl.
func jsonpath(resource, path string) string {
	GinkgoHelper()
	return kubectl("get", resource, "-o", "jsonpath={"+path+"}")
}

// recordObject saves the object for the GitOps health tests when OCSHA_RECORD_OBJECTS is set.
func recordObject(resource, name string) {
	GinkgoHelper()
	if os.Getenv("OCSHA_RECORD_OBJECTS") == "" {
		return
	}
	out := kubectl("get", resource, "-o", "json")
	var obj map[string]any
	Expect(json.Unmarshal([]byte(out), &obj)).To(Succeed())
	recordJSON(obj, name)
}

// recordJSON saves an object read as JSON for the GitOps health tests when OCSHA_RECORD_OBJECTS is set.
func recordJSON(obj map[string]any, name string) {
	GinkgoHelper()
	if os.Getenv("OCSHA_RECORD_OBJECTS") == "" {
		return
	}
	meta := obj["metadata"].(map[string]any)
	delete(meta, "managedFields")
	delete(meta, "annotations")
	data, err := yaml.Marshal(obj)
	Expect(err).NotTo(HaveOccurred())
	header := "# Recorded from the e2e run (OCSHA_RECORD_OBJECTS=1 make test).\n"
	path := filepath.Join(env.repo, "test", "gitops", "testdata", name+".yaml")
	Expect(os.WriteFile(path, append([]byte(header), data...), 0o644)).To(Succeed())
}

func waitCondition(resource, cond string) {
	GinkgoHelper()
	kubectl("wait", "--for=condition="+cond, resource, "--timeout=120s")
}

var _ = Describe("The full story", Ordered, Label("e2e"), func() {
	var before map[string]string

	It("installs the CRDs with kubectl", func() {
		installCRDsAndStartManager()
	})

	It("brings the pool up Ready with both servers Healthy", func() {
		kubectl("apply", "-f", render("secrets.yaml", nil))
		kubectl("apply", "-f", render("pool.yaml", nil))
		waitCondition("ocspool/site-a", "Ready")
		Expect(jsonpath("ocspool/site-a", ".status.servers[*].state")).To(Equal("Healthy Healthy"))
		Expect(jsonpath("ocspool/site-a", ".status.homedUsers")).To(Equal("200"))
		recordObject("ocspool/site-a", "ocspool-healthy")
	})

	It("takes a backup", func() {
		kubectl("apply", "-f", render("backup.yaml", nil))
		kubectl("annotate", "--overwrite", "contactbackup/site-a-contacts", "ocs.ocsha.io/backup-now=first")
		kubectl("wait", "--for=jsonpath={.status.lastHandledRequest}=first", "contactbackup/site-a-contacts", "--timeout=120s")
		waitCondition("contactbackup/site-a-contacts", "Ready")
		Expect(jsonpath("contactbackup/site-a-contacts", ".status.snapshots[0].users")).To(Equal("200"))
		recordObject("contactbackup/site-a-contacts", "contactbackup-healthy")
	})

	It("keeps users balanced", func() {
		kubectl("apply", "-f", render("homing.yaml", nil))
		waitCondition("userhoming/site-a", "Ready")
		Expect(homes()).To(Equal(map[string]int{"ocs1": 100, "ocs2": 100}))
		recordObject("userhoming/site-a", "userhoming-healthy")
	})

	It("drains ocs1 for maintenance with every contact intact, then returns it", func() {
		before = simContacts(env.sim)
		reconciling := watchFor("userhoming/site-a", func(obj map[string]any) bool {
			return conditionStatus(obj, "Reconciling") == "True"
		})
		kubectl("patch", "ocspool/site-a", "--type=json", "--patch-file", filepath.Join("testdata", "drain-ocs1.yaml"))
		kubectl("wait", "--for=jsonpath={.status.servers[0].state}=Drained", "ocspool/site-a", "--timeout=120s")
		var during map[string]any
		Eventually(reconciling).Should(Receive(&during), "the UserHoming reports Reconciling=True while the drain runs")
		recordJSON(during, "userhoming-progressing")
		Expect(homes()).To(Equal(map[string]int{"ocs2": 200}))
		Expect(simContacts(env.sim)).To(Equal(before), "a planned move must keep every contact")

		kubectl("patch", "ocspool/site-a", "--type=json", "--patch-file", filepath.Join("testdata", "return-ocs1.yaml"))
		waitCondition("ocspool/site-a", "Ready")
		Eventually(homes).Should(Equal(map[string]int{"ocs1": 100, "ocs2": 100}))
		waitCondition("userhoming/site-a", "Ready")
		Expect(simContacts(env.sim)).To(Equal(before))
	})

	It("fails over from a crashed server and restores contacts from the backup", func() {
		kubectl("annotate", "--overwrite", "contactbackup/site-a-contacts", "ocs.ocsha.io/backup-now=before-crash")
		kubectl("wait", "--for=jsonpath={.status.lastHandledRequest}=before-crash", "contactbackup/site-a-contacts", "--timeout=120s")
		before = simContacts(env.sim)

		simPost("/servers/ocs2/crash")
		kubectl("wait", "--for=jsonpath={.status.servers[1].state}=Unreachable", "ocspool/site-a", "--timeout=60s")
		recordObject("ocspool/site-a", "ocspool-degraded")
		Eventually(func() string { return jsonpath("userhoming/site-a", ".status.lastOperation.type") }).Should(Equal("Failover"))
		Eventually(func() string {
			return jsonpath("userhoming/site-a", ".status.lastOperation.completionTime")
		}).ShouldNot(BeEmpty())
		Expect(homes()).To(Equal(map[string]int{"ocs1": 200}))
		Expect(jsonpath("userhoming/site-a", ".status.lastOperation.forced")).To(Equal("100"))
		Expect(jsonpath("userhoming/site-a", ".status.lastOperation.contactsRestored")).To(Equal("100"))
		Expect(simContacts(env.sim)).To(Equal(before), "every contact of the snapshot restored")
		Expect(jsonpath("userhoming/site-a", `.status.conditions[?(@.type=="Degraded")].status`)).To(Equal("True"))
		recordObject("userhoming/site-a", "userhoming-degraded")
	})

	It("fails back when the server returns (failback Automatic)", func() {
		simPost("/servers/ocs2/start")
		waitCondition("ocspool/site-a", "Ready")
		Eventually(homes).Should(Equal(map[string]int{"ocs1": 100, "ocs2": 100}))
		waitCondition("userhoming/site-a", "Ready")
		Expect(jsonpath("userhoming/site-a", ".status.lastOperation.type")).To(Or(Equal("Failback"), Equal("Rebalance")))
		Expect(simContacts(env.sim)).To(Equal(before), "failback is a planned move: contacts travel")
	})

	It("reports suspend to GitOps tools", func() {
		kubectl("patch", "userhoming/site-a", "--type=merge", "-p", `{"spec":{"suspend":true}}`)
		kubectl("wait", "--for=jsonpath={.status.phase}=Suspended", "userhoming/site-a", "--timeout=60s")
		recordObject("userhoming/site-a", "userhoming-suspended")
		kubectl("patch", "userhoming/site-a", "--type=merge", "-p", `{"spec":{"suspend":false}}`)
		waitCondition("userhoming/site-a", "Ready")
	})

	It("never logged the WinRM password", func() {
		Expect(env.managerLog.String()).NotTo(ContainSubstring(env.simPass))
		Expect(strings.Contains(kubectl("get", "events", "-A", "-o", "yaml"), env.simPass)).To(BeFalse())
		fmt.Fprintln(GinkgoWriter, "manager log lines:", strings.Count(env.managerLog.String(), "\n"))
	})
})

// watchFor watches resource with kubectl and sends the first version for which match holds;
// states that pass in a moment (an operation running) are caught this way, not by polling.
func watchFor(resource string, match func(map[string]any) bool) <-chan map[string]any {
	GinkgoHelper()
	found := make(chan map[string]any, 1)
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, "kubectl", "--kubeconfig", env.kubeconfig, "get", resource, "--watch", "-o", "json")
	stdout, err := cmd.StdoutPipe()
	Expect(err).NotTo(HaveOccurred())
	Expect(cmd.Start()).To(Succeed())
	DeferCleanup(func() {
		cancel()
		_ = cmd.Wait()
	})
	go func() {
		dec := json.NewDecoder(stdout)
		for {
			var obj map[string]any
			if err := dec.Decode(&obj); err != nil {
				return
			}
			if match(obj) {
				found <- obj
				return
			}
		}
	}()
	return found
}

func conditionStatus(obj map[string]any, condType string) string {
	status, _ := obj["status"].(map[string]any)
	conds, _ := status["conditions"].([]any)
	for _, c := range conds {
		if m, ok := c.(map[string]any); ok && m["type"] == condType {
			s, _ := m["status"].(string)
			return s
		}
	}
	return ""
}
