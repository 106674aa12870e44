package e2e

import (
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// The NTLM run: the same story against a second emulator that, like a Windows listener on a
// domain, offers only NTLM and refuses unencrypted bodies over HTTP, with the double hop
// enforced (the emulator's default). An NTLM logon holds no credentials for the domain
// controller, so the pool must say so by name, and nothing may move or be lost. It has its own
// namespace and emulator, so it does not disturb the full story whichever runs first.
var _ = Describe("The story over NTLM", Ordered, Label("e2e"), func() {
	const ns = "ntlm"
	var (
		before    map[string]string
		homed     map[string]int
		ntlmUsers = 40
	)

	adminPost := func(path string) {
		GinkgoHelper()
		Expect(env.ntlmSim.Post(path)).To(Succeed())
	}
	homesNow := func() map[string]int { return simHomes(env.ntlmSim) }
	contacts := func() map[string]string { return simContacts(env.ntlmSim) }
	field := func(resource, path string) string {
		GinkgoHelper()
		return kubectl("get", "-n", ns, resource, "-o", "jsonpath={"+path+"}")
	}
	stalledReason := func() string { return field("ocspool/site-a", `.status.conditions[?(@.type=="Stalled")].reason`) }

	BeforeAll(func() {
		installCRDsAndStartManager()
		base := freeConsecutivePorts(2)
		ca := filepath.Join(env.work, "ocs-sim-ntlm-ca.crt")
		env.ntlmSim = runEmulator(
			"--servers", "ocs1,ocs2", "--users", fmt.Sprint(ntlmUsers), "--contacts-per-user", "5",
			"--base-port", fmt.Sprint(base),
			"--username", env.simUser, "--password", env.simPass,
			"--auth", "ntlm", "--domain", "CORP", "--allow-unencrypted=false",
			"--tls", "--cert-out", ca)
		pem, err := os.ReadFile(ca)
		Expect(err).NotTo(HaveOccurred())
		values := map[string]string{
			"SIM_ENDPOINT_1":  fmt.Sprintf("https://127.0.0.1:%d/wsman", base),
			"SIM_ENDPOINT_2":  fmt.Sprintf("https://127.0.0.1:%d/wsman", base+1),
			"SIM_CA_INDENTED": indent(string(pem), "    "),
			"AUTH":            "NTLM",
			"BACKUP_DIR":      filepath.Join(env.work, "backups-ntlm"),
		}
		_, _ = kubectlErr("create", "namespace", ns)
		for _, f := range []string{"secrets.yaml", "pool.yaml", "backup.yaml"} {
			kubectl("apply", "-n", ns, "-f", renderAs("ntlm-"+f, f, values))
		}
		homed, before = homesNow(), contacts()
	})

	It("reports the second hop it cannot make by name, with both servers Healthy", func() {
		Expect(kubectl("get", "secret", "-n", ns, "ocs-winrm-credentials", "-o", "jsonpath={.data.username}")).
			To(Equal(base64.StdEncoding.EncodeToString([]byte(`CORP\` + env.simUser))))
		Eventually(stalledReason).Should(Equal("DirectoryAccessDenied"))
		Expect(field("ocspool/site-a", ".status.servers[*].state")).To(Equal("Healthy Healthy"))
		msg := field("ocspool/site-a", `.status.conditions[?(@.type=="Stalled")].message`)
		Expect(msg).To(And(ContainSubstring("winrm.auth is NTLM"), ContainSubstring("CredSSP"), ContainSubstring("Enable-WSManCredSSP")))
		Expect(field("ocspool/site-a", `.status.conditions[?(@.type=="Ready")].reason`)).To(Equal("DirectoryAccessDenied"))
		Expect(kubectl("get", "events", "-n", ns, "--field-selector", "reason=DirectoryAccessDenied", "-o", "name")).NotTo(BeEmpty())
	})

	It("backs up the contacts: the servers' own databases need no second hop", func() {
		kubectl("annotate", "-n", ns, "--overwrite", "contactbackup/site-a-contacts", "ocs.ocsha.io/backup-now=ntlm")
		kubectl("wait", "-n", ns, "--for=jsonpath={.status.lastHandledRequest}=ntlm", "contactbackup/site-a-contacts", "--timeout=120s")
		Expect(field("contactbackup/site-a-contacts", ".status.snapshots[0].users")).To(Equal(fmt.Sprint(ntlmUsers)))
	})

	It("moves nobody on a drain or a crash, and loses nothing", func() {
		kubectl("apply", "-n", ns, "-f", render("homing.yaml", nil))
		// The servers' preflight found the refusal: the homing holds them and says why.
		Eventually(func() string {
			return field("userhoming/site-a", `.status.conditions[?(@.type=="Ready")].message`)
		}).Should(ContainSubstring("DirectoryAccessDenied"))

		kubectl("patch", "-n", ns, "ocspool/site-a", "--type=json", "--patch-file", filepath.Join("testdata", "drain-ocs1.yaml"))
		adminPost("/servers/ocs2/crash")
		kubectl("wait", "-n", ns, "--for=jsonpath={.status.servers[1].state}=Unreachable", "ocspool/site-a", "--timeout=60s")
		// Longer than the failover delay (3s) and several homing passes: a forced move would show.
		Consistently(homesNow).WithTimeout(8 * time.Second).WithPolling(500 * time.Millisecond).Should(Equal(homed))
		Expect(field("userhoming/site-a", ".status.lastOperation.moved")).To(BeElementOf("", "0"))

		adminPost("/servers/ocs2/start")
		kubectl("patch", "-n", ns, "ocspool/site-a", "--type=json", "--patch-file", filepath.Join("testdata", "return-ocs1.yaml"))
		Eventually(func() string { return field("ocspool/site-a", ".status.servers[*].state") }).Should(Equal("Healthy Healthy"))
		Expect(homesNow()).To(Equal(homed))
		Expect(contacts()).To(Equal(before), "nothing moved, so every contact stays where it was")
		Expect(stalledReason()).To(Equal("DirectoryAccessDenied"), "the pool still names the missing second hop")
	})

	It("never logged the WinRM password", func() {
		Expect(env.managerLog.String()).NotTo(ContainSubstring(env.simPass))
		Expect(strings.Contains(kubectl("get", "events", "-n", ns, "-o", "yaml"), env.simPass)).To(BeFalse())
	})
})
