package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// env is what the suite started; every spec reads it.
var env struct {
	repo       string
	work       string
	kubeconfig string
	control    *envtest.Environment
	simCmd     *exec.Cmd
	ntlmSimCmd *exec.Cmd // the emulator of the NTLM run, nil until it starts
	simAdmin   string
	simUser    string
	simPass    string
	simCA      string
	endpoints  [2]string
	manager    *exec.Cmd
	managerLog *syncBuffer
	binDir     string
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
	env.binDir = filepath.Join(env.work, "bin")

	By("building the manager and the emulator")
	for _, b := range [][2]string{{"manager", "."}, {"ocs-sim", "./hack/ocs-sim"}} {
		cmd := exec.Command("go", "build", "-o", filepath.Join(env.binDir, b[0]), b[1])
		cmd.Dir = env.repo
		out, err := cmd.CombinedOutput()
		Expect(err).NotTo(HaveOccurred(), string(out))
	}

	By("starting kube-apiserver and etcd")
	env.control = &envtest.Environment{}
	cfg, err := env.control.Start()
	Expect(err).NotTo(HaveOccurred(), "is KUBEBUILDER_ASSETS set? `make test` sets it")
	admin, err := env.control.AddUser(envtest.User{Name: "e2e-admin", Groups: []string{"system:masters"}}, cfg)
	Expect(err).NotTo(HaveOccurred())
	kc, err := admin.KubeConfig()
	Expect(err).NotTo(HaveOccurred())
	env.kubeconfig = filepath.Join(env.work, "kubeconfig")
	Expect(os.WriteFile(env.kubeconfig, kc, 0o600)).To(Succeed())

	By("starting the emulator: 2 servers, 200 users, 10 contacts each, HTTPS, the double hop enforced (its default)")
	startEmulator()
})

var _ = AfterSuite(func() {
	stopProcess(env.manager)
	stopProcess(env.simCmd)
	stopProcess(env.ntlmSimCmd)
	if env.control != nil {
		Expect(env.control.Stop()).To(Succeed())
	}
})

func startEmulator() {
	base := freeConsecutivePorts(2)
	adminPort := freePort()
	env.simAdmin = fmt.Sprintf("http://127.0.0.1:%d", adminPort)
	env.simUser, env.simPass = "ocsadmin", "e2e-Pa55-"+fmt.Sprint(time.Now().UnixNano())
	env.simCA = filepath.Join(env.work, "ocs-sim-ca.crt")
	env.endpoints = [2]string{
		fmt.Sprintf("https://127.0.0.1:%d/wsman", base),
		fmt.Sprintf("https://127.0.0.1:%d/wsman", base+1),
	}
	env.simCmd = runEmulator(
		"--servers", "ocs1,ocs2", "--users", "200", "--contacts-per-user", "10",
		"--base-port", fmt.Sprint(base), "--admin", fmt.Sprintf("127.0.0.1:%d", adminPort),
		"--username", env.simUser, "--password", env.simPass,
		"--tls", "--cert-out", env.simCA)
}

// runEmulator starts the emulator binary with args and returns once it printed its ready line.
func runEmulator(args ...string) *exec.Cmd {
	GinkgoHelper()
	cmd := exec.Command(filepath.Join(env.binDir, "ocs-sim"), args...)
	stdout, err := cmd.StdoutPipe()
	Expect(err).NotTo(HaveOccurred())
	cmd.Stderr = GinkgoWriter
	Expect(cmd.Start()).To(Succeed())
	ready := make(chan struct{})
	go func() {
		buf := make([]byte, 4096)
		var seen strings.Builder
		for {
			n, err := stdout.Read(buf)
			seen.Write(buf[:n])
			if strings.Contains(seen.String(), "ocs-sim ready") {
				close(ready)
				_, _ = io.Copy(GinkgoWriter, stdout)
				return
			}
			if err != nil {
				return
			}
		}
	}()
	Eventually(ready).WithTimeout(30 * time.Second).Should(BeClosed())
	return cmd
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
	env.managerLog = &syncBuffer{}
	cmd := exec.Command(filepath.Join(env.binDir, "manager"),
		"--metrics-bind-address=0", "--health-probe-bind-address=0", "--zap-log-level=info")
	cmd.Env = append(os.Environ(), "KUBECONFIG="+env.kubeconfig)
	cmd.Stdout = io.MultiWriter(env.managerLog, GinkgoWriter)
	cmd.Stderr = cmd.Stdout
	Expect(cmd.Start()).To(Succeed())
	env.manager = cmd
}

func stopProcess(cmd *exec.Cmd) {
	if cmd == nil || cmd.Process == nil {
		return
	}
	_ = cmd.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		_ = cmd.Process.Kill()
		<-done
	}
}

// kubectl runs kubectl against the suite's API server and returns its standard output.
func kubectl(args ...string) string {
	GinkgoHelper()
	out, err := kubectlErr(args...)
	Expect(err).NotTo(HaveOccurred(), out)
	return out
}

func kubectlErr(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "kubectl", append([]string{"--kubeconfig", env.kubeconfig}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if err != nil {
		return stdout.String() + stderr.String(), err
	}
	return stdout.String(), nil
}

// render fills a testdata template with the suite's values and writes it to a file for kubectl.
func render(name string, values map[string]string) string {
	GinkgoHelper()
	return renderAs(name, name, values)
}

// renderAs is render writing to the file out (in the suite's work directory).
func renderAs(out, name string, values map[string]string) string {
	GinkgoHelper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	Expect(err).NotTo(HaveOccurred())
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
	text := string(data)
	for k, v := range all {
		text = strings.ReplaceAll(text, "@"+k+"@", v)
	}
	Expect(text).NotTo(MatchRegexp(`@[A-Z_0-9]+@`), "unfilled placeholder in "+name)
	path := filepath.Join(env.work, out)
	Expect(os.WriteFile(path, []byte(text), 0o600)).To(Succeed())
	return path
}

func indent(s, prefix string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i := range lines {
		lines[i] = prefix + lines[i]
	}
	return strings.Join(lines, "\n")
}

// simGet decodes a JSON answer of the emulator's admin API.
func simGet(path string, into any) {
	GinkgoHelper()
	resp, err := http.Get(env.simAdmin + path)
	Expect(err).NotTo(HaveOccurred())
	defer resp.Body.Close()
	Expect(resp.StatusCode).To(Equal(http.StatusOK), path)
	Expect(json.NewDecoder(resp.Body).Decode(into)).To(Succeed())
}

func simPost(path string) {
	GinkgoHelper()
	resp, err := http.Post(env.simAdmin+path, "application/json", nil)
	Expect(err).NotTo(HaveOccurred())
	_ = resp.Body.Close()
	Expect(resp.StatusCode).To(BeNumerically("<", 300), path)
}

func freePort() int {
	GinkgoHelper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	Expect(err).NotTo(HaveOccurred())
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// freeConsecutivePorts finds n free consecutive ports: the emulator gives server i base+i.
func freeConsecutivePorts(n int) int {
	GinkgoHelper()
	for attempt := 0; attempt < 50; attempt++ {
		base := freePort()
		ok := true
		for i := 1; i < n && ok; i++ {
			l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", base+i))
			if err != nil {
				ok = false
				continue
			}
			_ = l.Close()
		}
		if ok {
			return base
		}
	}
	Fail("no free consecutive ports")
	return 0
}

// syncBuffer collects a process's output while tests read it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
