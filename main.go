// Command manager runs the ocs-ha-operator controllers.
package main

import (
	"flag"
	"os"
	"runtime/debug"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	ocsv1 "github.com/ocsha/ocs-ha-operator/api/v1alpha1"
	"github.com/ocsha/ocs-ha-operator/controllers"
	"github.com/ocsha/ocs-ha-operator/internal/winrm"
)

func main() {
	var (
		probeAddr   string
		leaderElect bool
		memoryLimit string
	)
	metrics := bindMetricsFlags(flag.CommandLine)
	watchNamespaces := bindWatchNamespacesFlag(flag.CommandLine, os.Getenv(envWatchNamespace))
	flag.StringVar(&probeAddr, "health-probe-bind-address", ":8081", "The address the health and readiness probes bind to.")
	flag.BoolVar(&leaderElect, "leader-elect", false, "Elect a leader so that only one manager acts at a time.")
	pprofAddr := flag.String("pprof-bind-address", "", "The address Go's pprof profiles are served on (empty: off).")
	leaseNamespace := bindLeaderElectionNamespaceFlag(flag.CommandLine)
	flag.StringVar(&memoryLimit, "memory-limit", "96Mi", "Soft limit of the Go heap (a quantity such as 128Mi); the garbage collector works harder near it. GOMEMLIMIT, when set, wins.")
	var powershellIdle time.Duration
	flag.DurationVar(&powershellIdle, "powershell-idle", 0,
		"How long a persistent powershell.exe of a Skype for Business server stays running for the next operation (0: 2m; negative: none, every operation starts its own powershell.exe and loads the module again).")
	var fullBackupEvery time.Duration
	flag.DurationVar(&fullBackupEvery, "full-backup-every", 0,
		"Incremental ContactBackup runs: between full runs at least this far apart, a run exports only the users the directory shows added or moved since the newest snapshot "+
			"and carries the others (a contact list edited without a move waits for the next full run). 0: every run is full.")
	zapOpts := zap.Options{Development: false}
	zapOpts.BindFlags(flag.CommandLine)
	flag.Parse()

	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&zapOpts)))
	setupLog := ctrl.Log.WithName("setup")

	// A backup or a restore holds a whole server's export for a moment; without a limit the
	// heap may double past it before the collector runs.
	if os.Getenv("GOMEMLIMIT") == "" {
		limit, err := resource.ParseQuantity(memoryLimit)
		if err != nil {
			setupLog.Error(err, "Invalid --memory-limit")
			os.Exit(1)
		}
		debug.SetMemoryLimit(limit.Value())
	}

	namespaces, err := watchedNamespaces(*watchNamespaces)
	if err != nil {
		setupLog.Error(err, "Invalid --watch-namespaces")
		os.Exit(1)
	}

	scheme := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(scheme))
	utilruntime.Must(ocsv1.AddToScheme(scheme))

	mgr, err := ctrl.NewManager(ctrl.GetConfigOrDie(), ctrl.Options{
		Scheme:  scheme,
		Metrics: metricsOptions(*metrics),
		// Secrets are watched for metadata only and read by name (controllers.SecretReader): the
		// cache never holds Secret data, and nothing outside these namespaces.
		Cache:                  cache.Options{DefaultNamespaces: namespaces},
		HealthProbeBindAddress: probeAddr,
		PprofBindAddress:       *pprofAddr,
		LeaderElection:         leaderElect,
		LeaderElectionID:       "ocs-ha-operator.ocsha.io",
		// Empty in a cluster: the Pod's own namespace. Outside one it must be given.
		LeaderElectionNamespace: *leaseNamespace,
		// Moves must never run in two managers at once: a stopping leader keeps its lease
		// (renewing it until its reconcilers have returned, and each reconciler returns only once
		// its WinRM commands were terminated), and a new leader waits for the lease to expire
		// rather than taking over while the old one may still act. Releasing on cancel would
		// hand over as soon as the graceful shutdown ends, even one that timed out.
		LeaderElectionReleaseOnCancel: false,
	})
	if err != nil {
		setupLog.Error(err, "Unable to create manager")
		os.Exit(1)
	}

	if err := controllers.SetupAll(mgr, controllers.Options{WinRM: winrm.Options{PowerShellIdle: powershellIdle}, FullBackupEvery: fullBackupEvery}); err != nil {
		setupLog.Error(err, "Unable to set up controllers")
		os.Exit(1)
	}
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		setupLog.Error(err, "Unable to set up health check")
		os.Exit(1)
	}
	if err := mgr.AddReadyzCheck("readyz", healthz.Ping); err != nil {
		setupLog.Error(err, "Unable to set up readiness check")
		os.Exit(1)
	}

	setupLog.Info("Starting manager")
	if err := mgr.Start(ctrl.SetupSignalHandler()); err != nil {
		setupLog.Error(err, "Manager exited with an error")
		os.Exit(1)
	}
}
