package faults

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	ocsv1 "github.com/ocsha/ocs-ha-operator/api/v1alpha1"
	"github.com/ocsha/ocs-ha-operator/test/internal/harness"
)

const (
	simUser     = "ocsadmin"
	pool        = "site"
	contactsPer = 5
)

// siteOptions shape one scenario's site; zero values take the defaults of newSite.
type siteOptions struct {
	servers  []string // default ocs1, ocs2
	users    int      // default 40, spread evenly
	simArgs  []string // cost flags and the like
	failback ocsv1.FailbackSpec
}

// site is one scenario's world: a namespace, an emulator, the pool's objects and its managers.
type site struct {
	ns        string
	sim       *harness.Sim
	password  string
	servers   []string
	users     int
	backupDir string
	managers  []*harness.Process
}

// newSite starts an emulator on free ports and creates, in a namespace of its own, the
// credentials (one Secret per server), the OCSPool, a ContactBackup and a UserHoming. No
// manager runs yet.
func newSite(o siteOptions) *site {
	GinkgoHelper()
	if o.servers == nil {
		o.servers = []string{"ocs1", "ocs2"}
	}
	if o.users == 0 {
		o.users = 40
	}
	s := &site{ns: fmt.Sprintf("faults-%d", time.Now().UnixNano()%1e9), servers: o.servers, users: o.users,
		password: fmt.Sprintf("Pa55-%d", time.Now().UnixNano()), backupDir: filepath.Join(GinkgoT().TempDir(), "backups")}
	ca := filepath.Join(GinkgoT().TempDir(), "ca.crt")
	args := append([]string{"--servers", strings.Join(o.servers, ","), "--users", fmt.Sprint(o.users),
		"--contacts-per-user", fmt.Sprint(contactsPer), "--base-port", "0", "--username", simUser, "--password", s.password,
		"--tls", "--cert-out", ca}, o.simArgs...)
	port, err := harness.FreePort()
	Expect(err).NotTo(HaveOccurred())
	s.sim, err = harness.StartSim(GinkgoWriter, suite.bins.Sim, port, args...)
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(s.sim.Stop)
	pem, err := os.ReadFile(ca)
	Expect(err).NotTo(HaveOccurred())
	create(&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: s.ns}})
	create(&corev1.Secret{ObjectMeta: s.meta("ca"), StringData: map[string]string{"ca.crt": string(pem)}})
	for _, name := range o.servers {
		create(&corev1.Secret{ObjectMeta: s.meta("creds-" + name),
			StringData: map[string]string{"username": `CORP\` + simUser, "password": s.password}})
	}
	create(s.pool())
	create(&ocsv1.ContactBackup{ObjectMeta: s.meta("contacts"), Spec: ocsv1.ContactBackupSpec{
		PoolRef: ocsv1.PoolReference{Name: pool}, Schedule: "0 0 1 1 *", Retention: ocsv1.RetentionSpec{KeepLast: 5},
		Storage: ocsv1.StorageSpec{Path: s.backupDir}}})
	create(homing(s.meta("homing"), o.failback))
	return s
}

func (s *site) meta(name string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: name, Namespace: s.ns}
}

// pool is the site's OCSPool: fast probes, the emulator's endpoints and CA, CredSSP.
func (s *site) pool() *ocsv1.OCSPool {
	GinkgoHelper()
	endpoints, err := s.sim.Endpoints()
	Expect(err).NotTo(HaveOccurred())
	p := &ocsv1.OCSPool{ObjectMeta: s.meta(pool), Spec: ocsv1.OCSPoolSpec{
		Health: ocsv1.HealthSpec{ProbeInterval: "2s", ProbeTimeout: "2s", FailureThreshold: 2}}}
	for _, name := range s.servers {
		p.Spec.Servers = append(p.Spec.Servers, ocsv1.ServerSpec{Name: name, FQDN: name + ".corp.example.com",
			WinRM: ocsv1.WinRMSpec{Endpoint: endpoints[name], Auth: ocsv1.WinRMAuthCredSSP,
				CredentialsSecretRef: ocsv1.LocalObjectReference{Name: "creds-" + name},
				CASecretRef:          &ocsv1.LocalObjectReference{Name: "ca"}}})
	}
	return p
}

// homing is a Balanced UserHoming of the pool: failover after 2 s, small batches (many status
// writes, so a failover has many observable points), contacts restored from the site's backup.
func homing(meta metav1.ObjectMeta, failback ocsv1.FailbackSpec) *ocsv1.UserHoming {
	if failback.Mode == "" {
		failback.Mode = ocsv1.FailbackManual
	}
	return &ocsv1.UserHoming{ObjectMeta: meta, Spec: ocsv1.UserHomingSpec{
		PoolRef: ocsv1.PoolReference{Name: pool}, Placement: ocsv1.PlacementBalanced, MaxImbalancePercent: 5,
		MoveBatchSize: 2, Failover: ocsv1.FailoverSpec{Mode: ocsv1.FailoverAutomatic, Delay: "2s"}, Failback: failback,
		ContactRestore: ocsv1.ContactRestoreSpec{BackupRef: &ocsv1.LocalObjectReference{Name: "contacts"}}}}
}

func create(obj client.Object) {
	GinkgoHelper()
	Expect(suite.k8s.Create(context.Background(), obj)).To(Succeed())
}

// startManager runs one more manager binary watching the site's namespace; extra flags such as
// --leader-elect are appended.
func (s *site) startManager(extra ...string) *harness.Process {
	GinkgoHelper()
	args := append([]string{"--metrics-bind-address=0", "--health-probe-bind-address=0", "--zap-log-level=info",
		"--watch-namespaces=" + s.ns}, extra...)
	m, err := harness.Start(GinkgoWriter, []string{"KUBECONFIG=" + suite.control.Kubeconfig}, suite.bins.Manager, args...)
	Expect(err).NotTo(HaveOccurred())
	s.managers = append(s.managers, m)
	DeferCleanup(m.Stop)
	return m
}

// settle waits until the pool is Ready and the users are balanced, then takes a backup and
// returns every contact list as it is now.
func (s *site) settle() map[string]string {
	GinkgoHelper()
	Eventually(func(g Gomega) {
		g.Expect(conditionOf(s.getHoming().Status.Conditions, ocsv1.ConditionReady)).To(Equal("True/Balanced"))
		homes := s.homes()
		for _, name := range s.servers {
			g.Expect(homes[name]).To(BeNumerically("~", s.users/len(s.servers), 1), "homes: %v", homes)
		}
	}).Should(Succeed())
	s.backupNow("before")
	return s.contacts()
}

// backupNow asks the ContactBackup for a snapshot and waits until it is written.
func (s *site) backupNow(token string) {
	GinkgoHelper()
	b := &ocsv1.ContactBackup{}
	Expect(suite.k8s.Get(context.Background(), client.ObjectKey{Namespace: s.ns, Name: "contacts"}, b)).To(Succeed())
	patch := client.MergeFrom(b.DeepCopy())
	if b.Annotations == nil {
		b.Annotations = map[string]string{}
	}
	b.Annotations[ocsv1.AnnotationBackupNow] = token
	Expect(suite.k8s.Patch(context.Background(), b, patch)).To(Succeed())
	Eventually(func(g Gomega) {
		g.Expect(suite.k8s.Get(context.Background(), client.ObjectKeyFromObject(b), b)).To(Succeed())
		g.Expect(b.Status.LastHandledRequest).To(Equal(token))
		g.Expect(b.Status.Snapshots).NotTo(BeEmpty())
		g.Expect(b.Status.Snapshots[0].Users).To(BeEquivalentTo(s.usersNow()))
	}).Should(Succeed())
}
