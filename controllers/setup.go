package controllers

import (
	"fmt"

	ctrl "sigs.k8s.io/controller-runtime"
)

// Options configures the controllers; main.go fills it from flags.
type Options struct{}

// SetupAll registers every reconciler with the manager.
func SetupAll(mgr ctrl.Manager, _ Options) error {
	if err := (&OCSPoolReconciler{Client: mgr.GetClient()}).SetupWithManager(mgr); err != nil {
		return fmt.Errorf("setting up the OCSPool controller: %w", err)
	}
	if err := (&UserHomingReconciler{Client: mgr.GetClient()}).SetupWithManager(mgr); err != nil {
		return fmt.Errorf("setting up the UserHoming controller: %w", err)
	}
	if err := (&ContactBackupReconciler{Client: mgr.GetClient()}).SetupWithManager(mgr); err != nil {
		return fmt.Errorf("setting up the ContactBackup controller: %w", err)
	}
	return nil
}
