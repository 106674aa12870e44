package faults

import (
	"path/filepath"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"

	ocsv1 "github.com/ocsha/ocs-ha-operator/api/v1alpha1"
	"github.com/ocsha/ocs-ha-operator/test/internal/harness"
)

// suite is what BeforeSuite started: one control plane and one build for every scenario.
var suite struct {
	repo    string
	work    string
	control *harness.ControlPlane
	bins    harness.Binaries
	k8s     client.Client
}

func TestFaults(t *testing.T) {
	RegisterFailHandler(Fail)
	SetDefaultEventuallyTimeout(2 * time.Minute)
	SetDefaultEventuallyPollingInterval(200 * time.Millisecond)
	RunSpecs(t, "Fault-matrix Suite", Label("faults"))
}

var _ = BeforeSuite(func() {
	var err error
	suite.repo, err = filepath.Abs(filepath.Join("..", ".."))
	Expect(err).NotTo(HaveOccurred())
	suite.work = GinkgoT().TempDir()

	By("building the manager and the emulator")
	suite.bins, err = harness.Build(suite.repo, filepath.Join(suite.work, "bin"))
	Expect(err).NotTo(HaveOccurred())

	By("starting kube-apiserver and etcd, and installing the CRDs")
	suite.control, err = harness.StartControlPlane(suite.work)
	Expect(err).NotTo(HaveOccurred())
	out, err := harness.Kubectl(suite.control.Kubeconfig, "apply", "--server-side", "-f", filepath.Join(suite.repo, "config", "crd", "bases"))
	Expect(err).NotTo(HaveOccurred(), out)
	out, err = harness.Kubectl(suite.control.Kubeconfig, "wait", "--for=condition=Established", "crd", "--all", "--timeout=60s")
	Expect(err).NotTo(HaveOccurred(), out)

	scheme := runtime.NewScheme()
	Expect(clientgoscheme.AddToScheme(scheme)).To(Succeed())
	Expect(ocsv1.AddToScheme(scheme)).To(Succeed())
	suite.k8s, err = client.New(suite.control.Config, client.Options{Scheme: scheme})
	Expect(err).NotTo(HaveOccurred())
})

var _ = AfterSuite(func() {
	Expect(suite.control.Stop()).To(Succeed())
})
