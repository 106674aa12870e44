package e2e

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// The NTLM run: a second emulator that, like a Windows listener holding domain accounts, offers
// only NTLM (Basic cannot log a domain account on) and refuses unencrypted bodies over HTTP; the
// pool reaches it over HTTPS as CORP\ocsadmin. It has its own namespace and emulator, so it does
// not disturb the full story whichever runs first.
var _ = Describe("The story over NTLM", Ordered, Label("e2e"), func() {
	const ns = "ntlm"
	var (
		admin     string
		before    map[string]string
		ntlmUsers = 40
	)

	adminGet := func(path string, into any) {
		GinkgoHelper()
		resp, err := http.Get(admin + path)
		Expect(err).NotTo(HaveOccurred())
		defer resp.Body.Close()
		Expect(resp.StatusCode).To(Equal(http.StatusOK), path)
		Expect(json.NewDecoder(resp.Body).Decode(into)).To(Succeed())
	}
	users := func() []simUser {
		GinkgoHelper()
		var out []simUser
		adminGet("/users", &out)
		return out
	}
	homesNow := func() map[string]int {
		GinkgoHelper()
		count := map[string]int{}
		for _, u := range users() {
			count[u.Home]++
		}
		return count
	}
	contacts := func() map[string]string {
		GinkgoHelper()
		out := map[string]string{}
		for _, u := range users() {
			var list map[string]any
			adminGet("/users/"+u.SIP, &list)
			delete(list, "home")
			b, err := json.Marshal(list)
			Expect(err).NotTo(HaveOccurred())
			out[u.SIP] = string(b)
		}
		return out
	}

	BeforeAll(func() {
		installCRDsAndStartManager()
		base := freeConsecutivePorts(2)
		adminPort := freePort()
		admin = fmt.Sprintf("http://127.0.0.1:%d", adminPort)
		ca := filepath.Join(env.work, "ocs-sim-ntlm-ca.crt")
		env.ntlmSimCmd = runEmulator(
			"--servers", "ocs1,ocs2", "--users", fmt.Sprint(ntlmUsers), "--contacts-per-user", "5",
			"--base-port", fmt.Sprint(base), "--admin", fmt.Sprintf("127.0.0.1:%d", adminPort),
			"--username", env.simUser, "--password", env.simPass,
			"--auth", "ntlm", "--domain", "CORP", "--allow-unencrypted=false",
			"--tls", "--cert-out", ca)
		pem, err := os.ReadFile(ca)
		Expect(err).NotTo(HaveOccurred())
		values := map[string]string{
			// The Secret's username is a double-quoted YAML string: its backslash is escaped.
			"SIM_USERNAME":    `CORP\\` + env.simUser,
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
	})

	It("brings the pool up Ready with both servers Healthy", func() {
		Expect(kubectl("get", "secret", "-n", ns, "ocs-winrm-credentials", "-o", "jsonpath={.data.username}")).
			To(Equal(base64.StdEncoding.EncodeToString([]byte(`CORP\` + env.simUser))))
		kubectl("wait", "-n", ns, "--for=condition=Ready", "ocspool/site-a", "--timeout=120s")
		Expect(kubectl("get", "-n", ns, "ocspool/site-a", "-o", "jsonpath={.status.servers[*].state}")).To(Equal("Healthy Healthy"))
	})

	It("drains ocs1 and returns it with every contact intact", func() {
		kubectl("apply", "-n", ns, "-f", render("homing.yaml", nil))
		kubectl("wait", "-n", ns, "--for=condition=Ready", "userhoming/site-a", "--timeout=120s")
		Eventually(homesNow).WithTimeout(60 * time.Second).Should(Equal(map[string]int{"ocs1": ntlmUsers / 2, "ocs2": ntlmUsers / 2}))
		before = contacts()

		kubectl("patch", "-n", ns, "ocspool/site-a", "--type=json", "--patch-file", filepath.Join("testdata", "drain-ocs1.yaml"))
		kubectl("wait", "-n", ns, "--for=jsonpath={.status.servers[0].state}=Drained", "ocspool/site-a", "--timeout=120s")
		Expect(homesNow()).To(Equal(map[string]int{"ocs2": ntlmUsers}))
		Expect(contacts()).To(Equal(before), "a planned move over NTLM must keep every contact")

		kubectl("patch", "-n", ns, "ocspool/site-a", "--type=json", "--patch-file", filepath.Join("testdata", "return-ocs1.yaml"))
		kubectl("wait", "-n", ns, "--for=condition=Ready", "ocspool/site-a", "--timeout=120s")
		Eventually(homesNow).WithTimeout(60 * time.Second).Should(Equal(map[string]int{"ocs1": ntlmUsers / 2, "ocs2": ntlmUsers / 2}))
		Expect(contacts()).To(Equal(before))
	})

	It("never logged the WinRM password", func() {
		Expect(env.managerLog.String()).NotTo(ContainSubstring(env.simPass))
		Expect(strings.Contains(kubectl("get", "events", "-n", ns, "-o", "yaml"), env.simPass)).To(BeFalse())
	})
})
