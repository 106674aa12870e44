package e2e

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/ocsha/ocs-ha-operator/internal/backup/s3test"
	"github.com/ocsha/ocs-ha-operator/test/internal/harness"
)

// The S3 story: the backups of a pool go to a bucket of a real S3 server (versitygw, built and
// started by the test), retention deletes objects there, a restore drill re-reads a snapshot and
// round-trips a canary, and the failover after a crash restores contacts from the bucket, with
// the manager killed while it runs. It has its own namespace and emulator, so it does not
// disturb the other stories whichever runs first.
var _ = Describe("The story with S3 storage", Ordered, Label("e2e"), func() {
	const (
		ns       = "s3"
		bucket   = "ocs-backups"
		users    = 60
		perUser  = 5
		canary   = "sip:user0001@corp.example.com"
		changing = "sip:user0002@corp.example.com"
	)
	var (
		srv      *s3test.Server
		emulator *harness.Sim
		before   map[string]string
	)
	repoPrefix := "ocs/site-a/" + ns + "/site-a-contacts/"

	adminDo := func(method, path, body string) {
		GinkgoHelper()
		Expect(emulator.Do(method, path, body)).To(Succeed())
	}
	homesNow := func() map[string]int { return simHomes(emulator) }
	lists := func() map[string]string { return simContacts(emulator) }
	get := func(resource, path string) string {
		GinkgoHelper()
		return kubectl("get", "-n", ns, resource, "-o", "jsonpath={"+path+"}")
	}
	backupNow := func(token string) {
		GinkgoHelper()
		kubectl("annotate", "-n", ns, "--overwrite", "contactbackup/site-a-contacts", "ocs.ocsha.io/backup-now="+token)
		kubectl("wait", "-n", ns, "--for=jsonpath={.status.lastHandledRequest}="+token, "contactbackup/site-a-contacts", "--timeout=120s")
		kubectl("wait", "-n", ns, "--for=condition=Reconciling=False", "contactbackup/site-a-contacts", "--timeout=120s")
	}
	keys := func(under string) map[string]bool {
		GinkgoHelper()
		out := map[string]bool{}
		for _, k := range srv.Keys(GinkgoT(), bucket, repoPrefix+under) {
			out[k] = true
		}
		return out
	}

	BeforeAll(func() {
		installCRDsAndStartManager()
		By("starting versitygw with a POSIX backend and creating the bucket")
		srv = s3test.Start(GinkgoT())
		srv.CreateBucket(GinkgoT(), bucket, false)

		By("starting an emulator whose imports take long enough to kill the manager during a failover")
		base := freeConsecutivePorts(2)
		ca := filepath.Join(env.work, "ocs-sim-s3-ca.crt")
		emulator = runEmulator(
			"--servers", "ocs1,ocs2", "--users", fmt.Sprint(users), "--contacts-per-user", fmt.Sprint(perUser),
			"--base-port", fmt.Sprint(base),
			"--username", env.simUser, "--password", env.simPass, "--import-cost", "150ms",
			"--tls", "--cert-out", ca)
		DeferCleanup(emulator.Stop)
		pem, err := os.ReadFile(ca)
		Expect(err).NotTo(HaveOccurred())
		values := map[string]string{
			"SIM_ENDPOINT_1":       fmt.Sprintf("https://127.0.0.1:%d/wsman", base),
			"SIM_ENDPOINT_2":       fmt.Sprintf("https://127.0.0.1:%d/wsman", base+1),
			"SIM_CA_INDENTED":      indent(string(pem), "    "),
			"S3_ENDPOINT":          srv.Endpoint,
			"S3_BUCKET":            bucket,
			"S3_ACCESS_KEY_ID":     srv.AccessKeyID,
			"S3_SECRET_ACCESS_KEY": srv.SecretAccessKey,
			"CANARY":               canary,
		}
		_, _ = kubectlErr("create", "namespace", ns)
		for _, f := range []string{"secrets.yaml", "pool.yaml", "backup-s3.yaml"} {
			kubectl("apply", "-n", ns, "-f", renderAs("s3-"+f, f, values))
		}
	})

	It("brings the pool up Ready with both servers Healthy", func() {
		kubectl("wait", "-n", ns, "--for=condition=Ready", "ocspool/site-a", "--timeout=120s")
		Expect(get("ocspool/site-a", ".status.servers[*].state")).To(Equal("Healthy Healthy"))
		kubectl("apply", "-n", ns, "-f", render("homing.yaml", nil))
		kubectl("wait", "-n", ns, "--for=condition=Ready", "userhoming/site-a", "--timeout=120s")
		Eventually(homesNow).WithTimeout(60 * time.Second).Should(Equal(map[string]int{"ocs1": users / 2, "ocs2": users / 2}))
	})

	It("backs up into the bucket, and retention deletes objects there", func() {
		backupNow("1")
		kubectl("wait", "-n", ns, "--for=condition=Ready", "contactbackup/site-a-contacts", "--timeout=60s")
		Expect(get("contactbackup/site-a-contacts", ".status.snapshots[0].users")).To(Equal(fmt.Sprint(users)))
		firstBlobs, firstManifests := keys("blobs/"), keys("snapshots/")
		Expect(firstManifests).To(HaveLen(1))
		Expect(get("contactbackup/site-a-contacts", ".status.store.objects")).To(Equal(fmt.Sprint(len(firstBlobs) + 1)))

		// Each run changes one user's list: the first snapshot's copy of it is then referenced
		// by no kept snapshot once retention (keepLast 2) drops that snapshot.
		for i, token := range []string{"2", "3"} {
			adminDo(http.MethodPut, harness.UserPath(changing)+"/contacts", fmt.Sprintf(
				`{"groups":[],"containers":[],"contacts":[{"buddy":"new%d@corp.example.com","subscribePresence":true,"groups":[]}]}`, i))
			backupNow(token)
		}
		Expect(strings.Fields(get("contactbackup/site-a-contacts", ".status.snapshots[*].name"))).To(HaveLen(2))
		manifests := keys("snapshots/")
		Expect(manifests).To(HaveLen(2), "retention kept two manifests in the bucket")
		for k := range firstManifests {
			Expect(manifests).NotTo(HaveKey(k), "the first snapshot's manifest was deleted from the bucket")
		}
		blobs := keys("blobs/")
		var deleted []string
		for k := range firstBlobs {
			if !blobs[k] {
				deleted = append(deleted, k)
			}
		}
		Expect(deleted).NotTo(BeEmpty(), "the blobs only the first snapshot used were deleted from the bucket")
		Expect(kubectl("get", "events", "-n", ns, "--field-selector", "reason=SnapshotsPruned", "-o", "name")).NotTo(BeEmpty())
		Expect(get("contactbackup/site-a-contacts", ".status.store.deduplicationRatio")).NotTo(BeEmpty())
	})

	It("verifies the newest snapshot and round-trips the canary through the emulator", func() {
		kubectl("annotate", "-n", ns, "--overwrite", "contactbackup/site-a-contacts", "ocs.ocsha.io/verify-now=1")
		kubectl("wait", "-n", ns, "--for=jsonpath={.status.lastHandledVerifyRequest}=1", "contactbackup/site-a-contacts", "--timeout=120s")
		kubectl("wait", "-n", ns, "--for=condition=Verified", "contactbackup/site-a-contacts", "--timeout=60s")
		Expect(get("contactbackup/site-a-contacts", `.status.conditions[?(@.type=="Verified")].message`)).To(ContainSubstring("read back intact"))
		Expect(get("contactbackup/site-a-contacts", ".status.lastVerifiedSnapshot")).To(Equal(get("contactbackup/site-a-contacts", ".status.snapshots[0].name")))
	})

	It("fails over from a crashed server with the manager killed in the middle, restoring contacts from S3", func() {
		backupNow("before-crash")
		before = lists()

		adminDo(http.MethodPost, "/servers/ocs2/crash", "")
		By("killing the manager while the failover runs")
		Eventually(func(g Gomega) {
			g.Expect(get("userhoming/site-a", ".status.lastOperation.type")).To(Equal("Failover"))
			g.Expect(get("userhoming/site-a", ".status.lastOperation.completionTime")).To(BeEmpty())
		}).WithPolling(100 * time.Millisecond).Should(Succeed())
		env.manager.Kill()
		Expect(get("userhoming/site-a", ".status.lastOperation.completionTime")).To(BeEmpty(), "the manager died before the failover completed")
		earlier := env.managerLog.String()
		startManager()
		// The password check of the other stories reads this buffer: it must hold every line.
		_, _ = env.managerLog.Write([]byte(earlier))

		By("the restarted manager completing the failover")
		Eventually(func() string { return get("userhoming/site-a", ".status.lastOperation.completionTime") }).ShouldNot(BeEmpty())
		Expect(homesNow()).To(Equal(map[string]int{"ocs1": users}))
		Expect(lists()).To(Equal(before), "every contact of the snapshot in the bucket restored")
		Expect(get("userhoming/site-a", ".status.lastOperation.forced")).To(Equal(fmt.Sprint(users / 2)))
	})

	It("never logged the S3 secret key or the WinRM password", func() {
		for _, secret := range []string{srv.SecretAccessKey, env.simPass} {
			Expect(env.managerLog.String()).NotTo(ContainSubstring(secret))
			Expect(kubectl("get", "events", "-n", ns, "-o", "yaml")).NotTo(ContainSubstring(secret))
			Expect(kubectl("get", "contactbackup", "-n", ns, "-o", "yaml")).NotTo(ContainSubstring(secret))
		}
	})
})
