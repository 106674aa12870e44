package controllers

import (
	"io"
	"os"
	"os/exec"
	"path/filepath"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	ocsv1 "github.com/ocsha/ocs-ha-operator/api/v1alpha1"
	"github.com/ocsha/ocs-ha-operator/internal/ocs"
)

func validPool(ns string) *ocsv1.OCSPool {
	server := func(name string) ocsv1.ServerSpec {
		return ocsv1.ServerSpec{
			Name: name,
			FQDN: name + ".corp.example.com",
			WinRM: ocsv1.WinRMSpec{
				Endpoint:             "https://" + name + ".corp.example.com:5986/wsman",
				CredentialsSecretRef: ocsv1.LocalObjectReference{Name: "creds"},
			},
		}
	}
	return &ocsv1.OCSPool{
		ObjectMeta: metav1.ObjectMeta{Name: "pool", Namespace: ns},
		Spec:       ocsv1.OCSPoolSpec{Servers: []ocsv1.ServerSpec{server("ocs1"), server("ocs2")}},
	}
}

func validHoming(ns string) *ocsv1.UserHoming {
	return &ocsv1.UserHoming{
		ObjectMeta: metav1.ObjectMeta{Name: "homing", Namespace: ns},
		Spec:       ocsv1.UserHomingSpec{PoolRef: ocsv1.PoolReference{Name: "pool"}},
	}
}

func validBackup(ns string) *ocsv1.ContactBackup {
	return &ocsv1.ContactBackup{
		ObjectMeta: metav1.ObjectMeta{Name: "backup", Namespace: ns},
		Spec: ocsv1.ContactBackupSpec{
			PoolRef: ocsv1.PoolReference{Name: "pool"},
			Storage: ocsv1.StorageSpec{Path: "/var/lib/ocs-ha/backups"},
		},
	}
}

// expectRefused creates obj and expects the API server to refuse it with an error naming field.
func expectRefused(obj client.Object, field, phrase string) {
	err := k8sClient.Create(testCtx, obj)
	Expect(err).To(HaveOccurred(), "the API server accepted an invalid %T", obj)
	Expect(err.Error()).To(ContainSubstring(field), "the error must name the field")
	Expect(err.Error()).To(ContainSubstring(phrase))
}

var _ = Describe("API validation", func() {
	var ns string
	BeforeEach(func() { ns = newNamespace() })

	It("accepts the minimal objects and fills in the defaults", func() {
		pool := validPool(ns)
		Expect(k8sClient.Create(testCtx, pool)).To(Succeed())
		Expect(pool.Spec.Product).To(Equal(ocsv1.ProductOCS2007R2))
		Expect(pool.Spec.Health.ProbeInterval).To(Equal("10s"))
		Expect(pool.Spec.Health.ProbeTimeout).To(Equal("5s"))
		Expect(pool.Spec.Health.FailureThreshold).To(Equal(int32(3)))
		Expect(pool.Spec.Servers[0].WinRM.Auth).To(Equal(ocsv1.WinRMAuthCredSSP))
		Expect(pool.Spec.Tools.LcscmdPath).To(Equal(`%CommonProgramFiles%\Microsoft Office Communications Server 2007 R2\lcscmd.exe`))
		Expect(pool.Spec.Tools.DBImpExpPath).To(Equal(`%CommonProgramFiles%\Microsoft Office Communications Server 2007 R2\Support\DBImpExp.exe`))
		for _, p := range []string{pool.Spec.Tools.LcscmdPath, pool.Spec.Tools.DBImpExpPath} {
			Expect(ocs.ValidateToolPath(p)).To(Succeed(), "the agent refuses a default the API gives")
		}

		homing := validHoming(ns)
		Expect(k8sClient.Create(testCtx, homing)).To(Succeed())
		Expect(homing.Spec.Placement).To(Equal(ocsv1.PlacementBalanced))
		Expect(homing.Spec.MaxImbalancePercent).To(Equal(int32(5)))
		Expect(homing.Spec.MoveBatchSize).To(Equal(int32(100)))
		Expect(homing.Spec.Failover.Mode).To(Equal(ocsv1.FailoverAutomatic))
		Expect(homing.Spec.Failover.Delay).To(Equal("60s"))
		Expect(homing.Spec.Failback).To(Equal(ocsv1.FailbackManual))

		backup := validBackup(ns)
		Expect(k8sClient.Create(testCtx, backup)).To(Succeed())
		Expect(backup.Spec.Schedule).To(Equal("*/15 * * * *"))
		Expect(backup.Spec.Retention.KeepLast).To(Equal(int32(10)))
		Expect(backup.Spec.IncludeConfiguration).To(Equal(ptr.To(true)))
	})

	It("accepts the default auth, CredSSP, over plain http://: it encrypts every message", func() {
		pool := validPool(ns)
		for i := range pool.Spec.Servers {
			pool.Spec.Servers[i].WinRM.Endpoint = "http://" + pool.Spec.Servers[i].FQDN + ":5985/wsman"
		}
		Expect(k8sClient.Create(testCtx, pool)).To(Succeed())
		Expect(pool.Spec.Servers[1].WinRM.Auth).To(Equal(ocsv1.WinRMAuthCredSSP))
	})

	It("accepts every sample in config/samples", func() {
		files, err := filepath.Glob(filepath.Join("..", "config", "samples", "*.yaml"))
		Expect(err).NotTo(HaveOccurred())
		Expect(files).To(HaveLen(3))
		for _, f := range files {
			data, err := os.ReadFile(f)
			Expect(err).NotTo(HaveOccurred())
			var typeMeta metav1.TypeMeta
			Expect(yaml.Unmarshal(data, &typeMeta)).To(Succeed())
			var obj client.Object
			switch typeMeta.Kind {
			case "OCSPool":
				obj = &ocsv1.OCSPool{}
			case "UserHoming":
				obj = &ocsv1.UserHoming{}
			case "ContactBackup":
				obj = &ocsv1.ContactBackup{}
			default:
				Fail("unexpected kind in " + f)
			}
			Expect(yaml.UnmarshalStrict(data, obj)).To(Succeed(), f)
			obj.SetNamespace(ns)
			Expect(k8sClient.Create(testCtx, obj)).To(Succeed(), f)
		}
	})

	It("accepts config/samples with kubectl apply --dry-run=server", func() {
		kubectl := testEnv.ControlPlane.KubeCtl()
		stdout, stderr, err := kubectl.Run("apply", "--dry-run=server", "-n", ns, "-f", filepath.Join("..", "config", "samples"))
		out, _ := io.ReadAll(stdout)
		errOut, _ := io.ReadAll(stderr)
		Expect(err).NotTo(HaveOccurred(), string(errOut))
		Expect(string(out)).To(ContainSubstring("ocspool.ocs.ocsha.io/site-a created (server dry run)"))
	})

	It("renders config/default with kustomize", func() {
		out, err := exec.Command("kubectl", "kustomize", filepath.Join("..", "config", "default")).CombinedOutput()
		Expect(err).NotTo(HaveOccurred(), string(out))
		Expect(string(out)).To(ContainSubstring("kind: CustomResourceDefinition"))
		Expect(string(out)).To(ContainSubstring("kind: Deployment"))
	})

	DescribeTable("refuses an invalid OCSPool, naming the field",
		func(mutate func(*ocsv1.OCSPool), field, phrase string) {
			pool := validPool(ns)
			mutate(pool)
			expectRefused(pool, field, phrase)
		},
		Entry("a bare tool name", func(p *ocsv1.OCSPool) { p.Spec.Tools.DBImpExpPath = "dbimpexp.exe" },
			"spec.tools.dbimpexpPath", "must be an absolute Windows path"),
		Entry("a quote in a tool path", func(p *ocsv1.OCSPool) { p.Spec.Tools.LcscmdPath = `C:\OCS"\lcscmd.exe` },
			"spec.tools.lcscmdPath", "no quotes"),
		Entry("an ampersand in a tool path", func(p *ocsv1.OCSPool) { p.Spec.Tools.DBImpExpPath = `C:\a&calc\DBImpExp.exe` },
			"spec.tools.dbimpexpPath", "must be an absolute Windows path"),
		Entry("a tool that is not an .exe", func(p *ocsv1.OCSPool) { p.Spec.Tools.LcscmdPath = `C:\OCS\lcscmd.cmd` },
			"spec.tools.lcscmdPath", "must be an absolute Windows path"),
		Entry("one server", func(p *ocsv1.OCSPool) { p.Spec.Servers = p.Spec.Servers[:1] },
			"spec.servers", "at least 2 items"),
		Entry("seventeen servers", func(p *ocsv1.OCSPool) {
			for i := 0; len(p.Spec.Servers) < 17; i++ {
				s := p.Spec.Servers[0]
				s.Name = "extra" + string(rune('a'+i))
				s.FQDN = s.Name + ".corp.example.com"
				p.Spec.Servers = append(p.Spec.Servers, s)
			}
		}, "spec.servers", "must have at most 16 items"),
		Entry("duplicate server names", func(p *ocsv1.OCSPool) {
			p.Spec.Servers[1].Name = p.Spec.Servers[0].Name
		}, "spec.servers[1]", "Duplicate value"),
		Entry("duplicate fqdn", func(p *ocsv1.OCSPool) {
			p.Spec.Servers[1].FQDN = "OCS1.corp.example.com"
		}, "spec", "spec.servers[].fqdn must be unique"),
		Entry("fqdn not a DNS name", func(p *ocsv1.OCSPool) { p.Spec.Servers[0].FQDN = "ocs1 corp" },
			"spec.servers[0].fqdn", "should match"),
		Entry("endpoint not an http(s) URL", func(p *ocsv1.OCSPool) {
			p.Spec.Servers[0].WinRM.Endpoint = "ftp://ocs1.corp.example.com/wsman"
		}, "spec.servers[0].winrm.endpoint", "must be an http(s) URL"),
		Entry("unknown auth scheme", func(p *ocsv1.OCSPool) { p.Spec.Servers[0].WinRM.Auth = "Kerberos" },
			"spec.servers[0].winrm.auth", "Unsupported value"),
		Entry("Basic over plain http", func(p *ocsv1.OCSPool) {
			p.Spec.Servers[0].WinRM.Endpoint = "http://ocs1.corp.example.com:5985/wsman"
			p.Spec.Servers[0].WinRM.Auth = ocsv1.WinRMAuthBasic
		}, "spec.servers[0].winrm", "allowUnencryptedBasic"),
		Entry("unknown product", func(p *ocsv1.OCSPool) { p.Spec.Product = "Lync2010" },
			"spec.product", "Unsupported value"),
		Entry("zero probe interval", func(p *ocsv1.OCSPool) { p.Spec.Health.ProbeInterval = "0s" },
			"spec.health.probeInterval", "must be positive"),
		Entry("probe interval not a duration", func(p *ocsv1.OCSPool) { p.Spec.Health.ProbeInterval = "ten seconds" },
			"spec.health.probeInterval", "should match"),
		Entry("probe timeout above the interval", func(p *ocsv1.OCSPool) {
			p.Spec.Health.ProbeInterval, p.Spec.Health.ProbeTimeout = "5s", "10s"
		}, "spec.health", "probeTimeout must not exceed"),
		Entry("failure threshold 0", func(p *ocsv1.OCSPool) {
			p.Spec.Health.ProbeInterval = "10s"
			p.Spec.Health.FailureThreshold = -1
		}, "spec.health.failureThreshold", "greater than or equal to 1"),
		Entry("missing credentials secret name", func(p *ocsv1.OCSPool) {
			p.Spec.Servers[0].WinRM.CredentialsSecretRef.Name = ""
		}, "spec.servers[0].winrm.credentialsSecretRef.name", "at least 1 chars"),
	)

	DescribeTable("refuses an invalid UserHoming, naming the field",
		func(mutate func(*ocsv1.UserHoming), field, phrase string) {
			homing := validHoming(ns)
			mutate(homing)
			expectRefused(homing, field, phrase)
		},
		Entry("no poolRef", func(h *ocsv1.UserHoming) { h.Spec.PoolRef.Name = "" },
			"spec.poolRef.name", "at least 1 chars"),
		Entry("batch size 0", func(h *ocsv1.UserHoming) { h.Spec.MoveBatchSize = -5 },
			"spec.moveBatchSize", "greater than or equal to 1"),
		Entry("batch size 1001", func(h *ocsv1.UserHoming) { h.Spec.MoveBatchSize = 1001 },
			"spec.moveBatchSize", "less than or equal to 1000"),
		Entry("pin without sip:", func(h *ocsv1.UserHoming) {
			h.Spec.Pins = []ocsv1.Pin{{User: "alice@corp.example.com", Server: "ocs1"}}
		}, "spec.pins[0].user", "should match"),
		Entry("pin with two @", func(h *ocsv1.UserHoming) {
			h.Spec.Pins = []ocsv1.Pin{{User: "sip:alice@bob@corp.example.com", Server: "ocs1"}}
		}, "spec.pins[0].user", "should match"),
		Entry("negative weight", func(h *ocsv1.UserHoming) {
			h.Spec.Placement = ocsv1.PlacementWeighted
			h.Spec.Weights = map[string]int32{"ocs1": 2, "ocs2": -1}
		}, "spec.weights", "must be >= 0"),
		Entry("weighted without weights", func(h *ocsv1.UserHoming) { h.Spec.Placement = ocsv1.PlacementWeighted },
			"spec", "spec.weights is required"),
		Entry("negative failover delay", func(h *ocsv1.UserHoming) { h.Spec.Failover.Delay = "-5s" },
			"spec.failover.delay", "should match"),
		Entry("imbalance above 100%", func(h *ocsv1.UserHoming) { h.Spec.MaxImbalancePercent = 101 },
			"spec.maxImbalancePercent", "less than or equal to 100"),
		Entry("unknown failback mode", func(h *ocsv1.UserHoming) { h.Spec.Failback = "Sometimes" },
			"spec.failback", "Unsupported value"),
	)

	DescribeTable("refuses an invalid ContactBackup, naming the field",
		func(mutate func(*ocsv1.ContactBackup), field, phrase string) {
			backup := validBackup(ns)
			mutate(backup)
			expectRefused(backup, field, phrase)
		},
		Entry("keepLast 0", func(b *ocsv1.ContactBackup) { b.Spec.Retention.KeepLast = -1 },
			"spec.retention.keepLast", "greater than or equal to 1"),
		Entry("schedule with three fields", func(b *ocsv1.ContactBackup) { b.Spec.Schedule = "0 * *" },
			"spec.schedule", "should match"),
		Entry("relative storage path", func(b *ocsv1.ContactBackup) { b.Spec.Storage.Path = "backups" },
			"spec.storage.path", "should match"),
		Entry("zero maxAge", func(b *ocsv1.ContactBackup) { b.Spec.Retention.MaxAge = "0h" },
			"spec.retention.maxAge", "must be positive"),
		Entry("no poolRef", func(b *ocsv1.ContactBackup) { b.Spec.PoolRef.Name = "" },
			"spec.poolRef.name", "at least 1 chars"),
	)

	It("refuses a change of spec.product", func() {
		pool := validPool(ns)
		Expect(k8sClient.Create(testCtx, pool)).To(Succeed())
		expectUpdateRefused(pool, func() { pool.Spec.Product = ocsv1.ProductSkypeForBusiness }, "spec.product", "immutable")
	})

	It("refuses a change of spec.poolRef", func() {
		homing := validHoming(ns)
		Expect(k8sClient.Create(testCtx, homing)).To(Succeed())
		expectUpdateRefused(homing, func() { homing.Spec.PoolRef.Name = "other" }, "spec.poolRef", "immutable")

		backup := validBackup(ns)
		Expect(k8sClient.Create(testCtx, backup)).To(Succeed())
		expectUpdateRefused(backup, func() { backup.Spec.PoolRef.Name = "other" }, "spec.poolRef", "immutable")
	})
})

// expectUpdateRefused re-reads obj, applies mutate and updates it until the API server answers
// with something other than a conflict (the controllers write status meanwhile), then expects
// a refusal naming field.
func expectUpdateRefused(obj client.Object, mutate func(), field, phrase string) {
	var err error
	Eventually(func(g Gomega) {
		g.Expect(k8sClient.Get(testCtx, client.ObjectKeyFromObject(obj), obj)).To(Succeed())
		mutate()
		err = k8sClient.Update(testCtx, obj)
		g.Expect(apierrors.IsConflict(err)).To(BeFalse())
	}).Should(Succeed())
	Expect(err).To(HaveOccurred())
	Expect(err.Error()).To(ContainSubstring(field))
	Expect(err.Error()).To(ContainSubstring(phrase))
}
