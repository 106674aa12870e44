package controllers

import (
	"fmt"
	"time"

	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

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
	// Secrets reads the Secrets the objects name (WinRM and S3 credentials, CAs). Nil means a
	// SecretReader: Secret data is never cached in the manager.
	Secrets client.Reader
	// Gateways probes the PSTN gateways of OCSPool spec.gateways. Nil means SIP OPTIONS.
	Gateways GatewayProber
	// FullBackupEvery turns incremental ContactBackup runs on (ContactBackupReconciler.FullBackupEvery).
	FullBackupEvery time.Duration
}

func (o *Options) complete(mgr ctrl.Manager) {
	if o.Clock == nil {
		o.Clock = clock.RealClock{}
	}
	if o.Secrets == nil {
		o.Secrets = NewSecretReader(mgr)
	}
	if o.Agents == nil {
		o.Agents = &WinRMProvider{Reader: o.Secrets, Options: o.WinRM, OnRequest: countWinRMRequest}
	}
}

// commandSlots is the number of commands the WinRM transport runs at once on one server.
func (o Options) commandSlots() int {
	if o.WinRM.MaxConcurrent > 0 {
		return o.WinRM.MaxConcurrent
	}
	return winrm.DefaultMaxConcurrent
}

// secretReader is opts.Secrets, or a new SecretReader for a reconciler set up on its own.
func (o Options) secretReader(mgr ctrl.Manager) client.Reader {
	if o.Secrets != nil {
		return o.Secrets
	}
	return NewSecretReader(mgr)
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
	if err := (&ContactRestoreReconciler{}).SetupWithManager(mgr, opts); err != nil {
		return fmt.Errorf("setting up the ContactRestore controller: %w", err)
	}
	if err := mgr.Add(statusMetricsRunnable(mgr.GetCache(), opts.Clock)); err != nil {
		return fmt.Errorf("setting up the status metrics: %w", err)
	}
	return nil
}
