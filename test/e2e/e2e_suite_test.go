package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/ocsha/ocs-ha-operator/test/internal/harness"
)

// env is what the suite started; every spec reads it.
var env struct {
	repo       string
	work       string
	kubeconfig string
	control    *harness.ControlPlane
	bins       harness.Binaries
	sim        *harness.Sim
	ntlmSim    *harness.Sim // the emulator of the NTLM run, nil until it starts
	simUser    string
	simPass    string
	simCA      string
	endpoints  [2]string
	manager    *harness.Process
	managerLog *harness.SyncBuffer
}

func TestE2E(t *testing.T) {
	RegisterFailHandler(Fail)
	SetDefaultEventuallyTimeout(2 * time.Minute)
	SetDefaultEventuallyPollingInterval(250 * time.Millisecond)
	RunSpecs(t, "End-to-end Suite", Label("e2e"))
}

var _ = BeforeSuite(func() {
	var err error
	env.repo, err = filepath.Abs(filepath.Join("..", ".."))
	Expect(err).NotTo(HaveOccurred())
	env.work = GinkgoT().TempDir()

	By("building the manager and the emulator")
	env.bins, err = harness.Build(env.repo, filepath.Join(env.work, "bin"))
	Expect(err).NotTo(HaveOccurred())

	By("starting kube-apiserver and etcd")
	env.control, err = harness.StartControlPlane(env.work)
	Expect(err).NotTo(HaveOccurred())
	env.kubeconfig = env.control.Kubeconfig

	By("starting the emulator: 2 servers, 200 users, 10 contacts each, HTTPS, the double hop enforced (its default)")
	startEmulator()
})

var _ = AfterSuite(func() {
	env.manager.Stop()
	env.sim.Stop()
	env.ntlmSim.Stop()
	Expect(env.control.Stop()).To(Succeed())
})

func startEmulator() {
	base := freeConsecutivePorts(2)
	env.simUser, env.simPass = "ocsadmin", "e2e-Pa55-"+fmt.Sprint(time.Now().UnixNano())
	env.simCA = filepath.Join(env.work, "ocs-sim-ca.crt")
	env.endpoints = [2]string{
		fmt.Sprintf("https://127.0.0.1:%d/wsman", base),
		fmt.Sprintf("https://127.0.0.1:%d/wsman", base+1),
	}
	env.sim = runEmulator(
		"--servers", "ocs1,ocs2", "--users", "200", "--contacts-per-user", "10",
		"--base-port", fmt.Sprint(base),
		"--username", env.simUser, "--password", env.simPass,
		"--tls", "--cert-out", env.simCA)
}

// runEmulator starts the emulator binary with args (its admin API on a free port) and returns
// once it printed its ready line.
func runEmulator(args ...string) *harness.Sim {
	GinkgoHelper()
	sim, err := harness.StartSim(GinkgoWriter, env.bins.Sim, freePort(), args...)
	Expect(err).NotTo(HaveOccurred())
	return sim
}

// installCRDsAndStartManager installs the CRDs and starts the manager, once, for whichever
// Describe runs first (Ginkgo shuffles top-level containers).
func installCRDsAndStartManager() {
	GinkgoHelper()
	if env.manager != nil {
		return
	}
	kubectl("apply", "--server-side", "-f", filepath.Join(env.repo, "config", "crd", "bases"))
	kubectl("wait", "--for=condition=Established", "crd", "--all", "--timeout=60s")
	startManager()
}

// startManager runs the manager binary against the API server, as a separate process.
func startManager() {
	GinkgoHelper()
	var err error
	env.manager, err = harness.Start(GinkgoWriter, []string{"KUBECONFIG=" + env.kubeconfig}, env.bins.Manager,
		"--metrics-bind-address=0", "--health-probe-bind-address=0", "--zap-log-level=info")
	Expect(err).NotTo(HaveOccurred())
	env.managerLog = env.manager.Log
}

// kubectl runs kubectl against the suite's API server and returns its standard output.
func kubectl(args ...string) string {
	GinkgoHelper()
	out, err := kubectlErr(args...)
	Expect(err).NotTo(HaveOccurred(), out)
	return out
}

func kubectlErr(args ...string) (string, error) { return harness.Kubectl(env.kubeconfig, args...) }

// render fills a testdata template with the suite's values and writes it to a file for kubectl.
func render(name string, values map[string]string) string {
	GinkgoHelper()
	return renderAs(name, name, values)
}

// renderAs is render writing to the file out (in the suite's work directory).
func renderAs(out, name string, values map[string]string) string {
	GinkgoHelper()
	ca, err := os.ReadFile(env.simCA)
	Expect(err).NotTo(HaveOccurred())
	all := map[string]string{
		// The domain account CredSSP logs on and delegates; the Secret's username is a
		// double-quoted YAML string, so its backslash is escaped.
		"SIM_USERNAME":    `CORP\\` + env.simUser,
		"SIM_PASSWORD":    env.simPass,
		"SIM_ENDPOINT_1":  env.endpoints[0],
		"SIM_ENDPOINT_2":  env.endpoints[1],
		"SIM_CA_INDENTED": indent(string(ca), "    "),
		"AUTH":            "CredSSP",
		"BACKUP_DIR":      filepath.Join(env.work, "backups"),
	}
	for k, v := range values {
		all[k] = v
	}
	path := filepath.Join(env.work, out)
	Expect(harness.Render(filepath.Join("testdata", name), path, all)).To(Succeed())
	return path
}

func indent(s, prefix string) string { return harness.Indent(s, prefix) }

// simGet decodes a JSON answer of the emulator's admin API.
func simGet(path string, into any) {
	GinkgoHelper()
	Expect(env.sim.Get(path, into)).To(Succeed())
}

func simPost(path string) {
	GinkgoHelper()
	Expect(env.sim.Post(path)).To(Succeed())
}

func freePort() int {
	GinkgoHelper()
	port, err := harness.FreePort()
	Expect(err).NotTo(HaveOccurred())
	return port
}

// freeConsecutivePorts finds n free consecutive ports: the emulator gives server i base+i.
func freeConsecutivePorts(n int) int {
	GinkgoHelper()
	base, err := harness.FreeConsecutivePorts(n)
	Expect(err).NotTo(HaveOccurred())
	return base
}
