package controllers

import (
	"fmt"

	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/ocsha/ocs-ha-operator/internal/winrm"
)

// Options configures the controllers; main.go fills it from flags, tests inject fakes.
type Options struct {
	// Agents gives each pool's admin agent. Nil means WinRM with WinRM options below.
	Agents AgentProvider
	// WinRM tunes the transport when Agents is nil.
	WinRM winrm.Options
	// Clock decides every time-based step (probe interval, failover delay, schedules). Nil means the real clock.
	Clock clock.Clock
}

func (o *Options) complete(mgr ctrl.Manager) {
	if o.Clock == nil {
		o.Clock = clock.RealClock{}
	}
	if o.Agents == nil {
		o.Agents = &WinRMProvider{Reader: mgr.GetClient(), Options: o.WinRM, OnRequest: countWinRMRequest}
	}
}

// SetupAll registers every reconciler with the manager.
func SetupAll(mgr ctrl.Manager, opts Options) error {
	opts.complete(mgr)
	if err := (&OCSPoolReconciler{}).SetupWithManager(mgr, opts); err != nil {
		return fmt.Errorf("setting up the OCSPool controller: %w", err)
	}
	if err := (&UserHomingReconciler{}).SetupWithManager(mgr, opts); err != nil {
		return fmt.Errorf("setting up the UserHoming controller: %w", err)
	}
	if err := (&ContactBackupReconciler{}).SetupWithManager(mgr, opts); err != nil {
		return fmt.Errorf("setting up the ContactBackup controller: %w", err)
	}
	if err := mgr.Add(statusMetricsRunnable(mgr.GetCache(), opts.Clock)); err != nil {
		return fmt.Errorf("setting up the status metrics: %w", err)
	}
	return nil
}
