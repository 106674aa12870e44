package controllers

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
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
		Expect(homing.Spec.Failback).To(Equal(ocsv1.FailbackSpec{Mode: ocsv1.FailbackManual}))
		Expect(homing.Spec.Approval).To(Equal(ocsv1.ApprovalAutomatic))

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
		Expect(files).To(HaveLen(4))
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
			case "ContactRestore":
				obj = &ocsv1.ContactRestore{}
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
			"spec.health.probeInterval", "must be at least 1s"),
		Entry("probe interval under 1s", func(p *ocsv1.OCSPool) {
			p.Spec.Health.ProbeInterval, p.Spec.Health.ProbeTimeout = "999ms", "100ms"
		}, "spec.health.probeInterval", "must be at least 1s"),
		Entry("Basic over plain HTTP in upper case", func(p *ocsv1.OCSPool) {
			p.Spec.Servers[1].WinRM.Endpoint = "HTTP://ocs2.corp.example.com:5985/wsman"
			p.Spec.Servers[1].WinRM.Auth = ocsv1.WinRMAuthBasic
		}, "spec.servers[1].winrm", "allowUnencryptedBasic"),
		Entry("Basic over plain Http in mixed case", func(p *ocsv1.OCSPool) {
			p.Spec.Servers[0].WinRM.Endpoint = "Http://ocs1.corp.example.com:5985/wsman"
			p.Spec.Servers[0].WinRM.Auth = ocsv1.WinRMAuthBasic
		}, "spec.servers[0].winrm", "allowUnencryptedBasic"),
		Entry("endpoint with user info", func(p *ocsv1.OCSPool) {
			p.Spec.Servers[0].WinRM.Endpoint = "https://administrator:Secret1@ocs1.corp.example.com:5986/wsman"
		}, "spec.servers[0].winrm.endpoint", "must not carry user info"),
		Entry("endpoint with a path other than /wsman", func(p *ocsv1.OCSPool) {
			p.Spec.Servers[1].WinRM.Endpoint = "https://ocs2.corp.example.com:5986/powershell"
		}, "spec.servers[1].winrm.endpoint", "path must be /wsman"),
		Entry("endpoint with a query", func(p *ocsv1.OCSPool) {
			p.Spec.Servers[0].WinRM.Endpoint = "https://ocs1.corp.example.com:5986/wsman?x=1"
		}, "spec.servers[0].winrm.endpoint", "path must be /wsman"),
		Entry("service name with a dot, which the agent refuses", func(p *ocsv1.OCSPool) {
			p.Spec.Health.Services = []string{"RtcSrv", "RtcSrv.exe"}
		}, "spec.health.services[1]", "should match"),
		Entry("service name with two instance separators", func(p *ocsv1.OCSPool) {
			p.Spec.Health.Services = []string{"MSSQL$RTC$X"}
		}, "spec.health.services[0]", "should match"),
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
		// spec.failback takes a string or an object: OpenAPI value validations check it (CEL cannot
		// see a node without a type); the controller reports unknown keys (failbackOf).
		Entry("a failback mode that does not exist", func(h *ocsv1.UserHoming) { h.Spec.Failback = ocsv1.FailbackSpec{Mode: "Automatik"} },
			"spec.failback", `supported values: "Automatic", "Manual"`),
		Entry("a failback object with a mode that does not exist", func(h *ocsv1.UserHoming) {
			h.Spec.Failback = ocsv1.FailbackSpec{Mode: "Sometimes", StableFor: "1m"}
		}, "spec.failback.mode", "Unsupported value"),
		Entry("a failback stableFor that is no duration", func(h *ocsv1.UserHoming) {
			h.Spec.Failback = ocsv1.FailbackSpec{Mode: ocsv1.FailbackAutomatic, StableFor: "soon"}
		}, "spec.failback.stableFor", "should match"),
		Entry("unknown approval mode", func(h *ocsv1.UserHoming) { h.Spec.Approval = "Sometimes" },
			"spec.approval", "Unsupported value"),
		Entry("maintenance window without a duration", func(h *ocsv1.UserHoming) {
			h.Spec.MaintenanceWindows = []ocsv1.MaintenanceWindow{{Schedule: "0 22 * * 1-5", Duration: "0s"}}
		}, "spec.maintenanceWindows[0].duration", "must be positive"),
		Entry("pin on a name no server can have", func(h *ocsv1.UserHoming) {
			h.Spec.Pins = []ocsv1.Pin{{User: "sip:alice@corp.example.com", Server: "OCS1.corp"}}
		}, "spec.pins[0].server", "should match"),
		Entry("weight for a name no server can have", func(h *ocsv1.UserHoming) {
			h.Spec.Placement = ocsv1.PlacementWeighted
			h.Spec.Weights = map[string]int32{"ocs1": 1, "OCS 2": 1}
		}, "spec.weights", "must be server names"),
	)

	It("refuses a spec.failback of another kind and accepts both forms", func() {
		create := func(failback any) error {
			u := &unstructured.Unstructured{Object: map[string]any{
				"apiVersion": ocsv1.GroupVersion.String(), "kind": "UserHoming",
				"metadata": map[string]any{"generateName": "failback-", "namespace": ns},
				"spec":     map[string]any{"poolRef": map[string]any{"name": "pool"}, "failback": failback},
			}}
			return k8sClient.Create(testCtx, u)
		}
		for _, bad := range []any{int64(5), true, []any{"Automatic"}, ""} {
			err := create(bad)
			Expect(err).To(HaveOccurred(), "spec.failback: %v was accepted", bad)
			Expect(err.Error()).To(ContainSubstring("spec.failback"))
		}
		for _, good := range []any{"Automatic", "Manual", map[string]any{"mode": "Automatic", "stableFor": "5m"}, map[string]any{"stableFor": "30s"}} {
			Expect(create(good)).To(Succeed(), "spec.failback: %v", good)
		}
	})

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
		Entry("storage path climbing out with ..", func(b *ocsv1.ContactBackup) { b.Spec.Storage.Path = "/var/lib/ocs-ha/backups/../../../etc" },
			"spec.storage.path", "must not contain a .. segment"),
		Entry("storage path ending in ..", func(b *ocsv1.ContactBackup) { b.Spec.Storage.Path = "/var/lib/.." },
			"spec.storage.path", "must not contain a .. segment"),
		Entry("minute 60", func(b *ocsv1.ContactBackup) { b.Spec.Schedule = "60 * * * *" },
			"spec.schedule", "minute (field 1)"),
		Entry("a step of 0", func(b *ocsv1.ContactBackup) { b.Spec.Schedule = "*/0 * * * *" },
			"spec.schedule", "minute (field 1)"),
		Entry("hour 24 in a list", func(b *ocsv1.ContactBackup) { b.Spec.Schedule = "0 8,24 * * *" },
			"spec.schedule", "hour (field 2)"),
		Entry("day of month 0", func(b *ocsv1.ContactBackup) { b.Spec.Schedule = "0 0 0 * *" },
			"spec.schedule", "day of month (field 3)"),
		Entry("day of month 32 in a range", func(b *ocsv1.ContactBackup) { b.Spec.Schedule = "0 0 1-32 * *" },
			"spec.schedule", "day of month (field 3)"),
		Entry("month 13", func(b *ocsv1.ContactBackup) { b.Spec.Schedule = "0 0 1 13 *" },
			"spec.schedule", "month (field 4)"),
		Entry("a month name that is not one", func(b *ocsv1.ContactBackup) { b.Spec.Schedule = "0 0 1 JANUARY *" },
			"spec.schedule", "month (field 4)"),
		Entry("day of week 7", func(b *ocsv1.ContactBackup) { b.Spec.Schedule = "0 0 * * 7" },
			"spec.schedule", "day of week (field 5)"),
		Entry("letters as minutes", func(b *ocsv1.ContactBackup) { b.Spec.Schedule = "ten * * * *" },
			"spec.schedule", "minute (field 1)"),
	)

	It("accepts schedules that use every form of every field, as the controller's parser does", func() {
		for i, schedule := range []string{
			"*/15 * * * *", "0 2 * * 1-5", "30 4 1,15 * *", "0 0 * JAN,jul SUN", "5/10 * ? * ?",
			"0-59/5 0-23/2 1-31 1-12 0-6", "00 08 * * *", "59 23 31 12 6", "0 12 * * mon-FRI", "0 0 1 */3 *",
		} {
			_, err := parseBackupSchedule(schedule, time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC))
			Expect(err).NotTo(HaveOccurred(), schedule)
			b := validBackup(ns)
			b.Name = fmt.Sprintf("backup-%d", i)
			b.Spec.Schedule = schedule
			Expect(k8sClient.Create(testCtx, b)).To(Succeed(), schedule)
		}
	})

	It("accepts Basic over plain http when allowed, a service instance name and a bare endpoint", func() {
		pool := validPool(ns)
		pool.Spec.Servers[0].WinRM.Endpoint = "HTTP://ocs1.corp.example.com:5985/wsman"
		pool.Spec.Servers[0].WinRM.AllowUnencryptedBasic = true
		pool.Spec.Servers[1].WinRM.Endpoint = "https://ocs2.corp.example.com:5986"
		pool.Spec.Health.Services = []string{"RtcSrv", "MSSQL$RTC", "W3SVC"}
		pool.Spec.Health.ProbeInterval = "1s"
		pool.Spec.Health.ProbeTimeout = "1s"
		Expect(k8sClient.Create(testCtx, pool)).To(Succeed())
	})

	Context("reports what the API server cannot see in a condition naming the field", func() {
		// stalledWith waits until obj's Stalled condition is True with reason and a message
		// containing every phrase, for the object's current generation (never left Initializing).
		stalledWith := func(obj statusObject, reason string, phrases ...string) {
			GinkgoHelper()
			Eventually(func(g Gomega) {
				g.Expect(k8sClient.Get(testCtx, client.ObjectKeyFromObject(obj), obj)).To(Succeed())
				cs := obj.GetCommonStatus()
				g.Expect(cs.ObservedGeneration).To(Equal(obj.GetGeneration()))
				stalled := meta.FindStatusCondition(cs.Conditions, ocsv1.ConditionStalled)
				g.Expect(stalled).NotTo(BeNil())
				g.Expect(stalled.Status).To(Equal(metav1.ConditionTrue), conditionsString(cs.Conditions))
				g.Expect(stalled.Reason).To(Equal(reason), stalled.Message)
				for _, p := range phrases {
					g.Expect(stalled.Message).To(ContainSubstring(p))
				}
				g.Expect(cs.Phase).To(Equal("Stalled"))
			}).Should(Succeed())
		}

		It("a schedule whose range runs backwards or that never fires", func() {
			startManager(ns, Options{Agents: StaticProvider{Agent: ocs.NewFake("ocs1", "ocs2")}})
			backwards := validBackup(ns)
			backwards.Spec.Schedule = "30-10 * * * *"
			Expect(k8sClient.Create(testCtx, backwards)).To(Succeed())
			never := validBackup(ns)
			never.Name = "never"
			never.Spec.Schedule = "0 0 30 2 *"
			Expect(k8sClient.Create(testCtx, never)).To(Succeed())
			stalledWith(backwards, ocsv1.ReasonInvalidSchedule, "spec.schedule", "30-10")
			stalledWith(never, ocsv1.ReasonInvalidSchedule, "spec.schedule", "never fires")
		})

		It("pins and weights naming servers the pool does not have, and a user pinned twice in different case", func() {
			fake := ocs.NewFake("ocs1", "ocs2")
			fake.AddUser("sip:alice@corp.example.com", "ocs1")
			startManager(ns, Options{Agents: StaticProvider{Agent: fake}})
			createFakePool(ns, nil)
			homing := createHoming(ns, func(h *ocsv1.UserHoming) {
				h.Spec.Placement = ocsv1.PlacementWeighted
				h.Spec.Weights = map[string]int32{"ocs1": 1, "ocs2": 1, "ocs3": 2}
				h.Spec.Pins = []ocsv1.Pin{
					{User: "sip:alice@corp.example.com", Server: "ocs1"},
					{User: "sip:bob@corp.example.com", Server: "ocs9"},
					{User: "sip:Alice@Corp.example.com", Server: "ocs2"},
				}
			})
			stalledWith(homing, ocsv1.ReasonInvalidSpec, "spec.pins[1].server \"ocs9\" is not a server of OCSPool "+ns+"/pool",
				"spec.pins[2].user", "spec.pins[0]", "spec.weights[ocs3]")

			// Fixed, the condition clears.
			updateObject(homing, func() {
				homing.Spec.Weights = map[string]int32{"ocs1": 1, "ocs2": 1}
				homing.Spec.Pins = homing.Spec.Pins[:1]
			})
			Eventually(func(g Gomega) {
				h := getHoming(g, ns)
				g.Expect(h.Status.ObservedGeneration).To(Equal(h.Generation))
				expectHomingCondition(g, h, ocsv1.ConditionStalled, metav1.ConditionFalse, "")
			}).Should(Succeed())
		})

		It("maintenance on every server at once", func() {
			startManager(ns, Options{Agents: StaticProvider{Agent: ocs.NewFake("ocs1", "ocs2")}})
			pool := fastFakePool(ns)
			pool.Spec.Servers[0].Maintenance = true
			pool.Spec.Servers[1].Maintenance = true
			Expect(k8sClient.Create(testCtx, pool)).To(Succeed())
			stalledWith(pool, ocsv1.ReasonAllServersInMaintenance, "spec.servers[0].maintenance, spec.servers[1].maintenance")

			updateObject(pool, func() { pool.Spec.Servers[1].Maintenance = false })
			Eventually(func(g Gomega) {
				g.Expect(k8sClient.Get(testCtx, client.ObjectKeyFromObject(pool), pool)).To(Succeed())
				g.Expect(pool.Status.ObservedGeneration).To(Equal(pool.Generation))
				g.Expect(isTrue(pool, ocsv1.ConditionStalled)).To(BeFalse(), conditionsString(pool.Status.Conditions))
			}).Should(Succeed())
		})

		It("an endpoint the WinRM transport cannot set up", func() {
			Expect(k8sClient.Create(testCtx, &corev1.Secret{
				ObjectMeta: metav1.ObjectMeta{Name: "creds", Namespace: ns},
				Data:       map[string][]byte{secretKeyUsername: []byte("admin"), secretKeyPassword: []byte("Passw0rd!")},
			})).To(Succeed())
			startManager(ns, Options{})
			pool := validPool(ns)
			// A URL the API's url() accepts and the transport refuses: the port is out of range.
			pool.Spec.Servers[1].WinRM.Endpoint = "https://ocs2.corp.example.com:70000/wsman"
			Expect(k8sClient.Create(testCtx, pool)).To(Succeed())
			stalledWith(pool, ocsv1.ReasonWinRMSetupFailed, "spec.servers[1].winrm", "port")
		})
	})

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
