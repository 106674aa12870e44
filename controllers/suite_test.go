package controllers

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	ocsv1 "github.com/ocsha/ocs-ha-operator/api/v1alpha1"
)

var (
	testEnv     *envtest.Environment
	cfg         *rest.Config
	k8sClient   client.Client
	testCtx     context.Context
	cancelSuite context.CancelFunc
	scheme      = runtime.NewScheme()
)

func TestControllers(t *testing.T) {
	RegisterFailHandler(Fail)
	SetDefaultEventuallyTimeout(30 * time.Second)
	SetDefaultEventuallyPollingInterval(100 * time.Millisecond)
	RunSpecs(t, "Controllers Suite")
}

var _ = BeforeSuite(func() {
	logf.SetLogger(zap.New(zap.WriteTo(GinkgoWriter), zap.UseDevMode(true)))
	utilruntime.Must(clientgoscheme.AddToScheme(scheme))
	utilruntime.Must(ocsv1.AddToScheme(scheme))

	testEnv = &envtest.Environment{
		CRDDirectoryPaths:     []string{filepath.Join("..", "config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
	}
	var err error
	cfg, err = testEnv.Start()
	Expect(err).NotTo(HaveOccurred(), "starting the control plane: is KUBEBUILDER_ASSETS set? `make test` sets it")

	// Reads go straight to the API server so that tests never wait on cache lag.
	k8sClient, err = client.New(cfg, client.Options{Scheme: scheme})
	Expect(err).NotTo(HaveOccurred())

	testCtx, cancelSuite = context.WithCancel(context.Background())
})

var _ = AfterSuite(func() {
	if cancelSuite != nil {
		cancelSuite()
	}
	if testEnv != nil {
		Expect(testEnv.Stop()).To(Succeed())
	}
})

// newNamespace creates a namespace with a generated name for one test and deletes it afterwards.
func newNamespace() string {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "test-"}}
	Expect(k8sClient.Create(testCtx, ns)).To(Succeed())
	DeferCleanup(func() { _ = k8sClient.Delete(context.Background(), ns) })
	return ns.Name
}

// startManager runs the reconcilers in a manager of their own, watching only namespace ns, until
// the returned stop function is called (DeferCleanup calls it too). Tests give each manager its
// own options (fake agents, clocks); stopping and starting one emulates a manager restart.
func startManager(ns string, opts Options) (stop func()) {
	GinkgoHelper()
	return runManager(ns, opts, managerSetup{})
}

// managerSetup varies a test manager.
type managerSetup struct {
	// logger, when set, is the manager's logger, for tests that read what the controllers log.
	logger *logr.Logger
	// register adds the reconcilers; nil adds all of them (SetupAll).
	register func(ctrl.Manager, Options) error
	// cache, when set, adjusts the manager's cache options (e.g. to observe its informers).
	cache func(*cache.Options)
	// leaderElection, when set, makes the manager a candidate for this lease, with short
	// durations; elected then receives the manager's Elected channel.
	leaderElection *leaderElection
}

// leaderElection configures a test manager's candidacy.
type leaderElection struct {
	id      string
	elected <-chan struct{}
}

func runManager(ns string, opts Options, setup managerSetup) (stop func()) {
	GinkgoHelper()
	mgrOpts := ctrl.Options{
		Scheme:  scheme,
		Metrics: metricsserver.Options{BindAddress: "0"},
		Cache:   cache.Options{DefaultNamespaces: map[string]cache.Config{ns: {}}},
		// Several managers run in one test process, one per test namespace.
		Controller: config.Controller{SkipNameValidation: ptr.To(true)},
	}
	if setup.logger != nil {
		mgrOpts.Logger = *setup.logger
	}
	if le := setup.leaderElection; le != nil {
		// As main.go, with durations short enough for a test: a new leader waits for the lease.
		mgrOpts.LeaderElection, mgrOpts.LeaderElectionID, mgrOpts.LeaderElectionNamespace = true, le.id, ns
		mgrOpts.LeaderElectionReleaseOnCancel = false
		mgrOpts.LeaseDuration, mgrOpts.RenewDeadline, mgrOpts.RetryPeriod = ptr.To(2*time.Second), ptr.To(1500*time.Millisecond), ptr.To(250*time.Millisecond)
	}
	if setup.cache != nil {
		setup.cache(&mgrOpts.Cache)
	}
	mgr, err := ctrl.NewManager(cfg, mgrOpts)
	Expect(err).NotTo(HaveOccurred())
	if setup.leaderElection != nil {
		setup.leaderElection.elected = mgr.Elected()
	}
	if setup.register == nil {
		setup.register = SetupAll
	}
	Expect(setup.register(mgr, opts)).To(Succeed())

	ctx, cancel := context.WithCancel(testCtx)
	if setup.logger != nil {
		ctx = logr.NewContext(ctx, *setup.logger)
	}
	done := make(chan struct{})
	go func() {
		defer GinkgoRecover()
		defer close(done)
		Expect(mgr.Start(ctx)).To(Succeed())
	}()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			<-done
		})
	}
	DeferCleanup(stop)
	return stop
}

// updateObject re-reads obj, applies mutate and updates it, again while the controllers' status
// writes make the copy stale (a conflict); a Get-then-Update would fail on such a race.
func updateObject(obj client.Object, mutate func()) {
	GinkgoHelper()
	Expect(retry.RetryOnConflict(retry.DefaultRetry, func() error {
		if err := k8sClient.Get(testCtx, client.ObjectKeyFromObject(obj), obj); err != nil {
			return err
		}
		mutate()
		return k8sClient.Update(testCtx, obj)
	})).To(Succeed())
}
